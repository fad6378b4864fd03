/**
 * Helpers for the proof suite: deterministic hooks on the emulators' request log and scripted
 * faults (poll in-process state, no sleeps as synchronisation), package drops whose bytes and
 * instance id the test knows, and the "exactly one of everything" check on emulator state and
 * signed-drivers.
 */
import { createHash } from "node:crypto";
import { samplePackage } from "../../../local/samplePackage";
import { APP_CONTAINERS, type Stack } from "../../../local/stack";
import type { ProductSummary, SubmissionSummary } from "../../../local/emulators/hdcEmulator";
import type { RequestLogEntry } from "../../../local/emulators";
import { instanceIdForPackage } from "../../../src/domain/instanceId";
import { packageBaseName } from "../../../src/domain/packageRules";

export interface DroppedPackage {
  container: string;
  blobName: string;
  etag: string;
  bytes: Buffer;
  sha256: string;
  /** The instance id the app derives from (container, blob, ETag). */
  instanceId: string;
}

export function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Uploads `bytes` (default: a generated package for `folder`) as `<folder>-<version>.hlkx` in `container`. */
export async function uploadPackage(
  stack: Stack,
  folder: string,
  options: { container?: string; version?: string; bytes?: Buffer } = {},
): Promise<DroppedPackage> {
  const container = options.container ?? APP_CONTAINERS.drops;
  const pkg = samplePackage({ folder, version: options.version });
  const bytes = options.bytes ?? pkg.bytes;
  const containerClient = stack.blobService.getContainerClient(container);
  await containerClient.createIfNotExists();
  const uploaded = await containerClient.getBlockBlobClient(pkg.fileName).uploadData(bytes);
  const etag = uploaded.etag ?? "";
  return { container, blobName: pkg.fileName, etag, bytes, sha256: sha256(bytes), instanceId: instanceIdForPackage(container, pkg.fileName, etag) };
}

/** Polls a synchronous or async condition every `intervalMs` until it holds; throws with `what` on timeout. */
export async function until<T>(what: string, condition: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000, intervalMs = 5): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The highest request-log sequence number so far (entries after it belong to what follows). */
export function logMark(stack: Stack): number {
  const entries = stack.emulators.requests().entries;
  return entries.length === 0 ? 0 : entries[entries.length - 1].seq;
}

/** Hardware Dev Center entries after `mark`, optionally of one kind and status range. */
export function hdcEntries(stack: Stack, mark: number, kind?: string, ok?: boolean): RequestLogEntry[] {
  return stack.emulators
    .requests()
    .entries.filter((e) => e.seq > mark && e.service === "hdc" && (kind === undefined || e.kind === kind) && (ok === undefined || (e.status < 300) === ok));
}

/** How many requests the scripted fault at `index` has taken so far (taken = arrived and is being held or answered). */
export function faultTaken(stack: Stack, index: number): number {
  const fault = stack.emulators.state().faults[index];
  return fault ? fault.times - fault.remaining : 0;
}

/** The product name the app gives a package without a sidecar: its file name without the extension. */
export function defaultProductName(pkg: Pick<DroppedPackage, "blobName">): string {
  return packageBaseName(pkg.blobName);
}

export function productsNamed(stack: Stack, productName: string): ProductSummary[] {
  return stack.emulators.state().products.filter((p) => p.productName === productName);
}

export async function listBlobNames(stack: Stack, container: string, prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of stack.blobService.getContainerClient(container).listBlobsFlat({ prefix })) names.push(blob.name);
  return names.sort();
}

export interface ExactlyOnceFacts {
  product: ProductSummary;
  submission: SubmissionSummary;
  signedBlob: string;
  manifestBlob: string;
}

/**
 * Fails unless the package got exactly one product (named after it), one submission, one commit
 * whose uploaded bytes hash to the dropped package's, one signed package and one manifest in
 * signed-drivers (both in the instance's folder), and a manifest naming that product/submission.
 */
export async function expectExactlyOnce(stack: Stack, pkg: DroppedPackage, instanceId: string, productName = defaultProductName(pkg)): Promise<ExactlyOnceFacts> {
  const products = productsNamed(stack, productName);
  expect(products.map((p) => p.id)).toHaveLength(1);
  const [product] = products;
  expect(product.submissions).toHaveLength(1);
  const [submission] = product.submissions;
  expect(submission.commitStatus).toBe("commitComplete");
  expect(submission.upload?.sha256).toBe(pkg.sha256);
  expect(submission.upload?.length).toBe(pkg.bytes.length);
  expect(submission.signedPackage).toBeDefined();

  const commits = stack.emulators
    .requests()
    .entries.filter((e) => e.service === "hdc" && e.kind === "commit" && e.status === 202 && e.path.includes(`/submissions/${submission.id}/commit`));
  expect(commits).toHaveLength(1);

  const blobs = await listBlobNames(stack, APP_CONTAINERS.signed, `${pkg.blobName}/`);
  const signed = blobs.filter((name) => /\/Signed_[^/]+\.zip$/.test(name));
  const manifests = blobs.filter((name) => name.endsWith("/manifest.json"));
  const folder = `${pkg.blobName}/${instanceId}/`;
  expect(signed).toEqual([`${folder}Signed_${submission.id}.zip`]);
  expect(manifests).toEqual([`${folder}manifest.json`]);

  const manifestText = (await stack.blobService.getContainerClient(APP_CONTAINERS.signed).getBlobClient(manifests[0]).downloadToBuffer()).toString("utf8");
  expect(JSON.parse(manifestText)).toMatchObject({ outcome: "succeeded", instanceId, productId: product.id, submissionId: submission.id });
  return { product, submission, signedBlob: signed[0], manifestBlob: manifests[0] };
}
