/**
 * The durable client binding data (OrchestrationClientInputData) the extension hands to functions with a
 * durableClient input; df.getClient(context) reads it. URLs point at the local runtime's HTTP front.
 * As in Azure, every webhook URL carries `code=<durabletask_extension system key>` (the webhooks
 * refuse requests without it); the RPC base (rpcBaseUrl) is the worker's private loopback channel
 * and needs no key.
 */

export const INSTANCE_ID_PLACEHOLDER = "INSTANCEID";
export const WEBHOOK_PATH = "/runtime/webhooks/durabletask";
export const RPC_PATH = "/durabletask/";

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
    rpcBaseUrl: `${origin}${RPC_PATH}`,
  };
}

/** The management payload createCheckStatusResponse returns, for one instance. */
export function managementPayload(baseUrl: string, taskHub: string, instanceId: string, systemKey?: string): Record<string, string> {
  const urls = durableClientBindingData(baseUrl, taskHub, systemKey).managementUrls as Record<string, string>;
  const payload: Record<string, string> = {};
  for (const [key, value] of Object.entries(urls)) payload[key] = value.replace(INSTANCE_ID_PLACEHOLDER, encodeURIComponent(instanceId));
  return payload;
}
