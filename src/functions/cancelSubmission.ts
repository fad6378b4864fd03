/** POST /api/submissions/{id}/cancel: terminate a submission that is still running. */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { isListedSubmissionName } from "../orchestrators/versions";
import { isValidInstanceId } from "../domain/instanceId";
import { durableClientFor, findInstance, type SubmissionsClient, TERMINAL_RUNTIME_STATUSES } from "../instances/durableClient";
import type { DurableOrchestrationStatus } from "durable-functions";
import { getConfig } from "../config";
import { queueNotifications } from "../notifications/queue";
import { redactSecrets } from "../domain/redact";
import { toSubmissionView } from "../domain/submissionView";
import { invalidRequest } from "./validation/fieldProblems";
import { bodyLimited } from "./requestBody";
import { mayTouchInstance } from "./access";
import { HTTP_AUTH_LEVEL } from "./callerGate";

/** Fixed text: it is stored as the instance's output and shown to users. */
export const CANCEL_REASON = "canceled by request";

export async function handleCancelSubmission(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id ?? "";
  if (!isValidInstanceId(id)) return invalidRequest([{ field: "id", reason: "must be 1-100 letters, digits, '-' or '_'" }]);
  const client = durableClientFor(context);
  const status = await findInstance(client, id, { showInput: true });
  if (!status || !isListedSubmissionName(status.name) || !mayTouchInstance(context, "submission.cancel", status)) {
    return { status: 404, jsonBody: { error: `no submission with id ${id}` } };
  }
  const runtimeStatus = String(status.runtimeStatus);
  if (TERMINAL_RUNTIME_STATUSES.has(runtimeStatus)) {
    return { status: 409, jsonBody: { error: `submission ${id} has already finished`, runtimeStatus } };
  }
  // Microsoft keeps processing a committed submission; terminating only stops our waiting for it.
  await client.terminate(id, CANCEL_REASON);
  context.log(`cancelSubmission: terminating ${id} (was ${runtimeStatus})`);
  await notifyCancelled(client, status, context);
  return { status: 202, jsonBody: { id, runtimeStatus: "Terminating", previousRuntimeStatus: runtimeStatus } };
}

/** Terminate runs no orchestrator code, so the "cancelled" notification is queued here (best effort). */
async function notifyCancelled(client: SubmissionsClient, status: DurableOrchestrationStatus, context: InvocationContext): Promise<void> {
  try {
    const view = { ...toSubmissionView(status), stage: "terminated" as const, runtimeStatus: "Terminated" };
    await queueNotifications(client, getConfig(), view, "cancelled", new Date().toISOString());
  } catch (error) {
    context.warn(`cancelSubmission: could not queue the cancel notification of ${status.instanceId}: ${redactSecrets(String(error))}`);
  }
}

app.http("cancelSubmission", {
  route: "submissions/{id}/cancel",
  methods: ["POST"],
  authLevel: HTTP_AUTH_LEVEL,
  extraInputs: [df.input.durableClient()],
  handler: bodyLimited("cancelSubmission", "submission.cancel", handleCancelSubmission),
});
