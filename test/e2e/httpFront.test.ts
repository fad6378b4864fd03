/**
 * The runtime's HTTP front and app host with a stub app (test/e2e/fixtures/stubApp.ts): route
 * params, query, body, methods, HttpResponseInit written back, 404/405, authLevel enforcement with
 * host keys, and non-HTTP invocation.
 */
// jest resolves modules itself (not through Module._resolveFilename), so point it at the stand-in.
jest.mock("@azure/functions-core", () => jest.requireActual("../../local/functionsHost/coreStandIn"), { virtual: true });

import * as fs from "node:fs";
import type * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { AppHost } from "../../local/runtime/appHost";
import { closeServer, createHttpFront, listen } from "../../local/runtime/httpFront";
import { loadOrCreateHostKeys, type HostKeys } from "../../local/runtime/keys";

describe("HTTP front over a stub app", () => {
  const logs: string[] = [];
  let server: http.Server;
  let base: string;
  let app: AppHost;
  let keys: HostKeys;

  beforeAll(async () => {
    app = AppHost.load(path.join(__dirname, "fixtures", "stubApp"), { durableClientData: () => ({}), log: (l) => logs.push(l) });
    keys = loadOrCreateHostKeys(path.join(fs.mkdtempSync(path.join(os.tmpdir(), "keys-")), "keys.json")).keys;
    server = createHttpFront({ app, keys });
    base = `http://127.0.0.1:${await listen(server, 0)}`;
  });
  afterAll(async () => {
    await closeServer(server);
  });

  it("routes /api/<template> with params, query and body, and writes the handler's response back", async () => {
    const response = await fetch(`${base}/api/things/42/echo?q=x`, { method: "POST", body: "hello" });
    expect(response.status).toBe(201);
    expect(response.headers.get("x-fn")).toBe("echo");
    expect(await response.json()).toEqual({ id: "42", q: "x", body: "hello" });
    expect(await (await fetch(`${base}/api/things`)).text()).toBe("list");
  });

  it("answers 405 for a known route with another method and 404 for unknown routes", async () => {
    const wrongMethod = await fetch(`${base}/api/things/42/echo`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
    expect((await fetch(`${base}/api/nope`)).status).toBe(404);
    expect((await fetch(`${base}/elsewhere`)).status).toBe(404);
  });

  it("enforces authLevel like the host: 401 with an empty body without a valid key", async () => {
    const get = async (route: string, init: { key?: string; code?: string } = {}) => {
      const url = `${base}/api/${route}${init.code !== undefined ? `?code=${encodeURIComponent(init.code)}` : ""}`;
      const response = await fetch(url, { headers: init.key !== undefined ? { "x-functions-key": init.key } : {} });
      return { status: response.status, body: await response.text() };
    };
    const functionKey = keys.functionKeys.default;
    expect(await get("guarded")).toEqual({ status: 401, body: "" });
    expect(await get("guarded", { key: "wrong" })).toEqual({ status: 401, body: "" });
    expect(await get("guarded", { code: `${functionKey}x` })).toEqual({ status: 401, body: "" });
    expect(await get("guarded", { key: keys.systemKeys.durabletask_extension })).toEqual({ status: 401, body: "" });
    expect(await get("guarded", { key: functionKey })).toEqual({ status: 200, body: "function level" });
    expect(await get("guarded", { code: functionKey })).toEqual({ status: 200, body: "function level" });
    expect(await get("guarded", { key: keys.masterKey })).toEqual({ status: 200, body: "function level" });
    // The header wins over ?code=, as in the host.
    expect((await get("guarded", { key: "wrong", code: functionKey })).status).toBe(401);
    // admin: only the master key.
    expect((await get("admin-only", { key: functionKey })).status).toBe(401);
    expect(await get("admin-only", { code: keys.masterKey })).toEqual({ status: 200, body: "admin level" });
    // anonymous: no key needed.
    expect((await get("things")).status).toBe(200);
  });

  it("invokes non-HTTP triggers with an InvocationContext whose logs reach the runtime log", async () => {
    expect(app.functionsWithTrigger("eventGridTrigger")).toEqual(["onEvent"]);
    await app.invoke("onEvent", { subject: "/blobServices/default/containers/c/blobs/b" });
    expect(logs.some((l) => l.includes("[onEvent]") && l.includes("/blobs/b"))).toBe(true);
  });
});
