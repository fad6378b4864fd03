import { createHash } from "node:crypto";
import { BlobServiceClient } from "@azure/storage-blob";
import type { AzuriteHandle } from "../../../local/azurite";
import type { CopyPackageInput } from "../../../src/activities/contract";
import { copyPackage } from "../../../src/activities/copyPackage";
import { isTerminalFailure } from "../../../src/activities/errors";
import { FakeHdc, expectNoSecrets, startStorage, testBytes, testConfig, testDeps } from "./support";

/** Our account (packages) and a second, separate account playing Microsoft's ingestion storage. */
let ours: AzuriteHandle;
let microsoft: AzuriteHandle;
let oursService: BlobServiceClient;
let microsoftService: BlobServiceClient;

const PACKAGE = testBytes(5 * 1024 * 1024 + 123, 7);
const PACKAGE_MD5 = createHash("md5").update(PACKAGE).digest("base64");

beforeAll(async () => {
  [ours, microsoft] = await Promise.all([startStorage(), startStorage()]);
  oursService = BlobServiceClient.fromConnectionString(ours.connectionString);
  microsoftService = BlobServiceClient.fromConnectionString(microsoft.connectionString);
  await oursService.getContainerClient("driver-drops").createIfNotExists();
  await oursService.getContainerClient("ingestion").createIfNotExists();
  await microsoftService.getContainerClient("ingestion").createIfNotExists();
  // A single Put Blob, so the storage service records Content-MD5 as it does for a portal upload.
  await oursService.getContainerClient("driver-drops").getBlockBlobClient("contoso.cab").upload(PACKAGE, PACKAGE.length);
});
afterAll(async () => {
  await Promise.all([ours?.stop(), microsoft?.stop()]);
});

async function submissionFor(hdc: FakeHdc) {
  const product = await hdc.createProduct({ productName: "Copy test", testHarness: "attestation", requestedSignatures: [] });
  const submission = await hdc.createSubmission(product.id, { name: "initial", type: "initial" });
  return { productId: product.id, submissionId: submission.id, stored: hdc.submission(product.id, submission.id) };
}

function input(productId: string, submissionId: string, blobName = "contoso.cab"): CopyPackageInput {
  return { productId, submissionId, package: { container: "driver-drops", blobName } };
}

describe("copyPackage", () => {
  it("copies a multi-MiB package server-side and verifies length and MD5", async () => {
    const hdc = new FakeHdc(oursService);
    const deps = testDeps(testConfig(ours.connectionString), hdc);
    const { productId, submissionId, stored } = await submissionFor(hdc);

    const result = await copyPackage(input(productId, submissionId), deps);

    expect(result).toEqual({ bytesCopied: PACKAGE.length, method: "serverSideCopy", verified: "lengthAndMd5", contentMd5: PACKAGE_MD5 });
    const uploaded = await hdc.uploadBlobClient(stored).downloadToBuffer();
    expect(uploaded.equals(PACKAGE)).toBe(true);
    expectNoSecrets(JSON.stringify(result));
    expectNoSecrets(deps.logLines.join("\n"));
  });

  it("is idempotent: a retry finds the package already uploaded and does not copy again", async () => {
    const hdc = new FakeHdc(oursService);
    const deps = testDeps(testConfig(ours.connectionString), hdc);
    const { productId, submissionId, stored } = await submissionFor(hdc);
    await copyPackage(input(productId, submissionId), deps);
    const firstEtag = (await hdc.uploadBlobClient(stored).getProperties()).etag;

    const again = await copyPackage(input(productId, submissionId), deps);

    expect(again.bytesCopied).toBe(PACKAGE.length);
    expect((await hdc.uploadBlobClient(stored).getProperties()).etag).toBe(firstEtag);
    expect(deps.logLines.some((line) => line.includes("already holds"))).toBe(true);
  });

  it("GETs the submission again when the upload SAS is about to expire", async () => {
    const hdc = new FakeHdc(oursService);
    const deps = testDeps(testConfig(ours.connectionString), hdc);
    const { productId, submissionId } = await submissionFor(hdc);
    // First GET hands out a SAS valid for 2 more minutes, the next one a SAS valid for an hour.
    hdc.setUploadSasExpiries(() => new Date(Date.now() + 2 * 60_000), () => new Date(Date.now() + 3600_000));
    const getsBefore = hdc.calls.getSubmission;

    const result = await copyPackage(input(productId, submissionId), deps);

    expect(hdc.calls.getSubmission - getsBefore).toBe(2);
    expect(result.verified).toBe("lengthAndMd5");
  });

  it("fetches a fresh SAS and retries once when the upload SAS has already expired", async () => {
    const hdc = new FakeHdc(oursService);
    const deps = testDeps(testConfig(ours.connectionString), hdc);
    const { productId, submissionId } = await submissionFor(hdc);
    // Expired SAS (the service refuses it with 403), then a re-GET (still expired), then a good one.
    hdc.setUploadSasExpiries(() => new Date(Date.now() - 60_000), () => new Date(Date.now() - 60_000), () => new Date(Date.now() + 3600_000));

    const result = await copyPackage(input(productId, submissionId), deps);

    expect(result.bytesCopied).toBe(PACKAGE.length);
    expect(deps.logLines.some((line) => line.includes("was refused (403)"))).toBe(true);
    expectNoSecrets(deps.logLines.join("\n"));
  });

  it("streams when Microsoft's storage cannot read our account (CannotVerifyCopySource)", async () => {
    // The upload blob lives in a different storage account (a second Azurite) than our package.
    // That Azurite cannot reach our account, and answers Copy Blob with 404 CannotVerifyCopySource:
    // the same situation as a production source account behind a firewall or private endpoint.
    const hdc = new FakeHdc(microsoftService);
    const deps = testDeps(testConfig(ours.connectionString), hdc);
    const { productId, submissionId, stored } = await submissionFor(hdc);

    const result = await copyPackage(input(productId, submissionId), deps);

    expect(result).toEqual({ bytesCopied: PACKAGE.length, method: "streaming", verified: "lengthAndMd5", contentMd5: PACKAGE_MD5 });
    const uploaded = await hdc.uploadBlobClient(stored).downloadToBuffer();
    expect(uploaded.equals(PACKAGE)).toBe(true);
    // Bounded memory: 1 MiB blocks, so a 5 MiB package needs several blocks.
    const blocks = await hdc.uploadBlobClient(stored).getBlockList("committed");
    expect(blocks.committedBlocks?.length).toBeGreaterThanOrEqual(5);
    expect(deps.logLines.some((line) => /CannotVerifyCopySource/.test(line))).toBe(true);
    expectNoSecrets(deps.logLines.join("\n"));
  });

  it("rejects a zero-byte package terminally and a missing one too", async () => {
    const hdc = new FakeHdc(oursService);
    const deps = testDeps(testConfig(ours.connectionString), hdc);
    const { productId, submissionId } = await submissionFor(hdc);
    await oursService.getContainerClient("driver-drops").getBlockBlobClient("empty.cab").upload("", 0);

    const empty = await copyPackage(input(productId, submissionId, "empty.cab"), deps).catch((e: unknown) => e);
    expect(isTerminalFailure(empty)).toBe(true);
    expect((empty as Error).message).toMatch(/empty/);

    const missing = await copyPackage(input(productId, submissionId, "missing.cab"), deps).catch((e: unknown) => e);
    expect(isTerminalFailure(missing)).toBe(true);
    expect((missing as Error).message).toMatch(/does not exist/);
  });
});
