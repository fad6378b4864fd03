/**
 * One poll of a shipping label: the normalised phase (normalizeLabelStatus), Microsoft's messages,
 * and for a failed label the text of its error report (read like a submission's, the SAS never
 * leaves here). A `failed` state reads as `cancelled` when we sent the cancel (the service cannot
 * tell them apart; cancelShippingLabel leaves a marker in STATE_CONTAINER).
 */
import { getShippingLabel, labelErrorReportUrl, labelStatus } from "../hdc/shippingLabels";
import { isCancelRequested } from "../storage/checkpoints";
import type { GetShippingLabelStatusInput, GetShippingLabelStatusOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { readErrorReport } from "./getSubmissionStatus";
import { rethrowHdcFailure } from "./hdcFailures";
import { allowedHdcUrl } from "./hdcUrls";

export async function getShippingLabelStatus(input: GetShippingLabelStatusInput, deps: ActivityDeps): Promise<GetShippingLabelStatusOutput> {
  let label;
  try {
    label = await getShippingLabel(deps.hdc, input.productId, input.submissionId, input.labelId);
  } catch (error) {
    rethrowHdcFailure(error, `Reading shipping label ${input.labelId}`);
  }
  const cancelRequested = await isCancelRequested(deps.blobService, deps.config, input.labelId);
  const status = { ...labelStatus(label, { cancelRequested, previousPhase: input.previousPhase }), cancelRequested };
  const reportUrl = labelErrorReportUrl(label);
  if (status.phase !== "failed" || !reportUrl) return status;
  const allowed = allowedHdcUrl(reportUrl, "label error report", deps.config.settings.HDC_ALLOWED_URL_HOST_SUFFIXES);
  const errorReportText = await readErrorReport(allowed, deps);
  return errorReportText === undefined ? status : { ...status, errorReportText };
}
