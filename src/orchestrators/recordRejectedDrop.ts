/**
 * A dropped package the trigger refused (wrong extension, empty, invalid sidecar) becomes a tiny
 * orchestration under the package version's own instance id: it publishes {stage: "rejected",
 * package, reason, manifest} and completes, so GET /api/submissions and /api/submissions/{id} show
 * the rejection beside real submissions. Nothing is submitted to Microsoft.
 */
import * as df from "durable-functions";
import type { Owner } from "../domain/authorization";
import type { BlobLocation, PackageRef, RejectedDropStatus } from "../domain/types";
import { truncate } from "./customStatus";
import { queueNotificationBestEffort } from "./notify";

import { REJECTED_DROP_NAME } from "./versions";

export const RECORD_REJECTED_DROP = REJECTED_DROP_NAME;
/** The reason is our own text, but it quotes blob and sidecar names: bounded for custom status. */
const MAX_REASON = 2000;

export interface RecordRejectedDropInput {
  package: PackageRef;
  reason: string;
  manifest?: BlobLocation;
  notify?: boolean;
  /**
   * Whose drop it was, when known (the upload URL's caller or the DROP_OWNERS owner): they may read the
   * rejection like their runs (issue 32). Read by the HTTP views only; the orchestration never does.
   */
  owner?: Owner;
}

export interface RejectedDropSummary {
  outcome: "rejected";
  package: PackageRef;
  reason: string;
  manifest?: BlobLocation;
}

export function* recordRejectedDropOrchestration(context: df.OrchestrationContext): Generator<df.Task, RejectedDropSummary, any> {
  const input = context.df.getInput<RecordRejectedDropInput>();
  const reason = truncate(input.reason, MAX_REASON);
  const status: RejectedDropStatus = {
    stage: "rejected",
    package: input.package,
    reason,
    ...(input.manifest ? { manifest: input.manifest } : {}),
    updatedAt: context.df.currentUtcDateTime.toISOString(),
  };
  context.df.setCustomStatus(status);
  yield* queueNotificationBestEffort(context, input, "rejected");
  return { outcome: "rejected", package: input.package, reason, ...(input.manifest ? { manifest: input.manifest } : {}) };
}

df.app.orchestration(RECORD_REJECTED_DROP, recordRejectedDropOrchestration);
