/**
 * The local stand-in for the Entra ID tenant that issues the API's access tokens. Its RSA key pair
 * lives in the stack's data folder (identity/issuer-key.json, mode 0600), so `npm run token` and a
 * stack started from the same folder agree; the public half (issuer, audiences, JWKS) is written to
 * identity/issuer.json, which is all the runtime's Easy Auth emulation reads.
 * Tokens have Entra's v2 access-token shape: iss, aud, tid, oid, sub, azp, roles, iat/nbf/exp, and
 * name/preferred_username for users or idtyp "app" for applications.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, type JsonWebKey, type KeyObject } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export interface PublicJwk extends JsonWebKey {
  kty: "RSA";
  kid: string;
  use: "sig";
  alg: "RS256";
  n: string;
  e: string;
}

/** What a token validator needs: no private key. */
export interface IssuerMetadata {
  issuer: string;
  tenantId: string;
  /** The API's app (client) id; tokens carry `aud` = its app id URI `api://<id>`. */
  apiClientId: string;
  /** Accepted audiences: the app id URI and the bare client id (as Easy Auth's allowedAudiences). */
  audiences: string[];
  /** The client app users sign in with (the CLI / page), their tokens' azp. */
  userClientAppId: string;
  jwks: { keys: PublicJwk[] };
}

export interface TokenRequest {
  /** A user name such as "alice" (a user token) ... */
  user?: string;
  /** ... or an application name such as "ci-pipeline" (an app-only token). */
  app?: string;
  roles: string[];
  /** Lifetime in seconds (default 3600). */
  expiresInSeconds?: number;
  /** Issue time (default now); tests use it for expired and not-yet-valid tokens. */
  now?: Date;
  /** Overrides for negative tests (another audience, another issuer). */
  audience?: string;
  issuer?: string;
}

export const ISSUER_FILE = "issuer.json";
export const ISSUER_KEY_FILE = "issuer-key.json";

export function identityDir(dataDir: string): string {
  return path.join(dataDir, "identity");
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

/** A stable UUID-shaped id for a name in this tenant (users and apps keep their oid across runs). */
function stableId(tenantId: string, kind: string, name: string): string {
  const hex = createHash("sha256").update(`${tenantId}/${kind}/${name}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function publicJwkOf(key: KeyObject): PublicJwk {
  const jwk = createPublicKey(key).export({ format: "jwk" }) as { n: string; e: string };
  // RFC 7638 thumbprint as the key id.
  const kid = createHash("sha256").update(JSON.stringify({ e: jwk.e, kty: "RSA", n: jwk.n })).digest("base64url");
  return { kty: "RSA", kid, use: "sig", alg: "RS256", n: jwk.n, e: jwk.e };
}

/** Signs any header and payload with an RSA key (the issuer, and tests forging tokens with other keys). */
export function signJwt(header: Record<string, unknown>, payload: Record<string, unknown>, privateKey: KeyObject): string {
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${signingInput}.${b64url(sign("RSA-SHA256", Buffer.from(signingInput), privateKey))}`;
}

export class LocalIssuer {
  private constructor(
    readonly metadata: IssuerMetadata,
    private readonly privateKey: KeyObject,
  ) {}

  /** Reads the issuer of a data folder, creating it (key pair, tenant, app ids) on first use. */
  static loadOrCreate(dataDir: string): LocalIssuer {
    const dir = identityDir(dataDir);
    const keyFile = path.join(dir, ISSUER_KEY_FILE);
    if (fs.existsSync(keyFile)) return LocalIssuer.load(dataDir);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const tenantId = randomUUID();
    const apiClientId = randomUUID();
    const metadata: IssuerMetadata = {
      issuer: `https://login.local.test/${tenantId}/v2.0`,
      tenantId,
      apiClientId,
      audiences: [`api://${apiClientId}`, apiClientId],
      userClientAppId: randomUUID(),
      jwks: { keys: [publicJwkOf(privateKey)] },
    };
    const secret = { privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(), metadata };
    // wx: two processes starting at once must not write two different keys.
    try {
      fs.writeFileSync(keyFile, JSON.stringify(secret) + "\n", { mode: 0o600, flag: "wx" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return LocalIssuer.load(dataDir);
      throw error;
    }
    fs.writeFileSync(path.join(dir, ISSUER_FILE), JSON.stringify(metadata, null, 2) + "\n");
    return new LocalIssuer(metadata, privateKey);
  }

  /** Reads an existing issuer; fails naming the file when there is none. */
  static load(dataDir: string): LocalIssuer {
    const keyFile = path.join(identityDir(dataDir), ISSUER_KEY_FILE);
    let saved: { privateKeyPem: string; metadata: IssuerMetadata };
    try {
      saved = JSON.parse(fs.readFileSync(keyFile, "utf8")) as typeof saved;
    } catch (error) {
      throw new Error(`No local token issuer in ${keyFile} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): start the stack once with --auth entra, or pass --data-dir`);
    }
    const metaFile = path.join(identityDir(dataDir), ISSUER_FILE);
    if (!fs.existsSync(metaFile)) fs.writeFileSync(metaFile, JSON.stringify(saved.metadata, null, 2) + "\n");
    return new LocalIssuer(saved.metadata, createPrivateKey(saved.privateKeyPem));
  }

  /** The client (app) id of a named application of this tenant: its tokens' azp. */
  appClientId(name: string): string {
    return stableId(this.metadata.tenantId, "app", name);
  }

  /** A signed access token for a user or an application with the given app roles. */
  issue(request: TokenRequest): string {
    if ((request.user === undefined) === (request.app === undefined)) throw new Error("a token is for exactly one of a user or an app");
    const { tenantId } = this.metadata;
    const now = Math.floor((request.now ?? new Date()).getTime() / 1000);
    const lifetime = request.expiresInSeconds ?? 3600;
    const common = {
      aud: request.audience ?? this.metadata.audiences[0],
      iss: request.issuer ?? this.metadata.issuer,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      tid: tenantId,
      ver: "2.0",
      uti: b64url(createHash("sha256").update(randomUUID()).digest().subarray(0, 16)),
      ...(request.roles.length > 0 ? { roles: request.roles } : {}),
    };
    const payload: Record<string, unknown> = request.user !== undefined
      ? {
          ...common,
          azp: this.metadata.userClientAppId,
          azpacr: "0",
          name: request.user,
          preferred_username: `${request.user}@local.test`,
          oid: stableId(tenantId, "user", request.user),
          sub: stableId(tenantId, "user-sub", request.user),
          scp: "access_as_user",
        }
      : {
          ...common,
          azp: this.appClientId(request.app!),
          azpacr: "1",
          idtyp: "app",
          oid: stableId(tenantId, "app-sp", request.app!),
          sub: stableId(tenantId, "app-sp", request.app!),
        };
    return signJwt({ alg: "RS256", typ: "JWT", kid: this.metadata.jwks.keys[0].kid }, payload, this.privateKey);
  }

  /**
   * The ID token of a browser sign-in (the implicit flow Easy Auth uses without a client secret):
   * audience the API's client id (Easy Auth's registration), the request's nonce, the user's app roles.
   */
  issueIdToken(request: { user: string; roles: string[]; nonce: string; now?: Date; expiresInSeconds?: number }): string {
    const { tenantId } = this.metadata;
    const now = Math.floor((request.now ?? new Date()).getTime() / 1000);
    const payload: Record<string, unknown> = {
      aud: this.metadata.apiClientId,
      iss: this.metadata.issuer,
      iat: now,
      nbf: now,
      exp: now + (request.expiresInSeconds ?? 3600),
      tid: tenantId,
      ver: "2.0",
      nonce: request.nonce,
      name: request.user,
      preferred_username: `${request.user}@local.test`,
      oid: stableId(tenantId, "user", request.user),
      sub: stableId(tenantId, "user-sub", request.user),
      ...(request.roles.length > 0 ? { roles: request.roles } : {}),
    };
    return signJwt({ alg: "RS256", typ: "JWT", kid: this.metadata.jwks.keys[0].kid }, payload, this.privateKey);
  }
}

/** The public metadata the runtime validates against (identity/issuer.json). */
export function readIssuerMetadata(file: string): IssuerMetadata {
  const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as IssuerMetadata;
  if (typeof parsed.issuer !== "string" || !Array.isArray(parsed.audiences) || !Array.isArray(parsed.jwks?.keys)) {
    throw new Error(`${file} is not a local issuer's metadata (issuer, audiences, jwks)`);
  }
  return parsed;
}

/** "10m", "2h", "90s", "1d" or plain seconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(match[2] ?? "s") as "s" | "m" | "h" | "d"];
  const seconds = Number(match[1]) * unit;
  return seconds > 0 ? seconds : undefined;
}
