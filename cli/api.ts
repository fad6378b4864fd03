/**
 * The CLI's only way to the service: our HTTP API, with the function key in `x-functions-key`.
 * No storage keys and no Hardware Dev Center access. Error texts never contain the key or a SAS
 * (see `safeText`).
 */
import type { TokenSource } from "./auth";
import { CliError, ExitCode, exitCodeForHttpStatus } from "./exitCodes";

export const KEY_HEADER = "x-functions-key";

export interface ApiOptions {
  /** The API base, e.g. https://signing.example.net/api (a bare origin gets /api appended). */
  url: string;
  key?: string;
  /** A bearer token source instead of the key (Entra ID callers, issue 31). */
  bearer?: TokenSource;
  /** Per-request timeout. */
  requestTimeoutMs?: number;
}

export type UploadTicket =
  | { exists: true; package: string; uploadId?: string }
  | { exists: false; package: string; uploadId?: string; uploadKey?: string; uploadUrl: string; expiresOn?: string; metadata: Record<string, string> };

export interface StartedSubmission {
  id: string;
  httpStatus: number;
  /** 202 started, 409 already running, 200 already signed. */
  how: "started" | "running" | "alreadySigned";
}

/** Masks SAS signatures, the key and any token in any text we might print. */
export function safeText(text: string, key?: string | (string | undefined)[]): string {
  let result = text.replace(/(?<![a-z])sig=[^&\s"'<>]*/gi, "sig=REDACTED").replace(/(?<![a-z])sig%3D[^&\s"'<>]*/gi, "sig%3DREDACTED");
  for (const secret of Array.isArray(key) ? key : [key]) if (secret && secret.length >= 4) result = result.split(secret).join("REDACTED");
  return result;
}

export function apiBase(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(ExitCode.BadArguments, `--url ${JSON.stringify(url)} is not a URL (e.g. https://signing.example.net/api)`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw new CliError(ExitCode.BadArguments, "--url must be an http(s) URL");
  if (parsed.search || parsed.hash) throw new CliError(ExitCode.BadArguments, "--url must not carry a query or fragment (pass the key with --key)");
  const path = parsed.pathname.replace(/\/+$/, "");
  return `${parsed.origin}${path === "" ? "/api" : path}`;
}

export class ApiClient {
  readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: ApiOptions) {
    this.base = apiBase(options.url);
    this.timeoutMs = options.requestTimeoutMs ?? 60_000;
  }

  /** Only requests to our own API carry the key or token; storage and redirects never do. */
  private async headers(json: boolean): Promise<Record<string, string>> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (json) headers["content-type"] = "application/json";
    if (this.options.bearer) headers.authorization = `Bearer ${await this.options.bearer.token()}`;
    else if (this.options.key) headers[KEY_HEADER] = this.options.key;
    return headers;
  }

  /** What the service was shown, for a 401/403 message. */
  private authHint(): string {
    if (this.options.bearer) return ` (auth: ${this.options.bearer.describe}; expired, another audience, or no Sign.* role?)`;
    return " (check --key / DRIVER_SIGN_KEY)";
  }

  /** One request; network failures are API errors (3), HTTP statuses are mapped by the caller. */
  private async send(method: string, path: string, body?: unknown, redirect: "follow" | "manual" = "follow"): Promise<Response> {
    const headers = await this.headers(body !== undefined);
    try {
      return await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new CliError(ExitCode.ApiError, this.safe(`${method} ${this.base}${path} failed: ${reason}`));
    }
  }

  private safe(text: string): string {
    return safeText(text, [this.options.key, ...(this.options.bearer?.handedOut ?? [])]);
  }

  /** Reads a JSON body; anything else becomes `{ text }`. */
  private async json(response: Response): Promise<Record<string, unknown>> {
    const body = await response.text();
    if (!body) return {};
    try {
      const parsed: unknown = JSON.parse(body);
      return Array.isArray(parsed) ? { items: parsed } : (parsed as Record<string, unknown>);
    } catch {
      return { text: body.slice(0, 500) };
    }
  }

  /** A CliError for a non-success answer, naming the fields the service listed. */
  private async failure(what: string, response: Response): Promise<CliError> {
    const body = await this.json(response).catch(() => ({}) as Record<string, unknown>);
    const fields = Array.isArray(body.fields)
      ? (body.fields as { field?: unknown; reason?: unknown }[]).map((f) => `${String(f.field)} ${String(f.reason)}`).join("; ")
      : "";
    const reason = typeof body.error === "string" ? body.error : typeof body.text === "string" ? body.text : "";
    const auth = response.status === 401 || response.status === 403 ? this.authHint() : "";
    const retry = response.status === 429 && response.headers.get("retry-after") ? ` (retry after ${response.headers.get("retry-after")} s)` : "";
    const detail = [reason, fields].filter(Boolean).join(": ");
    return new CliError(
      exitCodeForHttpStatus(response.status),
      this.safe(`${what} answered HTTP ${response.status}${detail ? `: ${detail}` : ""}${auth}${retry}`),
      response.status,
    );
  }

  async createUpload(body: { fileName: string; sha256: string; size: number; product?: unknown; uploadId?: string; uploadKey?: string }): Promise<UploadTicket> {
    const response = await this.send("POST", "/uploads", body);
    if (response.status !== 200 && response.status !== 201) throw await this.failure("POST /api/uploads", response);
    const ticket = await this.json(response);
    if (typeof ticket.package !== "string") throw new CliError(ExitCode.ApiError, "POST /api/uploads answered without a package");
    const uploadId = typeof ticket.uploadId === "string" ? ticket.uploadId : undefined;
    if (ticket.exists === true) return { exists: true, package: ticket.package, ...(uploadId ? { uploadId } : {}) };
    if (typeof ticket.uploadUrl !== "string") throw new CliError(ExitCode.ApiError, "POST /api/uploads answered without an upload URL");
    return {
      exists: false,
      package: ticket.package,
      ...(uploadId ? { uploadId } : {}),
      ...(typeof ticket.uploadKey === "string" ? { uploadKey: ticket.uploadKey } : {}),
      uploadUrl: ticket.uploadUrl,
      expiresOn: typeof ticket.expiresOn === "string" ? ticket.expiresOn : undefined,
      metadata: (ticket.metadata && typeof ticket.metadata === "object" ? ticket.metadata : {}) as Record<string, string>,
    };
  }

  /** POST /api/submissions: 202 → started, 409 → the running one, 200 (already signed) → that one. */
  async startSubmission(body: { package: string; product?: unknown; publish?: unknown; signing?: "preproduction" }): Promise<StartedSubmission> {
    const response = await this.send("POST", "/submissions", body);
    if (response.status !== 202 && response.status !== 409 && response.status !== 200) throw await this.failure("POST /api/submissions", response);
    const answer = await this.json(response);
    const id = typeof answer.id === "string" ? answer.id : typeof answer.instanceId === "string" ? answer.instanceId : undefined;
    if (!id) {
      if (response.status === 409) throw new CliError(ExitCode.InvalidState, this.safe(`POST /api/submissions answered HTTP 409 without an id: ${JSON.stringify(answer)}`), 409);
      throw new CliError(ExitCode.ApiError, `POST /api/submissions answered HTTP ${response.status} without an id`);
    }
    return { id, httpStatus: response.status, how: response.status === 202 ? "started" : response.status === 409 ? "running" : "alreadySigned" };
  }

  async status(id: string): Promise<Record<string, unknown>> {
    const response = await this.send("GET", `/submissions/${encodeURIComponent(id)}`);
    if (response.status !== 200) throw await this.failure(`GET /api/submissions/${id}`, response);
    return this.json(response);
  }

  async list(statuses?: string): Promise<Record<string, unknown>[]> {
    const query = statuses ? `?status=${encodeURIComponent(statuses)}` : "";
    const response = await this.send("GET", `/submissions${query}`);
    if (response.status !== 200) throw await this.failure("GET /api/submissions", response);
    const body = await this.json(response);
    const items = Array.isArray(body.items) ? body.items : Array.isArray(body.submissions) ? body.submissions : [];
    return items as Record<string, unknown>[];
  }

  async cancel(id: string): Promise<Record<string, unknown>> {
    const response = await this.send("POST", `/submissions/${encodeURIComponent(id)}/cancel`);
    if (response.status !== 202 && response.status !== 200) throw await this.failure(`POST /api/submissions/${id}/cancel`, response);
    return this.json(response);
  }

  /** POST /api/submissions/{id}/approvals (issue 34): the decision on a label waiting for approval; 202 → sent. */
  async decideApproval(id: string, body: { decision: "approve" | "reject"; comment: string; labelRun?: string }): Promise<Record<string, unknown>> {
    const response = await this.send("POST", `/submissions/${encodeURIComponent(id)}/approvals`, body);
    if (response.status !== 202) throw await this.failure(`POST /api/submissions/${id}/approvals`, response);
    return this.json(response);
  }

  /**
   * One response of GET /api/audit as JSON Lines (issue 33): the lines as they came, and the token
   * for the next one while more remain. `query` holds the filters (submission, principal, action, from, to).
   */
  async auditLines(query: Record<string, string>, continuationToken?: string): Promise<{ lines: string; next?: string }> {
    const params = new URLSearchParams({ ...query, format: "jsonl", ...(continuationToken ? { continuationToken } : {}) });
    const response = await this.send("GET", `/audit?${params.toString()}`);
    if (response.status !== 200) throw await this.failure("GET /api/audit", response);
    const lines = await response.text();
    const next = response.headers.get("x-continuation-token") ?? undefined;
    return { lines, ...(next ? { next } : {}) };
  }

  /**
   * The short-lived read URL a result link redirects to. Redirects are followed by hand: fetch would
   * forward x-functions-key to the storage origin, and the key must stay with our API.
   * Returns undefined when the service says the file does not exist (404).
   */
  async resultUrl(id: string, file: "signed-package" | "driver-metadata" | "manifest" | "error-report"): Promise<string | undefined> {
    const path = `/submissions/${encodeURIComponent(id)}/${file}`;
    const response = await this.send("GET", path, undefined, "manual");
    if (response.status === 404) {
      const body = await this.json(response);
      // A missing submission is an error; a missing optional file (no driver metadata) is not.
      if (typeof body.error === "string" && /^no submission/i.test(body.error)) throw new CliError(ExitCode.NotFound, `GET /api/submissions/${id}/${file}: ${body.error}`, 404);
      return undefined;
    }
    if (response.status < 300 || response.status >= 400) throw await this.failure(`GET /api/submissions/${id}/${file}`, response);
    await response.body?.cancel();
    const location = response.headers.get("location");
    if (!location) throw new CliError(ExitCode.ApiError, `GET /api/submissions/${id}/${file} redirected without a Location`);
    return location;
  }
}
