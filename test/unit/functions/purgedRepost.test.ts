/**
 * Issue 30, item 3: a re-post after retention purged the earlier run. Against the local runtime's real
 * durable engine (virtual clock) over Azurite, with the real startSubmission, retention and drop
 * handlers and the real checkpoint/claim storage. The submitDriver here is a stand-in that ends the
 * way a real run ends (custom status, failure) and records the input it was started with; the
 * checkpoints and claims it would have written are written through the real storage functions.
 *
 * Before the fix, the purge removed the only record of how the run ended: the re-post found no
 * instance, started round 1 and so resumed round 1's checkpoints, i.e. the submission Microsoft had
 * failed; explicit ids of that submission were honoured the same way.
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { HttpRequest, InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import type { OrchestrationContext } from "durable-functions";
import { BlobServiceClient } from "@azure/storage-blob";
import { durableClientBindingData } from "../../../local/durable/clientBinding";
import type { DurableEngine } from "../../../local/durable/engine";
import { createDurableHttpHandler } from "../../../local/durable/httpApi";
import { getRegisteredFunctions, triggerOf } from "../../../local/functionsHost/coreStandIn";
import { getConfig, resetConfigCache } from "../../../src/config";
import { instanceIdForPackage, roundKey } from "../../../src/domain/instanceId";
import { handlePackageDropped } from "../../../src/functions/packageDropped";
import { purgeFinishedSubmissions } from "../../../src/functions/retention";
import { handleStartSubmission } from "../../../src/functions/startSubmission";
import { claimResource, readCheckpoint, updateCheckpoint } from "../../../src/storage/checkpoints";
import { readPurgeRecord } from "../../../src/storage/purgeRecords";
import { type EngineFixture, engineFixture } from "../durable/harness";
import { attachCaller, KEY_HOLDER } from "../../../src/identity/caller";

type Ending = { kind: "microsoft" | "activity"; productId: string; submissionId: string } | { kind: "complete" } | { kind: "wait" };
/** How the next stand-in run ends, per instance id; and every input a run was started with. */
const endings = new Map<string, Ending>();
const startedInputs: Array<{ instanceId: string; input: Record<string, unknown> }> = [];

df.app.orchestration("submitDriver", function* (ctx: OrchestrationContext) {
  const input = ctx.df.getInput<Record<string, unknown> & { package: unknown }>();
  if (!ctx.df.isReplaying) startedInputs.push({ instanceId: ctx.df.instanceId, input });
  const ending = endings.get(ctx.df.instanceId) ?? { kind: "wait" };
  if (ending.kind === "wait") {
    yield ctx.df.waitForExternalEvent("never");
    return undefined;
  }
  if (ending.kind === "complete") return { outcome: "succeeded" };
  // As recordFailure leaves it: the failed submission's ids and who failed it.
  ctx.df.setCustomStatus({
    stage: "failed",
    package: input.package,
    productId: ending.productId,
    submissionId: ending.submissionId,
    state: ending.kind === "microsoft" ? "failed" : null,
    failureKind: ending.kind,
    error: "waitingForMicrosoft: failed",
    updatedAt: "",
  });
  throw new Error("Driver submission failed at stage waitingForMicrosoft");
});

// The preprod stand-in (issue 40): ends as the endings map says, failing the way signPreproduction does.
df.app.orchestration("signPreproduction", function* (ctx: OrchestrationContext) {
  const input = ctx.df.getInput<Record<string, unknown> & { package: unknown }>();
  if (!ctx.df.isReplaying) startedInputs.push({ instanceId: ctx.df.instanceId, input });
  const ending = endings.get(ctx.df.instanceId) ?? { kind: "wait" };
  if (ending.kind === "wait") {
    yield ctx.df.waitForExternalEvent("never");
    return undefined;
  }
  if (ending.kind === "complete") return { outcome: "succeeded", signing: "preproduction" };
  ctx.df.setCustomStatus({ stage: "failed", signing: "preproduction", package: input.package, signingStatus: "Failed", failureKind: ending.kind, error: "waitingForMicrosoft: failed", updatedAt: "" });
  throw new Error("Preproduction signing failed at stage waitingForMicrosoft");
});

describe("a re-post after retention purged the run (issue 30)", () => {
  let fixture: EngineFixture;
  let engine: DurableEngine;
  let server: http.Server;
  let blobService: BlobServiceClient;
  let baseUrl = "";
  const hub = "PurgedRepostHub";
  const DAY = 24 * 3600 * 1000;

  function contextFor(functionName: string): InvocationContext {
    const registered = getRegisteredFunctions().get(functionName)!;
    const clientInput = Object.values(registered.bindings).find((binding) => binding.type === "durableClient")!;
    const context = new InvocationContext({
      functionName,
      logHandler: () => undefined,
      options: { trigger: triggerOf(registered) as never, extraInputs: [clientInput as never], extraOutputs: [] },
    });
    context.extraInputs.set(clientInput as never, durableClientBindingData(baseUrl, hub));
    // Called past the gate, as under AUTH_MODE=keys: the key holder (the gate and owners: callerGate.test.ts, owners e2e).
    attachCaller(context, KEY_HOLDER);
    return context;
  }

  const post = (body: unknown) =>
    handleStartSubmission(
      new HttpRequest({ method: "POST", url: "http://localhost:7071/api/submissions", body: { string: JSON.stringify(body) } }),
      contextFor("startSubmission"),
    );

  /** Uploads a package version to driver-drops; its container/name and instance id. */
  async function upload(name: string): Promise<{ ref: string; blobName: string; etag: string; instanceId: string }> {
    const container = blobService.getContainerClient("driver-drops");
    await container.createIfNotExists();
    const uploaded = await container.getBlockBlobClient(name).uploadData(Buffer.from(`package ${name}`));
    return { ref: `driver-drops/${name}`, blobName: name, etag: uploaded.etag!, instanceId: instanceIdForPackage("driver-drops", name, uploaded.etag!) };
  }

  /** What createProduct/createSubmission leave for round `round` of an instance: checkpoint and claims. */
  async function leaveCheckpoints(instanceId: string, round: number, productId: string, submissionId: string): Promise<void> {
    const key = roundKey(instanceId, round);
    const config = getConfig();
    expect(await claimResource(blobService, config, "products", productId, key)).toBe(true);
    expect(await claimResource(blobService, config, "submissions", submissionId, key)).toBe(true);
    await updateCheckpoint(blobService, config, key, () => ({ product: { productId }, submission: { productId, submissionId } }));
  }

  /** Runs a first submission of `pkg` to its end, leaves its checkpoints, then lets retention purge it. */
  async function runAndPurge(pkg: { ref: string; instanceId: string }, ending: Ending, hlk = true): Promise<{ purgedAt: Date }> {
    endings.set(pkg.instanceId, ending);
    const first = await post({ package: pkg.ref, product: { productName: "Fabrikam", ...(hlk ? {} : { testHarness: "attestation" }) } });
    expect(first.status).toBe(202);
    await engine.waitForIdle(30_000);
    if (ending.kind === "microsoft" || ending.kind === "activity") await leaveCheckpoints(pkg.instanceId, 1, ending.productId, ending.submissionId);
    const status = await engine.getStatus(pkg.instanceId, {});
    expect(status?.runtimeStatus).toBe(ending.kind === "complete" ? "Completed" : "Failed");
    const purgedAt = new Date(engine.now().getTime() + 91 * DAY);
    const purge = await purgeFinishedSubmissions(contextFor("purgeFinishedSubmissions"), purgedAt);
    expect(purge.instancesDeleted).toBeGreaterThanOrEqual(1);
    expect(await engine.getStatus(pkg.instanceId, {})).toBeUndefined(); // the history is gone
    endings.set(pkg.instanceId, { kind: "wait" }); // whatever a re-post starts keeps running
    return { purgedAt };
  }

  const startsOf = (instanceId: string) => startedInputs.filter((s) => s.instanceId === instanceId).map((s) => s.input);

  beforeAll(async () => {
    process.env.NO_PROXY = "127.0.0.1,localhost";
    fixture = await engineFixture();
    Object.assign(process.env, { AzureWebJobsStorage: fixture.azurite.connectionString, HDC_TENANT_ID: "t", HDC_CLIENT_ID: "c", HDC_CLIENT_SECRET: "s", RETENTION_DAYS: "90" });
    resetConfigCache();
    blobService = BlobServiceClient.fromConnectionString(fixture.azurite.connectionString);
    engine = await fixture.create({ hubName: hub });
    const handle = createDurableHttpHandler(engine, { taskHub: hub });
    server = http.createServer((req, res) => {
      handle(req, res).then(
        (handled) => {
          if (!handled) {
            res.writeHead(404);
            res.end();
          }
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await fixture?.dispose();
  });

  test("Microsoft failed it, retention purged it: the ids of the failed submission are refused (409 naming the purge), and a plain re-post starts the next round with a new submission", async () => {
    const pkg = await upload("team-a/failed-purged.hlkx");
    const { purgedAt } = await runAndPurge(pkg, { kind: "microsoft", productId: "1001", submissionId: "2001" });

    // With the failed submission's own ids: refused, saying why and when the history went; nothing started.
    const withIds = await post({ package: pkg.ref, productId: "1001", submissionId: "2001" });
    expect(withIds.status).toBe(409);
    expect(withIds.jsonBody).toMatchObject({
      error: expect.stringContaining("Microsoft failed submission 2001"),
      historyPurgedAt: purgedAt.toISOString(),
      fields: [{ field: "submissionId", reason: expect.stringContaining(`purged by retention on ${purgedAt.toISOString()}`) }],
    });
    await engine.waitForIdle(30_000);
    expect(startsOf(pkg.instanceId)).toHaveLength(1);
    expect(await engine.getStatus(pkg.instanceId, {})).toBeUndefined();

    // Without ids: the next round, a derived submission on the HLK product, checkpoints of its own.
    const again = await post({ package: pkg.ref, product: { productName: "Fabrikam" } });
    expect(again.status).toBe(202);
    expect(again.jsonBody).toMatchObject({ id: pkg.instanceId, restarted: true, newSubmission: true, historyPurgedAt: purgedAt.toISOString() });
    await engine.waitForIdle(30_000);
    const [, second] = startsOf(pkg.instanceId);
    expect(second).toMatchObject({ round: 2, resume: { productId: "1001" }, submissionType: "derived" });
    expect((second.resume as { submissionId?: string }).submissionId).toBeUndefined();
    // The round's checkpoint is empty: createSubmission makes a new submission instead of reusing 2001.
    expect(await readCheckpoint(blobService, getConfig(), roundKey(pkg.instanceId, second.round as number))).toEqual({});
    // What the re-post decided with: retention's record of the purged run (ids and statuses only).
    const record = await readPurgeRecord(blobService, getConfig(), pkg.instanceId);
    expect(record).toMatchObject({ instanceId: pkg.instanceId, runtimeStatus: "Failed", purgedAt: purgedAt.toISOString(), customStatus: { failureKind: "microsoft", submissionId: "2001" } });
  });

  test("an attestation product Microsoft failed gets a new product in the next round after the purge", async () => {
    const pkg = await upload("team-a/attestation-purged.hlkx");
    await runAndPurge(pkg, { kind: "microsoft", productId: "1101", submissionId: "2101" }, false);
    const again = await post({ package: pkg.ref, product: { productName: "Fabrikam", testHarness: "attestation" } });
    expect(again.status).toBe(202);
    expect(again.jsonBody).toMatchObject({ restarted: true, newSubmission: true });
    await engine.waitForIdle(30_000);
    const second = startsOf(pkg.instanceId)[1];
    expect(second).toMatchObject({ round: 2 });
    expect(second.resume).toBeUndefined();
  });

  test("a run that failed on this side resumes its checkpoints after the purge, as before it", async () => {
    const pkg = await upload("team-a/transient-purged.hlkx");
    await runAndPurge(pkg, { kind: "activity", productId: "1201", submissionId: "2201" });
    const again = await post({ package: pkg.ref, product: { productName: "Fabrikam" } });
    expect(again.status).toBe(202);
    expect(again.jsonBody).toMatchObject({ restarted: true, newSubmission: false });
    await engine.waitForIdle(30_000);
    const second = startsOf(pkg.instanceId)[1];
    expect(second.round ?? 1).toBe(1);
    expect(await readCheckpoint(blobService, getConfig(), roundKey(pkg.instanceId, 1))).toMatchObject({ submission: { submissionId: "2201" } });
  });

  test("a signed version whose history was purged answers already signed and starts nothing; a redelivered drop starts nothing", async () => {
    const pkg = await upload("signed-purged.hlkx");
    const { purgedAt } = await runAndPurge(pkg, { kind: "complete" });
    const again = await post({ package: pkg.ref, product: { productName: "Fabrikam" } });
    expect(again.status).toBe(200);
    expect(again.jsonBody).toMatchObject({ id: pkg.instanceId, runtimeStatus: "Completed", alreadySigned: true, historyPurgedAt: purgedAt.toISOString() });
    const properties = await blobService.getContainerClient("driver-drops").getBlobClient(pkg.blobName).getProperties();
    const decision = await handlePackageDropped(
      {
        id: "evt-1",
        eventType: "Microsoft.Storage.BlobCreated",
        subject: `/blobServices/default/containers/driver-drops/blobs/${pkg.blobName}`,
        data: { eTag: pkg.etag, contentLength: properties.contentLength, url: blobService.getContainerClient("driver-drops").getBlobClient(pkg.blobName).url },
        eventTime: new Date().toISOString(),
        dataVersion: "",
        topic: "",
      } as never,
      contextFor("packageDropped"),
    );
    expect(decision).toMatchObject({ action: "alreadyStarted", instanceId: pkg.instanceId, runtimeStatus: "Completed" });
    await engine.waitForIdle(30_000);
    expect(startsOf(pkg.instanceId)).toHaveLength(1);
    expect(await engine.getStatus(pkg.instanceId, {})).toBeUndefined();
  });

  test("checkpoints whose history went without a purge record (purged by hand): a plain re-post is refused with how to start over; explicit ids still resume", async () => {
    const pkg = await upload("team-a/orphaned.hlkx");
    endings.set(pkg.instanceId, { kind: "microsoft", productId: "1301", submissionId: "2301" });
    expect((await post({ package: pkg.ref, product: { productName: "Fabrikam" } })).status).toBe(202);
    await engine.waitForIdle(30_000);
    await leaveCheckpoints(pkg.instanceId, 1, "1301", "2301");
    expect(await engine.purge(pkg.instanceId)).toBe(true); // not through retention: no record
    endings.set(pkg.instanceId, { kind: "wait" });

    const plain = await post({ package: pkg.ref, product: { productName: "Fabrikam" } });
    expect(plain.status).toBe(409);
    expect(plain.jsonBody).toMatchObject({
      error: expect.stringContaining("created product 1301, submission 2301, but its history was purged"),
      howToStartOver: expect.stringContaining("upload the package again"),
    });
    await engine.waitForIdle(30_000);
    expect(startsOf(pkg.instanceId)).toHaveLength(1);

    const explicit = await post({ package: pkg.ref, productId: "1301", submissionId: "2301" });
    expect(explicit.status).toBe(202);
    await engine.waitForIdle(30_000);
    expect(startsOf(pkg.instanceId)[1]).toMatchObject({ resume: { productId: "1301", submissionId: "2301" } });
  });

  /** Runs a preprod run of `name` to `ending`, lets retention purge it; its ref, ids and the purge time. */
  async function preprodRunAndPurge(name: string, ending: Ending) {
    const pkg = await upload(name);
    const preprodId = instanceIdForPackage("driver-drops", name, pkg.etag, "preproduction");
    endings.set(preprodId, ending);
    const first = await post({ package: pkg.ref, signing: "preproduction" });
    expect(first.status).toBe(202);
    expect(first.jsonBody).toMatchObject({ id: preprodId, signing: "preproduction" });
    await engine.waitForIdle(30_000);
    expect((await engine.getStatus(preprodId, {}))?.runtimeStatus).toBe(ending.kind === "complete" ? "Completed" : "Failed");
    const purgedAt = new Date(engine.now().getTime() + 91 * DAY);
    const purge = await purgeFinishedSubmissions(contextFor("purgeFinishedSubmissions"), purgedAt);
    expect(purge.instancesDeleted).toBeGreaterThanOrEqual(1);
    expect(await engine.getStatus(preprodId, {})).toBeUndefined();
    endings.set(preprodId, { kind: "wait" });
    return { ...pkg, preprodId, purgedAt };
  }

  test("a preprod run Microsoft failed, purged by retention: its record is written, and a re-post is the next round (a new package), not a replay of the failed one", async () => {
    const pkg = await preprodRunAndPurge("preprod-failed-purged.cab", { kind: "microsoft", productId: "-", submissionId: "-" });
    const record = await readPurgeRecord(blobService, getConfig(), pkg.preprodId);
    expect(record).toMatchObject({ instanceId: pkg.preprodId, name: "signPreproduction", runtimeStatus: "Failed", purgedAt: pkg.purgedAt.toISOString(), customStatus: { failureKind: "microsoft" } });

    const again = await post({ package: pkg.ref, signing: "preproduction" });
    expect(again.status).toBe(202);
    expect(again.jsonBody).toMatchObject({ id: pkg.preprodId, signing: "preproduction" });
    await engine.waitForIdle(30_000);
    const starts = startsOf(pkg.preprodId);
    expect(starts).toHaveLength(2);
    // Round 2: uploadPreprodPackage keys its record by round, so a new package is sent instead of the failed one being waited on again.
    expect(starts[1]).toMatchObject({ round: 2 });
  });

  test("a signed preprod run, purged: a re-post answers already signed and a redelivered drop starts nothing; a product request is a run of its own", async () => {
    const pkg = await preprodRunAndPurge("preprod-signed-purged.cab", { kind: "complete" });
    const again = await post({ package: pkg.ref, signing: "preproduction" });
    expect(again.status).toBe(200);
    expect(again.jsonBody).toMatchObject({ id: pkg.preprodId, runtimeStatus: "Completed", alreadySigned: true, historyPurgedAt: pkg.purgedAt.toISOString() });
    const container = blobService.getContainerClient("driver-drops");
    await container.getBlockBlobClient(`${pkg.blobName}.json`).uploadData(Buffer.from(JSON.stringify({ signing: "preproduction" })));
    const properties = await container.getBlobClient(pkg.blobName).getProperties();
    const decision = await handlePackageDropped(
      {
        id: "evt-2",
        eventType: "Microsoft.Storage.BlobCreated",
        subject: `/blobServices/default/containers/driver-drops/blobs/${pkg.blobName}`,
        data: { eTag: pkg.etag, contentLength: properties.contentLength, url: container.getBlobClient(pkg.blobName).url },
        eventTime: new Date().toISOString(),
        dataVersion: "",
        topic: "",
      } as never,
      contextFor("packageDropped"),
    );
    expect(decision).toMatchObject({ action: "alreadyStarted", instanceId: pkg.preprodId, runtimeStatus: "Completed" });
    await engine.waitForIdle(30_000);
    expect(startsOf(pkg.preprodId)).toHaveLength(1);

    endings.set(pkg.instanceId, { kind: "wait" });
    const product = await post({ package: pkg.ref, product: { productName: "Fabrikam" } });
    expect(product.status).toBe(202);
    expect(product.jsonBody).toMatchObject({ id: pkg.instanceId });
  });
});
