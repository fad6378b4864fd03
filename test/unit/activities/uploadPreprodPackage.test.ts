/**
 * uploadPreprodPackage (issue 40) against real Azurite and the Hardware Dev Center emulator: at most
 * one preprod package per run, whatever the attempts do.
 */
import { ClientSecretCredential } from "@azure/identity";
import { uploadPreprodPackage, preprodRecordName } from "../../../src/activities/uploadPreprodPackage";
import { getPreprodStatus } from "../../../src/activities/getPreprodStatus";
import { downloadPreprodSigned } from "../../../src/activities/downloadPreprodSigned";
import { isTerminalFailure } from "../../../src/activities/errors";
import { HdcClient } from "../../../src/hdc/client";
import { type EmulatorFixture, startEmulatorFixture } from "../../support/emulatorFixture";
import { testConfig, testDeps } from "./support";

const APP = { tenantId: "tenant-upload-preprod", clientId: "client-upload-preprod", clientSecret: "upload-preprod-secret" };
const CONTAINER = "driver-drops";

let fixture: EmulatorFixture;
let client: HdcClient;

beforeAll(async () => {
  fixture = await startEmulatorFixture({ apps: [APP] });
  const credential = new ClientSecretCredential(APP.tenantId, APP.clientId, APP.clientSecret, { authorityHost: fixture.emulators.authorityHost, disableInstanceDiscovery: true });
  client = new HdcClient({ baseUrl: fixture.emulators.hdcBaseUrl, credential, scope: "https://manage.devcenter.microsoft.com/.default", timeoutMs: 10_000, maxRetries: 1, retryDelayMs: 10 });
}, 60_000);
afterAll(async () => {
  await fixture?.stop();
});
beforeEach(async () => {
  await fixture.emulators.reset();
});

const puts = () => fixture.emulators.requests().entries.filter((entry) => entry.kind === "createPreprodPackage").length;

async function readRecord(deps: ReturnType<typeof testDeps>, instanceId: string): Promise<Record<string, unknown>> {
  const blob = deps.blobService.getContainerClient(deps.config.settings.STATE_CONTAINER).getBlobClient(preprodRecordName(instanceId));
  return JSON.parse((await blob.downloadToBuffer()).toString("utf8")) as Record<string, unknown>;
}

async function setup(name: string) {
  const deps = testDeps(testConfig(fixture.azurite.connectionString), client);
  const container = deps.blobService.getContainerClient(CONTAINER);
  await container.createIfNotExists();
  const bytes = Buffer.alloc(256 * 1024, name);
  const uploaded = await container.getBlockBlobClient(name).uploadData(bytes);
  return { deps, bytes, pkg: { container: CONTAINER, blobName: name, etag: uploaded.etag, contentLength: bytes.length } };
}

describe("uploadPreprodPackage", () => {
  it("two attempts at once send one package; a later attempt reuses its id", async () => {
    const { deps, pkg } = await setup("concurrent.cab");
    fixture.emulators.configure({ faults: [{ method: "PUT", pathRegex: "/preprod/packages/?$", delayMs: 500, times: 2 }] });
    const instanceId = "inst-concurrent";
    const outcomes = await Promise.allSettled([uploadPreprodPackage({ instanceId, package: pkg }, deps), uploadPreprodPackage({ instanceId, package: pkg }, deps)]);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    expect(String((outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult).reason)).toMatch(/another attempt|answer was lost/);
    expect(puts()).toBe(1);
    const sent = (outcomes.find((o) => o.status === "fulfilled") as PromiseFulfilledResult<{ packageId: string }>).value;
    const again = await uploadPreprodPackage({ instanceId, package: pkg }, deps);
    expect(again).toMatchObject({ packageId: sent.packageId, reused: true, bytesSent: 0 });
    expect(puts()).toBe(1);
    expect(fixture.emulators.state().preprodPackages).toHaveLength(1);
  }, 60_000);

  it("an intent without an id (the answer was lost) stops for good and sends nothing", async () => {
    const { deps, pkg } = await setup("lost.cab");
    const record = deps.blobService.getContainerClient(deps.config.settings.STATE_CONTAINER);
    await record.createIfNotExists();
    const body = JSON.stringify({ state: "sending", at: "2026-12-07T00:00:00.000Z" });
    await record.getBlockBlobClient(preprodRecordName("inst-lost")).upload(body, body.length);
    await expect(uploadPreprodPackage({ instanceId: "inst-lost", package: pkg }, deps)).rejects.toThrow(/\[terminal\].*answer was lost/s);
    expect(puts()).toBe(0);
  }, 60_000);

  it("a package replaced since the run started is refused before anything is sent or recorded", async () => {
    const { deps, pkg } = await setup("replaced.cab");
    await deps.blobService.getContainerClient(CONTAINER).getBlockBlobClient("replaced.cab").uploadData(Buffer.from("another version"));
    await expect(uploadPreprodPackage({ instanceId: "inst-replaced", package: pkg }, deps)).rejects.toThrow(/no longer the version/);
    expect(puts()).toBe(0);
    const exists = await deps.blobService.getContainerClient(deps.config.settings.STATE_CONTAINER).getBlobClient(preprodRecordName("inst-replaced")).exists();
    expect(exists).toBe(false);
  }, 60_000);

  it("a refusal (400, 403, 409, 422) fails for good with Microsoft's message whole, after one PUT, and clears the intent", async () => {
    const { deps, pkg } = await setup("refused.cab");
    for (const status of [400, 403, 409, 422] as const) {
      const message = `Scripted refusal ${status}: the EV signature of refused.cab is not accepted for preproduction signing (catalog contoso.cat, signer CN=Contoso Ltd)`;
      fixture.emulators.configure({ faults: [{ method: "PUT", pathRegex: "/preprod/packages/?$", status, message, times: 1 }] });
      const before = puts();
      const instanceId = `inst-refused-${status}`;
      const failure = await uploadPreprodPackage({ instanceId, package: pkg }, deps).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(Error);
      // Terminal: the orchestrator's retry loop stops here instead of streaming the package again.
      expect(isTerminalFailure(failure)).toBe(true);
      expect((failure as Error).message).toContain(message);
      expect(puts()).toBe(before + 1);
      // The intent is cleared: Microsoft created nothing, so a later run of this key may send.
      expect(await readRecord(deps, instanceId)).toMatchObject({ state: "notSent" });
    }
    expect(fixture.emulators.state().preprodPackages).toHaveLength(0);
  }, 60_000);

  it("throttling (429) stays retryable and leaves the intent cleared, so the retry sends and succeeds", async () => {
    const { deps, pkg } = await setup("throttled.cab");
    fixture.emulators.configure({ faults: [{ method: "PUT", pathRegex: "/preprod/packages/?$", status: 429, retryAfterSeconds: 0, times: 5 }] });
    const failure = await uploadPreprodPackage({ instanceId: "inst-throttled", package: pkg }, deps).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    expect(isTerminalFailure(failure)).toBe(false);
    expect(await readRecord(deps, "inst-throttled")).toMatchObject({ state: "notSent" });
    fixture.emulators.configure({ faults: [] });
    const sent = await uploadPreprodPackage({ instanceId: "inst-throttled", package: pkg }, deps);
    expect(sent.reused).toBe(false);
    expect(fixture.emulators.state().preprodPackages).toHaveLength(1);
  }, 60_000);

  it("a failed write of the notSent record does not hide Microsoft's refusal; the record failure is logged", async () => {
    const { deps, pkg } = await setup("refused-unrecorded.cab");
    const message = "Scripted refusal: the package is not EV-signed";
    // Hold the refusal so the record can be locked (leased) before the activity tries to clear it.
    fixture.emulators.configure({ faults: [{ method: "PUT", pathRegex: "/preprod/packages/?$", status: 400, message, delayMs: 1500, times: 1 }] });
    const instanceId = "inst-refused-unrecorded";
    const attempt = uploadPreprodPackage({ instanceId, package: pkg }, deps).then(
      () => undefined,
      (error: unknown) => error,
    );
    const recordBlob = deps.blobService.getContainerClient(deps.config.settings.STATE_CONTAINER).getBlobClient(preprodRecordName(instanceId));
    const started = Date.now();
    while (!(await recordBlob.exists())) {
      if (Date.now() - started > 10_000) throw new Error("the intent was never recorded");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const lease = recordBlob.getBlobLeaseClient();
    await lease.acquireLease(-1);
    try {
      const failure = await attempt;
      expect(isTerminalFailure(failure)).toBe(true);
      expect((failure as Error).message).toContain(message);
      expect(deps.logLines.join("\n")).toMatch(/Could not record that preprod package .*refused-unrecorded\.cab was not sent/);
      expect(await readRecord(deps, instanceId)).toMatchObject({ state: "sending" });
    } finally {
      await lease.releaseLease();
    }
  }, 60_000);

  it("reading the status or the assets of a package Microsoft refuses to show (403/404) fails for good", async () => {
    const { deps, pkg } = await setup("status-refused.cab");
    fixture.emulators.configure({ preprod: { notStartedSeconds: 0, processingSeconds: 0, outcome: "succeeded" } });
    const { packageId } = await uploadPreprodPackage({ instanceId: "inst-status-refused", package: pkg }, deps);
    const statusInput = { instanceId: "inst-status-refused", packageId, package: pkg };

    fixture.emulators.configure({ faults: [{ method: "GET", pathRegex: `/preprod/packages/${packageId}$`, status: 404, message: "Scripted: package not found for this account", times: 1 }] });
    const notFound = await getPreprodStatus(statusInput, deps).then(() => undefined, (error: unknown) => error);
    expect(isTerminalFailure(notFound)).toBe(true);
    expect((notFound as Error).message).toContain("Scripted: package not found for this account");

    fixture.emulators.configure({ faults: [{ method: "GET", pathRegex: "/assets$", status: 403, message: "Scripted: the app lacks the Manager role", times: 1 }] });
    const forbidden = await downloadPreprodSigned(statusInput, deps).then(() => undefined, (error: unknown) => error);
    expect(isTerminalFailure(forbidden)).toBe(true);
    expect((forbidden as Error).message).toContain("Scripted: the app lacks the Manager role");

    // A 503 stays retryable.
    fixture.emulators.configure({ faults: [{ method: "GET", pathRegex: `/preprod/packages/${packageId}$`, status: 503, times: 5 }] });
    const transient = await getPreprodStatus(statusInput, deps).then(() => undefined, (error: unknown) => error);
    expect(transient).toBeInstanceOf(Error);
    expect(isTerminalFailure(transient)).toBe(false);
    fixture.emulators.configure({ faults: [] });
    await expect(getPreprodStatus(statusInput, deps)).resolves.toMatchObject({ phase: "succeeded" });
  }, 60_000);
});
