/**
 * The whole app on the local runtime: blob drop and HTTP start through to a signed package, status
 * queries, cancellation, Event Grid redelivery, and no secrets in what users can read.
 * One stack (Azurite, emulators, runtime child process) for the file; each test uses its own package.
 */
import * as fs from "node:fs";
import { APP_CONTAINERS } from "../../local/stack";
import {
  createProductCalls,
  dropPackage,
  emulatorCounts,
  eventGridKeyHeaders,
  expectNothingSecret,
  startTestStack,
  waitForEnd,
  type TestStack,
} from "../support/stack";
import { samplePackage } from "../../local/samplePackage";
import type { EventGridEvent } from "../../local/runtime/eventGridWatcher";
import type { DeliveryRecord } from "../../local/runtime/eventGridWatcher";

jest.setTimeout(120_000);

const HTTP_CONTAINER = "e2e-http-uploads";

describe("submissions end to end (virtual clock)", () => {
  let stack: TestStack;
  /** Everything users could read back, checked for secrets at the end. */
  const readBack: string[] = [];

  beforeAll(async () => {
    // HTTP-started packages come from their own container, which the app must be told about.
    stack = await startTestStack({ appSettings: { SUBMISSION_CONTAINERS: `${APP_CONTAINERS.drops},${HTTP_CONTAINER}` } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** HTTP-started packages live outside the watched drops container, so Event Grid does not start them too. */
  async function uploadOutsideDrops(blobName: string, bytes: Buffer): Promise<void> {
    const container = stack.blobService.getContainerClient(HTTP_CONTAINER);
    await container.createIfNotExists();
    await container.getBlockBlobClient(blobName).uploadData(bytes);
  }

  async function blobText(container: string, blobName: string): Promise<string> {
    return (await stack.blobService.getContainerClient(container).getBlobClient(blobName).downloadToBuffer()).toString("utf8");
  }

  it("takes a dropped package to a signed package and manifest in signed-drivers", async () => {
    const before = emulatorCounts(stack);
    const blobName = await dropPackage(stack, "e2e-drop");
    const id = await stack.submissions.findByBlob(blobName, 20_000);
    const final = await waitForEnd(stack, id);
    readBack.push(JSON.stringify(final.raw));

    expect(final.runtimeStatus).toBe("Completed");
    expect(final.stage).toBe("succeeded");
    expect(final.custom.productId).toMatch(/^\d+$/);
    expect(final.custom.submissionId).toMatch(/^\d+$/);
    const signed = final.custom.signedPackage;
    const manifest = final.custom.manifest;
    expect(signed?.container).toBe(APP_CONTAINERS.signed);
    expect(manifest?.container).toBe(APP_CONTAINERS.signed);
    expect(await stack.blobService.getContainerClient(APP_CONTAINERS.signed).getBlobClient(signed!.blobName).exists()).toBe(true);
    const manifestText = await blobText(manifest!.container, manifest!.blobName);
    readBack.push(manifestText);
    expect(JSON.parse(manifestText)).toMatchObject({ outcome: "succeeded", productId: final.custom.productId, submissionId: final.custom.submissionId });
    expect(emulatorCounts(stack)).toEqual({ products: before.products + 1, submissions: before.submissions + 1 });
  });

  it("does not start anything new when Event Grid delivers the same event again", async () => {
    const blobName = await dropPackage(stack, "e2e-replay");
    const id = await stack.submissions.findByBlob(blobName, 20_000);
    const first = await waitForEnd(stack, id);
    expect(first.runtimeStatus).toBe("Completed");
    const counts = emulatorCounts(stack);
    const productCalls = createProductCalls(stack);

    const deliveries = (await (await fetch(`${stack.baseUrl}/_local/eventgrid/deliveries`, { headers: eventGridKeyHeaders(stack) })).json()) as DeliveryRecord[];
    const delivery = deliveries.find((d) => d.blobName === blobName);
    expect(delivery?.state).toBe("delivered");
    const replay = await fetch(`${stack.baseUrl}/_local/eventgrid`, {
      method: "POST",
      headers: { "content-type": "application/json", ...eventGridKeyHeaders(stack) },
      body: JSON.stringify([delivery!.event, delivery!.event] satisfies EventGridEvent[]),
    });
    expect(replay.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));

    const matching = (await stack.submissions.list()).filter((view) => JSON.stringify(view.raw).includes(blobName));
    expect(matching).toHaveLength(1);
    const after = await stack.submissions.get(id);
    expect(after.runtimeStatus).toBe("Completed");
    expect(after.custom.productId).toBe(first.custom.productId);
    expect(emulatorCounts(stack)).toEqual(counts);
    expect(createProductCalls(stack)).toBe(productCalls);
  });

  it("starts from POST /api/submissions, reports status, and completes", async () => {
    const pkg = samplePackage({ folder: "e2e-http" });
    await uploadOutsideDrops(pkg.fileName, pkg.bytes);
    const response = await fetch(`${stack.apiUrl}/submissions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-functions-key": stack.functionKey },
      body: JSON.stringify({ package: `${HTTP_CONTAINER}/${pkg.fileName}` }),
    });
    const text = await response.text();
    readBack.push(text);
    expect(response.status).toBe(202);
    // Only our own URLs: never the Durable webhook, never a key.
    const sent = JSON.stringify([...response.headers]) + text;
    expect(sent).not.toContain("/runtime/webhooks/");
    expect(sent).not.toMatch(/code=/i);
    const accepted = JSON.parse(text) as { id: string; statusUrl: string; cancelUrl: string };
    expect(accepted.statusUrl).toBe(`${stack.apiUrl}/submissions/${accepted.id}`);
    expect(response.headers.get("location")).toBe(accepted.statusUrl);
    const id = accepted.id;

    const early = await stack.submissions.get(id);
    readBack.push(JSON.stringify(early.raw));
    expect(early.httpStatus).toBe(200);
    expect(early.stage).toEqual(expect.any(String));

    const final = await waitForEnd(stack, id);
    readBack.push(JSON.stringify(final.raw));
    expect(final.runtimeStatus).toBe("Completed");
    expect(final.stage).toBe("succeeded");
  });

  it("refuses the app's and the host's containers, and bodies over 64 KiB", async () => {
    for (const container of [APP_CONTAINERS.signed, APP_CONTAINERS.state, "azure-webjobs-secrets", "not-configured"]) {
      const refused = await stack.submissions.start({ package: `${container}/x.hlkx` });
      expect(refused.httpStatus).toBe(400);
      expect(JSON.stringify(refused.raw)).toContain('"field":"package"');
    }
    const big = await fetch(`${stack.apiUrl}/submissions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-functions-key": stack.functionKey },
      body: JSON.stringify({ package: `${APP_CONTAINERS.drops}/x.hlkx`, pad: "x".repeat(70 * 1024) }),
    });
    expect(big.status).toBe(413);
  });

  it("lists submissions in pages", async () => {
    const all = await stack.submissions.list();
    expect(all.length).toBeGreaterThanOrEqual(3);
    const paged: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 20; page++) {
      const result = await stack.submissions.listPage({ top: "1", ...(token ? { continuationToken: token } : {}) });
      expect(result.items.length).toBeLessThanOrEqual(1);
      paged.push(...result.items.map((item) => item.id!));
      token = result.continuationToken;
      if (!token) break;
    }
    expect(paged.sort()).toEqual(all.map((view) => view.id!).sort());
    expect((await fetch(`${stack.apiUrl}/submissions?top=0`, { headers: { "x-functions-key": stack.functionKey } })).status).toBe(400);
  });

  it("re-posting after Microsoft failed the submission creates a new (derived) submission on the same product", async () => {
    stack.emulators.configure({ workflow: { failAtStep: "validation", failMessages: ["Test results missing for Device.Connectivity.UsbDevices"] } });
    const pkg = samplePackage({ folder: "e2e-repost" });
    await uploadOutsideDrops(pkg.fileName, pkg.bytes);
    const body = { package: `${HTTP_CONTAINER}/${pkg.fileName}` };
    const first = await stack.submissions.start(body);
    expect(first.httpStatus).toBe(202);
    const failed = await waitForEnd(stack, first.id!);
    readBack.push(JSON.stringify(failed.raw));
    expect(failed.runtimeStatus).toBe("Failed");
    expect(failed.custom.failureKind).toBe("microsoft");
    expect(failed.raw.error).not.toMatch(/Orchestrator function|Activity function|\$type|\n\s+at /);

    stack.emulators.configure({ workflow: { failAtStep: undefined, failMessages: undefined } });
    const again = await stack.submissions.start(body);
    expect(again.httpStatus).toBe(202);
    expect(again.raw).toMatchObject({ id: first.id, restarted: true, newSubmission: true });
    const final = await waitForEnd(stack, first.id!);
    readBack.push(JSON.stringify(final.raw));
    expect(final.runtimeStatus).toBe("Completed");
    expect(final.custom.productId).toBe(failed.custom.productId);
    expect(final.custom.submissionId).not.toBe(failed.custom.submissionId);
    const product = stack.emulators.state().products.find((p) => p.id === final.custom.productId)!;
    expect(product.submissions.map((submission) => submission.type)).toEqual(["initial", "derived"]);
  });

  it("answers 404 for an unknown submission id", async () => {
    const unknown = await stack.submissions.get("no-such-submission-0000");
    readBack.push(JSON.stringify(unknown.raw));
    expect(unknown.httpStatus).toBe(404);
  });

  it("cancels a running submission: it ends Terminated", async () => {
    // Hold Hardware Dev Center's answers so the orchestration is certainly still running when cancelled.
    stack.emulators.configure({ faults: [{ pathRegex: "/products/\\d+/submissions", delayMs: 3000, times: 1 }] });
    const pkg = samplePackage({ folder: "e2e-cancel" });
    await uploadOutsideDrops(pkg.fileName, pkg.bytes);
    const started = await stack.submissions.start({ package: `${HTTP_CONTAINER}/${pkg.fileName}` });
    expect([200, 201, 202]).toContain(started.httpStatus);
    const id = started.id!;
    await stack.submissions.waitFor(id, (v) => v.runtimeStatus === "Running" && v.stage !== "queued", { timeoutMs: 20_000, intervalMs: 50 });

    const cancelStatus = await stack.submissions.cancel(id);
    expect([200, 202]).toContain(cancelStatus);
    const final = await stack.submissions.waitFor(id, (v) => v.runtimeStatus !== "Running" && v.runtimeStatus !== "Pending", { timeoutMs: 20_000 });
    readBack.push(JSON.stringify(final.raw));
    expect(final.runtimeStatus).toBe("Terminated");
    stack.emulators.configure({ faults: [] });
  });

  it("never shows the client secret, a token or a SAS signature in what users read", async () => {
    readBack.push(JSON.stringify((await stack.submissions.list()).map((v) => v.raw)));
    expect(readBack.length).toBeGreaterThan(3);
    for (const text of readBack) expectNothingSecret(stack, text);
    // The runtime's log (app logs included) is read by people too.
    expectNothingSecret(stack, fs.readFileSync(stack.runtimeLogFile, "utf8"));
  });
});
