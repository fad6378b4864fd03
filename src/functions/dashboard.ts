/**
 * GET /api/dashboard: the operators' page (function key, like the API). Serves only the static shell
 * and its script; the script reads the key from ?code=, drops it from the address bar and calls the
 * JSON API, so the page shows exactly what GET /api/submissions(/{id}) returns.
 */
import { randomBytes } from "node:crypto";
import { app, type HttpResponseInit } from "@azure/functions";
import { dashboardHeaders, dashboardHtml } from "../dashboard/page";
import { bodyLimited } from "./requestBody";
import { HTTP_AUTH_LEVEL } from "./callerGate";
import { callerOf } from "../identity/caller";
import type { Caller } from "../domain/principal";

export function handleDashboard(caller?: Caller): HttpResponseInit {
  const nonce = randomBytes(16).toString("base64");
  return { status: 200, headers: dashboardHeaders(nonce), body: dashboardHtml(nonce, caller) };
}

app.http("dashboard", {
  route: "dashboard",
  methods: ["GET"],
  authLevel: HTTP_AUTH_LEVEL,
  handler: bodyLimited("dashboard", "dashboard.view", async (_request, context) => handleDashboard(callerOf(context))),
});
