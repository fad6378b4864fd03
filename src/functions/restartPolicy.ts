/**
 * What a re-post of a package version whose run ended without success starts (same instance id):
 *  - after a transient or our-side failure (retries exhausted on a 503, a deadline, a cancel): the
 *    same round, so the checkpoints resume the same product and submission;
 *  - after Microsoft failed the submission (commit rejected, workflow failed): the next round, which
 *    creates a new submission instead of replaying the failed one. HLK/HCK products are kept (a
 *    "derived" submission on the same product); attestation and test-signed products cannot take a
 *    derived submission and allow only one initial one (reference/hdc-api.md), so they get a new product.
 */
import { ownerIn } from "../domain/authorization";
import type { DurableOrchestrationStatus } from "durable-functions";
import type { SubmitDriverInput } from "../activities/contract";
import type { PurgeRecord } from "../domain/purgeRecord";
import type { SubmissionCustomStatus } from "../domain/types";

export interface PreviousRun {
  runtimeStatus: string;
  customStatus: Partial<SubmissionCustomStatus>;
  input: Partial<SubmitDriverInput>;
}

export function previousRunOf(status: DurableOrchestrationStatus): PreviousRun {
  const asObject = (value: unknown) => (value && typeof value === "object" && !Array.isArray(value) ? value : {});
  return {
    runtimeStatus: String(status.runtimeStatus),
    customStatus: asObject(status.customStatus) as Partial<SubmissionCustomStatus>,
    input: asObject(status.input) as Partial<SubmitDriverInput>,
  };
}

/** The previous run as retention recorded it before purging its history (domain/purgeRecord.ts). */
export function previousRunOfRecord(record: PurgeRecord): PreviousRun {
  return {
    runtimeStatus: record.runtimeStatus,
    customStatus: record.customStatus as Partial<SubmissionCustomStatus>,
    input: record.input as Partial<SubmitDriverInput>,
  };
}

/** The submission Microsoft failed in the previous run, if it did: a resume of it could only fail again. */
export function failedSubmissionOf(previous: PreviousRun): string | undefined {
  if (!failedAtMicrosoft(previous)) return undefined;
  return previous.customStatus.submissionId ?? previous.input.carry?.submissionId ?? previous.input.resume?.submissionId;
}

/** Microsoft ended it: the explicit kind, or (runs from before failureKind existed) commitFailed / workflow state failed. */
export function failedAtMicrosoft(previous: PreviousRun): boolean {
  if (previous.runtimeStatus !== "Failed") return false;
  const custom = previous.customStatus;
  if (custom.failureKind !== undefined) return custom.failureKind === "microsoft";
  return /^commitFailed$/i.test(custom.commitStatus ?? "") || /^failed$/i.test(custom.state ?? "");
}

const takesDerivedSubmission = (input: Partial<SubmitDriverInput>) =>
  (input.product?.testHarness === "hlk" || input.product?.testHarness === "hck") && input.product?.isTestSign !== true;

export type RestartDecision = { input: SubmitDriverInput; newSubmission: boolean };

/** `fresh` is the input built from this request; `explicitResume` says the caller named the ids itself. */
export function restartInput(fresh: SubmitDriverInput, previous: PreviousRun, explicitResume: boolean): RestartDecision {
  const round = Number.isSafeInteger(previous.input.round) && (previous.input.round as number) > 0 ? (previous.input.round as number) : 1;
  // The run keeps its owner when the restart names none (a key holder's); a caller's restart is already checked to be the owner's.
  const previousOwner = ownerIn(previous.input);
  if (!fresh.owner && previousOwner) fresh = { ...fresh, owner: previousOwner };
  if (!failedAtMicrosoft(previous)) {
    // Resume: the same checkpoints (round), and the ids and type this round already used.
    const carried: SubmitDriverInput = explicitResume
      ? fresh
      : {
          ...fresh,
          ...(previous.input.resume ? { resume: previous.input.resume } : {}),
          ...(previous.input.submissionType ? { submissionType: previous.input.submissionType } : {}),
        };
    return { input: round > 1 ? { ...carried, round } : carried, newSubmission: false };
  }
  const productId = previous.customStatus.productId ?? previous.input.carry?.productId ?? previous.input.resume?.productId;
  const next: SubmitDriverInput = { ...fresh, round: round + 1 };
  if (!explicitResume && productId && takesDerivedSubmission(previous.input)) {
    next.resume = { productId };
    next.submissionType = "derived";
  }
  return { input: next, newSubmission: true };
}
