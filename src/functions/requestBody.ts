/**
 * Reads a JSON request body with a size limit that holds before the body is read: a Content-Length
 * over the limit is refused unread, and a body without one (chunked) is read with a running count
 * that stops at limit + 1 bytes.
 */
import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import { invalidRequest } from "./validation/fieldProblems";

/** Every request body this app accepts is a small JSON object; 64 KiB is far above the largest valid one. */
export const MAX_REQUEST_BODY_BYTES = 64 * 1024;

export type BodyResult = { ok: true; value: unknown } | { ok: false; response: HttpResponseInit };

export function tooLarge(limit: number): HttpResponseInit {
  return {
    status: 413,
    jsonBody: { error: "request body too large", fields: [{ field: "body", reason: `must be at most ${limit} bytes` }] },
  };
}

export async function readJsonBody(request: HttpRequest, limit = MAX_REQUEST_BODY_BYTES): Promise<BodyResult> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    if (!/^\s*\d+\s*$/.test(declared)) return { ok: false, response: invalidRequest([{ field: "Content-Length", reason: "must be a number of bytes" }]) };
    if (Number(declared) > limit) return { ok: false, response: tooLarge(limit) };
  }
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
async function readAtMost(stream: ReadableStream<Uint8Array> | null, max: number): Promise<Buffer> {
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
