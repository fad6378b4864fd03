/**
 * AUTH_MODE unset (keys, the default): every HTTP function keeps authLevel "function" and the
 * principal header is never read, so a forged one neither admits nor refuses anybody.
 */
jest.mock("@azure/functions-core", () => jest.requireActual("../../../local/functionsHost/coreStandIn"), { virtual: true });

import * as path from "node:path";
import { AppHost } from "../../../local/runtime/appHost";

describe("caller gate, AUTH_MODE=keys", () => {
  let app: AppHost;
  beforeAll(() => {
    delete process.env.AUTH_MODE;
    app = AppHost.load(path.resolve(__dirname, "../../../src/index"), { durableClientData: () => ({}), log: () => undefined });
  });

  it("registers every HTTP function at function level", () => {
    for (const t of app.httpTriggers()) expect({ fn: t.functionName, authLevel: t.authLevel }).toEqual({ fn: t.functionName, authLevel: "function" });
  });

  it("ignores X-MS-CLIENT-PRINCIPAL: a garbage one is not a 401, the key holder is the caller", async () => {
    const answer = await app.invokeHttp("dashboard", { method: "GET", url: "http://127.0.0.1/api/dashboard", headers: { "x-ms-client-principal": "garbage" }, params: {} });
    expect(answer.status).toBe(200);
    // The page says plainly that nobody is told apart.
    expect(answer.body.toString()).toContain("Function keys only: whoever holds the key holds every role (Sign.Submit, Sign.Publish, Sign.Approve, Sign.Operate)");
  });
});
