/**
 * Pipeline policies for the Hardware Dev Center client, outermost first:
 * retry (429 / 5xx / timeouts) → bearer token (re-acquire once on 401) → request ids.
 * Retry sits outside auth so a token that expired during a long backoff is renewed.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { isRestError, type PipelinePolicy, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { redactSecrets } from "../shared/redact";
import { isRetryableStatus } from "./errors";

type Log = (line: string) => void;

// ------------------------------------------------------------------------------------------
// Request ids

/** MS-CorrelationId ties all calls of one client together; MS-RequestId is new for every attempt. */
export function requestIdPolicy(correlationId: string): PipelinePolicy {
  return {
    name: "hdcRequestIdPolicy",
    sendRequest(request, next) {
      request.headers.set("MS-CorrelationId", correlationId);
      request.headers.set("MS-RequestId", randomUUID());
      if (!request.headers.has("Accept")) request.headers.set("Accept", "application/json");
      return next(request);
    },
  };
}

// ------------------------------------------------------------------------------------------
// Bearer token

/** Thrown when the credential cannot produce a token; the client turns it into an HdcError. */
export class TokenAcquisitionError extends Error {
  constructor(readonly cause: unknown) {
    super(`could not acquire a token: ${redactSecrets(cause instanceof Error ? cause.message : String(cause))}`);
    this.name = "TokenAcquisitionError";
  }
}

/** Renew this long before expiry so a token does not lapse between check and use. */
const REFRESH_MARGIN_MS = 2 * 60 * 1000;

/**
 * Our own token cache, so that a 401 can really drop the token: a token can be revoked or
 * expire before its stated time, and then only asking the credential again helps.
 */
class TokenCache {
  private token?: AccessToken;
  private pending?: Promise<AccessToken>;

  constructor(
    private readonly credential: TokenCredential,
    private readonly scope: string,
  ) {}

  async get(): Promise<AccessToken> {
    if (this.token && this.token.expiresOnTimestamp - Date.now() > REFRESH_MARGIN_MS) return this.token;
    // Concurrent requests share one acquisition.
    this.pending ??= this.acquire().finally(() => (this.pending = undefined));
    return this.pending;
  }

  /**
   * After a 401: a token the credential issues anew (unless a newer one already replaced the
   * rejected one). Claims make MSAL skip its cache, which would otherwise hand back the revoked
   * token until it expires.
   */
  async renew(rejected: AccessToken, claims: string): Promise<AccessToken> {
    if (this.token && this.token.token !== rejected.token) return this.token;
    this.token = undefined;
    this.pending ??= this.acquire(claims).finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async acquire(claims?: string): Promise<AccessToken> {
    let token: AccessToken | null;
    try {
      token = await this.credential.getToken(this.scope, claims ? { claims } : undefined);
    } catch (error) {
      throw new TokenAcquisitionError(error);
    }
    if (!token) throw new TokenAcquisitionError(new Error("the credential returned no token"));
    this.token = token;
    return token;
  }
}

/**
 * The claims to ask for after a 401: the service's own challenge (WWW-Authenticate claims="<base64>")
 * when it sent one, else "issued no earlier than now", which any fresh token satisfies.
 */
export function claimsAfterRejection(wwwAuthenticate: string | undefined, now = Date.now()): string {
  const challenged = /claims="([^"]+)"/i.exec(wwwAuthenticate ?? "")?.[1];
  if (challenged) {
    const decoded = Buffer.from(challenged, "base64").toString("utf8");
    if (decoded.trim().startsWith("{")) return decoded;
  }
  return JSON.stringify({ access_token: { nbf: { essential: true, value: String(Math.floor(now / 1000)) } } });
}

export function bearerTokenPolicy(options: { credential: TokenCredential; scope: string; log?: Log }): PipelinePolicy {
  const cache = new TokenCache(options.credential, options.scope);
  return {
    name: "hdcBearerTokenPolicy",
    async sendRequest(request, next) {
      const token = await cache.get();
      request.headers.set("Authorization", `Bearer ${token.token}`);
      const response = await next(request);
      if (response.status !== 401) return response;

      // One more try with a token the credential hands out anew; a second 401 is final.
      const fresh = await cache.renew(token, claimsAfterRejection(response.headers.get("WWW-Authenticate")));
      options.log?.(`HDC ${request.method} answered 401; retrying once with a newly acquired token`);
      request.headers.set("Authorization", `Bearer ${fresh.token}`);
      return next(request);
    },
  };
}

// ------------------------------------------------------------------------------------------
// Retry

/** Thrown when the transport kept failing (timeout, connection error) through every retry. */
export class HdcTransportError extends Error {
  constructor(
    readonly cause: unknown,
    readonly attempts: number,
    readonly isTimeout: boolean,
  ) {
    super(describeTransportFailure(cause, isTimeout));
    this.name = "HdcTransportError";
  }
}

export interface RetryOptions {
  maxRetries: number;
  /** Base of the exponential backoff. */
  retryDelayMs: number;
  /** Cap of every single wait, including a server's Retry-After. */
  maxRetryDelayMs: number;
  /**
   * Requests that must not be repeated after an ambiguous failure (creating a product or a
   * submission: a 5xx or a timeout may come after the service already created it). These are
   * retried only when the service certainly did not act: 429, or a refused connection.
   */
  isCreateRequest?: (request: PipelineRequest) => boolean;
  log?: Log;
}

export function retryPolicy(options: RetryOptions): PipelinePolicy {
  return {
    name: "hdcRetryPolicy",
    async sendRequest(request, next) {
      for (let attempt = 0; ; attempt++) {
        let response: PipelineResponse | undefined;
        let failure: unknown;
        try {
          response = await next(request);
        } catch (error) {
          if (!isTransientTransportError(error)) throw error;
          failure = error;
        }
        if (response && !isRetryableStatus(response.status)) return response;

        const mayRepeat = !options.isCreateRequest?.(request) || certainlyNotProcessed(response, failure);
        if (attempt >= options.maxRetries || !mayRepeat) {
          if (response) return response;
          throw new HdcTransportError(failure, attempt + 1, isTimeoutError(failure));
        }
        const delayMs = response ? delayForResponse(response, attempt, options) : backoffDelay(attempt, options);
        const reason = response ? `${response.status}` : isTimeoutError(failure) ? "timeout" : transportCode(failure);
        options.log?.(
          `HDC ${request.method} ${pathOf(request)} got ${reason}; retry ${attempt + 1}/${options.maxRetries} in ${delayMs} ms`,
        );
        await sleep(delayMs);
      }
    },
  };
}

function certainlyNotProcessed(response: PipelineResponse | undefined, failure: unknown): boolean {
  if (response) return response.status === 429;
  return isRestError(failure) && failure.code === "ECONNREFUSED";
}

/** Honours Retry-After (seconds or HTTP-date) when the server sends it, else exponential backoff. */
export function delayForResponse(response: PipelineResponse, attempt: number, options: RetryOptions): number {
  const retryAfterMs = parseRetryAfter(response.headers.get("Retry-After"));
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, options.maxRetryDelayMs);
  return backoffDelay(attempt, options);
}

/** Exponential backoff with "equal jitter": half fixed, half random, never above the cap. */
export function backoffDelay(attempt: number, options: Pick<RetryOptions, "retryDelayMs" | "maxRetryDelayMs">): number {
  const ceiling = Math.min(options.maxRetryDelayMs, options.retryDelayMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** The Node HTTP client reports a request.timeout expiry as an AbortError (we pass no abort signal). */
function isTimeoutError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "AbortError") return true;
  const code = isRestError(error) ? error.code : undefined;
  return code === "ETIMEDOUT" || code === "ESOCKETTIMEDOUT";
}

function isTransientTransportError(error: unknown): boolean {
  if (isTimeoutError(error)) return true;
  // Connection refused/reset, DNS hiccups, sockets closed mid-response: RestErrors with a code.
  return isRestError(error) && error.statusCode === undefined && typeof error.code === "string";
}

function transportCode(error: unknown): string {
  return isRestError(error) && error.code ? error.code : "network error";
}

function describeTransportFailure(error: unknown, isTimeout: boolean): string {
  if (isTimeout) return "timed out";
  const message = error instanceof Error ? error.message : String(error);
  return redactSecrets(`${transportCode(error)}: ${message}`);
}

function pathOf(request: PipelineRequest): string {
  try {
    return new URL(request.url).pathname;
  } catch {
    return "(unparseable url)";
  }
}
