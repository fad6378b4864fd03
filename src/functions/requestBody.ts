/**
 * Request bodies, bounded before they are read: each HTTP function is registered through
 * `bodyLimited`, which refuses a Content-Length over the function's limit (domain/requestLimits.ts)
 * unread, and a JSON body without one (chunked) is read with a running count that stops at
 * limit + 1 bytes. With HTTP streaming on (index.ts), nothing past that is ever pulled from the host.
 */
import type { HttpHandler, HttpRequest, HttpResponseInit } from "@azure/functions";
import { HTTP_BODY_LIMITS, JSON_BODY_MAX_BYTES, type HttpFunctionName } from "../domain/requestLimits";
import type { Action } from "../domain/authorization";
import { callerGated } from "./callerGate";
import { invalidRequest } from "./validation/fieldProblems";

/** Every JSON body this app accepts is small; 64 KiB is far above the largest valid one. */
export const MAX_REQUEST_BODY_BYTES = JSON_BODY_MAX_BYTES;

export type BodyResult = { ok: true; value: unknown } | { ok: false; response: HttpResponseInit };

export function tooLarge(limit: number): HttpResponseInit {
  return {
    status: 413,
    jsonBody: { error: "request body too large", fields: [{ field: "body", reason: `must be at most ${limit} bytes` }] },
  };
}

/** The limit of an HTTP function, from the one table. */
export function bodyLimitOf(name: HttpFunctionName): number {
  return HTTP_BODY_LIMITS[name].bytes;
}

/** The refusal of a declared Content-Length that is not a number or is over `limit`; undefined when it may be read. */
function declaredLengthProblem(request: HttpRequest, limit: number): HttpResponseInit | undefined {
  const declared = request.headers.get("content-length");
  if (declared === null) return undefined;
  if (!/^\s*\d+\s*$/.test(declared)) return invalidRequest([{ field: "Content-Length", reason: "must be a number of bytes" }]);
  return Number(declared) > limit ? tooLarge(limit) : undefined;
}

/**
 * Wraps an HTTP handler with the caller gate (callerGate.ts: whether the caller may do `action`,
 * checked before anything else) and its function's body limit: an over-limit Content-Length is refused
 * before the handler runs; a function that reads no JSON (limit below the JSON limit) has its body
 * counted here, so a chunked body is refused once it passes the limit too.
 */
export function bodyLimited(name: HttpFunctionName, action: Action, handler: HttpHandler): HttpHandler {
  const limit = bodyLimitOf(name);
  return callerGated(action, async (request, context) => {
    const declared = declaredLengthProblem(request, limit);
    if (declared) return declared;
    if (limit < JSON_BODY_MAX_BYTES) {
      const bytes = await readAtMost(request.body, limit + 1);
      if (bytes.length > limit) return tooLarge(limit);
    }
    return handler(request, context);
  });
}

export async function readJsonBody(request: HttpRequest, limit = MAX_REQUEST_BODY_BYTES): Promise<BodyResult> {
  const declared = declaredLengthProblem(request, limit);
  if (declared) return { ok: false, response: declared };
  const bytes = await readAtMost(request.body, limit + 1);
  if (bytes.length > limit) return { ok: false, response: tooLarge(limit) };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, response: invalidRequest([{ field: "body", reason: "must be UTF-8 encoded JSON" }]) };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, response: invalidRequest([{ field: "body", reason: "must be a JSON object" }]) };
  }
}

/** Up to `max` bytes of the stream; stops reading (and cancels the stream) once `max` is reached. */
export async function readAtMost(stream: ReadableStream<Uint8Array> | null, max: number): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const reader = stream.getReader();
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    while (total < max) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      const room = max - total;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      total += Math.min(chunk.length, room);
    }
  } finally {
    if (total >= max) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  return Buffer.concat(chunks);
}
