/**
 * `npm run local -- --engine real` (issue 39): the local stack with Microsoft's Durable Task extension running the
 * app's orchestrations and activities (the conformance host with the extension's own HTTP API on, a Node worker
 * with the app alone), while the HTTP, Event Grid and timer triggers stay in the runtime, whose durable clients
 * reach the extension at its loopback rpcBaseUrl as they do in Azure. Real clock; the emulator's review takes
 * about a second per step.
 *
 * Needs the .NET SDK (scripts/restore-conformance.sh), like the other tests under test/conformance.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { TableClient } from "@azure/data-tables";
import { describeWithConformanceHost } from "../support/conformanceHost";
import { samplePackage } from "../../local/samplePackage";
import { APP_CONTAINERS } from "../../local/stack";
import { readHostSettings } from "../../local/runtime/hostJson";
import { CLOUD_EVENT_TYPE_PREFIX, verifySignature } from "../../src/notifications/cloudEvent";
import { dropPackage, durableKeyHeaders, emulatorCounts, expectNothingSecret, startTestStack, type TestStack } from "../support/stack";

const HTTP_CONTAINER = "real-engine-http";
const ENDED_MS = 150_000;
const WEBHOOK_SECRET = "real-engine-webhook-secret-0123";
/** Polls every 2-4 s on the real clock (the app's defaults wait a minute and more). */
const SHORT_WAITS = { POLL_INITIAL_SECONDS: "2", POLL_MAX_SECONDS: "4", ACTIVITY_RETRY_FIRST_SECONDS: "1", ACTIVITY_RETRY_MAX_SECONDS: "4" };

const describeWithHost = describeWithConformanceHost("test/conformance/localStackRealEngine");

describeWithHost("the local stack on Microsoft's engine (--engine real)", () => {
  jest.setTimeout(300_000);
  let stack: TestStack;
  const hub = readHostSettings().hubName;
  /** Everything users could read back, checked for secrets at the end. */
  const readBack: string[] = [];

  /** What a webhook receiver got: the notifications go through queueNotification, an activity with a durable client. */
  const received: { body: string; signature?: string }[] = [];
  const receiver = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ body: Buffer.concat(chunks).toString("utf8"), signature: request.headers["x-signature-256"] as string | undefined });
      response.writeHead(200).end();
    });
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    stack = await startTestStack({
      engine: "real",
      virtualClock: false,
      behaviour: { workflow: { stepSeconds: 1, commitSeconds: 1 } },
      appSettings: {
        ...SHORT_WAITS,
        SUBMISSION_CONTAINERS: `${APP_CONTAINERS.drops},${HTTP_CONTAINER}`,
        NOTIFY_WEBHOOK_URLS: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
        NOTIFY_WEBHOOK_SECRET: WEBHOOK_SECRET,
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });

  /** The instance row as the extension keeps it (its own table), or undefined. */
  async function extensionInstance(id: string): Promise<Record<string, unknown> | undefined> {
    const table = TableClient.fromConnectionString(stack.azurite.connectionString, `${hub}Instances`, { allowInsecureConnection: true });
    return table.getEntity(id, "").catch(() => undefined) as Promise<Record<string, unknown> | undefined>;
  }

  it("a dropped package signs on the extension: status and list come from its HTTP API, one product and one submission at the emulator", async () => {
    expect(stack.engine).toBe("real");
    const blob = await dropPackage(stack, "real-engine-drop");
    const id = await stack.submissions.findByBlob(blob, 30_000);
    const final = await stack.submissions.waitFor(id, (v) => v.runtimeStatus !== "Running" && v.runtimeStatus !== "Pending", { timeoutMs: ENDED_MS });
    readBack.push(JSON.stringify(final.raw));
    expect({ runtimeStatus: final.runtimeStatus, stage: final.stage }).toEqual({ runtimeStatus: "Completed", stage: "succeeded" });
    expect(final.custom.signedPackage).toEqual(expect.objectContaining({ container: APP_CONTAINERS.signed }));
    expect(emulatorCounts(stack)).toEqual({ products: 1, submissions: 1 });

    // The instance is the extension's (its Instances table, written by DurableTask.AzureStorage), not our engine's.
    const row = await extensionInstance(id);
    expect(row).toEqual(expect.objectContaining({ Name: "submitDriver", RuntimeStatus: "Completed" }));
    // Our engine's table (local/durable/store.ts) is never even created.
    const ours = TableClient.fromConnectionString(stack.azurite.connectionString, `${hub}Durable`, { allowInsecureConnection: true });
    const ourRows: unknown = await (async () => {
      const rows: unknown[] = [];
      for await (const entity of ours.listEntities()) rows.push(entity);
      return rows;
    })().catch((error: { statusCode?: number }) => (error.statusCode === 404 ? "no table" : error));
    expect(ourRows).toBe("no table");

    const listed = await stack.submissions.list();
    readBack.push(JSON.stringify(listed.map((v) => v.raw)));
    expect(listed.map((v) => v.id)).toContain(id);
    expect(fs.readFileSync(stack.runtimeLogFile, "utf8")).toContain("Microsoft's Durable Task extension runs the orchestrations");

    // The worker's activity started the delivery orchestration through the extension's HTTP API: one signed event.
    const deadline = Date.now() + 60_000;
    const succeeded = () => received.filter((r) => (JSON.parse(r.body) as { type: string; subject: string }).subject === id);
    while (succeeded().length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
    const events = succeeded();
    expect(events.map((r) => (JSON.parse(r.body) as { type: string }).type)).toEqual([`${CLOUD_EVENT_TYPE_PREFIX}succeeded`]);
    expect(verifySignature(events[0].body, WEBHOOK_SECRET, events[0].signature)).toBe(true);
    readBack.push(events[0].body);
  });

  it("POST /api/submissions starts on the extension and cancel terminates it there", async () => {
    // Hold the emulator's answer to the submission's creation so the run is certainly still running when cancelled.
    stack.emulators.configure({ faults: [{ pathRegex: "/products/\\d+/submissions", delayMs: 4000, times: 1 }] });
    const pkg = samplePackage({ folder: "real-engine-cancel" });
    const container = stack.blobService.getContainerClient(HTTP_CONTAINER);
    await container.createIfNotExists();
    await container.getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
    const started = await stack.submissions.start({ package: `${HTTP_CONTAINER}/${pkg.fileName}` });
    readBack.push(JSON.stringify(started.raw));
    expect(started.httpStatus).toBe(202);
    const id = started.id!;
    await stack.submissions.waitFor(id, (v) => v.runtimeStatus === "Running" && v.stage !== "queued", { timeoutMs: 30_000, intervalMs: 50 });
    expect([200, 202]).toContain(await stack.submissions.cancel(id));
    const final = await stack.submissions.waitFor(id, (v) => v.runtimeStatus !== "Running" && v.runtimeStatus !== "Pending", { timeoutMs: 60_000 });
    readBack.push(JSON.stringify(final.raw));
    expect(final.runtimeStatus).toBe("Terminated");
    expect(await extensionInstance(id)).toEqual(expect.objectContaining({ RuntimeStatus: "Terminated" }));
    stack.emulators.configure({ faults: [] });
  });

  it("the front's Durable webhook reaches the extension with the system key and refuses without it", async () => {
    const [first] = await stack.submissions.list();
    if (!first?.id) throw new Error("no submission listed");
    const url = `${stack.baseUrl}/runtime/webhooks/durabletask/instances/${encodeURIComponent(first.id)}`;
    const refused = await fetch(url);
    expect(refused.status).toBe(401);
    const answered = await fetch(url, { headers: durableKeyHeaders(stack) });
    const body = (await answered.json()) as { instanceId?: string; runtimeStatus?: string };
    expect(answered.status).toBe(200);
    expect(body).toEqual(expect.objectContaining({ instanceId: first.id, runtimeStatus: first.runtimeStatus }));
  });

  it("a second stack on Microsoft's engine is refused while this one holds the extension's address", async () => {
    // Its host would start without its HTTP API, and its clients would reach this stack's extension instead.
    await expect(startTestStack({ engine: "real", virtualClock: false })).rejects.toThrow(/127\.0\.0\.1:17071 is in use/);
  });

  it("shows no secret in what users read, nor in the runtime's log (the extension's and the worker's lines included)", () => {
    expect(readBack.length).toBeGreaterThanOrEqual(4);
    for (const text of readBack) expectNothingSecret(stack, text);
    const log = fs.readFileSync(stack.runtimeLogFile, "utf8");
    expect(log).toContain("real engine");
    expectNothingSecret(stack, log);
    expect(log).not.toContain(WEBHOOK_SECRET);
    // The host's and the worker's command lines (what `ps` shows every user) carry no key either.
    const pids = /host pid (\d+), worker pid (\d+)/.exec(log);
    expect(pids).not.toBeNull();
    for (const pid of [pids![1], pids![2]]) {
      const commandLine = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
      expect(commandLine).toMatch(/ConformanceHost\.dll|worker\.js/);
      expectNothingSecret(stack, commandLine);
    }
  });
});
