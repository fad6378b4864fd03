/** The durable client as the triggers use it, plus how to read its errors. */
import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";

/**
 * The client operations our triggers need. createCheckStatusResponse / createHttpManagementPayload
 * are deliberately absent: their URLs carry the extension's system key (see startSubmission.ts).
 */
export type SubmissionsClient = Pick<df.DurableClient, "startNew" | "getStatus" | "getStatusBy" | "terminate" | "purgeInstanceHistoryBy"> &
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

/** startNew on an id whose instance is still running is refused by the host (409 / "already exists"). */
export function isConflictError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /status code: 409\b|already exists/i.test(message);
}

export const TERMINAL_RUNTIME_STATUSES: ReadonlySet<string> = new Set(["Completed", "Failed", "Terminated", "Canceled"]);

/** The instance's status, or undefined when no such instance exists. */
export async function findInstance(client: SubmissionsClient, instanceId: string): Promise<df.DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(instanceId, { showInput: false });
  } catch (error) {
    if (isNotFoundError(error)) return undefined;
    throw error;
  }
}
