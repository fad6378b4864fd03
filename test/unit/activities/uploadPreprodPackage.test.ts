/**
 * uploadPreprodPackage (issue 40) against real Azurite and the Hardware Dev Center emulator: at most
 * one preprod package per run, whatever the attempts do.
 */
import { ClientSecretCredential } from "@azure/identity";
import { uploadPreprodPackage, preprodRecordName } from "../../../src/activities/uploadPreprodPackage";
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
});
