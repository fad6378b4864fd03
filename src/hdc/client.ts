/**
 * Hardware Dev Center client (reference/hdc-api.md a.4). Builds URLs from ids itself (the
 * service's links are unreliable), parses responses losslessly (64-bit ids), and throws only
 * HdcError, whose text never carries a token or SAS signature.
 */
import { randomUUID } from "node:crypto";
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  isRestError,
  type HttpClient,
  type HttpMethods,
  type Pipeline,
  type PipelineRequest,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import type { TokenCredential } from "@azure/identity";
import type { AppConfig } from "../config";
import { redactSecrets } from "../domain/redact";
import { HdcError, hdcErrorFromResponse, isRecord, type RequestContext } from "./errors";
import { parseHdcJson } from "./losslessJson";
import {
  attemptPolicy,
  CreateOutcomeUnknownError,
  describeTransportFailure,
  hdcChallengeCallbacks,
  TIMEOUT_CODE,
  TokenAcquisitionError,
  type AttemptCounter,
} from "./policies";
import type { HdcApi, HdcLink, HdcProduct, HdcSubmission, NewProduct, NewSubmission, StreamedBody } from "./types";

export type { StreamedBody } from "./types";

export interface HdcClientOptions {
  /** e.g. https://manage.devcenter.microsoft.com/v2.0/my/ ; "hardware/..." paths are appended. https only (a bearer token never travels in clear). */
  baseUrl: string;
  credential: TokenCredential;
  scope: string;
  /** Per attempt; a timeout counts as retryable. */
  timeoutMs: number;
  maxRetries: number;
  /** Base of the exponential backoff. */
  retryDelayMs: number;
  /** Cap of any single wait, including Retry-After. Default 60 s. */
  maxRetryDelayMs?: number;
  /** Sent as MS-CorrelationId on every request; default a random UUID. */
  correlationId?: string;
  httpClient?: HttpClient;
  log?: (line: string) => void;
}

interface SendOptions {
  /** The request creates a resource: see RetryOptions.isCreateRequest. */
  creates?: boolean;
  /** A body that is not JSON (preprod upload): opened anew by every attempt. */
  rawBody?: StreamedBody;
  /** Per attempt; replaces the client's timeout (an upload of a large package). */
  timeoutMs?: number;
  /** Answer statuses whose body is handed over as a stream instead of read as text. */
  streamStatuses?: ReadonlySet<number>;
}


/** Guards against a service that keeps handing out next links. */
const MAX_PAGES = 50;

export class HdcClient implements HdcApi {
  readonly correlationId: string;
  private readonly baseUrl: string;
  private readonly pipeline: Pipeline;
  private readonly httpClient: HttpClient;
  private readonly timeoutMs: number;
  private readonly log?: (line: string) => void;
  /** POSTs that create something; never re-sent after 5xx or timeouts. */
  private readonly createRequests = new WeakSet<PipelineRequest>();
  private readonly attempts: AttemptCounter = new WeakMap();
  /** Set on the per-invocation view from withAbortSignal: the activity's deadline. */
  private abortSignal?: AbortSignal;

  constructor(options: HdcClientOptions) {
    this.baseUrl = options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`;
    if (!this.baseUrl.startsWith("https://")) throw new TypeError("HdcClient baseUrl must be an https:// URL");
    this.correlationId = options.correlationId ?? randomUUID();
    this.timeoutMs = options.timeoutMs;
    this.log = options.log;
    this.httpClient = options.httpClient ?? createDefaultHttpClient();
    const maxRetryDelayMs = options.maxRetryDelayMs ?? 60_000;
    // The library's pipeline (proxy from HTTPS_PROXY/NO_PROXY, user agent, logging, tracing,
    // redirects, throttling + exponential retry with our bounds); policies.ts says what is added.
    this.pipeline = createPipelineFromOptions({
      retryOptions: { maxRetries: options.maxRetries, retryDelayInMs: options.retryDelayMs, maxRetryDelayInMs: maxRetryDelayMs },
      userAgentOptions: { userAgentPrefix: "driver-signing-functions" },
    });
    this.pipeline.addPolicy(
      bearerTokenAuthenticationPolicy({ credential: options.credential, scopes: options.scope, challengeCallbacks: hdcChallengeCallbacks(options.log) }),
      { phase: "Sign" },
    );
    this.pipeline.addPolicy(
      attemptPolicy(
        {
          correlationId: this.correlationId,
          maxRetries: options.maxRetries,
          retryDelayMs: options.retryDelayMs,
          maxRetryDelayMs,
          isCreateRequest: (request) => this.createRequests.has(request),
          log: options.log,
        },
        this.attempts,
      ),
      { afterPhase: "Sign" },
    );
  }

  /**
   * The same client (pipeline, cached token, correlation id) whose requests, retries and waits
   * end when `signal` aborts: one view per activity invocation, bound to its deadline.
   */
  withAbortSignal(signal: AbortSignal): HdcClient {
    const view = Object.create(this) as HdcClient;
    view.abortSignal = signal;
    return view;
  }

  async listProducts(options: { top?: number } = {}): Promise<HdcProduct[]> {
    if (options.top !== undefined) {
      // A bounded look (e.g. a reachability probe): the first page only.
      const page = await this.getPage(`hardware/products?top=${encodeURIComponent(String(options.top))}`);
      return page.items.map((item) => asProduct(item, this.context("GET", "hardware/products")));
    }
    const items = await this.getAllPages("hardware/products");
    return items.map((item) => asProduct(item, this.context("GET", "hardware/products")));
  }

  async getProduct(productId: string): Promise<HdcProduct> {
    const path = `hardware/products/${idSegment("productId", productId)}`;
    const body = await this.sendJson("GET", path, [200]);
    return asProduct(body, this.context("GET", path), productId);
  }

  async createProduct(product: NewProduct): Promise<HdcProduct> {
    const path = "hardware/products";
    const body = await this.sendJson("POST", path, [200, 201], product, { creates: true });
    return asProduct(body, this.context("POST", path));
  }

  async listSubmissions(productId: string): Promise<HdcSubmission[]> {
    const path = `hardware/products/${idSegment("productId", productId)}/submissions`;
    const items = await this.getAllPages(path);
    return items.map((item) => asSubmission(item, this.context("GET", path), productId));
  }

  async getSubmission(productId: string, submissionId: string): Promise<HdcSubmission> {
    const path = `hardware/products/${idSegment("productId", productId)}/submissions/${idSegment("submissionId", submissionId)}`;
    const body = await this.sendJson("GET", path, [200]);
    return asSubmission(body, this.context("GET", path), productId, submissionId);
  }

  async createSubmission(productId: string, submission: NewSubmission): Promise<HdcSubmission> {
    const path = `hardware/products/${idSegment("productId", productId)}/submissions`;
    const body = await this.sendJson("POST", path, [200, 201], { name: submission.name, type: submission.type }, { creates: true });
    return asSubmission(body, this.context("POST", path), productId);
  }

  async commitSubmission(productId: string, submissionId: string): Promise<void> {
    const path = `hardware/products/${idSegment("productId", productId)}/submissions/${idSegment("submissionId", submissionId)}/commit`;
    // The docs say "no body"; the Microsoft library posts {} as JSON, which the service accepts.
    await this.send("POST", path, [200, 202, 204], {});
  }

  // ----------------------------------------------------------------------------------------

  private async getAllPages(firstPath: string): Promise<unknown[]> {
    const items: unknown[] = [];
    const seen = new Set<string>();
    let path: string | undefined = firstPath;
    for (let page = 0; path !== undefined && page < MAX_PAGES; page++) {
      seen.add(path);
      const result = await this.getPage(path);
      items.push(...result.items);
      path = result.nextPath !== undefined && !seen.has(result.nextPath) ? result.nextPath : undefined;
      if (path !== undefined && page + 1 === MAX_PAGES) this.log?.(`HDC GET ${apiPath(firstPath)}: stopped after ${MAX_PAGES} pages`);
    }
    return items;
  }

  private async getPage(path: string): Promise<{ items: unknown[]; nextPath?: string }> {
    const body = await this.sendJson("GET", path, [200]);
    if (!isRecord(body)) throw invalidResponse(this.context("GET", path), "expected a JSON object");
    const list = Array.isArray(body.value) ? body.value : Array.isArray(body.items) ? body.items : [];
    return { items: list, nextPath: this.nextPagePath(body, path) };
  }

  /**
   * Link hosts and versions are inconsistent (a.1), so only the part from "hardware/" on is
   * taken and appended to our own base URL.
   */
  private nextPagePath(body: Record<string, unknown>, path: string): string | undefined {
    const links = Array.isArray(body.links) ? (body.links as HdcLink[]) : [];
    const href =
      links.find((link) => isRecord(link) && typeof link.rel === "string" && /^next_?link$/i.test(link.rel))?.href ??
      (typeof body.nextLink === "string" ? body.nextLink : undefined) ??
      (typeof body["@odata.nextLink"] === "string" ? body["@odata.nextLink"] : undefined);
    if (typeof href !== "string" || href.trim() === "") return undefined;
    // A next link we cannot follow is an error, not the end of the list: reconciling by name (products,
    // labels) must never conclude "not there" from a list cut short.
    const unusable = () => invalidResponse(this.context("GET", path), "the next-page link is not a Hardware Dev Center path");
    let url: URL;
    try {
      url = new URL(href.replace(/\s+/g, ""), this.baseUrl);
    } catch {
      throw unusable();
    }
    const start = url.pathname.toLowerCase().indexOf("/hardware/");
    if (start < 0) throw unusable();
    return `${url.pathname.slice(start + 1)}${url.search}`;
  }

  /**
   * A request outside the typed operations above (shipping labels, audiences: src/hdc/shippingLabels.ts):
   * same pipeline, token, retries and HdcError rules. `creates` marks a POST that is never re-sent
   * after a 5xx or a timeout. Returns the JSON body parsed losslessly.
   */
  async requestJson(method: HttpMethods, path: string, expected: number[], body?: unknown, options?: SendOptions): Promise<unknown> {
    return this.sendJson(method, path, expected, body, options);
  }

  /** As requestJson with a streamed, non-JSON body (preprod upload: src/hdc/preprod.ts). */
  async requestJsonWithBody(method: HttpMethods, path: string, expected: number[], body: StreamedBody, options: { creates?: boolean; timeoutMs?: number } = {}): Promise<unknown> {
    return this.sendJson(method, path, expected, undefined, { ...options, rawBody: body });
  }

  /** A GET whose successful answer is binary, handed over as a stream (preprod asset download); errors are HdcError as usual. */
  async requestStream(path: string, expected: number[], options: { timeoutMs?: number } = {}): Promise<NodeJS.ReadableStream> {
    const response = await this.send("GET", path, expected, undefined, { ...options, streamStatuses: new Set(expected) });
    if (!response.readableStreamBody) throw invalidResponse(this.contextOf(response.request, "GET", path), "the response has no body");
    return response.readableStreamBody;
  }

  /** As requestJson, for answers without a body (204). */
  async request(method: HttpMethods, path: string, expected: number[], body?: unknown): Promise<void> {
    await this.send(method, path, expected, body);
  }

  private async sendJson(method: HttpMethods, path: string, expected: number[], body?: unknown, options?: SendOptions): Promise<unknown> {
    const response = await this.send(method, path, expected, body, options);
    try {
      return parseHdcJson(response.bodyAsText ?? "");
    } catch {
      throw invalidResponse(this.contextOf(response.request, method, path), "the response body is not JSON");
    }
  }

  private async send(method: HttpMethods, path: string, expected: number[], body?: unknown, options: SendOptions = {}): Promise<PipelineResponse> {
    const raw = options.rawBody;
    const headers = raw
      ? { "Content-Type": raw.contentType, ...(raw.contentLength !== undefined ? { "Content-Length": String(raw.contentLength) } : {}) }
      : body === undefined
        ? {}
        : { "Content-Type": "application/json" };
    const request = createPipelineRequest({
      url: `${this.baseUrl}${path}`,
      method,
      timeout: options.timeoutMs ?? this.timeoutMs,
      abortSignal: this.abortSignal,
      headers: createHttpHeaders(headers),
      body: raw ? raw.open : body === undefined ? undefined : JSON.stringify(body),
      ...(options.streamStatuses ? { streamResponseStatusCodes: new Set(options.streamStatuses) } : {}),
    });
    if (options.creates) this.createRequests.add(request);
    const started = Date.now();
    let response: PipelineResponse;
    try {
      response = await this.pipeline.sendRequest(this.httpClient, request);
    } catch (error) {
      throw this.errorFromFailure(error, request, this.contextOf(request, method, path));
    }
    const context = this.contextOf(request, method, path);
    this.log?.(
      `HDC ${method} ${context.path} -> ${response.status} in ${Date.now() - started} ms (MS-RequestId ${context.requestId}, MS-CorrelationId ${this.correlationId})`,
    );
    if (!expected.includes(response.status)) throw hdcErrorFromResponse(response, context);
    return response;
  }

  private errorFromFailure(error: unknown, request: PipelineRequest, context: RequestContext): HdcError {
    if (error instanceof HdcError) return error;
    const attempts = this.attempts.get(request) ?? 1;
    if (this.abortSignal?.aborted) {
      // Retryable: the next attempt has a fresh budget (a create whose outcome is unknown is reconciled first).
      return new HdcError({ ...context, summary: `aborted at the activity's deadline (ACTIVITY_DEADLINE_MINUTES) after ${attempts} attempt(s)`, retryable: true, isTimeout: true });
    }
    if (error instanceof CreateOutcomeUnknownError) {
      // Reported like any other failure of this status or transport error (retryable: the activity
      // reconciles before it creates again); the pipeline just did not repeat it.
      if (error.response) return hdcErrorFromResponse(error.response, context);
      return this.transportError(error.cause, attempts, context);
    }
    if (isRestError(error) && error.statusCode === undefined && typeof error.code === "string") return this.transportError(error, attempts, context);
    if (error instanceof TokenAcquisitionError) {
      return new HdcError({ ...context, code: "tokenAcquisitionFailed", summary: error.message, retryable: isTransientCredentialFailure(error.cause) });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new HdcError({ ...context, summary: `unexpected failure: ${redactSecrets(message)}`, retryable: false });
  }

  private transportError(cause: unknown, attempts: number, context: RequestContext): HdcError {
    const isTimeout = isRestError(cause) && cause.code === TIMEOUT_CODE;
    const summary = isTimeout
      ? `timed out after ${attempts} attempt(s) of ${this.timeoutMs} ms each`
      : `${describeTransportFailure(cause)} (after ${attempts} attempt(s))`;
    return new HdcError({ ...context, summary, retryable: true, isTimeout });
  }

  private context(method: string, path: string): RequestContext {
    return { method, path: apiPath(path), correlationId: this.correlationId };
  }

  private contextOf(request: PipelineRequest, method: string, path: string): RequestContext {
    return { ...this.context(method, path), requestId: request.headers.get("MS-RequestId") };
  }
}

/** Maps the validated app settings onto client options. */
export function createHdcClientFromConfig(config: AppConfig, credential: TokenCredential, log?: (line: string) => void): HdcClient {
  const { settings } = config;
  return new HdcClient({
    baseUrl: settings.HDC_API_BASE_URL,
    credential,
    scope: settings.HDC_SCOPE,
    timeoutMs: settings.HDC_HTTP_TIMEOUT_SECONDS * 1000,
    maxRetries: settings.HDC_MAX_RETRIES,
    retryDelayMs: settings.HDC_RETRY_DELAY_MS,
    log,
  });
}

// ------------------------------------------------------------------------------------------

/** "/hardware/products/1" for messages: leading slash, no query string. */
function apiPath(path: string): string {
  return `/${path.split("?", 1)[0]}`;
}

/** Ids are 64-bit decimal strings; anything else is a caller bug (e.g. an id that went through a number). */
function idSegment(name: string, value: string): string {
  if (typeof value !== "string" || !/^\d+$/.test(value)) {
    throw new TypeError(`${name} must be a decimal string, got ${typeof value === "string" ? JSON.stringify(value) : typeof value}`);
  }
  return value;
}

/**
 * A credential that failed because of configuration (unavailable, or Entra said 4xx) will fail
 * again; anything else (network, Entra 5xx) may not.
 */
function isTransientCredentialFailure(cause: unknown): boolean {
  if (!(cause instanceof Error)) return false;
  if (cause.name === "CredentialUnavailableError") return false;
  const status = (cause as { statusCode?: unknown }).statusCode;
  return !(typeof status === "number" && status >= 400 && status < 500);
}

function invalidResponse(context: RequestContext, why: string): HdcError {
  // A GET can be repeated safely; a repeated POST might create a second product or submission.
  return new HdcError({ ...context, code: "invalidResponse", summary: `invalid response: ${why}`, retryable: context.method === "GET" });
}

function asProduct(value: unknown, context: RequestContext, expectedId?: string): HdcProduct {
  if (!isRecord(value)) throw invalidResponse(context, "expected a product object");
  const id = typeof value.id === "string" ? value.id : expectedId;
  if (id === undefined) throw invalidResponse(context, "the product has no id");
  return { ...value, id };
}

/** Single-submission responses sometimes omit the ids the request path already names. */
function asSubmission(value: unknown, context: RequestContext, productId: string, submissionId?: string): HdcSubmission {
  if (!isRecord(value)) throw invalidResponse(context, "expected a submission object");
  const id = typeof value.id === "string" ? value.id : submissionId;
  if (id === undefined) throw invalidResponse(context, "the submission has no id");
  return { ...value, id, productId: typeof value.productId === "string" ? value.productId : productId };
}

