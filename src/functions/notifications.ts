/** Registers the two notification activities; the orchestrations live in src/orchestrators. */
import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { getConfig } from "../config";
import { queueNotification } from "../activities/queueNotification";
import { sendWebhook } from "../activities/sendWebhook";
import { QUEUE_NOTIFICATION, SEND_WEBHOOK, type QueueNotificationInput, type SendWebhookInput } from "../activities/contract";
import { toSafeActivityError } from "../activities/errors";
import { redactSecrets } from "../domain/redact";
import { durableClientFor } from "../instances/durableClient";
import "../orchestrators/deliverNotification";
import "../orchestrators/recordRejectedDrop";

df.app.activity(QUEUE_NOTIFICATION, {
  extraInputs: [df.input.durableClient()],
  handler: async (input: unknown, context: InvocationContext) => {
    try {
      const started = await queueNotification(input as QueueNotificationInput, durableClientFor(context), getConfig());
      context.log(`queueNotification: ${started.length} delivery orchestration(s) started`);
      return started;
    } catch (error) {
      // Redacted like every activity's failure: the text lands in history (the orchestrator's retries log nothing).
      const safe = toSafeActivityError(error);
      context.warn(`queueNotification: ${safe.message}`);
      throw safe;
    }
  },
});

df.app.activity(SEND_WEBHOOK, {
  handler: async (input: unknown, context: InvocationContext) => {
    try {
      return await sendWebhook(input as SendWebhookInput, getConfig(), (line) => context.warn(redactSecrets(line)));
    } catch (error) {
      const message = redactSecrets(error instanceof Error ? error.message : String(error));
      context.warn(`sendWebhook: ${message}`);
      throw new Error(message);
    }
  },
});
