/**
 * What the Hardware Dev Center client adds to the library's default pipeline
 * (createPipelineFromOptions: proxy, user agent, logging, tracing, redirects, and the
 * throttling + exponential retry policies with our bounds; bearerTokenAuthenticationPolicy for
 * the token with its refresh-before-expiry). Ours, per attempt, inside the retry policy:
 *   - MS-CorrelationId / a new MS-RequestId on every attempt;
 *   - a per-attempt timeout reported as ETIMEDOUT, so the library's retry treats it like any
 *     other transient transport failure (it would otherwise rethrow the AbortError at once);
 *   - a create POST (product, submission) is never re-sent after an unknown outcome (5xx,
 *     timeout, dropped connection): CreateOutcomeUnknownError stops the retry;
 *   - Retry-After is capped at our longest wait, and a 429 without one gets our backoff;
 *   - a 401 without a challenge is handed to the bearer policy as a bare challenge, whose
 *     handler asks for a token with claims (so MSAL does not return the rejected cached token).
 */
import { randomUUID } from "node:crypto";
import {
  isRestError,
  RestError,
  type AuthorizeRequestOnChallengeOptions,
  type AuthorizeRequestOptions,
  type ChallengeCallbacks,
  type PipelinePolicy,
  type PipelineRequest,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import { redactSecrets } from "../domain/redact";

type Log = (line: string) => void;

// ------------------------------------------------------------------------------------------
// Bearer token

/** Thrown when the credential cannot produce a token; the client turns it into an HdcError. */
export class TokenAcquisitionError extends Error {
  constructor(readonly cause: unknown) {
    super(`could not acquire a token: ${redactSecrets(cause instanceof Error ? cause.message : String(cause))}`);
    this.name = "TokenAcquisitionError";
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

/**
 * Callbacks for bearerTokenAuthenticationPolicy: credential failures become TokenAcquisitionError
 * (not retried by the pipeline), and a 401 gets one more try with a token issued anew (claims make
 * the library's token cycler and MSAL skip their caches). A second 401 is returned as is.
 */
export function hdcChallengeCallbacks(log?: Log): ChallengeCallbacks {
  const authorize = async (options: AuthorizeRequestOptions, claims?: string): Promise<void> => {
    let token;
    try {
      token = await options.getAccessToken(options.scopes, { abortSignal: options.request.abortSignal, ...(claims ? { claims } : {}) });
    } catch (error) {
      throw new TokenAcquisitionError(error);
    }
    if (!token) throw new TokenAcquisitionError(new Error("the credential returned no token"));
    options.request.headers.set("Authorization", `Bearer ${token.token}`);
  };
  return {
    authorizeRequest: (options) => authorize(options),
    async authorizeRequestOnChallenge(options: AuthorizeRequestOnChallengeOptions): Promise<boolean> {
      log?.(`HDC ${options.request.method} answered 401; retrying once with a newly acquired token`);
      await authorize(options, claimsAfterRejection(options.response.headers.get("WWW-Authenticate")));
      return true;
    },
  };
}

// ------------------------------------------------------------------------------------------
// Per attempt

/** A create POST whose outcome is unknown: not re-sent (the product may exist). Not a RestError, so no retry. */
export class CreateOutcomeUnknownError extends Error {
  constructor(
    readonly response: PipelineResponse | undefined,
    readonly cause: unknown,
  ) {
    super(response ? `answered ${response.status}` : describeTransportFailure(cause));
    this.name = "CreateOutcomeUnknownError";
  }
}

export interface AttemptOptions {
  correlationId: string;
  maxRetries: number;
  retryDelayMs: number;
  /** Cap of every single wait, including a server's Retry-After. */
  maxRetryDelayMs: number;
  /** Requests that must not be repeated after an ambiguous failure (creating a product or a submission). */
  isCreateRequest: (request: PipelineRequest) => boolean;
  log?: Log;
}

/** The per-request attempt counter the attempt policy keeps; read by the client for its messages. */
export type AttemptCounter = WeakMap<PipelineRequest, number>;

export const TIMEOUT_CODE = "ETIMEDOUT";

export function attemptPolicy(options: AttemptOptions, attempts: AttemptCounter): PipelinePolicy {
  return {
    name: "hdcAttemptPolicy",
    async sendRequest(request, next) {
      const attempt = (attempts.get(request) ?? 0) + 1;
      attempts.set(request, attempt);
      request.headers.set("MS-CorrelationId", options.correlationId);
      request.headers.set("MS-RequestId", randomUUID());
      if (!request.headers.has("Accept")) request.headers.set("Accept", "application/json");

      let response: PipelineResponse;
      try {
        response = await next(request);
      } catch (error) {
        const failure = asTimeout(error, request);
        if (options.isCreateRequest(request) && !certainlyNotSent(failure)) throw new CreateOutcomeUnknownError(undefined, failure);
        if (isRestError(failure) && failure.code && attempt <= options.maxRetries) {
          const reason = failure.code === TIMEOUT_CODE ? "timeout" : failure.code;
          options.log?.(`HDC ${request.method} ${pathOf(request)} got ${reason}; retry ${attempt}/${options.maxRetries}`);
        }
        throw failure;
      }

      const status = response.status;
      if (options.isCreateRequest(request) && (status === 408 || status >= 500)) throw new CreateOutcomeUnknownError(response, undefined);
      if (status === 401 && !response.headers.has("WWW-Authenticate")) response.headers.set("WWW-Authenticate", "Bearer");
      if (status === 429 || status === 503) boundRetryAfter(response, attempt, options);
      if ((status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505)) && attempt <= options.maxRetries) {
        options.log?.(`HDC ${request.method} ${pathOf(request)} got ${status}; retry ${attempt}/${options.maxRetries}`);
      }
      return response;
    },
  };
}

/**
 * The library's throttling policy reads retry-after-ms before Retry-After: set it to the server's
 * wait capped at maxRetryDelayMs, or (429 without one) to our backoff, so throttling is always
 * retried and never waits longer than our bound.
 */
function boundRetryAfter(response: PipelineResponse, attempt: number, options: AttemptOptions): void {
  const asked = parseRetryAfter(response.headers.get("Retry-After"));
  if (asked === undefined && response.status !== 429) return; // a 503 without one: exponential backoff
  const waitMs = asked === undefined ? backoffDelay(attempt - 1, options) : Math.min(asked, options.maxRetryDelayMs);
  response.headers.set("retry-after-ms", String(waitMs));
}

/** The Node HTTP client reports its per-request timeout as an AbortError; a caller's abort stays one. */
function asTimeout(error: unknown, request: PipelineRequest): unknown {
  if (error instanceof Error && error.name === "AbortError" && !request.abortSignal?.aborted) {
    return new RestError("timed out", { code: TIMEOUT_CODE, request });
  }
  return error;
}

/** Only a refused connection proves a request never reached the service. */
function certainlyNotSent(error: unknown): boolean {
  if (error instanceof TokenAcquisitionError) return true;
  return isRestError(error) && error.code === "ECONNREFUSED";
}

/** Exponential backoff with "equal jitter": half fixed, half random, never above the cap. */
export function backoffDelay(attempt: number, options: { retryDelayMs: number; maxRetryDelayMs: number }): number {
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

export function describeTransportFailure(error: unknown): string {
  if (isRestError(error) && error.code === TIMEOUT_CODE) return "timed out";
  const code = isRestError(error) && error.code ? error.code : "network error";
  const message = error instanceof Error ? error.message : String(error);
  return redactSecrets(`${code}: ${message}`);
}

function pathOf(request: PipelineRequest): string {
  try {
    return new URL(request.url).pathname;
  } catch {
    return "(unparseable url)";
  }
}
