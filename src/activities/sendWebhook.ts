/**
 * One POST of a CloudEvent to the configured webhook whose id is `receiverId`: the body is the event's
 * JSON, signed with NOTIFY_WEBHOOK_SECRET (read here, so the secret never enters history). Only URLs
 * from the settings are called (validated there: https, or http to a loopback host); redirects are not
 * followed. A non-2xx answer, a network error or the timeout throws (the orchestration retries).
 * Error texts name the webhook by id and host, never by URL (incoming-webhook URLs carry tokens).
 *
 * A receiver no longer configured, and a delivery queued before receivers had ids (by position, which
 * the edited list may now give to another receiver), are dropped with a log line: never sent elsewhere.
 */
import type { AppConfig } from "../config";
import { SIGNATURE_HEADER, signatureOf } from "../notifications/cloudEvent";
import type { SendWebhookInput, SendWebhookOutput } from "./contract";

export async function sendWebhook(input: SendWebhookInput, config: AppConfig, log: (line: string) => void = () => undefined): Promise<SendWebhookOutput> {
  const drop = (why: string): SendWebhookOutput => {
    log(`sendWebhook: event ${input.event.id} dropped: ${why}`);
    return { dropped: why };
  };
  if (input.receiverId === undefined) {
    return drop(`queued for webhook position ${(input.urlIndex ?? -1) + 1} before receivers had ids; the list may have changed since, so it is not sent`);
  }
  const receiver = config.settings.NOTIFY_WEBHOOK_URLS.find((candidate) => candidate.id === input.receiverId);
  if (!receiver) return drop(`webhook ${input.receiverId} is no longer configured in NOTIFY_WEBHOOK_URLS`);
  const { url } = receiver;
  const name = `webhook ${receiver.id}`;
  const secret = config.settings.NOTIFY_WEBHOOK_SECRET;
  if (!secret) throw new Error("NOTIFY_WEBHOOK_SECRET is not set");
  const host = new URL(url).host;
  const body = JSON.stringify(input.event);
  const deadline = AbortSignal.timeout(config.settings.NOTIFY_TIMEOUT_SECONDS * 1000);
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      body,
      redirect: "manual",
      headers: {
        "content-type": "application/cloudevents+json; charset=utf-8",
        [SIGNATURE_HEADER]: signatureOf(body, secret),
        "user-agent": "driver-signing-notifications/1",
      },
      signal: deadline,
    });
  } catch (error) {
    const reason = deadline.aborted
      ? `no answer within ${config.settings.NOTIFY_TIMEOUT_SECONDS} s`
      : ((error as { cause?: { code?: string } }).cause?.code ?? "network error");
    throw new Error(`${name} (${host}): ${reason}`);
  }
  await response.body?.cancel().catch(() => undefined);
  if (response.status < 200 || response.status > 299) throw new Error(`${name} (${host}) answered HTTP ${response.status}`);
  return { httpStatus: response.status };
}
