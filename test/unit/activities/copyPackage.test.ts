import { createHash } from "node:crypto";
import { BlobServiceClient } from "@azure/storage-blob";
import type { AzuriteHandle } from "../../../local/azurite";
import type { CopyPackageInput } from "../../../src/activities/contract";
import { copyPackage } from "../../../src/activities/copyPackage";
import { isTerminalFailure } from "../../../src/activities/errors";
import { CopyDeadlineError } from "../../../src/storage/copy";
import { readPackageCopied } from "../../../src/storage/packageRecords";
import { storageStatusCode } from "../../../src/storage/storageErrors";
import { FakeHdc, expectNoSecrets, startStorage, testBytes, testConfig, testDeps } from "./support";

/** Our account (packages) and a second, separate account playing Microsoft's ingestion storage. */
let ours: AzuriteHandle;
let microsoft: AzuriteHandle;
let oursService: BlobServiceClient;
let microsoftService: BlobServiceClient;

const PACKAGE = testBytes(5 * 1024 * 1024 + 123, 7);
const PACKAGE_MD5 = createHash("md5").update(PACKAGE).digest("base64");
/** Many 1 MiB blocks, so an abort can land in the middle of streaming. */
const LARGE = testBytes(24 * 1024 * 1024, 11);

beforeAll(async () => {
  [ours, microsoft] = await Promise.all([startStorage(), startStorage()]);
  oursService = BlobServiceClient.fromConnectionString(ours.connectionString);
  microsoftService = BlobServiceClient.fromConnectionString(microsoft.connectionString);
  await oursService.getContainerClient("driver-drops").createIfNotExists();
  await oursService.getContainerClient("ingestion").createIfNotExists();
  await microsoftService.getContainerClient("ingestion").createIfNotExists();
  // A single Put Blob, so the storage service records Content-MD5 as it does for a portal upload.
  await oursService.getContainerClient("driver-drops").getBlockBlobClient("contoso.cab").upload(PACKAGE, PACKAGE.length);
  // Staged blocks and a block list: no Content-MD5 (as for any large upload by a tool).
  const unhashed = oursService.getContainerClient("driver-drops").getBlockBlobClient("unhashed.cab");
  const ids = [0, 1, 2].map((i) => Buffer.from(`block-${i}`).toString("base64"));
  const third = Math.ceil(PACKAGE.length / 3);
  for (const [i, id] of ids.entries()) {
    const part = PACKAGE.subarray(i * third, (i + 1) * third);
    await unhashed.stageBlock(id, part, part.length);
  }
  await unhashed.commitBlockList(ids);
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

  it("says 'length' when the source has no Content-MD5, for a server-side copy and for streaming", async () => {
    expect((await oursService.getContainerClient("driver-drops").getBlobClient("unhashed.cab").getProperties()).contentMD5).toBeUndefined();
    for (const ingestion of [oursService, microsoftService]) {
      const hdc = new FakeHdc(ingestion);
      const deps = testDeps(testConfig(ours.connectionString), hdc);
      const { productId, submissionId, stored } = await submissionFor(hdc);

      const result = await copyPackage(input(productId, submissionId, "unhashed.cab"), deps);

      expect(result).toEqual({ bytesCopied: PACKAGE.length, method: ingestion === oursService ? "serverSideCopy" : "streaming", verified: "length" });
      expect((await hdc.uploadBlobClient(stored).downloadToBuffer()).equals(PACKAGE)).toBe(true);
    }
  });

  it("without a source MD5, a same-length blob already at the destination is not taken for the package", async () => {
    const hdc = new FakeHdc(oursService);
    const deps = testDeps(testConfig(ours.connectionString), hdc);
    const { productId, submissionId, stored } = await submissionFor(hdc);
    const impostor = Buffer.alloc(PACKAGE.length, 0x5a);
    await hdc.uploadBlobClient(stored).upload(impostor, impostor.length);

    const result = await copyPackage(input(productId, submissionId, "unhashed.cab"), deps);

    expect(result.verified).toBe("length");
    expect((await hdc.uploadBlobClient(stored).downloadToBuffer()).equals(PACKAGE)).toBe(true);
    expect(deps.logLines.some((line) => line.includes("already holds"))).toBe(false);
  });

  it("the activity deadline aborts the streaming fallback: a retryable deadline error and no committed blob", async () => {
    await oursService.getContainerClient("driver-drops").getBlockBlobClient("large.cab").upload(LARGE, LARGE.length);
    const hdc = new FakeHdc(microsoftService);
    const deps = testDeps(testConfig(ours.connectionString, { STREAM_CONCURRENCY: "1" }), hdc);
    const { productId, submissionId, stored } = await submissionFor(hdc);
    const upload = hdc.uploadBlobClient(stored);
    // The deadline fires once streaming has put its first blocks at the destination (mid-copy).
    const deadline = new AbortController();
    deps.budget = { signal: deadline.signal, deadlineMs: Date.now() + 60_000, minutes: 0.5 };
    let stagedWhenAborted = 0;
    const watch = async () => {
      while (!deadline.signal.aborted) {
        const staged = (await upload.getBlockList("uncommitted").catch(() => undefined))?.uncommittedBlocks?.length ?? 0;
        if (staged > 0) {
          stagedWhenAborted = staged;
          deadline.abort();
        }
      }
    };
    let watching: Promise<void> | undefined;
    const log = deps.log;
    deps.log = (line) => {
      log(line);
      if (line.includes("streaming")) watching = watch();
    };

    const error: Error = await copyPackage(input(productId, submissionId, "large.cab"), deps).then(
      () => new Error("expected the copy to be aborted"),
      (e: unknown) => e as Error,
    );
    await watching;

    expect(error).toBeInstanceOf(CopyDeadlineError);
    expect(isTerminalFailure(error)).toBe(false);
    expect(error.message).toMatch(/did not finish within the activity budget of 0.5 minutes \(ACTIVITY_DEADLINE_MINUTES\) while streaming/);
    expect(stagedWhenAborted).toBeGreaterThan(0);
    expect(stagedWhenAborted).toBeLessThan(LARGE.length / (1024 * 1024));
    // Nothing committed: the upload slot has no blob (its staged blocks are never committed).
    const committed = await upload.getProperties().then(() => 200, (e: unknown) => storageStatusCode(e));
    expect(committed).toBe(404);
    expectNoSecrets(error.message);
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

  describe("every read of the package is pinned to the version the run was started for", () => {
    /** Staged blocks: no Content-MD5, so only the length could catch a same-size replacement after the copy. */
    async function putInBlocks(blobName: string, bytes: Buffer): Promise<string> {
      const blob = oursService.getContainerClient("driver-drops").getBlockBlobClient(blobName);
      const ids = [0, 1].map((i) => Buffer.from(`pin-${i}`).toString("base64"));
      const half = Math.ceil(bytes.length / 2);
      for (const [i, id] of ids.entries()) {
        const part = bytes.subarray(i * half, (i + 1) * half);
        await blob.stageBlock(id, part, part.length);
      }
      return (await blob.commitBlockList(ids)).etag!;
    }

    /** Runs `replace` inside the activity's GET of the submission: after its ETag check, before the copy starts. */
    function replaceBetweenCheckAndCopy(hdc: FakeHdc, replace: () => Promise<unknown>): { replaced: () => boolean } {
      const getSubmission = hdc.getSubmission.bind(hdc);
      let done = false;
      hdc.getSubmission = async (productId, submissionId) => {
        if (!done) {
          done = true;
          await replace();
        }
        return getSubmission(productId, submissionId);
      };
      return { replaced: () => done };
    }

    const OTHER = testBytes(PACKAGE.length, 99);

    for (const path of ["serverSideCopy", "streaming"] as const) {
      it(`${path}: a package replaced between the ETag check and the copy fails terminally, and nothing reaches the upload slot`, async () => {
        const blobName = `pinned-${path}.cab`;
        const startedFor = await putInBlocks(blobName, PACKAGE);
        // Microsoft's storage is our own account (server-side copy works) or another one (it cannot read ours: streaming).
        const hdc = new FakeHdc(path === "serverSideCopy" ? oursService : microsoftService);
        const deps = testDeps(testConfig(ours.connectionString), hdc);
        const { productId, submissionId, stored } = await submissionFor(hdc);
        let replacedWith = "";
        const race = replaceBetweenCheckAndCopy(hdc, async () => {
          replacedWith = await putInBlocks(blobName, OTHER); // same length, no MD5: the length check alone would pass it
        });

        const error = await copyPackage({ productId, submissionId, package: { container: "driver-drops", blobName, etag: startedFor } }, deps).then(
          () => undefined,
          (e: unknown) => e as Error,
        );

        expect(race.replaced()).toBe(true);
        expect(error).toBeDefined();
        expect(isTerminalFailure(error)).toBe(true);
        expect(error!.message).toContain(`Package driver-drops/${blobName} changed since the run started`);
        expect(error!.message).toContain(startedFor);
        expect(error!.message).toContain(replacedWith);
        expectNoSecrets(error!.message);
        expectNoSecrets(deps.logLines.join("\n"));
        // Neither version reached Microsoft's upload slot: a pinned copy never starts, a pinned stream never commits.
        expect(await hdc.uploadBlobClient(stored).exists()).toBe(false);
        if (path === "streaming") expect(deps.logLines.some((line) => /CannotVerifyCopySource/.test(line))).toBe(true);
        // No record of a copied version for the manifest.
        expect(await readPackageCopied(oursService, deps.config, { productId, submissionId })).toBeUndefined();
      });
    }

    it("a package replaced after the run started (before the activity) fails terminally before anything is copied", async () => {
      const blobName = "replaced-before.cab";
      const startedFor = await putInBlocks(blobName, PACKAGE);
      const now = (await oursService.getContainerClient("driver-drops").getBlockBlobClient(blobName).upload(OTHER, OTHER.length)).etag!;
      const hdc = new FakeHdc(oursService);
      const deps = testDeps(testConfig(ours.connectionString), hdc);
      const { productId, submissionId, stored } = await submissionFor(hdc);

      const error = (await copyPackage({ productId, submissionId, package: { container: "driver-drops", blobName, etag: startedFor } }, deps).catch((e: unknown) => e)) as Error;

      expect(isTerminalFailure(error)).toBe(true);
      expect(error.message).toContain(`Package driver-drops/${blobName} changed since the run started (pinned ETag ${startedFor}, now ${now})`);
      expect(await hdc.uploadBlobClient(stored).exists()).toBe(false);
    });

    it("records the copied version (ETag, size, MD5) for the manifest; no version id where storage gives none", async () => {
      const hdc = new FakeHdc(oursService);
      const deps = testDeps(testConfig(ours.connectionString), hdc);
      const { productId, submissionId } = await submissionFor(hdc);
      const properties = await oursService.getContainerClient("driver-drops").getBlobClient("contoso.cab").getProperties();

      await copyPackage({ productId, submissionId, package: { container: "driver-drops", blobName: "contoso.cab", etag: properties.etag } }, deps);

      const record = await readPackageCopied(oursService, deps.config, { productId, submissionId });
      expect(record).toEqual({ container: "driver-drops", blobName: "contoso.cab", etag: properties.etag, contentLength: PACKAGE.length, contentMd5: PACKAGE_MD5 });
      // Azurite keeps no versions: no x-ms-version-id, so none is recorded (never invented).
      expect(properties.versionId).toBeUndefined();
    });

    it("records the version id when storage gives one (x-ms-version-id, as on an Azure account with versioning)", async () => {
      // Azurite keeps no versions, so only the package's HEAD answer is given the header Azure would send.
      const versionId = "2026-12-07T03:00:00.1234567Z";
      const withVersions: BlobServiceClient = Object.create(oursService);
      withVersions.getContainerClient = (name: string) => {
        const container = oursService.getContainerClient(name);
        const blockBlob = container.getBlockBlobClient.bind(container);
        container.getBlockBlobClient = (blobName: string) => {
          const client = blockBlob(blobName);
          const getProperties = client.getProperties.bind(client);
          client.getProperties = async (options) => ({ ...(await getProperties(options)), versionId });
          return client;
        };
        return container;
      };
      const hdc = new FakeHdc(oursService);
      const deps = testDeps(testConfig(ours.connectionString), hdc);
      deps.blobService = withVersions;
      const { productId, submissionId } = await submissionFor(hdc);

      await copyPackage(input(productId, submissionId), deps);

      expect(await readPackageCopied(oursService, deps.config, { productId, submissionId })).toMatchObject({ blobName: "contoso.cab", versionId });
    });
  });
});
