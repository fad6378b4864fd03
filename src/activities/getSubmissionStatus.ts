/**
 * One poll of the submission: the normalised, URL-free status (a.12), plus the text of the error
 * report when the workflow failed, so the user sees why without following a SAS link.
 */
import { BlobClient } from "@azure/storage-blob";
import { normalizeSubmissionStatus } from "../hdc";
import { redactSecrets } from "../domain/redact";
import { toStorageOperationError } from "../storage/storageErrors";
import type { GetSubmissionStatusInput } from "./contract";
import type { NormalizedSubmissionStatus } from "../domain/types";
import type { ActivityDeps } from "./deps";
import { readSubmission } from "./hdcFailures";
import { allowedHdcUrl } from "./hdcUrls";

export async function getSubmissionStatus(input: GetSubmissionStatusInput, deps: ActivityDeps): Promise<NormalizedSubmissionStatus> {
  const submission = await readSubmission(deps.hdc, input.productId, input.submissionId);
  const status = normalizeSubmissionStatus(submission);
  const reportUrl = submission.workflowStatus?.errorReport;
  if (status.progress !== "failed" || !reportUrl) return status;

  // Outside readErrorReport's catch-all: a report on a host we do not trust is not skipped quietly.
  const allowedUrl = allowedHdcUrl(reportUrl, "error report", deps.config.settings.HDC_ALLOWED_URL_HOST_SUFFIXES);
  const errorReportText = await readErrorReport(allowedUrl, deps);
  return errorReportText === undefined ? status : { ...status, errorReportText };
}

/**
 * The first ERROR_REPORT_MAX_BYTES of the report, redacted. A report that cannot be read is
 * logged and skipped: the failure itself is already known from the status.
 */
export async function readErrorReport(url: string, deps: ActivityDeps): Promise<string | undefined> {
  const maxBytes = deps.config.settings.ERROR_REPORT_MAX_BYTES;
  try {
    const download = await new BlobClient(url).download(0, maxBytes, { abortSignal: deps.budget.signal });
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of download.readableStreamBody ?? []) {
      const buffer = Buffer.from(chunk as Buffer);
      chunks.push(buffer);
      received += buffer.length;
      if (received >= maxBytes) break; // a server that ignores the range must not fill our memory
    }
    const text = Buffer.concat(chunks).subarray(0, maxBytes).toString("utf8");
    const truncated = totalSize(download) > maxBytes;
    return redactSecrets(text) + (truncated ? "\n[truncated]" : "");
  } catch (error) {
    deps.log(`Could not read the error report: ${toStorageOperationError("Downloading the error report", error).message}`);
    return undefined;
  }
}

/** Size of the whole report: from Content-Range ("bytes 0-99/5000") when the range was honoured. */
function totalSize(download: { contentRange?: string; contentLength?: number }): number {
  const total = download.contentRange?.match(/\/(\d+)$/)?.[1];
  return total !== undefined ? Number(total) : (download.contentLength ?? 0);
}
