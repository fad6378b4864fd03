/**
 * The Durable extension's HTTP surface on the local runtime, answering like its HttpApiHandler:
 *  - /durabletask/…                        the RPC routes DurableClient calls when rpcBaseUrl is set (reference 2.2)
 *  - /runtime/webhooks/durabletask/…       the documented webhooks behind createCheckStatusResponse's URLs
 * Status codes, bodies and headers follow the extension's source (HttpApiHandler.cs, DurableClient.cs).
 */
import { IncomingMessage, ServerResponse } from "node:http";
import { WEBHOOK_BODY_LIMITS } from "../../src/domain/requestLimits";
import { readBodyAtMost, sendTooLarge } from "../http/bodyLimits";
import { managementPayload, RPC_PATH, WEBHOOK_PATH } from "./clientBinding";
import { DurableEngine } from "./engine";
import { statusPayload } from "./statusView";
import { DurableArgumentError, InstanceStatus, isTerminal, RuntimeStatus, StatusFilter } from "./types";

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  query: URLSearchParams;
  body: string;
}

/** OrchestrationRuntimeStatus / OrchestrationStatus values (Enum.TryParse takes names and numbers, case-sensitively). */
const RUNTIME_STATUS_VALUES: Record<string, RuntimeStatus> = {
  Running: "Running", Completed: "Completed", ContinuedAsNew: "ContinuedAsNew", Failed: "Failed", Canceled: "Canceled",
  Terminated: "Terminated", Pending: "Pending", Suspended: "Suspended",
  0: "Running", 1: "Completed", 2: "ContinuedAsNew", 3: "Failed", 4: "Canceled", 5: "Terminated", 6: "Pending", 7: "Suspended",
};
/** OrchestrationStatusQueryCondition.PageSize default. */
const DEFAULT_PAGE_SIZE = 100;
const CONTINUATION_HEADER = "x-ms-continuation-token";
/** Seconds the extension asks clients to wait: polling a running instance, and after starting one. */
const STATUS_RETRY_AFTER = "5";
const START_RETRY_AFTER = "10";

class HttpAnswer extends Error {
  constructor(readonly status: number, readonly body?: unknown) {
    super(`HTTP ${status}`);
  }
}

/** `systemKey`: the durabletask_extension key that every management URL carries, as in Azure. */
export function createDurableHttpHandler(engine: DurableEngine, options: { taskHub: string; systemKey?: string }): Handler {
  const api = new DurableHttpApi(engine, options.taskHub, options.systemKey);
  return async (req, res) => {
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
    const prefix = url.pathname.startsWith(RPC_PATH) ? RPC_PATH : url.pathname.startsWith(`${WEBHOOK_PATH}/`) ? `${WEBHOOK_PATH}/` : undefined;
    if (!prefix) return false;
    const segments = url.pathname.slice(prefix.length).replace(/^\/+|\/+$/g, "").split("/").map((s) => decodeURIComponent(s));
    const read = await readBodyAtMost(req, WEBHOOK_BODY_LIMITS.durable.bytes);
    if (!read.ok) {
      sendTooLarge(res, WEBHOOK_BODY_LIMITS.durable.bytes);
      return true;
    }
    const ctx: RequestContext = { req, res, url, query: url.searchParams, body: read.body.toString("utf8") };
    try {
      await api.route(ctx, segments);
    } catch (error) {
      if (error instanceof HttpAnswer) send(res, error.status, error.body);
      // HandleRequestAsync: ArgumentException → 400, anything else → 500; the exception text stays out of the body.
      else if (error instanceof DurableArgumentError) send(res, 400, { Message: "One or more of the arguments submitted is incorrect" });
      else send(res, 500, { Message: "Something went wrong while processing your request" });
    }
    return true;
  };
}

class DurableHttpApi {
  constructor(
    private readonly engine: DurableEngine,
    private readonly taskHub: string,
    private readonly systemKey?: string,
  ) {}

  async route(ctx: RequestContext, segments: string[]): Promise<void> {
    const method = ctx.req.method ?? "GET";
    const [controller, id, operation, name, ...rest] = segments;
    if (controller === "orchestrators" && id && !name) {
      if (method !== "POST") return send(ctx.res, 404);
      return this.start(ctx, id, operation || undefined);
    }
    if (controller === "instances" && segments.length <= 3) {
      if (!id) {
        if (method === "GET") return this.list(ctx);
        if (method === "DELETE") return this.purgeBy(ctx);
        return send(ctx.res, 404);
      }
      if (!operation) {
        if (method === "GET") return this.status(ctx, id);
        if (method === "DELETE") return this.purge(ctx, id);
        return send(ctx.res, 404);
      }
      if (method === "POST") {
        switch (operation.toLowerCase()) {
          case "terminate": return this.terminate(ctx, id);
          case "restart": return this.restart(ctx, id);
          case "rewind":
          case "suspend":
          case "resume":
            return send(ctx.res, 501, { Message: `The ${operation.toLowerCase()} operation is not supported by the local runtime.` });
          default: return send(ctx.res, 404);
        }
      }
      return send(ctx.res, 404);
    }
    if (controller === "instances" && operation === "raiseEvent" && name && rest.length === 0) {
      if (method !== "POST") return send(ctx.res, 404);
      return this.raiseEvent(ctx, id, name);
    }
    return send(ctx.res, 404);
  }

  private async status(ctx: RequestContext, instanceId: string, failedAs500?: boolean): Promise<void> {
    const status = await this.engine.getStatus(instanceId, {
      showHistory: boolParam(ctx.query, "showHistory") ?? false,
      showHistoryOutput: boolParam(ctx.query, "showHistoryOutput") ?? false,
      showInput: boolParam(ctx.query, "showInput") ?? true,
    });
    if (!status) return send(ctx.res, 404);
    const serverErrorOnFailure = failedAs500 ?? boolParam(ctx.query, "returnInternalServerErrorOnFailure") ?? false;
    const running = !isTerminal(status.runtimeStatus);
    const code = running ? 202 : status.runtimeStatus === "Failed" && serverErrorOnFailure ? 500 : 200;
    // 202 carries Location (the request's own URL) and asks for a 5 second pause so clients do not spin.
    const headers: Record<string, string> = running ? { Location: ctx.url.href, "Retry-After": STATUS_RETRY_AFTER } : {};
    send(ctx.res, code, payloadOf(status), headers);
  }

  private async list(ctx: RequestContext): Promise<void> {
    const top = intParam(ctx.query, "top");
    const page = await this.engine.listPage(filterFrom(ctx.query, RUNTIME_STATUS_VALUES), {
      pageSize: top !== undefined && top > 0 ? top : DEFAULT_PAGE_SIZE,
      continuationToken: headerValue(ctx.req, CONTINUATION_HEADER),
      showInput: boolParam(ctx.query, "showInput") ?? true,
    });
    // The extension always adds the header; a null token goes out empty, which ends durable-functions' paging loop.
    send(ctx.res, 200, page.statuses.map((s) => payloadOf(s)), { [CONTINUATION_HEADER]: page.continuationToken ?? "" });
  }

  private async start(ctx: RequestContext, functionName: string, requestedId: string | undefined): Promise<void> {
    let input: unknown = null;
    if (ctx.body.trim() !== "") {
      try {
        input = JSON.parse(ctx.body);
      } catch {
        throw new HttpAnswer(400, { Message: "Invalid JSON content" });
      }
    }
    const id = await this.engine.startNew(functionName, input, requestedId);
    await this.checkStatusOrWait(ctx, id);
  }

  /** RestartAsync: the same name and input, under a new id unless restartWithNewInstanceId=false. */
  private async restart(ctx: RequestContext, instanceId: string): Promise<void> {
    const existing = await this.engine.getStatus(instanceId, { showInput: true });
    if (!existing) throw new HttpAnswer(400, { Message: "InstanceId does not match a valid orchestration instance." });
    const newId = boolParam(ctx.query, "restartWithNewInstanceId") === false ? instanceId : undefined;
    const id = await this.engine.startNew(existing.name, existing.input, newId);
    await this.checkStatusOrWait(ctx, id);
  }

  /** With timeout and pollingInterval (seconds) waits like WaitForCompletionOrCreateCheckStatusResponseAsync. */
  private async checkStatusOrWait(ctx: RequestContext, instanceId: string): Promise<void> {
    const timeout = secondsParam(ctx.query, "timeout");
    const interval = secondsParam(ctx.query, "pollingInterval");
    if (timeout !== undefined && interval !== undefined) {
      if (interval > timeout) throw new DurableArgumentError(`Total timeout ${timeout / 1000} should be bigger than retry timeout ${interval / 1000}`);
      const deadline = Date.now() + timeout;
      for (;;) {
        const status = await this.engine.getStatus(instanceId, { showInput: true });
        if (status?.runtimeStatus === "Completed") return send(ctx.res, 200, status.output ?? null);
        if (status && isTerminal(status.runtimeStatus)) return this.status(ctx, instanceId, false);
        const left = deadline - Date.now();
        if (left <= 0) break;
        await new Promise((resolve) => setTimeout(resolve, Math.min(left, Math.max(interval, 1))));
      }
    }
    const links = managementPayload(ctx.url.origin, this.taskHub, instanceId, this.systemKey);
    const body = {
      id: instanceId,
      statusQueryGetUri: links.statusQueryGetUri,
      sendEventPostUri: links.sendEventPostUri,
      terminatePostUri: links.terminatePostUri,
      purgeHistoryDeleteUri: links.purgeHistoryDeleteUri,
      restartPostUri: links.restartPostUri,
      suspendPostUri: links.suspendPostUri,
      resumePostUri: links.resumePostUri,
    };
    send(ctx.res, 202, body, { Location: links.statusQueryGetUri, "Retry-After": START_RETRY_AFTER });
  }

  private async raiseEvent(ctx: RequestContext, instanceId: string, eventName: string): Promise<void> {
    const status = await this.engine.getStatus(instanceId, { showInput: false });
    if (!status) return send(ctx.res, 404);
    if (isTerminal(status.runtimeStatus)) return send(ctx.res, 410);
    const mediaType = (headerValue(ctx.req, "content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (mediaType !== "application/json") {
      return send(ctx.res, 400, { Message: "Only application/json request content is supported" });
    }
    let data: unknown;
    try {
      data = JSON.parse(ctx.body);
    } catch {
      return send(ctx.res, 400, { Message: "Invalid JSON content" });
    }
    await this.engine.raiseEvent(instanceId, eventName, data);
    send(ctx.res, 202);
  }

  private async terminate(ctx: RequestContext, instanceId: string): Promise<void> {
    const status = await this.engine.getStatus(instanceId, { showInput: false });
    if (!status) return send(ctx.res, 404);
    if (isTerminal(status.runtimeStatus)) return send(ctx.res, 410);
    await this.engine.terminate(instanceId, ctx.query.get("reason"));
    send(ctx.res, 202);
  }

  private async purge(ctx: RequestContext, instanceId: string): Promise<void> {
    if (!(await this.engine.getStatus(instanceId, { showInput: false }))) return send(ctx.res, 404);
    const deleted = await this.engine.purge(instanceId);
    send(ctx.res, 200, { instancesDeleted: deleted ? 1 : 0 });
  }

  private async purgeBy(ctx: RequestContext): Promise<void> {
    const from = dateParam(ctx.query, "createdTimeFrom");
    if (!from) return send(ctx.res, 400, "Please provide value for 'createdTimeFrom' parameter.");
    const filter = filterFrom(ctx.query, RUNTIME_STATUS_VALUES);
    const deleted = await this.engine.purgeBy({ ...filter, createdTimeFrom: from, createdTimeTo: filter.createdTimeTo ?? this.engine.now() }); // "now" on the engine's clock
    if (deleted === 0) return send(ctx.res, 404);
    send(ctx.res, 200, { instancesDeleted: deleted });
  }
}

function payloadOf(status: InstanceStatus): Record<string, unknown> {
  return statusPayload(status, status.history);
}

function filterFrom(query: URLSearchParams, statuses: Record<string, RuntimeStatus>): StatusFilter {
  const runtimeStatus = query.getAll("runtimeStatus")
    .flatMap((value) => value.split(","))
    .map((value) => statuses[value.trim()])
    .filter((value): value is RuntimeStatus => value !== undefined);
  return {
    runtimeStatus: runtimeStatus.length > 0 ? runtimeStatus : undefined,
    createdTimeFrom: dateParam(query, "createdTimeFrom"),
    createdTimeTo: dateParam(query, "createdTimeTo"),
    instanceIdPrefix: query.get("instanceIdPrefix") ?? undefined,
  };
}

/** bool.TryParse: "true"/"false" in any case, surrounding spaces allowed; anything else is "not given". */
function boolParam(query: URLSearchParams, name: string): boolean | undefined {
  const value = query.get(name)?.trim().toLowerCase();
  return value === "true" ? true : value === "false" ? false : undefined;
}

function intParam(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name)?.trim();
  return value && /^[+-]?\d+$/.test(value) ? Number(value) : undefined;
}

/** TimeSpan.FromSeconds(double.TryParse(value)), in milliseconds. */
function secondsParam(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name)?.trim();
  if (!value || !Number.isFinite(Number(value))) return undefined;
  return Number(value) * 1000;
}

/** DateTime.TryParse: an unparseable value counts as not given. */
function dateParam(query: URLSearchParams, name: string): Date | undefined {
  const value = query.get(name);
  if (!value) return undefined;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? undefined : parsed;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { ...(text ? { "Content-Type": "application/json; charset=utf-8" } : {}), ...headers });
  res.end(text);
}
