/**
 * Who may call: every HTTP function is registered through `bodyLimited` (requestBody.ts), which
 * runs this gate first. With AUTH_MODE=entra a request needs the principal App Service
 * Authentication injects (401 without one: it reached the app around Easy Auth, or Easy Auth
 * let an anonymous request through) holding one of the roles that may do the function's action
 * (domain/authorization.ts; 403 naming the action and those roles otherwise: Easy Auth does not
 * check roles). A state-changing call signed in only by the browser's session cookie must carry the
 * page's header (identity/crossSite.ts; 403 otherwise). With AUTH_MODE=keys the host's function key is the only check and the caller is the
 * key holder, who holds every role.
 */
import type { HttpHandler, HttpResponseInit } from "@azure/functions";
import { readAuthMode, registeredAuthMode } from "../config";
import { type Action, authorize, refusalText, rolesFor } from "../domain/authorization";
import { attachCaller, KEY_HOLDER, readCaller } from "../identity/caller";
import { crossSiteRefusal } from "../identity/crossSite";
import { audited, recordGateRefusal } from "./auditTrail";

/**
 * The authLevel of every HTTP trigger: behind Easy Auth the token is the credential, so no function
 * key is asked for as well; otherwise the host's function key.
 */
export const HTTP_AUTH_LEVEL: "anonymous" | "function" = registeredAuthMode() === "entra" ? "anonymous" : "function";

function unauthenticated(): HttpResponseInit {
  return {
    status: 401,
    headers: { "WWW-Authenticate": 'Bearer realm="driver-signing"' },
    jsonBody: { error: "authentication required: call through App Service Authentication with an Entra ID access token" },
  };
}

function forbidden(action: Action): HttpResponseInit {
  return { status: 403, jsonBody: { error: refusalText(action), action, allowedRoles: rolesFor(action) } };
}

/** Runs `handler` only for a caller who may do `action`; nothing of the request is read before. */
export function callerGated(action: Action, handler: HttpHandler): HttpHandler {
  return async (request, context) => {
    let mode;
    try {
      mode = readAuthMode();
    } catch (error) {
      // Fail closed: an unreadable AUTH_MODE must not fall back to letting callers in.
      context.error(`caller gate: ${(error as Error).message}`);
      return { status: 500, jsonBody: { error: "the app's settings are invalid; see the app log" } };
    }
    // Every admitted call runs through the audit trail (auditTrail.ts); refusals are recorded too.
    if (mode === "keys") {
      attachCaller(context, KEY_HOLDER);
      return audited(action, KEY_HOLDER, request, context, async (r, c) => handler(r, c));
    }
    const caller = readCaller(request);
    // No principal, nobody to hold to account: answered, not recorded.
    if (!caller) return unauthenticated();
    if (!authorize(caller.signRoles, action).allowed) return recordGateRefusal(request, context, caller, action, "role", forbidden(action));
    // A session-cookie caller's state-changing call must come from our page (identity/crossSite.ts).
    const crossSite = crossSiteRefusal(request);
    if (crossSite) return recordGateRefusal(request, context, caller, action, "crossSite", crossSite);
    attachCaller(context, caller);
    return audited(action, caller, request, context, async (r, c) => handler(r, c));
  };
}
