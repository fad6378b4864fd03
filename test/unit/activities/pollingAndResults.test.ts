import { AuthenticationError } from "@azure/identity";
import { createHash } from "node:crypto";
import { BlobClient, BlobSASPermissions, BlobServiceClient } from "@azure/storage-blob";
import type { AzuriteHandle } from "../../../local/azurite";
import { copyPackage } from "../../../src/activities/copyPackage";
import { createProduct } from "../../../src/activities/createProduct";
import { createSubmission } from "../../../src/activities/createSubmission";
import { authenticate } from "../../../src/activities/authenticate";
import { commitSubmission } from "../../../src/activities/commitSubmission";
import type { DownloadSignedPackageInput } from "../../../src/activities/contract";
import type { ResultManifest } from "../../../src/domain/types";
import { downloadSignedPackage } from "../../../src/activities/downloadSignedPackage";
import { isTerminalFailure } from "../../../src/activities/errors";
import { getSubmissionStatus } from "../../../src/activities/getSubmissionStatus";
import { writeResultManifest } from "../../../src/activities/writeResultManifest";
import { findDownloadUrl } from "../../../src/hdc";
import { FakeCredential, FakeHdc, TEST_TOKEN, expectNoSecrets, hdcError, startStorage, testBytes, testConfig, testDeps } from "./support";

let azurite: AzuriteHandle;
let service: BlobServiceClient;
beforeAll(async () => {
  azurite = await startStorage();
  service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  await service.getContainerClient("ingestion").createIfNotExists();
  await service.getContainerClient("hdc-results").createIfNotExists();
});
afterAll(async () => {
  await azurite?.stop();
});

function md5(bytes: Buffer): string {
  return createHash("md5").update(bytes).digest("base64");
}

function setup() {
  const hdc = new FakeHdc(service);
  return { hdc, deps: testDeps(testConfig(azurite.connectionString), hdc) };
}

async function newSubmission(hdc: FakeHdc) {
  const product = await hdc.createProduct({ productName: "Results test", testHarness: "attestation", requestedSignatures: [] });
  const submission = await hdc.createSubmission(product.id, { name: "initial", type: "initial" });
  return { productId: product.id, submissionId: submission.id, stored: hdc.submission(product.id, submission.id) };
}

/** Puts `content` in the fake service's result container and returns a read SAS URL to it. */
async function microsoftBlob(name: string, content: Buffer | string, expiresInMs = 3600_000): Promise<string> {
  const blob = service.getContainerClient("hdc-results").getBlockBlobClient(name);
  const body = typeof content === "string" ? Buffer.from(content) : content;
  await blob.upload(body, body.length);
  return blob.generateSasUrl({ permissions: BlobSASPermissions.parse("r"), startsOn: new Date(Date.now() - 7200_000), expiresOn: new Date(Date.now() + expiresInMs) });
}

describe("commitSubmission", () => {
  it("commits a pending submission", async () => {
    const { hdc, deps } = setup();
    const { productId, submissionId } = await newSubmission(hdc);
    expect(await commitSubmission({ productId, submissionId }, deps)).toEqual({ commitStatus: "commitReceived", alreadyCommitted: false });
    expect(hdc.calls.commitSubmission).toBe(1);
  });

  it("accepts 'Only pending submissions can be committed' when the submission is already committed", async () => {
    const { hdc, deps } = setup();
    const { productId, submissionId, stored } = await newSubmission(hdc);
    await commitSubmission({ productId, submissionId }, deps);
    stored.commitStatus = "CommitComplete";

    expect(await commitSubmission({ productId, submissionId }, deps)).toEqual({ commitStatus: "CommitComplete", alreadyCommitted: true });
  });

  it("a 502 after the commit took effect is success, without a second POST", async () => {
    const { hdc, deps } = setup();
    const { productId, submissionId } = await newSubmission(hdc);
    hdc.failNext("commitSubmission", hdcError("POST", 502, undefined, "Bad Gateway"), true);

    expect(await commitSubmission({ productId, submissionId }, deps)).toEqual({ commitStatus: "commitReceived", alreadyCommitted: true });
    expect(hdc.calls.commitSubmission).toBe(1);
    expect(hdc.calls.getSubmission).toBe(1);
  });

  it("a 503 before the commit took effect stays retryable, and the retry commits", async () => {
    const { hdc, deps } = setup();
    const { productId, submissionId } = await newSubmission(hdc);
    hdc.failNext("commitSubmission", hdcError("POST", 503, undefined, "Service Unavailable"), false);

    const failure = await commitSubmission({ productId, submissionId }, deps).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Error);
    expect(isTerminalFailure(failure)).toBe(false);
    expect(await commitSubmission({ productId, submissionId }, deps)).toEqual({ commitStatus: "commitReceived", alreadyCommitted: false });
  });

  it("returns commitFailed for the orchestrator to handle", async () => {
    const { hdc, deps } = setup();
    const { productId, submissionId, stored } = await newSubmission(hdc);
    stored.commitStatus = "commitFailed";
    expect(await commitSubmission({ productId, submissionId }, deps)).toEqual({ commitStatus: "commitFailed", alreadyCommitted: true });
  });
});

describe("getSubmissionStatus", () => {
  it("returns the failure with the error report text (redacted, truncated) and no URL", async () => {
    const { hdc, deps } = setup();
    const { productId, submissionId, stored } = await newSubmission(hdc);
    const report = "SignatureValidationFailed: see https://x.blob.core.windows.net/r?sv=1&sig=abcdef123 for details. " + "x".repeat(200);
    stored.commitStatus = "commitComplete";
    stored.workflowStatus = { currentStep: "packageInfoValidation", state: "failed", messages: ["SignatureValidationFailed"], errorReport: await microsoftBlob(`report-${submissionId}.txt`, report) };

    const status = await getSubmissionStatus({ productId, submissionId }, deps);

    expect(status.progress).toBe("failed");
    expect(status.messages).toEqual(["SignatureValidationFailed"]);
    expect(status.errorReportText).toMatch(/^SignatureValidationFailed: see https:\/\/x\.blob\.core\.windows\.net\/r\?sv=1&sig=REDACTED/);
    expect(status.errorReportText).toMatch(/\[truncated\]$/);
    const serialized = JSON.stringify(status);
    expect(serialized).not.toMatch(/127\.0\.0\.1/);
    expectNoSecrets(serialized);
  });

  it("reports progress without fetching anything while processing", async () => {
    const { hdc, deps } = setup();
    const { productId, submissionId, stored } = await newSubmission(hdc);
    stored.commitStatus = "commitComplete";
    stored.workflowStatus = { currentStep: 3 as unknown as string, state: "completed", messages: [] };
    const status = await getSubmissionStatus({ productId, submissionId }, deps);
    expect(status).toMatchObject({ progress: "processing", currentStep: "3", state: "completed" });
    expect(status.errorReportText).toBeUndefined();
    expect(JSON.stringify(status)).not.toMatch(/https?:/);
  });
});

describe("downloadSignedPackage", () => {
  const pkg = { container: "driver-drops", blobName: "vendor/contoso.cab" };

  it("lands the signed package and driver metadata at predictable paths, and is idempotent", async () => {
    const { hdc, deps } = setup();
    const { productId, submissionId, stored } = await newSubmission(hdc);
    const signed = testBytes(2 * 1024 * 1024 + 5, 3);
    stored.commitStatus = "commitComplete";
    hdc.setDownload(stored, "signedPackage", await microsoftBlob(`signed-${submissionId}.zip`, signed));
    hdc.setDownload(stored, "DriverMetadata", await microsoftBlob(`meta-${submissionId}.json`, '{"BundleInfoMap":{}}'));
    const input: DownloadSignedPackageInput = { instanceId: "drv-download", productId, submissionId, package: pkg };

    const result = await downloadSignedPackage(input, deps);

    // Size and MD5 as Microsoft's download answered them (Content-Length, Content-MD5 of its blob).
    const microsoft = await new BlobClient(findDownloadUrl(await hdc.getSubmission(productId, submissionId), "signedPackage")!).getProperties();
    expect(Buffer.from(microsoft.contentMD5!).toString("base64")).toBe(md5(signed));
    expect(result).toEqual({
      signedPackage: {
        container: "signed-drivers",
        blobName: `vendor/contoso.cab/drv-download/Signed_${submissionId}.zip`,
        contentLength: microsoft.contentLength,
        contentMd5: Buffer.from(microsoft.contentMD5!).toString("base64"),
      },
      driverMetadata: {
        container: "signed-drivers",
        blobName: `vendor/contoso.cab/drv-download/driverMetadata_${submissionId}.json`,
        contentLength: 20,
        contentMd5: md5(Buffer.from('{"BundleInfoMap":{}}')),
      },
    });
    expect(result.signedPackage.contentLength).toBe(signed.length);
    const landed = service.getContainerClient("signed-drivers").getBlockBlobClient(result.signedPackage.blobName);
    expect((await landed.downloadToBuffer()).equals(signed)).toBe(true);
    expectNoSecrets(JSON.stringify(result));

    const etag = (await landed.getProperties()).etag;
    expect(await downloadSignedPackage(input, deps)).toEqual(result);
    expect((await landed.getProperties()).etag).toBe(etag);
  });

  it("fails retryably while there is no signedPackage yet", async () => {
    const { hdc, deps } = setup();
    const { productId, submissionId } = await newSubmission(hdc);
    const failure = await downloadSignedPackage({ instanceId: "drv-early", productId, submissionId, package: pkg }, deps).catch((e: unknown) => e);
    expect((failure as Error).message).toMatch(/no signedPackage/);
    expect(isTerminalFailure(failure)).toBe(false);
  });
});

describe("writeResultManifest", () => {
  it("writes the redacted manifest as JSON next to the results", async () => {
    const { deps } = setup();
    const manifest: ResultManifest = {
      outcome: "failed",
      instanceId: "drv-manifest",
      package: { container: "driver-drops", blobName: "contoso.cab" },
      productId: "14631253285588838",
      submissionId: "1152921504621465124",
      messages: ["see https://h/x?sig=SECRETSIG&se=1"],
      errorReportText: "report with sig=ANOTHER",
      reason: "workflow failed",
      finishedAt: "2025-11-20T00:00:00.000Z",
    };

    const location = await writeResultManifest({ instanceId: "drv-manifest", manifest }, deps);

    expect(location).toMatchObject({ container: "signed-drivers", blobName: "contoso.cab/drv-manifest/manifest.json" });
    const blob = service.getContainerClient("signed-drivers").getBlockBlobClient(location.blobName);
    expect((await blob.getProperties()).contentType).toBe("application/json");
    const stored = JSON.parse((await blob.downloadToBuffer()).toString("utf8")) as ResultManifest;
    expect(stored).toMatchObject({ outcome: "failed", productId: "14631253285588838", submissionId: "1152921504621465124", reason: "workflow failed" });
    expect(stored.messages[0]).toContain("sig=REDACTED");
    expect(JSON.stringify(stored)).not.toMatch(/SECRETSIG|ANOTHER/);
  });
});

describe("writeResultManifest names the package version copyPackage gave the submission", () => {
  it("ETag, size and MD5 of the copied version (no version id on Azurite), and nothing for another package or no submission", async () => {
    const { hdc, deps } = setup();
    await service.getContainerClient("driver-drops").createIfNotExists();
    const bytes = testBytes(64 * 1024 + 3, 5);
    const uploaded = await service.getContainerClient("driver-drops").getBlockBlobClient("versioned.cab").upload(bytes, bytes.length);
    const pkg = { container: "driver-drops", blobName: "versioned.cab", etag: uploaded.etag };
    const { productId, submissionId } = await newSubmission(hdc);
    await copyPackage({ productId, submissionId, package: pkg }, deps);
    // Replaced after the copy: the manifest still names the version Microsoft was given.
    await service.getContainerClient("driver-drops").getBlockBlobClient("versioned.cab").upload("later", 5);
    const read = async (location: { container: string; blobName: string }) =>
      JSON.parse((await service.getContainerClient(location.container).getBlobClient(location.blobName).downloadToBuffer()).toString("utf8")) as ResultManifest;
    const base = { outcome: "succeeded" as const, messages: [], finishedAt: new Date().toISOString() };

    const manifest = await read(await writeResultManifest({ instanceId: "drv-version", manifest: { ...base, instanceId: "drv-version", package: pkg, productId, submissionId } }, deps));

    expect(manifest.packageVersion).toEqual({ container: "driver-drops", blobName: "versioned.cab", etag: uploaded.etag, contentLength: bytes.length, contentMd5: md5(bytes) });
    expect(manifest.packageVersion).not.toHaveProperty("versionId");
    const other = await read(
      await writeResultManifest({ instanceId: "drv-other", manifest: { ...base, instanceId: "drv-other", package: { container: "driver-drops", blobName: "other.cab" }, productId, submissionId } }, deps),
    );
    expect(other.packageVersion).toBeUndefined();
    const rejected = await read(await writeResultManifest({ instanceId: "drv-none", manifest: { ...base, outcome: "rejected", instanceId: "drv-none", package: pkg } }, deps));
    expect(rejected.packageVersion).toBeUndefined();
  });
});

describe("authenticate", () => {
  it("returns who and until when, never the token", async () => {
    const { hdc, deps } = setup();
    const result = await authenticate({ instanceId: "drv-auth" }, deps);
    expect(result).toMatchObject({ tenantId: deps.identity.tenantId, clientId: deps.identity.clientId, credentialKind: "clientSecret", apiReachable: true });
    expect(Date.parse(result.expiresOn)).toBeGreaterThan(Date.now());
    expect(hdc.calls.listProducts).toBe(1);
    expect(JSON.stringify(result)).not.toContain(TEST_TOKEN);
  });

  it("bad credentials are terminal; a 403 from the API too; a 503 is retried", async () => {
    const hdc = new FakeHdc(service);
    const config = testConfig(azurite.connectionString);
    const rejected = new AuthenticationError(401, { error: "invalid_client", error_description: "AADSTS7000215: Invalid client secret provided." });
    const badSecret = await authenticate({ instanceId: "drv-auth" }, testDeps(config, hdc, new FakeCredential(rejected))).catch((e: unknown) => e);
    expect(isTerminalFailure(badSecret)).toBe(true);
    expect((badSecret as Error).message).toContain("AADSTS7000215");

    hdc.failNext("listProducts", hdcError("GET", 403, undefined, "Forbidden"));
    expect(isTerminalFailure(await authenticate({ instanceId: "drv-auth" }, testDeps(config, hdc)).catch((e: unknown) => e))).toBe(true);

    hdc.failNext("listProducts", hdcError("GET", 503, undefined, "Service Unavailable"));
    const busy = await authenticate({ instanceId: "drv-auth" }, testDeps(config, hdc)).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(Error);
    expect(isTerminalFailure(busy)).toBe(false);
  });
});

describe("secrets", () => {
  it("no activity output or log line of a whole run carries a SAS signature, the token or the client secret", async () => {
    const { hdc, deps } = setup();
    await service.getContainerClient("driver-drops").createIfNotExists();
    await service.getContainerClient("driver-drops").getBlockBlobClient("secrets.cab").upload(testBytes(4096), 4096);
    const pkg = { container: "driver-drops", blobName: "secrets.cab" };
    const instanceId = "drv-secrets";
    const outputs: unknown[] = [];
    const record = <T>(output: T): T => {
      outputs.push(output);
      return output;
    };

    record(await authenticate({ instanceId }, deps));
    const { productId } = record(await createProduct({ instanceId, product: { productName: "Secrets", testHarness: "attestation", requestedSignatures: [] } }, deps));
    const { submissionId } = record(await createSubmission({ instanceId, productId, name: "initial", type: "initial" }, deps));
    record(await copyPackage({ productId, submissionId, package: pkg }, deps));
    record(await commitSubmission({ productId, submissionId }, deps));
    const stored = hdc.submission(productId, submissionId);
    stored.commitStatus = "commitComplete";
    stored.workflowStatus = { currentStep: "finalizeIngestion", state: "completed", messages: [] };
    hdc.setDownload(stored, "signedPackage", await microsoftBlob(`secrets-${submissionId}.zip`, "signed"));
    record(await getSubmissionStatus({ productId, submissionId }, deps));
    const download = record(await downloadSignedPackage({ instanceId, productId, submissionId, package: pkg }, deps));
    record(await writeResultManifest({ instanceId, manifest: { outcome: "succeeded", instanceId, package: pkg, productId, submissionId, messages: [], signedPackage: download.signedPackage, finishedAt: new Date().toISOString() } }, deps));

    expect(outputs).toHaveLength(8);
    // The download URLs really were SAS URLs, so their absence below means something.
    expect(JSON.stringify(stored.downloads)).toMatch(/sig=(?!REDACTED)/);
    for (const output of outputs) expectNoSecrets(JSON.stringify(output));
    expectNoSecrets(deps.logLines.join("\n"));
  });
});
