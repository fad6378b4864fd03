/**
 * Reads the submission's view and starts one deliverNotification orchestration per configured
 * webhook (src/notifications/queue.ts). Quick: it never waits for a receiver.
 */
import type { AppConfig } from "../config";
import { findInstance, type SubmissionsClient } from "../instances/durableClient";
import { toSubmissionView } from "../domain/submissionView";
import { queueCloudEvent, queueNotifications } from "../notifications/queue";
import { buildApprovalCloudEvent, isApprovalNotificationEvent } from "../notifications/cloudEvent";
import type { LabelReport } from "../domain/types";
import type { QueueNotificationInput } from "./contract";

export async function queueNotification(input: QueueNotificationInput, client: SubmissionsClient, config: AppConfig): Promise<string[]> {
  const status = await findInstance(client, input.instanceId);
  if (!status) throw new Error(`no instance ${input.instanceId} to notify about`);
  if (isApprovalNotificationEvent(input.event)) {
    // A publishLabel run (issue 34): the event is built from its label block as the orchestrator just set it.
    const custom = (status.customStatus ?? {}) as { parentInstanceId?: string; label?: LabelReport };
    if (!custom.label?.approval || !custom.parentInstanceId) throw new Error(`label run ${input.instanceId} shows no approval to notify about`);
    return queueCloudEvent(client, config, buildApprovalCloudEvent(custom.parentInstanceId, input.instanceId, custom.label, input.event));
  }
  const event = input.event;
  // Queued as the orchestrator's last action, so the instance still says Running: show it as it ends.
  const endsAs = event === "failed" ? "Failed" : event === "succeeded" || event === "rejected" ? "Completed" : undefined;
  const view = toSubmissionView(endsAs ? ({ ...status, runtimeStatus: endsAs } as typeof status) : status);
  // The time the terminal stage was reached (orchestration time), so a re-run builds the same event.
  const time = view.stageHistory[view.stageHistory.length - 1]?.at ?? view.lastUpdatedTime ?? new Date().toISOString();
  return queueNotifications(client, config, view, event, time);
}
