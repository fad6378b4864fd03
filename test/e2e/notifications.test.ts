/**
 * Webhook notifications on the local runtime, with receivers on 127.0.0.1 in this test: each
 * terminal state (succeeded, failed, rejected, cancelled) delivered once, as a CloudEvent with a
 * valid HMAC signature; a receiver that fails three times gets it on the fourth attempt, the attempts
 * spaced by backoff on durable timers (virtual clock); a receiver that never answers delays no
 * submission and its delivery ends Failed after its attempts (real clock: a stuck webhook call holds
 * the virtual clock, as any activity in flight does).
 */
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { APP_CONTAINERS } from "../../local/stack";
import { samplePackage } from "../../local/samplePackage";
import { deliveryInstanceId, notificationEventId, verifySignature, type SubmissionCloudEvent } from "../../src/notifications/cloudEvent";
import { derivedReceiverId } from "../../src/domain/webhookReceivers";
import { dropPackage, durableKeyHeaders, expectNothingSecret, startTestStack, waitForEnd, type TestStack } from "../support/stack";

jest.setTimeout(240_000);

const SECRET = "test-webhook-secret-0123456789";

interface Received {
  path: string;
  body: string;
  signature?: string;
  contentType?: string;
  answered: number | "never";
}

/**
 * /ok answers 200; /flaky 500 three times, then 200; /silent accepts and never answers; /hold-* holds
 * its first request unanswered (until close), then answers 200.
 */
async function startReceiver(): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  let flakyFailures = 0;
  const hanging = new Set<http.ServerResponse>();
  const heldOnce = new Set<string>();
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const entry: Received = {
        path: request.url ?? "",
        body: Buffer.concat(chunks).toString("utf8"),
        signature: request.headers["x-signature-256"] as string | undefined,
        contentType: request.headers["content-type"],
        answered: "never",
      };
      received.push(entry);
      if (entry.path === "/silent" || (entry.path.startsWith("/hold-") && !heldOnce.has(entry.path))) {
        heldOnce.add(entry.path);
        hanging.add(response);
        return;
      }
      const status = entry.path === "/flaky" && flakyFailures < 3 ? (flakyFailures++, 500) : 200;
      entry.answered = status;
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: async () => {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const eventsAt = (received: Received[], path: string, answered?: number) =>
  received.filter((entry) => entry.path === path && (answered === undefined || entry.answered === answered)).map((entry) => JSON.parse(entry.body) as SubmissionCloudEvent);

async function durableStatus(stack: TestStack, id: string, history = false): Promise<any> {
  const response = await fetch(`${stack.baseUrl}/runtime/webhooks/durabletask/instances/${id}${history ? "?showHistory=true" : ""}`, {
    headers: durableKeyHeaders(stack),
  });
  return response.status === 404 ? undefined : response.json();
}

async function waitUntil<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("notifications (virtual clock): one signed CloudEvent per terminal state, retried with backoff", () => {
  let stack: TestStack;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startTestStack({
      appSettings: {
        NOTIFY_WEBHOOK_URLS: `${receiver.url}/ok,${receiver.url}/flaky`,
        NOTIFY_WEBHOOK_SECRET: SECRET,
        NOTIFY_RETRY_FIRST_SECONDS: "60",
        NOTIFY_MAX_ATTEMPTS: "5",
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await receiver?.close();
  });

  it("delivers 'succeeded' once with a valid signature; the flaky receiver gets it on the 4th attempt, 60/120/240 s apart", async () => {
    const id = await stack.submissions.findByBlob(await dropPackage(stack, "ntf-signed"), 20_000);
    const final = await waitForEnd(stack, id);
    expect(final.runtimeStatus).toBe("Completed");

    const ok = await waitUntil("the succeeded event at /ok", () => eventsAt(receiver.received, "/ok").find((e) => e.subject === id));
    const entry = receiver.received.find((r) => r.path === "/ok" && r.body.includes(id))!;
    expect(verifySignature(entry.body, SECRET, entry.signature)).toBe(true);
    expect(verifySignature(entry.body, "another-secret-0123456789", entry.signature)).toBe(false);
    expect(entry.contentType).toMatch(/^application\/cloudevents\+json/);
    expect(ok).toMatchObject({
      specversion: "1.0",
      type: "com.contoso.driversigning.submission.succeeded",
      source: "/driver-signing/submissions",
      subject: id,
      datacontenttype: "application/json",
      id: notificationEventId(id, "succeeded", final.raw.createdTime as string),
      data: { id, event: "succeeded", productId: final.custom.productId, submissionId: final.custom.submissionId, package: { container: APP_CONTAINERS.drops } },
    });
    expect(ok.data.text).toContain("ntf-signed");
    expect(ok.data.partnerCenterUrl).toBe(`https://partner.microsoft.com/en-us/dashboard/hardware/driver/${final.custom.productId}/submission/${final.custom.submissionId}`);
    expect(Number.isNaN(Date.parse(ok.time))).toBe(false);
    expectNothingSecret(stack, entry.body);

    // The flaky receiver: three 500s, then exactly one success, for this one event.
    const deliveryId = deliveryInstanceId(ok.id, derivedReceiverId(`${receiver.url}/flaky`));
    const delivery = await waitUntil("the flaky delivery to finish", async () => {
      const status = await durableStatus(stack, deliveryId, true);
      return status && status.runtimeStatus !== "Running" && status.runtimeStatus !== "Pending" ? status : undefined;
    });
    expect(delivery.runtimeStatus).toBe("Completed");
    expect(delivery.customStatus).toMatchObject({ delivered: true, attempts: 4 });
    const flaky = receiver.received.filter((r) => r.path === "/flaky" && r.body.includes(id));
    expect(flaky.map((r) => r.answered)).toEqual([500, 500, 500, 200]);
    for (const r of flaky) expect(verifySignature(r.body, SECRET, r.signature)).toBe(true);
    // Backoff on durable timers (orchestration time): 60 s, 120 s, 240 s after each failure.
    const history = delivery.historyEvents as Array<{ EventType: string; FireAt?: string; Timestamp: string }>;
    const timers = history.filter((e) => e.EventType === "TimerCreated");
    expect(timers).toHaveLength(3);
    const failedAt = history.filter((e) => e.EventType === "TaskFailed").map((e) => Date.parse(e.Timestamp));
    expect(timers.map((t, i) => Math.round((Date.parse(t.FireAt!) - failedAt[i]) / 1000))).toEqual([60, 120, 240]);
    // Nothing else reached /ok for this run (one delivery per event).
    expect(eventsAt(receiver.received, "/ok").filter((e) => e.subject === id)).toHaveLength(1);
  });

  it("delivers 'failed' with Microsoft's messages, 'rejected' with the reason and 'cancelled', each once", async () => {
    stack.emulators.configure({ workflow: { failAtStep: "validation", failMessages: ["Test results missing for Device.Connectivity.UsbDevices"] } });
    const failedId = await stack.submissions.findByBlob(await dropPackage(stack, "ntf-failed"), 20_000);
    expect((await waitForEnd(stack, failedId)).runtimeStatus).toBe("Failed");
    stack.emulators.configure({ workflow: { failAtStep: undefined, failMessages: undefined } });
    const failed = await waitUntil("the failed event", () => eventsAt(receiver.received, "/ok").find((e) => e.subject === failedId));
    expect(failed.type).toBe("com.contoso.driversigning.submission.failed");
    expect(failed.data.messages).toContain("Test results missing for Device.Connectivity.UsbDevices");
    expect(failed.data.failureKind).toBe("microsoft");

    const uploaded = await stack.blobService.getContainerClient(APP_CONTAINERS.drops).getBlockBlobClient("ntf-rejected.txt").uploadData(Buffer.from("x"));
    expect(uploaded.etag).toBeDefined();
    const rejected = await waitUntil("the rejected event", () =>
      eventsAt(receiver.received, "/ok").find((e) => e.type.endsWith(".rejected") && e.data.package?.blobName === "ntf-rejected.txt"),
    );
    expect(rejected.data.reason).toMatch(/blobName/);

    // A run held at create-submission, cancelled.
    stack.emulators.configure({ faults: [{ pathRegex: "/products/\\d+/submissions$", delayMs: 3000, times: 1 }] });
    const pkg = samplePackage({ folder: "ntf-cancel" });
    await stack.blobService.getContainerClient(APP_CONTAINERS.drops).getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
    const cancelId = await stack.submissions.findByBlob(pkg.fileName, 20_000);
    await stack.submissions.waitFor(cancelId, (v) => v.runtimeStatus === "Running" && v.stage !== "queued", { timeoutMs: 20_000, intervalMs: 50 });
    expect([200, 202]).toContain(await stack.submissions.cancel(cancelId));
    // A second click (202 while terminating, or 409): still one "cancelled" event, checked below.
    await stack.submissions.cancel(cancelId);
    const cancelled = await waitUntil("the cancelled event", () => eventsAt(receiver.received, "/ok").find((e) => e.subject === cancelId));
    expect(cancelled.type).toBe("com.contoso.driversigning.submission.cancelled");
    stack.emulators.configure({ faults: [] });

    // Each event id arrived at /ok exactly once, and was accepted exactly once at /flaky.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const okIds = eventsAt(receiver.received, "/ok").map((e) => e.id);
    expect(new Set(okIds).size).toBe(okIds.length);
    expect(okIds.length).toBe(4);
    const flakyAccepted = eventsAt(receiver.received, "/flaky", 200).map((e) => e.id);
    expect(new Set(flakyAccepted).size).toBe(flakyAccepted.length);
    for (const entry of receiver.received) {
      expect(verifySignature(entry.body, SECRET, entry.signature)).toBe(true);
      expectNothingSecret(stack, entry.body);
    }
  });

  it("the webhook list edited while deliveries are in flight (kill -9, receiver inserted before, reordered, one removed): each goes to its own receiver or is dropped", async () => {
    const url = receiver.url;
    const original = stack.env.NOTIFY_WEBHOOK_URLS;
    let down = false;
    try {
      stack.env.NOTIFY_WEBHOOK_URLS = `${url}/hold-keep,${url}/hold-gone`;
      await stack.runtime.restart();
      const id = await stack.submissions.findByBlob(await dropPackage(stack, "ntf-edited"), 20_000);
      const final = await waitForEnd(stack, id);
      expect(final.runtimeStatus).toBe("Completed");
      const eventId = notificationEventId(id, "succeeded", final.raw.createdTime as string);
      // Both deliveries are in their first attempt, held by the receivers: the runtime dies now.
      await waitUntil("both first attempts held", () => ["/hold-keep", "/hold-gone"].every((path) => eventsAt(receiver.received, path).some((e) => e.id === eventId)));
      down = true;
      await stack.runtime.kill("SIGKILL");
      // The operator edits the list: a receiver inserted before, the kept one moved to the end, one removed.
      stack.env.NOTIFY_WEBHOOK_URLS = `${url}/intruder,${url}/ok,${url}/hold-keep`;
      await stack.runtime.restart();
      down = false;

      const keepId = deliveryInstanceId(eventId, derivedReceiverId(`${url}/hold-keep`));
      const goneId = deliveryInstanceId(eventId, derivedReceiverId(`${url}/hold-gone`));
      const ended = async (instance: string) =>
        waitUntil(`${instance} to end`, async () => {
          const status = await durableStatus(stack, instance);
          return status && status.runtimeStatus !== "Running" && status.runtimeStatus !== "Pending" ? status : undefined;
        });
      const kept = await ended(keepId);
      expect(kept.runtimeStatus).toBe("Completed");
      expect(kept.customStatus).toMatchObject({ delivered: true, httpStatus: 200, receiver: derivedReceiverId(`${url}/hold-keep`) });
      const gone = await ended(goneId);
      expect(gone.runtimeStatus).toBe("Completed");
      expect(gone.customStatus).toMatchObject({ delivered: false, dropped: expect.stringMatching(/is no longer configured in NOTIFY_WEBHOOK_URLS/) });
      // Delivered again (after the crash) to its own receiver, now third in the list; nothing to the others.
      expect(eventsAt(receiver.received, "/hold-keep", 200).filter((e) => e.id === eventId)).toHaveLength(1);
      expect(eventsAt(receiver.received, "/hold-gone").filter((e) => e.id === eventId)).toHaveLength(1);
      expect(eventsAt(receiver.received, "/intruder").filter((e) => e.id === eventId)).toHaveLength(0);
      expect(eventsAt(receiver.received, "/ok").filter((e) => e.id === eventId)).toHaveLength(0);
      expect(fs.readFileSync(stack.runtimeLogFile, "utf8")).toMatch(new RegExp(`event ${eventId} dropped: webhook ${derivedReceiverId(`${url}/hold-gone`)} is no longer configured`));
      // Nothing of the URLs in the deliveries' status or history.
      for (const instance of [keepId, goneId]) expect(JSON.stringify(await durableStatus(stack, instance, true))).not.toContain("/hold-");
    } finally {
      stack.env.NOTIFY_WEBHOOK_URLS = original;
      if (down) await stack.runtime.restart().catch(() => undefined);
    }
  });
});

describe("notifications (real clock): a receiver that never answers delays nothing", () => {
  let stack: TestStack;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startTestStack({
      virtualClock: false,
      behaviour: { workflow: { stepSeconds: 1, commitSeconds: 1 } },
      appSettings: {
        POLL_INITIAL_SECONDS: "1",
        POLL_MAX_SECONDS: "1",
        NOTIFY_WEBHOOK_URLS: `${receiver.url}/silent`,
        NOTIFY_WEBHOOK_SECRET: SECRET,
        NOTIFY_TIMEOUT_SECONDS: "3",
        NOTIFY_MAX_ATTEMPTS: "3",
        NOTIFY_RETRY_FIRST_SECONDS: "1",
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await receiver?.close();
  });

  it("completes the submission at once after its last stage; the delivery retries in the background and ends Failed", async () => {
    const id = await stack.submissions.findByBlob(await dropPackage(stack, "ntf-silent"), 20_000);
    let succeededSeenAt = 0;
    const final = await stack.submissions.waitFor(id, (v) => v.runtimeStatus !== "Running" && v.runtimeStatus !== "Pending", {
      timeoutMs: 120_000,
      intervalMs: 50,
      onChange: (v) => {
        if (v.stage === "succeeded" && !succeededSeenAt) succeededSeenAt = Date.now();
      },
    });
    const completedSeenAt = Date.now();
    expect(final.runtimeStatus).toBe("Completed");
    // From our last stage to Completed: the queueing activity only, far less than one webhook timeout (3 s).
    expect(succeededSeenAt).toBeGreaterThan(0);
    expect(completedSeenAt - succeededSeenAt).toBeLessThan(2000);

    const deliveryId = deliveryInstanceId(notificationEventId(id, "succeeded", final.raw.createdTime as string), derivedReceiverId(`${receiver.url}/silent`));
    const running = await durableStatus(stack, deliveryId);
    expect(running?.runtimeStatus).toBe("Running");

    const ended = await waitUntil(
      "the silent delivery to give up",
      async () => {
        const status = await durableStatus(stack, deliveryId);
        return status && status.runtimeStatus !== "Running" && status.runtimeStatus !== "Pending" ? status : undefined;
      },
      60_000,
    );
    expect(ended.runtimeStatus).toBe("Failed");
    expect(ended.customStatus).toMatchObject({ attempts: 3, delivered: false, lastError: expect.stringContaining("no answer within 3 s") });
    expect(JSON.stringify(ended)).not.toContain("/silent");
    expect(receiver.received.filter((r) => r.path === "/silent")).toHaveLength(3);
    // The submission's outcome did not change.
    expect((await stack.submissions.get(id)).runtimeStatus).toBe("Completed");
  });
});
