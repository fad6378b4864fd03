/**
 * Reduces a shipping label's workflowStatus to our LabelPhase (shipping-labels.md section 3):
 * steps compared case-insensitively (the service sends camelCase, the docs PascalCase, and a
 * step may come as a number); `microsoftApproval` → awaitingMicrosoftApproval;
 * `finalizePublishing`+completed or state `published` → published; `finalizeSharing`+completed →
 * shared; state `failed` → cancelled when we sent the cancel, else failed. The portal's gradual
 * rollout has no documented step: a rollout-named step, or an unknown step seen after approval,
 * counts as publishing and stays cancellable.
 */
import { type LabelPhase, type NormalizedLabelStatus, TERMINAL_LABEL_PHASES } from "../domain/publishing";
import { messageTexts } from "./normalizeStatus";

export interface LabelWorkflowStatus {
  currentStep?: unknown;
  state?: unknown;
  messages?: unknown;
  errorReport?: unknown;
}

export interface NormalizeLabelOptions {
  /** We sent PUT .../cancel for this label: a failed state then means cancelled. */
  cancelRequested?: boolean;
  /** The phase seen at the previous poll, to place an undocumented step. */
  previousPhase?: LabelPhase;
}

const VALIDATING_STEPS = new Set(["preprocessshippinglabel", "finalizepreprocessing", "publishjobvalidation", "updategeneration"]);
const DELIVERING_STEPS = new Set(["publishing", "finalizepublishing", "processsharing", "finalizesharing", "sharingexpiration"]);

export function normalizeLabelStatus(workflowStatus: LabelWorkflowStatus | null | undefined, options: NormalizeLabelOptions = {}): NormalizedLabelStatus {
  const currentStep = textOf(workflowStatus?.currentStep);
  const state = textOf(workflowStatus?.state);
  const step = currentStep?.toLowerCase() ?? null;
  const stateKey = state?.toLowerCase() ?? null;

  let phase: LabelPhase;
  let inRollout = false;
  if (stateKey === "failed") phase = options.cancelRequested ? "cancelled" : "failed";
  else if (stateKey === "published") phase = "published";
  else if (step === "finalizepublishing" && stateKey === "completed") phase = "published";
  else if (step === "finalizesharing" && stateKey === "completed") phase = "shared";
  else if (step === "microsoftapproval") phase = "awaitingMicrosoftApproval";
  else if (step === null || step === "created") phase = "creating";
  else if (VALIDATING_STEPS.has(step)) phase = "validating";
  else if (DELIVERING_STEPS.has(step)) phase = "publishing";
  else if (/rollout/.test(step)) {
    phase = "publishing";
    inRollout = true;
  } else if (options.previousPhase === "awaitingMicrosoftApproval" || options.previousPhase === "publishing") {
    // An unlisted step after approval is taken for the gradual rollout rather than a step back.
    phase = "publishing";
    inRollout = true;
  } else phase = "validating";

  return {
    phase,
    currentStep,
    state,
    messages: messageTexts(workflowStatus?.messages),
    terminal: TERMINAL_LABEL_PHASES.has(phase),
    cancellable: phase === "awaitingMicrosoftApproval" || inRollout,
    hasErrorReport: typeof workflowStatus?.errorReport === "string" && workflowStatus.errorReport.trim() !== "",
  };
}

function textOf(value: unknown): string | null {
  if (typeof value === "string" && value.trim() !== "") return value;
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  return null;
}

