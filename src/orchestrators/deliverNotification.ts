/**
 * Delivers one CloudEvent to one webhook: sendWebhook attempts spaced by durable timers (backoff),
 * in its own orchestration, so a receiver that is down or never answers delays no submission.
 * Ends Completed when delivered or dropped (the receiver is no longer configured, or the delivery
 * predates receiver ids: sendWebhook decides, never another receiver), Failed after the last attempt.
 *
 * Histories written before receiver ids (input `urlIndex`) replay unchanged: the activity input is
 * built from whichever key the input holds, so the recorded sendWebhook calls match.
 */
import * as df from "durable-functions";
import { DELIVER_NOTIFICATION, type DeliverNotificationInput } from "../notifications/queue";
import { addSeconds, retryDelaySeconds } from "./backoff";
import { describeActivityError } from "./activityCalls";
import { SEND_WEBHOOK, type SendWebhookInput, type SendWebhookOutput } from "../activities/contract";

export interface DeliveryStatus {
  eventId: string;
  subject: string;
  type: string;
  attempts: number;
  lastError?: string;
  nextAttemptAt?: string;
  delivered: boolean;
  httpStatus?: number;
  /** The receiver's id (absent for deliveries queued before ids). */
  receiver?: string;
  /** Not sent, and why (no URL): the receiver left the configured list. */
  dropped?: string;
}

export function* deliverNotificationOrchestration(context: df.OrchestrationContext): Generator<df.Task, DeliveryStatus, any> {
  const input = context.df.getInput<DeliverNotificationInput>();
  const maxAttempts = Math.max(1, Math.floor(input.retry.maxAttempts));
  const receiver = input.receiverId !== undefined ? { receiverId: input.receiverId } : { urlIndex: input.urlIndex };
  const status: DeliveryStatus = {
    eventId: input.event.id,
    subject: input.event.subject,
    type: input.event.type,
    attempts: 0,
    delivered: false,
    ...(input.receiverId !== undefined ? { receiver: input.receiverId } : {}),
  };
  for (let attempt = 1; ; attempt++) {
    status.attempts = attempt;
    context.df.setCustomStatus({ ...status });
    try {
      const sent: SendWebhookOutput = yield context.df.callActivity(SEND_WEBHOOK, { event: input.event, ...receiver } satisfies SendWebhookInput);
      const { lastError: _lastError, nextAttemptAt: _next, ...base } = status;
      const done: DeliveryStatus =
        sent.dropped !== undefined ? { ...base, attempts: attempt, dropped: sent.dropped } : { ...base, attempts: attempt, delivered: true, httpStatus: sent.httpStatus };
      context.df.setCustomStatus(done);
      return done;
    } catch (error) {
      status.lastError = describeActivityError(error);
      if (attempt >= maxAttempts) {
        context.df.setCustomStatus({ ...status, nextAttemptAt: undefined });
        throw new Error(`notification ${input.event.id} not delivered to webhook ${input.receiverId ?? `position ${(input.urlIndex ?? 0) + 1}`} after ${attempt} attempts: ${status.lastError}`);
      }
      const retryAt = addSeconds(context.df.currentUtcDateTime, retryDelaySeconds(attempt, input.retry));
      status.nextAttemptAt = retryAt.toISOString();
      context.df.setCustomStatus({ ...status });
      yield context.df.createTimer(retryAt);
    }
  }
}

df.app.orchestration(DELIVER_NOTIFICATION, deliverNotificationOrchestration);
