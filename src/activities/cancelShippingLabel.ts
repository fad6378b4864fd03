/**
 * PUT .../shippingLabels/{id}/cancel: only for a label in Microsoft Approval or the gradual rollout
 * (shipping-labels.md section 6). The marker is written before the PUT, so the label's later
 * `failed` state reads as `cancelled` even if our answer is lost; a definite refusal removes it.
 *
 * Retried by the changeLabel orchestration (also after a crash): with the marker present, a label
 * that is no longer cancellable took the cancel (not sent again); one still cancellable never got it
 * (the worker died before the PUT) and gets it now; a cancel has the same effect sent twice.
 */
import { cancelShippingLabel as putCancel, getShippingLabel, labelStatus } from "../hdc/shippingLabels";
import { clearCancelRequested, isCancelRequested, recordCancelRequested } from "../storage/checkpoints";
import type { CancelShippingLabelInput, CancelShippingLabelOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { TerminalActivityError } from "./errors";
import { isOutcomeUnknown, rethrowHdcFailure } from "./hdcFailures";

export async function cancelShippingLabel(input: CancelShippingLabelInput, deps: ActivityDeps): Promise<CancelShippingLabelOutput> {
  const { blobService, config } = deps;
  const marked = await isCancelRequested(blobService, config, input.labelId);
  let label;
  try {
    label = await getShippingLabel(deps.hdc, input.productId, input.submissionId, input.labelId);
  } catch (error) {
    rethrowHdcFailure(error, `Reading shipping label ${input.labelId}`);
  }
  const status = labelStatus(label);
  if (marked && !status.cancellable) return { cancelRequested: true, alreadyRequested: true };
  if (!status.cancellable) {
    throw new TerminalActivityError(
      `Shipping label ${input.labelId} is at ${status.currentStep ?? "(unknown step)"} (${status.phase}); a label can only be cancelled in Microsoft Approval or the gradual rollout`,
    );
  }
  if (!marked) await recordCancelRequested(blobService, config, input.labelId, new Date().toISOString());
  try {
    await putCancel(deps.hdc, input.productId, input.submissionId, input.labelId);
  } catch (error) {
    if (!isOutcomeUnknown(error)) await clearCancelRequested(blobService, config, input.labelId);
    rethrowHdcFailure(error, `Cancelling shipping label ${input.labelId}`);
  }
  deps.log(`Cancel sent for shipping label ${input.labelId}`);
  return { cancelRequested: true, alreadyRequested: false };
}
