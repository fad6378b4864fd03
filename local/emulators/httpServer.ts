/**
 * The small HTTP(S) server every emulator runs on: binds 127.0.0.1 only, reads the whole request,
 * lets a handler answer with a status and a body, and records the exchange in the request log.
 * A server can also answer plain HTTP on the same port (the HDC server's control API): the first
 * byte of a connection tells TLS (0x16, a handshake record) from plain HTTP.
 */
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import { EmulatorClock } from "./clock";
import { toJson } from "./json";
import { EmulatorService, RequestLog } from "./requestLog";

export interface EmulatorRequest {
  method: string;
  /** Decoded path without query. */
  path: string;
  query: URLSearchParams;
  rawQuery: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface EmulatorResponse {
  status: number;
  /** Request-log kind, e.g. "token", "getSubmission". */
  kind: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Skip the request log (control API traffic). */
  unlogged?: boolean;
}

export type EmulatorHandler = (request: EmulatorRequest) => Promise<EmulatorResponse>;

export function jsonResponse(status: number, kind: string, value: unknown, headers: Record<string, string> = {}): EmulatorResponse {
  return { status, kind, body: toJson(value), headers: { "content-type": "application/json; charset=utf-8", ...headers } };
}

export interface EmulatorServerOptions {
  service: EmulatorService;
  tls: { certPem: string; keyPem: string };
  port?: number;
  handler: EmulatorHandler;
  /** Answers plain-HTTP connections on the same port; without it only TLS is served. */
  plainHandler?: EmulatorHandler;
  log: RequestLog;
  clock: EmulatorClock;
}

export interface EmulatorServer {
  port: number;
  close(): Promise<void>;
}

function readBody(request: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

function listener(options: EmulatorServerOptions, handler: EmulatorHandler): http.RequestListener {
  return (incoming, outgoing) => {
    void (async () => {
      const url = new URL(incoming.url ?? "/", "http://127.0.0.1");
      const method = incoming.method ?? "GET";
      let response: EmulatorResponse;
      try {
        const request: EmulatorRequest = {
          method,
          path: decodeURIComponent(url.pathname),
          query: url.searchParams,
          rawQuery: url.search.replace(/^\?/, ""),
          headers: incoming.headers,
          body: await readBody(incoming),
        };
        response = await handler(request);
      } catch (error) {
        response = jsonResponse(500, "emulatorError", { error: { code: "internalServerError", message: (error as Error).message } });
      }
      if (!response.unlogged) {
        options.log.record({
          at: options.clock.iso(),
          service: options.service,
          method,
          path: url.pathname,
          status: response.status,
          kind: response.kind,
          query: url.search.replace(/^\?/, ""),
        });
      }
      if (outgoing.destroyed) return;
      const body = response.body ?? "";
      outgoing.writeHead(response.status, { ...response.headers, "content-length": String(Buffer.byteLength(body)) });
      outgoing.end(body);
    })();
  };
}

export async function startEmulatorServer(options: EmulatorServerOptions): Promise<EmulatorServer> {
  const tlsServer = https.createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, listener(options, options.handler));
  const plainServer = options.plainHandler ? http.createServer(listener(options, options.plainHandler)) : undefined;
  const sockets = new Set<net.Socket>();
  const front = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.once("data", (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      const target = first[0] === 0x16 || !plainServer ? tlsServer : plainServer;
      target.emit("connection", socket);
      process.nextTick(() => socket.resume());
    });
  });
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (front.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        tlsServer.close();
        plainServer?.close();
        front.close(() => resolve());
      }),
  };
}
