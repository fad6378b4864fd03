/**
 * Shipping labels of a signed submission (issue 11), function-key protected like the other routes:
 *   POST  /api/submissions/{id}/labels                    publish again / later: starts publishLabel
 *   GET   /api/submissions/{id}/labels                    every publishLabel run of the submission
 *   PATCH /api/submissions/{id}/labels/{labelId}          add/remove hardware ids and CHIDs, set audiences
 *   POST  /api/submissions/{id}/labels/{labelId}/cancel   cancel in Microsoft Approval or rollout
 *
 * PATCH and cancel are one request each to Hardware Dev Center whose answer the caller wants now
 * (Microsoft's validation errors, "not cancellable"). So the trigger calls the same activity code
 * (updateShippingLabel / cancelShippingLabel, same HDC client and error rules) directly instead of
 * starting an orchestration for one call: nothing durable is needed, and a failure is reported
 * immediately. The cancel leaves its marker in STATE_CONTAINER, which the following publishLabel
 * run reads to report `cancelled` instead of `failed`.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { cancelShippingLabel } from "../activities/cancelShippingLabel";
import { PUBLISH_LABEL_ORCHESTRATOR, type PublishLabelInput, type SubmitDriverInput } from "../activities/contract";
import { getActivityDeps } from "../activities/deps";
import { failureText, isTerminalFailure } from "../activities/errors";
import { updateShippingLabel } from "../activities/updateShippingLabel";
import { getConfig } from "../config";
import type { LabelReport } from "../domain/types";
import type { SubmitDriverSummary } from "../domain/types";
import type { PublishLabelStatus } from "../orchestrators/publishLabel";
import { isSubmitDriverName } from "../orchestrators/versions";
import { parsePublishPolicy } from "../publishing/policySchema";
import { isValidInstanceId, labelInstanceId } from "../domain/instanceId";
import { redactSecrets } from "../domain/redact";
import { durableClientFor, findInstance, type SubmissionsClient, startOrFindRunning, TERMINAL_RUNTIME_STATUSES } from "../instances/durableClient";
import { bodyLimited, bodyLimitOf, readJsonBody } from "./requestBody";
import { HTTP_AUTH_LEVEL } from "./callerGate";
import { apiLink } from "./publicUrls";
import { invalidRequest } from "./validation/fieldProblems";
import { parseLabelUpdate } from "./validation/labelUpdate";

/** publishLabel runs per submission; a bound on the instance lookups of the status view. */
export const MAX_LABEL_RUNS = 20;

export interface LabelRun {
  instanceId: string;
  runtimeStatus: string;
  label?: LabelReport;
}

/** The publishLabel runs of a submission, oldest first (instance ids `<id>-label-<n>`). */
export async function labelRuns(client: SubmissionsClient, submissionInstanceId: string): Promise<LabelRun[]> {
  const runs: LabelRun[] = [];
  for (let n = 1; n <= MAX_LABEL_RUNS; n++) {
    const instanceId = labelInstanceId(submissionInstanceId, n);
    const status = await findInstance(client, instanceId);
    if (!status || status.name !== PUBLISH_LABEL_ORCHESTRATOR) break;
    const custom = status.customStatus as Partial<PublishLabelStatus> | undefined;
    const output = String(status.runtimeStatus) === "Completed" && status.output && typeof status.output === "object" ? (status.output as LabelReport) : undefined;
    const label = custom?.label ?? output;
    runs.push({ instanceId, runtimeStatus: String(status.runtimeStatus), ...(label ? { label } : {}) });
  }
  return runs;
}

const ID_PROBLEM = { field: "id", reason: "must be 1-100 letters, digits, '-' or '_'" };
const notFound = (id: string): HttpResponseInit => ({ status: 404, jsonBody: { error: `no submission with id ${id}` } });

/** The signed submission behind `id`, or the response that refuses the request. */
async function signedSubmission(
  client: SubmissionsClient,
  id: string,
): Promise<{ ok: true; summary: SubmitDriverSummary; input: SubmitDriverInput } | { ok: false; response: HttpResponseInit }> {
  if (!isValidInstanceId(id)) return { ok: false, response: invalidRequest([ID_PROBLEM]) };
  const status = await findInstance(client, id);
  if (!status || !isSubmitDriverName(status.name)) return { ok: false, response: notFound(id) };
  const withInput = await client.getStatus(id, { showInput: true });
  const custom = (withInput.customStatus ?? {}) as { stage?: string; productId?: string; submissionId?: string; signedPackage?: unknown; package?: SubmitDriverSummary["package"] };
  const output = withInput.output && typeof withInput.output === "object" ? (withInput.output as SubmitDriverSummary) : undefined;
  // Signed = the run reached "succeeded" (it may still be Running while its first label is followed).
  const signed = output?.outcome === "succeeded" || (custom.stage === "succeeded" && custom.signedPackage !== undefined);
  if (!signed || !(output?.productId ?? custom.productId) || !(output?.submissionId ?? custom.submissionId)) {
    return {
      ok: false,
      response: { status: 409, jsonBody: { error: `submission ${id} is not signed (yet): labels need a signed submission`, runtimeStatus: String(status.runtimeStatus), stage: custom.stage } },
    };
  }
  const summary = { ...(output ?? {}), productId: (output?.productId ?? custom.productId)!, submissionId: (output?.submissionId ?? custom.submissionId)!, package: (output?.package ?? custom.package)! } as SubmitDriverSummary;
  return { ok: true, summary, input: withInput.input as SubmitDriverInput };
}

export async function handleStartLabel(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id ?? "";
  if (!isValidInstanceId(id)) return invalidRequest([ID_PROBLEM]);
  const body = await readJsonBody(request, bodyLimitOf("startLabel"));
  if (!body.ok) return body.response;
  // Validated before anything is read or started.
  const policy = parsePublishPolicy(body.value);
  if (!policy.ok) return invalidRequest(policy.problems);
  const client = durableClientFor(context);
  const submission = await signedSubmission(client, id);
  if (!submission.ok) return submission.response;

  const runs = await labelRuns(client, id);
  const running = runs.find((run) => !TERMINAL_RUNTIME_STATUSES.has(run.runtimeStatus));
  if (running) return { status: 409, jsonBody: { error: `a label run of submission ${id} is still in progress`, labelRun: running.instanceId, runtimeStatus: running.runtimeStatus } };
  if (runs.length >= MAX_LABEL_RUNS) return { status: 409, jsonBody: { error: `submission ${id} already has ${MAX_LABEL_RUNS} label runs` } };

  const config = getConfig();
  const instanceId = labelInstanceId(id, runs.length + 1);
  const { summary, input } = submission;
  const labelInput: PublishLabelInput = {
    parentInstanceId: id,
    package: summary.package,
    productId: summary.productId,
    submissionId: summary.submissionId,
    product: { productName: input.product.productName, testHarness: input.product.testHarness },
    policy: policy.value,
    polling: config.labelPolling,
    retry: config.retry,
  };
  const start = await startOrFindRunning(client, PUBLISH_LABEL_ORCHESTRATOR, instanceId, labelInput);
  if (!start.started) return { status: 409, jsonBody: { error: `label run ${instanceId} was just started by another request`, runtimeStatus: start.runtimeStatus } };
  context.log(`labels: started ${instanceId} (${policy.value.destination}${policy.value.dryRun ? ", dry run" : ""}) for ${id}`);
  const statusUrl = apiLink(config, `/api/submissions/${encodeURIComponent(id)}/labels`);
  return { status: 202, headers: { Location: statusUrl }, jsonBody: { id, labelRun: instanceId, runtimeStatus: "Pending", statusUrl } };
}

export async function handleListLabels(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id ?? "";
  if (!isValidInstanceId(id)) return invalidRequest([ID_PROBLEM]);
  const client = durableClientFor(context);
  const status = await findInstance(client, id);
  if (!status || !isSubmitDriverName(status.name)) return notFound(id);
  return { status: 200, jsonBody: { id, items: await labelRuns(client, id) } };
}

const LABEL_ID = /^\d{1,20}$/;

/** Runs one label operation against Hardware Dev Center and turns its failure into an HTTP answer. */
async function labelOperation<T>(context: InvocationContext, work: () => Promise<T>): Promise<HttpResponseInit> {
  try {
    return { status: 200, jsonBody: await work() };
  } catch (error) {
    const text = redactSecrets(failureText(error));
    context.warn(`labels: ${text}`);
    if (isTerminalFailure(error)) return { status: /rejected:/.test(text) ? 422 : 409, jsonBody: { error: text } };
    return { status: 502, jsonBody: { error: `Hardware Dev Center did not answer usefully; try again: ${text}` } };
  }
}

export async function handleUpdateLabel(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id ?? "";
  const labelId = request.params.labelId ?? "";
  if (!isValidInstanceId(id)) return invalidRequest([ID_PROBLEM]);
  if (!LABEL_ID.test(labelId)) return invalidRequest([{ field: "labelId", reason: "must be a decimal label id" }]);
  const body = await readJsonBody(request, bodyLimitOf("updateLabel"));
  if (!body.ok) return body.response;
  const update = parseLabelUpdate(body.value);
  if (!update.ok) return invalidRequest(update.problems);
  const submission = await signedSubmission(durableClientFor(context), id);
  if (!submission.ok) return submission.response;
  const { productId, submissionId } = submission.summary;
  return labelOperation(context, async () => ({
    id,
    labelId,
    ...(await updateShippingLabel({ productId, submissionId, labelId, targeting: update.value }, await getActivityDeps((line) => context.log(line)))),
  }));
}

export async function handleCancelLabel(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id ?? "";
  const labelId = request.params.labelId ?? "";
  if (!isValidInstanceId(id)) return invalidRequest([ID_PROBLEM]);
  if (!LABEL_ID.test(labelId)) return invalidRequest([{ field: "labelId", reason: "must be a decimal label id" }]);
  const submission = await signedSubmission(durableClientFor(context), id);
  if (!submission.ok) return submission.response;
  const { productId, submissionId } = submission.summary;
  return labelOperation(context, async () => ({
    id,
    labelId,
    ...(await cancelShippingLabel({ productId, submissionId, labelId }, await getActivityDeps((line) => context.log(line)))),
  }));
}

const common = { authLevel: HTTP_AUTH_LEVEL, extraInputs: [df.input.durableClient()] };
app.http("startLabel", { ...common, route: "submissions/{id}/labels", methods: ["POST"], handler: bodyLimited("startLabel", handleStartLabel) });
app.http("listLabels", { ...common, route: "submissions/{id}/labels", methods: ["GET"], handler: bodyLimited("listLabels", handleListLabels) });
app.http("updateLabel", { ...common, route: "submissions/{id}/labels/{labelId}", methods: ["PATCH"], handler: bodyLimited("updateLabel", handleUpdateLabel) });
app.http("cancelLabel", { ...common, route: "submissions/{id}/labels/{labelId}/cancel", methods: ["POST"], handler: bodyLimited("cancelLabel", handleCancelLabel) });
