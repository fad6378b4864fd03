/**
 * The orchestrators' side of notifications: one quick activity call that queues the delivery
 * (src/functions/notifications.ts starts a separate deliverNotification orchestration per URL) and
 * returns. It never fails the caller: a notification problem must not change a submission's outcome.
 */
import type * as df from "durable-functions";
import { addSeconds } from "./backoff";
import { QUEUE_NOTIFICATION, type QueueNotificationInput } from "../activities/contract";

/** Queueing only starts orchestrations; a storage hiccup gets two more tries, 5 and 10 s later. */
const QUEUE_ATTEMPTS = 3;

/** Only when the trigger saw webhooks configured (`input.notify`): histories without it replay unchanged. */
export function* queueNotificationBestEffort(
  context: df.OrchestrationContext,
  input: { notify?: boolean },
  event: QueueNotificationInput["event"],
): Generator<df.Task, void, any> {
  if (!input.notify) return;
  const payload: QueueNotificationInput = { instanceId: context.df.instanceId, event };
  for (let attempt = 1; attempt <= QUEUE_ATTEMPTS; attempt++) {
    try {
      yield context.df.callActivity(QUEUE_NOTIFICATION, payload);
      return;
    } catch {
      // The activity logged it (a warning); the submission's own outcome stands whatever happens here.
      if (attempt < QUEUE_ATTEMPTS) yield context.df.createTimer(addSeconds(context.df.currentUtcDateTime, 5 * attempt));
    }
  }
}
