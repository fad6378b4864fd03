/**
 * Trigger decisions with a fake durable client handed in through the InvocationContext's extraInputs
 * and fake storage; end-to-end trigger tests run on the local runtime.
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

const blobs = new Map<string, { content: Buffer; etag: string }>();
/** Blobs whose content was downloaded (container/name). */
const downloads: string[] = [];
const notFound = () => Object.assign(new Error("BlobNotFound"), { statusCode: 404 });
const fakeService = {
  getContainerClient: (container: string) => ({
    getBlobClient: (name: string) => ({
      getProperties: async () => {
        const blob = blobs.get(`${container}/${name}`);
        if (!blob) throw notFound();
        return { contentLength: blob.content.length, etag: blob.etag };
      },
      downloadToBuffer: async (offset: number, count: number) => {
        downloads.push(`${container}/${name}`);
        return blobs.get(`${container}/${name}`)!.content.subarray(offset, offset + count);
      },
    }),
    // Claims (claims/<kind>/<id> in the state container) are read whole.
    getBlockBlobClient: (name: string) => ({
      download: async () => {
        const blob = blobs.get(`${container}/${name}`);
        if (!blob) throw notFound();
        return { etag: blob.etag, readableStreamBody: [blob.content] };
      },
    }),
  }),
};
jest.mock("../../../src/storage/blobService", () => ({ getBlobServiceClient: jest.fn(() => fakeService) }));
// The audit store against Azurite is test/unit/audit; here only what the drop trigger records.
const auditWrites: Array<Record<string, unknown>> = [];
const auditKeys: Array<string | undefined> = [];
const recordedKeys = new Set<string>();
jest.mock("../../../src/audit/store", () => ({
  auditStoreReady: jest.fn(async () => undefined),
  keyedRecordExists: jest.fn(async (_service: unknown, _config: unknown, key: string) => recordedKeys.has(key)),
  writeAuditRecord: jest.fn(async (_service: unknown, _config: unknown, record: Record<string, unknown>, options?: { key?: string }) => {
    auditWrites.push(record);
    auditKeys.push(options?.key);
    return "name";
  }),
}));
jest.mock("../../../src/storage/manifests", () => ({
  recordRejection: jest.fn(async (_service: unknown, _config: unknown, manifest: { package: { blobName: string } }) => ({
    container: "signed-drivers",
    blobName: `${manifest.package.blobName}/manifest.json`,
  })),
}));

import { type EventGridEvent, HttpRequest, InvocationContext } from "@azure/functions";
import type { SubmitDriverInput } from "../../../src/activities/contract";
import { parseConfig, resetConfigCache } from "../../../src/config";
import "../../../src/index";
import { handleCancelSubmission } from "../../../src/functions/cancelSubmission";
import { handlePackageDropped } from "../../../src/functions/packageDropped";
import { handleStartSubmission } from "../../../src/functions/startSubmission";
import { handleListSubmissions, handleSubmissionStatus } from "../../../src/functions/submissionStatus";
import { instanceIdForPackage } from "../../../src/domain/instanceId";
import { recordRejection } from "../../../src/storage/manifests";
import { getRegisteredFunctions, triggerOf } from "../../../local/functionsHost/coreStandIn";
import { attachCaller, KEY_HOLDER } from "../../../src/identity/caller";
import type { Caller } from "../../../src/domain/principal";

interface FakeInstance {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  customStatus?: unknown;
  output?: unknown;
  createdTime: string;
  lastUpdatedTime: string;
}

const webhookPayload = (id: string) => ({
  id,
  statusQueryGetUri: `http://localhost:7071/runtime/webhooks/durabletask/instances/${id}?taskHub=DriverSigningHub&connection=Storage&code=SYSTEMKEY`,
  terminatePostUri: `http://localhost:7071/runtime/webhooks/durabletask/instances/${id}/terminate?reason={text}&taskHub=DriverSigningHub&connection=Storage&code=SYSTEMKEY`,
});

function fakeClient(existing: FakeInstance[] = [], startError?: Error) {
  const instances = new Map(existing.map((instance) => [instance.instanceId, instance]));
  const started: Array<{ name: string; instanceId: string; input: SubmitDriverInput }> = [];
  const terminated: string[] = [];
  const pageQueries: Array<Record<string, unknown>> = [];
  const client = {
    taskHubName: "DriverSigningHub",
    startNew: jest.fn(async (name: string, options: { instanceId: string; input: SubmitDriverInput }) => {
      if (startError) throw startError;
      started.push({ name, ...options });
      return options.instanceId;
    }),
    getStatus: jest.fn(async (id: string) => {
      const instance = instances.get(id);
      if (!instance) throw new Error(`DurableClient error: Durable Functions extension replied with HTTP 404 response. ${id}`);
      return instance;
    }),
    getStatusBy: jest.fn(async (filter: { runtimeStatus: string[] }) => [...instances.values()].filter((i) => filter.runtimeStatus.includes(i.runtimeStatus))),
    terminate: jest.fn(async (id: string) => {
      terminated.push(id);
    }),
    purgeInstanceHistoryBy: jest.fn(async () => ({ instancesDeleted: 0 })),
    // What the real client offers (URLs with the extension's system key); the app must not use them.
    createHttpManagementPayload: jest.fn((id: string) => webhookPayload(id)),
    createCheckStatusResponse: jest.fn((_request: unknown, id: string) => ({
      json: async () => webhookPayload(id),
      headers: new Headers({ Location: webhookPayload(id).statusQueryGetUri, "Retry-After": "10" }),
    })),
    /** The extension's paged instance query: `top` per page (sorted by id), the token is base64 JSON naming the last instance id. */
    listInstancesPage: jest.fn(async (query: { top: number; continuationToken?: string; runtimeStatus?: string[] }) => {
      pageQueries.push(query as unknown as Record<string, unknown>);
      const after = query.continuationToken ? (JSON.parse(Buffer.from(query.continuationToken, "base64").toString()) as { after: string }).after : undefined;
      const matching = [...instances.values()]
        .filter((i) => !query.runtimeStatus?.length || query.runtimeStatus.includes(i.runtimeStatus))
        .sort((a, b) => a.instanceId.localeCompare(b.instanceId))
        .filter((i) => !after || i.instanceId > after);
      const page = matching.slice(0, query.top);
      const next = matching.length > query.top ? Buffer.from(JSON.stringify({ after: page[page.length - 1].instanceId })).toString("base64") : undefined;
      return { instances: page, continuationToken: next };
    }),
  };
  return { client, started, terminated, pageQueries };
}

function contextFor(functionName: string, client: unknown): InvocationContext {
  const registered = getRegisteredFunctions().get(functionName)!;
  const durableInput = Object.values(registered.bindings).find((binding) => binding.type === "durableClient")!;
  const context = new InvocationContext({
    functionName,
    options: { trigger: triggerOf(registered) as never, extraInputs: [durableInput as never], extraOutputs: [] },
    logHandler: () => undefined,
  });
  context.extraInputs.set(durableInput as never, client);
  // Called past the gate, as under AUTH_MODE=keys: the key holder (the gate and owners: callerGate.test.ts, owners e2e).
  attachCaller(context, KEY_HOLDER);
  return context;
}

function blobCreated(blobName: string, overrides: Partial<EventGridEvent> = {}, data: Record<string, unknown> = {}): EventGridEvent {
  return {
    id: "evt-1",
    topic: "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z",
    subject: `/blobServices/default/containers/driver-drops/blobs/${blobName}`,
    eventType: "Microsoft.Storage.BlobCreated",
    eventTime: "2025-01-01T00:00:00Z",
    dataVersion: "",
    metadataVersion: "1",
    data: { url: `https://z.blob.core.windows.net/driver-drops/${blobName}`, eTag: "0x8DC0FFEE", contentLength: 4096, contentType: "application/octet-stream", ...data },
    ...overrides,
  };
}

/** The package blob the event is about, as storage holds it (quoted ETag, real length). */
function putPackage(blobName: string, etag = "0x8DC0FFEE", size = 4096): void {
  blobs.set(`driver-drops/${blobName}`, { content: Buffer.alloc(size), etag: `"${etag}"` });
}

beforeAll(() => {
  Object.assign(process.env, {
    AzureWebJobsStorage: "UseDevelopmentStorage=true",
    HDC_TENANT_ID: "tenant",
    HDC_CLIENT_ID: "client",
    HDC_CLIENT_SECRET: "not-used-here",
    DROPS_CONTAINER: "driver-drops",
  });
  resetConfigCache();
});
beforeEach(() => {
  blobs.clear();
  downloads.length = 0;
  jest.mocked(recordRejection).mockClear();
});

describe("registrations", () => {
  test("every trigger, the orchestrations and the activities are registered with their bindings", () => {
    const functions = getRegisteredFunctions();
    expect([...functions.keys()].sort()).toEqual(
      [
        "authenticate",
        "cancelSubmission",
        "checkResumeClaims",
        "commitSubmission",
        "copyPackage",
        "createProduct",
        "createUpload",
        "createSubmission",
        "dashboard",
        "deliverNotification",
        "downloadSignedPackage",
        "driverMetadataLink",
        "errorReportLink",
        "copyErrorReport",
        "getSubmissionStatus",
        "listSubmissions",
        "manifestLink",
        "packageDropped",
        "signedPackageLink",
        "purgeFinishedSubmissions",
        "readAudit",
        "queueNotification",
        "recordRejectedDrop",
        "sendWebhook",
        "startSubmission",
        "submissionStatus",
        "submitDriver",
        "writeResultManifest",
        // Publishing after signing (issue 11).
        "publishLabel",
        "prepareShippingLabel",
        "createShippingLabel",
        "getShippingLabelStatus",
        "updateShippingLabel",
        "cancelShippingLabel",
        // Label changes in the background (issue 30).
        "changeLabel",
        "labelChangeStatus",
        "startLabel",
        "listLabels",
        "updateLabel",
        "cancelLabel",
        // Preproduction signing (issue 40).
        "signPreproduction",
        "uploadPreprodPackage",
        "getPreprodStatus",
        "downloadPreprodSigned",
        // Preflight in the service (issue 37).
        "preflightPackage",
        // The signed package's check after download (issue 36).
        "verifySignedPackage",
        // A second person before Windows Update (issue 34).
        "decideApproval",
        "listApprovals",
      ].sort(),
    );
    expect(triggerOf(functions.get("signPreproduction")!).type).toBe("orchestrationTrigger");
    expect(triggerOf(functions.get("uploadPreprodPackage")!).type).toBe("activityTrigger");
    expect(triggerOf(functions.get("packageDropped")!).type).toBe("eventGridTrigger");
    expect(triggerOf(functions.get("submitDriver")!).type).toBe("orchestrationTrigger");
    expect(triggerOf(functions.get("copyPackage")!).type).toBe("activityTrigger");
    expect(triggerOf(functions.get("verifySignedPackage")!).type).toBe("activityTrigger");
    expect(triggerOf(functions.get("startSubmission")!)).toMatchObject({ route: "submissions", methods: ["POST"], authLevel: "function" });
    expect(triggerOf(functions.get("publishLabel")!).type).toBe("orchestrationTrigger");
    expect(triggerOf(functions.get("updateLabel")!)).toMatchObject({ route: "submissions/{id}/labels/{labelId}", methods: ["PATCH"], authLevel: "function" });
    expect(triggerOf(functions.get("cancelLabel")!)).toMatchObject({ route: "submissions/{id}/labels/{labelId}/cancel", methods: ["POST"], authLevel: "function" });
    expect(triggerOf(functions.get("submissionStatus")!)).toMatchObject({ route: "submissions/{id}", methods: ["GET"] });
    expect(triggerOf(functions.get("cancelSubmission")!)).toMatchObject({ route: "submissions/{id}/cancel", methods: ["POST"] });
    expect(triggerOf(functions.get("createUpload")!)).toMatchObject({ route: "uploads", methods: ["POST"], authLevel: "function" });
    expect(triggerOf(functions.get("signedPackageLink")!)).toMatchObject({ route: "submissions/{id}/signed-package", methods: ["GET"], authLevel: "function" });
    expect(triggerOf(functions.get("driverMetadataLink")!)).toMatchObject({ route: "submissions/{id}/driver-metadata", methods: ["GET"], authLevel: "function" });
    expect(triggerOf(functions.get("manifestLink")!)).toMatchObject({ route: "submissions/{id}/manifest", methods: ["GET"], authLevel: "function" });
    expect(triggerOf(functions.get("errorReportLink")!)).toMatchObject({ route: "submissions/{id}/error-report", methods: ["GET"], authLevel: "function" });
    expect(triggerOf(functions.get("purgeFinishedSubmissions")!)).toMatchObject({ type: "timerTrigger", schedule: "0 30 3 * * *" });
  });
});

describe("packageDropped (Event Grid)", () => {
  test("a new .hlkx starts submitDriver with a derived id, defaults, hlk harness and config policies", async () => {
    putPackage("team/contoso-usb-2.3.1.hlkx");
    const { client, started } = fakeClient();
    const decision = await handlePackageDropped(blobCreated("team/contoso-usb-2.3.1.hlkx"), contextFor("packageDropped", client));

    const instanceId = instanceIdForPackage("driver-drops", "team/contoso-usb-2.3.1.hlkx", "0x8DC0FFEE");
    expect(decision).toEqual({ action: "started", instanceId });
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({
      name: "submitDriver",
      instanceId,
      input: {
        // The version as storage reports it (a quoted ETag), not as the event spelled it.
        package: { container: "driver-drops", blobName: "team/contoso-usb-2.3.1.hlkx", etag: '"0x8DC0FFEE"', contentLength: 4096 },
        product: { productName: "contoso-usb-2.3.1", testHarness: "hlk", requestedSignatures: ["WINDOWS_v100_X64_RS5_FULL"] },
        submissionName: "contoso-usb-2.3.1",
        submissionType: "initial",
        requestedBy: "eventGrid",
        polling: { initialIntervalSeconds: 60, pollsPerGeneration: 20 },
        retry: { maxAttempts: 5 },
      },
    });
    expect(started[0].input.resume).toBeUndefined();
  });

  test("a sidecar supplies product fields; the harness still follows .cab when not given", async () => {
    blobs.set("driver-drops/x.cab.json", {
      content: Buffer.from(JSON.stringify({ productName: "Contoso Touch", isTestSign: true, submissionName: "nightly" })),
      etag: "1",
    });
    putPackage("x.cab");
    const { client, started } = fakeClient();
    await handlePackageDropped(blobCreated("x.cab"), contextFor("packageDropped", client));
    expect(started[0].input).toMatchObject({
      product: { productName: "Contoso Touch", isTestSign: true, testHarness: "attestation" },
      submissionName: "nightly",
      polling: { deadlineMinutes: 360 },
    });
  });

  test("an invalid sidecar is rejected naming the field; no submission starts, only the rejection record", async () => {
    blobs.set("driver-drops/x.hlkx.json", { content: Buffer.from(JSON.stringify({ deviceType: "usb" })), etag: "1" });
    putPackage("x.hlkx");
    const { client, started } = fakeClient();
    const decision = await handlePackageDropped(blobCreated("x.hlkx"), contextFor("packageDropped", client));
    expect(decision).toMatchObject({ action: "rejected", reason: expect.stringMatching(/sidecar x\.hlkx\.json: deviceType must be one of/) });
    expect(started.map((s) => s.name)).toEqual(["recordRejectedDrop"]);
    expect(started[0]).toMatchObject({ instanceId: (decision as { instanceId: string }).instanceId, input: { reason: (decision as { reason: string }).reason } });
    expect(jest.mocked(recordRejection).mock.calls[0][2]).toMatchObject({ outcome: "rejected", package: { blobName: "x.hlkx" } });
  });

  test("an oversized or non-JSON sidecar is rejected", async () => {
    blobs.set("driver-drops/big.hlkx.json", { content: Buffer.alloc(64 * 1024 + 1, 32), etag: "1" });
    blobs.set("driver-drops/bad.hlkx.json", { content: Buffer.from("{nope"), etag: "1" });
    putPackage("big.hlkx");
    putPackage("bad.hlkx");
    const { client, started } = fakeClient();
    const big = await handlePackageDropped(blobCreated("big.hlkx"), contextFor("packageDropped", client));
    const bad = await handlePackageDropped(blobCreated("bad.hlkx"), contextFor("packageDropped", client));
    expect(big).toMatchObject({ action: "rejected", reason: expect.stringMatching(/at most 65536/) });
    expect(downloads).not.toContain("driver-drops/big.hlkx.json"); // refused on its size, never downloaded
    expect(bad).toMatchObject({ action: "rejected", reason: expect.stringMatching(/not valid JSON/) });
    expect(started.map((s) => s.name)).toEqual(["recordRejectedDrop", "recordRejectedDrop"]);
  });

  test("redelivery of the same blob version starts nothing new", async () => {
    putPackage("x.hlkx");
    const instanceId = instanceIdForPackage("driver-drops", "x.hlkx", "0x8DC0FFEE");
    const { client, started } = fakeClient([
      { name: "submitDriver", instanceId, runtimeStatus: "Running", input: null, createdTime: "", lastUpdatedTime: "" },
    ]);
    const decision = await handlePackageDropped(blobCreated("x.hlkx"), contextFor("packageDropped", client));
    expect(decision).toEqual({ action: "alreadyStarted", instanceId, runtimeStatus: "Running" });
    expect(started).toHaveLength(0);
  });

  test("a start that loses a race counts as already started: the host's 500 is read back from the instance", async () => {
    // The extension refuses a duplicate start with a 500 and a generic message, never a 409.
    putPackage("x.hlkx");
    const instanceId = instanceIdForPackage("driver-drops", "x.hlkx", "0x8DC0FFEE");
    const raced = fakeClient([], new Error("DurableClient error: Durable Functions extension replied with HTTP 500 response."));
    raced.client.startNew.mockImplementationOnce(async () => {
      raced.client.getStatus.mockImplementation(async (id: string) => ({ instanceId: id, runtimeStatus: "Running" }) as never);
      throw new Error("DurableClient error: Durable Functions extension replied with HTTP 500 response.");
    });
    const decision = await handlePackageDropped(blobCreated("x.hlkx"), contextFor("packageDropped", raced.client));
    expect(decision).toEqual({ action: "alreadyStarted", instanceId, runtimeStatus: "Running" });
  });

  test("a start that fails for another reason is not taken for a race", async () => {
    putPackage("x.hlkx");
    const { client } = fakeClient([], new Error("DurableClient error: Durable Functions extension replied with HTTP 500 response."));
    await expect(handlePackageDropped(blobCreated("x.hlkx"), contextFor("packageDropped", client))).rejects.toThrow(/HTTP 500/);
  });

  test("a new ETag (the package was replaced) starts a new instance", async () => {
    const { client, started } = fakeClient();
    putPackage("x.hlkx");
    await handlePackageDropped(blobCreated("x.hlkx"), contextFor("packageDropped", client));
    putPackage("x.hlkx", "0x8DBEEF");
    await handlePackageDropped(blobCreated("x.hlkx", {}, { eTag: "0x8DBEEF" }), contextFor("packageDropped", client));
    expect(new Set(started.map((s) => s.instanceId)).size).toBe(2);
  });

  test.each([
    ["readme.txt", 4096, /blobName: package must end in \.hlkx/],
    // Storage's length decides, whatever the event says.
    ["empty.hlkx", 0, /contentLength: package is empty/],
  ])("%s is rejected with a manifest saying why", async (name, size, reason) => {
    putPackage(name, "0x8DC0FFEE", size);
    const { client, started } = fakeClient();
    const decision = await handlePackageDropped(blobCreated(name, {}, { contentLength: 4096 }), contextFor("packageDropped", client));
    expect(decision).toMatchObject({ action: "rejected", reason: expect.stringMatching(reason) });
    // No submission: only the record that lists the rejection (GET /api/submissions), under the same id.
    expect(started.map((s) => [s.name, s.instanceId])).toEqual([["recordRejectedDrop", (decision as { instanceId: string }).instanceId]]);
    expect(recordRejection).toHaveBeenCalledTimes(1);
    expect(client.getStatus.mock.calls.map((call) => call[0])).toEqual([(decision as { instanceId: string }).instanceId]);
  });

  test.each<[string, EventGridEvent]>([
    ["a sidecar", blobCreated("x.hlkx.json")],
    ["another container", blobCreated("x.hlkx", { subject: "/blobServices/default/containers/signed-drivers/blobs/x.hlkx" })],
    ["a delete event", blobCreated("x.hlkx", { eventType: "Microsoft.Storage.BlobDeleted" })],
  ])("%s is ignored without a rejection", async (_label, event) => {
    const { client, started } = fakeClient();
    const decision = await handlePackageDropped(event, contextFor("packageDropped", client));
    expect(decision.action).toBe("ignored");
    expect(started).toHaveLength(0);
    expect(recordRejection).not.toHaveBeenCalled();
  });

  test.each<[string, () => void, EventGridEvent, RegExp]>([
    ["a blob that does not exist", () => undefined, blobCreated("ghost.hlkx"), /the blob does not exist/],
    ["a blob that does not exist, under a name that is no package", () => undefined, blobCreated("any/prefix/readme.txt"), /the blob does not exist/],
    ["a forged data.eTag for a blob that exists", () => putPackage("x.hlkx"), blobCreated("x.hlkx", {}, { eTag: "0x8DFORGED" }), /the blob's ETag is 0x8DC0FFEE, the event names 0x8DFORGED/],
    ["no data.eTag", () => putPackage("x.hlkx"), blobCreated("x.hlkx", {}, { eTag: undefined }), /no data\.eTag/],
    ["an empty data.eTag", () => putPackage("x.hlkx"), blobCreated("x.hlkx", {}, { eTag: "" }), /no data\.eTag/],
    ["a data.eTag that is not a string", () => putPackage("x.hlkx"), blobCreated("x.hlkx", {}, { eTag: 5 }), /no data\.eTag/],
  ])("%s: nothing started, no manifest, no listed record", async (_label, arrange, event, reason) => {
    arrange();
    const { client, started } = fakeClient();
    const decision = await handlePackageDropped(event, contextFor("packageDropped", client));
    expect(decision).toEqual({ action: "unverified", reason: expect.stringMatching(reason) });
    expect(started).toHaveLength(0);
    expect(recordRejection).not.toHaveBeenCalled();
    expect(client.getStatus).not.toHaveBeenCalled();
    expect(downloads).toHaveLength(0);
  });

  test("the instance id comes from the blob's real ETag, never from the event id", async () => {
    putPackage("x.hlkx");
    const { client, started } = fakeClient();
    const one = await handlePackageDropped(blobCreated("x.hlkx", { id: "evt-1" }), contextFor("packageDropped", client));
    // Another event id, the ETag spelled as a HEAD response spells it: the same version, the same instance.
    const two = await handlePackageDropped(blobCreated("x.hlkx", { id: "evt-2" }, { eTag: '"0x8DC0FFEE"' }), contextFor("packageDropped", client));
    const instanceId = instanceIdForPackage("driver-drops", "x.hlkx", '"0x8DC0FFEE"');
    expect(one).toEqual({ action: "started", instanceId });
    expect(two).toEqual({ action: "started", instanceId });
    expect(new Set(started.map((s) => s.instanceId))).toEqual(new Set([instanceId]));
  });

  test("the registered handler runs the same path", async () => {
    putPackage("y.cab");
    const { client, started } = fakeClient();
    const registered = getRegisteredFunctions().get("packageDropped")!;
    auditWrites.length = 0;
    auditKeys.length = 0;
    await registered.handler(blobCreated("y.cab"), contextFor("packageDropped", client));
    expect(started).toHaveLength(1);
    // Issue 33: the drop is recorded once, by nobody's principal (no upload record, no DROP_OWNERS entry).
    expect(auditWrites).toEqual([
      expect.objectContaining({ action: "drop", principal: expect.objectContaining({ objectId: "blob-drop" }), target: { instance: started[0].instanceId, package: "driver-drops/y.cab" }, outcome: { result: "ok", reason: "started" } }),
    ]);
    // Keyed by the instance, so a redelivery can tell it is recorded (store.test.ts: keyedRecordExists).
    expect(auditKeys).toEqual([`drop:${started[0].instanceId}`]);
  });

  test.each([
    ["eventGrid", false, [true]],
    ["eventGrid", true, []],
    ["http", false, []],
  ] as const)("a redelivered event for a run requestedBy %s (already recorded: %s): the drop is recorded only for a drop's run no delivery recorded", async (requestedBy, recorded, expected) => {
    putPackage("w.cab");
    const instanceId = instanceIdForPackage("driver-drops", "w.cab", '"0x8DC0FFEE"');
    const { client, started } = fakeClient([
      { name: "submitDriver", instanceId, runtimeStatus: "Running", input: { requestedBy, owner: { objectId: "oid-w", name: "w" } }, createdTime: "2026-12-07T01:02:03.000Z", lastUpdatedTime: "2026-12-07T01:02:04.000Z" },
    ]);
    auditWrites.length = 0;
    auditKeys.length = 0;
    recordedKeys.clear();
    if (recorded) recordedKeys.add(`drop:${instanceId}`);
    await getRegisteredFunctions().get("packageDropped")!.handler(blobCreated("w.cab"), contextFor("packageDropped", client));
    expect(started).toHaveLength(0);
    expect(auditWrites.map(() => true)).toEqual(expected);
    if (expected.length) {
      // The first delivery's write failed: this one records the drop, with the run's owner.
      expect(auditWrites[0]).toMatchObject({ principal: { objectId: "oid-w", name: "w" }, action: "drop", outcome: { result: "ok" } });
      expect(auditKeys).toEqual([`drop:${instanceId}`]);
    }
  });

  test("the registered handler starts nothing when the audit store cannot be reached (the event fails and is redelivered)", async () => {
    putPackage("z.cab");
    const { client, started } = fakeClient();
    const { auditStoreReady } = jest.requireMock("../../../src/audit/store") as { auditStoreReady: jest.Mock };
    auditStoreReady.mockRejectedValueOnce(new Error("storage unreachable"));
    const registered = getRegisteredFunctions().get("packageDropped")!;
    await expect(registered.handler(blobCreated("z.cab"), contextFor("packageDropped", client))).rejects.toThrow("storage unreachable");
    expect(started).toHaveLength(0);
  });
});

const post = (body: unknown) =>
  new HttpRequest({ method: "POST", url: "http://localhost:7071/api/submissions", body: { string: typeof body === "string" ? body : JSON.stringify(body) } });

describe("startSubmission (HTTP)", () => {
  test("starts with the same id a drop of that blob version would get, 202 with status URLs (relative without PUBLIC_BASE_URL)", async () => {
    blobs.set("driver-drops/a.hlkx", { content: Buffer.alloc(10), etag: '"0x8DC0FFEE"' });
    const { client, started } = fakeClient();
    const response = await handleStartSubmission(post({ package: "driver-drops/a.hlkx", product: { productName: "A" } }), contextFor("startSubmission", client));
    const instanceId = instanceIdForPackage("driver-drops", "a.hlkx", "0x8DC0FFEE");
    expect(response.status).toBe(202);
    // No configured origin: relative links, resolved by the client against the URL it called (never the Host header).
    expect(response.jsonBody).toEqual({
      id: instanceId,
      runtimeStatus: "Pending",
      statusUrl: `/api/submissions/${instanceId}`,
      cancelUrl: `/api/submissions/${instanceId}/cancel`,
    });
    expect(response.headers).toEqual({ Location: `/api/submissions/${instanceId}`, "Retry-After": "10" });
    expect(started[0].input).toMatchObject({ requestedBy: "http", product: { productName: "A", testHarness: "hlk" }, package: { contentLength: 10 } });
  });

  test("with PUBLIC_BASE_URL, statusUrl, cancelUrl and Location are on that origin whatever Host the request came with", async () => {
    process.env.PUBLIC_BASE_URL = "https://signing.example.net";
    resetConfigCache();
    try {
      blobs.set("driver-drops/a.hlkx", { content: Buffer.alloc(10), etag: "e" });
      const instanceId = instanceIdForPackage("driver-drops", "a.hlkx", "e");
      const hostile = new HttpRequest({ method: "POST", url: "http://attacker.example/api/submissions", body: { string: JSON.stringify({ package: "driver-drops/a.hlkx" }) } });
      const started = await handleStartSubmission(hostile, contextFor("startSubmission", fakeClient().client));
      expect(started.status).toBe(202);
      expect(started.jsonBody).toMatchObject({
        statusUrl: `https://signing.example.net/api/submissions/${instanceId}`,
        cancelUrl: `https://signing.example.net/api/submissions/${instanceId}/cancel`,
      });
      expect(started.headers).toMatchObject({ Location: `https://signing.example.net/api/submissions/${instanceId}` });
      const running = fakeClient([{ name: "submitDriver", instanceId, runtimeStatus: "Running", input: null, createdTime: "", lastUpdatedTime: "" }]);
      const again = new HttpRequest({ method: "POST", url: "http://attacker.example/api/submissions", body: { string: JSON.stringify({ package: "driver-drops/a.hlkx" }) } });
      const conflict = await handleStartSubmission(again, contextFor("startSubmission", running.client));
      expect(conflict.status).toBe(409);
      expect(JSON.stringify(conflict)).not.toContain("attacker.example");
      expect(conflict.jsonBody).toMatchObject({ statusUrl: `https://signing.example.net/api/submissions/${instanceId}` });
    } finally {
      delete process.env.PUBLIC_BASE_URL;
      resetConfigCache();
    }
  });

  describe("who may start an unclaimed package (issue 32)", () => {
    const alice: Caller = { identityProvider: "aad", objectId: "alice-oid", name: "alice", isApplication: false, roles: ["Sign.Submit"], signRoles: ["Sign.Submit"] };
    const asAlice = (client: unknown) => {
      const context = contextFor("startSubmission", client);
      attachCaller(context, alice);
      return context;
    };
    const withSettings = async (settings: Record<string, string>, run: () => Promise<void>) => {
      Object.assign(process.env, settings);
      resetConfigCache();
      try {
        await run();
      } finally {
        for (const name of Object.keys(settings)) delete process.env[name];
        resetConfigCache();
      }
    };

    test("a drop no upload URL or DROP_OWNERS entry claims stays the operators': a caller's HTTP start is 404 and starts nothing", async () => {
      putPackage("unclaimed.cab");
      const { client, started } = fakeClient();
      const response = await handleStartSubmission(post({ package: "driver-drops/unclaimed.cab" }), asAlice(client));
      expect(response.status).toBe(404);
      expect(response.jsonBody).toEqual({ error: "package not found", package: "driver-drops/unclaimed.cab" });
      expect(started).toHaveLength(0);
      // The key holder (AUTH_MODE=keys) owns everything, as before.
      const keys = fakeClient();
      expect((await handleStartSubmission(post({ package: "driver-drops/unclaimed.cab" }), contextFor("startSubmission", keys.client))).status).toBe(202);
    });

    test("DROP_OWNERS claims prefixes in every submission container: alice starts her own, not bob's", async () => {
      await withSettings({ SUBMISSION_CONTAINERS: "driver-drops,ci-packages", DROP_OWNERS: "driver-drops/team-a/=alice-oid:Team A;ci-packages/team-b/=bob-oid:Team B" }, async () => {
        putPackage("team-a/mine.cab");
        blobs.set("ci-packages/team-b/theirs.cab", { content: Buffer.alloc(4096), etag: '"0x8DC0FFEE"' });
        const { client, started } = fakeClient();
        expect((await handleStartSubmission(post({ package: "driver-drops/team-a/mine.cab" }), asAlice(client))).status).toBe(202);
        expect(started[0].input.owner).toEqual({ objectId: "alice-oid", name: "alice" });
        expect((await handleStartSubmission(post({ package: "ci-packages/team-b/theirs.cab" }), asAlice(client))).status).toBe(404);
        expect(started).toHaveLength(1);
      });
    });
  });

  const claim = (kind: "products" | "submissions", id: string, holder: string) =>
    blobs.set(`signing-state/claims/${kind}/${id}`, { content: Buffer.from(holder), etag: "c" });

  test("resume ids this package version created go into the input", async () => {
    blobs.set("driver-drops/a.hlkx", { content: Buffer.alloc(10), etag: "e" });
    const instanceId = instanceIdForPackage("driver-drops", "a.hlkx", "e");
    claim("products", "14461751976964156", instanceId);
    claim("submissions", "1152921505699924012", `${instanceId}-r2`);
    const { client, started } = fakeClient();
    const response = await handleStartSubmission(
      post({ package: "driver-drops/a.hlkx", productId: "14461751976964156", submissionId: "1152921505699924012" }),
      contextFor("startSubmission", client),
    );
    expect(response.status).toBe(202);
    expect(started[0]).toMatchObject({ instanceId: instanceIdForPackage("driver-drops", "a.hlkx", "e"), input: { resume: { productId: "14461751976964156", submissionId: "1152921505699924012" } } });
  });

  test.each([
    ["claimed by another package version", "drv-0123456789abcdef0123456789abcdef", /was created for another package version \(instance drv-0123456789abcdef0123456789abcdef\)/],
    ["not claimed at all (not created by this service)", undefined, /was not created by this service \(no claim is recorded for it\)/],
  ])("resume ids %s: 409 naming productId and submissionId, nothing started", async (_label, holder, reason) => {
    blobs.set("driver-drops/b.hlkx", { content: Buffer.alloc(10), etag: "e" });
    if (holder) {
      claim("products", "14461751976964156", holder);
      claim("submissions", "1152921505699924012", holder);
    }
    const { client, started } = fakeClient();
    const response = await handleStartSubmission(
      post({ package: "driver-drops/b.hlkx", productId: "14461751976964156", submissionId: "1152921505699924012" }),
      contextFor("startSubmission", client),
    );
    expect(response.status).toBe(409);
    expect(response.jsonBody).toMatchObject({
      error: expect.stringMatching(/^resume refused/),
      package: "driver-drops/b.hlkx",
      fields: [
        { field: "productId", reason: expect.stringMatching(reason) },
        { field: "submissionId", reason: expect.stringMatching(reason) },
      ],
    });
    expect(started).toHaveLength(0);
    expect(client.getStatus).not.toHaveBeenCalled();
  });

  test("400 lists bad fields; 400 for non-JSON; nothing starts", async () => {
    const { client, started } = fakeClient();
    const bad = await handleStartSubmission(post({ package: "driver-drops/a.txt", extra: 1 }), contextFor("startSubmission", client));
    expect(bad.status).toBe(400);
    expect(bad.jsonBody).toEqual({ error: "invalid request", fields: expect.arrayContaining([expect.objectContaining({ field: "extra" }), expect.objectContaining({ field: "package" })]) });
    const notJson = await handleStartSubmission(post("{oops"), contextFor("startSubmission", client));
    expect(notJson.status).toBe(400);
    expect(started).toHaveLength(0);
  });

  test("404 for a missing package, 400 for an empty one", async () => {
    const { client } = fakeClient();
    expect((await handleStartSubmission(post({ package: "driver-drops/missing.cab" }), contextFor("startSubmission", client))).status).toBe(404);
    blobs.set("driver-drops/empty.cab", { content: Buffer.alloc(0), etag: "e" });
    const empty = await handleStartSubmission(post({ package: "driver-drops/empty.cab" }), contextFor("startSubmission", client));
    expect(empty.status).toBe(400);
    expect(empty.jsonBody).toMatchObject({ fields: [{ field: "package", reason: "is empty (0 bytes)" }] });
  });

  test("409 with status URLs while that instance is running; restart allowed once it is terminal", async () => {
    blobs.set("driver-drops/a.hlkx", { content: Buffer.alloc(10), etag: "e" });
    const instanceId = instanceIdForPackage("driver-drops", "a.hlkx", "e");
    const running = fakeClient([{ name: "submitDriver", instanceId, runtimeStatus: "Running", input: null, createdTime: "", lastUpdatedTime: "" }]);
    const conflict = await handleStartSubmission(post({ package: "driver-drops/a.hlkx" }), contextFor("startSubmission", running.client));
    expect(conflict.status).toBe(409);
    expect(conflict.jsonBody).toMatchObject({ id: instanceId, runtimeStatus: "Running", statusUrl: expect.stringContaining(instanceId) });
    expect(running.started).toHaveLength(0);

    const failed = fakeClient([{ name: "submitDriver", instanceId, runtimeStatus: "Failed", input: null, createdTime: "", lastUpdatedTime: "" }]);
    expect((await handleStartSubmission(post({ package: "driver-drops/a.hlkx" }), contextFor("startSubmission", failed.client))).status).toBe(202);
  });
});

describe("submissionStatus, listSubmissions, cancelSubmission", () => {
  const running: FakeInstance = {
    name: "submitDriver",
    instanceId: "drv-1",
    runtimeStatus: "Running",
    input: { secretish: "input is never shown" },
    customStatus: {
      stage: "waitingForMicrosoft",
      package: { container: "driver-drops", blobName: "a.hlkx" },
      productId: "14461751976964156",
      submissionId: "1152921505699924012",
      currentStep: "scanning",
      state: "started",
      messages: [],
      nextPollAt: "2025-01-01T00:05:00.000Z",
      updatedAt: "2025-01-01T00:04:00.000Z",
    },
    output: null,
    createdTime: "2025-01-01T00:00:00Z",
    lastUpdatedTime: "2025-01-01T00:04:00Z",
  };
  const failed: FakeInstance = {
    ...running,
    instanceId: "drv-2",
    runtimeStatus: "Failed",
    customStatus: { ...(running.customStatus as object), stage: "failed", messages: ["Filters not applied"], errorReportText: "report", error: "waitingForMicrosoft: failed" },
    output: "Driver submission failed at stage waitingForMicrosoft",
    createdTime: "2025-01-02T00:00:00Z",
  };
  const other: FakeInstance = { ...running, name: "someOtherOrchestration", instanceId: "x-3" };
  const get = (id: string) => new HttpRequest({ method: "GET", url: `http://localhost/api/submissions/${id}`, params: { id } });

  test("a running submission's friendly status, built from custom status not input", async () => {
    const { client } = fakeClient([running]);
    const response = await handleSubmissionStatus(get("drv-1"), contextFor("submissionStatus", client));
    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({
      id: "drv-1",
      runtimeStatus: "Running",
      stage: "waitingForMicrosoft",
      productId: "14461751976964156",
      currentStep: "scanning",
      nextPollAt: "2025-01-01T00:05:00.000Z",
      createdTime: "2025-01-01T00:00:00.000Z",
    });
    expect(JSON.stringify(response.jsonBody)).not.toContain("input is never shown");
  });

  test("a failed one carries messages and the error report; unknown ids are 404; bad ids 400", async () => {
    const { client } = fakeClient([failed]);
    const response = await handleSubmissionStatus(get("drv-2"), contextFor("submissionStatus", client));
    expect(response.jsonBody).toMatchObject({ stage: "failed", messages: ["Filters not applied"], errorReport: "report", error: "waitingForMicrosoft: failed" });
    expect((await handleSubmissionStatus(get("drv-404"), contextFor("submissionStatus", client))).status).toBe(404);
    expect((await handleSubmissionStatus(get("bad id!"), contextFor("submissionStatus", client))).status).toBe(400);
  });

  const list = (query = "") => new HttpRequest({ method: "GET", url: `http://localhost/api/submissions${query}` });
  const ids = (response: { jsonBody?: unknown }) => (response.jsonBody as { items: Array<{ id: string }> }).items.map((view) => view.id);

  test("list filters by status and keeps only submitDriver instances, newest first", async () => {
    const { client, pageQueries } = fakeClient([running, failed, other]);
    const all = await handleListSubmissions(list(), contextFor("listSubmissions", client));
    expect(ids(all)).toEqual(["drv-2", "drv-1"]);
    expect((all.jsonBody as { continuationToken?: string }).continuationToken).toBeUndefined();
    expect(pageQueries[0]).toMatchObject({ top: 100 });
    const onlyFailed = await handleListSubmissions(list("?status=failed"), contextFor("listSubmissions", client));
    expect(ids(onlyFailed)).toEqual(["drv-2"]);
    expect(pageQueries[1]).toMatchObject({ runtimeStatus: ["Failed"] });
    const bad = await handleListSubmissions(list("?status=Done"), contextFor("listSubmissions", client));
    expect(bad.status).toBe(400);
  });

  test("cancel: 202 for running, 409 for finished, 404 for unknown", async () => {
    const { client, terminated } = fakeClient([running, failed]);
    const cancel = (id: string) =>
      handleCancelSubmission(new HttpRequest({ method: "POST", url: `http://localhost/api/submissions/${id}/cancel`, params: { id } }), contextFor("cancelSubmission", client));
    expect((await cancel("drv-1")).status).toBe(202);
    expect(terminated).toEqual(["drv-1"]);
    expect((await cancel("drv-2")).status).toBe(409);
    expect((await cancel("nope")).status).toBe(404);
  });
});

/** Everything a caller receives (status, headers, body) as one string. */
const everythingSent = (response: { status?: number; headers?: unknown; jsonBody?: unknown }) =>
  JSON.stringify({ headers: response.headers ?? {}, body: response.jsonBody ?? null });

describe("POST /api/submissions hands out no Durable system key", () => {
  test("202 and 409 carry only our own statusUrl and cancelUrl: no webhook URL, no code=", async () => {
    blobs.set("driver-drops/k.hlkx", { content: Buffer.alloc(10), etag: "e1" });
    const fresh = fakeClient();
    const accepted = await handleStartSubmission(post({ package: "driver-drops/k.hlkx" }), contextFor("startSubmission", fresh.client));
    expect(accepted.status).toBe(202);
    const instanceId = instanceIdForPackage("driver-drops", "k.hlkx", "e1");
    const running = fakeClient([{ name: "submitDriver", instanceId, runtimeStatus: "Running", input: null, createdTime: "", lastUpdatedTime: "" }]);
    const conflict = await handleStartSubmission(post({ package: "driver-drops/k.hlkx" }), contextFor("startSubmission", running.client));
    expect(conflict.status).toBe(409);
    for (const response of [accepted, conflict]) {
      const sent = everythingSent(response);
      expect(sent).not.toContain("/runtime/webhooks/");
      expect(sent).not.toMatch(/code=/i);
      expect(sent).not.toContain("SYSTEMKEY");
      expect(response.jsonBody).toMatchObject({ statusUrl: expect.stringMatching(/\/api\/submissions\/drv-/), cancelUrl: expect.stringMatching(/\/cancel$/) });
    }
  });
});

describe("POST /api/submissions reads packages only from the submission containers", () => {
  afterEach(() => {
    delete process.env.SUBMISSION_CONTAINERS;
    resetConfigCache();
  });

  test.each(["signed-drivers", "signing-state", "azure-webjobs-secrets", "azure-webjobs-hosts", "driversigninghub-leases", "driversigninghub-largemessages", "someone-elses"])(
    "%s is refused with 400 naming package, before storage is read",
    async (container) => {
      blobs.set(`${container}/x.hlkx`, { content: Buffer.alloc(10), etag: "e" });
      const { client, started } = fakeClient();
      const response = await handleStartSubmission(post({ package: `${container}/x.hlkx` }), contextFor("startSubmission", client));
      expect(response.status).toBe(400);
      expect(response.jsonBody).toMatchObject({ fields: [{ field: "package", reason: expect.stringContaining(container) }] });
      expect(started).toHaveLength(0);
      expect(client.getStatus).not.toHaveBeenCalled();
    },
  );

  test("SUBMISSION_CONTAINERS widens the list; the app's and the host's containers stay refused", async () => {
    process.env.SUBMISSION_CONTAINERS = "driver-drops, partner-uploads";
    resetConfigCache();
    blobs.set("partner-uploads/x.hlkx", { content: Buffer.alloc(10), etag: "e" });
    const { client, started } = fakeClient();
    expect((await handleStartSubmission(post({ package: "partner-uploads/x.hlkx" }), contextFor("startSubmission", client))).status).toBe(202);
    expect(started).toHaveLength(1);
    expect((await handleStartSubmission(post({ package: "signing-state/x.hlkx" }), contextFor("startSubmission", client))).status).toBe(400);
  });

  test("a setting that names the app's or the host's containers is refused at startup, naming the setting", () => {
    for (const value of ["driver-drops,signing-state", "azure-webjobs-secrets", "Bad_Name"]) {
      expect(() => parseConfig({ ...process.env, SUBMISSION_CONTAINERS: value })).toThrow(/SUBMISSION_CONTAINERS/);
    }
  });
});

describe("POST /api/submissions body limits", () => {
  const streamOf = (chunks: number, chunkBytes: number, pulled: { bytes: number }) =>
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled.bytes >= chunks * chunkBytes) return controller.close();
        pulled.bytes += chunkBytes;
        controller.enqueue(new Uint8Array(chunkBytes).fill(0x20));
      },
    }, { highWaterMark: 0 }); // pulled only when someone reads

  /** An HttpRequest over a streamed body, as the worker builds it for streamed HTTP requests. */
  const streamingRequest = (body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
    new HttpRequest({
      nativeRequest: new Request("http://localhost:7071/api/submissions", { method: "POST", body, headers, duplex: "half" } as RequestInit),
    } as never);

  test("a Content-Length over 64 KiB gets 413 without the body being read", async () => {
    const pulled = { bytes: 0 };
    const request = streamingRequest(streamOf(100, 1024, pulled), { "content-length": String(64 * 1024 + 1) });
    const { client, started } = fakeClient();
    const response = await handleStartSubmission(request, contextFor("startSubmission", client));
    expect(response.status).toBe(413);
    expect(response.jsonBody).toMatchObject({ fields: [{ field: "body", reason: "must be at most 65536 bytes" }] });
    expect(pulled.bytes).toBe(0);
    expect(started).toHaveLength(0);
  });

  test("a chunked body (no Content-Length) is read only up to the limit, then 413", async () => {
    const pulled = { bytes: 0 };
    const request = streamingRequest(streamOf(1024, 4096, pulled)); // 4 MiB offered, no Content-Length
    const response = await handleStartSubmission(request, contextFor("startSubmission", fakeClient().client));
    expect(response.status).toBe(413);
    expect(pulled.bytes).toBeLessThanOrEqual(64 * 1024 + 2 * 4096);
  });

  test("a body just under the limit is parsed (and then judged on its fields)", async () => {
    const body = JSON.stringify({ package: "driver-drops/a.hlkx", pad: "x".repeat(60 * 1024) });
    const response = await handleStartSubmission(post(body), contextFor("startSubmission", fakeClient().client));
    expect(response.status).toBe(400);
    expect(response.jsonBody).toMatchObject({ fields: [{ field: "pad" }] });
  });
});

describe("restart of a package version that ended without success", () => {
  const hlkInstance = (customStatus: Record<string, unknown>, input: Record<string, unknown> = {}): FakeInstance => ({
    name: "submitDriver",
    instanceId: instanceIdForPackage("driver-drops", "r.hlkx", "e"),
    runtimeStatus: "Failed",
    input: { product: { productName: "r", testHarness: "hlk", requestedSignatures: ["X"] }, submissionType: "initial", ...input },
    customStatus: { stage: "failed", package: { container: "driver-drops", blobName: "r.hlkx" }, productId: "111", submissionId: "222", ...customStatus },
    output: "failed",
    createdTime: "2025-01-01T00:00:00Z",
    lastUpdatedTime: "2025-01-01T00:00:00Z",
  });
  const restart = async (instance: FakeInstance, blobName = "r.hlkx") => {
    blobs.set(`driver-drops/${blobName}`, { content: Buffer.alloc(10), etag: "e" });
    const { client, started } = fakeClient([instance]);
    const response = await handleStartSubmission(post({ package: `driver-drops/${blobName}` }), contextFor("startSubmission", client));
    expect(response.status).toBe(202);
    return { response, input: started[0].input };
  };

  test("after Microsoft failed the workflow: a new round, a derived submission on the same HLK product", async () => {
    const { response, input } = await restart(hlkInstance({ failureKind: "microsoft", state: "failed", currentStep: "validation" }));
    expect(input).toMatchObject({ round: 2, resume: { productId: "111" }, submissionType: "derived" });
    expect(input.resume?.submissionId).toBeUndefined();
    expect(response.jsonBody).toMatchObject({ restarted: true, newSubmission: true });
  });

  test("after a commit rejected by Microsoft, recorded before failureKind existed (commitStatus only)", async () => {
    const { input } = await restart(hlkInstance({ commitStatus: "CommitFailed" }));
    expect(input).toMatchObject({ round: 2, resume: { productId: "111" }, submissionType: "derived" });
  });

  test("an attestation product takes no derived submission: the new round creates a new product", async () => {
    const attestation = hlkInstance({ failureKind: "microsoft" }, { product: { productName: "r", testHarness: "attestation", requestedSignatures: ["X"] } });
    attestation.instanceId = instanceIdForPackage("driver-drops", "r.cab", "e");
    const { input } = await restart(attestation, "r.cab");
    expect(input.round).toBe(2);
    expect(input.resume).toBeUndefined();
    expect(input.submissionType).toBe("initial");
  });

  test("after a transient failure (retries exhausted on a 503): the same round resumes the same product and submission", async () => {
    const { response, input } = await restart(hlkInstance({ failureKind: "activity", error: "uploading: copyPackage failed after 5 attempts: 503" }));
    expect(input.round).toBeUndefined();
    expect(input.resume).toBeUndefined(); // the round's checkpoints find the product and submission
    expect(response.jsonBody).toMatchObject({ restarted: true, newSubmission: false });
  });

  test("a transient failure in round 2 stays in round 2 with its product and submission type", async () => {
    const { input } = await restart(
      hlkInstance({ failureKind: "activity" }, { round: 2, resume: { productId: "111" }, submissionType: "derived" }),
    );
    expect(input).toMatchObject({ round: 2, resume: { productId: "111" }, submissionType: "derived" });
  });

  test("a second Microsoft failure moves on to round 3", async () => {
    const { input } = await restart(hlkInstance({ failureKind: "microsoft" }, { round: 2, resume: { productId: "111" }, submissionType: "derived" }));
    expect(input).toMatchObject({ round: 3, resume: { productId: "111" }, submissionType: "derived" });
  });
});

describe("GET /api/submissions: paged and filtered", () => {
  const instance = (n: number, overrides: Partial<FakeInstance> = {}): FakeInstance => ({
    name: "submitDriver",
    instanceId: `drv-${String(n).padStart(3, "0")}`,
    runtimeStatus: n % 2 === 0 ? "Completed" : "Running",
    input: null,
    customStatus: { stage: "queued", package: { container: "driver-drops", blobName: n % 3 === 0 ? `team-a/p${n}.hlkx` : `team-b/p${n}.hlkx` }, updatedAt: "" },
    output: null,
    createdTime: new Date(Date.UTC(2025, 0, 1, 0, n)).toISOString(),
    lastUpdatedTime: "",
    ...overrides,
  });
  const list = (query: string) => new HttpRequest({ method: "GET", url: `http://localhost/api/submissions${query}` });
  type Page = { items: Array<{ id: string; package?: { blobName: string } }>; continuationToken?: string };

  test("top bounds each page read from the task hub; continuationToken walks every page once", async () => {
    const { client, pageQueries } = fakeClient(Array.from({ length: 7 }, (_, i) => instance(i + 1)));
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const response = await handleListSubmissions(
        list(`?top=3${token ? `&continuationToken=${encodeURIComponent(token)}` : ""}`),
        contextFor("listSubmissions", client),
      );
      expect(response.status).toBe(200);
      const page = response.jsonBody as Page;
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((item) => item.id));
      token = page.continuationToken;
      pages++;
    } while (token && pages < 10);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(Array.from({ length: 7 }, (_, i) => `drv-00${i + 1}`));
    expect(pageQueries.map((query) => query.top)).toEqual([3, 3, 3]);
    // The token users get is ours (opaque), not the extension's.
    expect(pageQueries[1].continuationToken).toBe(Buffer.from(JSON.stringify({ after: "drv-003" })).toString("base64"));
  });

  test("status, createdFrom/createdTo and package filter the page", async () => {
    const { client, pageQueries } = fakeClient(Array.from({ length: 6 }, (_, i) => instance(i + 1)));
    const response = await handleListSubmissions(
      list("?status=Completed&createdFrom=2025-01-01T00:00:00Z&createdTo=2025-01-02&package=driver-drops/team-a/"),
      contextFor("listSubmissions", client),
    );
    expect(response.status).toBe(200);
    expect((response.jsonBody as Page).items.map((item) => item.id)).toEqual(["drv-006"]);
    expect(pageQueries[0]).toMatchObject({
      runtimeStatus: ["Completed"],
      createdTimeFrom: new Date("2025-01-01T00:00:00Z"),
      createdTimeTo: new Date("2025-01-02T00:00:00Z"),
    });
  });

  test.each([
    ["?top=0", "top"],
    ["?top=1001", "top"],
    ["?top=ten", "top"],
    ["?continuationToken=not-ours", "continuationToken"],
    ["?createdFrom=yesterday", "createdFrom"],
    ["?createdTo=2025-13-45T00:00:00Z", "createdTo"],
    ["?createdFrom=2025-02-01&createdTo=2025-01-01", "createdFrom"],
    ["?package=Bad_Container/x", "package"],
    ["?status=Done", "status"],
    ["?orderBy=name", "orderBy"],
  ])("%s → 400 naming %s; nothing is read", async (query, field) => {
    const { client, pageQueries } = fakeClient([instance(1)]);
    const response = await handleListSubmissions(list(query), contextFor("listSubmissions", client));
    expect(response.status).toBe(400);
    expect(response.jsonBody).toMatchObject({ fields: [expect.objectContaining({ field })] });
    expect(pageQueries).toHaveLength(0);
  });
});

describe("a redelivered drop whose sidecar changed its signing kind since the first delivery", () => {
  const run = (name: string, instanceId: string, requestedBy: string) => ({ name, instanceId, runtimeStatus: "Running", input: { requestedBy }, createdTime: "", lastUpdatedTime: "" });

  test("finds the preprod run the first delivery started (the sidecar no longer asks for preproduction): nothing starts", async () => {
    putPackage("r.cab", "e");
    const preprodId = instanceIdForPackage("driver-drops", "r.cab", '"e"', "preproduction");
    const { client, started } = fakeClient([run("signPreproduction", preprodId, "eventGrid")]);
    const decision = await handlePackageDropped(blobCreated("r.cab", {}, { eTag: "e" }), contextFor("packageDropped", client));
    expect(decision).toMatchObject({ action: "alreadyStarted", instanceId: preprodId });
    expect(started).toHaveLength(0);
  });

  test("finds the product run the first delivery started (the sidecar now asks for preproduction): nothing starts", async () => {
    putPackage("q.cab", "e");
    blobs.set("driver-drops/q.cab.json", { content: Buffer.from(JSON.stringify({ signing: "preproduction" })), etag: "s" });
    const productId = instanceIdForPackage("driver-drops", "q.cab", '"e"');
    const { client, started } = fakeClient([run("submitDriver", productId, "eventGrid")]);
    const decision = await handlePackageDropped(blobCreated("q.cab", {}, { eTag: "e" }), contextFor("packageDropped", client));
    expect(decision).toMatchObject({ action: "alreadyStarted", instanceId: productId });
    expect(started).toHaveLength(0);
  });

  test("a run of the other kind that an HTTP caller started is not the drop's: the drop starts its own kind", async () => {
    putPackage("h.cab", "e");
    const preprodId = instanceIdForPackage("driver-drops", "h.cab", '"e"', "preproduction");
    const { client, started } = fakeClient([run("signPreproduction", preprodId, "http")]);
    const decision = await handlePackageDropped(blobCreated("h.cab", {}, { eTag: "e" }), contextFor("packageDropped", client));
    const productId = instanceIdForPackage("driver-drops", "h.cab", '"e"');
    expect(decision).toEqual({ action: "started", instanceId: productId });
    expect(started).toEqual([expect.objectContaining({ name: "submitDriver", instanceId: productId })]);
  });
});

describe("a preprod run under the product id (started before preprod runs had ids of their own)", () => {
  const legacyPreprod = (instanceId: string) => ({ name: "signPreproduction", instanceId, runtimeStatus: "Completed", input: { round: 1 }, createdTime: "", lastUpdatedTime: "" });

  test("POST of a product run is refused with 409 naming signing and the kind that exists; nothing starts", async () => {
    blobs.set("driver-drops/k.cab", { content: Buffer.alloc(10), etag: "e" });
    const productId = instanceIdForPackage("driver-drops", "k.cab", "e");
    const { client, started } = fakeClient([legacyPreprod(productId)]);
    const response = await handleStartSubmission(post({ package: "driver-drops/k.cab" }), contextFor("startSubmission", client));
    expect(response.status).toBe(409);
    expect(response.jsonBody).toMatchObject({ id: productId, signing: "preproduction", fields: [{ field: "signing", reason: expect.stringContaining("a preproduction signing run") }] });
    expect((response.jsonBody as { alreadySigned?: boolean }).alreadySigned).toBeUndefined();
    expect(started).toHaveLength(0);
  });

  test("POST of preproduction finds that run (no second package), and a drop's redelivery too", async () => {
    blobs.set("driver-drops/k.cab", { content: Buffer.alloc(10), etag: "e" });
    const productId = instanceIdForPackage("driver-drops", "k.cab", "e");
    const { client, started } = fakeClient([legacyPreprod(productId)]);
    const response = await handleStartSubmission(post({ package: "driver-drops/k.cab", signing: "preproduction" }), contextFor("startSubmission", client));
    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({ id: productId, alreadySigned: true });

    putPackage("k.cab", "e");
    blobs.set("driver-drops/k.cab.json", { content: Buffer.from(JSON.stringify({ signing: "preproduction" })), etag: "s" });
    const decision = await handlePackageDropped(blobCreated("k.cab", {}, { eTag: "e" }), contextFor("packageDropped", client));
    expect(decision).toMatchObject({ action: "alreadyStarted", instanceId: productId });
    expect(started).toHaveLength(0);
  });

  test("the same once retention purged that run (its record names signPreproduction): 409 for a product POST, found for preproduction", async () => {
    blobs.set("driver-drops/p.cab", { content: Buffer.alloc(10), etag: "e" });
    const productId = instanceIdForPackage("driver-drops", "p.cab", "e");
    const record = { instanceId: productId, name: "signPreproduction", purgedAt: "2026-12-01T00:00:00.000Z", runtimeStatus: "Completed", customStatus: {}, input: { round: 1 } };
    blobs.set(`signing-state/purged/${productId}.json`, { content: Buffer.from(JSON.stringify(record)), etag: "p" });
    const { client, started } = fakeClient();
    const product = await handleStartSubmission(post({ package: "driver-drops/p.cab" }), contextFor("startSubmission", client));
    expect(product.status).toBe(409);
    expect(product.jsonBody).toMatchObject({ id: productId, signing: "preproduction", fields: [{ field: "signing" }] });
    const preprod = await handleStartSubmission(post({ package: "driver-drops/p.cab", signing: "preproduction" }), contextFor("startSubmission", client));
    expect(preprod.status).toBe(200);
    expect(preprod.jsonBody).toMatchObject({ id: productId, alreadySigned: true, historyPurgedAt: "2026-12-01T00:00:00.000Z" });
    expect(started).toHaveLength(0);
  });

  test("a new preprod drop gets the preprod id, not the product id", async () => {
    putPackage("n.cab", "e");
    blobs.set("driver-drops/n.cab.json", { content: Buffer.from(JSON.stringify({ signing: "preproduction" })), etag: "s" });
    const { client, started } = fakeClient([
      { name: "submitDriver", instanceId: instanceIdForPackage("driver-drops", "n.cab", '"e"'), runtimeStatus: "Completed", input: null, createdTime: "", lastUpdatedTime: "" },
    ]);
    const decision = await handlePackageDropped(blobCreated("n.cab", {}, { eTag: "e" }), contextFor("packageDropped", client));
    const preprodId = instanceIdForPackage("driver-drops", "n.cab", "e", "preproduction");
    expect(preprodId).toMatch(/^pre-[0-9a-f]{32}$/);
    expect(decision).toEqual({ action: "started", instanceId: preprodId });
    expect(started).toEqual([expect.objectContaining({ name: "signPreproduction", instanceId: preprodId })]);
  });
});
