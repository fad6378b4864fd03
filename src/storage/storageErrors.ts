/**
 * Storage SDK errors (RestError) carry the request, whose URL may hold a SAS. They are never
 * rethrown raw: callers wrap them in StorageOperationError, whose message is built from the
 * status, the service error code and the redacted first line of the service message only.
 */
import { redactSecrets } from "../domain/redact";

export class StorageOperationError extends Error {
  constructor(
    message: string,
    readonly statusCode: number | undefined,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "StorageOperationError";
  }
}

export function storageStatusCode(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

/** The service error code; HEAD responses have no body, so it may only be in the x-ms-error-code header. */
export function storageErrorCode(error: unknown): string | undefined {
  const candidate = error as { code?: unknown; details?: { errorCode?: unknown } } | null;
  if (typeof candidate?.code === "string" && candidate.code) return candidate.code;
  if (typeof candidate?.details?.errorCode === "string") return candidate.details.errorCode;
  return undefined;
}

/** Wraps any failure of `operation` (a short description with no URL) into a redacted error. */
export function toStorageOperationError(operation: string, error: unknown): StorageOperationError {
  if (error instanceof StorageOperationError) return error;
  const statusCode = storageStatusCode(error);
  const code = storageErrorCode(error);
  const rawMessage = error instanceof Error ? error.message : String(error);
  // The service appends RequestId/Time lines; keep the first line, which says what went wrong.
  const firstLine = redactSecrets(rawMessage.split(/\r?\n/, 1)[0] ?? "").slice(0, 300);
  const head = [statusCode, code].filter((part) => part !== undefined).join(" ");
  return new StorageOperationError(`${operation} failed${head ? ` (${head})` : ""}${firstLine ? `: ${firstLine}` : ""}`, statusCode, code);
}

/** Runs a storage call and rethrows any failure redacted. */
export async function withStorageErrors<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toStorageOperationError(operation, error);
  }
}
