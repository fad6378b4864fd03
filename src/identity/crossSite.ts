/**
 * Cross-site request forgery guard for callers signed in by the browser session cookie
 * (`AppServiceAuthSession`). App Service sets that cookie SameSite=None, so a page on any site can
 * make the browser send it with a form POST; the platform's own check of such requests is not
 * documented, so the app does not rely on it. A state-changing call (anything but GET, HEAD,
 * OPTIONS) must therefore either bring its own credential (`Authorization: Bearer`, which a browser
 * never adds by itself) or carry PAGE_REQUEST_HEADER, which the operators' page sets and a
 * cross-site form cannot; a cross-site script cannot either without a CORS preflight, which the app
 * never grants. Only meaningful under AUTH_MODE=entra, after the principal was read.
 */
import type { HttpRequest, HttpResponseInit } from "@azure/functions";

export const PAGE_REQUEST_HEADER = "X-Requested-With";
export const PAGE_REQUEST_VALUE = "driver-signing-page";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** A 403 for a state-changing call that only the session cookie authenticates and that no page of ours made; undefined otherwise. */
export function crossSiteRefusal(request: Pick<HttpRequest, "method" | "headers">): HttpResponseInit | undefined {
  if (SAFE_METHODS.has(request.method.toUpperCase())) return undefined;
  if (/^Bearer\s+\S+/i.test(request.headers.get("authorization") ?? "")) return undefined;
  if (request.headers.get(PAGE_REQUEST_HEADER) === PAGE_REQUEST_VALUE) return undefined;
  return {
    status: 403,
    jsonBody: {
      error: `${request.method.toUpperCase()} signed in by the session cookie must carry the header ${PAGE_REQUEST_HEADER}: ${PAGE_REQUEST_VALUE} (the operators' page sends it; a form on another site cannot), or an Authorization: Bearer token`,
    },
  };
}
