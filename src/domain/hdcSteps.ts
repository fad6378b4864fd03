/**
 * Microsoft's documented ingestion steps of a driver submission, in order (reference/hdc-api.md a.7),
 * so a status can say "step k of n". The set is not closed: an undocumented step keeps its name and
 * gets no index. Microsoft sometimes sends currentStep as a number: its 0-based index in this order.
 */
export const HDC_SUBMISSION_STEPS = [
  "packageInfoValidation",
  "preparation",
  "scanning",
  "validation",
  "catalogCreation",
  "manualReview",
  "signing",
  "finalizeIngestion",
] as const;

export interface HdcStepPosition {
  /** 1-based position in HDC_SUBMISSION_STEPS; null for a step the documentation does not list. */
  index: number | null;
  count: number;
  name: string;
}

/** Where `currentStep` sits in Microsoft's workflow (case-insensitive), or undefined when there is no step. */
export function hdcStepPosition(currentStep: string | null | undefined): HdcStepPosition | undefined {
  if (currentStep === null || currentStep === undefined || currentStep.trim() === "") return undefined;
  const count = HDC_SUBMISSION_STEPS.length;
  if (/^\d+$/.test(currentStep)) {
    const zeroBased = Number(currentStep);
    return zeroBased < count
      ? { index: zeroBased + 1, count, name: HDC_SUBMISSION_STEPS[zeroBased] }
      : { index: null, count, name: currentStep };
  }
  const found = HDC_SUBMISSION_STEPS.findIndex((step) => step.toLowerCase() === currentStep.toLowerCase());
  return found >= 0 ? { index: found + 1, count, name: HDC_SUBMISSION_STEPS[found] } : { index: null, count, name: currentStep };
}
