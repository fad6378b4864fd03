/**
 * The submitDriver orchestration: authenticate → create product → create submission → copy the
 * package → commit → poll Hardware Dev Center on durable timers → download the signed package →
 * write the result manifest.
 *
 * Replayed from history many times, so it is a pure synchronous generator: no await, no clock but
 * context.df.currentUtcDateTime, no configuration reads (policies arrive in the input). Every
 * activity call goes through callActivity (typed, with our own retry loop).
 */
import * as df from "durable-functions";
import type { PollingCarry, SubmitDriverInput } from "../activities/contract";
import type {
  ActivityRetryPolicy,
  BlobLocation,
  FailureKind,
  LabelPreview,
  LabelReport,
  NormalizedSubmissionStatus,
  PreflightFinding,
  PreflightResult,
  RejectedDropStatus,
  ResultManifest,
  SignedPackageVerification,
  Stage,
  SubmitDriverSummary,
} from "../domain/types";
import { ORCHESTRATOR_NAME, PUBLISH_LABEL_ORCHESTRATOR, type PublishLabelInput } from "../activities/contract";
import { labelInstanceId, roundKey } from "../domain/instanceId";
import { redactSecrets } from "../domain/redact";
import { previewLabel } from "../publishing/previewLabel";
import { queueNotificationBestEffort } from "./notify";
import { ActivityFailure, callActivity, callActivityBestEffort, describeActivityError, MAX_FAILURE_TEXT } from "./activityCalls";
import { addMinutes, firstPollIntervalSeconds, nextPollIntervalSeconds, nextPollTime } from "./backoff";
import {
  MAX_ERROR_REPORT_IN_MESSAGE,
  boundedMessages,
  fitLabelPreview,
  fitPreflight,
  StatusReporter,
  type StatusFacts,
  truncate,
} from "./customStatus";

/** A failure that ends the orchestration, with what Microsoft said about it. */
export class SubmissionFailure extends Error {
  constructor(
    readonly stage: Stage,
    readonly reason: string,
    readonly details: Pick<NormalizedSubmissionStatus, "messages"> &
      Partial<Pick<NormalizedSubmissionStatus, "commitStatus" | "currentStep" | "state" | "errorReportText" | "hasErrorReport">> = { messages: [] },
    readonly kind: FailureKind = "activity",
    /** Facts for the failed manifest and status beyond Microsoft's (the signed package and its check, issue 36). */
    readonly result: { signedPackage?: BlobLocation; signedPackageVerification?: SignedPackageVerification } = {},
  ) {
    super(reason);
    this.name = "SubmissionFailure";
  }
}

interface SubmissionIds {
  productId: string;
  submissionId: string;
}

type PollResult = { kind: "finished"; carry: PollingCarry; status: NormalizedSubmissionStatus } | { kind: "continuedAsNew" };

const isCommitFailed = (commitStatus: string | null | undefined) => /^commitFailed$/i.test(commitStatus ?? "");

/** The non-secret facts of a normalised status, for custom status and manifests. */
function statusFacts(status: NormalizedSubmissionStatus): Partial<StatusFacts> {
  return {
    commitStatus: status.commitStatus,
    currentStep: status.currentStep,
    state: status.state,
    messages: boundedMessages(status.messages.map(redactSecrets)),
  };
}

function failureFromStatus(stage: Stage, status: NormalizedSubmissionStatus): SubmissionFailure {
  const reason = isCommitFailed(status.commitStatus)
    ? `Microsoft rejected the commit (commitStatus ${status.commitStatus})`
    : `Microsoft's processing failed at step ${status.currentStep ?? "(unknown)"} (state ${status.state ?? "(unknown)"})`;
  return new SubmissionFailure(stage, reason, status, "microsoft");
}

export function* submitDriverOrchestration(
  context: df.OrchestrationContext,
): Generator<df.Task, SubmitDriverSummary | PreflightRefusal | undefined, any> {
  const input = context.df.getInput<SubmitDriverInput>();
  const status = new StatusReporter(context, input.package, input.carry?.stageHistory, input.carry?.stepHistory);
  const startedAt = input.carry?.startedAt ?? context.df.currentUtcDateTime.toISOString();

  try {
    let carry: PollingCarry;
    let knownStatus: NormalizedSubmissionStatus | undefined;
    if (input.carry) {
      carry = input.carry;
      status.report("waitingForMicrosoft", {
        productId: carry.productId,
        submissionId: carry.submissionId,
        pollCount: carry.pollCount,
        deadline: carry.deadline,
        ...(carry.lastStatus ? statusFacts(carry.lastStatus) : {}),
        ...(carry.preflight ? { preflight: carry.preflight } : {}),
        ...(carry.labelPreview ? { labelPreview: carry.labelPreview } : {}),
      });
    } else {
      status.report("queued");
      // Issue 37: only inputs with `preflight` (PREFLIGHT=on, since issue 37) take this step, before
      // anything is created at Microsoft; older histories replay authenticate-first (versions.ts).
      let preflight: PreflightResult | undefined;
      let labelPreview: LabelPreview | undefined;
      if (input.preflight) {
        ({ result: preflight, labelPreview } = yield* runPreflight(context, input, status));
        if (preflight.verdict === "refused") return yield* rejectAfterPreflight(context, input, preflight, startedAt);
      }
      const prepared = yield* prepareSubmission(context, input, status);
      knownStatus = prepared.knownStatus;
      const pollingStartsAt = context.df.currentUtcDateTime;
      carry = {
        ...prepared.ids,
        startedAt,
        deadline: addMinutes(pollingStartsAt, input.polling.deadlineMinutes).toISOString(),
        pollCount: 0,
        generation: 0,
        intervalSeconds: firstPollIntervalSeconds(input.polling),
        lastStatus: knownStatus,
        ...(preflight ? { preflight: fitPreflight(preflight) } : {}),
        ...(labelPreview ? { labelPreview } : {}),
      };
    }

    const polled = yield* waitForMicrosoft(context, input, carry, status, knownStatus);
    if (polled.kind === "continuedAsNew") return undefined;

    return yield* collectSignedPackage(context, input, polled.carry, polled.status, status);
  } catch (error) {
    const failure =
      error instanceof SubmissionFailure
        ? error
        : new SubmissionFailure(
            status.stage,
            error instanceof ActivityFailure ? error.message : describeActivityError(error),
            { messages: status.known.messages ?? [] },
          );
    yield* recordFailure(context, input, status, failure, startedAt);
    yield* queueNotificationBestEffort(context, input, "failed");
    throw new Error(failureMessage(failure));
  }
}

/** A run its preflight refused: completed, nothing created at Microsoft (listed as a rejected drop). */
export interface PreflightRefusal {
  outcome: "rejected";
  instanceId: string;
  package: SubmitDriverInput["package"];
  reason: string;
  findings: PreflightFinding[];
  manifest?: BlobLocation;
}

/**
 * Checks the package's rules; a retried failure of the check itself fails the run like any activity.
 * With a dry-run publish policy (and the input field `labelPreview`, new inputs only) the label it
 * would produce is computed from the INFs right away: pure code, no activity or timer, so the actions
 * an older history recorded are unchanged.
 */
function* runPreflight(
  context: df.OrchestrationContext,
  input: SubmitDriverInput,
  status: StatusReporter,
): Generator<df.Task, { result: PreflightResult; labelPreview?: LabelPreview }, any> {
  const checked = yield* callActivity(context, "preflightPackage", { package: input.package }, input.retry);
  const result: PreflightResult = { verdict: checked.verdict, findings: checked.findings, hardwareIds: checked.hardwareIds };
  const policy = input.publish?.policy;
  const labelPreview =
    input.labelPreview && policy?.dryRun && result.verdict !== "refused" ? fitLabelPreview(previewLabel(policy, checked.infs ?? [], input.product)) : undefined;
  // Warnings, hardware ids and the preview stay in the status for the rest of the run.
  status.report("queued", { preflight: fitPreflight(result), ...(labelPreview ? { labelPreview } : {}) });
  return { result, ...(labelPreview ? { labelPreview } : {}) };
}

const findingText = (f: PreflightFinding): string =>
  `${f.code} ${f.severity}: ${f.message}${f.file ? ` (${f.file}${f.line !== null ? `:${f.line}` : ""})` : ""}`;

/**
 * Ends a refused run as a rejected drop: a "rejected" manifest with every finding, the status of a
 * rejected drop (stage "rejected", reason, findings as messages), the "rejected" notification.
 */
function* rejectAfterPreflight(
  context: df.OrchestrationContext,
  input: SubmitDriverInput,
  preflight: PreflightResult,
  startedAt: string,
): Generator<df.Task, PreflightRefusal, any> {
  const instanceId = context.df.instanceId;
  const errors = preflight.findings.filter((f) => f.severity === "error");
  const reason = `preflight: the package breaks ${errors.length} package rule${errors.length === 1 ? "" : "s"} (${[...new Set(errors.map((f) => f.code))].join(", ")}); nothing was created at Microsoft`;
  const messages = preflight.findings.map(findingText);
  // The rejection stands either way; a missing manifest location shows the write failed.
  const manifest = yield* callActivityBestEffort(
    context,
    "writeResultManifest",
    {
      instanceId,
      manifest: { outcome: "rejected", instanceId, package: input.package, messages, reason, preflight, startedAt, finishedAt: context.df.currentUtcDateTime.toISOString() },
    },
    input.retry,
  );
  const rejected: RejectedDropStatus = {
    stage: "rejected",
    package: input.package,
    reason,
    messages: boundedMessages(messages),
    preflight: fitPreflight(preflight),
    ...(manifest ? { manifest } : {}),
    updatedAt: context.df.currentUtcDateTime.toISOString(),
  };
  context.df.setCustomStatus(rejected);
  yield* queueNotificationBestEffort(context, input, "rejected");
  return { outcome: "rejected", instanceId, package: input.package, reason, findings: preflight.findings, ...(manifest ? { manifest } : {}) };
}

/** Steps up to and including commit; a resume skips what already exists. */
function* prepareSubmission(
  context: df.OrchestrationContext,
  input: SubmitDriverInput,
  status: StatusReporter,
): Generator<df.Task, { ids: SubmissionIds; knownStatus?: NormalizedSubmissionStatus }, any> {
  const instanceId = context.df.instanceId;
  const retry = input.retry;
  // Product and submission checkpoints are kept per round: a later round (a re-post after Microsoft
  // failed the submission) must not find and resume the failed one. Round 1 keys stay as they were.
  const checkpointKey = roundKey(instanceId, input.round);

  if (input.resume && input.verifyResume) {
    // The ids came from a caller: use them only if this service created them for this package
    // version. Checked here as well as in the trigger, since claims are read again at run time.
    // Only inputs with verifyResume (built since issue 21) take this step: older histories replay as written.
    yield* callActivity(
      context,
      "checkResumeClaims",
      { instanceId, productId: input.resume.productId, ...(input.resume.submissionId !== undefined ? { submissionId: input.resume.submissionId } : {}) },
      retry,
    );
  }

  status.report("authenticating");
  yield* callActivity(context, "authenticate", { instanceId }, retry);

  let productId: string;
  if (input.resume?.productId) {
    productId = input.resume.productId;
  } else {
    status.report("creatingProduct");
    const created = yield* callActivity(context, "createProduct", { instanceId: checkpointKey, product: input.product }, retry);
    productId = created.productId;
  }

  let submissionId: string;
  let needsUpload = true;
  let knownStatus: NormalizedSubmissionStatus | undefined;
  if (input.resume?.submissionId) {
    // A resumed submission may already be committed: copying or committing again would fail.
    submissionId = input.resume.submissionId;
    status.report("creatingSubmission", { productId, submissionId });
    knownStatus = yield* callActivity(context, "getSubmissionStatus", { productId, submissionId }, retry);
    status.report("creatingSubmission", statusFacts(knownStatus));
    needsUpload = knownStatus.progress === "created";
  } else {
    status.report("creatingSubmission", { productId });
    const created = yield* callActivity(
      context,
      "createSubmission",
      { instanceId: checkpointKey, productId, name: input.submissionName, type: input.submissionType },
      retry,
    );
    submissionId = created.submissionId;
    status.report("creatingSubmission", { submissionId, commitStatus: created.commitStatus });
    if (created.reused) {
      // An earlier attempt (crash, or a restarted run) may already have uploaded and committed it.
      knownStatus = yield* callActivity(context, "getSubmissionStatus", { productId, submissionId }, retry);
      status.report("creatingSubmission", statusFacts(knownStatus));
      needsUpload = knownStatus.progress === "created";
    }
  }

  if (needsUpload) {
    knownStatus = undefined;
    status.report("uploading", { submissionId });
    yield* callActivity(context, "copyPackage", { productId, submissionId, package: input.package }, retry);

    status.report("committing");
    const commit = yield* callActivity(context, "commitSubmission", { productId, submissionId }, retry);
    status.report("committing", { commitStatus: commit.commitStatus });
    if (isCommitFailed(commit.commitStatus)) {
      // The commit response carries no reasons; the submission's workflow messages do.
      const details = yield* readStatusBestEffort(context, { productId, submissionId }, retry);
      throw failureFromStatus("committing", details ?? { ...emptyStatus(), commitStatus: commit.commitStatus });
    }
  }
  return { ids: { productId, submissionId }, knownStatus };
}

function emptyStatus(): NormalizedSubmissionStatus {
  return { progress: "failed", commitStatus: null, currentStep: null, state: null, messages: [], hasSignedPackage: false, hasDriverMetadata: false };
}

function* readStatusBestEffort(
  context: df.OrchestrationContext,
  ids: SubmissionIds,
  retry: ActivityRetryPolicy,
): Generator<df.Task, NormalizedSubmissionStatus | undefined, any> {
  return yield* callActivityBestEffort(context, "getSubmissionStatus", ids, retry);
}

/**
 * Polls until Microsoft finishes, fails, or the deadline passes. After pollsPerGeneration polls the
 * orchestration continues as new with the carry, so history stays bounded however long review takes.
 */
function* waitForMicrosoft(
  context: df.OrchestrationContext,
  input: SubmitDriverInput,
  initialCarry: PollingCarry,
  status: StatusReporter,
  knownStatus: NormalizedSubmissionStatus | undefined,
): Generator<df.Task, PollResult, any> {
  let carry = initialCarry;
  status.report("waitingForMicrosoft", {
    productId: carry.productId,
    submissionId: carry.submissionId,
    deadline: carry.deadline,
    pollCount: carry.pollCount,
  });
  if (knownStatus) {
    if (knownStatus.progress === "failed") throw failureFromStatus("waitingForMicrosoft", knownStatus);
    if (knownStatus.progress === "succeeded" && knownStatus.hasSignedPackage) return { kind: "finished", carry, status: knownStatus };
  }

  const deadline = new Date(carry.deadline);
  let pollsThisGeneration = 0;
  for (;;) {
    const pollAt = nextPollTime(context.df.currentUtcDateTime, carry.intervalSeconds, deadline);
    status.report("waitingForMicrosoft", { pollCount: carry.pollCount, nextPollAt: pollAt.toISOString() });
    yield context.df.createTimer(pollAt);

    const latest = yield* callActivity(
      context,
      "getSubmissionStatus",
      { productId: carry.productId, submissionId: carry.submissionId },
      input.retry,
    );
    pollsThisGeneration += 1;
    carry = {
      ...carry,
      pollCount: carry.pollCount + 1,
      intervalSeconds: nextPollIntervalSeconds(carry.intervalSeconds, input.polling),
      // The carry becomes the next generation's input: Microsoft's messages bounded, no report.
      lastStatus: { ...latest, messages: boundedMessages(latest.messages), errorReportText: undefined },
    };
    status.report("waitingForMicrosoft", { ...statusFacts(latest), pollCount: carry.pollCount, nextPollAt: undefined });

    if (latest.progress === "failed") throw failureFromStatus("waitingForMicrosoft", latest);
    // "succeeded" without a signedPackage item yet (finalizeIngestion completed) keeps polling.
    if (latest.progress === "succeeded" && latest.hasSignedPackage) return { kind: "finished", carry, status: latest };
    if (context.df.currentUtcDateTime.getTime() >= deadline.getTime()) {
      throw new SubmissionFailure(
        "waitingForMicrosoft",
        `deadline ${carry.deadline} passed after ${carry.pollCount} polls; Microsoft was still at step ` +
          `${latest.currentStep ?? "(unknown)"} (state ${latest.state ?? "(unknown)"})`,
        latest,
        "deadline",
      );
    }
    if (pollsThisGeneration >= input.polling.pollsPerGeneration) {
      const next: SubmitDriverInput = { ...input, carry: { ...carry, generation: carry.generation + 1, stageHistory: status.history, stepHistory: status.stepHistory } };
      context.df.continueAsNew(next);
      return { kind: "continuedAsNew" };
    }
  }
}

function* collectSignedPackage(
  context: df.OrchestrationContext,
  input: SubmitDriverInput,
  carry: PollingCarry,
  finalStatus: NormalizedSubmissionStatus,
  status: StatusReporter,
): Generator<df.Task, SubmitDriverSummary, any> {
  const instanceId = context.df.instanceId;
  const { productId, submissionId } = carry;

  status.report("downloadingSignedPackage", { ...statusFacts(finalStatus), nextPollAt: undefined });
  const downloaded = yield* callActivity(
    context,
    "downloadSignedPackage",
    { instanceId, productId, submissionId, package: input.package },
    input.retry,
  );
  status.report("downloadingSignedPackage", { signedPackage: downloaded.signedPackage });

  // Issue 36: only inputs with verifySignedPackage (VERIFY_SIGNED_PACKAGE=on, since issue 36) take
  // this step; older histories replay download → manifest as recorded (versions.ts).
  let verification: SignedPackageVerification | undefined;
  if (input.verifySignedPackage) {
    verification = yield* callActivity(
      context,
      "verifySignedPackage",
      { instanceId, package: input.package, signedPackage: downloaded.signedPackage },
      input.retry,
    );
    status.report("downloadingSignedPackage", { signedPackageVerification: verification });
    if (verification.verdict === "failed") {
      throw new SubmissionFailure(
        "downloadingSignedPackage",
        `the signed package Microsoft returned failed verification: ${verification.reason ?? "(no reason)"}`,
        { messages: finalStatus.messages, commitStatus: finalStatus.commitStatus, currentStep: finalStatus.currentStep, state: finalStatus.state },
        "microsoft",
        { signedPackage: downloaded.signedPackage, signedPackageVerification: verification },
      );
    }
  }

  // What both the manifest and the orchestration output say about the result.
  const result = {
    outcome: "succeeded" as const,
    instanceId,
    package: input.package,
    productId,
    submissionId,
    commitStatus: finalStatus.commitStatus,
    signedPackage: downloaded.signedPackage,
    driverMetadata: downloaded.driverMetadata,
    ...(verification ? { signedPackageVerification: verification } : {}),
    startedAt: carry.startedAt,
    finishedAt: context.df.currentUtcDateTime.toISOString(),
  };
  const manifest: ResultManifest = {
    ...result,
    currentStep: finalStatus.currentStep,
    state: finalStatus.state,
    messages: finalStatus.messages.map(redactSecrets),
  };
  let manifestLocation: BlobLocation = yield* callActivity(context, "writeResultManifest", { instanceId, manifest }, input.retry);
  status.report("succeeded", { manifest: manifestLocation });
  // Told as soon as the driver is signed: publishing (below) can take days.
  yield* queueNotificationBestEffort(context, input, "succeeded");
  if (!input.publish) return { ...result, manifest: manifestLocation, pollCount: carry.pollCount, generation: carry.generation };

  // Publishing (issue 11). Histories written before it existed have no `publish` input and ended
  // above, so replay is unchanged for them (versions.ts). Signing has succeeded and stays so.
  const label = yield* publishAfterSigning(context, input, { productId, submissionId }, status);
  manifestLocation = yield* callActivity(context, "writeResultManifest", { instanceId, manifest: { ...manifest, label } }, input.retry);
  status.report("succeeded", { manifest: manifestLocation, label });
  return { ...result, manifest: manifestLocation, pollCount: carry.pollCount, generation: carry.generation, label };
}

/** Runs publishLabel as a sub-orchestration; whatever happens to it, the outcome is a label report. */
function* publishAfterSigning(
  context: df.OrchestrationContext,
  input: SubmitDriverInput,
  ids: SubmissionIds,
  status: StatusReporter,
): Generator<df.Task, LabelReport, any> {
  const publish = input.publish!;
  const childId = labelInstanceId(context.df.instanceId, 1);
  status.report("succeeded", { label: { phase: "waitingForMetadata", instanceId: childId, destination: publish.policy.destination } });
  const childInput: PublishLabelInput = {
    parentInstanceId: context.df.instanceId,
    package: input.package,
    ...ids,
    product: { productName: input.product.productName, testHarness: input.product.testHarness },
    policy: publish.policy,
    polling: publish.polling,
    retry: input.retry,
    // Issue 34: only inputs built since carry it, so older children start with the input they had.
    ...(publish.approval ? { approval: publish.approval, ...(input.notify ? { notify: true } : {}) } : {}),
  };
  try {
    const report: LabelReport | undefined = yield context.df.callSubOrchestrator(PUBLISH_LABEL_ORCHESTRATOR, childInput, childId);
    return report ?? { phase: "failed", instanceId: childId, error: "publishLabel returned no result" };
  } catch (error) {
    return { phase: "failed", instanceId: childId, destination: publish.policy.destination, error: describeActivityError(error) };
  }
}

/** Writes the "failed" manifest (best effort) and publishes the failure in custom status. */
function* recordFailure(
  context: df.OrchestrationContext,
  input: SubmitDriverInput,
  status: StatusReporter,
  failure: SubmissionFailure,
  startedAt: string,
): Generator<df.Task, void, any> {
  const instanceId = context.df.instanceId;
  const known = status.known;
  const messages = failure.details.messages.map(redactSecrets);
  // An excerpt (getSubmissionStatus bounds it); the whole report is copied as a blob below.
  const errorReportText = failure.details.errorReportText !== undefined ? redactSecrets(failure.details.errorReportText) : undefined;
  const reason = redactSecrets(failure.reason);

  // Issue 29: only statuses recorded by code that sets hasErrorReport lead here, so histories written
  // before it replay the same actions (versions.ts). Best effort, like the manifest.
  let errorReportBlob: BlobLocation | undefined;
  if (failure.details.hasErrorReport && known.productId && known.submissionId) {
    // The excerpt stays in the manifest and status; a missing location shows the copy failed.
    const copied = yield* callActivityBestEffort(
      context,
      "copyErrorReport",
      { instanceId, productId: known.productId, submissionId: known.submissionId, package: input.package },
      input.retry,
    );
    errorReportBlob = copied?.errorReport;
  }

  // The orchestration fails either way; the manifest is a convenience, its absence shows in status.
  const manifestLocation = yield* callActivityBestEffort(
    context,
    "writeResultManifest",
    {
      instanceId,
      manifest: {
        outcome: "failed",
        instanceId,
        package: input.package,
        productId: known.productId,
        submissionId: known.submissionId,
        commitStatus: failure.details.commitStatus ?? known.commitStatus,
        currentStep: failure.details.currentStep ?? known.currentStep,
        state: failure.details.state ?? known.state,
        messages,
        errorReportText,
        ...(errorReportBlob ? { errorReportBlob } : {}),
        ...failure.result,
        reason: `${failure.stage}: ${reason}`,
        startedAt,
        finishedAt: context.df.currentUtcDateTime.toISOString(),
      },
    },
    input.retry,
  );

  status.report("failed", {
    commitStatus: failure.details.commitStatus ?? known.commitStatus,
    currentStep: failure.details.currentStep ?? known.currentStep,
    state: failure.details.state ?? known.state,
    messages: boundedMessages(messages),
    errorReportText,
    errorReportBlob,
    error: `${failure.stage}: ${reason}`,
    failureKind: failure.kind,
    nextPollAt: undefined,
    manifest: manifestLocation,
    ...failure.result,
  });
}

/** The exception text the orchestration fails with: stage, reason, Microsoft's messages, report excerpt. */
export function failureMessage(failure: SubmissionFailure): string {
  const parts = [`Driver submission failed at stage ${failure.stage}: ${truncate(redactSecrets(failure.reason), MAX_FAILURE_TEXT)}.`];
  if (failure.details.messages.length > 0) {
    parts.push(`Microsoft's messages: ${truncate(failure.details.messages.map(redactSecrets).join(" | "), MAX_ERROR_REPORT_IN_MESSAGE)}.`);
  }
  if (failure.details.errorReportText) {
    parts.push(`Error report: ${truncate(redactSecrets(failure.details.errorReportText), MAX_ERROR_REPORT_IN_MESSAGE)}`);
  }
  return parts.join(" ");
}

df.app.orchestration(ORCHESTRATOR_NAME, submitDriverOrchestration);
