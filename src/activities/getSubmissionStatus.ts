/**
 * One poll of the submission: the normalised, URL-free status (a.12), plus an excerpt of the error
 * report when the workflow failed, so the user sees why without following a SAS link. The whole
 * report is copied as a blob by copyErrorReport (issue 29); this output lands in history.
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

/**
 * Bytes of Microsoft's report kept in the status (and so in history at every failed poll, custom
 * status, the manifest's errorReportText and the failure message): enough for the first lines, which
 * name the failing check, and small beside custom status's 16 KB cap (fitCustomStatus keeps the whole
 * status under about 6,000 characters). The rest is in the copied blob.
 */
export const ERROR_REPORT_EXCERPT_BYTES = 2000;

export async function getSubmissionStatus(input: GetSubmissionStatusInput, deps: ActivityDeps): Promise<NormalizedSubmissionStatus> {
  const submission = await readSubmission(deps.hdc, input.productId, input.submissionId);
  const status = normalizeSubmissionStatus(submission);
  const reportUrl = submission.workflowStatus?.errorReport;
  if (status.progress !== "failed" || !reportUrl) return status;

  // Outside readErrorReport's catch-all: a report on a host we do not trust is not skipped quietly.
  const allowedUrl = allowedHdcUrl(reportUrl, "error report", deps.config.settings.HDC_ALLOWED_URL_HOST_SUFFIXES);
  const maxBytes = Math.min(deps.config.settings.ERROR_REPORT_MAX_BYTES, ERROR_REPORT_EXCERPT_BYTES);
  const errorReportText = await readErrorReport(allowedUrl, deps, maxBytes);
  // hasErrorReport even when the excerpt could not be read: the copy (its own retries) may still succeed.
  return errorReportText === undefined ? { ...status, hasErrorReport: true } : { ...status, errorReportText, hasErrorReport: true };
}

/**
 * The first `maxBytes` (default ERROR_REPORT_MAX_BYTES) of the report, redacted. A report that
 * cannot be read is logged and skipped: the failure itself is already known from the status.
 */
export async function readErrorReport(url: string, deps: ActivityDeps, maxBytes = deps.config.settings.ERROR_REPORT_MAX_BYTES): Promise<string | undefined> {
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
