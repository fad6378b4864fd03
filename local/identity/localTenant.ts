/**
 * The local test tenant's sign-in page: the authorize endpoint Easy Auth's sign-in sends a browser
 * to (local only; on Azure it is Entra ID's login page). Like a test tenant it knows no passwords:
 * whoever opens it types a user name and ticks the app roles that user holds, and gets an ID token
 * of the local issuer (RS256, audience the app's client id, the sign-in's nonce) handed back to the
 * reply URL by form_post, as Entra ID does. It checks what Entra ID checks of the request: the
 * client id is the app's, the reply URL is the app's own /.auth/login/aad/callback on this host,
 * the response type and mode are the ID-token flow's.
 *   GET  /_local/tenant/oauth2/v2.0/authorize?client_id&response_type&response_mode&redirect_uri&state&nonce → the form
 *   POST /_local/tenant/oauth2/v2.0/authorize (the same fields, user, role)                          → the form_post page
 */
import { randomBytes } from "node:crypto";
import type * as http from "node:http";
import { SIGN_ROLES } from "../../src/domain/principal";
import { readBodyAtMost } from "../http/bodyLimits";
import { CALLBACK_PATH } from "./browserSignIn";
import type { LocalIssuer } from "./issuer";

export const TENANT_AUTHORIZE_PATH = "/_local/tenant/oauth2/v2.0/authorize";
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const FORM_LIMIT = 16 * 1024;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function send(res: http.ServerResponse, status: number, html: string, csp: string): void {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "content-length": Buffer.byteLength(html),
    "content-security-policy": csp,
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
  });
  res.end(html);
}

function badRequest(res: http.ServerResponse, text: string): void {
  const body = `${text}\n`;
  res.writeHead(400, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(body);
}

interface AuthorizeRequest {
  client_id: string;
  response_type: string;
  response_mode: string;
  redirect_uri: string;
  state: string;
  nonce: string;
}
const FIELDS: (keyof AuthorizeRequest)[] = ["client_id", "response_type", "response_mode", "redirect_uri", "state", "nonce"];

/** The problem with an authorize request, naming the field; undefined when it is one Entra ID would take. */
function problemOf(params: URLSearchParams, issuer: LocalIssuer, host: string | undefined): string | undefined {
  const value = (name: string) => params.get(name) ?? "";
  if (value("client_id") !== issuer.metadata.apiClientId) return "client_id: not an application of this tenant";
  if (value("response_type") !== "id_token") return "response_type: only id_token (the sign-in flow Easy Auth uses without a client secret)";
  if (value("response_mode") !== "form_post") return "response_mode: only form_post";
  let reply: URL;
  try {
    reply = new URL(value("redirect_uri"));
  } catch {
    return "redirect_uri: not a URL";
  }
  if (reply.host !== host || reply.pathname !== CALLBACK_PATH || reply.search !== "" || !["http:", "https:"].includes(reply.protocol)) {
    return `redirect_uri: not a reply URL of the application (only ${CALLBACK_PATH} on this host)`;
  }
  for (const name of ["state", "nonce"]) if (!/^[A-Za-z0-9_-]{16,200}$/.test(value(name))) return `${name}: missing or malformed`;
  return undefined;
}

function signInForm(params: URLSearchParams, nonce: string, problem?: string): string {
  const hidden = FIELDS.map((name) => `<input type="hidden" name="${name}" value="${escapeHtml(params.get(name) ?? "")}">`).join("\n");
  const roles = SIGN_ROLES.map((role) => `<label><input type="checkbox" name="role" value="${role}"> ${role}</label>`).join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Local test tenant: sign in</title>
<style nonce="${nonce}">body{font-family:system-ui,sans-serif;max-width:480px;margin:40px auto}label{display:block;margin:6px 0}.problem{color:#cf222e}</style></head>
<body>
<h1>Local test tenant</h1>
<p>Local only: there are no passwords here. The user name you type signs in holding the app roles you tick, as a user of a test tenant would.</p>
${problem ? `<p class="problem" role="alert">${escapeHtml(problem)}</p>` : ""}
<form method="post" action="${TENANT_AUTHORIZE_PATH}">
${hidden}
<label>User name <input name="user" required pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}" autocomplete="off"></label>
<fieldset><legend>App roles</legend>
${roles}
</fieldset>
<button type="submit">Sign in</button>
</form>
</body></html>
`;
}

/** The page that hands the ID token to the reply URL (form_post), submitted by its one script. */
function formPost(replyUrl: string, idToken: string, state: string, nonce: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signing in…</title></head>
<body>
<form method="post" action="${escapeHtml(replyUrl)}">
<input type="hidden" name="id_token" value="${escapeHtml(idToken)}">
<input type="hidden" name="state" value="${escapeHtml(state)}">
<noscript><button type="submit">Continue</button></noscript>
</form>
<script nonce="${nonce}">document.forms[0].submit();</script>
</body></html>
`;
}

/** Serves the tenant's authorize endpoint; returns false for every other path. */
export function createLocalTenant(issuer: LocalIssuer): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== TENANT_AUTHORIZE_PATH) return false;
    const method = (req.method ?? "GET").toUpperCase();
    const cspNonce = randomBytes(16).toString("base64");
    if (method === "GET") {
      const problem = problemOf(url.searchParams, issuer, req.headers.host);
      if (problem) badRequest(res, problem);
      else send(res, 200, signInForm(url.searchParams, cspNonce), `default-src 'none'; style-src 'nonce-${cspNonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`);
      return true;
    }
    if (method !== "POST") {
      badRequest(res, `${method}: the authorize endpoint takes GET and POST`);
      return true;
    }
    const read = await readBodyAtMost(req, FORM_LIMIT);
    if (!read.ok) {
      badRequest(res, "the sign-in form is too large");
      return true;
    }
    const form = new URLSearchParams(read.body.toString("utf8"));
    const problem = problemOf(form, issuer, req.headers.host);
    if (problem) {
      badRequest(res, problem);
      return true;
    }
    const user = form.get("user") ?? "";
    const roles = form.getAll("role");
    const unknownRole = roles.find((role) => !(SIGN_ROLES as readonly string[]).includes(role));
    if (!USER_NAME.test(user) || unknownRole !== undefined) {
      const why = unknownRole !== undefined ? `role: ${unknownRole} is not an app role of this application` : "user: 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit";
      send(res, 400, signInForm(form, cspNonce, why), `default-src 'none'; style-src 'nonce-${cspNonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`);
      return true;
    }
    const idToken = issuer.issueIdToken({ user, roles: [...new Set(roles)], nonce: form.get("nonce")! });
    send(res, 200, formPost(form.get("redirect_uri")!, idToken, form.get("state")!, cspNonce), `default-src 'none'; script-src 'nonce-${cspNonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`);
    return true;
  };
}
