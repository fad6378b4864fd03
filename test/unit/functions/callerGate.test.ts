/**
 * The caller gate through the app's real registrations (the whole app loaded with the functions-core
 * stand-in, AUTH_MODE=entra): every HTTP function is anonymous to the host (the token is the
 * credential), answers 401 without a well-formed principal and 403 to one holding none of the four
 * roles (naming the function's action and its roles), and runs (whatever it then answers) with one
 * that holds a role the action allows (the whole route × role matrix: test/e2e/roleMatrix.test.ts). AUTH_MODE=keys is checked
 * in keysMode below: function level, and the principal header is never read.
 */
jest.mock("@azure/functions-core", () => jest.requireActual("../../../local/functionsHost/coreStandIn"), { virtual: true });

import * as path from "node:path";
import { AppHost } from "../../../local/runtime/appHost";
import { CLAIM_TYPES, encodeClientPrincipal } from "../../../src/domain/principal";
import { resetConfigCache } from "../../../src/config";
import { startAuditStorage, type AuditStorage } from "../audit/storageEnv";

const principalWith = (roles: string[]) =>
  encodeClientPrincipal({
    auth_typ: "aad",
    role_typ: CLAIM_TYPES.role,
    name_typ: CLAIM_TYPES.name,
    claims: [{ typ: CLAIM_TYPES.objectId, val: "oid-1" }, ...roles.map((val) => ({ typ: "roles", val }))],
  });

describe("caller gate, AUTH_MODE=entra", () => {
  let app: AppHost;
  const saved = process.env.AUTH_MODE;
  // Refusals and state-changing calls are recorded in the audit trail (issue 33): real storage.
  let audit: AuditStorage;
  beforeAll(async () => {
    audit = await startAuditStorage("gate-audit");
    process.env.AUTH_MODE = "entra";
    resetConfigCache();
    app = AppHost.load(path.resolve(__dirname, "../../../src/index"), { durableClientData: () => ({}), log: () => undefined });
  });
  afterAll(async () => {
    await audit?.stop();
    if (saved === undefined) delete process.env.AUTH_MODE;
    else process.env.AUTH_MODE = saved;
  });
  const invoke = (name: string, method: string, headers: Record<string, string>) =>
    app.invokeHttp(name, { method, url: "http://127.0.0.1/api/x", headers, params: { id: "some-id", labelId: "123" } });

  it("registers every HTTP function anonymous: behind Easy Auth no function key is asked for", () => {
    expect(app.httpTriggers().length).toBeGreaterThan(5);
    for (const t of app.httpTriggers()) expect({ fn: t.functionName, authLevel: t.authLevel }).toEqual({ fn: t.functionName, authLevel: "anonymous" });
  });

  it("401 with a challenge without a principal or with a malformed one, on every HTTP function", async () => {
    for (const t of app.httpTriggers()) {
      for (const headers of [{} as Record<string, string>, { "x-ms-client-principal": "not base64 json" }, { "x-ms-client-principal": Buffer.from("{}").toString("base64") }]) {
        const answer = await invoke(t.functionName, t.methods[0], headers);
        expect({ fn: t.functionName, status: answer.status }).toEqual({ fn: t.functionName, status: 401 });
        expect(answer.headers.find(([n]) => n.toLowerCase() === "www-authenticate")?.[1]).toMatch(/^Bearer /);
      }
    }
  });

  it("403 to a principal holding none of Sign.Submit/Publish/Approve/Operate, on every HTTP function", async () => {
    for (const t of app.httpTriggers()) {
      for (const roles of [[], ["Sign.Reader"], ["sign.submit"]]) {
        const answer = await invoke(t.functionName, t.methods[0], { "x-ms-client-principal": principalWith(roles) });
        expect({ fn: t.functionName, roles, status: answer.status }).toEqual({ fn: t.functionName, roles, status: 403 });
        expect(answer.body.toString()).toMatch(/"error":"the caller may not do [a-zA-Z.]+: it needs one of the roles Sign\.[A-Za-z]+/);
      }
    }
  });

  it("each 403 is recorded in the audit trail before it is answered: one record, the caller, the action, refused for its role", async () => {
    const before = (await audit.records()).length;
    const expected: { action: string; fn: string }[] = [];
    for (const t of app.httpTriggers()) {
      const answer = await invoke(t.functionName, t.methods[0], { "x-ms-client-principal": principalWith(["Sign.Reader"]), "x-forwarded-for": "203.0.113.7:50123" });
      expect(answer.status).toBe(403);
      expected.push({ fn: t.functionName, action: JSON.parse(answer.body.toString()).action });
    }
    const records = (await audit.records()).slice(before);
    expect(records.map((r) => r.action).sort()).toEqual(expected.map((e) => e.action).sort());
    for (const record of records) {
      expect(record).toMatchObject({
        principal: { objectId: "oid-1", roles: ["Sign.Reader"] },
        outcome: { result: "refused", refusal: "role", reason: expect.stringMatching(/^403 the caller may not do /) },
        clientAddress: "203.0.113.7",
      });
      expect(record.requestId).toEqual(expect.any(String));
    }
  });

  it("any one of the four roles passes the gate (the handler answers, not the gate)", async () => {
    for (const role of ["Sign.Submit", "Sign.Publish", "Sign.Approve", "Sign.Operate"]) {
      const answer = await invoke("dashboard", "GET", { "x-ms-client-principal": principalWith([role]) });
      expect({ role, status: answer.status }).toEqual({ role, status: 200 });
    }
  });

  it("a state-changing call signed in by the session cookie alone is refused as cross-site (403) unless it carries the page's header or a bearer token", async () => {
    const everyRole = { "x-ms-client-principal": principalWith(["Sign.Submit", "Sign.Publish", "Sign.Approve", "Sign.Operate"]) };
    const changing = app.httpTriggers().filter((t) => t.methods[0] !== "GET");
    expect(changing.map((t) => t.functionName).sort()).toEqual(["cancelLabel", "cancelSubmission", "createUpload", "decideApproval", "startLabel", "startSubmission", "updateLabel"]);
    for (const t of changing) {
      const forged = await invoke(t.functionName, t.methods[0], everyRole);
      expect({ fn: t.functionName, status: forged.status }).toEqual({ fn: t.functionName, status: 403 });
      expect(forged.body.toString()).toContain("must carry the header X-Requested-With: driver-signing-page");
      for (const extra of [{ "x-requested-with": "driver-signing-page" }, { authorization: "Bearer any-token-easy-auth-checked" }] as Record<string, string>[]) {
        // Past the gate the handler runs (here without a durable client, so it may throw): either way not the gate's refusal.
        const admitted = await invoke(t.functionName, t.methods[0], { ...everyRole, ...extra }).catch((error: Error) => ({ status: 0, body: Buffer.from(error.message) }));
        expect({ fn: t.functionName, extra: Object.keys(extra)[0], crossSite: admitted.body.toString().includes("X-Requested-With") }).toEqual({ fn: t.functionName, extra: Object.keys(extra)[0], crossSite: false });
      }
    }
    // Reads are not state-changing: a GET with the cookie alone passes.
    expect((await invoke("dashboard", "GET", everyRole)).status).toBe(200);
  });

  it("the page names the signed-in caller and roles, HTML-escaped", async () => {
    const header = encodeClientPrincipal({
      auth_typ: "aad",
      claims: [{ typ: CLAIM_TYPES.objectId, val: "oid-2" }, { typ: "name", val: "<img src=x onerror=alert(1)>" }, { typ: "roles", val: "Sign.Approve" }],
    });
    const body = (await invoke("dashboard", "GET", { "x-ms-client-principal": header })).body.toString();
    expect(body).toContain("Signed in as &#60;img src=x onerror=alert(1)&#62;, roles: Sign.Approve.");
    expect(body).not.toContain("<img src=x");
    expect(body).not.toContain("Function keys only");
  });

  it("fails closed (500, no handler) when AUTH_MODE is not keys or entra", async () => {
    process.env.AUTH_MODE = "entra-ish";
    try {
      const answer = await invoke("dashboard", "GET", { "x-ms-client-principal": principalWith(["Sign.Submit"]) });
      expect(answer.status).toBe(500);
      expect(answer.body.toString()).not.toContain("<html");
    } finally {
      process.env.AUTH_MODE = "entra";
    }
  });
});
