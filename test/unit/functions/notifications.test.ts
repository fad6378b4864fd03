/**
 * Notification building blocks: the settings (https or loopback http only, a secret required), the
 * CloudEvent built from the status view (deterministic id, no secret), the signature, and
 * sendWebhook against a local server (2xx ok; non-2xx, redirects and silence fail without naming the URL).
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { sendWebhook } from "../../../src/activities/sendWebhook";
import { parseConfig } from "../../../src/config";
import { buildCloudEvent, signatureOf, verifySignature } from "../../../src/notifications/cloudEvent";
import type { SubmissionView } from "../../../src/domain/submissionView";

const BASE_ENV = {
  AzureWebJobsStorage: "UseDevelopmentStorage=true",
  HDC_TENANT_ID: "t",
  HDC_CLIENT_ID: "c",
  HDC_CLIENT_SECRET: "s",
};
const SECRET = "0123456789abcdef-secret";

const view: SubmissionView = {
  id: "drv-0123",
  runtimeStatus: "Completed",
  stage: "succeeded",
  package: { container: "driver-drops", blobName: "contoso.hlkx" },
  productId: "14461751976964156",
  submissionId: "1152921505699924012",
  messages: [],
  createdTime: "2026-01-01T00:00:00.000Z",
  stageHistory: [],
  stepHistory: [],
  progress: "completed",
};

describe("notification settings", () => {
  test("URLs must be https, or http to a loopback host, and need a secret", () => {
    expect(() => parseConfig({ ...BASE_ENV, NOTIFY_WEBHOOK_URLS: "http://hooks.example.com/x", NOTIFY_WEBHOOK_SECRET: SECRET })).toThrow(/NOTIFY_WEBHOOK_URLS/);
    expect(() => parseConfig({ ...BASE_ENV, NOTIFY_WEBHOOK_URLS: "https://hooks.example.com/x" })).toThrow(/NOTIFY_WEBHOOK_SECRET.*required/);
    expect(() => parseConfig({ ...BASE_ENV, NOTIFY_WEBHOOK_URLS: "https://hooks.example.com/x", NOTIFY_WEBHOOK_SECRET: "short" })).toThrow(/NOTIFY_WEBHOOK_SECRET/);
    const config = parseConfig({ ...BASE_ENV, NOTIFY_WEBHOOK_URLS: "https://hooks.example.com/x, http://127.0.0.1:9/y", NOTIFY_WEBHOOK_SECRET: SECRET });
    expect(config.settings.NOTIFY_WEBHOOK_URLS).toEqual(["https://hooks.example.com/x", "http://127.0.0.1:9/y"]);
    expect(parseConfig(BASE_ENV).settings.NOTIFY_WEBHOOK_URLS).toEqual([]);
  });
});

describe("CloudEvent", () => {
  test("is a CloudEvents 1.0 document with a deterministic id per run and event", () => {
    const event = buildCloudEvent(view, "succeeded", "2026-01-01T01:00:00.000Z");
    expect(event).toMatchObject({
      specversion: "1.0",
      type: "com.contoso.driversigning.submission.succeeded",
      subject: "drv-0123",
      time: "2026-01-01T01:00:00.000Z",
      datacontenttype: "application/json",
      data: { id: "drv-0123", event: "succeeded", productId: "14461751976964156", text: expect.stringContaining("driver-drops/contoso.hlkx") },
    });
    expect(buildCloudEvent(view, "succeeded", "2026-01-02T00:00:00.000Z").id).toBe(event.id);
    expect(buildCloudEvent(view, "failed", event.time).id).not.toBe(event.id);
    // A re-posted run (a new creation time) is a new event.
    expect(buildCloudEvent({ ...view, createdTime: "2026-01-03T00:00:00.000Z" }, "succeeded", event.time).id).not.toBe(event.id);
  });

  test("signature is sha256=<hex HMAC of the body>, verified in constant time", () => {
    const body = JSON.stringify(buildCloudEvent(view, "succeeded", "2026-01-01T01:00:00.000Z"));
    const signature = signatureOf(body, SECRET);
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature(body, SECRET, signature)).toBe(true);
    expect(verifySignature(body + " ", SECRET, signature)).toBe(false);
    expect(verifySignature(body, SECRET, undefined)).toBe(false);
  });
});

describe("sendWebhook", () => {
  let server: http.Server;
  let base = "";
  const seen: Array<{ url: string; body: string; signature?: string }> = [];
  beforeAll(async () => {
    server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (c: Buffer) => chunks.push(c));
      request.on("end", () => {
        seen.push({ url: request.url!, body: Buffer.concat(chunks).toString(), signature: request.headers["x-signature-256"] as string });
        if (request.url === "/ok") response.writeHead(204).end();
        else if (request.url === "/redirect") response.writeHead(302, { location: "http://127.0.0.1:1/elsewhere" }).end();
        else if (request.url?.startsWith("/silent")) return; // never answers
        else response.writeHead(500).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const configFor = (...paths: string[]) =>
    parseConfig({ ...BASE_ENV, NOTIFY_WEBHOOK_URLS: paths.map((p) => `${base}${p}`).join(","), NOTIFY_WEBHOOK_SECRET: SECRET, NOTIFY_TIMEOUT_SECONDS: "1" });
  const event = buildCloudEvent(view, "succeeded", "2026-01-01T01:00:00.000Z");

  test("POSTs the signed event to the configured URL by index", async () => {
    await expect(sendWebhook({ event, urlIndex: 1 }, configFor("/fail", "/ok"))).resolves.toEqual({ httpStatus: 204 });
    const last = seen[seen.length - 1];
    expect(last.url).toBe("/ok");
    expect(JSON.parse(last.body)).toEqual(event);
    expect(verifySignature(last.body, SECRET, last.signature)).toBe(true);
  });

  test("non-2xx, a redirect (not followed) and silence fail, naming the webhook by number and host only", async () => {
    const config = configFor("/fail?token=abc", "/redirect", "/silent?token=abc");
    await expect(sendWebhook({ event, urlIndex: 0 }, config)).rejects.toThrow(/^webhook 1 \(127\.0\.0\.1:\d+\) answered HTTP 500$/);
    await expect(sendWebhook({ event, urlIndex: 1 }, config)).rejects.toThrow(/webhook 2 .* answered HTTP 302/);
    await expect(sendWebhook({ event, urlIndex: 2 }, config)).rejects.toThrow(/^webhook 3 \(127\.0\.0\.1:\d+\): no answer within 1 s$/);
    expect(seen.some((s) => s.url === "/elsewhere")).toBe(false);
    await expect(sendWebhook({ event, urlIndex: 3 }, config)).rejects.toThrow(/webhook 4 is no longer configured/);
  });
});
