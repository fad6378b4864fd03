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
import { derivedReceiverId } from "../../../src/domain/webhookReceivers";
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
    expect(config.settings.NOTIFY_WEBHOOK_URLS.map((r) => r.url)).toEqual(["https://hooks.example.com/x", "http://127.0.0.1:9/y"]);
    expect(parseConfig(BASE_ENV).settings.NOTIFY_WEBHOOK_URLS).toEqual([]);
  });

  test("each receiver has a stable id: configured as <id>=<url>, else derived from the URL without user info, query or fragment", () => {
    const config = parseConfig({
      ...BASE_ENV,
      NOTIFY_WEBHOOK_URLS: "teams=https://hooks.example.com/x?token=abc, https://Hooks.Example.com/y?code=k1, https://user:pw@hooks.example.com/z/",
      NOTIFY_WEBHOOK_SECRET: SECRET,
    });
    const [teams, y, z] = config.settings.NOTIFY_WEBHOOK_URLS;
    expect(teams).toEqual({ id: "teams", url: "https://hooks.example.com/x?token=abc" });
    expect(y.id).toMatch(/^u[0-9a-f]{16}$/);
    // A rotated query key (or a changed position) keeps the id; another path is another receiver.
    expect(derivedReceiverId("https://hooks.example.com/y?code=k2")).toBe(y.id);
    expect(derivedReceiverId("https://hooks.example.com/y2")).not.toBe(y.id);
    expect(z.id).toBe(derivedReceiverId("https://hooks.example.com/z"));
    // The id is a hash: no part of the URL, its token or its password in it.
    for (const r of [y, z]) expect(r.id).not.toMatch(/hooks|example|code|k1|pw|user/);
    // A URL with '=' in its query is still a URL, not an id.
    expect(parseConfig({ ...BASE_ENV, NOTIFY_WEBHOOK_URLS: "https://h.example.com/a?x=1", NOTIFY_WEBHOOK_SECRET: SECRET }).settings.NOTIFY_WEBHOOK_URLS[0].url).toBe("https://h.example.com/a?x=1");
  });

  test("two receivers with the same id are refused, naming the setting and the entries", () => {
    expect(() => parseConfig({ ...BASE_ENV, NOTIFY_WEBHOOK_URLS: "https://h.example.com/a?k=1,https://h.example.com/a?k=2", NOTIFY_WEBHOOK_SECRET: SECRET })).toThrow(
      /NOTIFY_WEBHOOK_URLS entries 1 and 2 have the same receiver id/,
    );
    expect(() => parseConfig({ ...BASE_ENV, NOTIFY_WEBHOOK_URLS: "ops=https://h.example.com/a,ops=https://h.example.com/b", NOTIFY_WEBHOOK_SECRET: SECRET })).toThrow(
      /entries 1 and 2 have the same receiver id ops/,
    );
    expect(() => parseConfig({ ...BASE_ENV, NOTIFY_WEBHOOK_URLS: "ops=http://hooks.example.com/a", NOTIFY_WEBHOOK_SECRET: SECRET })).toThrow(/NOTIFY_WEBHOOK_URLS.*https/);
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

  const idOf = (path: string) => derivedReceiverId(`${base}${path}`);

  test("POSTs the signed event to the receiver with that id, wherever it stands in the list", async () => {
    await expect(sendWebhook({ event, receiverId: idOf("/ok") }, configFor("/fail", "/ok"))).resolves.toEqual({ httpStatus: 204 });
    await expect(sendWebhook({ event, receiverId: idOf("/ok") }, configFor("/ok", "/fail"))).resolves.toEqual({ httpStatus: 204 });
    const last = seen[seen.length - 1];
    expect(last.url).toBe("/ok");
    expect(JSON.parse(last.body)).toEqual(event);
    expect(verifySignature(last.body, SECRET, last.signature)).toBe(true);
  });

  test("non-2xx, a redirect (not followed) and silence fail, naming the webhook by id and host only", async () => {
    const config = configFor("/fail?token=abc", "/redirect", "/silent?token=abc");
    const fail = idOf("/fail");
    await expect(sendWebhook({ event, receiverId: fail }, config)).rejects.toThrow(new RegExp(`^webhook ${fail} \\(127\\.0\\.0\\.1:\\d+\\) answered HTTP 500$`));
    await expect(sendWebhook({ event, receiverId: idOf("/redirect") }, config)).rejects.toThrow(/webhook u[0-9a-f]{16} .* answered HTTP 302/);
    await expect(sendWebhook({ event, receiverId: idOf("/silent") }, config)).rejects.toThrow(/^webhook u[0-9a-f]{16} \(127\.0\.0\.1:\d+\): no answer within 1 s$/);
    expect(seen.some((s) => s.url === "/elsewhere")).toBe(false);
  });

  test("a receiver no longer configured, or a delivery queued by position, is dropped with a log line and sent nowhere", async () => {
    const config = configFor("/ok", "/fail");
    const before = seen.length;
    const logged: string[] = [];
    await expect(sendWebhook({ event, receiverId: idOf("/removed") }, config, (line) => logged.push(line))).resolves.toEqual({
      dropped: `webhook ${idOf("/removed")} is no longer configured in NOTIFY_WEBHOOK_URLS`,
    });
    await expect(sendWebhook({ event, urlIndex: 0 }, config, (line) => logged.push(line))).resolves.toEqual({ dropped: expect.stringMatching(/position 1 before receivers had ids/) });
    expect(seen.length).toBe(before);
    expect(logged).toHaveLength(2);
    for (const line of logged) expect(line).toContain(`event ${event.id} dropped`);
  });
});
