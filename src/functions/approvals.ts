/**
 * The second person's decision on a label waiting for approval (issue 34):
 *   POST /api/submissions/{id}/approvals   { labelRun?, decision: "approve" | "reject", comment }
 *
 * Validated first (400 naming the field; nothing raised). Any Sign.Approve holder may find the
 * submission (the "others" scope is about the decision, held against the requester below). The label run must be
 * in awaitingApproval (409 naming its phase). The requester — or, when the run records none, the
 * submission's owner — is refused with 403; the caller gate's audit trail records every outcome,
 * this refusal included (refusal "requester"). The approver and the time come from the caller and
 * the clock, never from the body; the decision reaches publishLabel as its external event, which
 * re-checks it (checkDecision), and the answer is 202 with the labels' status location.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { PUBLISH_LABEL_ORCHESTRATOR, type PublishLabelInput } from "../activities/contract";
import type { LabelReport } from "../domain/types";
import type { PublishLabelStatus } from "../orchestrators/publishLabel";
import { getConfig } from "../config";
import { APPROVAL_EVENT, type ApprovalDecision, type ApprovalParty, isSameParty, parseApprovalDecision } from "../domain/approval";
import { ownerIn } from "../domain/authorization";
import { isValidInstanceId, labelInstanceId } from "../domain/instanceId";
import type { FieldProblem } from "../domain/validation";
import { callerOf } from "../identity/caller";
import { durableClientFor, findInstance, TERMINAL_RUNTIME_STATUSES } from "../instances/durableClient";
import { isSubmitDriverName } from "../orchestrators/versions";
import { noteAudit } from "./auditTrail";
import { isVisibleTo, scopeFor } from "./access";
import { HTTP_AUTH_LEVEL } from "./callerGate";
import { labelRuns, MAX_LABEL_RUNS } from "./labels";
import { apiLink } from "./publicUrls";
import { bodyLimited, bodyLimitOf, readJsonBody } from "./requestBody";
import { invalidRequest } from "./validation/fieldProblems";

export interface ApprovalRequestBody {
  /** The label run: its instance id (`<id>-label-<n>`) or n. Absent: the one run that waits. */
  labelRun?: string;
  decision: "approve" | "reject";
  comment: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** Whether `run` is `<submissionId>-label-<n>` with n in 1..MAX_LABEL_RUNS. */
function isRunOf(run: string, submissionId: string): boolean {
  const prefix = `${submissionId}-label-`;
  if (!run.startsWith(prefix)) return false;
  const n = run.slice(prefix.length);
  return /^[1-9]\d{0,2}$/.test(n) && Number(n) <= MAX_LABEL_RUNS;
}

/** The body, field by field (the decision's own rules come from domain/approval.ts). */
export function parseApprovalRequest(value: unknown, submissionId: string): { ok: true; value: ApprovalRequestBody } | { ok: false; problems: FieldProblem[] } {
  if (!isRecord(value)) return { ok: false, problems: [{ field: "body", reason: "must be a JSON object" }] };
  const problems: FieldProblem[] = [];
  for (const key of Object.keys(value)) {
    if (key === "labelId") problems.push({ field: "labelId", reason: "a label waiting for approval has no label id yet (it is created after approval); name its run with labelRun" });
    else if (key === "approver" || key === "decidedAt") problems.push({ field: key, reason: "is set by the service (the signed-in caller and the clock), not by the request" });
    else if (!["labelRun", "decision", "comment"].includes(key)) problems.push({ field: key, reason: "is not a recognized field" });
  }
  let labelRun: string | undefined;
  if (value.labelRun !== undefined) {
    const raw = value.labelRun;
    const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\d{1,3}$/.test(raw) ? Number(raw) : undefined;
    if (n !== undefined && Number.isInteger(n) && n >= 1 && n <= MAX_LABEL_RUNS) labelRun = labelInstanceId(submissionId, n);
    else if (typeof raw === "string" && isRunOf(raw, submissionId)) labelRun = raw;
    else problems.push({ field: "labelRun", reason: `must be a label run of this submission: ${submissionId}-label-<n> or n (1-${MAX_LABEL_RUNS})` });
  }
  // The decision's shape (decision, comment) is checked as the orchestrator will check the event.
  const shape = parseApprovalDecision({ decision: value.decision, comment: value.comment, approver: { objectId: "x", name: "" }, decidedAt: "2000-01-01T00:00:00Z" });
  if (!shape.ok) problems.push(...shape.problems.filter((p) => p.field === "decision" || p.field === "comment"));
  if (problems.length) return { ok: false, problems };
  return { ok: true, value: { ...(labelRun ? { labelRun } : {}), decision: value.decision as ApprovalRequestBody["decision"], comment: value.comment as string } };
}

const notFound = (id: string): HttpResponseInit => ({ status: 404, jsonBody: { error: `no submission with id ${id}` } });

export async function handleDecideApproval(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id ?? "";
  if (!isValidInstanceId(id)) return invalidRequest([{ field: "id", reason: "must be 1-100 letters, digits, '-' or '_'" }]);
  const body = await readJsonBody(request, bodyLimitOf("decideApproval"));
  if (!body.ok) return body.response;
  const parsed = parseApprovalRequest(body.value, id);
  if (!parsed.ok) return invalidRequest(parsed.problems);

  const client = durableClientFor(context);
  const submission = await findInstance(client, id, { showInput: true });
  const scope = scopeFor(context, "approval.decide");
  const owner = submission ? ownerIn(submission.input) : undefined;
  // Every Sign.Approve holder finds the submission, also one nobody owns (a drop without DROP_OWNERS):
  // "others" is about the decision, held against the requester below.
  const visible = submission !== undefined && isSubmitDriverName(submission.name) && scope !== undefined;
  noteAudit(context, { ...(visible ? {} : { refusal: "owner" as const }), target: { instance: id } });
  if (!visible) return notFound(id);

  const runs = await labelRuns(client, id);
  const candidates = parsed.value.labelRun ? runs.filter((run) => run.instanceId === parsed.value.labelRun) : runs.filter((run) => !TERMINAL_RUNTIME_STATUSES.has(run.runtimeStatus));
  const run = candidates[candidates.length - 1] ?? (parsed.value.labelRun ? undefined : runs[runs.length - 1]);
  if (!run) {
    return parsed.value.labelRun
      ? { status: 404, jsonBody: { error: `submission ${id} has no label run ${parsed.value.labelRun}` } }
      : { status: 409, jsonBody: { error: `no label of submission ${id} is waiting for approval: it has no label run`, phase: null } };
  }
  const phase = run.label?.phase ?? (TERMINAL_RUNTIME_STATUSES.has(run.runtimeStatus) ? run.runtimeStatus : "starting");
  if (phase !== "awaitingApproval" || TERMINAL_RUNTIME_STATUSES.has(run.runtimeStatus)) {
    return { status: 409, jsonBody: { error: `label run ${run.instanceId} is not waiting for approval: its phase is ${phase}`, labelRun: run.instanceId, phase } };
  }

  const caller = callerOf(context);
  const labelInput = (await findInstance(client, run.instanceId, { showInput: true }))?.input as Partial<PublishLabelInput> | undefined;
  const requester: ApprovalParty | undefined = labelInput?.approval?.requester ?? owner;
  const approver = { objectId: caller.objectId, name: caller.name ?? "" };
  if (isSameParty(approver, requester)) {
    noteAudit(context, { refusal: "requester" });
    return {
      status: 403,
      jsonBody: { error: `the requester may not decide on their own label: ${requester!.name ?? requester!.objectId} asked for label run ${run.instanceId}; another Sign.Approve holder must decide`, reason: "requester", labelRun: run.instanceId },
    };
  }

  const decision: ApprovalDecision = { decision: parsed.value.decision, comment: parsed.value.comment, approver, decidedAt: new Date().toISOString() };
  await client.raiseEvent(run.instanceId, APPROVAL_EVENT, decision);
  noteAudit(context, { detail: `${decision.decision} label run ${run.instanceId}` });
  context.log(`approvals: ${decision.decision} of ${run.instanceId} by ${approver.objectId}`);
  const statusUrl = apiLink(getConfig(), `/api/submissions/${encodeURIComponent(id)}/labels`);
  return { status: 202, headers: { Location: statusUrl, "Retry-After": "5" }, jsonBody: { id, labelRun: run.instanceId, decision: decision.decision, decidedAt: decision.decidedAt, statusUrl } };
}

/** Bound on the waiting labels one answer lists (oldest deadline first). */
export const MAX_LISTED_APPROVALS = 200;

/**
 * GET /api/approvals (approval.list, Sign.Approve): every label run waiting for approval, with the
 * exact label (summary, hardware id sample, CHIDs, audiences, dates), the requester, the deadline,
 * whether this caller may decide it (not the requester, nor the owner of a run with none), and whether
 * it may open the submission itself (mayView).
 */
export async function handleListApprovals(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const client = durableClientFor(context);
  const caller = callerOf(context);
  const running = await client.getStatusBy({ runtimeStatus: [df.OrchestrationRuntimeStatus.Running] });
  const items: Record<string, unknown>[] = [];
  for (const status of running) {
    if (status.name !== PUBLISH_LABEL_ORCHESTRATOR) continue;
    const custom = status.customStatus as Partial<PublishLabelStatus> | undefined;
    const label = custom?.label as LabelReport | undefined;
    if (!custom?.parentInstanceId || label?.phase !== "awaitingApproval") continue;
    const requester = label.approval?.requester;
    const parent = await findInstance(client, custom.parentInstanceId, { showInput: true });
    let mayDecide = !isSameParty({ objectId: caller.objectId }, requester);
    if (mayDecide && !requester) mayDecide = !isSameParty({ objectId: caller.objectId }, ownerIn(parent?.input));
    // Whether the caller may open the submission itself (an approver without Sign.Submit/Operate may not): the page links it only then.
    const mayView = parent !== undefined && isVisibleTo(context, "submission.status", parent);
    items.push({ id: custom.parentInstanceId, labelRun: status.instanceId, label, ...(requester ? { requester } : {}), deadline: label.approval?.deadline, mayDecide, mayView });
  }
  items.sort((a, b) => String(a.deadline).localeCompare(String(b.deadline)));
  return { status: 200, jsonBody: { items: items.slice(0, MAX_LISTED_APPROVALS) } };
}

app.http("listApprovals", {
  authLevel: HTTP_AUTH_LEVEL,
  extraInputs: [df.input.durableClient()],
  route: "approvals",
  methods: ["GET"],
  handler: bodyLimited("listApprovals", "approval.list", handleListApprovals),
});

app.http("decideApproval", {
  authLevel: HTTP_AUTH_LEVEL,
  extraInputs: [df.input.durableClient()],
  route: "submissions/{id}/approvals",
  methods: ["POST"],
  handler: bodyLimited("decideApproval", "approval.decide", handleDecideApproval),
});
