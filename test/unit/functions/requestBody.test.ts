/**
 * Body limits of the app's HTTP functions (issue 27), through the real registrations: the whole app
 * is loaded with the functions-core stand-in and each registered HTTP function is invoked with its
 * body as a stream that counts what is pulled. Every HTTP function has its entry in the one table
 * (domain/requestLimits.ts) and refuses a Content-Length over it without pulling a byte, and a
 * chunked body once it passes the limit. Plus the local front's readers (local/http/bodyLimits.ts).
 */
jest.mock("@azure/functions-core", () => jest.requireActual("../../../local/functionsHost/coreStandIn"), { virtual: true });

import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { AppHost } from "../../../local/runtime/appHost";
import { pulledBody, readBodyAtMost } from "../../../local/http/bodyLimits";
import { HTTP_BODY_LIMITS, JSON_BODY_MAX_BYTES, type HttpFunctionName } from "../../../src/domain/requestLimits";
import { startAuditStorage, type AuditStorage } from "../audit/storageEnv";

/** A body of `size` bytes that records how many bytes the handler pulled. */
function countingBody(size: number, chunk = 16 * 1024): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= size) return controller.close();
      const n = Math.min(chunk, size - pulled);
      pulled += n;
      controller.enqueue(new Uint8Array(n).fill(0x61));
    },
  }, { highWaterMark: 0 });
  return { stream, pulled: () => pulled };
}

describe("every HTTP function of the app is bounded by its entry in the limits table", () => {
  let app: AppHost;
  // Every state-changing request is recorded in the audit trail (issue 33), refusals included: real storage.
  let audit: AuditStorage;
  beforeAll(async () => {
    audit = await startAuditStorage();
    app = AppHost.load(path.resolve(__dirname, "../../../src/index"), { durableClientData: () => ({}), log: () => undefined });
  });
  afterAll(async () => {
    await audit?.stop();
  });

  const triggers = () => app.httpTriggers();
  const limitOf = (name: string) => HTTP_BODY_LIMITS[name as HttpFunctionName].bytes;
  const invoke = (name: string, method: string, headers: Record<string, string>, body?: ReadableStream<Uint8Array>) =>
    app.invokeHttp(name, { method, url: "http://127.0.0.1/api/x", headers, params: { id: "some-id", labelId: "123" }, body });

  it("the table names exactly the registered HTTP functions", () => {
    expect(triggers().map((t) => t.functionName).sort()).toEqual(Object.keys(HTTP_BODY_LIMITS).sort());
  });

  it("a Content-Length over the limit is refused with 413 naming the limit, and not one byte is pulled", async () => {
    for (const trigger of triggers()) {
      const limit = limitOf(trigger.functionName);
      const method = trigger.methods[0];
      const body = method === "GET" ? undefined : countingBody(limit + 1);
      const answer = await invoke(trigger.functionName, method, { "content-length": String(limit + 1) }, body?.stream);
      expect({ fn: trigger.functionName, status: answer.status }).toEqual({ fn: trigger.functionName, status: 413 });
      expect(JSON.parse(answer.body.toString("utf8"))).toEqual({ error: "request body too large", fields: [{ field: "body", reason: `must be at most ${limit} bytes` }] });
      expect({ fn: trigger.functionName, pulled: body?.pulled() ?? 0 }).toEqual({ fn: trigger.functionName, pulled: 0 });
    }
  });

  it("a chunked body (no Content-Length) is refused once it passes the limit; reading stops there", async () => {
    for (const trigger of triggers().filter((t) => t.methods[0] !== "GET")) {
      const limit = limitOf(trigger.functionName);
      const body = countingBody(50 * 1024 * 1024);
      const answer = await invoke(trigger.functionName, trigger.methods[0], { "content-type": "application/json" }, body.stream);
      expect({ fn: trigger.functionName, status: answer.status }).toEqual({ fn: trigger.functionName, status: 413 });
      // limit + 1 bytes are needed to know; at most one more chunk is in flight.
      expect(body.pulled()).toBeGreaterThan(limit);
      expect(body.pulled()).toBeLessThanOrEqual(limit + 1 + 2 * 16 * 1024);
    }
  });

  it("a JSON body of exactly the limit is read and reaches validation (400 naming a field, not 413)", async () => {
    for (const name of ["startSubmission", "createUpload", "startLabel", "updateLabel"] as const) {
      expect(HTTP_BODY_LIMITS[name].bytes).toBe(JSON_BODY_MAX_BYTES);
      const text = `{"padding":"${"a".repeat(JSON_BODY_MAX_BYTES - 14)}"}`;
      expect(Buffer.byteLength(text)).toBe(JSON_BODY_MAX_BYTES);
      const method = name === "updateLabel" ? "PATCH" : "POST";
      for (const declared of [true, false]) {
        const stream = new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(Buffer.from(text)), c.close()) });
        const answer = await invoke(name, method, declared ? { "content-length": String(text.length) } : {}, stream);
        expect({ name, declared, status: answer.status }).toEqual({ name, declared, status: 400 });
        expect(answer.body.toString("utf8")).not.toContain("too large");
      }
    }
  });

  it("a Content-Length that is not a number is refused with 400 naming it", async () => {
    const answer = await invoke("startSubmission", "POST", { "content-length": "12abc" }, countingBody(10).stream);
    expect(answer.status).toBe(400);
    expect(answer.body.toString("utf8")).toContain("Content-Length");
  });
});

describe("the local front's body readers", () => {
  /** A server whose handler gets each request; returns the base URL. */
  async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>): Promise<{ url: string; close: () => Promise<void> }> {
    const server = http.createServer((req, res) => void handler(req, res).catch(() => res.destroy()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) };
  }

  it("readBodyAtMost: whole at the limit, refused past it (declared or counted)", async () => {
    const results: string[] = [];
    const server = await serve(async (req, res) => {
      const read = await readBodyAtMost(req, 100);
      results.push(read.ok ? `ok ${read.body.length}` : "too large");
      res.end();
    });
    try {
      await fetch(server.url, { method: "POST", body: "a".repeat(100) });
      await fetch(server.url, { method: "POST", body: "a".repeat(101) });
      await fetch(server.url, { method: "POST", body: new Blob(["a".repeat(101)]).stream(), duplex: "half" } as RequestInit);
      expect(results).toEqual(["ok 100", "too large", "too large"]);
    } finally {
      await server.close();
    }
  });

  it("pulledBody: the app gets the bytes as it pulls; past the limit the stream fails and says so", async () => {
    const outcomes: string[] = [];
    const server = await serve(async (req, res) => {
      const body = pulledBody(req, 1000);
      try {
        const text = await new Response(body.stream).text();
        outcomes.push(`read ${text.length}`);
      } catch (error) {
        outcomes.push(`${(error as Error).name}:${body.exceeded()}`);
      }
      res.end();
    });
    try {
      await fetch(server.url, { method: "POST", body: "b".repeat(1000) });
      await fetch(server.url, { method: "POST", body: new Blob(["b".repeat(5000)]).stream(), duplex: "half" } as RequestInit).catch(() => undefined);
      expect(outcomes).toEqual(["read 1000", "Error:true"]);
    } finally {
      await server.close();
    }
  });
});
