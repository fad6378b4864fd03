/**
 * Lists a signed preprod package's assets (a bare JSON array), streams the first SignedFilesZip into
 * SIGNED_CONTAINER beside the manifest (<package>/<instance>/PreprodSigned_<packageId>.zip) while
 * hashing it, and accepts it only when the SHA-256 equals Microsoft's contentHash; a mismatch deletes
 * what was stored and fails for good (the service itself served other bytes than it describes).
 */
import * as crypto from "node:crypto";
import { Transform } from "node:stream";
import { contentHashMatches } from "../domain/preprod";
import { downloadPreprodAsset, findSignedFilesZip, listPreprodAssets } from "../hdc";
import { ensureContainer } from "../storage/blobService";
import { resultFolder } from "../storage/manifests";
import { withStorageErrors } from "../storage/storageErrors";
import type { DownloadPreprodSignedInput, DownloadPreprodSignedOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { TerminalActivityError } from "./errors";
import { rethrowHdcFailure } from "./hdcFailures";

function preprodSignedBlobName(input: DownloadPreprodSignedInput): string {
  return `${resultFolder(input.package, input.instanceId)}/PreprodSigned_${input.packageId}.zip`;
}

export async function downloadPreprodSigned(input: DownloadPreprodSignedInput, deps: ActivityDeps): Promise<DownloadPreprodSignedOutput> {
  let assets;
  try {
    assets = await listPreprodAssets(deps.hdc, input.packageId);
  } catch (error) {
    rethrowHdcFailure(error, `Listing the assets of preprod package ${input.packageId}`);
  }
  const asset = findSignedFilesZip(assets);
  // Retryable: the list may lag the status a little.
  if (!asset) throw new Error(`Preprod package ${input.packageId} lists no SignedFilesZip asset yet (${assets.length} asset(s))`);
  if (typeof asset.contentHash !== "string" || asset.contentHash.trim() === "") {
    throw new TerminalActivityError(`the SignedFilesZip of preprod package ${input.packageId} has no contentHash to check it against`);
  }

  const container = deps.config.settings.SIGNED_CONTAINER;
  const blobName = preprodSignedBlobName(input);
  const containerClient = await withStorageErrors("Preparing the signed-drivers container", () => ensureContainer(deps.blobService, container));
  const destination = containerClient.getBlockBlobClient(blobName);

  const hash = crypto.createHash("sha256");
  let length = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      length += chunk.length;
      done(null, chunk);
    },
  });
  let source;
  try {
    source = await downloadPreprodAsset(deps.hdc, input.packageId, asset.id, { timeoutMs: Math.max(1000, deps.budget.deadlineMs - Date.now()) });
  } catch (error) {
    rethrowHdcFailure(error, `Downloading asset ${asset.id} of preprod package ${input.packageId}`);
  }
  source.on("error", (error) => hashing.destroy(error as Error));
  source.pipe(hashing);
  // Bounded memory: 4 MiB blocks, two in flight.
  await withStorageErrors("Storing the preprod SignedFilesZip", () =>
    destination.uploadStream(hashing, 4 * 1024 * 1024, 2, { abortSignal: deps.budget.signal, blobHTTPHeaders: { blobContentType: "application/zip" } }),
  );
  const digest = hash.digest();
  if (!contentHashMatches(asset.contentHash, digest)) {
    await destination.deleteIfExists().catch(() => undefined);
    throw new TerminalActivityError(
      `the SignedFilesZip of preprod package ${input.packageId} (${length} bytes) has SHA-256 ${digest.toString("hex")}, not Microsoft's contentHash ${asset.contentHash.slice(0, 100)}; it was not kept`,
    );
  }
  deps.log(`SignedFilesZip of preprod package ${input.packageId} (${length} bytes, SHA-256 verified) is at ${container}/${blobName}`);
  return { signedPackage: { container, blobName, contentLength: length }, assetId: asset.id, contentHash: asset.contentHash };
}
