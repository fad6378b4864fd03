/**
 * The orchestrators' side of notifications: one quick activity call that queues the delivery
 * (src/functions/notifications.ts starts a separate deliverNotification orchestration per URL) and
 * returns. It never fails the caller: a notification problem must not change a submission's outcome.
 */
import * as df from "durable-functions";
import type { NotificationEvent } from "../notifications/cloudEvent";

export const QUEUE_NOTIFICATION = "queueNotification";

export interface QueueNotificationInput {
  instanceId: string;
  event: NotificationEvent;
}

/** Only when the trigger saw webhooks configured (`input.notify`): histories without it replay unchanged. */
export function* queueNotificationBestEffort(
  context: df.OrchestrationContext,
  input: { notify?: boolean },
  event: NotificationEvent,
): Generator<df.Task, void, any> {
  if (!input.notify) return;
  const payload: QueueNotificationInput = { instanceId: context.df.instanceId, event };
  try {
    yield context.df.callActivityWithRetry(QUEUE_NOTIFICATION, new df.RetryOptions(5000, 3), payload);
  } catch {
    // Logged by the activity; the submission's own outcome stands.
  }
}
