/** What GET /api/submissions/{id} returns: built from custom status and output; of the input, only the owner (issue 32). */
import type { DurableOrchestrationStatus } from "durable-functions";
import type { LabelPreview, LabelReport, PackageRef, PreflightResult, RejectedDropStatus, SignedPackageVerification, Stage, StageTransition, StepTransition, SubmissionCustomStatus } from "./types";
import { hdcStepPosition, type HdcStepPosition } from "./hdcSteps";
import type { SubmitDriverSummary } from "./types";
import { orchestrationStatusFailureText } from "./failureText";
import { ownerIn, type Owner } from "./authorization";

/** The custom status facts shown as they are; stage, messages and the error report are shaped below. */
type StatusFactsShown = Pick<
  SubmissionCustomStatus,
  | "productId"
  | "submissionId"
  | "commitStatus"
  | "currentStep"
  | "state"
  | "error"
  | "failureKind"
  | "signedPackage"
  | "manifest"
  | "errorReportBlob"
  | "nextPollAt"
  | "deadline"
  | "signing"
  | "preprodPackageId"
  | "signingStatus"
>;

export interface SubmissionView extends StatusFactsShown {
  id: string;
  runtimeStatus: string;
  /** Who started it (object id, name, client app id), when the instance was read with its input and records one. */
  owner?: Owner;
  stage: Stage | "terminated" | "rejected" | "unknown";
  /** A rejected drop: `outcome: "rejected"` and why the package was refused (nothing was submitted). */
  outcome?: "rejected";
  reason?: string;
  /** Number of status polls of Microsoft so far. */
  pollCount?: number;
  package?: PackageRef;
  messages: string[];
  /** An excerpt of Microsoft's error report; the whole report is errorReportBlob (GET …/error-report). */
  errorReport?: string;
  createdTime?: string;
  lastUpdatedTime?: string;
  /** Seconds from creation to now (running) or to the last update (finished). */
  elapsedSeconds?: number;
  stageHistory: StageTransition[];
  /** Microsoft's step/state changes with the time a poll first saw each (`[{step, state, at}]`). */
  stepHistory: StepTransition[];
  /** Microsoft's current step as "k of n" (index null for an undocumented step). */
  step?: HdcStepPosition;
  /** The state in nefarius/SDCM's terms, beside our stage. */
  progress: SubmissionProgressName;
  /**
   * The shipping label (issue 11): the latest publishLabel run's block when there is one (GET of one
   * submission reads it live), else what the submission recorded. A failed label leaves the
   * signing `succeeded`: look at label.phase.
   */
  label?: LabelReport;
  /** The preflight step's verdict, findings and hardware ids (issue 37), when the run had one. */
  preflight?: PreflightResult;
  /**
   * The label a dry-run publish policy would produce, computed from the package's INFs right after
   * preflight (issue 37), before Microsoft's driver metadata exists; `label` is the real one later.
   */
  labelPreview?: LabelPreview;
  /** What was verified in Microsoft's signed package (issue 36; the manifest has the longer lists), when the run checked it. */
  signedPackageVerification?: SignedPackageVerification;
}

/** nefarius/SDCM's `progress`: created (not committed yet), processing (Microsoft has it), completed, failed. */
export type SubmissionProgressName = "created" | "processing" | "completed" | "failed";

const CREATED_STAGES: ReadonlySet<string> = new Set(["queued", "authenticating", "creatingProduct", "creatingSubmission", "uploading"]);

export function progressOf(stage: SubmissionView["stage"]): SubmissionProgressName {
  if (stage === "succeeded") return "completed";
  if (stage === "failed" || stage === "terminated" || stage === "rejected") return "failed";
  return CREATED_STAGES.has(stage) || stage === "unknown" ? "created" : "processing";
}

export function elapsedSecondsOf(runtimeStatus: string, created?: string, updated?: string, now: Date = new Date()): number | undefined {
  if (!created) return undefined;
  const finished = TERMINAL_FOR_ELAPSED.has(runtimeStatus) && updated ? Date.parse(updated) : now.getTime();
  return Math.max(0, Math.round((finished - Date.parse(created)) / 1000));
}
const TERMINAL_FOR_ELAPSED: ReadonlySet<string> = new Set(["Completed", "Failed", "Terminated", "Canceled"]);

const isoOrUndefined = (value: unknown): string | undefined => {
  if (value === undefined || value === null || value === "") return undefined;
  const date = new Date(value as string | Date);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
};

function stageOf(runtimeStatus: string, custom: { stage?: string }): SubmissionView["stage"] {
  if (custom.stage === "rejected") return "rejected";
  if (runtimeStatus === "Terminated" || runtimeStatus === "Canceled") return "terminated";
  if (runtimeStatus === "Failed" && custom.stage !== "failed") return "failed";
  if (runtimeStatus === "Completed" && custom.stage === undefined) return "succeeded";
  if (runtimeStatus === "Pending" && custom.stage === undefined) return "queued";
  return (custom.stage as Stage | undefined) ?? "unknown";
}

/** A durable status; `failureDetails` where the backend reports one (Durable Task Scheduler). */
export type DurableStatusWithFailure = DurableOrchestrationStatus & { failureDetails?: unknown };

export function toSubmissionView(status: DurableStatusWithFailure): SubmissionView {
  const runtimeStatus = String(status.runtimeStatus);
  const custom = (status.customStatus && typeof status.customStatus === "object" ? status.customStatus : {}) as Partial<SubmissionCustomStatus> &
    Partial<Pick<RejectedDropStatus, "reason">>;
  const summary =
    runtimeStatus === "Completed" && status.output && typeof status.output === "object" ? (status.output as Partial<SubmitDriverSummary>) : undefined;
  // A failed orchestration's output is "Orchestrator function 'submitDriver' failed: <exception message>"
  // (ours states the stage and Microsoft's messages) with Azure Storage; the Durable Task Scheduler
  // reports failureDetails instead. Users get the message without the host's wrapping, redacted.
  const failureOutput = runtimeStatus === "Failed" ? orchestrationStatusFailureText(status) : undefined;
  const terminatedReason = runtimeStatus === "Terminated" && typeof status.output === "string" ? `terminated: ${status.output}` : undefined;

  const stage = stageOf(runtimeStatus, custom);
  const createdTime = isoOrUndefined(status.createdTime);
  const lastUpdatedTime = isoOrUndefined(status.lastUpdatedTime);
  const owner = ownerIn(status.input);
  return {
    id: status.instanceId,
    runtimeStatus,
    ...(owner ? { owner } : {}),
    stage,
    ...(stage === "rejected" ? { outcome: "rejected" as const, reason: typeof custom.reason === "string" ? custom.reason : undefined } : {}),
    package: custom.package ?? summary?.package,
    productId: custom.productId ?? summary?.productId,
    submissionId: custom.submissionId ?? summary?.submissionId,
    commitStatus: custom.commitStatus ?? summary?.commitStatus,
    currentStep: custom.currentStep,
    state: custom.state,
    messages: Array.isArray(custom.messages) ? custom.messages : [],
    errorReport: custom.errorReportText,
    error: custom.error ?? failureOutput ?? terminatedReason,
    failureKind: runtimeStatus === "Failed" ? custom.failureKind : undefined,
    signedPackage: custom.signedPackage ?? summary?.signedPackage,
    manifest: custom.manifest ?? summary?.manifest,
    errorReportBlob: custom.errorReportBlob,
    ...(custom.preflight ? { preflight: custom.preflight } : {}),
    ...(custom.labelPreview ? { labelPreview: custom.labelPreview } : {}),
    ...(custom.signedPackageVerification ? { signedPackageVerification: custom.signedPackageVerification } : {}),
    nextPollAt: runtimeStatus === "Running" ? custom.nextPollAt : undefined,
    deadline: custom.deadline,
    createdTime,
    lastUpdatedTime,
    elapsedSeconds: elapsedSecondsOf(runtimeStatus, createdTime, lastUpdatedTime),
    pollCount: typeof custom.pollCount === "number" ? custom.pollCount : summary?.pollCount,
    stageHistory: Array.isArray(custom.stageHistory) ? custom.stageHistory : [],
    stepHistory: Array.isArray(custom.stepHistory) ? custom.stepHistory : [],
    step: hdcStepPosition(custom.currentStep),
    progress: progressOf(stage),
    ...(custom.label ?? summary?.label ? { label: custom.label ?? summary?.label } : {}),
    // Preproduction signing (issue 40): only such runs carry these.
    ...(custom.signing === "preproduction" ? { signing: custom.signing, preprodPackageId: custom.preprodPackageId, signingStatus: custom.signingStatus } : {}),
  };
}
