/**
 * The runtime's HTTP front and app host with a stub app (test/e2e/fixtures/stubApp.ts): route
 * params, query, body, methods, HttpResponseInit written back, 404/405, and non-HTTP invocation.
 */
// jest resolves modules itself (not through Module._resolveFilename), so point it at the stand-in.
jest.mock("@azure/functions-core", () => jest.requireActual("../../local/functionsHost/coreStandIn"), { virtual: true });

import type * as http from "node:http";
import * as path from "node:path";
import { AppHost } from "../../local/runtime/appHost";
import { closeServer, createHttpFront, listen } from "../../local/runtime/httpFront";

describe("HTTP front over a stub app", () => {
  const logs: string[] = [];
  let server: http.Server;
  let base: string;
  let app: AppHost;

  beforeAll(async () => {
    app = AppHost.load(path.join(__dirname, "fixtures", "stubApp"), { durableClientData: () => ({}), log: (l) => logs.push(l) });
    server = createHttpFront({ app });
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

  it("invokes non-HTTP triggers with an InvocationContext whose logs reach the runtime log", async () => {
    expect(app.functionsWithTrigger("eventGridTrigger")).toEqual(["onEvent"]);
    await app.invoke("onEvent", { subject: "/blobServices/default/containers/c/blobs/b" });
    expect(logs.some((l) => l.includes("[onEvent]") && l.includes("/blobs/b"))).toBe(true);
  });
});
