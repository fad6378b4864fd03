/**
 * The durable client binding data (OrchestrationClientInputData) the extension hands to functions with a
 * durableClient input; df.getClient(context) reads it. URLs point at the local runtime's HTTP front.
 * As in Azure, every webhook URL carries `code=<durabletask_extension system key>` (the webhooks
 * refuse requests without it). The RPC base (rpcBaseUrl) is the worker's private channel: in Azure
 * the extension serves it on loopback only, here it shares the front's port, so it needs the system
 * key too. The durable client resolves its calls against rpcBaseUrl and drops any query, so the key
 * rides as the URL's password: axios sends it as Basic credentials, which the front accepts on the
 * RPC routes only (runtime.ts).
 */

export const INSTANCE_ID_PLACEHOLDER = "INSTANCEID";
export const WEBHOOK_PATH = "/runtime/webhooks/durabletask";
export const RPC_PATH = "/durabletask/";
/** The user name of the RPC base's credentials; only the password (the system key) is checked. */
export const RPC_USER = "durabletask_extension";

export function durableClientBindingData(baseUrl: string, taskHub: string, systemKey?: string): Record<string, unknown> {
  const origin = baseUrl.replace(/\/+$/, "");
  const webhooks = `${origin}${WEBHOOK_PATH}`;
  const query = `taskHub=${encodeURIComponent(taskHub)}&connection=Storage${systemKey ? `&code=${encodeURIComponent(systemKey)}` : ""}`;
  const instance = `${webhooks}/instances/${INSTANCE_ID_PLACEHOLDER}`;
  return {
    taskHubName: taskHub,
    creationUrls: {
      createNewInstancePostUri: `${webhooks}/orchestrators/{functionName}[/{instanceId}]?${query}`,
      waitOnNewInstancePostUri: `${webhooks}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${query}`,
    },
    managementUrls: {
      id: INSTANCE_ID_PLACEHOLDER,
      statusQueryGetUri: `${instance}?${query}`,
      sendEventPostUri: `${instance}/raiseEvent/{eventName}?${query}`,
      terminatePostUri: `${instance}/terminate?reason={text}&${query}`,
      rewindPostUri: `${instance}/rewind?reason={text}&${query}`,
      purgeHistoryDeleteUri: `${instance}?${query}`,
      restartPostUri: `${instance}/restart?${query}`,
      suspendPostUri: `${instance}/suspend?reason={text}&${query}`,
      resumePostUri: `${instance}/resume?reason={text}&${query}`,
    },
    baseUrl: webhooks,
    requiredQueryStringParameters: query,
    rpcBaseUrl: rpcBaseUrl(origin, systemKey),
  };
}

function rpcBaseUrl(origin: string, systemKey: string | undefined): string {
  const url = new URL(`${origin}${RPC_PATH}`);
  if (systemKey) {
    url.username = RPC_USER;
    url.password = systemKey;
  }
  return url.href;
}

/** The management payload createCheckStatusResponse returns, for one instance. */
export function managementPayload(baseUrl: string, taskHub: string, instanceId: string, systemKey?: string): Record<string, string> {
  const urls = durableClientBindingData(baseUrl, taskHub, systemKey).managementUrls as Record<string, string>;
  const payload: Record<string, string> = {};
  for (const [key, value] of Object.entries(urls)) payload[key] = value.replace(INSTANCE_ID_PLACEHOLDER, encodeURIComponent(instanceId));
  return payload;
}
