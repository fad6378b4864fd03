/**
 * Copies Microsoft's signed package (and driver metadata, when offered) into SIGNED_CONTAINER at
 * predictable names next to the result manifest:
 *   <package blob>/<instance id>/Signed_<submissionId>.zip
 *   <package blob>/<instance id>/driverMetadata_<submissionId>.json
 * The download SAS URLs come from a GET right before use (again when the signed package's would
 * expire before the activity's deadline), are followed only to hosts HDC_ALLOWED_URL_HOST_SUFFIXES
 * allows, and never leave this function.
 */
import { BlobClient } from "@azure/storage-blob";
import { findDownloadUrl, type HdcSubmission } from "../hdc";
import { ensureContainer } from "../storage/blobService";
import { BlobAuthorizationError, copyBlobVerified, copySettingsFrom, readBlobProperties, toSourceProperties } from "../storage/copy";
import { resultFolder } from "../storage/manifests";
import { sasExpiresBefore } from "../storage/sas";
import { withStorageErrors } from "../storage/storageErrors";
import type { DownloadSignedPackageInput, DownloadSignedPackageOutput } from "./contract";
import type { BlobLocation } from "../domain/types";
import type { ActivityDeps } from "./deps";
import { readSubmission } from "./hdcFailures";
import { allowedHdcUrl } from "./hdcUrls";

export function signedPackageBlobName(input: DownloadSignedPackageInput): string {
  return `${resultFolder(input.package, input.instanceId)}/Signed_${input.submissionId}.zip`;
}

export function driverMetadataBlobName(input: DownloadSignedPackageInput): string {
  return `${resultFolder(input.package, input.instanceId)}/driverMetadata_${input.submissionId}.json`;
}

type DownloadType = "signedPackage" | "driverMetadata";

export async function downloadSignedPackage(input: DownloadSignedPackageInput, deps: ActivityDeps): Promise<DownloadSignedPackageOutput> {
  let submission = await readSubmission(deps.hdc, input.productId, input.submissionId);
  const signedUrl = findDownloadUrl(submission, "signedPackage");
  if (signedUrl && sasExpiresBefore(signedUrl, new Date(deps.budget.deadlineMs))) submission = await readSubmission(deps.hdc, input.productId, input.submissionId);

  const signedPackage = await copyDownload(input, deps, submission, "signedPackage", signedPackageBlobName(input));
  // Not terminal: the orchestrator may see finalizeIngestion+completed a little before the item appears (a.12).
  if (!signedPackage) throw new Error(`Submission ${input.submissionId} has no signedPackage download yet`);
  // Metadata is a convenience (shipping labels); the signed package is the result.
  const driverMetadata = await copyDownload(input, deps, submission, "driverMetadata", driverMetadataBlobName(input));
  return { signedPackage, ...(driverMetadata ? { driverMetadata } : {}) };
}

/** Copies one download item into our container; one retry with a fresh SAS if Microsoft's is refused. */
async function copyDownload(
  input: DownloadSignedPackageInput,
  deps: ActivityDeps,
  submission: HdcSubmission,
  type: DownloadType,
  blobName: string,
): Promise<BlobLocation | undefined> {
  try {
    return await copyDownloadOnce(deps, submission, type, blobName);
  } catch (error) {
    if (!(error instanceof BlobAuthorizationError && error.side === "source")) throw error;
    deps.log(`The ${type} SAS of submission ${input.submissionId} was refused (${error.statusCode}); fetching a fresh one`);
    return copyDownloadOnce(deps, await readSubmission(deps.hdc, input.productId, input.submissionId), type, blobName);
  }
}

async function copyDownloadOnce(deps: ActivityDeps, submission: HdcSubmission, type: DownloadType, blobName: string): Promise<BlobLocation | undefined> {
  const offered = findDownloadUrl(submission, type);
  if (!offered) return undefined;
  const { config, blobService, log } = deps;
  const url = allowedHdcUrl(offered, `${type} download`, config.settings.HDC_ALLOWED_URL_HOST_SUFFIXES);
  const container = config.settings.SIGNED_CONTAINER;
  const source = new BlobClient(url);
  const properties = await readBlobProperties(source, "source", `the ${type} download`, deps.budget.signal);
  if (!properties) throw new Error(`The ${type} download of submission ${submission.id} is listed but does not exist yet`);

  const containerClient = await withStorageErrors("Preparing the signed-drivers container", () => ensureContainer(blobService, container));
  const destination = containerClient.getBlockBlobClient(blobName);
  const outcome = await copyBlobVerified({ client: source, url, properties: toSourceProperties(properties) }, destination, copySettingsFrom(config, deps.budget), log);
  log(`${type} of submission ${submission.id} (${outcome.bytesCopied} bytes) is at ${container}/${blobName}${outcome.alreadyPresent ? " (already there)" : ` via ${outcome.method}`}`);
  // Size and MD5 as Microsoft's download answered them (the copy was verified against both).
  const microsoftMd5 = properties.contentMD5 ? Buffer.from(properties.contentMD5).toString("base64") : undefined;
  return { container, blobName, contentLength: properties.contentLength ?? outcome.bytesCopied, ...(microsoftMd5 ? { contentMd5: microsoftMd5 } : {}) };
}
