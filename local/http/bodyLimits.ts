/**
 * Request bodies on the local front, bounded as the Functions host bounds them: no route reads more
 * than the host's 100 MB (HOST_MAX_REQUEST_BODY_BYTES; a larger Content-Length is refused unread
 * with an empty 413, as Kestrel does), the runtime's own webhooks read at most their limit from
 * src/domain/requestLimits.ts, and the app's triggers get the body as a stream they pull from
 * (HTTP streaming), so nothing is buffered for them.
 */
import type * as http from "node:http";
import { HOST_MAX_REQUEST_BODY_BYTES } from "../../src/domain/requestLimits";

/** The declared Content-Length, or undefined without one (chunked) or when it is not a number. */
export function declaredLength(req: http.IncomingMessage): number | undefined {
  const value = req.headers["content-length"];
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value) : undefined;
}

/** The host's answer to a body over its limit: 413 with an empty body. */
export function sendHostTooLarge(res: http.ServerResponse): void {
  res.writeHead(413, { "content-length": 0 });
  res.end();
}

/** A webhook's answer to a body over its own limit, naming it. */
export function sendTooLarge(res: http.ServerResponse, limit: number): void {
  const text = JSON.stringify({ error: "request body too large", fields: [{ field: "body", reason: `must be at most ${limit} bytes` }] });
  res.writeHead(413, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Once the response is out, whatever the client still sends is read and dropped (never kept), and
 * the connection is cut when that passes the host's limit: a refused 200 MB upload costs no memory
 * and cannot hold the connection forever.
 */
export function discardUnreadBodyAfterResponse(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.once("finish", () => {
    if (req.complete || req.destroyed) return;
    let dropped = 0;
    req.removeAllListeners("data");
    req.on("data", (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > HOST_MAX_REQUEST_BODY_BYTES) req.socket.destroy();
    });
    req.on("error", () => undefined);
    req.resume();
  });
}

/**
 * Reads the body whole when it is at most `limit` bytes; stops reading as soon as it is not
 * (a declared Content-Length over the limit is refused before any byte is read).
 */
export function readBodyAtMost(req: http.IncomingMessage, limit: number): Promise<{ ok: true; body: Buffer } | { ok: false }> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limit) return Promise.resolve({ ok: false });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        cleanup();
        req.pause();
        resolve({ ok: false });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve({ ok: true, body: Buffer.concat(chunks) });
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}

export class HostLimitExceeded extends Error {
  constructor() {
    super(`The request body is larger than the host's limit of ${HOST_MAX_REQUEST_BODY_BYTES} bytes`);
  }
}

/**
 * The body as a web stream the app pulls from (what @azure/functions hands a trigger with HTTP
 * streaming on): the socket is read only as fast as the app reads, at most a 64 KiB queue ahead,
 * and the stream fails with HostLimitExceeded once the count passes the host's limit. Cancelling
 * it (an app that stops at its own limit) pauses the socket without closing it, so the app's
 * answer can still be sent.
 */
export function pulledBody(req: http.IncomingMessage, limit = HOST_MAX_REQUEST_BODY_BYTES): { stream: ReadableStream<Uint8Array>; exceeded: () => boolean } {
  let total = 0;
  let exceeded = false;
  let finished = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        req.pause();
        req.on("data", (chunk: Buffer) => {
          if (finished) return;
          total += chunk.length;
          if (total > limit) {
            exceeded = true;
            finished = true;
            req.pause();
            controller.error(new HostLimitExceeded());
            return;
          }
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        });
        req.once("end", () => {
          if (finished) return;
          finished = true;
          controller.close();
        });
        req.once("error", (error) => {
          if (finished) return;
          finished = true;
          controller.error(error);
        });
      },
      pull() {
        if (!finished) req.resume();
      },
      cancel() {
        finished = true;
        req.pause();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
  );
  return { stream, exceeded: () => exceeded };
}
