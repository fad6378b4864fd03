/**
 * Shipping labels of a signed submission (issue 11), function-key protected like the other routes:
 *   POST  /api/submissions/{id}/labels                    publish again / later: starts publishLabel
 *   GET   /api/submissions/{id}/labels                    every publishLabel run of the submission
 *   PATCH /api/submissions/{id}/labels/{labelId}          add/remove hardware ids and CHIDs, set audiences
 *   POST  /api/submissions/{id}/labels/{labelId}/cancel   cancel in Microsoft Approval or rollout
 *
 *   GET   /api/submissions/{id}/labels/{labelId}/changes/{n}  outcome of the n-th PATCH / cancel
 *
 * PATCH and cancel are background work (issue 30): Microsoft's answers with the HDC client's
 * retries (120 s × 4) and ours can outlast the 230 s Azure's front end gives an HTTP call. The
 * trigger validates and checks the label's phase, then starts a changeLabel orchestration under a
 * fixed id per change and answers 202 with the change's status location. The cancel leaves its
 * marker in STATE_CONTAINER, which the following publishLabel run reads to report `cancelled`.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { CHANGE_LABEL_ORCHESTRATOR, type ChangeLabelInput, PUBLISH_LABEL_ORCHESTRATOR, type PublishLabelInput, type SubmitDriverInput } from "../activities/contract";
import type { LabelChangeStatus } from "../domain/labelChange";
import type { LabelTargetingUpdate } from "../domain/publishing";
import { getConfig } from "../config";
import type { LabelReport } from "../domain/types";
import type { SubmitDriverSummary } from "../domain/types";
import type { PublishLabelStatus } from "../orchestrators/publishLabel";
import { isSubmitDriverName } from "../orchestrators/versions";
import { parsePublishPolicy } from "../publishing/policySchema";
import { isValidInstanceId, labelChangeInstanceId, labelInstanceId } from "../domain/instanceId";
import { durableClientFor, findInstance, type SubmissionsClient, startOrFindRunning, TERMINAL_RUNTIME_STATUSES } from "../instances/durableClient";
import { bodyLimited, bodyLimitOf, readJsonBody } from "./requestBody";
import { mayTouchInstance, ownerOfCaller } from "./access";
import { newLabelApproval } from "./labelApproval";
import { ownerIn } from "../domain/authorization";
import { callerOf } from "../identity/caller";
import { notificationsConfigured } from "../notifications/queue";
import type { Action } from "../domain/authorization";
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
  context: InvocationContext,
  action: Action,
): Promise<{ ok: true; summary: SubmitDriverSummary; input: SubmitDriverInput } | { ok: false; response: HttpResponseInit }> {
  if (!isValidInstanceId(id)) return { ok: false, response: invalidRequest([ID_PROBLEM]) };
  const withInput = await findInstance(client, id, { showInput: true });
  // Someone else's submission is not found (issue 32).
  if (!withInput || !isSubmitDriverName(withInput.name) || !mayTouchInstance(context, action, withInput)) return { ok: false, response: notFound(id) };
  const status = withInput;
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
  const submission = await signedSubmission(client, id, context, "label.create");
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
    // Issue 34: the requester is the caller (the submission's recorded owner if the caller has no principal).
    ...approvalWithNotify(policy.value, ownerOfCaller(callerOf(context)) ?? ownerIn(input), config),
  };
  const start = await startOrFindRunning(client, PUBLISH_LABEL_ORCHESTRATOR, instanceId, labelInput);
  if (!start.started) return { status: 409, jsonBody: { error: `label run ${instanceId} was just started by another request`, runtimeStatus: start.runtimeStatus } };
  context.log(`labels: started ${instanceId} (${policy.value.destination}${policy.value.dryRun ? ", dry run" : ""}) for ${id}`);
  const statusUrl = apiLink(config, `/api/submissions/${encodeURIComponent(id)}/labels`);
  return { status: 202, headers: { Location: statusUrl }, jsonBody: { id, labelRun: instanceId, runtimeStatus: "Pending", statusUrl } };
}

/** The approval field of a new label run, and `notify` (webhooks for requested / decided) when it waits and webhooks are configured. */
function approvalWithNotify(policy: PublishLabelInput["policy"], requester: { objectId: string; name?: string } | undefined, config: ReturnType<typeof getConfig>): Pick<PublishLabelInput, "approval" | "notify"> {
  const field = newLabelApproval(policy, requester, config);
  return field.approval ? { ...field, ...(notificationsConfigured(config) ? { notify: true } : {}) } : {};
}

export async function handleListLabels(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id ?? "";
  if (!isValidInstanceId(id)) return invalidRequest([ID_PROBLEM]);
  const client = durableClientFor(context);
  const status = await findInstance(client, id, { showInput: true });
  if (!status || !isSubmitDriverName(status.name) || !mayTouchInstance(context, "label.list", status)) return notFound(id);
  const runs = await labelRuns(client, id);
  // Each label's changes (PATCH / cancel), with the outcome; under the newest run that shows the label.
  const seen = new Set<string>();
  const items: (LabelRun & { changes?: (LabelChangeStatus & { change: number; statusUrl: string })[] })[] = [];
  for (const run of [...runs].reverse()) {
    const labelId = run.label?.labelId;
    if (!labelId || seen.has(labelId)) {
      items.unshift(run);
      continue;
    }
    seen.add(labelId);
    const changes = await labelChanges(client, id, labelId);
    items.unshift(changes.length ? { ...run, changes: changes.map((c) => ({ ...c.status, change: c.change, statusUrl: changeStatusUrl(id, labelId, c.change) })) } : run);
  }
  return { status: 200, jsonBody: { id, items } };
}

const LABEL_ID = /^\d{1,20}$/;
const LABEL_ID_PROBLEM = { field: "labelId", reason: "must be a decimal label id" };
/** Changes per label; a bound on the instance lookups (ids `<id>-lbl-<labelId>-chg-<n>`). */
export const MAX_LABEL_CHANGES = 100;

export interface LabelChangeRun {
  change: number;
  instanceId: string;
  runtimeStatus: string;
  status: LabelChangeStatus;
}

/** What a change instance says of itself, also before its first episode and after a crash of its own. */
function changeStatusOf(status: { runtimeStatus: unknown; customStatus?: unknown; output?: unknown; input?: unknown }, labelId: string): LabelChangeStatus {
  const runtimeStatus = String(status.runtimeStatus);
  const output = runtimeStatus === "Completed" && status.output && typeof status.output === "object" ? (status.output as LabelChangeStatus) : undefined;
  const custom = status.customStatus && typeof status.customStatus === "object" ? (status.customStatus as LabelChangeStatus) : undefined;
  const known = output ?? custom;
  const kind = known?.kind ?? ((status.input as Partial<ChangeLabelInput> | undefined)?.kind === "cancel" ? "cancel" : "update");
  if (TERMINAL_RUNTIME_STATUSES.has(runtimeStatus) && known?.state !== "succeeded" && known?.state !== "failed") {
    return { ...known, kind, labelId, state: "failed", reason: `the change's orchestration ended ${runtimeStatus}` };
  }
  return known ?? { kind, labelId, state: "running" };
}

/** The changes of one label, oldest first. */
export async function labelChanges(client: SubmissionsClient, submissionInstanceId: string, labelId: string): Promise<LabelChangeRun[]> {
  const changes: LabelChangeRun[] = [];
  for (let n = 1; n <= MAX_LABEL_CHANGES; n++) {
    const instanceId = labelChangeInstanceId(submissionInstanceId, labelId, n);
    const status = await findInstance(client, instanceId);
    if (!status || status.name !== CHANGE_LABEL_ORCHESTRATOR) break;
    changes.push({ change: n, instanceId, runtimeStatus: String(status.runtimeStatus), status: changeStatusOf(status, labelId) });
  }
  return changes;
}

/** Our own status route of a change, built on PUBLIC_BASE_URL like every link we hand out (publicUrls.ts). */
function changeStatusUrl(id: string, labelId: string, n: number): string {
  return apiLink(getConfig(), `/api/submissions/${encodeURIComponent(id)}/labels/${encodeURIComponent(labelId)}/changes/${n}`);
}

/**
 * Validated and checked in the trigger (400 naming the field, 404 for an unknown submission or label,
 * 409 for a change that cannot apply in the label's phase or while another change runs), then started
 * as a changeLabel orchestration under the label's next change id; 202 with our own status location.
 */
async function startLabelChange(
  request: HttpRequest,
  context: InvocationContext,
  kind: "update" | "cancel",
  readChange: () => Promise<{ ok: true; targeting?: LabelTargetingUpdate } | { ok: false; response: HttpResponseInit }>,
): Promise<HttpResponseInit> {
  const id = request.params.id ?? "";
  const labelId = request.params.labelId ?? "";
  if (!isValidInstanceId(id)) return invalidRequest([ID_PROBLEM]);
  if (!LABEL_ID.test(labelId)) return invalidRequest([LABEL_ID_PROBLEM]);
  const change = await readChange();
  if (!change.ok) return change.response;
  const client = durableClientFor(context);
  const submission = await signedSubmission(client, id, context, kind === "update" ? "label.change" : "label.cancel");
  if (!submission.ok) return submission.response;

  // The label as our publishLabel runs last saw it (newest run first).
  const run = (await labelRuns(client, id)).reverse().find((candidate) => candidate.label?.labelId === labelId);
  if (!run?.label) return { status: 404, jsonBody: { error: `submission ${id} has no shipping label ${labelId}` } };
  const label = run.label;
  const refused = phaseRefusal(kind, labelId, label);
  if (refused) return refused;

  const changes = await labelChanges(client, id, labelId);
  const last = changes[changes.length - 1];
  if (last && !TERMINAL_RUNTIME_STATUSES.has(last.runtimeStatus)) {
    return {
      status: 409,
      jsonBody: { error: `a change of shipping label ${labelId} is still running; one change per label at a time`, statusUrl: changeStatusUrl(id, labelId, last.change), state: last.status.state },
    };
  }
  if (kind === "cancel" && label.cancelRequested) {
    return { status: 200, jsonBody: { id, labelId, cancelRequested: true, alreadyRequested: true } };
  }
  if (changes.length >= MAX_LABEL_CHANGES) return { status: 409, jsonBody: { error: `shipping label ${labelId} already has ${MAX_LABEL_CHANGES} changes` } };

  const n = changes.length + 1;
  const instanceId = labelChangeInstanceId(id, labelId, n);
  const { productId, submissionId } = submission.summary;
  const base = { parentInstanceId: id, productId, submissionId, labelId, retry: getConfig().retry };
  const input: ChangeLabelInput = kind === "update" ? { ...base, kind, targeting: change.targeting! } : { ...base, kind };
  const start = await startOrFindRunning(client, CHANGE_LABEL_ORCHESTRATOR, instanceId, input);
  const statusUrl = changeStatusUrl(id, labelId, n);
  if (!start.started) return { status: 409, jsonBody: { error: `change ${n} of shipping label ${labelId} was just started by another request`, statusUrl } };
  context.log(`labels: started ${instanceId} (${kind} of label ${labelId})`);
  return { status: 202, headers: { Location: statusUrl, "Retry-After": "5" }, jsonBody: { id, labelId, change: n, kind, state: "running", statusUrl } };
}

/** 409 with why, when the label's last known phase rules the change out (Microsoft would refuse it). */
function phaseRefusal(kind: "update" | "cancel", labelId: string, label: LabelReport): HttpResponseInit | undefined {
  const phase = label.phase;
  if (kind === "update") {
    if (phase === "failed" || phase === "cancelled" || phase === "rejected") {
      return { status: 409, jsonBody: { error: `shipping label ${labelId} is ${phase}; its targeting cannot be changed any more`, phase } };
    }
    if (label.cancelRequested) return { status: 409, jsonBody: { error: `shipping label ${labelId} is being cancelled; its targeting cannot be changed`, phase } };
    return undefined;
  }
  if (phase === "cancelled" || label.cancelRequested) return undefined; // answered idempotently after the running-change check
  if (phase === "published" || phase === "shared" || phase === "failed" || phase === "rejected") {
    return { status: 409, jsonBody: { error: `Shipping label ${labelId} is ${phase}; a label can only be cancelled in Microsoft Approval or the gradual rollout`, phase } };
  }
  return undefined;
}

export async function handleUpdateLabel(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return startLabelChange(request, context, "update", async () => {
    const body = await readJsonBody(request, bodyLimitOf("updateLabel"));
    if (!body.ok) return body;
    const update = parseLabelUpdate(body.value);
    if (!update.ok) return { ok: false, response: invalidRequest(update.problems) };
    return { ok: true, targeting: update.value };
  });
}

export async function handleCancelLabel(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return startLabelChange(request, context, "cancel", async () => ({ ok: true }));
}

/** GET .../labels/{labelId}/changes/{n}: the outcome of one change (running, succeeded, failed with why). */
export async function handleLabelChangeStatus(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id ?? "";
  const labelId = request.params.labelId ?? "";
  const n = Number(request.params.change ?? "");
  if (!isValidInstanceId(id)) return invalidRequest([ID_PROBLEM]);
  if (!LABEL_ID.test(labelId)) return invalidRequest([LABEL_ID_PROBLEM]);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LABEL_CHANGES) return invalidRequest([{ field: "change", reason: `must be a change number from 1 to ${MAX_LABEL_CHANGES}` }]);
  const client = durableClientFor(context);
  // A change is the submission's: someone else's submission has no changes to show.
  const submission = await findInstance(client, id, { showInput: true });
  if (!submission || !isSubmitDriverName(submission.name) || !mayTouchInstance(context, "label.changeStatus", submission)) return notFound(id);
  const instanceId = labelChangeInstanceId(id, labelId, n);
  const found = await findInstance(client, instanceId);
  if (!found || found.name !== CHANGE_LABEL_ORCHESTRATOR) return { status: 404, jsonBody: { error: `no change ${n} of shipping label ${labelId} on submission ${id}` } };
  const status = await client.getStatus(instanceId, { showInput: true });
  const runtimeStatus = String(status.runtimeStatus);
  return {
    status: 200,
    headers: TERMINAL_RUNTIME_STATUSES.has(runtimeStatus) ? {} : { "Retry-After": "5" },
    jsonBody: { id, change: n, runtimeStatus, ...changeStatusOf(status, labelId), statusUrl: changeStatusUrl(id, labelId, n) },
  };
}

const common = { authLevel: HTTP_AUTH_LEVEL, extraInputs: [df.input.durableClient()] };
app.http("startLabel", { ...common, route: "submissions/{id}/labels", methods: ["POST"], handler: bodyLimited("startLabel", "label.create", handleStartLabel) });
app.http("listLabels", { ...common, route: "submissions/{id}/labels", methods: ["GET"], handler: bodyLimited("listLabels", "label.list", handleListLabels) });
app.http("updateLabel", { ...common, route: "submissions/{id}/labels/{labelId}", methods: ["PATCH"], handler: bodyLimited("updateLabel", "label.change", handleUpdateLabel) });
app.http("cancelLabel", { ...common, route: "submissions/{id}/labels/{labelId}/cancel", methods: ["POST"], handler: bodyLimited("cancelLabel", "label.cancel", handleCancelLabel) });
app.http("labelChangeStatus", {
  ...common,
  route: "submissions/{id}/labels/{labelId}/changes/{change}",
  methods: ["GET"],
  handler: bodyLimited("labelChangeStatus", "label.changeStatus", handleLabelChangeStatus),
});
