/**
 * Workload identity federation, locally (issue 31): a "GitHub-like" OIDC provider whose JWTs stand in
 * for GitHub Actions' ID tokens, and the exchange Entra ID does at the tenant's token endpoint
 * (client_credentials with client_assertion = that JWT): when the assertion's issuer, subject and
 * audience exactly match a federated credential of the client app, it issues an access token FOR THE
 * API signed by the local issuer (so the local Easy Auth accepts it) with the app's roles.
 * Local only, never deployed. Keys live in the stack's data folder (identity/, mode 0600).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, verify, type KeyObject } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { identityDir, publicJwkOf, signJwt, type LocalIssuer, type PublicJwk } from "./issuer";

/** The audience GitHub's token must carry for Entra (the federated credential's default). */
export const TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";
export const OIDC_PROVIDER_KEY_FILE = "oidc-provider-key.json";
export const FEDERATED_APPS_FILE = "federated-apps.json";
/** Stands in for https://token.actions.githubusercontent.com. */
export const LOCAL_OIDC_ISSUER = "https://token.actions.local.test";
export const DEFAULT_SUBJECT = "repo:contoso/drivers:environment:prod";

export interface FederatedCredential {
  issuer: string;
  /** Exact match, e.g. repo:ORG/REPO:environment:NAME. */
  subject: string;
  audiences: string[];
}

/** A client app registration with federated credentials and the API's app roles granted to it. */
export interface FederatedApp {
  name: string;
  roles: string[];
  federatedCredentials: FederatedCredential[];
}

export interface OidcTokenRequest {
  subject: string;
  audience?: string;
  expiresInSeconds?: number;
  now?: Date;
}

const b64json = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;

/** The local "GitHub" OIDC provider: mints the job's ID token for a subject. */
export class LocalOidcProvider {
  private constructor(
    readonly issuer: string,
    readonly jwk: PublicJwk,
    private readonly privateKey: KeyObject,
  ) {}

  static loadOrCreate(dataDir: string): LocalOidcProvider {
    const dir = identityDir(dataDir);
    const keyFile = path.join(dir, OIDC_PROVIDER_KEY_FILE);
    if (!fs.existsSync(keyFile)) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      try {
        fs.writeFileSync(keyFile, JSON.stringify({ privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString() }) + "\n", { mode: 0o600, flag: "wx" });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
    }
    const saved = JSON.parse(fs.readFileSync(keyFile, "utf8")) as { privateKeyPem: string };
    const privateKey = createPrivateKey(saved.privateKeyPem);
    return new LocalOidcProvider(LOCAL_OIDC_ISSUER, publicJwkOf(privateKey), privateKey);
  }

  /** A JWT shaped like GitHub Actions' ID token (iss, sub, aud, repository, environment, jti, iat/nbf/exp). */
  mint(request: OidcTokenRequest): string {
    const now = Math.floor((request.now ?? new Date()).getTime() / 1000);
    const environment = /:environment:([^:]+)$/.exec(request.subject)?.[1];
    const repository = /^repo:([^:]+)/.exec(request.subject)?.[1];
    const payload = {
      iss: this.issuer,
      sub: request.subject,
      aud: request.audience ?? TOKEN_EXCHANGE_AUDIENCE,
      ...(repository ? { repository } : {}),
      ...(environment ? { environment } : {}),
      jti: randomUUID(),
      iat: now,
      nbf: now,
      exp: now + (request.expiresInSeconds ?? 300),
    };
    return signJwt({ alg: "RS256", typ: "JWT", kid: this.jwk.kid }, payload, this.privateKey);
  }
}

/** The data folder's federated client apps (identity/federated-apps.json), written with a default on first use. */
export function loadFederatedApps(dataDir: string): FederatedApp[] {
  const file = path.join(identityDir(dataDir), FEDERATED_APPS_FILE);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(identityDir(dataDir), { recursive: true, mode: 0o700 });
    const defaults: FederatedApp[] = [
      { name: "ci-pipeline", roles: ["Sign.Submit"], federatedCredentials: [{ issuer: LOCAL_OIDC_ISSUER, subject: DEFAULT_SUBJECT, audiences: [TOKEN_EXCHANGE_AUDIENCE] }] },
    ];
    fs.writeFileSync(file, JSON.stringify(defaults, null, 2) + "\n", { flag: "wx" });
  }
  const apps = JSON.parse(fs.readFileSync(file, "utf8")) as FederatedApp[];
  if (!Array.isArray(apps) || apps.some((app) => typeof app.name !== "string" || !Array.isArray(app.roles) || !Array.isArray(app.federatedCredentials))) {
    throw new Error(`${file}: expected a list of { name, roles, federatedCredentials: [{ issuer, subject, audiences }] }`);
  }
  return apps;
}

export type ExchangeResult =
  | { ok: true; accessToken: string; expiresIn: number }
  | { ok: false; status: number; error: string; code: number; description: string };

export interface ExchangeRequest {
  clientId: string;
  /** The requested resource scope, e.g. api://<API client id>/.default. */
  scope: string;
  assertion: string;
}

export interface Federation {
  issuer: LocalIssuer;
  apps: FederatedApp[];
  /** Trusted OIDC providers: issuer URL → its signing keys. */
  trustedIssuers: Map<string, PublicJwk[]>;
  tokenLifetimeSeconds?: number;
}

const refuse = (status: number, error: string, code: number, description: string): ExchangeResult => ({ ok: false, status, error, code, description: `AADSTS${code}: ${description}` });

function verifySignature(jwt: string, keys: PublicJwk[], kid: unknown): boolean {
  const [header, payload, signature] = jwt.split(".");
  const key = keys.find((candidate) => candidate.kid === kid);
  if (!key) return false;
  return verify("RSA-SHA256", Buffer.from(`${header}.${payload}`), createPublicKey({ key, format: "jwk" }), Buffer.from(signature, "base64url"));
}

/**
 * Entra ID's checks on a federated client assertion, in its order: the app exists, the assertion is
 * a signed JWT of a trusted issuer, within its valid time, and a federated credential of the app
 * matches issuer, subject and audience exactly; then the resource is the API. Never echoes the assertion.
 */
export function exchangeFederatedAssertion(request: ExchangeRequest, federation: Federation, nowMs = Date.now()): ExchangeResult {
  const { metadata } = federation.issuer;
  const app = federation.apps.find((candidate) => federation.issuer.appClientId(candidate.name) === request.clientId);
  if (!app) return refuse(400, "unauthorized_client", 700016, `Application with identifier '${request.clientId}' was not found in the directory '${metadata.tenantId}'.`);
  const parts = request.assertion.split(".");
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    if (parts.length !== 3) throw new Error("not three parts");
    header = b64json(parts[0]);
    claims = b64json(parts[1]);
  } catch {
    return refuse(400, "invalid_request", 50027, "JWT token is invalid or malformed.");
  }
  if (header.alg !== "RS256" || parts[2] === "") return refuse(401, "invalid_client", 5002738, `Invalid JWT token. '${String(header.alg)}' is not a supported signature algorithm; the client assertion must be signed.`);
  const keys = typeof claims.iss === "string" ? federation.trustedIssuers.get(claims.iss) : undefined;
  if (!keys || !app.federatedCredentials.some((credential) => credential.issuer === claims.iss)) {
    return refuse(400, "invalid_request", 700211, `No matching federated identity record found for presented assertion issuer '${String(claims.iss)}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`);
  }
  if (!verifySignature(request.assertion, keys, header.kid)) return refuse(401, "invalid_client", 700027, "Client assertion failed signature validation.");
  const nowSeconds = Math.floor(nowMs / 1000);
  if (typeof claims.exp !== "number" || claims.exp <= nowSeconds || (typeof claims.nbf === "number" && claims.nbf > nowSeconds + 300)) {
    return refuse(400, "invalid_client", 700024, "Client assertion is not within its valid time range.");
  }
  const byIssuer = app.federatedCredentials.filter((credential) => credential.issuer === claims.iss);
  const bySubject = byIssuer.filter((credential) => credential.subject === claims.sub);
  if (bySubject.length === 0) {
    return refuse(400, "invalid_request", 700213, `No matching federated identity record found for presented assertion subject '${String(claims.sub)}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`);
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!bySubject.some((credential) => credential.audiences.some((audience) => audiences.includes(audience)))) {
    return refuse(400, "invalid_request", 700212, `No matching federated identity record found for presented assertion audience '${audiences.join(", ")}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`);
  }
  const resource = request.scope.replace(/\/\.default$/, "").replace(/\/+$/, "");
  if (!metadata.audiences.includes(resource)) {
    return refuse(400, "invalid_resource", 500011, `The resource principal named ${resource} was not found in the tenant named ${metadata.tenantId}.`);
  }
  const expiresIn = federation.tokenLifetimeSeconds ?? 3600;
  const accessToken = federation.issuer.issue({ app: app.name, roles: app.roles, expiresInSeconds: expiresIn, now: new Date(nowMs) });
  return { ok: true, accessToken, expiresIn };
}

/** The data folder's federation for the Entra emulator: the local OIDC provider trusted, the federated apps of federated-apps.json. */
export function localFederation(dataDir: string, issuer: LocalIssuer): { tenantId: string; exchange(request: ExchangeRequest): ExchangeResult } {
  const provider = LocalOidcProvider.loadOrCreate(dataDir);
  const apps = loadFederatedApps(dataDir);
  const trustedIssuers = new Map([[provider.issuer, [provider.jwk]]]);
  return { tenantId: issuer.metadata.tenantId, exchange: (request) => exchangeFederatedAssertion(request, { issuer, apps, trustedIssuers }) };
}
