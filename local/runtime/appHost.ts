/**
 * Loads the app's compiled entry with the functions-core stand-in in place and invokes the
 * captured functions the way the Functions worker does: real handler, real InvocationContext,
 * durable client binding data for `durableClient` inputs, real HttpRequest/HttpResponse.
 */
import "../functionsHost/installCoreStandIn";
import { randomUUID } from "node:crypto";
import * as path from "node:path";
import { HttpRequest, HttpResponse, InvocationContext } from "@azure/functions";
import type { FunctionInput, FunctionTrigger, HttpResponseInit, LogLevel } from "@azure/functions";
import { getRegisteredFunctions, triggerOf } from "../functionsHost/installCoreStandIn";
import type { CapturedBinding, CapturedFunction } from "../functionsHost/coreStandIn";
import type { AuthLevel } from "./keys";

/** Where `tsc` puts the app's entry relative to dist/local/runtime. */
export const DEFAULT_APP_ENTRY = path.resolve(__dirname, "../../src/index.js");

export interface HttpTriggerInfo {
  functionName: string;
  /** Route template without the "api/" prefix, e.g. "submissions/{id}". */
  route: string;
  /** Upper-case methods; empty means any method (as in Functions). */
  methods: string[];
  /** The trigger's authLevel ("anonymous" when not set, as @azure/functions registers it). */
  authLevel: AuthLevel;
}

export interface PlainHttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  params: Record<string, string>;
  /** Bytes, or a stream the handler pulls from (as with the library's HTTP streaming). */
  body?: Buffer | ReadableStream<Uint8Array>;
}

export interface PlainHttpResponse {
  status: number;
  headers: [string, string][];
  body: Buffer;
}

export interface AppHostOptions {
  /** Durable client binding data for functions with a `durableClient` input (see local/durable/clientBinding.ts). */
  durableClientData: () => unknown;
  /** Where app and runtime log lines go; stdout is kept for the runtime's ready line. */
  log?: (line: string) => void;
}

export class AppHost {
  private readonly log: (line: string) => void;

  constructor(
    private readonly functions: Map<string, CapturedFunction>,
    private readonly options: AppHostOptions,
  ) {
    this.log = options.log ?? ((line) => process.stderr.write(line + "\n"));
  }

  /** Requires the app entry once; its app.* / df.app.* calls land in the stand-in's registry. */
  static load(entry: string, options: AppHostOptions): AppHost {
    require(entry);
    const functions = getRegisteredFunctions();
    if (functions.size === 0) throw new Error(`The app at ${entry} registered no functions`);
    return new AppHost(functions, options);
  }

  names(): string[] {
    return [...this.functions.keys()];
  }

  has(name: string): boolean {
    return this.functions.has(name);
  }

  triggerType(name: string): string {
    return triggerOf(this.get(name)).type;
  }

  /** Names of functions whose trigger binding is of the given type (e.g. "eventGridTrigger"). */
  functionsWithTrigger(type: string): string[] {
    return [...this.functions.values()].filter((fn) => triggerOf(fn).type === type).map((fn) => fn.name);
  }

  httpTriggers(): HttpTriggerInfo[] {
    return this.functionsWithTrigger("httpTrigger").map((name) => {
      const trigger = triggerOf(this.get(name));
      const methods = Array.isArray(trigger.methods) ? (trigger.methods as string[]).map((m) => m.toUpperCase()) : [];
      const route = typeof trigger.route === "string" && trigger.route.length > 0 ? trigger.route : name;
      return { functionName: name, route: route.replace(/^\/+|\/+$/g, ""), methods, authLevel: authLevelOf(name, trigger.authLevel) };
    });
  }

  /** Invokes any non-HTTP function with its trigger input; returns the handler's result. */
  async invoke(name: string, triggerInput: unknown, triggerMetadata: Record<string, unknown> = {}): Promise<unknown> {
    const fn = this.get(name);
    return fn.handler(triggerInput, this.contextFor(fn, triggerMetadata));
  }

  /** Invokes an HTTP-triggered function and returns its response as plain status/headers/bytes. */
  async invokeHttp(name: string, request: PlainHttpRequest): Promise<PlainHttpResponse> {
    const fn = this.get(name);
    const httpRequest = request.body instanceof ReadableStream ? streamedRequest(request, request.body) : bufferedRequest(request, request.body);
    // HTTP trigger metadata carries the route params and query, as the worker's does.
    const metadata = { ...request.params, query: Object.fromEntries(new URL(request.url).searchParams) };
    const result = await fn.handler(httpRequest, this.contextFor(fn, metadata));
    return toPlainResponse(result);
  }

  private get(name: string): CapturedFunction {
    const fn = this.functions.get(name);
    if (!fn) throw new Error(`No function named "${name}" is registered (have: ${this.names().join(", ")})`);
    return fn;
  }

  private contextFor(fn: CapturedFunction, triggerMetadata: Record<string, unknown>): InvocationContext {
    const trigger = triggerOf(fn);
    const inputs = Object.values(fn.bindings).filter((b) => b.direction === "in" && b !== trigger);
    const outputs = Object.values(fn.bindings).filter((b) => b.direction === "out" && b.name !== "$return");
    const invocationId = randomUUID();
    const context = new InvocationContext({
      functionName: fn.name,
      invocationId,
      logHandler: (level: LogLevel, ...args: unknown[]) => this.log(`[${fn.name}] ${level}: ${args.map(formatLogArg).join(" ")}`),
      options: {
        trigger: asBinding<FunctionTrigger>(trigger),
        extraInputs: inputs.map((b) => asBinding<FunctionInput>(b)),
        extraOutputs: outputs.map((b) => asBinding<FunctionInput>(b)),
      },
      triggerMetadata,
    });
    for (const input of inputs) {
      if (input.type === "durableClient" || input.type === "orchestrationClient") {
        context.extraInputs.set(asBinding<FunctionInput>(input), this.options.durableClientData());
      }
    }
    return context;
  }
}

function bufferedRequest(request: PlainHttpRequest, body: Buffer | undefined): HttpRequest {
  return new HttpRequest({
    method: request.method,
    url: request.url,
    headers: request.headers,
    params: request.params,
    query: Object.fromEntries(new URL(request.url).searchParams),
    ...(body !== undefined && body.length > 0 ? { body: { bytes: body } } : {}),
  });
}

/**
 * What the library builds with HTTP streaming on (its createStreamRequest): a fetch Request over the
 * body stream, handed to HttpRequest as its native request, so request.body / json() pull from it.
 */
function streamedRequest(request: PlainHttpRequest, body: ReadableStream<Uint8Array>): HttpRequest {
  const native = new Request(request.url, { method: request.method, headers: request.headers, body, duplex: "half" } as RequestInit);
  return new HttpRequest({ nativeRequest: native, params: request.params } as unknown as ConstructorParameters<typeof HttpRequest>[0]);
}

function authLevelOf(functionName: string, value: unknown): AuthLevel {
  if (value === undefined || value === null || value === "") return "anonymous";
  const level = String(value).toLowerCase();
  if (level === "anonymous" || level === "function" || level === "admin") return level;
  // The host refuses to index a function with an unknown level; so does the local runtime.
  throw new Error(`Function "${functionName}" has authLevel "${String(value)}"; expected anonymous, function or admin`);
}

function asBinding<T extends { type: string; name: string }>(binding: CapturedBinding): T {
  return { ...binding, name: binding.name ?? binding.type } as unknown as T;
}

function formatLogArg(arg: unknown): string {
  if (typeof arg === "string") return arg;
  if (arg instanceof Error) return arg.stack ?? arg.message;
  try {
    return JSON.stringify(arg);
  } catch {
    return String(arg);
  }
}

/** Normalises whatever the handler returned (HttpResponse, HttpResponseInit, undefined) like the worker. */
export async function toPlainResponse(result: unknown): Promise<PlainHttpResponse> {
  const response = result instanceof HttpResponse ? result : new HttpResponse((result ?? {}) as HttpResponseInit);
  const headers: [string, string][] = [];
  response.headers.forEach((value, key) => headers.push([key, value]));
  for (const cookie of response.cookies) headers.push(["set-cookie", `${cookie.name}=${cookie.value}`]);
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers, body };
}
