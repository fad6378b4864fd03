/**
 * The one error type the Hardware Dev Center client throws. It carries what a caller needs to
 * decide (status, service error code, retryable) and what a support ticket needs (request and
 * correlation ids). Every text field has been through redactSecrets: the service sometimes
 * echoes SAS URLs back in error bodies.
 */
import type { PipelineResponse } from "@azure/core-rest-pipeline";
import { redactSecrets } from "../domain/redact";
import { parseHdcJson } from "./losslessJson";
import type { HdcValidationError } from "./types";

/** 429 is throttling; 5xx are the service's transient faults (a.8). 400/403/404/409/415/422 never are. */
const RETRYABLE_STATUS_CODES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);
const MAX_BODY_CHARS = 500;

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS_CODES.has(status);
}

export interface HdcErrorDetails {
  method: string;
  /** API path without query string, e.g. /hardware/products/123. */
  path: string;
  statusCode?: number;
  code?: string;
  serviceMessage?: string;
  validationErrors?: HdcValidationError[];
  requestId?: string;
  correlationId?: string;
  retryable: boolean;
  isTimeout?: boolean;
  /** Replaces the "<status> <code>: <message>" part of the message (used for transport failures). */
  summary?: string;
}

export class HdcError extends Error {
  readonly method: string;
  readonly path: string;
  readonly statusCode?: number;
  /** Service error code as sent (camelCase usually, e.g. requestInvalidForCurrentState). */
  readonly code?: string;
  /** The service's own message (redacted), without our prefix. */
  readonly serviceMessage?: string;
  readonly validationErrors: HdcValidationError[];
  readonly requestId?: string;
  readonly correlationId?: string;
  readonly retryable: boolean;
  readonly isTimeout: boolean;

  constructor(details: HdcErrorDetails) {
    const validationErrors = (details.validationErrors ?? []).map((v) => ({
      ...(v.target !== undefined ? { target: redactSecrets(v.target) } : {}),
      ...(v.message !== undefined ? { message: redactSecrets(v.message) } : {}),
    }));
    const serviceMessage = details.serviceMessage === undefined ? undefined : redactSecrets(details.serviceMessage);
    super(redactSecrets(composeMessage(details, serviceMessage, validationErrors)));
    this.name = "HdcError";
    this.method = details.method;
    this.path = details.path;
    this.statusCode = details.statusCode;
    this.code = details.code;
    this.serviceMessage = serviceMessage;
    this.validationErrors = validationErrors;
    this.requestId = details.requestId;
    this.correlationId = details.correlationId;
    this.retryable = details.retryable;
    this.isTimeout = details.isTimeout ?? false;
  }
}

export function isHdcError(error: unknown): error is HdcError {
  return error instanceof HdcError;
}

function composeMessage(details: HdcErrorDetails, serviceMessage: string | undefined, validationErrors: HdcValidationError[]): string {
  let summary = details.summary;
  if (summary === undefined) {
    const head = [details.statusCode, details.code].filter((part) => part !== undefined && part !== "").join(" ");
    summary = serviceMessage ? `${head}: ${serviceMessage}` : head;
  }
  const validation = validationErrors
    .map((v) => [v.target, v.message].filter(Boolean).join(": "))
    .filter(Boolean)
    .join("; ");
  return `HDC ${details.method} ${details.path} failed: ${summary}${validation ? `; ${validation}` : ""}`;
}

export interface RequestContext {
  method: string;
  path: string;
  /** The ids we sent, used when the response does not echo its own. */
  requestId?: string;
  correlationId?: string;
}

/** Builds the error for a response whose status is not a success for the operation. */
export function hdcErrorFromResponse(response: PipelineResponse, context: RequestContext): HdcError {
  const body = readErrorBody(response.bodyAsText ?? "");
  return new HdcError({
    method: context.method,
    path: context.path,
    statusCode: response.status,
    code: body.code,
    serviceMessage: body.message,
    validationErrors: body.validationErrors,
    requestId: response.headers.get("MS-RequestId") ?? response.headers.get("x-ms-request-id") ?? context.requestId,
    correlationId: response.headers.get("MS-CorrelationId") ?? context.correlationId,
    retryable: isRetryableStatus(response.status),
  });
}

interface ErrorBody {
  code?: string;
  message?: string;
  validationErrors: HdcValidationError[];
}

/** Reads `{ error: { code, message, validationErrors } }`, a top-level code/message, or plain text. */
function readErrorBody(text: string): ErrorBody {
  const excerpt = text.trim().slice(0, MAX_BODY_CHARS) || undefined;
  let parsed: unknown;
  try {
    parsed = parseHdcJson(text);
  } catch {
    return { message: excerpt, validationErrors: [] };
  }
  if (!isRecord(parsed)) return { message: excerpt, validationErrors: [] };
  const inner = isRecord(parsed.error) ? parsed.error : parsed;
  const code = asString(inner.code) ?? asString(parsed.code);
  const message = asString(inner.message) ?? asString(parsed.message) ?? (code ? undefined : excerpt);
  const validationErrors = Array.isArray(inner.validationErrors)
    ? inner.validationErrors.filter(isRecord).map((v) => ({ target: asString(v.target), message: asString(v.message) }))
    : [];
  return { code, message: message?.slice(0, MAX_BODY_CHARS), validationErrors };
}

/** A JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asString(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}
