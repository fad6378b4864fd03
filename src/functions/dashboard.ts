/**
 * GET /api/dashboard: the operators' page, behind the same credential as the API. Serves only the
 * static shell and its script, with the caller (and so the auth mode) rendered in by the server:
 * on function keys the script reads the key from ?code=, drops it from the address bar and sends
 * it; under Entra ID the browser's sign-in session cookie carries its calls (same origin, no key).
 * Either way the page shows exactly what GET /api/submissions(/{id}) returns.
 */
import { randomBytes } from "node:crypto";
import { app, type HttpResponseInit } from "@azure/functions";
import { dashboardHeaders, dashboardHtml } from "../dashboard/page";
import { bodyLimited } from "./requestBody";
import { HTTP_AUTH_LEVEL } from "./callerGate";
import { callerOf } from "../identity/caller";
import type { Caller } from "../domain/principal";

export function handleDashboard(caller?: Caller, pagePath = "/api/dashboard"): HttpResponseInit {
  const nonce = randomBytes(16).toString("base64");
  return { status: 200, headers: dashboardHeaders(nonce), body: dashboardHtml(nonce, caller, pagePath) };
}

app.http("dashboard", {
  route: "dashboard",
  methods: ["GET"],
  authLevel: HTTP_AUTH_LEVEL,
  handler: bodyLimited("dashboard", "dashboard.view", async (request, context) => handleDashboard(callerOf(context), new URL(request.url).pathname)),
});
