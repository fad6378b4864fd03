/**
 * Delivers one CloudEvent to one webhook: sendWebhook attempts spaced by durable timers (backoff),
 * in its own orchestration, so a receiver that is down or never answers delays no submission.
 * Ends Completed when delivered, Failed after the last attempt.
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
}

export function* deliverNotificationOrchestration(context: df.OrchestrationContext): Generator<df.Task, DeliveryStatus, any> {
  const input = context.df.getInput<DeliverNotificationInput>();
  const maxAttempts = Math.max(1, Math.floor(input.retry.maxAttempts));
  const status: DeliveryStatus = { eventId: input.event.id, subject: input.event.subject, type: input.event.type, attempts: 0, delivered: false };
  for (let attempt = 1; ; attempt++) {
    status.attempts = attempt;
    context.df.setCustomStatus({ ...status });
    try {
      const sent: SendWebhookOutput = yield context.df.callActivity(SEND_WEBHOOK, { event: input.event, urlIndex: input.urlIndex } satisfies SendWebhookInput);
      const done: DeliveryStatus = { eventId: status.eventId, subject: status.subject, type: status.type, attempts: attempt, delivered: true, httpStatus: sent.httpStatus };
      context.df.setCustomStatus(done);
      return done;
    } catch (error) {
      status.lastError = describeActivityError(error);
      if (attempt >= maxAttempts) {
        context.df.setCustomStatus({ ...status, nextAttemptAt: undefined });
        throw new Error(`notification ${input.event.id} not delivered to webhook ${input.urlIndex + 1} after ${attempt} attempts: ${status.lastError}`);
      }
      const retryAt = addSeconds(context.df.currentUtcDateTime, retryDelaySeconds(attempt, input.retry));
      status.nextAttemptAt = retryAt.toISOString();
      context.df.setCustomStatus({ ...status });
      yield context.df.createTimer(retryAt);
    }
  }
}

df.app.orchestration(DELIVER_NOTIFICATION, deliverNotificationOrchestration);
