/**
 * Proof: at-least-once and concurrent delivery never doubles work at Hardware Dev Center, and a
 * genuinely new package version is never mistaken for a duplicate.
 *   - one BlobCreated event delivered 5 times at once (racing the watcher's own delivery), plus an
 *     HTTP start for the same blob version, then 5 more times after completion → one orchestration,
 *     one product;
 *   - the same package name uploaded again with other bytes (new ETag), after the first run and
 *     while the first run is still running → two orchestrations, two products, both succeed;
 *   - two simultaneous POST /api/submissions for the same package version →
 *     one 202 and one 409 (or the same instance twice), one orchestration, one product.
 * One stack for the file; each test uses its own package names.
 */
import { randomUUID } from "node:crypto";
import { samplePackage } from "../../local/samplePackage";
import { APP_CONTAINERS } from "../../local/stack";
import type { BlobCreatedData, DeliveryRecord, EventGridEvent } from "../../local/runtime/eventGridWatcher";
import { eventGridKeyHeaders, startTestStack, waitForEnd, type SubmissionView, type TestStack } from "../support/stack";
import {
  defaultProductName,
  expectExactlyOnce,
  hdcEntries,
  listBlobNames,
  logMark,
  productsNamed,
  until,
  uploadPackage,
  type DroppedPackage,
} from "./support/proof";

jest.setTimeout(120_000);

const HTTP_CONTAINER = "proof-http-uploads";
const SUBMISSION_GET = "/products/\\d+/submissions/\\d+$";

describe("proof: duplicate and concurrent delivery", () => {
  let stack: TestStack;

  beforeAll(async () => {
    // HTTP-started packages come from their own container, which the app must be told about.
    stack = await startTestStack({ appSettings: { SUBMISSION_CONTAINERS: `${APP_CONTAINERS.drops},${HTTP_CONTAINER}` } });
  });
  afterAll(async () => {
    await stack?.stop();
  });
  afterEach(() => {
    stack.emulators.configure({ faults: [] });
  });

  /** A BlobCreated event for `pkg` shaped as Event Grid (and the local watcher) sends it. */
  function blobCreated(pkg: DroppedPackage, id: string): EventGridEvent<BlobCreatedData> {
    const url = stack.blobService.getContainerClient(pkg.container).getBlobClient(pkg.blobName).url;
    return {
      id,
      topic: "/subscriptions/local/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
      subject: `/blobServices/default/containers/${pkg.container}/blobs/${pkg.blobName}`,
      eventType: "Microsoft.Storage.BlobCreated",
      eventTime: new Date().toISOString(),
      dataVersion: "",
      metadataVersion: "1",
      data: {
        api: "PutBlob",
        clientRequestId: randomUUID(),
        requestId: randomUUID(),
        eTag: pkg.etag,
        contentType: "application/octet-stream",
        contentLength: pkg.bytes.length,
        blobType: "BlockBlob",
        url,
        sequencer: Date.now().toString(16).padStart(32, "0"),
        storageDiagnostics: { batchId: randomUUID() },
      },
    };
  }

  async function deliver(events: EventGridEvent[]): Promise<number> {
    const response = await fetch(`${stack.baseUrl}/_local/eventgrid`, {
      method: "POST",
      headers: { "content-type": "application/json", ...eventGridKeyHeaders(stack) },
      body: JSON.stringify(events),
    });
    await response.arrayBuffer();
    return response.status;
  }

  /** Every orchestration whose status mentions this blob (in any container). */
  async function instancesFor(blobName: string): Promise<SubmissionView[]> {
    return (await stack.submissions.list()).filter((view) => view.custom.package?.blobName === blobName || JSON.stringify(view.raw).includes(blobName));
  }

  it("one BlobCreated event delivered 5 times at once, and 5 more after completion: one orchestration, one product", async () => {
    const mark = logMark(stack);
    const pkg = await uploadPackage(stack, "proof-dup-event");
    const event = blobCreated(pkg, randomUUID());

    // Five concurrent deliveries of the same event, racing the watcher's own delivery and an HTTP
    // start for the same blob version (same instance id by design).
    const [deliveries, httpStart] = await Promise.all([
      Promise.all(Array.from({ length: 5 }, () => deliver([event]))),
      stack.submissions.start({ package: `${pkg.container}/${pkg.blobName}` }),
    ]);
    expect(deliveries).toEqual([200, 200, 200, 200, 200]);
    expect([202, 409]).toContain(httpStart.httpStatus);
    expect(httpStart.id).toBe(pkg.instanceId);

    const final = await waitForEnd(stack, pkg.instanceId);
    expect({ runtimeStatus: final.runtimeStatus, stage: final.stage }).toEqual({ runtimeStatus: "Completed", stage: "succeeded" });
    const ledger = (await (await fetch(`${stack.baseUrl}/_local/eventgrid/deliveries`, { headers: eventGridKeyHeaders(stack) })).json()) as DeliveryRecord[];
    expect(ledger.filter((d) => d.blobName === pkg.blobName).map((d) => d.state)).toEqual(["delivered"]);

    // Redelivery after completion (Event Grid retries for up to 24 hours) starts nothing either.
    expect(await deliver(Array.from({ length: 5 }, () => event))).toBe(200);
    const replayedFromLedger = ledger.find((d) => d.blobName === pkg.blobName)!.event;
    expect(await deliver([replayedFromLedger, replayedFromLedger])).toBe(200);
    await until("the redeliveries handled", async () => (await stack.submissions.get(pkg.instanceId)).runtimeStatus === "Completed", 10_000, 50);

    const instances = await instancesFor(pkg.blobName);
    expect(instances.map((v) => v.id)).toEqual([pkg.instanceId]);
    expect((await stack.submissions.get(pkg.instanceId)).custom.productId).toBe(final.custom.productId);
    expect(hdcEntries(stack, mark, "createProduct", true)).toHaveLength(1);
    expect(hdcEntries(stack, mark, "createSubmission", true)).toHaveLength(1);
    await expectExactlyOnce(stack, pkg, pkg.instanceId);
  });

  it("the same name uploaded again with other bytes after the first run finished: two orchestrations, two products, both succeed", async () => {
    const first = await uploadPackage(stack, "proof-dup-reupload");
    const firstFinal = await waitForEnd(stack, first.instanceId);
    expect(firstFinal.stage).toBe("succeeded");

    const second = await uploadPackage(stack, "proof-dup-reupload", { bytes: samplePackage({ folder: "proof-dup-reupload", version: "1.0.1" }).bytes });
    expect(second.blobName).toBe(first.blobName);
    expect(second.etag).not.toBe(first.etag);
    expect(second.instanceId).not.toBe(first.instanceId);
    const secondFinal = await waitForEnd(stack, second.instanceId);
    expect(secondFinal.stage).toBe("succeeded");

    await expectTwoVersionsSigned(first, second, [firstFinal, secondFinal]);
  });

  it("the same name uploaded again with other bytes while the first run is still running: two orchestrations, two products, both succeed", async () => {
    // Hold a few submission GETs so the first run is certainly still waiting for Microsoft when the
    // second version lands (its package is already copied: the new upload cannot change what it signs).
    stack.emulators.configure({ faults: [{ method: "GET", pathRegex: SUBMISSION_GET, delayMs: 1000, times: 3 }] });
    const first = await uploadPackage(stack, "proof-dup-overlap");
    await stack.submissions.waitFor(first.instanceId, (v) => v.stage === "waitingForMicrosoft", { timeoutMs: 30_000, intervalMs: 20 });

    const second = await uploadPackage(stack, "proof-dup-overlap", { bytes: samplePackage({ folder: "proof-dup-overlap", version: "2.0.0" }).bytes });
    expect(second.instanceId).not.toBe(first.instanceId);
    await until("the second version's orchestration", async () => (await stack.submissions.get(second.instanceId)).httpStatus === 200, 20_000, 20);
    const firstWhenSecondStarted = await stack.submissions.get(first.instanceId);
    expect(firstWhenSecondStarted.runtimeStatus).toBe("Running");

    const finals = [await waitForEnd(stack, first.instanceId), await waitForEnd(stack, second.instanceId)];
    for (const final of finals) expect({ runtimeStatus: final.runtimeStatus, stage: final.stage }).toEqual({ runtimeStatus: "Completed", stage: "succeeded" });
    await expectTwoVersionsSigned(first, second, finals);
  });

  /** Two products for the one name, each with one submission of its own version's bytes, and two result folders. */
  async function expectTwoVersionsSigned(first: DroppedPackage, second: DroppedPackage, finals: SubmissionView[]): Promise<void> {
    const products = productsNamed(stack, defaultProductName(first));
    expect(products).toHaveLength(2);
    expect(products.map((p) => p.submissions.length)).toEqual([1, 1]);
    const byProduct = new Map(products.map((p) => [p.id, p.submissions[0]]));
    const uploads = finals.map((final) => byProduct.get(final.custom.productId ?? "")?.upload?.sha256);
    expect(uploads).toEqual([first.sha256, second.sha256]);
    expect(new Set(finals.map((f) => f.custom.productId)).size).toBe(2);

    const blobs = await listBlobNames(stack, APP_CONTAINERS.signed, `${first.blobName}/`);
    for (const [index, pkg] of [first, second].entries()) {
      const folder = `${first.blobName}/${pkg.instanceId}/`;
      expect(blobs.filter((b) => b.startsWith(folder) && /\/Signed_[^/]+\.zip$/.test(b))).toEqual([`${folder}Signed_${finals[index].custom.submissionId}.zip`]);
      expect(blobs.filter((b) => b.startsWith(folder) && b.endsWith("/manifest.json"))).toEqual([`${folder}manifest.json`]);
    }
    expect(blobs.filter((b) => b.endsWith("/manifest.json"))).toHaveLength(2);
    expect((await instancesFor(first.blobName)).map((v) => v.id).sort()).toEqual([first.instanceId, second.instanceId].sort());
  }

  async function startTwiceAtOnce(body: Record<string, unknown>): Promise<{ statuses: number[]; ids: (string | undefined)[] }> {
    const answers = await Promise.all([stack.submissions.start(body), stack.submissions.start(body)]);
    return { statuses: answers.map((a) => a.httpStatus).sort(), ids: answers.map((a) => a.id) };
  }

  it("two simultaneous POST /api/submissions for one package version: one 202 and one 409, one orchestration, one product", async () => {
    const folder = "proof-dup-http-derived";
    const mark = logMark(stack);
    const pkg = await uploadPackage(stack, folder, { container: HTTP_CONTAINER });
    const instanceId = pkg.instanceId; // derived from the blob version; callers cannot choose it
    const { statuses, ids } = await startTwiceAtOnce({ package: `${HTTP_CONTAINER}/${pkg.blobName}` });
    expect(ids).toEqual([instanceId, instanceId]);
    expect([
      [202, 409],
      [202, 202],
    ]).toContainEqual(statuses);

    const final = await waitForEnd(stack, instanceId);
    expect({ runtimeStatus: final.runtimeStatus, stage: final.stage }).toEqual({ runtimeStatus: "Completed", stage: "succeeded" });
    expect((await instancesFor(pkg.blobName)).map((v) => v.id)).toEqual([instanceId]);
    expect(hdcEntries(stack, mark, "createProduct", true)).toHaveLength(1);
    await expectExactlyOnce(stack, pkg, instanceId);

    // The same request again once it has finished (a client retrying a timed-out POST): answered
    // 200 with the finished instance; still one product, one submission, one signed package.
    const again = await stack.submissions.start({ package: `${HTTP_CONTAINER}/${pkg.blobName}` });
    console.log(`POST /api/submissions twice at once: ${statuses.join("+")}, repeated after completion ${again.httpStatus}`);
    expect(again.id).toBe(instanceId);
    expect(again.httpStatus).toBe(200); // already signed: answered, nothing restarted
    const settled = await waitForEnd(stack, instanceId);
    expect(settled.stage).toBe("succeeded");
    expect(settled.custom.productId).toBe(final.custom.productId);
    expect(hdcEntries(stack, mark, "createProduct", true)).toHaveLength(1);
    expect(hdcEntries(stack, mark, "createSubmission", true)).toHaveLength(1);
    await expectExactlyOnce(stack, pkg, instanceId);
  });
});
