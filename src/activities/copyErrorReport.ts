/**
 * Copies Microsoft's error report of a failed submission, whole and whatever its size, into
 * SIGNED_CONTAINER beside the result manifest (issue 29):
 *   <package blob>/<instance id>/errorReport_<submissionId><extension of Microsoft's blob, else .txt>
 * The same way downloadSignedPackage copies the signed package: the SAS URL comes from a GET right
 * before use (again when Microsoft's is refused), only to hosts HDC_ALLOWED_URL_HOST_SUFFIXES allows,
 * server side under the activity's deadline, and the copy is checked against the source's length.
 * History, custom status and webhooks carry only getSubmissionStatus's excerpt and this location.
 */
import { BlobClient } from "@azure/storage-blob";
import type { HdcSubmission } from "../hdc";
import { ensureContainer } from "../storage/blobService";
import { BlobAuthorizationError, copyBlobVerified, copySettingsFrom, readBlobProperties, toSourceProperties } from "../storage/copy";
import { resultFolder } from "../storage/manifests";
import { withStorageErrors } from "../storage/storageErrors";
import type { CopyErrorReportInput, CopyErrorReportOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { readSubmission } from "./hdcFailures";
import { allowedHdcUrl } from "./hdcUrls";

/** Microsoft's name for the file when it has a short extension (.txt, .csv, .zip …); .txt otherwise. */
function extensionOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.split("/").pop() ?? "");
  return /(\.[A-Za-z0-9]{1,8})$/.exec(name)?.[1]?.toLowerCase() ?? ".txt";
}

export function errorReportBlobName(input: CopyErrorReportInput, url: string): string {
  return `${resultFolder(input.package, input.instanceId)}/errorReport_${input.submissionId}${extensionOf(url)}`;
}

export async function copyErrorReport(input: CopyErrorReportInput, deps: ActivityDeps): Promise<CopyErrorReportOutput> {
  const submission = await readSubmission(deps.hdc, input.productId, input.submissionId);
  try {
    return await copyOnce(input, deps, submission);
  } catch (error) {
    if (!(error instanceof BlobAuthorizationError && error.side === "source")) throw error;
    deps.log(`The error report SAS of submission ${input.submissionId} was refused (${error.statusCode}); fetching a fresh one`);
    return copyOnce(input, deps, await readSubmission(deps.hdc, input.productId, input.submissionId));
  }
}

async function copyOnce(input: CopyErrorReportInput, deps: ActivityDeps, submission: HdcSubmission): Promise<CopyErrorReportOutput> {
  const offered = submission.workflowStatus?.errorReport;
  if (typeof offered !== "string" || offered.trim() === "") {
    deps.log(`Submission ${input.submissionId} offers no error report (any more); nothing copied`);
    return {};
  }
  const { config, blobService, log } = deps;
  const url = allowedHdcUrl(offered, "error report", config.settings.HDC_ALLOWED_URL_HOST_SUFFIXES);
  const source = new BlobClient(url);
  const properties = await readBlobProperties(source, "source", "the error report", deps.budget.signal);
  if (!properties) throw new Error(`The error report of submission ${input.submissionId} is offered but does not exist`);

  const container = config.settings.SIGNED_CONTAINER;
  const blobName = errorReportBlobName(input, url);
  const containerClient = await withStorageErrors("Preparing the signed-drivers container", () => ensureContainer(blobService, container));
  const destination = containerClient.getBlockBlobClient(blobName);
  const outcome = await copyBlobVerified({ client: source, url, properties: toSourceProperties(properties) }, destination, copySettingsFrom(config, deps.budget), log);
  log(
    `Error report of submission ${input.submissionId} (${outcome.bytesCopied} bytes) is at ${container}/${blobName}` +
      (outcome.alreadyPresent ? " (already there)" : ` via ${outcome.method}`),
  );
  return { errorReport: { container, blobName, contentLength: outcome.bytesCopied } };
}
