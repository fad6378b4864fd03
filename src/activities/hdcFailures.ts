/**
 * How activities read Hardware Dev Center failures: which ones retrying cannot fix (turned into
 * TerminalActivityError), and which "invalid state" answers mean an earlier attempt already did
 * the work. HdcError messages are already redacted by the client.
 */
import { isHdcError, type HdcApi, type HdcSubmission } from "../hdc";
import { TerminalActivityError } from "./errors";

/** 4xx answers that mean the request itself is wrong or not allowed (a.8); 429 is not among them. */
const PERMANENT_STATUS_CODES: ReadonlySet<number> = new Set([400, 401, 403, 404, 409, 415, 422]);

export function hdcStatusCode(error: unknown): number | undefined {
  return isHdcError(error) ? error.statusCode : undefined;
}

/** requestInvalidForCurrentState (any casing) whose message contains `fragment` (case-insensitive). */
export function isInvalidStateError(error: unknown, fragment: string): boolean {
  if (!isHdcError(error) || error.code?.toLowerCase() !== "requestinvalidforcurrentstate") return false;
  return `${error.serviceMessage ?? ""} ${error.message}`.toLowerCase().includes(fragment.toLowerCase());
}

/** A gateway failure or timeout: the request may or may not have taken effect. */
export function isOutcomeUnknown(error: unknown): boolean {
  if (!isHdcError(error)) return false;
  const status = error.statusCode;
  return error.isTimeout || status === 500 || status === 502 || status === 503 || status === 504 || (status === undefined && error.retryable);
}

function isPermanent(error: unknown): boolean {
  if (!isHdcError(error)) return false;
  if (error.statusCode !== undefined) return PERMANENT_STATUS_CODES.has(error.statusCode);
  return error.code === "tokenAcquisitionFailed" && !error.retryable;
}

/** "target: message; ..." of an HDC validation failure, or the service message. */
export function validationSummary(error: unknown): string {
  if (!isHdcError(error)) return error instanceof Error ? error.message : String(error);
  const details = error.validationErrors.map((v) => [v.target, v.message].filter(Boolean).join(": ")).filter(Boolean);
  return details.length > 0 ? details.join("; ") : error.message;
}

/** Rethrows an HDC failure: as TerminalActivityError when retrying cannot help, unchanged otherwise. */
export function rethrowHdcFailure(error: unknown, action: string): never {
  if (isPermanent(error)) {
    const status = hdcStatusCode(error);
    const what = status === 400 || status === 422 ? `rejected: ${validationSummary(error)}` : `failed: ${(error as Error).message}`;
    throw new TerminalActivityError(`${action} ${what}`);
  }
  throw error;
}

/** GET of one submission, with failures classified as above. Its download URLs are secrets. */
export async function readSubmission(hdc: HdcApi, productId: string, submissionId: string): Promise<HdcSubmission> {
  try {
    return await hdc.getSubmission(productId, submissionId);
  } catch (error) {
    rethrowHdcFailure(error, `Reading submission ${submissionId} of product ${productId}`);
  }
}
