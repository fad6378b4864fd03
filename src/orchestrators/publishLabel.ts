/**
 * The publishLabel orchestration (issue 11): publish a signed submission to Windows Update or share
 * it with a partner, from the user's declared policy.
 *
 *   wait (durable timers, bounded) for the driverMetadata item → prepareShippingLabel (expand the
 *   policy; the body is stored, history gets a summary) → dry run: stop here → createShippingLabel
 *   (exactly once) → follow the label on durable timers (awaitingMicrosoftApproval, publishing, …)
 *   until published / shared / cancelled / failed or its own deadline; continueAsNew keeps history
 *   bounded through weeks of approval and rollout.
 *
 * Runs as a sub-orchestration of submitDriver (input `publish`) or alone (POST .../labels). It never
 * throws for a label outcome: a rejected policy, a failed label or a missed deadline is its result
 * (a failed label does not un-sign the driver). Pure like submitDriver: no clock but
 * currentUtcDateTime, no configuration (the schedule arrives in the input).
 */
import * as df from "durable-functions";
import { PUBLISH_LABEL_ORCHESTRATOR, type LabelCarry, type PrepareShippingLabelOutput, type PublishLabelInput } from "../activities/contract";
import type { LabelApprovalView, LabelReport } from "../domain/types";
import { APPROVAL_EVENT, type ApprovalRequirement, approvalDeadline, checkDecision } from "../domain/approval";
import { labelPortalUrl } from "../hdc/shippingLabels";
import { redactSecrets } from "../domain/redact";
import { ActivityFailure, callActivity, describeActivityError } from "./activityCalls";
import { addMinutes, nextPollTime } from "./backoff";
import { fitLabelReport } from "./customStatus";
import { queueNotificationBestEffort } from "./notify";

/** Custom status of a publishLabel instance. */
export interface PublishLabelStatus {
  parentInstanceId: string;
  label: LabelReport;
  updatedAt: string;
}

const nextInterval = (seconds: number, input: PublishLabelInput) =>
  Math.min(Math.round(seconds * input.polling.backoffFactor), input.polling.maxIntervalSeconds);

export function* publishLabelOrchestration(context: df.OrchestrationContext): Generator<df.Task, LabelReport | undefined, any> {
  const input = context.df.getInput<PublishLabelInput>();
  const instanceId = context.df.instanceId;
  const publish = (label: LabelReport): LabelReport => {
    const report: LabelReport = { ...label, instanceId, updatedAt: context.df.currentUtcDateTime.toISOString() };
    const status: PublishLabelStatus = { parentInstanceId: input.parentInstanceId, label: fitLabelReport(report), updatedAt: report.updatedAt! };
    context.df.setCustomStatus(status);
    return report;
  };

  let report: LabelReport = input.carry?.report ?? { phase: "waitingForMetadata", destination: input.policy.destination };
  try {
    let carry: LabelCarry;
    if (input.carry) {
      carry = input.carry;
    } else {
      const prepared = yield* prepare(context, input, (facts) => (report = publish({ ...report, ...facts })));
      if (prepared.kind === "done") return publish(prepared.report);
      const { summary } = prepared;
      const label: Partial<LabelReport> = {
        destination: summary.destination,
        name: summary.name,
        hardwareIdCount: summary.hardwareIdCount,
        hardwareIdSample: summary.hardwareIdSample,
        chidCount: summary.chidCount,
        audiences: summary.audiences,
        request: summary.request,
      };
      // Issue 34: only inputs built since carry `approval`; older histories go on to create as recorded.
      let approval: LabelApprovalView | undefined;
      if (input.approval) {
        const decided = yield* awaitApproval(context, input, input.approval, label, (next) => (report = publish(next)));
        if (decided.kind === "done") {
          report = publish(decided.report);
          // The activity reads the status this episode sets (rejected / expired with the decision).
          yield* queueNotificationBestEffort(context, input, "approvalDecided");
          return report;
        }
        approval = decided.view;
      }
      report = publish({ phase: "creating", ...label, ...(approval ? { approval } : {}) } as LabelReport);
      if (approval) yield* queueNotificationBestEffort(context, input, "approvalDecided");
      const created = yield* callActivity(
        context,
        "createShippingLabel",
        { instanceId, productId: input.productId, submissionId: input.submissionId, name: summary.name, request: summary.request },
        input.retry,
      );
      const deadline = addMinutes(context.df.currentUtcDateTime, input.polling.deadlineDays * 24 * 60).toISOString();
      report = publish({
        ...report,
        labelId: created.labelId,
        portalUrl: labelPortalUrl(input.productId, input.submissionId, created.labelId),
        deadline,
        pollCount: 0,
      });
      carry = {
        report: { ...report, labelId: created.labelId, deadline },
        pollCount: 0,
        generation: 0,
        intervalSeconds: Math.min(input.polling.initialIntervalSeconds, input.polling.maxIntervalSeconds),
      };
    }
    return yield* follow(context, input, carry, (next) => (report = publish(next)));
  } catch (error) {
    const reason = error instanceof ActivityFailure ? error.message : describeActivityError(error);
    return publish({ ...report, phase: "failed", error: redactSecrets(reason) });
  }
}

type Prepared =
  | { kind: "done"; report: LabelReport }
  | { kind: "ready"; summary: Extract<PrepareShippingLabelOutput, { ok: true }> };

/** Waits (bounded) for the driver metadata and expands the policy; a dry run or a rejected policy ends here. */
function* prepare(
  context: df.OrchestrationContext,
  input: PublishLabelInput,
  publish: (facts: Partial<LabelReport>) => void,
): Generator<df.Task, Prepared, any> {
  const giveUpAt = addMinutes(context.df.currentUtcDateTime, input.polling.metadataWaitMinutes);
  let interval = Math.min(input.polling.initialIntervalSeconds, input.polling.maxIntervalSeconds);
  publish({ phase: "waitingForMetadata" });
  for (;;) {
    const prepared = yield* callActivity(
      context,
      "prepareShippingLabel",
      {
        instanceId: context.df.instanceId,
        parentInstanceId: input.parentInstanceId,
        package: input.package,
        productId: input.productId,
        submissionId: input.submissionId,
        product: input.product,
        policy: input.policy,
      },
      input.retry,
    );
    if (prepared.ready) {
      if (!prepared.ok) {
        return {
          kind: "done",
          report: { phase: "rejected", destination: input.policy.destination, problems: prepared.problems, error: `the publish policy does not fit this submission: ${prepared.problems.join("; ")}` },
        };
      }
      if (input.policy.dryRun) {
        return {
          kind: "done",
          report: {
            phase: "dryRun",
            destination: prepared.destination,
            name: prepared.name,
            hardwareIdCount: prepared.hardwareIdCount,
            hardwareIdSample: prepared.hardwareIdSample,
            chidCount: prepared.chidCount,
            audiences: prepared.audiences,
            request: prepared.dryRunRequest ?? prepared.request,
            ...(prepared.problems ? { problems: prepared.problems } : {}),
          },
        };
      }
      return { kind: "ready", summary: prepared };
    }
    if (context.df.currentUtcDateTime.getTime() >= giveUpAt.getTime()) {
      return {
        kind: "done",
        report: {
          phase: "failed",
          destination: input.policy.destination,
          error: `the submission's driver metadata did not appear within ${input.polling.metadataWaitMinutes} minutes; nothing was created (publish again with POST /api/submissions/{id}/labels)`,
        },
      };
    }
    yield context.df.createTimer(nextPollTime(context.df.currentUtcDateTime, interval, giveUpAt));
    interval = nextInterval(interval, input);
  }
}

/** How long one approval wait lasts before it is renewed: under the 6-day short-timer limit, so no long-timer chains. */
const APPROVAL_WAIT_STEP_MS = 24 * 3600_000;
/** Ignored decisions kept in status (the latest). */
const MAX_IGNORED_DECISIONS = 5;

type Approved = { kind: "approved"; view: LabelApprovalView } | { kind: "done"; report: LabelReport };

/**
 * Shows the computed label as awaitingApproval and waits for a decision (external event) or the
 * deadline (durable timers). Every wait step yields a fresh timer and a fresh event task (never one
 * already scheduled, which would schedule it again); the engine hands an event to the newest waiter.
 * A decision is re-checked here: a bad shape or the requester's own is recorded and ignored.
 */
function* awaitApproval(
  context: df.OrchestrationContext,
  input: PublishLabelInput,
  approval: ApprovalRequirement,
  label: Partial<LabelReport>,
  publish: (report: LabelReport) => LabelReport,
): Generator<df.Task, Approved, any> {
  const requestedAt = context.df.currentUtcDateTime;
  const deadline = approvalDeadline(requestedAt, approval.deadlineHours);
  const { goLiveDate, floor, ceiling, receiverPublisherId, visibleToAccounts } = input.policy;
  let view: LabelApprovalView = {
    ...(approval.requester ? { requester: approval.requester } : {}),
    requestedAt: requestedAt.toISOString(),
    deadline: deadline.toISOString(),
    ...(goLiveDate !== undefined ? { goLiveDate } : {}),
    ...(floor !== undefined ? { floor } : {}),
    ...(ceiling !== undefined ? { ceiling } : {}),
    ...(receiverPublisherId !== undefined ? { receiverPublisherId } : {}),
    ...(visibleToAccounts !== undefined ? { visibleToAccounts } : {}),
  };
  const waiting = (): LabelReport => ({ ...label, phase: "awaitingApproval", approval: view } as LabelReport);
  publish(waiting());
  yield* queueNotificationBestEffort(context, input, "approvalRequested");
  for (;;) {
    const now = context.df.currentUtcDateTime;
    if (now.getTime() >= deadline.getTime()) {
      return { kind: "done", report: { ...label, phase: "expired", approval: view, error: `no approval decision by ${view.deadline}; nothing was created at Microsoft` } as LabelReport };
    }
    const timer = context.df.createTimer(new Date(Math.min(deadline.getTime(), now.getTime() + APPROVAL_WAIT_STEP_MS)));
    const event = context.df.waitForExternalEvent(APPROVAL_EVENT);
    const winner = yield context.df.Task.any([timer, event]);
    if (winner !== event) continue;
    timer.cancel();
    const checked = checkDecision(event.result, approval.requester);
    if (!checked.ok) {
      const ignored = { ...(checked.approver ? { approver: checked.approver } : {}), reason: redactSecrets(checked.reason).slice(0, 300), at: context.df.currentUtcDateTime.toISOString() };
      view = { ...view, ignored: [...(view.ignored ?? []), ignored].slice(-MAX_IGNORED_DECISIONS) };
      publish(waiting());
      continue;
    }
    const { decision, comment, approver, decidedAt } = checked.decision;
    view = { ...view, decision, approver, comment: redactSecrets(comment), decidedAt };
    if (decision === "reject") {
      const who = approver.name || approver.objectId;
      return { kind: "done", report: { ...label, phase: "rejected", approval: view, error: `rejected by ${who}: ${view.comment}; nothing was created at Microsoft` } as LabelReport };
    }
    return { kind: "approved", view };
  }
}

/** Polls the label until it ends or its deadline passes; continueAsNew every pollsPerGeneration polls. */
function* follow(
  context: df.OrchestrationContext,
  input: PublishLabelInput,
  initial: LabelCarry,
  publish: (report: LabelReport) => LabelReport,
): Generator<df.Task, LabelReport | undefined, any> {
  let carry = initial;
  let report = publish(carry.report);
  const deadline = new Date(carry.report.deadline);
  for (let polls = 0; ; ) {
    yield context.df.createTimer(nextPollTime(context.df.currentUtcDateTime, carry.intervalSeconds, deadline));
    const status = yield* callActivity(
      context,
      "getShippingLabelStatus",
      {
        productId: input.productId,
        submissionId: input.submissionId,
        labelId: carry.report.labelId,
        ...(report.phase === "awaitingMicrosoftApproval" || report.phase === "publishing" ? { previousPhase: report.phase } : {}),
      },
      input.retry,
    );
    polls += 1;
    report = publish({
      ...report,
      phase: status.phase,
      currentStep: status.currentStep,
      state: status.state,
      messages: status.messages.map(redactSecrets),
      ...(status.errorReportText !== undefined ? { errorReportText: redactSecrets(status.errorReportText) } : {}),
      ...(status.cancelRequested ? { cancelRequested: true } : {}),
      pollCount: carry.pollCount + 1,
    });
    // The carry is the next generation's input: keep it small (the status-sized block).
    carry = { ...carry, report: { ...fitLabelReport(report), labelId: carry.report.labelId, deadline: carry.report.deadline }, pollCount: carry.pollCount + 1, intervalSeconds: nextInterval(carry.intervalSeconds, input) };
    if (status.terminal) return report;
    if (context.df.currentUtcDateTime.getTime() >= deadline.getTime()) {
      return publish({ ...report, error: `the label deadline ${carry.report.deadline} passed at phase ${report.phase}; it is no longer followed (it goes on at Microsoft)` });
    }
    if (polls >= input.polling.pollsPerGeneration) {
      context.df.continueAsNew({ ...input, carry: { ...carry, generation: carry.generation + 1 } });
      return undefined;
    }
  }
}


df.app.orchestration(PUBLISH_LABEL_ORCHESTRATOR, publishLabelOrchestration);
