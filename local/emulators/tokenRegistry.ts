/**
 * Access tokens the Entra emulator issued, so the Hardware Dev Center and Key Vault emulators can
 * validate bearer tokens the way the real services do: unknown, expired (emulator clock) or revoked
 * tokens are rejected, and a token is only good for the resource it was issued for.
 */
import * as crypto from "node:crypto";
import { EmulatorClock } from "./clock";

export interface IssuedToken {
  /** e.g. "https://manage.devcenter.microsoft.com/.default" */
  scope: string;
  tenantId: string;
  clientId: string;
  /** Expiry on the emulator clock and in real time; which one counts is TokenExpiryClock. */
  expiresAtMs: number;
  expiresAtRealMs: number;
}

/**
 * "real": a token expires after its lifetime in real time, like the SDK's token cache assumes,
 * so pushing the emulator clock (virtual time) does not strand cached tokens.
 * "emulator": it expires on the emulator clock (pushing the clock past the lifetime expires it).
 */
export type TokenExpiryClock = "real" | "emulator";

export type TokenCheck = { ok: true; token: IssuedToken } | { ok: false; reason: string };

const base64url = (value: object | Buffer) =>
  (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString("base64url");

/** The resource part of a scope: "https://vault.azure.net/.default" → "https://vault.azure.net". */
export function resourceOf(scope: string): string {
  return scope.replace(/\/\.default$/, "").replace(/\/+$/, "");
}

export class TokenRegistry {
  private tokens = new Map<string, IssuedToken>();
  /** Every access token ever issued (revoked ones included), for tests that scan for leaks. In-process only. */
  private issuedEver: string[] = [];

  constructor(
    private readonly clock: EmulatorClock,
    private readonly issuerBase: () => string,
    private readonly expiryClock: () => TokenExpiryClock = () => "real",
  ) {}

  /** A JWT-shaped, unsigned-in-practice token: opaque to clients, as real access tokens should be. */
  issue(scope: string, tenantId: string, clientId: string, lifetimeSeconds: number): { accessToken: string; token: IssuedToken } {
    const nowSeconds = Math.floor(this.clock.nowMs() / 1000);
    const header = { typ: "JWT", alg: "RS256", kid: "emulator" };
    const claims = {
      aud: resourceOf(scope),
      iss: `${this.issuerBase()}/${tenantId}/v2.0`,
      iat: nowSeconds,
      nbf: nowSeconds,
      exp: nowSeconds + lifetimeSeconds,
      appid: clientId,
      tid: tenantId,
      sub: clientId,
      jti: crypto.randomUUID(),
    };
    const accessToken = `${base64url(header)}.${base64url(claims)}.${base64url(crypto.randomBytes(64))}`;
    const token = {
      scope,
      tenantId,
      clientId,
      expiresAtMs: this.clock.nowMs() + lifetimeSeconds * 1000,
      expiresAtRealMs: Date.now() + lifetimeSeconds * 1000,
    };
    this.tokens.set(accessToken, token);
    this.issuedEver.push(accessToken);
    return { accessToken, token };
  }

  /** Checks an Authorization header value (or a bare token) for the given resource. */
  check(authorization: string | undefined, resource: string): TokenCheck {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? "");
    const accessToken = match ? match[1] : authorization?.trim();
    if (!accessToken) return { ok: false, reason: "missing bearer token" };
    const token = this.tokens.get(accessToken);
    if (!token) return { ok: false, reason: "unknown or revoked token" };
    const expired = this.expiryClock() === "emulator" ? token.expiresAtMs <= this.clock.nowMs() : token.expiresAtRealMs <= Date.now();
    if (expired) return { ok: false, reason: "token expired" };
    if (resourceOf(token.scope) !== resourceOf(resource)) return { ok: false, reason: `token is for ${resourceOf(token.scope)}` };
    return { ok: true, token };
  }

  /** Test-only: every access token issued so far (secrets: never log or serve them). */
  issuedAccessTokens(): string[] {
    return [...this.issuedEver];
  }

  revokeAll(): void {
    this.tokens.clear();
  }

  get size(): number {
    return this.tokens.size;
  }
}
