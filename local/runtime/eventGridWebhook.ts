/**
 * The host's Event Grid webhook, the URL an Event Grid subscription in Azure delivers to:
 *   POST /runtime/webhooks/eventgrid?functionName=<name>&code=<eventgrid_extension system key>
 * with an Event Grid schema event array and an `aeg-event-type` header:
 *   SubscriptionValidation → 200 {"validationResponse": <data.validationCode>} (the handshake; no function runs)
 *   Notification           → each event to the function; 202 when all succeeded, 500 otherwise (Event Grid retries)
 *   Unsubscribe            → 202
 * Without a valid key: 401 (empty body); unknown function: 404; other header or a bad body: 400;
 * a body over Event Grid's 1 MB: 413, refused before more than that is read.
 */
import type * as http from "node:http";
import type { EventGridEvent } from "./eventGridWatcher";
import { WEBHOOK_BODY_LIMITS } from "../../src/domain/requestLimits";
import { readBodyAtMost, sendTooLarge } from "../http/bodyLimits";
import { sendJson, sendUnauthorized, type RawHandler } from "./httpFront";
import { eventSchemaProblems } from "./localEndpoints";

export const EVENTGRID_WEBHOOK_PATH = "/runtime/webhooks/eventgrid";
const VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent";

export interface EventGridWebhookOptions {
  /** Names of the app's eventGrid-trigger functions. */
  functions: () => string[];
  deliverTo: (functionName: string, event: EventGridEvent) => Promise<void>;
  authorized: (req: http.IncomingMessage, url: URL) => boolean;
  log?: (line: string) => void;
}

export function createEventGridWebhook(options: EventGridWebhookOptions): RawHandler {
  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname.replace(/\/+$/, "").toLowerCase() !== EVENTGRID_WEBHOOK_PATH) return false;
    if (!options.authorized(req, url)) {
      sendUnauthorized(res);
      return true;
    }
    if (req.method !== "POST") {
      res.setHeader("Allow", "POST");
      sendJson(res, 405, { error: `${req.method} is not allowed on ${EVENTGRID_WEBHOOK_PATH}` });
      return true;
    }
    const requested = url.searchParams.get("functionName") ?? "";
    const functionName = options.functions().find((name) => name.toLowerCase() === requested.toLowerCase());
    if (!functionName) {
      sendJson(res, 404, { error: requested ? `No eventGrid-trigger function named "${requested}"` : "functionName query parameter is required" });
      return true;
    }

    const eventType = String(req.headers["aeg-event-type"] ?? "");
    const limit = WEBHOOK_BODY_LIMITS.eventGrid.bytes;
    const read = await readBodyAtMost(req, limit);
    if (!read.ok) {
      sendTooLarge(res, limit);
      return true;
    }
    const text = read.body.toString("utf8");
    let parsed: unknown;
    try {
      parsed = text.trim() === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const events = Array.isArray(parsed) ? parsed : parsed === undefined ? [] : [parsed];

    if (eventType.toLowerCase() === "subscriptionvalidation") {
      const first = events[0] as { eventType?: unknown; data?: { validationCode?: unknown } } | undefined;
      const code = first?.eventType === VALIDATION_EVENT ? first.data?.validationCode : undefined;
      if (typeof code !== "string" || code === "") {
        sendJson(res, 400, { error: "invalid subscription validation", fields: [{ field: "[0].data.validationCode", reason: `is required in a ${VALIDATION_EVENT}` }] });
      } else {
        sendJson(res, 200, { validationResponse: code });
      }
      return true;
    }
    if (eventType.toLowerCase() === "unsubscribe") {
      res.writeHead(202, { "content-length": 0 }).end();
      return true;
    }
    if (eventType.toLowerCase() !== "notification") {
      sendJson(res, 400, { error: "invalid Event Grid delivery", fields: [{ field: "aeg-event-type", reason: "must be Notification, SubscriptionValidation or Unsubscribe" }] });
      return true;
    }
    if (events.length === 0) {
      sendJson(res, 400, { error: "invalid Event Grid delivery", fields: [{ field: "body", reason: "must be a JSON array of Event Grid events" }] });
      return true;
    }
    const problems = events.flatMap((event, index) => eventSchemaProblems(event, `[${index}].`));
    if (problems.length > 0) {
      sendJson(res, 400, { error: "invalid Event Grid delivery", fields: problems });
      return true;
    }
    let failed = 0;
    for (const event of events as EventGridEvent[]) {
      try {
        await options.deliverTo(functionName, event);
      } catch (error) {
        failed++;
        options.log?.(`Event Grid webhook: ${functionName} failed on event ${event.id}: ${(error as Error).message}`);
      }
    }
    if (failed > 0) sendJson(res, 500, { error: `${failed} of ${events.length} events failed in ${functionName}` });
    else res.writeHead(202, { "content-length": 0 }).end();
    return true;
  };
}
