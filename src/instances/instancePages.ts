/**
 * One bounded page of orchestration instances. durable-functions' getStatusBy follows every
 * x-ms-continuation-token itself (it would read the whole task hub per request), so the list endpoint
 * calls the extension's instance query directly with `top` and at most one continuation token, the
 * same HTTP API the client uses (its RPC endpoint on the worker's loopback, rpcBaseUrl, or the
 * documented webhook when the binding has none). Nothing from the binding data (it carries the
 * extension's system key in the webhook form) leaves this module.
 */
import type { InvocationContext } from "@azure/functions";
import type { DurableOrchestrationStatus, OrchestrationRuntimeStatus } from "durable-functions";

export interface InstanceQuery {
  top: number;
  /** The extension's own continuation token, as it sent it. */
  continuationToken?: string;
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  runtimeStatus?: OrchestrationRuntimeStatus[] | string[];
  /** With each instance's input (the list reads owners from it). */
  showInput?: boolean;
}

export interface InstancePage {
  instances: DurableOrchestrationStatus[];
  continuationToken?: string;
}

export type InstancePager = (query: InstanceQuery) => Promise<InstancePage>;

interface ClientBindingData {
  rpcBaseUrl?: string;
  managementUrls?: { id?: string; statusQueryGetUri?: string };
}

const CONTINUATION_HEADER = "x-ms-continuation-token";

/** The query URL for one page; exported for tests. */
export function instanceQueryUrl(data: ClientBindingData, query: InstanceQuery): string {
  const params = new URLSearchParams();
  params.set("top", String(query.top));
  params.set("showInput", query.showInput ? "true" : "false");
  if (query.createdTimeFrom) params.set("createdTimeFrom", query.createdTimeFrom.toISOString());
  if (query.createdTimeTo) params.set("createdTimeTo", query.createdTimeTo.toISOString());
  if (query.runtimeStatus && query.runtimeStatus.length > 0) params.set("runtimeStatus", query.runtimeStatus.join(","));
  if (data.rpcBaseUrl) return `${new URL("instances/", data.rpcBaseUrl).href}?${params}`;
  const template = data.managementUrls?.statusQueryGetUri;
  const placeholder = data.managementUrls?.id;
  if (!template || !placeholder) throw new Error("The durable client binding has neither rpcBaseUrl nor management URLs");
  const url = new URL(template.replace(`/${placeholder}`, "/"));
  for (const [key, value] of params) url.searchParams.set(key, value);
  return url.href;
}

/**
 * fetch refuses a URL with credentials; axios (the durable client) sends them as Basic credentials.
 * A base URL that carries some (the local runtime's RPC base does) gets the same header here.
 */
export function withoutCredentials(href: string): { url: string; authorization?: string } {
  const url = new URL(href);
  if (!url.username && !url.password) return { url: href };
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = "";
  url.password = "";
  return { url: url.href, authorization: `Basic ${Buffer.from(credentials, "utf8").toString("base64")}` };
}

export function httpInstancePager(data: ClientBindingData): InstancePager {
  return async (query) => {
    const { url, authorization } = withoutCredentials(instanceQueryUrl(data, query));
    const headers: Record<string, string> = query.continuationToken ? { [CONTINUATION_HEADER]: query.continuationToken } : {};
    if (authorization) headers.authorization = authorization;
    const response = await fetch(url, { headers });
    if (response.status !== 200) {
      // The body may echo the request URL (with the webhook's key): only the status goes into the error.
      await response.arrayBuffer().catch(() => undefined);
      throw new Error(`Listing orchestration instances failed with HTTP ${response.status}`);
    }
    const instances = (await response.json()) as DurableOrchestrationStatus[];
    const next = response.headers.get(CONTINUATION_HEADER);
    return { instances: Array.isArray(instances) ? instances : [], continuationToken: next ? next : undefined };
  };
}

/**
 * The pager for this invocation: from the durableClient binding data; or, when the binding's value
 * already is an object with listInstancesPage (unit tests hand in a fake that way), that function.
 */
export function instancePagerFor(context: InvocationContext): InstancePager {
  const binding = context.options.extraInputs.find((input) => input.type === "durableClient");
  const value: unknown = binding ? context.extraInputs.get(binding) : undefined;
  const provided = (value as { listInstancesPage?: InstancePager } | undefined)?.listInstancesPage;
  if (typeof provided === "function") return provided;
  const data = (typeof value === "string" ? JSON.parse(value) : value) as ClientBindingData | undefined;
  if (!data || typeof data !== "object") throw new Error("No durable client binding data");
  return httpInstancePager(data);
}
