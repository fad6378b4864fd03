/**
 * The runtime's single HTTP server: the app's HTTP triggers under /api/<route>, the Durable HTTP API
 * (/durabletask/*, /runtime/webhooks/durabletask/*), and local-only endpoints (/_local/*).
 * Function keys are enforced as the host does: a trigger's authLevel "function" needs a function
 * key or the master key, "admin" the master key (401 with an empty body otherwise). Bodies are bounded
 * as the host bounds them (bodyLimits.ts): over 100 MB is a 413 on every route, and a trigger pulls
 * its body as a stream instead of getting it buffered. Binds 127.0.0.1 only.
 * Identity headers only App Service may set (X-MS-CLIENT-PRINCIPAL*, X-MS-TOKEN-*) are removed from
 * every request; with `easyAuth` (entra mode) the app's routes need a valid bearer token or the
 * browser sign-in's session cookie and get the caller's principal from here (../identity/easyAuth.ts,
 * ../identity/browserSignIn.ts), as App Service Authentication does. Like the Bicep's
 * unauthenticatedClientAction Return401, every route without either answers 401, the page too:
 * a browser opens it through /.auth/login/aad?post_login_redirect_uri=/api/dashboard.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { AppHost, HttpTriggerInfo } from "./appHost";
import { declaredLength, discardUnreadBodyAfterResponse, HostLimitExceeded, pulledBody, sendHostTooLarge } from "../http/bodyLimits";
import { HOST_MAX_REQUEST_BODY_BYTES } from "../../src/domain/requestLimits";
import { authorizedFor, presentedKey, type HostKeys } from "./keys";
import { bearerToken, challenge, checkAccessToken, isPlatformIdentityHeader, principalHeaders } from "../identity/easyAuth";
import type { IssuerMetadata } from "../identity/issuer";
import { BrowserSignIn } from "../identity/browserSignIn";
import { pathSegmentsOf, RouteTemplate } from "./routes";

/** Returns true when it handled the request; false lets the next handler try. */
export type RawHandler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>;

export interface HttpFrontOptions {
  app: Pick<AppHost, "httpTriggers" | "invokeHttp">;
  /** Tried before the app's routes, in order (durable HTTP API, /_local endpoints). */
  handlers?: RawHandler[];
  /** Matches host.json extensions.http.routePrefix; "api" by default. */
  routePrefix?: string;
  /** The host keys that open non-anonymous triggers; without them only anonymous triggers answer. */
  keys?: HostKeys;
  log?: (line: string) => void;
  /** Easy Auth in front of the app's routes (entra mode); absent in keys mode. */
  easyAuth?: EasyAuthOptions;
}

export interface EasyAuthOptions {
  /** The local issuer's public metadata (issuer, audiences, JWKS). */
  metadata: IssuerMetadata;
  /** Where /.auth/login/aad sends a browser: the local tenant's authorize endpoint (../identity/localTenant.ts). */
  authorizePath: string;
  /** Session lifetime (default Azure's 8 hours) and clock, for tests. */
  sessionSeconds?: number;
  now?: () => number;
}

/** A name, IPv4 address or bracketed IPv6 address, and an optional port. */
const VALID_HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:\d{1,5})?$/;

interface CompiledRoute extends HttpTriggerInfo {
  template: RouteTemplate;
}

export function createHttpFront(options: HttpFrontOptions): http.Server {
  const prefix = pathSegmentsOf(options.routePrefix ?? "api");
  const routes: CompiledRoute[] = options.app
    .httpTriggers()
    .map((info) => ({ ...info, template: new RouteTemplate(info.route) }))
    .sort((a, b) => b.template.specificity - a.template.specificity);
  const log = options.log ?? (() => undefined);
  const easyAuth = options.easyAuth;
  const signIn = easyAuth ? new BrowserSignIn({ metadata: easyAuth.metadata, authorizePath: easyAuth.authorizePath, sessionSeconds: easyAuth.sessionSeconds, now: easyAuth.now, log }) : undefined;

  return http.createServer((req, res) => {
    // As Kestrel in front of the host: a Host header that is not host[:port] is a 400 before any
    // handler parses a URL from it.
    if (req.headers.host !== undefined && !VALID_HOST.test(req.headers.host)) return sendJson(res, 400, { error: "Invalid Host header" });
    handle(req, res).catch((error: unknown) => {
      // A key sent as ?code= must not reach the log.
      const shownUrl = (req.url ?? "").replace(/([?&]code=)[^&]*/gi, "$1REDACTED");
      log(`HTTP ${req.method} ${shownUrl} failed: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) sendJson(res, 500, { error: "The local runtime failed to handle the request" });
      else res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    discardUnreadBodyAfterResponse(req, res);
    // As App Service: only the platform sets identity headers; whatever a client sent is dropped.
    for (const name of Object.keys(req.headers)) if (isPlatformIdentityHeader(name)) delete req.headers[name];
    setClientAddressHeaders(req);
    // Kestrel's MaxRequestBodySize: a larger declared body is refused before any route sees it.
    if ((declaredLength(req) ?? 0) > HOST_MAX_REQUEST_BODY_BYTES) return sendHostTooLarge(res);
    for (const handler of options.handlers ?? []) {
      if (await handler(req, res)) return;
    }
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
    // Easy Auth's own endpoints (/.auth/*) answer before the app and need no credential.
    if (signIn && url.pathname.toLowerCase().startsWith("/.auth/")) return signIn.handle(req, res, url);
    const segments = pathSegmentsOf(url.pathname);
    const underPrefix = prefix.every((p, i) => segments[i]?.toLowerCase() === p.toLowerCase());
    if (!underPrefix) return sendJson(res, 404, { error: `No route for ${url.pathname}` });
    const routeSegments = segments.slice(prefix.length);
    const method = (req.method ?? "GET").toUpperCase();

    const matching = routes
      .map((route) => ({ route, match: route.template.match(routeSegments) }))
      .filter((candidate) => candidate.match !== undefined);
    const chosen = matching.find(({ route }) => route.methods.length === 0 || route.methods.includes(method));
    // Easy Auth answers before the app: an unknown route under the prefix is a 401 too.
    let identity: Record<string, string> = {};
    if (easyAuth && signIn) {
      // A bearer token, when sent, decides alone; otherwise the sign-in session's cookie.
      const token = bearerToken(req.headers.authorization);
      const check = token !== undefined ? checkAccessToken(token, easyAuth.metadata) : signIn.sessionOf(req.headers.cookie);
      if (!check?.ok) {
        if (check) log(`Easy Auth: refused a ${token !== undefined ? "bearer token" : "session cookie"} on ${method} ${url.pathname}: ${check.reason}`);
        res.writeHead(401, { "www-authenticate": challenge(easyAuth.metadata, check?.reason), "content-length": 0 });
        res.end();
        return;
      }
      identity = principalHeaders(check.claims);
    }
    if (!chosen) {
      if (matching.length > 0) {
        const allowed = [...new Set(matching.flatMap(({ route }) => route.methods))];
        res.setHeader("Allow", allowed.join(", "));
        return sendJson(res, 405, { error: `${method} is not allowed on ${url.pathname}` });
      }
      return sendJson(res, 404, { error: `No function serves ${url.pathname}` });
    }

    if (chosen.route.authLevel !== "anonymous") {
      const presented = presentedKey(url, req.headers);
      if (!options.keys || !authorizedFor(chosen.route.authLevel, presented, options.keys)) return sendUnauthorized(res);
    }

    // GET and HEAD carry no body to the app (the Functions library drops one).
    const body = method === "GET" || method === "HEAD" ? undefined : pulledBody(req);
    let response;
    try {
      response = await options.app.invokeHttp(chosen.route.functionName, {
        method,
        url: url.toString(),
        headers: { ...flattenHeaders(req.headers), ...identity },
        params: chosen.match?.params ?? {},
        body: body?.stream,
      });
    } catch (error) {
      if (body?.exceeded() || error instanceof HostLimitExceeded) return sendHostTooLarge(res);
      throw error;
    }
    if (body?.exceeded()) return sendHostTooLarge(res);
    res.statusCode = response.status;
    for (const [name, value] of response.headers) res.appendHeader(name, value);
    res.end(response.body);
  }
}

/** The host's answer to a missing or wrong key: 401 with an empty body. */
export function sendUnauthorized(res: http.ServerResponse): void {
  res.writeHead(401, { "content-length": 0 });
  res.end();
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

/** Listens on 127.0.0.1:<port> (0 = any free port) and resolves with the bound port. */
export function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * The client-address headers App Service's front end writes: CLIENT-IP (address:port) and
 * X-Client-IP (address) overwritten whatever the client sent, and the address:port appended to
 * X-Forwarded-For after any hops the client claimed.
 */
function setClientAddressHeaders(req: http.IncomingMessage): void {
  const address = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
  if (!address) return;
  const withPort = `${address.includes(":") ? `[${address}]` : address}:${req.socket.remotePort ?? 0}`;
  req.headers["client-ip"] = withPort;
  req.headers["x-client-ip"] = address;
  const claimed = req.headers["x-forwarded-for"];
  req.headers["x-forwarded-for"] = claimed ? `${Array.isArray(claimed) ? claimed.join(", ") : claimed}, ${withPort}` : withPort;
}
