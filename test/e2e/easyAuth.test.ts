/**
 * Entra ID callers on the local runtime (issue 31): a stack started with auth "entra" plays App
 * Service Authentication with the local token issuer of its data folder. Every route of the app
 * (enumerated from the app's own registrations) refuses with 401 a request without a token, with
 * an expired, not-yet-valid, other-audience, other-issuer, other-key, unsigned (alg none) or HS256
 * token, with a forged X-MS-CLIENT-PRINCIPAL and with an unknown or altered session cookie: the
 * page too (Return401, as the Bicep configures Azure). A forged principal next to a valid token does
 * not override the token's. A token holding none of the four roles gets 403. A token from
 * `npm run token` with Sign.Submit takes a package to a signed driver through POST /api/submissions
 * and the status route. The browser sign-in (/.auth/login/aad → local tenant → callback → the
 * AppServiceAuthSession cookie → /.auth/logout) walked over HTTP: same-site redirect targets only,
 * the callback bound to its browser, state and nonce; the cookie carries the principal like a token.
 */
jest.mock("@azure/functions-core", () => jest.requireActual("../../local/functionsHost/coreStandIn"), { virtual: true });

import { execFileSync } from "node:child_process";
import { createHmac, createPublicKey, generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { AppHost, type HttpTriggerInfo } from "../../local/runtime/appHost";
import { DIST_DIR } from "../../local/runtime/paths";
import { signJwt } from "../../local/identity/issuer";
import { samplePackage } from "../../local/samplePackage";
import { APP_CONTAINERS } from "../../local/stack";
import { CLAIM_TYPES, encodeClientPrincipal, SIGN_ROLES } from "../../src/domain/principal";
import { expectNothingSecret, startTestStack, type TestStack } from "../support/stack";
import { callback, setCookie, startSignIn, tenantSignIn } from "../support/signIn";

jest.setTimeout(180_000);

const HTTP_CONTAINER = "e2e-auth-uploads";

/** A concrete URL and method for a registered route ({id} and friends filled in). */
function requestFor(apiUrl: string, trigger: HttpTriggerInfo): { url: string; method: string } {
  const route = trigger.route.replace(/\{([^}:]+)(:[^}]*)?\}/g, (_m, name: string) => (name === "labelId" ? "123" : `some-${name}`));
  return { url: `${apiUrl}/${route}`, method: trigger.methods[0] ?? "GET" };
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8")) as Record<string, unknown>;
const headerOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString("utf8")) as Record<string, unknown>;

describe("Easy Auth on the local runtime (entra mode)", () => {
  let stack: TestStack;
  let routes: HttpTriggerInfo[];
  let valid: string;
  const readBack: string[] = [];

  beforeAll(async () => {
    stack = await startTestStack({ auth: "entra", appSettings: { SUBMISSION_CONTAINERS: `${APP_CONTAINERS.drops},${HTTP_CONTAINER}` } });
    // The routes as the app registers them (the same compiled app the runtime serves).
    routes = AppHost.load(path.join(DIST_DIR, "src", "index.js"), { durableClientData: () => ({}), log: () => undefined }).httpTriggers();
    valid = stack.issuer!.issue({ user: "alice", roles: ["Sign.Submit"] });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  async function call(t: HttpTriggerInfo, headers: Record<string, string>): Promise<Response> {
    const { url, method } = requestFor(stack.apiUrl, t);
    const body = method === "GET" || method === "HEAD" ? undefined : "{}";
    return fetch(url, { method, headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}) }, body, redirect: "manual" });
  }

  it("keeps the issuer's key in <dataDir>/identity (0600) and sets AUTH_MODE=entra", () => {
    expect(fs.statSync(path.join(stack.dataDir, "identity", "issuer-key.json")).mode & 0o777).toBe(0o600);
    expect(stack.env.AUTH_MODE).toBe("entra");
    expect(routes.length).toBeGreaterThan(5);
  });

  it("refuses every bad credential with 401 on every route, the page included", async () => {
    const issuer = stack.issuer!;
    const meta = issuer.metadata;
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const hour = 3600_000;
    const forgedPrincipal = encodeClientPrincipal({
      auth_typ: "aad",
      role_typ: CLAIM_TYPES.role,
      claims: [{ typ: CLAIM_TYPES.objectId, val: "forged-oid" }, ...SIGN_ROLES.map((val) => ({ typ: "roles", val }))],
    });
    const good = payloadOf(valid);
    const kid = headerOf(valid).kid;
    // The key-confusion attack: an HMAC whose secret is the issuer's public key, in the PEM a verifier
    // that trusted the token's alg would use as its secret.
    const publicPem = createPublicKey({ key: meta.jwks.keys.find((key) => key.kid === kid)!, format: "jwk" }).export({ type: "spki", format: "pem" });
    const hmacSignedWithPublicKey = (header: object, payload: object) => {
      const signingInput = `${b64url(header)}.${b64url(payload)}`;
      return `${signingInput}.${createHmac("sha256", publicPem).update(signingInput).digest("base64url")}`;
    };
    const cases: Record<string, Record<string, string>> = {
      "no token": {},
      "a function key instead of a token": { "x-functions-key": stack.functionKey },
      "an expired token": bearer(issuer.issue({ user: "alice", roles: ["Sign.Submit"], now: new Date(Date.now() - 2 * hour), expiresInSeconds: 600 })),
      "a token not valid yet": bearer(issuer.issue({ user: "alice", roles: ["Sign.Submit"], now: new Date(Date.now() + hour) })),
      "a token for another audience": bearer(issuer.issue({ user: "alice", roles: ["Sign.Submit"], audience: "api://another-api" })),
      "a token from another issuer": bearer(issuer.issue({ user: "alice", roles: ["Sign.Submit"], issuer: `https://login.microsoftonline.com/${meta.tenantId}/v2.0` })),
      "a token signed by another key (same kid)": bearer(signJwt({ alg: "RS256", typ: "JWT", kid }, good, other)),
      "a token signed by another key (unknown kid)": bearer(signJwt({ alg: "RS256", typ: "JWT", kid: "other" }, good, other)),
      "an unsigned token (alg none)": bearer(`${b64url({ alg: "none", typ: "JWT" })}.${b64url(good)}.`),
      "an unsigned token (alg none, kid, junk signature)": bearer(`${b64url({ alg: "none", typ: "JWT", kid })}.${b64url(good)}.${valid.split(".")[2]}`),
      "a valid signature over a changed payload": bearer(`${valid.split(".")[0]}.${b64url({ ...good, roles: [...SIGN_ROLES], oid: "someone-else" })}.${valid.split(".")[2]}`),
      "an HS256 token keyed with the public key": bearer(hmacSignedWithPublicKey({ alg: "HS256", typ: "JWT", kid }, good)),
      "a forged X-MS-CLIENT-PRINCIPAL": { "x-ms-client-principal": forgedPrincipal, "x-ms-client-principal-id": "forged-oid", "x-ms-client-principal-idp": "aad" },
      "a forged X-MS-CLIENT-PRINCIPAL with a bad token": { ...bearer(`${valid}x`), "X-MS-CLIENT-PRINCIPAL": forgedPrincipal },
      "an unknown session cookie": { cookie: `AppServiceAuthSession=${Buffer.alloc(32, 7).toString("base64url")}` },
      "a forged X-MS-CLIENT-PRINCIPAL with an unknown session cookie": { cookie: "AppServiceAuthSession=x", "x-ms-client-principal": forgedPrincipal },
    };
    for (const [label, headers] of Object.entries(cases)) {
      for (const t of routes) {
        const response = await call(t, headers);
        const text = await response.text();
        // As Azure with unauthenticatedClientAction Return401: no redirect to sign-in, not for the page either.
        expect({ label, fn: t.functionName, status: response.status }).toEqual({ label, fn: t.functionName, status: 401 });
        expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm="api:\/\//);
        expect(response.headers.get("location")).toBeNull();
        expect(text).toBe("");
      }
    }
    // An unknown route under /api is refused before any route matching, as Easy Auth does.
    expect((await fetch(`${stack.apiUrl}/no-such-route`)).status).toBe(401);
    // Nothing reached the app: no submission was started by any refused POST.
    const list = await fetch(`${stack.apiUrl}/submissions`, { headers: bearer(valid) });
    expect(list.status).toBe(200);
    expect((JSON.parse(await list.text()) as { items: unknown[] }).items).toEqual([]);
  });

  it("a valid token holding none of the four roles gets 403 on every route, a forged principal beside it changes nothing", async () => {
    const noRoles = stack.issuer!.issue({ user: "mallory", roles: [] });
    const otherRole = stack.issuer!.issue({ app: "reader", roles: [] });
    const forged = encodeClientPrincipal({ auth_typ: "aad", claims: [{ typ: "oid", val: "x" }, ...SIGN_ROLES.map((val) => ({ typ: "roles", val }))] });
    for (const headers of [bearer(noRoles), bearer(otherRole), { ...bearer(noRoles), "x-ms-client-principal": forged }]) {
      for (const t of routes) {
        const response = await call(t, headers);
        const text = await response.text();
        expect({ fn: t.functionName, status: response.status }).toEqual({ fn: t.functionName, status: 403 });
        expect(text).toMatch(/"error":"the caller may not do [a-zA-Z.]+: it needs one of the roles Sign\./);
      }
    }
  });

  it("npm run token prints only a token the stack accepts; with Sign.Submit a drop goes to signed end to end", async () => {
    const out = execFileSync(process.execPath, [path.join(DIST_DIR, "local", "cli", "token.js"), "--user", "alice", "--roles", "Sign.Submit,Sign.Publish", "--expires", "10m", "--data-dir", stack.dataDir], { encoding: "utf8" });
    expect(out).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    const token = out.trim();
    // --out: the same kind of token in a 0600 file, nothing on stdout.
    const tokenFile = path.join(stack.dataDir, "alice.token");
    fs.writeFileSync(tokenFile, "old", { mode: 0o644 });
    const quiet = execFileSync(process.execPath, [path.join(DIST_DIR, "local", "cli", "token.js"), "--app", "ci", "--roles", "Sign.Operate", "--data-dir", stack.dataDir, "--out", tokenFile], { encoding: "utf8" });
    expect(quiet).toBe("");
    expect(fs.statSync(tokenFile).mode & 0o777).toBe(0o600);
    const fromFile = fs.readFileSync(tokenFile, "utf8").trim();
    expect(payloadOf(fromFile)).toMatchObject({ idtyp: "app", roles: ["Sign.Operate"] });
    expect((await fetch(`${stack.apiUrl}/submissions`, { headers: bearer(fromFile) })).status).toBe(200);
    const claims = payloadOf(token);
    expect(claims).toMatchObject({ aud: stack.issuer!.metadata.audiences[0], iss: stack.issuer!.metadata.issuer, roles: ["Sign.Submit", "Sign.Publish"], name: "alice", tid: stack.issuer!.metadata.tenantId });
    expect((claims.exp as number) - (claims.iat as number)).toBe(600);

    const pkg = samplePackage({ folder: "e2e-auth" });
    const container = stack.blobService.getContainerClient(HTTP_CONTAINER);
    await container.createIfNotExists();
    await container.getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
    const started = await fetch(`${stack.apiUrl}/submissions`, {
      method: "POST",
      headers: { ...bearer(token), "content-type": "application/json", "x-ms-client-principal": "forged" },
      body: JSON.stringify({ package: `${HTTP_CONTAINER}/${pkg.fileName}` }),
    });
    const text = await started.text();
    readBack.push(text);
    expect(started.status).toBe(202);
    const { id, statusUrl } = JSON.parse(text) as { id: string; statusUrl: string };

    let view: { runtimeStatus?: string; stage?: string } = {};
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const response = await fetch(statusUrl, { headers: bearer(token) });
      const body = await response.text();
      readBack.push(body);
      expect(response.status).toBe(200);
      view = JSON.parse(body) as typeof view;
      if (["Completed", "Failed", "Terminated"].includes(view.runtimeStatus ?? "")) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(view).toMatchObject({ runtimeStatus: "Completed", stage: "succeeded" });
    expect(id).toEqual(expect.any(String));

    // An application token with another of the roles reads the same status.
    const app = stack.issuer!.issue({ app: "release-pipeline", roles: ["Sign.Operate"] });
    expect((await fetch(statusUrl, { headers: bearer(app) })).status).toBe(200);
    // The page opens with a token as well as with the sign-in's cookie.
    const page = await fetch(`${stack.apiUrl}/dashboard`, { headers: bearer(token) });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Signed in as alice, roles: Sign.Submit, Sign.Publish.");
  });

  describe("browser sign-in (/.auth/login/aad → local tenant → AppServiceAuthSession cookie)", () => {
    const origin = () => new URL(stack.apiUrl).origin;
    const host = () => new URL(stack.apiUrl).host;

    it("refuses a redirect target off this site before any sign-in starts, and takes same-site ones", async () => {
      const refused = ["https://evil.example/api/dashboard", "//evil.example/api/dashboard", "/\\evil.example/x", "javascript:alert(1)", `https://${host()}.evil.example/`, "http://127.0.0.2/api/dashboard"];
      for (const target of refused) {
        const response = await fetch(`${origin()}/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(target)}`, { redirect: "manual" });
        expect({ target, status: response.status }).toEqual({ target, status: 403 });
        expect(response.headers.get("location")).toBeNull();
        expect(response.headers.getSetCookie()).toEqual([]);
        expect(await response.text()).toContain("post_login_redirect_uri");
      }
      const logout = await fetch(`${origin()}/.auth/logout?post_logout_redirect_uri=${encodeURIComponent("https://evil.example/")}`, { redirect: "manual" });
      expect(logout.status).toBe(403);
      // A path, or an absolute URL of this very host, is followed after sign-in.
      for (const [target, expected] of [["/api/dashboard", "/api/dashboard"], [`${origin()}/api/dashboard?x=1`, "/api/dashboard?x=1"]]) {
        const started = await startSignIn(origin(), target);
        const authorize = new URL(started.authorizeUrl);
        expect(authorize.pathname).toBe("/_local/tenant/oauth2/v2.0/authorize");
        expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
          client_id: stack.issuer!.metadata.apiClientId,
          response_type: "id_token",
          response_mode: "form_post",
          redirect_uri: `${origin()}/.auth/login/aad/callback`,
        });
        const answer = await tenantSignIn(started, "carol", []);
        const done = await callback(answer, started.loginCookie);
        expect(done.status).toBe(302);
        expect(done.headers.get("location")).toBe(expected);
      }
    });

    it("signs alice in: a Secure HttpOnly SameSite=None session cookie that carries her principal like a token", async () => {
      const started = await startSignIn(origin());
      const answer = await tenantSignIn(started, "alice", ["Sign.Submit"]);
      expect(answer.replyUrl).toBe(`${origin()}/.auth/login/aad/callback`);
      expect(payloadOf(answer.idToken)).toMatchObject({ aud: stack.issuer!.metadata.apiClientId, name: "alice", roles: ["Sign.Submit"], nonce: new URL(started.authorizeUrl).searchParams.get("nonce") });
      const done = await callback(answer, started.loginCookie);
      expect(done.status).toBe(302);
      expect(done.headers.get("location")).toBe("/api/dashboard");
      const session = setCookie(done, "AppServiceAuthSession")!;
      expect(session.line).toMatch(/^AppServiceAuthSession=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=None$/);
      // Opaque: nothing of the token or the principal is in the cookie.
      expect(session.pair).not.toContain(answer.idToken.split(".")[1].slice(0, 20));
      expect(session.pair).not.toMatch(/eyJ/);
      expect(setCookie(done, "LocalEasyAuthLogin")!.line).toMatch(/Max-Age=0/);

      // The same callback again: its state was used.
      expect((await callback(answer, started.loginCookie)).status).toBe(401);

      const cookie = session.pair;
      const page = await fetch(`${stack.apiUrl}/dashboard`, { headers: { cookie } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("Signed in as alice, roles: Sign.Submit.");
      expect((await fetch(`${stack.apiUrl}/submissions`, { headers: { cookie } })).status).toBe(200);
      // A forged all-roles principal beside the cookie changes nothing: the app sees alice's.
      const forged = encodeClientPrincipal({ auth_typ: "aad", claims: [{ typ: "oid", val: "x" }, ...SIGN_ROLES.map((val) => ({ typ: "roles", val }))] });
      const withForged = await fetch(`${stack.apiUrl}/dashboard`, { headers: { cookie, "x-ms-client-principal": forged } });
      expect(await withForged.text()).toContain("Signed in as alice, roles: Sign.Submit.");
      // An altered cookie is not a session: 401, like no cookie at all.
      const value = cookie.split("=")[1];
      const altered = `AppServiceAuthSession=${value.slice(0, -1)}${value.endsWith("A") ? "B" : "A"}`;
      for (const bad of [altered, `AppServiceAuthSession=${value}x`, "AppServiceAuthSession="]) {
        expect({ bad, status: (await fetch(`${stack.apiUrl}/submissions`, { headers: { cookie: bad } })).status }).toEqual({ bad, status: 401 });
        expect({ bad, status: (await fetch(`${stack.apiUrl}/dashboard`, { headers: { cookie: bad } })).status }).toEqual({ bad, status: 401 });
      }
      // A bearer token decides alone: a bad one is refused even beside a good cookie.
      expect((await fetch(`${stack.apiUrl}/submissions`, { headers: { cookie, ...bearer(`${valid}x`) } })).status).toBe(401);

      // Sign-out ends the session on the server, not only in the browser.
      const out = await fetch(`${origin()}/.auth/logout`, { headers: { cookie }, redirect: "manual" });
      expect(out.status).toBe(302);
      expect(out.headers.get("location")).toBe("/.auth/logout/complete");
      expect(setCookie(out, "AppServiceAuthSession")!.line).toMatch(/^AppServiceAuthSession=; Path=\/; Secure; HttpOnly; SameSite=None; Max-Age=0$/);
      expect((await fetch(`${stack.apiUrl}/submissions`, { headers: { cookie } })).status).toBe(401);
      expect((await fetch(`${stack.apiUrl}/dashboard`, { headers: { cookie } })).status).toBe(401);
    });

    it("a callback is refused from another browser, with another sign-in's nonce, or with an access token", async () => {
      const first = await startSignIn(origin());
      const second = await startSignIn(origin());
      const firstAnswer = await tenantSignIn(first, "mallory", [...SIGN_ROLES]);
      const secondAnswer = await tenantSignIn(second, "alice", ["Sign.Submit"]);
      // Login CSRF: mallory's finished sign-in posted from alice's browser (her login cookie, not his).
      const crossBrowser = await callback(firstAnswer, second.loginCookie);
      expect(crossBrowser.status).toBe(401);
      expect(await crossBrowser.text()).toContain("another browser");
      expect(setCookie(crossBrowser, "AppServiceAuthSession")).toBeUndefined();
      // The second sign-in's state with an ID token minted for the first one's nonce.
      const third = await startSignIn(origin());
      const thirdAnswer = await tenantSignIn(third, "alice", ["Sign.Submit"]);
      const wrongNonce = await callback(thirdAnswer, third.loginCookie, { idToken: secondAnswer.idToken });
      expect(wrongNonce.status).toBe(401);
      expect(await wrongNonce.text()).toContain("nonce");
      // An access token (audience api://...) is not an ID token of this app.
      const fourth = await startSignIn(origin());
      const fourthAnswer = await tenantSignIn(fourth, "alice", ["Sign.Submit"]);
      const accessToken = await callback(fourthAnswer, fourth.loginCookie, { idToken: valid });
      expect(accessToken.status).toBe(401);
      expect(await accessToken.text()).toContain("not issued to this app");
      // A state nobody issued, and the callback without the login cookie.
      expect((await callback(secondAnswer, second.loginCookie, { state: "A".repeat(43) })).status).toBe(401);
      const fifth = await startSignIn(origin());
      expect((await callback(await tenantSignIn(fifth, "alice", []), undefined)).status).toBe(401);
    });

    it("the local tenant takes only this app's client id and its own reply URL", async () => {
      const started = await startSignIn(origin());
      const url = new URL(started.authorizeUrl);
      const variants: Record<string, [string, string]> = {
        "another client": ["client_id", "00000000-0000-0000-0000-000000000000"],
        "a foreign reply URL": ["redirect_uri", "https://evil.example/.auth/login/aad/callback"],
        "another path as reply URL": ["redirect_uri", `${origin()}/api/submissions`],
        "the code flow": ["response_type", "code"],
      };
      for (const [label, [name, value]] of Object.entries(variants)) {
        const changed = new URL(url);
        changed.searchParams.set(name, value);
        const response = await fetch(changed);
        expect({ label, status: response.status }).toEqual({ label, status: 400 });
        expect(await response.text()).toContain(`${name}:`);
      }
    });
  });

  it("nothing secret (tokens included) in what callers read back or in the runtime log", () => {
    const log = fs.readFileSync(stack.runtimeLogFile, "utf8");
    expect(log).toContain("Easy Auth on (issuer https://login.local.test/");
    expect(log).toContain("refused a bearer token");
    for (const text of [...readBack, log]) expectNothingSecret(stack, text);
  });
});
