/**
 * One change of a shipping label (issue 30): PATCH of its targeting or cancel, with the activity
 * retry policy on durable timers. Microsoft's answers and their retries (HDC client timeouts of
 * 120 s, up to 4 tries, then our own attempts) can outlast the 230 s Azure's front end gives an HTTP
 * call, so the trigger answers 202 and this orchestration does the work.
 *
 * Exactly once at Microsoft: the instance id is fixed per change (functions/labels.ts), and each
 * activity reads the label first and skips a change already in effect, so a retry after a lost
 * answer or a crash does not send it twice. Custom status and output: a LabelChangeStatus (no URLs).
 */
import * as df from "durable-functions";
import { CHANGE_LABEL_ORCHESTRATOR, type ChangeLabelInput } from "../activities/contract";
import type { LabelChangeStatus } from "../domain/labelChange";
import { ActivityFailure, callActivity, describeActivityError } from "./activityCalls";

export function* changeLabelOrchestration(context: df.OrchestrationContext): Generator<df.Task, LabelChangeStatus, any> {
  const input = context.df.getInput<ChangeLabelInput>();
  const ref = { productId: input.productId, submissionId: input.submissionId, labelId: input.labelId };
  const status: LabelChangeStatus = { kind: input.kind, labelId: input.labelId, state: "running", startedAt: context.df.currentUtcDateTime.toISOString() };
  context.df.setCustomStatus(status);
  let done: LabelChangeStatus;
  try {
    if (input.kind === "update") {
      const out = yield* callActivity(context, "updateShippingLabel", { ...ref, targeting: input.targeting }, input.retry);
      done = { ...status, state: "succeeded", hardwareIdChanges: out.hardwareIdChanges, chidChanges: out.chidChanges, audiencesSet: out.audiencesSet, alreadyApplied: out.alreadyApplied === true };
    } else {
      const out = yield* callActivity(context, "cancelShippingLabel", ref, input.retry);
      done = { ...status, state: "succeeded", alreadyApplied: out.alreadyRequested };
    }
  } catch (error) {
    // A refusal by Microsoft (terminal) or the last transient failure: the change's outcome, not a crash.
    const reason = error instanceof ActivityFailure ? (error.terminal ? error.detail : error.message) : describeActivityError(error);
    done = { ...status, state: "failed", reason };
  }
  done.endedAt = context.df.currentUtcDateTime.toISOString();
  context.df.setCustomStatus(done);
  return done;
}

df.app.orchestration(CHANGE_LABEL_ORCHESTRATOR, changeLabelOrchestration);
