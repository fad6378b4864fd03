/**
 * The Durable extension's HTTP surface on the local runtime:
 *  - /durabletask/…                        the RPC routes DurableClient calls when rpcBaseUrl is set (reference 2.2)
 *  - /runtime/webhooks/durabletask/…       the documented webhooks behind createCheckStatusResponse's URLs
 */
import { IncomingMessage, ServerResponse } from "node:http";
import { managementPayload, RPC_PATH, WEBHOOK_PATH } from "./clientBinding";
import { DurableEngine } from "./engine";
import { InstanceExistsError, isTerminal, StatusFilter } from "./types";

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

interface Route {
  method: string;
  /** Path segments after the prefix, e.g. ["instances", ":id", "raiseEvent", ":name"]; a trailing "" matches "instances/". */
  pattern: string[];
  run: (ctx: RequestContext) => Promise<void>;
}

interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  body: string;
  origin: string;
  webhook: boolean;
}

export function createDurableHttpHandler(engine: DurableEngine, options: { taskHub: string }): Handler {
  const routes = buildRoutes(engine, options.taskHub);
  return async (req, res) => {
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
    const prefix = url.pathname.startsWith(RPC_PATH) ? RPC_PATH : url.pathname.startsWith(`${WEBHOOK_PATH}/`) ? `${WEBHOOK_PATH}/` : undefined;
    if (!prefix) return false;
    const segments = url.pathname.slice(prefix.length).split("/").map((s) => decodeURIComponent(s));
    for (const route of routes) {
      const params = matchRoute(route, req.method ?? "GET", segments);
      if (!params) continue;
      const body = await readBody(req);
      try {
        await route.run({ req, res, params, query: url.searchParams, body, origin: url.origin, webhook: prefix !== RPC_PATH });
      } catch (error) {
        if (error instanceof InstanceExistsError) send(res, 409, { message: error.message });
        else send(res, 500, { message: error instanceof Error ? error.message : String(error) });
      }
      return true;
    }
    return false;
  };
}

function matchRoute(route: Route, method: string, segments: string[]): Record<string, string> | undefined {
  if (route.method !== method) return undefined;
  const optionalTail = route.pattern[route.pattern.length - 1] === ":id?";
  const required = optionalTail ? route.pattern.length - 1 : route.pattern.length;
  if (segments.length !== route.pattern.length && !(optionalTail && segments.length === required)) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const part = route.pattern[i];
    if (part.startsWith(":")) {
      if (!segments[i]) return undefined;
      params[part.replace(/[:?]/g, "")] = segments[i];
    } else if (part !== segments[i]) return undefined;
  }
  return params;
}

function buildRoutes(engine: DurableEngine, taskHub: string): Route[] {
  const status = async (ctx: RequestContext) => {
    const flag = (name: string) => ctx.query.get(name)?.toLowerCase() === "true";
    const found = await engine.getStatus(ctx.params.id, {
      showHistory: flag("showHistory"), showHistoryOutput: flag("showHistoryOutput"),
      showInput: ctx.query.get("showInput")?.toLowerCase() !== "false",
    });
    if (!found) return send(ctx.res, 404, { message: `No instance with ID '${ctx.params.id}' found.` });
    const running = !isTerminal(found.runtimeStatus);
    const headers: Record<string, string> = running ? { Location: ctx.req.url ? `${ctx.origin}${ctx.req.url}` : "", "Retry-After": "10" } : {};
    send(ctx.res, running ? 202 : 200, found, headers);
  };
  const list = async (ctx: RequestContext) => {
    const all = await engine.list(filterFrom(ctx.query));
    // Paging as the extension does it: `top` per page, the next page's token in x-ms-continuation-token.
    const top = Number(ctx.query.get("top") ?? "0");
    if (!(top > 0)) return send(ctx.res, 200, all);
    const after = String(ctx.req.headers["x-ms-continuation-token"] ?? "");
    const rest = all.sort((a, b) => a.instanceId.localeCompare(b.instanceId)).filter((s) => !after || s.instanceId.localeCompare(after) > 0);
    const page = rest.slice(0, top);
    send(ctx.res, 200, page, rest.length > top ? { "x-ms-continuation-token": page[page.length - 1].instanceId } : {});
  };
  const start = async (ctx: RequestContext) => {
    const input = ctx.body.trim() === "" ? undefined : JSON.parse(ctx.body);
    const id = await engine.startNew(ctx.params.name, input, ctx.params.id);
    const payload = managementPayload(ctx.origin, taskHub, id);
    send(ctx.res, 202, { ...payload, id }, { Location: payload.statusQueryGetUri });
  };
  const raise = async (ctx: RequestContext) => {
    const existing = await engine.getStatus(ctx.params.id, { showInput: false });
    if (!existing) return send(ctx.res, 404, { message: `No instance with ID '${ctx.params.id}' found.` });
    if (isTerminal(existing.runtimeStatus)) return send(ctx.res, 410, { message: `Instance '${ctx.params.id}' is ${existing.runtimeStatus}.` });
    await engine.raiseEvent(ctx.params.id, ctx.params.name, ctx.body.trim() === "" ? null : JSON.parse(ctx.body));
    send(ctx.res, 202);
  };
  const terminate = async (ctx: RequestContext) => {
    const existing = await engine.getStatus(ctx.params.id, { showInput: false });
    if (!existing) return send(ctx.res, 404, { message: `No instance with ID '${ctx.params.id}' found.` });
    if (isTerminal(existing.runtimeStatus)) return send(ctx.res, 410, { message: `Instance '${ctx.params.id}' is ${existing.runtimeStatus}.` });
    await engine.terminate(ctx.params.id, ctx.query.get("reason") ?? "");
    send(ctx.res, 202);
  };
  const purge = async (ctx: RequestContext) => {
    const deleted = await engine.purge(ctx.params.id);
    send(ctx.res, deleted ? 200 : 404, { instancesDeleted: deleted ? 1 : 0 });
  };
  const purgeBy = async (ctx: RequestContext) => {
    const deleted = await engine.purgeBy(filterFrom(ctx.query));
    send(ctx.res, deleted > 0 ? 200 : 404, { instancesDeleted: deleted });
  };
  return [
    { method: "POST", pattern: ["orchestrators", ":name", ":id?"], run: start },
    { method: "GET", pattern: ["instances", ""], run: list },
    { method: "GET", pattern: ["instances"], run: list },
    { method: "DELETE", pattern: ["instances", ""], run: purgeBy },
    { method: "DELETE", pattern: ["instances"], run: purgeBy },
    { method: "GET", pattern: ["instances", ":id"], run: status },
    { method: "DELETE", pattern: ["instances", ":id"], run: purge },
    { method: "POST", pattern: ["instances", ":id", "raiseEvent", ":name"], run: raise },
    { method: "POST", pattern: ["instances", ":id", "terminate"], run: terminate },
  ];
}

function filterFrom(query: URLSearchParams): StatusFilter {
  const date = (name: string) => (query.get(name) ? new Date(query.get(name) as string) : undefined);
  const statuses = query.get("runtimeStatus");
  return {
    runtimeStatus: statuses ? statuses.split(",").map((s) => s.trim()).filter(Boolean) : undefined,
    createdTimeFrom: date("createdTimeFrom"),
    createdTimeTo: date("createdTimeTo"),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { ...(text ? { "Content-Type": "application/json" } : {}), ...headers });
  res.end(text);
}
