/**
 * Issue 28, uploads, on the local runtime (Azurite, the local Event Grid watcher on the drops
 * container, the Hardware Dev Center emulator): every POST /api/uploads names a blob of its own, so a
 * second caller asking for the same name and hash cannot change the first caller's bytes; "already
 * uploaded" comes only from the service's record of a pinned, unchanged blob and only to the holder
 * of the upload id, never from metadata a SAS holder writes; the product-fields sidecar is the
 * service's; sizes over MAX_PACKAGE_BYTES get no URL, and a blob larger than claimed (or than the
 * limit) is refused at the start and at the drop with nothing sent to Microsoft.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { BlockBlobClient } from "@azure/storage-blob";
import { APP_CONTAINERS } from "../../local/stack";
import { samplePackage } from "../../local/samplePackage";
import { instanceIdForPackage } from "../../src/domain/instanceId";
import { uploadRecordBlobName, type UploadRecord } from "../../src/storage/uploadRecords";
import { startTestStack, type TestStack } from "../support/stack";

jest.setTimeout(120_000);

/** Small for this file, so a blob over it is cheap to put; 5 GiB is over any sensible limit. */
const LIMIT = 5 * 1024 * 1024;
const FIVE_GIB = 5 * 1024 * 1024 * 1024;

const sha256Of = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe("POST /api/uploads: a blob of its own per request, pinned, and refused when too large", () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({ appSettings: { MAX_PACKAGE_BYTES: String(LIMIT) } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const drops = () => stack.blobService.getContainerClient(APP_CONTAINERS.drops);

  async function ask(body: unknown): Promise<{ status: number; body: Record<string, any> }> {
    const response = await fetch(`${stack.apiUrl}/uploads`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-functions-key": stack.functionKey },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  }

  async function start(pkg: string): Promise<{ status: number; body: Record<string, any> }> {
    const response = await fetch(`${stack.apiUrl}/submissions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-functions-key": stack.functionKey },
      body: JSON.stringify({ package: pkg }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  }

  const blobNameOf = (pkg: string) => pkg.slice(`${APP_CONTAINERS.drops}/`.length);

  /** The same length, other bytes. */
  function tampered(bytes: Buffer): Buffer {
    const other = Buffer.from(bytes);
    other[other.length - 1] ^= 0xff;
    return other;
  }

  /** `url`'s signature (query) on another blob's path: what a SAS holder would try. */
  function sameSasOn(url: string, blobName: string): string {
    const sas = new URL(url);
    return `${drops().getBlobClient(blobName).url}${sas.search}`;
  }

  function productsNamed(name: string): number {
    return stack.emulators.state().products.filter((product) => product.productName === name).length;
  }

  it("a second request for the same name and hash gets another blob; its PUT cannot change the first caller's", async () => {
    const pkg = samplePackage({ folder: "uploads-second-caller" });
    const request = { fileName: pkg.fileName, sha256: sha256Of(pkg.bytes), size: pkg.bytes.length };

    const first = await ask(request);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ exists: false, uploadId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(first.body.package).toBe(`${APP_CONTAINERS.drops}/ci/${first.body.uploadId}/${pkg.fileName}`);
    // Only the permissions a block upload needs, on this one blob, for 30 minutes.
    const sas = new URL(first.body.uploadUrl);
    expect(sas.pathname.endsWith(`/${first.body.package}`)).toBe(true);
    expect(sas.searchParams.get("sp")).toBe("cw");
    expect(sas.searchParams.get("sr")).toBe("b");
    expect(Date.parse(sas.searchParams.get("se")!) - Date.now()).toBeLessThanOrEqual(31 * 60 * 1000);
    await expect(new BlockBlobClient(first.body.uploadUrl).getProperties()).rejects.toMatchObject({ statusCode: 403 });

    await new BlockBlobClient(first.body.uploadUrl).uploadData(pkg.bytes, { metadata: first.body.metadata });
    const original = await drops().getBlobClient(blobNameOf(first.body.package)).getProperties();

    // The service's record: its own id, blob, the full sha256, the claimed size, created and expiry.
    const record = JSON.parse(
      (await stack.blobService.getContainerClient(APP_CONTAINERS.state).getBlobClient(uploadRecordBlobName(first.body.uploadId)).downloadToBuffer()).toString("utf8"),
    ) as UploadRecord;
    expect(record).toMatchObject({ uploadId: first.body.uploadId, blobName: blobNameOf(first.body.package), sha256: request.sha256, size: request.size, expiresOn: first.body.expiresOn });
    expect(Date.parse(record.createdAt)).toBeLessThanOrEqual(Date.now());
    // The upload key is kept only as its hash.
    expect(first.body.uploadKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(record.keySha256).toBe(sha256Of(Buffer.from(first.body.uploadKey, "utf8")));
    expect(JSON.stringify(record)).not.toContain(first.body.uploadKey);

    const second = await ask(request);
    expect(second.status).toBe(200);
    expect(second.body.exists).toBe(false);
    expect(second.body.uploadId).not.toBe(first.body.uploadId);
    expect(second.body.package).not.toBe(first.body.package);
    expect(new URL(second.body.uploadUrl).pathname).not.toBe(sas.pathname);

    // The second caller's PUT through its own URL lands on its own blob...
    await new BlockBlobClient(second.body.uploadUrl).uploadData(tampered(pkg.bytes), { metadata: { sha256: request.sha256 } });
    // ...and its signature does not open the first caller's blob.
    await expect(new BlockBlobClient(sameSasOn(second.body.uploadUrl, blobNameOf(first.body.package))).uploadData(tampered(pkg.bytes))).rejects.toMatchObject({ statusCode: 403 });

    const after = drops().getBlobClient(blobNameOf(first.body.package));
    expect((await after.getProperties()).etag).toBe(original.etag);
    expect(await after.downloadToBuffer()).toEqual(pkg.bytes);
  });

  it("metadata a SAS holder writes never makes the service say 'already uploaded'; only the pinned, unchanged blob does, to the holder of its id and key", async () => {
    const pkg = samplePackage({ folder: "uploads-metadata" });
    const request = { fileName: pkg.fileName, sha256: sha256Of(pkg.bytes), size: pkg.bytes.length };
    const issued = await ask(request);
    expect(issued.status).toBe(200);
    await new BlockBlobClient(issued.body.uploadUrl).uploadData(pkg.bytes, { metadata: { sha256: request.sha256 } });

    // The start pins this version (or finds it pinned by the drop): then its holder may skip the upload.
    const started = await start(issued.body.package);
    expect([202, 409]).toContain(started.status);
    const holder = { uploadId: issued.body.uploadId, uploadKey: issued.body.uploadKey };
    const pinned = await ask({ ...request, ...holder });
    expect(pinned.body).toEqual({ exists: true, uploadId: issued.body.uploadId, package: issued.body.package, sha256: request.sha256, size: request.size });

    // The id is public (it is in the blob's name, in every status and list): it alone proves nothing.
    const idOnly = await ask({ ...request, uploadId: issued.body.uploadId });
    expect(idOnly.status).toBe(400);
    expect(idOnly.body.fields).toEqual([{ field: "uploadKey", reason: "is required with uploadId" }]);
    const wrongKey = await ask({ ...request, uploadId: issued.body.uploadId, uploadKey: "A".repeat(43) });
    expect(wrongKey.body.exists).toBe(false);
    expect(wrongKey.body.package).not.toBe(issued.body.package);

    // A request without the id, however well its metadata matches, gets a blob of its own.
    const stranger = await ask(request);
    expect(stranger.body).toMatchObject({ exists: false });
    expect(stranger.body.package).not.toBe(issued.body.package);
    // Nor does an id with another file's facts.
    expect((await ask({ ...request, size: request.size + 1, ...holder })).body.exists).toBe(false);

    // The SAS holder rewrites the blob (same bytes, same metadata): a new ETag, no longer the pinned one.
    await new BlockBlobClient(issued.body.uploadUrl).uploadData(pkg.bytes, { metadata: { sha256: request.sha256 } });
    const rewritten = await ask({ ...request, ...holder });
    expect(rewritten.body.exists).toBe(false);
    expect(rewritten.body.package).not.toBe(issued.body.package);
    // A start of the rewritten blob is refused: it is not the version pinned for that upload.
    const restart = await start(issued.body.package);
    expect(restart.status).toBe(409);
    expect(restart.body.fields).toEqual([{ field: "package", reason: expect.stringMatching(/changed after the service pinned it/) }]);
    // And its drop is rejected with that reason: nothing runs for it.
    const etag = (await drops().getBlobClient(blobNameOf(issued.body.package)).getProperties()).etag!;
    const id = instanceIdForPackage(APP_CONTAINERS.drops, blobNameOf(issued.body.package), etag);
    const view = await stack.submissions.waitFor(id, (v) => v.httpStatus === 200 && v.runtimeStatus === "Completed", { timeoutMs: 30_000 });
    expect(view.raw).toMatchObject({ stage: "rejected", outcome: "rejected" });
    expect(view.raw.reason).toMatch(/^package: the package changed after the service pinned it/);
    // Like the SAS, the key was in the response body only.
    expect(fs.readFileSync(stack.runtimeLogFile, "utf8")).not.toContain(issued.body.uploadKey);
  });

  it("the sidecar is the service's: written from the validated request, out of the SAS's reach, untouched by a later request", async () => {
    const pkg = samplePackage({ folder: "uploads-sidecar" });
    const request = { fileName: pkg.fileName, sha256: sha256Of(pkg.bytes), size: pkg.bytes.length };
    const mine = { productName: "Uploads Sidecar", requestedSignatures: ["WINDOWS_v100_X64_RS5_FULL"] };
    const first = await ask({ ...request, product: mine });
    expect(first.status).toBe(200);
    const sidecarName = `${blobNameOf(first.body.package)}.json`;
    const sidecar = drops().getBlobClient(sidecarName);
    expect(JSON.parse((await sidecar.downloadToBuffer()).toString("utf8"))).toEqual(mine);
    const written = (await sidecar.getProperties()).etag;
    // There before any byte of the package.
    expect(await drops().getBlobClient(blobNameOf(first.body.package)).exists()).toBe(false);

    // The caller's SAS cannot write it.
    await expect(new BlockBlobClient(sameSasOn(first.body.uploadUrl, sidecarName)).uploadData(Buffer.from(JSON.stringify({ productName: "Hijacked" })))).rejects.toMatchObject({
      statusCode: 403,
    });
    // Another request for the same name and hash, with other fields, writes its own sidecar, not this one.
    const other = await ask({ ...request, product: { productName: "Someone Else" } });
    expect(other.status).toBe(200);
    expect((await sidecar.getProperties()).etag).toBe(written);
    expect(JSON.parse((await sidecar.downloadToBuffer()).toString("utf8"))).toEqual(mine);
    expect(JSON.parse((await drops().getBlobClient(`${blobNameOf(other.body.package)}.json`).downloadToBuffer()).toString("utf8"))).toEqual({ productName: "Someone Else" });
  });

  it("refuses a 5 GiB claim before any URL, naming size", async () => {
    const response = await ask({ fileName: "huge-1.0.0.hlkx", sha256: "c".repeat(64), size: FIVE_GIB });
    expect(response.status).toBe(400);
    expect(response.body.fields).toEqual([{ field: "size", reason: expect.stringContaining(`over the ${LIMIT}-byte package limit (MAX_PACKAGE_BYTES)`) }]);
    expect(response.body).not.toHaveProperty("uploadUrl");
    expect(JSON.stringify(response.body)).not.toMatch(/sig=/);
  });

  it("refuses a blob larger than claimed at the start and at the drop: nothing sent to Microsoft", async () => {
    const pkg = samplePackage({ folder: "uploads-larger" });
    const issued = await ask({ fileName: pkg.fileName, sha256: sha256Of(pkg.bytes), size: pkg.bytes.length - 100, product: { productName: "Uploads Larger" } });
    expect(issued.status).toBe(200);
    await new BlockBlobClient(issued.body.uploadUrl).uploadData(pkg.bytes);

    const started = await start(issued.body.package);
    expect(started.status).toBe(400);
    expect(started.body.fields).toEqual([{ field: "size", reason: expect.stringMatching(new RegExp(`is ${pkg.bytes.length} bytes, .*${pkg.bytes.length - 100} bytes: larger than claimed`)) }]);

    const etag = (await drops().getBlobClient(blobNameOf(issued.body.package)).getProperties()).etag!;
    const id = instanceIdForPackage(APP_CONTAINERS.drops, blobNameOf(issued.body.package), etag);
    const view = await stack.submissions.waitFor(id, (v) => v.httpStatus === 200 && v.runtimeStatus === "Completed", { timeoutMs: 30_000 });
    expect(view.raw).toMatchObject({ stage: "rejected", outcome: "rejected" });
    expect(view.raw.reason).toMatch(/^size: .*larger than claimed/);
    expect(productsNamed("Uploads Larger")).toBe(0);
  });

  it("refuses a dropped blob over MAX_PACKAGE_BYTES at the drop and at the start", async () => {
    const blobName = "uploads-over-limit-1.0.0.cab";
    const upload = await drops().getBlockBlobClient(blobName).uploadData(Buffer.alloc(LIMIT + 1, 7));
    const id = instanceIdForPackage(APP_CONTAINERS.drops, blobName, upload.etag!);
    const view = await stack.submissions.waitFor(id, (v) => v.httpStatus === 200 && v.runtimeStatus === "Completed", { timeoutMs: 30_000 });
    expect(view.raw).toMatchObject({ stage: "rejected", outcome: "rejected" });
    expect(view.raw.reason).toBe(`size: the package is ${LIMIT + 1} bytes, over the ${LIMIT}-byte limit (MAX_PACKAGE_BYTES)`);
    const started = await start(`${APP_CONTAINERS.drops}/${blobName}`);
    expect(started.status).toBe(400);
    expect(started.body.fields).toEqual([{ field: "size", reason: expect.stringContaining("MAX_PACKAGE_BYTES") }]);
    expect(productsNamed("uploads-over-limit-1.0.0")).toBe(0);
  });

  it("refuses a blob in the uploads folder that no upload request named", async () => {
    const pkg = samplePackage({ folder: "uploads-unissued" });
    const blobName = `ci/${"0".repeat(32)}/${pkg.fileName}`;
    await drops().getBlockBlobClient(blobName).uploadData(pkg.bytes);
    const started = await start(`${APP_CONTAINERS.drops}/${blobName}`);
    expect(started.status).toBe(400);
    expect(started.body.fields).toEqual([{ field: "package", reason: expect.stringContaining("issued no upload") }]);
  });
});
