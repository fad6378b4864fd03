/**
 * Puts the driver package into the submission's upload blob without the bytes passing through the
 * function when possible (storage/copy.ts), with a fresh upload SAS from a GET right before use.
 */
import { BlockBlobClient } from "@azure/storage-blob";
import { findDownloadUrl, type HdcSubmission } from "../hdc";
import { normalizeEtag } from "../shared/instanceId";
import { BlobAuthorizationError, copyBlobVerified, copySettingsFrom, readBlobProperties, toSourceProperties, type BlobToCopy, type CopyOutcome } from "../storage/copy";
import { createReadSasUrl, sasExpiresWithin } from "../storage/sas";
import type { CopyPackageInput, CopyPackageOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { TerminalActivityError } from "./errors";
import { readSubmission } from "./hdcFailures";

/** A SAS closer than this to its expiry is refreshed before a copy starts. */
export const SAS_REFRESH_MARGIN_MINUTES = 5;

export async function copyPackage(input: CopyPackageInput, deps: ActivityDeps): Promise<CopyPackageOutput> {
  const { blobService, config, log } = deps;
  const { container, blobName } = input.package;
  const packageClient = blobService.getContainerClient(container).getBlockBlobClient(blobName);
  const properties = await readBlobProperties(packageClient, "source", `package ${container}/${blobName}`);
  if (!properties) throw new TerminalActivityError(`Package ${container}/${blobName} does not exist`);
  if (!properties.contentLength) throw new TerminalActivityError(`Package ${container}/${blobName} is empty (0 bytes)`);
  if (input.package.etag && properties.etag && normalizeEtag(input.package.etag) !== normalizeEtag(properties.etag)) {
    throw new TerminalActivityError(`Package ${container}/${blobName} was replaced after the submission was requested; drop it again to sign the new version`);
  }

  const source: BlobToCopy = {
    client: packageClient,
    url: await createReadSasUrl(blobService, container, blobName, config.settings.SOURCE_SAS_MINUTES),
    properties: toSourceProperties(properties),
  };
  const settings = copySettingsFrom(config);
  const copyTo = async (uploadUrl: string): Promise<CopyOutcome> => copyBlobVerified(source, new BlockBlobClient(uploadUrl), settings, log);

  let outcome: CopyOutcome;
  try {
    outcome = await copyTo(await freshUploadUrl(input, deps));
  } catch (error) {
    if (!(error instanceof BlobAuthorizationError && error.side === "destination")) throw error;
    // The upload SAS expired or was rotated between our GET and the copy: one more try with a new one.
    log(`Upload SAS of submission ${input.submissionId} was refused (${error.statusCode}); fetching a fresh one`);
    outcome = await copyTo(await freshUploadUrl(input, deps));
  }

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

/** The submission's upload SAS (initialPackage), re-fetched once if it is about to expire. Secret. */
async function freshUploadUrl(input: CopyPackageInput, deps: ActivityDeps): Promise<string> {
  let url = uploadUrlOf(await readSubmission(deps.hdc, input.productId, input.submissionId), input);
  if (sasExpiresWithin(url, SAS_REFRESH_MARGIN_MINUTES)) {
    deps.log(`Upload SAS of submission ${input.submissionId} expires within ${SAS_REFRESH_MARGIN_MINUTES} minutes; fetching a fresh one`);
    url = uploadUrlOf(await readSubmission(deps.hdc, input.productId, input.submissionId), input);
  }
  return url;
}

function uploadUrlOf(submission: HdcSubmission, input: CopyPackageInput): string {
  const url = findDownloadUrl(submission, "initialPackage");
  if (!url) throw new TerminalActivityError(`Submission ${input.submissionId} offers no initialPackage upload location`);
  return url;
}
