/**
 * Whether a new label run waits for a second person (issue 34), as the input builders ask it.
 * Windows Update (and APPROVAL_PARTNERS) labels wait under AUTH_MODE=entra, where callers are told
 * apart and Sign.Approve names who may decide. Under AUTH_MODE=keys there is no second person: the
 * one key holder would approve their own label, so a wait would add a step and no check; labels are
 * created as before (README, "Approval before Windows Update").
 */
import type { AppConfig } from "../config";
import { type ApprovalParty, approvalField } from "../domain/approval";
import type { PublishPolicy } from "../domain/publishing";

export function newLabelApproval(policy: PublishPolicy, requester: ApprovalParty | undefined, config: AppConfig): ReturnType<typeof approvalField> {
  return config.settings.AUTH_MODE === "entra" ? approvalField(policy, requester, config.approval) : {};
}
