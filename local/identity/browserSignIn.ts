/**
 * The browser half of App Service Authentication as the local front plays it (entra mode):
 *   GET  /.auth/login/aad?post_login_redirect_uri=<same-site path>  → 302 to the tenant's authorize
 *        endpoint (ID-token flow, response_mode form_post, a state and a nonce of this sign-in);
 *   POST /.auth/login/aad/callback (id_token, state)                → the ID token checked like a
 *        bearer token plus audience = the app's client id and the sign-in's nonce; a server-side
 *        session, the opaque `AppServiceAuthSession` cookie, 302 to the redirect target;
 *   GET  /.auth/logout[?post_logout_redirect_uri=...]               → session ended, cookie cleared.
 * Redirect targets are same-site only (Azure: allowedExternalRedirectUrls empty; "URLs within the
 * current domain are always implicitly allowed"); anything else is a 403 before any sign-in starts.
 * The session cookie is set as the platform sets it: HttpOnly, Secure, SameSite=None, path /; its
 * value is a random id of a session kept here, which ends after 8 hours (Azure's default
 * login.cookieExpiration) or at sign-out. A second, short-lived cookie ties the callback to the
 * browser that started the sign-in, so nobody can sign a victim in as someone else.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type * as http from "node:http";
import { readBodyAtMost } from "../http/bodyLimits";
import { checkAccessToken } from "./easyAuth";
import type { IssuerMetadata } from "./issuer";

export const SIGN_IN_PATH = "/.auth/login/aad";
export const CALLBACK_PATH = "/.auth/login/aad/callback";
export const LOGOUT_PATH = "/.auth/logout";
export const LOGOUT_COMPLETE_PATH = "/.auth/logout/complete";
/** The platform's session cookie. */
export const SESSION_COOKIE = "AppServiceAuthSession";
/** Local name: binds a sign-in's callback to the browser that started it. */
export const LOGIN_COOKIE = "LocalEasyAuthLogin";
/** Azure's default login.cookieExpiration (FixedTime, 08:00:00). */
export const DEFAULT_SESSION_SECONDS = 8 * 3600;
const SIGN_IN_SECONDS = 600;
const MAX_PENDING = 1000;
const CALLBACK_BODY_LIMIT = 64 * 1024;

export interface BrowserSignInOptions {
  metadata: IssuerMetadata;
  /** The tenant's authorize endpoint on this front (localTenant.ts). */
  authorizePath: string;
  sessionSeconds?: number;
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number;
  log?: (line: string) => void;
}

export type SessionCheck = { ok: true; claims: Record<string, unknown> } | { ok: false; reason: string };

interface PendingSignIn {
  binding: string;
  nonce: string;
  target: string;
  expiresAt: number;
}

const random = () => randomBytes(32).toString("base64url");

/**
 * Where a sign-in or sign-out may send the browser: a path on this site ("/api/dashboard"), or an
 * absolute URL of this very host. Protocol-relative ("//evil"), backslashes, control characters and
 * other hosts are refused (undefined).
 */
export function sameSiteTarget(raw: string | null, host: string | undefined, fallback: string): string | undefined {
  if (raw === null || raw === "") return fallback;
  if (/[\\\u0000-\u001f\u007f]/.test(raw)) return undefined;
  if (raw.startsWith("/") && !raw.startsWith("//")) {
    const probe = new URL(raw, "http://same.site.invalid");
    return probe.host === "same.site.invalid" ? probe.pathname + probe.search + probe.hash : undefined;
  }
  try {
    const absolute = new URL(raw);
    if ((absolute.protocol === "http:" || absolute.protocol === "https:") && host !== undefined && absolute.host.toLowerCase() === host.toLowerCase()) {
      return absolute.pathname + absolute.search + absolute.hash;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** The value of one cookie of a Cookie header (the first if sent twice). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookie(name: string, value: string, path: string, maxAgeSeconds?: number): string {
  return `${name}=${value}; Path=${path}; Secure; HttpOnly; SameSite=None${maxAgeSeconds === undefined ? "" : `; Max-Age=${maxAgeSeconds}`}`;
}

function sendText(res: http.ServerResponse, status: number, text: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store", ...headers });
  res.end(text);
}

function redirect(res: http.ServerResponse, location: string, cookies: string[] = []): void {
  res.writeHead(302, { location, "content-length": 0, "cache-control": "no-store", ...(cookies.length ? { "set-cookie": cookies } : {}) });
  res.end();
}

export class BrowserSignIn {
  private readonly sessions = new Map<string, { claims: Record<string, unknown>; expiresAt: number }>();
  private readonly pending = new Map<string, PendingSignIn>();
  private readonly now: () => number;
  private readonly sessionMs: number;
  private readonly log: (line: string) => void;

  constructor(private readonly options: BrowserSignInOptions) {
    this.now = options.now ?? Date.now;
    this.sessionMs = (options.sessionSeconds ?? DEFAULT_SESSION_SECONDS) * 1000;
    this.log = options.log ?? (() => undefined);
  }

  /** The caller of a request that carries the session cookie; undefined when it carries none. */
  sessionOf(cookieHeader: string | undefined): SessionCheck | undefined {
    const id = cookieValue(cookieHeader, SESSION_COOKIE);
    if (id === undefined) return undefined;
    const session = this.sessions.get(id);
    if (!session) return { ok: false, reason: "unknown session cookie" };
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return { ok: false, reason: "expired session" };
    }
    return { ok: true, claims: session.claims };
  }

  /** Serves /.auth/*; answers 404 for what Easy Auth does not serve here. */
  async handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.toLowerCase().replace(/\/+$/, "");
    const method = (req.method ?? "GET").toUpperCase();
    if (path === SIGN_IN_PATH && method === "GET") return this.startSignIn(req, res, url);
    if (path === CALLBACK_PATH && method === "POST") return this.callback(req, res);
    if (path === LOGOUT_PATH && method === "GET") return this.logout(req, res, url);
    if (path === LOGOUT_COMPLETE_PATH && method === "GET") {
      return sendText(res, 200, `You have signed out. Sign in again: ${SIGN_IN_PATH}?post_login_redirect_uri=/api/dashboard\n`);
    }
    if ([SIGN_IN_PATH, CALLBACK_PATH, LOGOUT_PATH, LOGOUT_COMPLETE_PATH].includes(path)) return sendText(res, 405, `${method} is not allowed on ${url.pathname}\n`);
    return sendText(res, 404, `${url.pathname}: not an App Service Authentication endpoint served locally\n`);
  }

  private startSignIn(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const target = sameSiteTarget(url.searchParams.get("post_login_redirect_uri"), req.headers.host, "/");
    if (target === undefined) {
      return sendText(res, 403, "post_login_redirect_uri: only a path on this site may follow sign-in (no external redirect URL is allowed)\n");
    }
    const now = this.now();
    for (const [state, entry] of this.pending) if (entry.expiresAt <= now || this.pending.size >= MAX_PENDING) this.pending.delete(state);
    const state = random();
    const entry: PendingSignIn = { binding: random(), nonce: random(), target, expiresAt: now + SIGN_IN_SECONDS * 1000 };
    this.pending.set(state, entry);
    const authorize = new URLSearchParams({
      client_id: this.options.metadata.apiClientId,
      response_type: "id_token",
      response_mode: "form_post",
      scope: "openid profile",
      redirect_uri: `http://${req.headers.host ?? "127.0.0.1"}${CALLBACK_PATH}`,
      state,
      nonce: entry.nonce,
    });
    redirect(res, `${this.options.authorizePath}?${authorize.toString()}`, [cookie(LOGIN_COOKIE, entry.binding, CALLBACK_PATH, SIGN_IN_SECONDS)]);
  }

  private async callback(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const refuse = (reason: string) => {
      this.log(`Easy Auth: refused a sign-in callback: ${reason}`);
      sendText(res, 401, `Sign-in failed: ${reason}. Start again at ${SIGN_IN_PATH}.\n`, { "set-cookie": [cookie(LOGIN_COOKIE, "", CALLBACK_PATH, 0)] });
    };
    const read = await readBodyAtMost(req, CALLBACK_BODY_LIMIT);
    if (!read.ok) return sendText(res, 413, "the sign-in callback body is too large\n");
    const form = new URLSearchParams(read.body.toString("utf8"));
    const state = form.get("state") ?? "";
    const entry = this.pending.get(state);
    // A state is good for one callback only.
    this.pending.delete(state);
    if (!entry || entry.expiresAt <= this.now()) return refuse("unknown or expired sign-in state");
    const binding = cookieValue(req.headers.cookie, LOGIN_COOKIE);
    if (binding === undefined || !sameSecret(binding, entry.binding)) return refuse("the sign-in was started in another browser");
    const idToken = form.get("id_token");
    if (!idToken) return refuse(`no id_token${form.get("error") ? ` (${form.get("error")})` : ""}`);
    const check = checkAccessToken(idToken, this.options.metadata, this.now());
    if (!check.ok) return refuse(`id_token: ${check.reason}`);
    if (check.claims.aud !== this.options.metadata.apiClientId) return refuse("id_token: not issued to this app");
    if (typeof check.claims.nonce !== "string" || !sameSecret(check.claims.nonce, entry.nonce)) return refuse("id_token: nonce of another sign-in");
    const { nonce: _nonce, ...claims } = check.claims;
    const id = random();
    this.sessions.set(id, { claims, expiresAt: this.now() + this.sessionMs });
    this.log(`Easy Auth: ${String(claims.preferred_username ?? claims.oid)} signed in (session ends in ${this.sessionMs / 1000} s)`);
    redirect(res, entry.target, [cookie(SESSION_COOKIE, id, "/"), cookie(LOGIN_COOKIE, "", CALLBACK_PATH, 0)]);
  }

  private logout(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const target = sameSiteTarget(url.searchParams.get("post_logout_redirect_uri"), req.headers.host, LOGOUT_COMPLETE_PATH);
    if (target === undefined) return sendText(res, 403, "post_logout_redirect_uri: only a path on this site may follow sign-out\n");
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (id !== undefined) this.sessions.delete(id);
    redirect(res, target, [cookie(SESSION_COOKIE, "", "/", 0)]);
  }
}
