/**
 * Request bodies on the real app over the local runtime (issue 27): a 201 MB body, generated as a
 * stream (never held by the test), is refused with 413 on every JSON route, the Event Grid webhooks
 * and the Durable webhook, while the runtime process's peak RSS (VmHWM from /proc, reset before each
 * request) grows by far less than the body; a body of exactly a route's limit gets past the size
 * check (400 from validation shows it was read); both Durable route families refuse keyless calls
 * and the app's own durable client (RPC with the system key) still drives a drop to signed.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import { Readable } from "node:stream";
import { EVENT_GRID_MAX_BODY_BYTES, HOST_MAX_REQUEST_BODY_BYTES, HTTP_BODY_LIMITS, type HttpFunctionName } from "../../src/domain/requestLimits";
import { dropPackage, startTestStack, waitForEnd, type TestStack } from "../support/stack";
import { instanceIdForPackage } from "../../src/domain/instanceId";

jest.setTimeout(300_000);

const BIG = 201 * 1024 * 1024;
const MB = 1024 * 1024;
/** Growth of the runtime's peak RSS a refused 201 MB body may cause: a few buffers, never the body. */
const MAX_RSS_GROWTH_MB = 50;

interface Sent {
  status: number;
  body: string;
  /** Bytes the client had handed to the socket when the answer came. */
  sentBeforeAnswer: number;
}

/** `size` bytes of `fill` produced chunk by chunk (one 64 KiB chunk reused), as a stream. */
function generated(size: number, prefix = "", fill = "a"): { stream: Readable; sent: () => number } {
  const chunk = Buffer.alloc(64 * 1024, fill);
  let produced = 0;
  const stream = new Readable({
    read() {
      if (produced >= size) return void this.push(null);
      if (produced === 0 && prefix) {
        produced += prefix.length;
        return void this.push(Buffer.from(prefix));
      }
      const n = Math.min(chunk.length, size - produced);
      produced += n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
  return { stream, sent: () => produced };
}

/** Sends the stream (chunked unless `declare`), resolves with the answer as soon as it comes, then stops sending. */
function send(url: string, method: string, headers: Record<string, string>, body: { stream: Readable; sent: () => number }, declare?: number): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, headers: { ...headers, ...(declare !== undefined ? { "content-length": String(declare) } : {}) } });
    let answered = false;
    request.on("response", (response) => {
      answered = true;
      const sentBeforeAnswer = body.sent();
      const chunks: Buffer[] = [];
      response.on("data", (c: Buffer) => chunks.push(c));
      response.on("end", () => {
        body.stream.unpipe(request);
        body.stream.destroy();
        request.destroy();
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), sentBeforeAnswer });
      });
    });
    // Once answered, the runtime may cut the connection while we are still writing: not a failure.
    request.on("error", (error) => (answered ? undefined : reject(error)));
    body.stream.pipe(request);
  });
}

function procStatusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith(`${field}:`));
  return Number(/(\d+)/.exec(line ?? "")?.[1] ?? NaN);
}

/** Resets the peak RSS (VmHWM) of a process we own, so the next reading is the peak since now. */
function resetPeak(pid: number): void {
  fs.writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

describe("bounded request bodies on the local runtime", () => {
  let stack: TestStack;
  let pid: number;
  const key = () => ({ "x-functions-key": stack.functionKey });
  const figures: string[] = [];

  beforeAll(async () => {
    stack = await startTestStack();
    pid = stack.runtime.pid!;
  });
  afterAll(async () => {
    process.stdout.write(`body limits, runtime pid ${pid}:\n${figures.map((f) => `  ${f}\n`).join("")}`);
    await stack?.stop();
  });

  /** Sends a 201 MB body and returns the answer with the runtime's RSS figures (MB). */
  async function sendBig(label: string, url: string, method: string, headers: Record<string, string>, declare = false): Promise<Sent & { peakGrowthMb: number }> {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const rssBefore = procStatusKb(pid, "VmRSS") / 1024;
    resetPeak(pid);
    const answer = await send(url, method, headers, generated(BIG), declare ? BIG : undefined);
    const peak = procStatusKb(pid, "VmHWM") / 1024;
    const rssAfter = procStatusKb(pid, "VmRSS") / 1024;
    const peakGrowthMb = peak - rssBefore;
    figures.push(
      `${label}: ${answer.status}; RSS before ${rssBefore.toFixed(1)} MB, peak during ${peak.toFixed(1)} MB (+${peakGrowthMb.toFixed(1)}), after ${rssAfter.toFixed(1)} MB; client had sent ${(answer.sentBeforeAnswer / MB).toFixed(1)} MB when answered`,
    );
    return { ...answer, peakGrowthMb };
  }

  const jsonRoutes: { name: HttpFunctionName; method: string; path: string }[] = [
    { name: "startSubmission", method: "POST", path: "/api/submissions" },
    { name: "createUpload", method: "POST", path: "/api/uploads" },
    { name: "startLabel", method: "POST", path: "/api/submissions/some-id/labels" },
    { name: "updateLabel", method: "PATCH", path: "/api/submissions/some-id/labels/123" },
  ];

  it.each(jsonRoutes)("$method $path: a streamed 201 MB body (chunked) is refused with 413 and the runtime's memory does not take it", async ({ name, method, path }) => {
    const answer = await sendBig(`${method} ${path} chunked`, `${stack.baseUrl}${path}`, method, { ...key(), "content-type": "application/json" });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual({ error: "request body too large", fields: [{ field: "body", reason: `must be at most ${HTTP_BODY_LIMITS[name].bytes} bytes` }] });
    expect(answer.peakGrowthMb).toBeLessThan(MAX_RSS_GROWTH_MB);
  });

  it.each(jsonRoutes)("$method $path: a declared 201 MB body is refused by the host limit before anything is read", async ({ method, path }) => {
    const answer = await sendBig(`${method} ${path} declared`, `${stack.baseUrl}${path}`, method, { ...key(), "content-type": "application/json" }, true);
    // Over the host's 100 MB: the front answers as Kestrel does (empty 413), the app never runs.
    expect(answer).toMatchObject({ status: 413, body: "" });
    expect(answer.peakGrowthMb).toBeLessThan(MAX_RSS_GROWTH_MB);
  });

  it("routes without a JSON body refuse a streamed 201 MB body too (cancel, label cancel)", async () => {
    for (const path of ["/api/submissions/some-id/cancel", "/api/submissions/some-id/labels/123/cancel"]) {
      const answer = await sendBig(`POST ${path} chunked`, `${stack.baseUrl}${path}`, "POST", key());
      expect(answer.status).toBe(413);
      expect(answer.peakGrowthMb).toBeLessThan(MAX_RSS_GROWTH_MB);
    }
  });

  it("the Event Grid webhook and /_local/eventgrid refuse more than Event Grid's 1 MB, the Durable webhook more than the host's 100 MB", async () => {
    const eg = { "x-functions-key": stack.keys.systemKeys.eventgrid_extension, "content-type": "application/json", "aeg-event-type": "Notification" };
    const durable = { "x-functions-key": stack.keys.systemKeys.durabletask_extension, "content-type": "application/json" };
    const targets: [string, string, Record<string, string>, number][] = [
      ["/runtime/webhooks/eventgrid?functionName=packageDropped", "POST", eg, EVENT_GRID_MAX_BODY_BYTES],
      ["/_local/eventgrid", "POST", eg, EVENT_GRID_MAX_BODY_BYTES],
      ["/runtime/webhooks/durabletask/instances/some-id/raiseEvent/x", "POST", durable, HOST_MAX_REQUEST_BODY_BYTES],
    ];
    for (const [path, method, headers, limit] of targets) {
      const answer = await sendBig(`${method} ${path.split("?")[0]} chunked`, `${stack.baseUrl}${path}`, method, headers);
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.body)).toEqual({ error: "request body too large", fields: [{ field: "body", reason: `must be at most ${limit} bytes` }] });
      // The webhooks read up to their limit before refusing: Event Grid's 1 MB is small; the
      // Durable webhook's is the host's 100 MB, so its growth is bounded by that, not by 201 MB.
      expect(answer.peakGrowthMb).toBeLessThan(limit === HOST_MAX_REQUEST_BODY_BYTES ? 100 + MAX_RSS_GROWTH_MB : MAX_RSS_GROWTH_MB);
    }
  });

  it("a body of exactly each JSON route's limit gets past the size check: read, then refused by validation (400)", async () => {
    for (const { name, method, path } of jsonRoutes) {
      const limit = HTTP_BODY_LIMITS[name].bytes;
      // {"padding":"aaa…"} of exactly `limit` bytes: valid JSON, not a valid request.
      const prefix = '{"padding":"';
      const body = () => {
        const inner = generated(limit - 2, prefix);
        const closing = Readable.from([Buffer.from('"}')]);
        const stream = Readable.from((async function* () {
          for await (const c of inner.stream) yield c as Buffer;
          for await (const c of closing) yield c as Buffer;
        })());
        return { stream, sent: inner.sent };
      };
      for (const declared of [false, true]) {
        const answer = await send(`${stack.baseUrl}${path}`, method, { ...key(), "content-type": "application/json" }, body(), declared ? limit : undefined);
        expect({ path, declared, status: answer.status }).toEqual({ path, declared, status: 400 });
        expect(answer.body).not.toContain("too large");
      }
      // One byte more is refused.
      const over = await send(`${stack.baseUrl}${path}`, method, { ...key(), "content-type": "application/json" }, generated(limit + 1), limit + 1);
      expect(over.status).toBe(413);
    }
  });

  it("keyless calls to both Durable route families are refused with 401; keyed ones work", async () => {
    const systemKey = stack.keys.systemKeys.durabletask_extension;
    const get = async (url: string, headers: Record<string, string> = {}) => {
      const response = await fetch(url, { headers });
      return { status: response.status, body: await response.text() };
    };
    for (const url of [`${stack.baseUrl}/durabletask/instances/`, `${stack.baseUrl}/runtime/webhooks/durabletask/instances`]) {
      expect(await get(url)).toEqual({ status: 401, body: "" });
      expect(await get(url, { "x-functions-key": stack.functionKey })).toEqual({ status: 401, body: "" });
      expect(await get(url, { "x-functions-key": stack.keys.systemKeys.eventgrid_extension })).toEqual({ status: 401, body: "" });
      expect((await get(url, { "x-functions-key": systemKey })).status).toBe(200);
      expect((await get(`${url}?code=${encodeURIComponent(systemKey)}`)).status).toBe(200);
      expect((await get(url, { "x-functions-key": stack.keys.masterKey })).status).toBe(200);
    }
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });
    // Basic credentials (how the app's durable client presents the key) open the RPC routes only.
    expect((await get(`${stack.baseUrl}/durabletask/instances/`, basic("durabletask_extension", systemKey))).status).toBe(200);
    expect((await get(`${stack.baseUrl}/durabletask/instances/`, basic("durabletask_extension", stack.functionKey))).status).toBe(401);
    expect((await get(`${stack.baseUrl}/runtime/webhooks/durabletask/instances`, basic("durabletask_extension", systemKey))).status).toBe(401);
    // A keyless start through RPC starts nothing.
    const start = await fetch(`${stack.baseUrl}/durabletask/orchestrators/recordRejectedDrop/keyless-rpc-start`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(start.status).toBe(401);
    expect((await get(`${stack.baseUrl}/durabletask/instances/keyless-rpc-start`, { "x-functions-key": systemKey })).status).toBe(404);
  });

  it("the app's own durable client (RPC with the system key) still works: a drop is signed and listed", async () => {
    const blobName = await dropPackage(stack, "body-limits");
    const props = await stack.blobService.getContainerClient("driver-drops").getBlobClient(blobName).getProperties();
    const id = instanceIdForPackage("driver-drops", blobName, props.etag ?? "");
    const end = await waitForEnd(stack, id);
    expect(end.runtimeStatus).toBe("Completed");
    expect((await stack.submissions.list()).map((s) => s.id)).toContain(id);
  });
});
