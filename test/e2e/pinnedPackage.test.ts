/**
 * Issue 28 on the local runtime (Azurite, the Hardware Dev Center emulator, the real durable
 * engine): the package Microsoft gets is exactly the version the run was started for. A package
 * replaced after the start, and one replaced between copyPackage's ETag check and its copy, each
 * fail the run before commit: nothing signed, the emulator's submission never committed. A run
 * that succeeds names that version, and the signed package's size and MD5 as Microsoft answered
 * them, in its manifest.
 *
 * Packages are started over HTTP from a container outside the watched drops container, so a
 * replacement does not also start a run of its own. They are put as staged blocks (no Content-MD5)
 * and replaced by bytes of the same length, so the length check after the copy cannot tell the
 * versions apart: only the pinned reads can.
 */
import { createHash } from "node:crypto";
import { APP_CONTAINERS } from "../../local/stack";
import { samplePackage } from "../../local/samplePackage";
import type { ResultManifest } from "../../src/domain/types";
import { expectNothingSecret, startTestStack, waitForEnd, type TestStack } from "../support/stack";

jest.setTimeout(120_000);

const CONTAINER = "e2e-pinned";
/** Long enough for the test to replace the package while the request is held. */
const HOLD_MS = 4000;

describe("every read of the package is pinned to the version the run was started for", () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({ appSettings: { SUBMISSION_CONTAINERS: `${APP_CONTAINERS.drops},${CONTAINER}` } });
    await stack.blobService.getContainerClient(CONTAINER).createIfNotExists();
  });
  afterAll(async () => {
    await stack?.stop();
  });
  afterEach(() => {
    stack.emulators.configure({ faults: [] });
  });

  /** Staged blocks and a block list: storage records no Content-MD5. Returns the new ETag. */
  async function putInBlocks(blobName: string, bytes: Buffer): Promise<string> {
    const blob = stack.blobService.getContainerClient(CONTAINER).getBlockBlobClient(blobName);
    const ids = [0, 1].map((i) => Buffer.from(`e2e-${i}`).toString("base64"));
    const half = Math.ceil(bytes.length / 2);
    for (const [i, id] of ids.entries()) {
      const part = bytes.subarray(i * half, (i + 1) * half);
      await blob.stageBlock(id, part, part.length);
    }
    return (await blob.commitBlockList(ids)).etag!;
  }

  /** The same length, other bytes. */
  function tampered(bytes: Buffer): Buffer {
    const other = Buffer.from(bytes);
    other[other.length - 1] ^= 0xff;
    return other;
  }

  function faultTaken(index: number): boolean {
    const fault = stack.emulators.state().faults[index];
    return fault !== undefined && fault.remaining < fault.times;
  }

  async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
    const giveUpAt = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > giveUpAt) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async function readJson<T>(container: string, blobName: string): Promise<T> {
    return JSON.parse((await stack.blobService.getContainerClient(container).getBlobClient(blobName).downloadToBuffer()).toString("utf8")) as T;
  }

  /** The run failed before commit: its submission exists at the emulator, uncommitted, nothing uploaded or signed. */
  async function expectFailedBeforeCommit(id: string, blobName: string, startedFor: string, replacedWith: string): Promise<void> {
    const final = await waitForEnd(stack, id);
    expect(final.runtimeStatus).toBe("Failed");
    expect(final.stage).toBe("failed");
    const error = String(final.raw.error ?? final.custom.error);
    expect(error).toContain(`Package ${CONTAINER}/${blobName} changed since the run started`);
    expect(error).toContain(startedFor.replace(/"/g, ""));
    expect(error).toContain(replacedWith.replace(/"/g, ""));
    expectNothingSecret(stack, JSON.stringify(final.raw));

    const submission = stack.emulators
      .state()
      .products.find((product) => product.id === final.custom.productId)
      ?.submissions.find((s) => s.id === final.custom.submissionId);
    expect(submission).toBeDefined();
    expect(submission!.commitStatus).toBe("commitPending");
    expect(submission!.upload).toBeUndefined();
    expect(submission!.signedPackage).toBeUndefined();
    expect(stack.emulators.requests().entries.filter((e) => e.path.includes(`/submissions/${final.custom.submissionId}/commit`))).toEqual([]);

    // Nothing signed in our container; the failed manifest says why and names no copied version.
    const results = [];
    for await (const item of stack.blobService.getContainerClient(APP_CONTAINERS.signed).listBlobsFlat({ prefix: `${blobName}/${id}/` })) results.push(item.name);
    expect(results).toEqual([`${blobName}/${id}/manifest.json`]);
    const manifest = await readJson<ResultManifest>(APP_CONTAINERS.signed, results[0]!);
    expect(manifest.outcome).toBe("failed");
    expect(manifest.reason).toContain("changed since the run started");
    expect(manifest.packageVersion).toBeUndefined();
  }

  it("a package replaced after the start (the run held at createSubmission) fails before commit", async () => {
    const pkg = samplePackage({ folder: "e2e-pinned-start" });
    const startedFor = await putInBlocks(pkg.fileName, pkg.bytes);
    stack.emulators.configure({ faults: [{ method: "POST", pathRegex: "/products/\\d+/submissions$", delayMs: HOLD_MS, times: 1 }] });

    const started = await stack.submissions.start({ package: `${CONTAINER}/${pkg.fileName}` });
    expect(started.httpStatus).toBe(202);
    await until("createSubmission held", () => faultTaken(0));
    const replacedWith = await putInBlocks(pkg.fileName, tampered(pkg.bytes));

    await expectFailedBeforeCommit(started.id!, pkg.fileName, startedFor, replacedWith);
  });

  it("a package replaced between copyPackage's ETag check and its server-side copy fails before commit", async () => {
    const pkg = samplePackage({ folder: "e2e-pinned-copy" });
    const startedFor = await putInBlocks(pkg.fileName, pkg.bytes);
    // copyPackage HEADs the package (the check), then GETs the submission for its upload SAS, then copies:
    // holding that GET holds the activity exactly between check and copy.
    stack.emulators.configure({ faults: [{ method: "GET", pathRegex: "/products/\\d+/submissions/\\d+$", delayMs: HOLD_MS, times: 1 }] });

    const started = await stack.submissions.start({ package: `${CONTAINER}/${pkg.fileName}` });
    expect(started.httpStatus).toBe(202);
    await until("copyPackage's GET of the submission held", () => faultTaken(0));
    const id = started.id!;
    expect((await stack.submissions.get(id)).stage).toBe("uploading");
    const replacedWith = await putInBlocks(pkg.fileName, tampered(pkg.bytes));

    await expectFailedBeforeCommit(id, pkg.fileName, startedFor, replacedWith);
  });

  it("a signed run's manifest names the package version, and the signed package's size and MD5 as Microsoft answered them", async () => {
    const pkg = samplePackage({ folder: "e2e-pinned-ok" });
    const uploaded = await stack.blobService.getContainerClient(CONTAINER).getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
    const started = await stack.submissions.start({ package: `${CONTAINER}/${pkg.fileName}` });
    expect(started.httpStatus).toBe(202);
    const final = await waitForEnd(stack, started.id!);
    expect(final.runtimeStatus).toBe("Completed");

    const manifest = await readJson<ResultManifest>(final.custom.manifest!.container, final.custom.manifest!.blobName);
    expectNothingSecret(stack, JSON.stringify(manifest));
    const md5 = (bytes: Buffer) => createHash("md5").update(bytes).digest("base64");
    expect(manifest.packageVersion).toEqual({
      container: CONTAINER,
      blobName: pkg.fileName,
      etag: uploaded.etag,
      contentLength: pkg.bytes.length,
      contentMd5: md5(pkg.bytes),
    });
    // Azurite keeps no blob versions: no x-ms-version-id, so the manifest names none.
    expect(manifest.packageVersion).not.toHaveProperty("versionId");

    // Microsoft's signed package as the emulator holds it: its stored length and Content-MD5.
    const submission = stack.emulators.state().products.find((p) => p.id === final.custom.productId)!.submissions.find((s) => s.id === final.custom.submissionId)!;
    const microsoftBlob = stack.blobService.getContainerClient(submission.signedPackage!.container).getBlobClient(submission.signedPackage!.blob);
    const microsoft = await microsoftBlob.getProperties();
    expect(microsoft.contentMD5).toBeDefined();
    expect(manifest.signedPackage).toMatchObject({
      container: APP_CONTAINERS.signed,
      contentLength: microsoft.contentLength,
      contentMd5: Buffer.from(microsoft.contentMD5!).toString("base64"),
    });
    // And the copy in our container is those bytes.
    const ours = await stack.blobService.getContainerClient(APP_CONTAINERS.signed).getBlobClient(manifest.signedPackage!.blobName).downloadToBuffer();
    expect(md5(ours)).toBe(manifest.signedPackage!.contentMd5);
  });
});
