/**
 * The runtime front's Easy Auth parts over a one-function stub app: identity headers a client sends
 * (X-MS-CLIENT-PRINCIPAL*, X-MS-TOKEN-*) never reach the app, in keys mode as in entra mode; with a
 * valid token the app sees exactly the platform's headers built from the token. And the token
 * checks at their edges: clock skew on exp and nbf, audience as a list, another tenant. The
 * browser sign-in's session: the app sees exactly the signed-in user's principal, and the session
 * ends when its lifetime is over (clock moved) even though the cookie is still sent.
 */
jest.mock("@azure/functions-core", () => jest.requireActual("../../../local/functionsHost/coreStandIn"), { virtual: true });

import * as fs from "node:fs";
import type * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { AppHost } from "../../../local/runtime/appHost";
import { closeServer, createHttpFront, listen } from "../../../local/runtime/httpFront";
import { checkAccessToken, CLOCK_SKEW_SECONDS } from "../../../local/identity/easyAuth";
import { LocalIssuer, signJwt } from "../../../local/identity/issuer";
import { createLocalTenant, TENANT_AUTHORIZE_PATH } from "../../../local/identity/localTenant";
import { DEFAULT_SESSION_SECONDS } from "../../../local/identity/browserSignIn";
import { signIn } from "../../support/signIn";
import { parseClientPrincipal } from "../../../src/domain/principal";

const FORGED = {
  "x-ms-client-principal": Buffer.from(JSON.stringify({ auth_typ: "aad", claims: [{ typ: "oid", val: "forged" }, { typ: "roles", val: "Sign.Operate" }] })).toString("base64"),
  "X-MS-CLIENT-PRINCIPAL-ID": "forged",
  "x-ms-client-principal-name": "forged@evil.test",
  "x-ms-client-principal-idp": "aad",
  "x-ms-token-aad-access-token": "forged",
};

describe("Easy Auth in the runtime front", () => {
  let app: AppHost;
  let issuer: LocalIssuer;
  const servers: http.Server[] = [];
  let keysBase: string;
  let entraBase: string;
  let sessionBase: string;
  let clockMs = Date.now();

  beforeAll(async () => {
    app = AppHost.load(path.join(__dirname, "../../e2e/fixtures/identityStubApp"), { durableClientData: () => ({}), log: () => undefined });
    issuer = LocalIssuer.loadOrCreate(fs.mkdtempSync(path.join(os.tmpdir(), "issuer-")));
    const keysFront = createHttpFront({ app });
    const entraFront = createHttpFront({ app, easyAuth: { metadata: issuer.metadata, authorizePath: "/_local/tenant/oauth2/v2.0/authorize" } });
    // Sessions on a clock the test moves; the default lifetime (Azure's 8 hours).
    const sessionFront = createHttpFront({ app, handlers: [createLocalTenant(issuer)], easyAuth: { metadata: issuer.metadata, authorizePath: TENANT_AUTHORIZE_PATH, now: () => clockMs } });
    servers.push(keysFront, entraFront, sessionFront);
    keysBase = `http://127.0.0.1:${await listen(keysFront, 0)}`;
    entraBase = `http://127.0.0.1:${await listen(entraFront, 0)}`;
    sessionBase = `http://127.0.0.1:${await listen(sessionFront, 0)}`;
  });
  afterAll(async () => {
    for (const server of servers) await closeServer(server);
  });

  it("keys mode: forged identity headers are removed before the app", async () => {
    const response = await fetch(`${keysBase}/api/whoami`, { headers: FORGED });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({});
  });

  it("entra mode: the app sees only the principal built from the token, whatever was forged beside it", async () => {
    const token = issuer.issue({ user: "alice", roles: ["Sign.Submit"] });
    const response = await fetch(`${entraBase}/api/whoami`, { headers: { ...FORGED, authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    const seen = (await response.json()) as Record<string, string>;
    expect(Object.keys(seen).sort()).toEqual(["x-ms-client-principal", "x-ms-client-principal-id", "x-ms-client-principal-idp", "x-ms-client-principal-name"]);
    const caller = parseClientPrincipal(seen["x-ms-client-principal"]);
    expect(caller).toMatchObject({ name: "alice", roles: ["Sign.Submit"], tenantId: issuer.metadata.tenantId, clientAppId: issuer.metadata.userClientAppId, isApplication: false });
    expect(seen["x-ms-client-principal-id"]).toBe(caller!.objectId);
    expect(seen["x-ms-client-principal-name"]).toBe("alice@local.test");
    // The platform's principal: oid under its long claim name, one "roles" claim per role.
    const raw = JSON.parse(Buffer.from(seen["x-ms-client-principal"], "base64").toString()) as { auth_typ: string; claims: { typ: string }[] };
    expect(raw.auth_typ).toBe("aad");
    expect(raw.claims.map((c) => c.typ)).toEqual(expect.arrayContaining(["http://schemas.microsoft.com/identity/claims/objectidentifier", "roles"]));
  });

  it("an application token becomes an application principal", async () => {
    const token = issuer.issue({ app: "release-pipeline", roles: ["Sign.Publish", "Sign.Operate"] });
    const seen = (await (await fetch(`${entraBase}/api/whoami`, { headers: { authorization: `Bearer ${token}` } })).json()) as Record<string, string>;
    expect(parseClientPrincipal(seen["x-ms-client-principal"])).toMatchObject({ isApplication: true, signRoles: ["Sign.Publish", "Sign.Operate"] });
  });

  it("a session cookie gives the app the signed-in user's principal, forged headers removed, until the session's lifetime is over", async () => {
    clockMs = Date.now();
    const { cookie } = await signIn(sessionBase, "dave", ["Sign.Approve", "Sign.Operate"]);
    const response = await fetch(`${sessionBase}/api/whoami`, { headers: { ...FORGED, cookie } });
    expect(response.status).toBe(200);
    const seen = (await response.json()) as Record<string, string>;
    expect(Object.keys(seen).sort()).toEqual(["x-ms-client-principal", "x-ms-client-principal-id", "x-ms-client-principal-idp", "x-ms-client-principal-name"]);
    expect(parseClientPrincipal(seen["x-ms-client-principal"])).toMatchObject({ name: "dave", signRoles: ["Sign.Approve", "Sign.Operate"], tenantId: issuer.metadata.tenantId, isApplication: false });
    expect(seen["x-ms-client-principal-name"]).toBe("dave@local.test");
    // One second before the end it still works; at the end it is a 401 with the challenge.
    clockMs += (DEFAULT_SESSION_SECONDS - 1) * 1000;
    expect((await fetch(`${sessionBase}/api/whoami`, { headers: { cookie } })).status).toBe(200);
    clockMs += 1000;
    const expired = await fetch(`${sessionBase}/api/whoami`, { headers: { cookie } });
    expect(expired.status).toBe(401);
    expect(expired.headers.get("www-authenticate")).toMatch(/^Bearer realm=/);
    // Gone for good: moving the clock back does not revive it.
    clockMs -= 10 * 60_000;
    expect((await fetch(`${sessionBase}/api/whoami`, { headers: { cookie } })).status).toBe(401);
    // The keys-mode front serves no sign-in.
    expect((await fetch(`${keysBase}/.auth/login/aad`, { redirect: "manual" })).status).toBe(404);
  });

  it("exp and nbf are checked with the clock skew, no more", () => {
    const now = Date.now();
    const at = (offsetSeconds: number) => new Date(now + offsetSeconds * 1000);
    const check = (token: string) => checkAccessToken(token, issuer.metadata, now);
    // Expired 10 s ago: inside the skew. Expired skew + 10 s ago: refused.
    expect(check(issuer.issue({ user: "a", roles: [], now: at(-70), expiresInSeconds: 60 })).ok).toBe(true);
    expect(check(issuer.issue({ user: "a", roles: [], now: at(-CLOCK_SKEW_SECONDS - 70), expiresInSeconds: 60 }))).toEqual({ ok: false, reason: "expired" });
    // Not valid for another 10 s: inside the skew. For skew + 10 s: refused.
    expect(check(issuer.issue({ user: "a", roles: [], now: at(10) })).ok).toBe(true);
    expect(check(issuer.issue({ user: "a", roles: [], now: at(CLOCK_SKEW_SECONDS + 10) }))).toEqual({ ok: false, reason: "not yet valid" });
  });

  it("refuses no exp, another tenant, and takes aud as a list", () => {
    const good = JSON.parse(Buffer.from(issuer.issue({ user: "a", roles: [] }).split(".")[1], "base64url").toString()) as Record<string, unknown>;
    const key = (issuer as unknown as { privateKey: import("node:crypto").KeyObject }).privateKey;
    const header = { alg: "RS256", typ: "JWT", kid: issuer.metadata.jwks.keys[0].kid };
    const { exp: _exp, ...noExp } = good;
    expect(checkAccessToken(signJwt(header, noExp, key), issuer.metadata)).toEqual({ ok: false, reason: "expired" });
    expect(checkAccessToken(signJwt(header, { ...good, tid: "another-tenant" }, key), issuer.metadata)).toEqual({ ok: false, reason: "another tenant" });
    expect(checkAccessToken(signJwt(header, { ...good, aud: ["api://other", issuer.metadata.audiences[0]] }, key), issuer.metadata).ok).toBe(true);
    expect(checkAccessToken(signJwt(header, { ...good, aud: ["api://other"] }, key), issuer.metadata)).toEqual({ ok: false, reason: "wrong audience" });
    expect(checkAccessToken(signJwt({ ...header, alg: "RS512" }, good, key), issuer.metadata)).toEqual({ ok: false, reason: "algorithm RS512 is not accepted" });
  });

  it("keeps the issuer key file at mode 0600 and reloads the same issuer", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "issuer-"));
    const first = LocalIssuer.loadOrCreate(dir);
    expect(fs.statSync(path.join(dir, "identity", "issuer-key.json")).mode & 0o777).toBe(0o600);
    const again = LocalIssuer.loadOrCreate(dir);
    expect(again.metadata).toEqual(first.metadata);
    expect(checkAccessToken(again.issue({ user: "bob", roles: ["Sign.Approve"] }), first.metadata).ok).toBe(true);
    expect(fs.readFileSync(path.join(dir, "identity", "issuer.json"), "utf8")).not.toContain("PRIVATE KEY");
  });
});
