/**
 * Puts the driver package into the submission's upload blob without the bytes passing through the
 * function when possible (storage/copy.ts), with a fresh upload SAS from a GET right before use.
 * The SAS is fetched again only when it expires before the activity's deadline (the longest the
 * copy may take), and only to a host HDC_ALLOWED_URL_HOST_SUFFIXES allows.
 *
 * Every read of the package is pinned to the version the run was started for (the input's ETag,
 * confirmed on the blob by the drop trigger or the HTTP trigger): the HEAD here must show that version, and
 * the copy itself is conditional on it (storage/copy.ts), so a blob replaced at any point before or
 * during the copy fails the run before commit instead of sending other bytes to Microsoft. What was
 * copied (ETag, version id, size, MD5) is recorded for the result manifest (storage/packageRecords.ts).
 */
import { BlockBlobClient } from "@azure/storage-blob";
import { findDownloadUrl, type HdcSubmission } from "../hdc";
import { normalizeEtag } from "../domain/instanceId";
import {
  BlobAuthorizationError,
  copyBlobVerified,
  copySettingsFrom,
  readBlobProperties,
  SourceChangedError,
  toSourceProperties,
  type BlobToCopy,
  type CopyOutcome,
} from "../storage/copy";
import { recordPackageCopied } from "../storage/packageRecords";
import { createReadSasUrl, sasExpiresBefore } from "../storage/sas";
import type { CopyPackageInput, CopyPackageOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { TerminalActivityError } from "./errors";
import { readSubmission } from "./hdcFailures";
import { allowedHdcUrl } from "./hdcUrls";

export async function copyPackage(input: CopyPackageInput, deps: ActivityDeps): Promise<CopyPackageOutput> {
  const { blobService, config, log } = deps;
  const { container, blobName } = input.package;
  const packageClient = blobService.getContainerClient(container).getBlockBlobClient(blobName);
  const properties = await readBlobProperties(packageClient, "source", `package ${container}/${blobName}`);
  if (!properties) throw new TerminalActivityError(`Package ${container}/${blobName} does not exist`);
  if (!properties.contentLength) throw new TerminalActivityError(`Package ${container}/${blobName} is empty (0 bytes)`);
  if (input.package.etag && properties.etag && normalizeEtag(input.package.etag) !== normalizeEtag(properties.etag)) {
    throw packageChanged(input, properties.etag);
  }

  // Checked before anything is sent: a URL on a host we do not trust gets nothing.
  const firstUploadUrl = await freshUploadUrl(input, deps);
  const source: BlobToCopy = {
    client: packageClient,
    url: await createReadSasUrl(blobService, container, blobName, config.settings.SOURCE_SAS_MINUTES),
    properties: toSourceProperties(properties),
  };
  const settings = copySettingsFrom(config, deps.budget);
  const copyTo = async (uploadUrl: string): Promise<CopyOutcome> => copyBlobVerified(source, new BlockBlobClient(uploadUrl), settings, log);

  let outcome: CopyOutcome;
  try {
    try {
      outcome = await copyTo(firstUploadUrl);
    } catch (error) {
      if (!(error instanceof BlobAuthorizationError && error.side === "destination")) throw error;
      // The upload SAS expired or was rotated between our GET and the copy: one more try with a new one.
      log(`Upload SAS of submission ${input.submissionId} was refused (${error.statusCode}); fetching a fresh one`);
      outcome = await copyTo(await freshUploadUrl(input, deps));
    }
  } catch (error) {
    if (!(error instanceof SourceChangedError)) throw error;
    // Replaced between our HEAD and the copy (or during it): terminal, a retry would only find the other version.
    throw packageChanged(input, await currentEtag(packageClient), source.properties.etag);
  }

  await recordPackageCopied(blobService, config, input, {
    container,
    blobName,
    etag: properties.etag ?? "",
    ...(properties.versionId ? { versionId: properties.versionId } : {}),
    contentLength: outcome.bytesCopied,
    ...(outcome.contentMd5 ? { contentMd5: outcome.contentMd5 } : {}),
    ...(input.package.sha256 ? { sha256: input.package.sha256 } : {}),
  });

  log(
    `Package ${container}/${blobName} (${outcome.bytesCopied} bytes) is in submission ${input.submissionId}` +
      ` via ${outcome.alreadyPresent ? "an earlier attempt" : outcome.method}, verified by ${outcome.verified}`,
  );
  return {
    bytesCopied: outcome.bytesCopied,
    method: outcome.method,
    verified: outcome.verified,
    ...(outcome.contentMd5 ? { contentMd5: outcome.contentMd5 } : {}),
  };
}

/** The terminal failure for a package that is not (or no longer) the version the run was started for. */
function packageChanged(input: CopyPackageInput, nowEtag: string | undefined, pinnedEtag?: string): TerminalActivityError {
  const { container, blobName } = input.package;
  const startedFor = input.package.etag ?? pinnedEtag ?? "(unknown)";
  return new TerminalActivityError(
    `Package ${container}/${blobName} changed since the run started (pinned ETag ${startedFor}, now ${nowEtag ?? "deleted or unreadable"}); ` +
      "nothing was committed to Microsoft. Drop it again to sign the new version",
  );
}

/** Best effort, only for the message: the ETag the package has now. */
async function currentEtag(client: BlockBlobClient): Promise<string | undefined> {
  return client.getProperties().then(
    (properties) => properties.etag,
    () => undefined,
  );
}

/**
 * The submission's upload SAS (initialPackage). Fetched again once when it expires before the
 * activity's deadline, i.e. before the copy could finish in the worst case; a SAS that outlives
 * the budget is used as is. Secret.
 */
async function freshUploadUrl(input: CopyPackageInput, deps: ActivityDeps): Promise<string> {
  const deadline = new Date(deps.budget.deadlineMs);
  let url = uploadUrlOf(await readSubmission(deps.hdc, input.productId, input.submissionId), input, deps);
  if (sasExpiresBefore(url, deadline)) {
    deps.log(`Upload SAS of submission ${input.submissionId} expires within the activity budget (before ${deadline.toISOString()}); fetching a fresh one`);
    url = uploadUrlOf(await readSubmission(deps.hdc, input.productId, input.submissionId), input, deps);
    if (sasExpiresBefore(url, deadline)) deps.log(`The fresh upload SAS of submission ${input.submissionId} also expires before the deadline; using it`);
  }
  return url;
}

function uploadUrlOf(submission: HdcSubmission, input: CopyPackageInput, deps: ActivityDeps): string {
  const url = findDownloadUrl(submission, "initialPackage");
  if (!url) throw new TerminalActivityError(`Submission ${input.submissionId} offers no initialPackage upload location`);
  return allowedHdcUrl(url, "initialPackage upload", deps.config.settings.HDC_ALLOWED_URL_HOST_SUFFIXES);
}
