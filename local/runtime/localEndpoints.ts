/**
 * Local-only endpoints on the runtime port (never part of the deployed app):
 *   GET  /_local/health                 → { ready, functions }
 *   POST /_local/eventgrid              → deliver an Event Grid event (or array) to the app's
 *                                          eventGrid-trigger functions, as Event Grid would (replay)
 *   GET  /_local/eventgrid/deliveries   → the watcher's delivery ledger (events included)
 * The two Event Grid routes need the eventgrid_extension system key (or the master key), like the
 * host's /runtime/webhooks/eventgrid: 401 with an empty body otherwise.
 */
import type * as http from "node:http";
import type { EventGridEvent, DeliveryRecord } from "./eventGridWatcher";
import { WEBHOOK_BODY_LIMITS } from "../../src/domain/requestLimits";
import { readBodyAtMost, sendTooLarge } from "../http/bodyLimits";
import { sendJson, sendUnauthorized, type RawHandler } from "./httpFront";

export interface LocalEndpointsOptions {
  functions: () => string[];
  deliverEvent: (event: EventGridEvent) => Promise<void>;
  deliveries: () => DeliveryRecord[];
  /** Whether the request carries the eventgrid_extension system key (or the master key). */
  eventGridAuthorized: (req: http.IncomingMessage, url: URL) => boolean;
}

export function createLocalEndpoints(options: LocalEndpointsOptions): RawHandler {
  return async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const pathname = url.pathname.replace(/\/+$/, "");
    if (!pathname.startsWith("/_local/")) return false;
    const method = req.method ?? "GET";
    if (pathname.startsWith("/_local/eventgrid") && !options.eventGridAuthorized(req, url)) {
      sendUnauthorized(res);
      return true;
    }

    if (pathname === "/_local/health" && method === "GET") {
      sendJson(res, 200, { ready: true, functions: options.functions() });
    } else if (pathname === "/_local/eventgrid/deliveries" && method === "GET") {
      sendJson(res, 200, options.deliveries());
    } else if (pathname === "/_local/eventgrid" && method === "POST") {
      // Bounded like the real webhook: Event Grid never delivers more than 1 MB.
      const limit = WEBHOOK_BODY_LIMITS.eventGrid.bytes;
      const read = await readBodyAtMost(req, limit);
      if (!read.ok) {
        sendTooLarge(res, limit);
        return true;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(read.body.toString("utf8"));
      } catch {
        sendJson(res, 400, { error: "invalid Event Grid delivery", fields: [{ field: "body", reason: "must be JSON: an event or an array of events" }] });
        return true;
      }
      const events = Array.isArray(parsed) ? parsed : [parsed];
      // Event Grid itself refuses events that do not follow its schema, so the app never sees them.
      const problems = events.flatMap((event, index) => eventSchemaProblems(event, Array.isArray(parsed) ? `[${index}].` : ""));
      if (problems.length > 0) {
        sendJson(res, 400, { error: "invalid Event Grid delivery", fields: problems });
        return true;
      }
      for (const event of events as EventGridEvent[]) await options.deliverEvent(event);
      sendJson(res, 200, { delivered: events.length });
    } else {
      sendJson(res, 404, { error: `No local endpoint ${method} ${pathname}` });
    }
    return true;
  };
}

/** The Event Grid schema's required members: id, subject, eventType, eventTime, dataVersion (strings) and data. */
export function eventSchemaProblems(event: unknown, prefix = ""): { field: string; reason: string }[] {
  if (event === null || typeof event !== "object" || Array.isArray(event)) return [{ field: `${prefix}event`, reason: "must be a JSON object" }];
  const record = event as Record<string, unknown>;
  const problems: { field: string; reason: string }[] = [];
  for (const name of ["id", "subject", "eventType", "eventTime"]) {
    if (typeof record[name] !== "string" || record[name] === "") problems.push({ field: `${prefix}${name}`, reason: record[name] === undefined ? "is required" : "must be a non-empty string" });
  }
  if (record.dataVersion !== undefined && typeof record.dataVersion !== "string") problems.push({ field: `${prefix}dataVersion`, reason: "must be a string" });
  if (record.data === null || typeof record.data !== "object" || Array.isArray(record.data)) {
    problems.push({ field: `${prefix}data`, reason: record.data === undefined ? "is required" : "must be a JSON object" });
  }
  return problems;
}
