/**
 * Orchestration versioning: HLK reviews keep a submitDriver instance alive for up to 7 days, and a
 * deployment replays the instances in flight with the new code. Replay must produce the same
 * actions (activity names and order, timers, continueAsNew) as the history recorded.
 *
 * THE RULE for every change to submitDriver or the helpers it yields through:
 *  - Changing what the orchestrator yields for an existing history (another activity, a call moved
 *    or removed, a timer added, a different fire time) needs a NEW NAME: copy the current generator
 *    into a frozen module registered under its current name, register the new code as
 *    "submitDriver_v<n+1>", add that name to SUBMIT_DRIVER_NAMES, and start new instances under it.
 *    Remove a frozen version only when no instance of it can still be running (deadline + margin).
 *  - Changes that only add optional input fields read by new code paths, change custom status, or
 *    change texts keep the name. (The extension matches replayed activities by name and order; our
 *    replay driver also compares their inputs, so keep the inputs of existing paths unchanged too.)
 *  - Either way, test/unit/orchestrator/versioning.test.ts replays histories written by every
 *    deployed version (test/fixtures/submitDriver-v*) under the current code and must stay green.
 *
 * Current versions: "submitDriver" only (the changes since 2407747 keep the yielded actions of
 * existing histories: new rounds and bounded status are new input fields and status texts;
 * publishing (issue 11) adds the publishLabel sub-orchestration and a second manifest write only
 * after the point every older history ended at, and only when the new input field `publish` is
 * present, which no older history has; the resume-claims check (issue 21) runs the checkResumeClaims
 * activity first only when the new input field `verifyResume` is set, which no older history has, so
 * their resumes replay authenticate-first as recorded; copying Microsoft's whole error report
 * (issue 29) adds the copyErrorReport activity on the failure path before the "failed" manifest, only
 * when the failing getSubmissionStatus result carries `hasErrorReport`, which only code since issue 29
 * records: test/fixtures/submitDriver-v1-failure holds a failure history from before it); the
 * preflight step (issue 37) runs the preflightPackage activity before authenticate only when the new
 * input field `preflight` is set, which only inputs built since issue 37 (PREFLIGHT=on) carry. The
 * issue asked for a submitDriver_v2; it is not needed because this gate is exactly what a new name
 * would buy: every history recorded before has no `preflight` and replays authenticate-first as
 * recorded (the v1 fixtures in versioning.test.ts), and a run started with it takes the step from its
 * first episode. A refusal completes the run with stage "rejected" before any Microsoft call. The
 * signed-package check (issue 36) runs the verifySignedPackage activity between downloadSignedPackage
 * and the result manifest only when the new input field `verifySignedPackage` is set, which only
 * inputs built since issue 36 (VERIFY_SIGNED_PACKAGE=on) carry: older histories replay download →
 * manifest as recorded, and their failure path is unchanged (the failed manifest gains the check's
 * facts only when that step failed). The label preview (issue 37) is custom status only: with the new
 * input field `labelPreview` (set only with a dry-run publish policy) the orchestrator expands the
 * policy over the preflight output's INFs in pure code (src/publishing/previewLabel.ts) and reports
 * it; no activity, timer or input of an existing call changes, so older histories replay as recorded.
 *
 * deliverNotification keeps its name too: since issue 30 its input holds `receiverId`; inputs written
 * before hold `urlIndex` and the orchestrator passes that key on unchanged, so their recorded
 * sendWebhook calls replay as they were; sendWebhook then drops such a delivery (the position may
 * name another receiver now). test/fixtures/deliverNotification-v1 is such a history.
 *
 * publishLabel keeps its name through issue 34: the second-person approval (timers and the
 * approvalDecision event between prepareShippingLabel and createShippingLabel) runs only when the new
 * input field `approval` is set, which no history written before has; test/fixtures/publishLabel-v1
 * holds such histories (create pending, following, dry run), replayed in versioning.test.ts.
 *
 * changeLabel (issue 30) is new: its first version, no histories before it.
 *
 * signPreproduction (issue 40) is new too: preproduction signing runs under its own name instead of a
 * path inside submitDriver, so no submitDriver history can meet it. It is listed with the submissions
 * (status, list, cancel, page) but never picked by a restart of a submitDriver instance.
 */
import { ORCHESTRATOR_NAME, SIGN_PREPRODUCTION_ORCHESTRATOR } from "../activities/contract";

/** Every orchestrator name a submission may run under, oldest first; the last one starts new instances. */
export const SUBMIT_DRIVER_NAMES: readonly string[] = [ORCHESTRATOR_NAME];

export const CURRENT_SUBMIT_DRIVER = SUBMIT_DRIVER_NAMES[SUBMIT_DRIVER_NAMES.length - 1];

export function isSubmitDriverName(name: string | undefined): boolean {
  return name !== undefined && SUBMIT_DRIVER_NAMES.includes(name);
}

/** Orchestrations the submissions API lists and shows: every submitDriver version and rejected drops. */
export const REJECTED_DROP_NAME = "recordRejectedDrop";

/** Preproduction signing runs (issue 40); their status view says `signing: "preproduction"`. */
export const PREPROD_ORCHESTRATOR_NAMES: readonly string[] = [SIGN_PREPRODUCTION_ORCHESTRATOR];

export function isPreprodName(name: string | undefined): boolean {
  return name !== undefined && PREPROD_ORCHESTRATOR_NAMES.includes(name);
}

export function isListedSubmissionName(name: string | undefined): boolean {
  return isSubmitDriverName(name) || name === REJECTED_DROP_NAME || isPreprodName(name);
}
