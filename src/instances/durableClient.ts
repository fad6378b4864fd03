/** The durable client as the triggers use it, plus how to read its errors. */
import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";

/**
 * The client operations our triggers need. createCheckStatusResponse / createHttpManagementPayload
 * are deliberately absent: their URLs carry the extension's system key (see startSubmission.ts).
 */
export type SubmissionsClient = Pick<df.DurableClient, "startNew" | "getStatus" | "getStatusBy" | "terminate" | "purgeInstanceHistoryBy" | "raiseEvent"> &
  Partial<Pick<df.DurableClient, "taskHubName">>;

/**
 * df.getClient(context), except when the durableClient binding's value already is a client object:
 * unit tests pass a fake that way (the real binding value is connection data, never an object with
 * startNew, so production always takes the df.getClient path).
 */
export function durableClientFor(context: InvocationContext): SubmissionsClient {
  const binding = context.options.extraInputs.find((input) => input.type === "durableClient");
  const provided: unknown = binding ? context.extraInputs.get(binding) : undefined;
  if (provided && typeof (provided as Partial<SubmissionsClient>).startNew === "function") return provided as SubmissionsClient;
  return df.getClient(context);
}

/** getStatus throws on 404 ("…replied with HTTP 404 response…"). */
export function isNotFoundError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /HTTP 404\b|status code: 404\b/.test(message);
}


export const TERMINAL_RUNTIME_STATUSES: ReadonlySet<string> = new Set(["Completed", "Failed", "Terminated", "Canceled"]);

/** The instance's status, or undefined when no such instance exists. */
export async function findInstance(client: SubmissionsClient, instanceId: string, options: { showInput?: boolean } = {}): Promise<df.DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(instanceId, { showInput: options.showInput ?? false });
  } catch (error) {
    if (isNotFoundError(error)) return undefined;
    throw error;
  }
}

/**
 * Starts `name` under `instanceId`; when the start is refused because another caller started the
 * same instance first, says so with that instance's status. The extension answers a duplicate start
 * with a 500 ("Something went wrong…", from its InvalidOperationException), not a 409, so the
 * answer comes from reading the instance, not from the error text.
 */
export async function startOrFindRunning(
  client: SubmissionsClient,
  name: string,
  instanceId: string,
  input: unknown,
): Promise<{ started: true } | { started: false; runtimeStatus: string }> {
  try {
    await client.startNew(name, { instanceId, input });
    return { started: true };
  } catch (error) {
    const existing = await findInstance(client, instanceId).catch(() => undefined);
    if (existing && !TERMINAL_RUNTIME_STATUSES.has(String(existing.runtimeStatus))) {
      return { started: false, runtimeStatus: String(existing.runtimeStatus) };
    }
    throw error;
  }
}
