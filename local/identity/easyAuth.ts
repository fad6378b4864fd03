/**
 * App Service Authentication (Easy Auth) as the local runtime's front plays it in entra mode:
 * a bearer token is checked (RS256 signature by a key of the local issuer's JWKS, issuer,
 * audience, exp and nbf with a small clock skew); the caller is handed to the app in the headers
 * the platform sets (X-MS-CLIENT-PRINCIPAL, -ID, -NAME, -IDP), and every such header a client sends
 * is removed first, valid token or not.
 */
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { CLAIM_TYPES, encodeClientPrincipal, type ClientPrincipal } from "../../src/domain/principal";
import type { IssuerMetadata } from "./issuer";

/** Easy Auth tolerates a little clock difference between issuer and validator. */
export const CLOCK_SKEW_SECONDS = 120;

export type TokenCheck = { ok: true; claims: Record<string, unknown> } | { ok: false; reason: string };

function decodeSegment(segment: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Checks a compact JWS as Easy Auth checks an access token; never trusts anything before the signature. */
/** Each JWKS entry is turned into a key object once, not on every request. */
const publicKeys = new WeakMap<IssuerMetadata["jwks"]["keys"][number], KeyObject>();
function publicKeyOf(jwk: IssuerMetadata["jwks"]["keys"][number]): KeyObject {
  let key = publicKeys.get(jwk);
  if (!key) {
    key = createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e }, format: "jwk" });
    publicKeys.set(jwk, key);
  }
  return key;
}

export function checkAccessToken(token: string, metadata: IssuerMetadata, nowMs = Date.now()): TokenCheck {
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) return { ok: false, reason: "not a signed JWT" };
  const header = decodeSegment(parts[0]);
  if (!header) return { ok: false, reason: "unreadable header" };
  // Only RS256 by a key of the issuer's JWKS: "none", HMAC (a public key used as a secret) and others are refused.
  if (header.alg !== "RS256") return { ok: false, reason: `algorithm ${String(header.alg)} is not accepted` };
  const jwk = metadata.jwks.keys.find((key) => key.kid === header.kid);
  if (!jwk) return { ok: false, reason: "signed by an unknown key" };
  let signatureOk = false;
  try {
    const key = publicKeyOf(jwk);
    signatureOk = verify("RSA-SHA256", Buffer.from(`${parts[0]}.${parts[1]}`), key, Buffer.from(parts[2], "base64url"));
  } catch {
    signatureOk = false;
  }
  if (!signatureOk) return { ok: false, reason: "bad signature" };
  const claims = decodeSegment(parts[1]);
  if (!claims) return { ok: false, reason: "unreadable payload" };
  if (claims.iss !== metadata.issuer) return { ok: false, reason: "wrong issuer" };
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.some((aud) => typeof aud === "string" && metadata.audiences.includes(aud))) return { ok: false, reason: "wrong audience" };
  const now = nowMs / 1000;
  if (typeof claims.exp !== "number" || claims.exp <= now - CLOCK_SKEW_SECONDS) return { ok: false, reason: "expired" };
  if (claims.nbf !== undefined && (typeof claims.nbf !== "number" || claims.nbf > now + CLOCK_SKEW_SECONDS)) return { ok: false, reason: "not yet valid" };
  if (claims.tid !== undefined && claims.tid !== metadata.tenantId) return { ok: false, reason: "another tenant" };
  if (typeof claims.oid !== "string") return { ok: false, reason: "no oid claim" };
  return { ok: true, claims };
}

/** The token of `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  return match?.[1];
}

/** Claim names the platform rewrites to their long URI form in the principal. */
const LONG_CLAIM_TYPES: Record<string, string> = { oid: CLAIM_TYPES.objectId, tid: CLAIM_TYPES.tenantId };

/** The principal the platform builds from a validated token: one claim per value, strings only. */
export function principalFromClaims(claims: Record<string, unknown>): ClientPrincipal {
  const list: ClientPrincipal["claims"] = [];
  for (const [name, value] of Object.entries(claims)) {
    const typ = LONG_CLAIM_TYPES[name] ?? name;
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item === null || item === undefined || typeof item === "object") continue;
      list.push({ typ, val: String(item) });
    }
  }
  return { auth_typ: "aad", name_typ: CLAIM_TYPES.name, role_typ: CLAIM_TYPES.role, claims: list };
}

/** The request headers the platform adds for a signed-in caller. */
export function principalHeaders(claims: Record<string, unknown>): Record<string, string> {
  const name = [claims.preferred_username, claims.name, claims.azp].find((v): v is string => typeof v === "string") ?? "";
  return {
    "x-ms-client-principal": encodeClientPrincipal(principalFromClaims(claims)),
    "x-ms-client-principal-id": String(claims.oid),
    "x-ms-client-principal-name": name,
    "x-ms-client-principal-idp": "aad",
  };
}

/** Headers only the platform may set: X-MS-CLIENT-PRINCIPAL* and the token store's X-MS-TOKEN-*. */
export function isPlatformIdentityHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith("x-ms-client-principal") || lower.startsWith("x-ms-token-");
}

/** The WWW-Authenticate challenge of a 401, naming the issuer's authority as Easy Auth does. */
export function challenge(metadata: IssuerMetadata, error?: string): string {
  const authority = metadata.issuer.replace(/\/v2\.0$/, "");
  return `Bearer realm="${metadata.audiences[0]}" authorization_uri="${authority}/oauth2/v2.0/authorize"${error ? ` error="invalid_token"` : ""}`;
}
