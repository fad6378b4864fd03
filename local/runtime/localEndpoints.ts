/**
 * Local-only endpoints on the runtime port (never part of the deployed app):
 *   GET  /_local/health                 → { ready, functions }
 *   POST /_local/eventgrid              → deliver an Event Grid event (or array) to the app's
 *                                          eventGrid-trigger functions, as Event Grid would (replay)
 *   GET  /_local/eventgrid/deliveries   → the watcher's delivery ledger (events included)
 */
import type * as http from "node:http";
import type { EventGridEvent, DeliveryRecord } from "./eventGridWatcher";
import { readBody, sendJson, type RawHandler } from "./httpFront";

export interface LocalEndpointsOptions {
  functions: () => string[];
  deliverEvent: (event: EventGridEvent) => Promise<void>;
  deliveries: () => DeliveryRecord[];
}

export function createLocalEndpoints(options: LocalEndpointsOptions): RawHandler {
  return async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const pathname = new URL(req.url ?? "/", "http://127.0.0.1").pathname.replace(/\/+$/, "");
    if (!pathname.startsWith("/_local/")) return false;
    const method = req.method ?? "GET";

    if (pathname === "/_local/health" && method === "GET") {
      sendJson(res, 200, { ready: true, functions: options.functions() });
    } else if (pathname === "/_local/eventgrid/deliveries" && method === "GET") {
      sendJson(res, 200, options.deliveries());
    } else if (pathname === "/_local/eventgrid" && method === "POST") {
      const parsed: unknown = JSON.parse((await readBody(req)).toString("utf8") || "[]");
      const events = (Array.isArray(parsed) ? parsed : [parsed]) as EventGridEvent[];
      for (const event of events) await options.deliverEvent(event);
      sendJson(res, 200, { delivered: events.length });
    } else {
      sendJson(res, 404, { error: `No local endpoint ${method} ${pathname}` });
    }
    return true;
  };
}
