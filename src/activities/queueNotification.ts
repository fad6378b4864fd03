/**
 * Reads the submission's view and starts one deliverNotification orchestration per configured
 * webhook (src/notifications/queue.ts). Quick: it never waits for a receiver.
 */
import type { AppConfig } from "../config";
import { findInstance, type SubmissionsClient } from "../instances/durableClient";
import { toSubmissionView } from "../domain/submissionView";
import { queueNotifications } from "../notifications/queue";
import type { QueueNotificationInput } from "./contract";

export async function queueNotification(input: QueueNotificationInput, client: SubmissionsClient, config: AppConfig): Promise<string[]> {
  const status = await findInstance(client, input.instanceId);
  if (!status) throw new Error(`no instance ${input.instanceId} to notify about`);
  // Queued as the orchestrator's last action, so the instance still says Running: show it as it ends.
  const endsAs = input.event === "failed" ? "Failed" : input.event === "succeeded" || input.event === "rejected" ? "Completed" : undefined;
  const view = toSubmissionView(endsAs ? ({ ...status, runtimeStatus: endsAs } as typeof status) : status);
  // The time the terminal stage was reached (orchestration time), so a re-run builds the same event.
  const time = view.stageHistory[view.stageHistory.length - 1]?.at ?? view.lastUpdatedTime ?? new Date().toISOString();
  return queueNotifications(client, config, view, input.event, time);
}
