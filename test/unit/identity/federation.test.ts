/**
 * The local workload identity federation exchange (issue 31), as Entra decides it: the issued token
 * is an access token FOR THE API (aud api://<API>, the local issuer's iss and signature, the app's
 * roles, azp = the client id), and every mismatch is refused with Entra's code. The token is checked
 * with the same validator the local Easy Auth uses, so "accepted" means accepted by the runtime.
 */
import { generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  DEFAULT_SUBJECT,
  LOCAL_OIDC_ISSUER,
  LocalOidcProvider,
  TOKEN_EXCHANGE_AUDIENCE,
  exchangeFederatedAssertion,
  loadFederatedApps,
  type Federation,
} from "../../../local/identity/federation";
import { LocalIssuer, signJwt } from "../../../local/identity/issuer";

let dataDir: string;
let issuer: LocalIssuer;
let provider: LocalOidcProvider;
let federation: Federation;
let clientId: string;
let scope: string;

beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "federation-"));
  issuer = LocalIssuer.loadOrCreate(dataDir);
  provider = LocalOidcProvider.loadOrCreate(dataDir);
  federation = { issuer, apps: loadFederatedApps(dataDir), trustedIssuers: new Map([[provider.issuer, [provider.jwk]]]) };
  clientId = issuer.appClientId("ci-pipeline");
  scope = `${issuer.metadata.audiences[0]}/.default`;
});
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8")) as Record<string, unknown>;

describe("federated credential exchange", () => {
  test("a matching assertion gets an access token for the API, signed by the local issuer, with the app's roles", () => {
    const result = exchangeFederatedAssertion({ clientId, scope, assertion: provider.mint({ subject: DEFAULT_SUBJECT }) }, federation);
    if (!result.ok) throw new Error(result.description);
    const claims = claimsOf(result.accessToken);
    expect(claims).toMatchObject({ aud: `api://${issuer.metadata.apiClientId}`, iss: issuer.metadata.issuer, tid: issuer.metadata.tenantId, azp: clientId, idtyp: "app", roles: ["Sign.Submit"] });
    expect(result.expiresIn).toBe(3600);
    const header = JSON.parse(Buffer.from(result.accessToken.split(".")[0], "base64url").toString("utf8")) as { kid: string };
    expect(header.kid).toBe(issuer.metadata.jwks.keys[0].kid);
    // The bare client id is an accepted resource as well (Easy Auth's allowedAudiences has both).
    expect(exchangeFederatedAssertion({ clientId, scope: `${issuer.metadata.apiClientId}/.default`, assertion: provider.mint({ subject: DEFAULT_SUBJECT }) }, federation).ok).toBe(true);
  });

  test("the default federated app and the provider persist in the data folder", () => {
    const file = path.join(dataDir, "identity", "federated-apps.json");
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual([
      { name: "ci-pipeline", roles: ["Sign.Submit"], federatedCredentials: [{ issuer: LOCAL_OIDC_ISSUER, subject: DEFAULT_SUBJECT, audiences: [TOKEN_EXCHANGE_AUDIENCE] }] },
    ]);
    expect(LocalOidcProvider.loadOrCreate(dataDir).jwk).toEqual(provider.jwk);
    expect(fs.statSync(path.join(dataDir, "identity", "oidc-provider-key.json")).mode & 0o777).toBe(0o600);
  });

  const now = Math.floor(Date.now() / 1000);
  const good = { iss: LOCAL_OIDC_ISSUER, sub: DEFAULT_SUBJECT, aud: TOKEN_EXCHANGE_AUDIENCE, iat: now, nbf: now, exp: now + 300 };
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;

  test.each<[string, number, () => { clientId?: string; scope?: string; assertion: string }]>([
    ["unknown client", 700016, () => ({ clientId: "00000000-0000-4000-a000-000000000000", assertion: provider.mint({ subject: DEFAULT_SUBJECT }) })],
    ["malformed", 50027, () => ({ assertion: "not-a-jwt" })],
    ["unsigned (alg none)", 5002738, () => ({ assertion: `${b64({ alg: "none" })}.${b64(good)}.` })],
    ["untrusted issuer", 700211, () => ({ assertion: signJwt({ alg: "RS256", kid: "x" }, { ...good, iss: "https://token.actions.githubusercontent.com" }, otherKey) })],
    ["another key", 700027, () => ({ assertion: signJwt({ alg: "RS256", kid: provider.jwk.kid }, good, otherKey) })],
    ["expired", 700024, () => ({ assertion: provider.mint({ subject: DEFAULT_SUBJECT, now: new Date(Date.now() - 600_000), expiresInSeconds: 300 }) })],
    ["subject mismatch", 700213, () => ({ assertion: provider.mint({ subject: "repo:contoso/drivers:ref:refs/heads/main" }) })],
    ["audience mismatch", 700212, () => ({ assertion: provider.mint({ subject: DEFAULT_SUBJECT, audience: "api://other" }) })],
    ["another resource", 500011, () => ({ scope: "https://vault.azure.net/.default", assertion: provider.mint({ subject: DEFAULT_SUBJECT }) })],
  ])("%s is refused with AADSTS%d", (_name, code, make) => {
    const request = { clientId, scope, ...make() };
    const result = exchangeFederatedAssertion(request, federation);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe(code);
    expect(result.description).toMatch(new RegExp(`^AADSTS${code}: `));
    // Entra never echoes the assertion.
    expect(result.description).not.toContain(request.assertion.split(".")[1] || "\u0000");
  });
});
