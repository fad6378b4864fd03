/**
 * The submission workflow schedule after a commit, as a pure function of the emulator clock:
 * commitReceived, then commitComplete (or commitFailed), then the documented ingestion steps
 * (reference/hdc-api.md a.7), each notStarted → started → completed, until finalizeIngestion
 * completes. Evaluated on every GET, so pushing the clock forward advances the submission.
 */
import { HDC_SUBMISSION_STEPS } from "../../src/domain/hdcSteps";
import type { WorkflowBehaviour } from "./hdcBehaviour";

/** The emulator walks the same documented steps the app counts "k of n" against. */
export const SUBMISSION_STEPS = HDC_SUBMISSION_STEPS;

export type CommitStatus = "commitPending" | "commitReceived" | "commitComplete" | "commitFailed";
export type StepState = "notStarted" | "started" | "completed" | "failed";

/** What the emulator decided at commit time; the workflow settings are fixed then. */
export interface CommitRecord {
  committedAtMs: number;
  outcome: "complete" | "failed";
  /** Why the commit fails (no package uploaded, or scripted). */
  failureMessage?: string;
  workflow: WorkflowBehaviour;
}

export interface WorkflowView {
  commitStatus: CommitStatus;
  /** Absent before commit. */
  step?: { index: number; state: StepState; messages: string[] };
  /** finalizeIngestion completed: the signed package is due. */
  finished: boolean;
  /** A step failed (commitFailed is reported through commitStatus). */
  stepFailed: boolean;
}

export function defaultFailMessages(step: string): string[] {
  return step === "packageInfoValidation" ? ["SignatureValidationFailed"] : [`The ${step} step failed for this package.`];
}

export function evaluateWorkflow(commit: CommitRecord | undefined, nowMs: number): WorkflowView {
  if (!commit) return { commitStatus: "commitPending", finished: false, stepFailed: false };
  const { workflow } = commit;
  const first = { index: 0, state: "notStarted" as StepState, messages: [] as string[] };
  const commitDoneAtMs = commit.committedAtMs + workflow.commitSeconds * 1000;
  if (nowMs < commitDoneAtMs) return { commitStatus: "commitReceived", step: first, finished: false, stepFailed: false };
  if (commit.outcome === "failed") {
    return { commitStatus: "commitFailed", step: { ...first, messages: [commit.failureMessage ?? "Commit failed."] }, finished: false, stepFailed: false };
  }

  const stepMs = workflow.stepSeconds * 1000;
  const elapsedMs = nowMs - commitDoneAtMs;
  const last = SUBMISSION_STEPS.length - 1;
  let index = stepMs > 0 ? Math.floor(elapsedMs / stepMs) : SUBMISSION_STEPS.length;
  let state: StepState;
  if (index > last) {
    index = last;
    state = "completed";
  } else {
    const third = Math.floor(((elapsedMs % stepMs) / stepMs) * 3);
    state = third === 0 ? "notStarted" : third === 1 ? "started" : "completed";
  }

  const failIndex = workflow.failAtStep === undefined ? -1 : SUBMISSION_STEPS.findIndex((step) => step.toLowerCase() === workflow.failAtStep?.toLowerCase());
  const reachedFailure = failIndex >= 0 && (index > failIndex || (index === failIndex && state !== "notStarted"));
  if (reachedFailure) {
    const messages = workflow.failMessages ?? defaultFailMessages(SUBMISSION_STEPS[failIndex]);
    return { commitStatus: "commitComplete", step: { index: failIndex, state: "failed", messages }, finished: false, stepFailed: true };
  }
  const finished = index === last && state === "completed";
  return { commitStatus: "commitComplete", step: { index, state, messages: [] }, finished, stepFailed: false };
}

/** camelCase as documented in the create response, or the PascalCase the docs' tables use. */
export function inCase(value: string, enumCase: "camel" | "pascal"): string {
  return enumCase === "pascal" ? value.charAt(0).toUpperCase() + value.slice(1) : value;
}
