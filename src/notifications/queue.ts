/**
 * Queues the delivery of one event to every configured webhook: one deliverNotification
 * orchestration per receiver, under an id derived from the event id and the receiver's stable id,
 * so a queueing that runs twice (activity retry, replay, a cancel clicked twice) starts each
 * delivery once, and a delivery stays with its receiver when the list is edited meanwhile.
 */
import type { AppConfig } from "../config";
import { findInstance, startOrFindRunning, type SubmissionsClient } from "../instances/durableClient";
import type { SubmissionView } from "../domain/submissionView";
import { type ApprovalCloudEvent, buildCloudEvent, deliveryInstanceId, type NotificationEvent, type SubmissionCloudEvent } from "./cloudEvent";
import type { ActivityRetryPolicy } from "../domain/types";

export const DELIVER_NOTIFICATION = "deliverNotification";

export interface DeliverNotificationInput {
  event: SubmissionCloudEvent | ApprovalCloudEvent;
  /** The receiver's stable id (src/domain/webhookReceivers.ts): the URL (it may carry a token) never enters history. */
  receiverId?: string;
  /**
   * Inputs written before receivers had ids: a position in NOTIFY_WEBHOOK_URLS. The list may have
   * changed since, so sendWebhook drops such a delivery instead of guessing (never sends elsewhere).
   */
  urlIndex?: number;
  retry: ActivityRetryPolicy;
}

export function notificationRetryPolicy(config: AppConfig): ActivityRetryPolicy {
  const s = config.settings;
  return {
    maxAttempts: s.NOTIFY_MAX_ATTEMPTS,
    firstRetryIntervalSeconds: s.NOTIFY_RETRY_FIRST_SECONDS,
    backoffCoefficient: 2,
    maxRetryIntervalSeconds: s.NOTIFY_RETRY_MAX_SECONDS,
  };
}

export const notificationsConfigured = (config: AppConfig): boolean => config.settings.NOTIFY_WEBHOOK_URLS.length > 0;

/** Returns the delivery instance ids started now (empty when none is configured or all already exist). */
export async function queueNotifications(
  client: SubmissionsClient,
  config: AppConfig,
  view: SubmissionView,
  event: NotificationEvent,
  time: string,
): Promise<string[]> {
  if (!notificationsConfigured(config)) return [];
  return queueCloudEvent(client, config, buildCloudEvent(view, event, time));
}

/** Starts one delivery per configured receiver for an event already built (once each, by event id and receiver id). */
export async function queueCloudEvent(client: SubmissionsClient, config: AppConfig, cloudEvent: SubmissionCloudEvent | ApprovalCloudEvent): Promise<string[]> {
  if (!notificationsConfigured(config)) return [];
  const started: string[] = [];
  for (const receiver of config.settings.NOTIFY_WEBHOOK_URLS) {
    const id = deliveryInstanceId(cloudEvent.id, receiver.id);
    if (await findInstance(client, id)) continue;
    const input: DeliverNotificationInput = { event: cloudEvent, receiverId: receiver.id, retry: notificationRetryPolicy(config) };
    const result = await startOrFindRunning(client, DELIVER_NOTIFICATION, id, input);
    if (result.started) started.push(id);
  }
  return started;
}
