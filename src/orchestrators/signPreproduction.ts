/**
 * The signPreproduction orchestration (issue 40): authenticate → send the package as a preprod
 * package → wait on durable timers for signingStatus → download the SignedFilesZip (contentHash
 * checked) → write the result manifest. A run of its own beside submitDriver, so submitDriver's
 * histories replay untouched (versions.ts).
 *
 * Pure like submitDriver: no I/O, no clock but context.df.currentUtcDateTime, policies from the input.
 */
import * as df from "durable-functions";
import {
  SIGN_PREPRODUCTION_ORCHESTRATOR,
  type GetPreprodStatusOutput,
  type PreprodCarry,
  type SignPreproductionInput,
} from "../activities/contract";
import type { BlobLocation, FailureKind, ResultManifest } from "../domain/types";
import { roundKey } from "../domain/instanceId";
import { redactSecrets } from "../domain/redact";
import { ActivityFailure, callActivity, callActivityBestEffort, describeActivityError, MAX_FAILURE_TEXT } from "./activityCalls";
import { addMinutes, firstPollIntervalSeconds, nextPollIntervalSeconds, nextPollTime } from "./backoff";
import { StatusReporter, truncate } from "./customStatus";
import { queueNotificationBestEffort } from "./notify";

/** A preprod run's end, with what Microsoft said. */
class PreprodFailure extends Error {
  constructor(
    readonly reason: string,
    readonly kind: FailureKind,
    readonly status?: GetPreprodStatusOutput,
  ) {
    super(reason);
    this.name = "PreprodFailure";
  }
}

export interface SignPreproductionSummary {
  outcome: "succeeded";
  signing: "preproduction";
  instanceId: string;
  package: SignPreproductionInput["package"];
  preprodPackageId: string;
  signedPackage: BlobLocation;
  contentHash: string;
  manifest: BlobLocation;
  pollCount: number;
  generation: number;
  startedAt: string;
  finishedAt: string;
}

export function* signPreproductionOrchestration(
  context: df.OrchestrationContext,
): Generator<df.Task, SignPreproductionSummary | undefined, any> {
  const input = context.df.getInput<SignPreproductionInput>();
  const instanceId = context.df.instanceId;
  const status = new StatusReporter(context, input.package, input.carry?.stageHistory);
  const startedAt = input.carry?.startedAt ?? context.df.currentUtcDateTime.toISOString();
  const signing = { signing: "preproduction" as const };

  let packageId = input.carry?.packageId;
  let lastStatus = input.carry?.signingStatus;
  let pollCount = input.carry?.pollCount ?? 0;
  try {
    let carry: PreprodCarry;
    if (input.carry) {
      carry = input.carry;
    } else {
      status.report("queued", signing);
      status.report("authenticating", signing);
      yield* callActivity(context, "authenticate", { instanceId }, input.retry);
      status.report("uploading", signing);
      const uploaded = yield* callActivity(
        context,
        "uploadPreprodPackage",
        // Per round: a re-post after a failed run sends a new package; a retry of this round never does.
        { instanceId: roundKey(instanceId, input.round), package: input.package },
        input.retry,
      );
      packageId = uploaded.packageId;
      lastStatus = uploaded.signingStatus;
      carry = {
        packageId,
        startedAt,
        deadline: addMinutes(context.df.currentUtcDateTime, input.polling.deadlineMinutes).toISOString(),
        pollCount: 0,
        generation: 0,
        intervalSeconds: firstPollIntervalSeconds(input.polling),
        ...(lastStatus ? { signingStatus: lastStatus } : {}),
      };
    }
    status.report("waitingForMicrosoft", { ...signing, preprodPackageId: carry.packageId, signingStatus: carry.signingStatus, deadline: carry.deadline, pollCount: carry.pollCount });

    // Wait: durable timers between reads; unknown statuses keep waiting until the deadline.
    const deadline = new Date(carry.deadline);
    let pollsThisGeneration = 0;
    for (;;) {
      const pollAt = nextPollTime(context.df.currentUtcDateTime, carry.intervalSeconds, deadline);
      status.report("waitingForMicrosoft", { pollCount: carry.pollCount, nextPollAt: pollAt.toISOString() });
      yield context.df.createTimer(pollAt);
      const latest = yield* callActivity(context, "getPreprodStatus", { instanceId, packageId: carry.packageId, package: input.package }, input.retry);
      pollsThisGeneration += 1;
      carry = {
        ...carry,
        pollCount: carry.pollCount + 1,
        intervalSeconds: nextPollIntervalSeconds(carry.intervalSeconds, input.polling),
        ...(latest.signingStatus ? { signingStatus: latest.signingStatus } : {}),
      };
      pollCount = carry.pollCount;
      lastStatus = carry.signingStatus;
      status.report("waitingForMicrosoft", { signingStatus: latest.signingStatus, pollCount: carry.pollCount, nextPollAt: undefined });
      if (latest.phase === "failed") throw new PreprodFailure(`Microsoft's preproduction signing failed (signingStatus ${latest.signingStatus ?? "Failed"})`, "microsoft", latest);
      if (latest.phase === "succeeded") break;
      if (context.df.currentUtcDateTime.getTime() >= deadline.getTime()) {
        throw new PreprodFailure(`deadline ${carry.deadline} passed after ${carry.pollCount} polls; signingStatus was still ${latest.signingStatus ?? "(none)"}`, "deadline");
      }
      if (pollsThisGeneration >= input.polling.pollsPerGeneration) {
        context.df.continueAsNew({ ...input, carry: { ...carry, generation: carry.generation + 1, stageHistory: status.history } } satisfies SignPreproductionInput);
        return undefined;
      }
    }

    status.report("downloadingSignedPackage", { nextPollAt: undefined });
    const downloaded = yield* callActivity(context, "downloadPreprodSigned", { instanceId, packageId: carry.packageId, package: input.package }, input.retry);
    status.report("downloadingSignedPackage", { signedPackage: downloaded.signedPackage });
    const finishedAt = context.df.currentUtcDateTime.toISOString();
    const manifest: ResultManifest = {
      outcome: "succeeded",
      instanceId,
      package: input.package,
      ...signing,
      preprodPackageId: carry.packageId,
      signingStatus: carry.signingStatus,
      signedPackage: downloaded.signedPackage,
      contentHash: downloaded.contentHash,
      messages: [],
      startedAt,
      finishedAt,
    };
    const manifestLocation = yield* callActivity(context, "writeResultManifest", { instanceId, manifest }, input.retry);
    status.report("succeeded", { manifest: manifestLocation });
    yield* queueNotificationBestEffort(context, input, "succeeded");
    return {
      outcome: "succeeded",
      ...signing,
      instanceId,
      package: input.package,
      preprodPackageId: carry.packageId,
      signedPackage: downloaded.signedPackage,
      contentHash: downloaded.contentHash,
      manifest: manifestLocation,
      pollCount: carry.pollCount,
      generation: carry.generation,
      startedAt,
      finishedAt,
    };
  } catch (error) {
    const failure =
      error instanceof PreprodFailure
        ? error
        : new PreprodFailure(error instanceof ActivityFailure ? error.message : describeActivityError(error), "activity");
    const stage = status.stage;
    const reason = truncate(redactSecrets(failure.reason), MAX_FAILURE_TEXT);
    const errorReportText = failure.status?.errorExcerpt;
    const errorReportBlob = failure.status?.errorMessageBlob;
    // Best effort, as for submissions: the failure stands in custom status either way.
    const manifestLocation = yield* callActivityBestEffort(
      context,
      "writeResultManifest",
      {
        instanceId,
        manifest: {
          outcome: "failed",
          instanceId,
          package: input.package,
          ...signing,
          ...(packageId ? { preprodPackageId: packageId } : {}),
          ...(lastStatus ? { signingStatus: lastStatus } : {}),
          messages: [],
          ...(errorReportText ? { errorReportText } : {}),
          ...(errorReportBlob ? { errorReportBlob } : {}),
          reason: `${stage}: ${reason}`,
          startedAt,
          finishedAt: context.df.currentUtcDateTime.toISOString(),
        },
      },
      input.retry,
    );
    status.report("failed", {
      error: `${stage}: ${reason}`,
      failureKind: failure.kind,
      nextPollAt: undefined,
      pollCount,
      ...(errorReportText ? { errorReportText } : {}),
      ...(errorReportBlob ? { errorReportBlob } : {}),
      ...(manifestLocation ? { manifest: manifestLocation } : {}),
    });
    yield* queueNotificationBestEffort(context, input, "failed");
    const excerpt = errorReportText ? ` Microsoft's message: ${truncate(errorReportText, 500)}` : "";
    throw new Error(`Preproduction signing failed at stage ${stage}: ${reason}.${excerpt}`);
  }
}

df.app.orchestration(SIGN_PREPRODUCTION_ORCHESTRATOR, signPreproductionOrchestration);
