/**
 * The audit trail's HTTP side (issue 33): every state-changing request leaves exactly one record,
 * written after its outcome is known and before the caller is answered; refusals (the caller gate's
 * 403s and someone else's submission answered 404) leave one too. The caller gate runs every handler
 * through `audited`, so no route can forget; handlers only add what they alone know (the instance a
 * start chose, a resume, an owner refusal) with `noteAudit`.
 *
 * If the audit store cannot be reached before a state-changing action, nothing is done (500). If the
 * record cannot be written after the action was done, the write is retried (store.ts), and the
 * caller gets a 500 saying so (the action is idempotent: a retry of the request records it).
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { getConfig } from "../config";
import { type AuditAction, type AuditOutcome, type AuditPrincipal, type AuditRecord, type AuditTarget, type RefusalKind } from "../domain/audit";
import type { Action } from "../domain/authorization";
import type { Caller } from "../domain/principal";
import { redactSecrets } from "../domain/redact";
import { auditStoreReady, writeAuditRecord } from "../audit/store";
import { getBlobServiceClient } from "../storage/blobService";

/** Actions that change something: each request leaves a record whatever its outcome. Reads leave one only when refused. */
export const STATE_CHANGING_ACTIONS: ReadonlySet<Action> = new Set<Action>([
  "upload.create",
  "submission.start",
  "submission.resume",
  "submission.cancel",
  "label.create",
  "label.change",
  "label.cancel",
  "approval.decide",
]);

interface AuditNote {
  action?: AuditAction;
  target?: AuditTarget;
  refusal?: RefusalKind;
  /** What the outcome's reason alone would not say (an approval's decision and label run). */
  detail?: string;
}

const notes = new WeakMap<InvocationContext, AuditNote>();

/** What the handler alone knows about its action; merged into the invocation's record. */
export function noteAudit(context: InvocationContext, note: AuditNote): void {
  const known = notes.get(context) ?? {};
  notes.set(context, { ...known, ...note, target: { ...known.target, ...note.target } });
}

/** The caller may not touch this (someone else's): answered 404, recorded as an owner refusal. */
export function refusedAsNotFound(context: InvocationContext, response: HttpResponseInit, target: AuditTarget = {}): HttpResponseInit {
  noteAudit(context, { refusal: "owner", target });
  return response;
}

export function auditPrincipalOf(caller: Caller): AuditPrincipal {
  return {
    objectId: caller.objectId,
    ...(caller.name ? { name: caller.name } : {}),
    ...(caller.clientAppId ? { clientAppId: caller.clientAppId } : {}),
    roles: [...caller.roles],
  };
}

/**
 * The client's address as App Service's front end saw it, without a port: CLIENT-IP / X-Client-IP,
 * which the front end overwrites, else X-Forwarded-For's LAST hop (the one it appended). Never the
 * first hop: a client writes whatever it likes there, and the audit trail must not take it.
 */
export function clientAddressOf(request: Pick<HttpRequest, "headers">): string | undefined {
  const lastForwarded = request.headers.get("x-forwarded-for")?.split(",").pop()?.trim();
  const address = request.headers.get("client-ip")?.trim() || request.headers.get("x-client-ip")?.trim() || lastForwarded;
  if (!address) return undefined;
  const bracketed = /^\[([0-9a-f:]+)\](?::\d+)?$/i.exec(address);
  if (bracketed) return bracketed[1];
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?$/.exec(address);
  return v4 ? v4[1] : address.slice(0, 64);
}

function bodyOf(response: HttpResponseInit): Record<string, unknown> {
  const body = response.jsonBody;
  return body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

const text = (value: unknown): string | undefined => (typeof value === "string" && value.length > 0 ? value : undefined);

/** The outcome a response says: 2xx/3xx done; 4xx not done (why); 5xx failed. */
export function outcomeOf(response: HttpResponseInit, refusal: RefusalKind | undefined): AuditOutcome {
  const status = response.status ?? 200;
  const body = bodyOf(response);
  const fields = Array.isArray(body.fields) ? (body.fields as { field?: unknown }[]).map((f) => text(f.field)).filter(Boolean) : [];
  const why = [text(body.error), fields.length ? `fields: ${fields.join(", ")}` : undefined].filter(Boolean).join("; ");
  const reason = redactSecrets(`${status}${why ? ` ${why}` : ""}`);
  if (status < 400) return { result: "ok", reason };
  if (status < 500) return { result: "refused", ...(refusal ? { refusal } : {}), reason };
  return { result: "failed", reason };
}

/** The target a route and its response name: ids only (an upload URL or a key never). */
function targetOf(request: HttpRequest, response: HttpResponseInit | undefined, noted: AuditTarget | undefined): AuditTarget {
  const body = response ? bodyOf(response) : {};
  const fromBody: AuditTarget = {
    ...(text(body.id) ? { instance: text(body.id) } : {}),
    ...(text(body.package) ? { package: text(body.package) } : {}),
    ...(text(body.labelId) ? { label: text(body.labelId) } : {}),
  };
  const fromRoute: AuditTarget = {
    ...(request.params?.id ? { instance: request.params.id } : {}),
    ...(request.params?.labelId ? { label: request.params.labelId } : {}),
  };
  return { ...fromBody, ...fromRoute, ...noted };
}

function recordOf(request: HttpRequest, context: InvocationContext, principal: AuditPrincipal, action: AuditAction, target: AuditTarget, outcome: AuditOutcome): AuditRecord {
  const clientAddress = clientAddressOf(request);
  return {
    time: new Date().toISOString(),
    principal,
    action,
    target,
    outcome,
    requestId: context.invocationId,
    ...(clientAddress ? { clientAddress } : {}),
  };
}

const NOT_RECORDED: HttpResponseInit = {
  status: 500,
  jsonBody: { error: "the audit trail could not be written, so the request was not done; try again later" },
};
const DONE_NOT_RECORDED: HttpResponseInit = {
  status: 500,
  jsonBody: { error: "the request was done but its audit record could not be written; repeat the request (it is safe to repeat) so it is recorded" },
};

async function write(context: InvocationContext, record: AuditRecord): Promise<boolean> {
  try {
    const config = getConfig();
    await writeAuditRecord(getBlobServiceClient(config), config, record);
    return true;
  } catch (error) {
    context.error(`audit: could not write the record of ${record.action} (${record.outcome.result}) by ${record.principal.objectId}: ${redactSecrets(String(error))}`);
    return false;
  }
}

/** A refusal by the caller gate (role or cross-site): recorded, then answered; 500 if it cannot be recorded. */
export async function recordGateRefusal(
  request: HttpRequest,
  context: InvocationContext,
  caller: Caller,
  action: Action,
  refusal: RefusalKind,
  response: HttpResponseInit,
): Promise<HttpResponseInit> {
  const record = recordOf(request, context, auditPrincipalOf(caller), action, targetOf(request, undefined, undefined), outcomeOf(response, refusal));
  return (await write(context, record)) ? response : NOT_RECORDED;
}

/**
 * Runs a gated handler for `caller` and records its outcome: always for a state-changing action,
 * only an owner refusal for a read.
 */
export async function audited(
  action: Action,
  caller: Caller,
  request: HttpRequest,
  context: InvocationContext,
  handler: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  const changing = STATE_CHANGING_ACTIONS.has(action);
  if (changing) {
    try {
      const config = getConfig();
      await auditStoreReady(getBlobServiceClient(config), config);
    } catch (error) {
      context.error(`audit: the audit store is not reachable; ${action} not done: ${redactSecrets(String(error))}`);
      return NOT_RECORDED;
    }
  }
  let response: HttpResponseInit;
  try {
    response = await handler(request, context);
  } catch (error) {
    if (changing) {
      const note = notes.get(context);
      await write(context, recordOf(request, context, auditPrincipalOf(caller), note?.action ?? action, targetOf(request, undefined, note?.target), { result: "failed", reason: "500 the request failed" }));
    }
    throw error;
  }
  const note = notes.get(context);
  const ownerRefusal = note?.refusal === "owner" && (response.status ?? 200) === 404;
  if (!changing && !ownerRefusal) return response;
  // A start that re-runs a failed or cancelled version says so in its answer.
  const restarted = action === "submission.start" && bodyOf(response).restarted === true;
  const done: AuditAction = note?.action ?? (restarted ? "submission.restart" : action);
  const refusal = ownerRefusal ? "owner" : note?.refusal === "requester" ? "requester" : undefined;
  const outcome = outcomeOf(response, refusal);
  const detailed = note?.detail ? { ...outcome, reason: `${outcome.reason}; ${redactSecrets(note.detail)}` } : outcome;
  const record = recordOf(request, context, auditPrincipalOf(caller), done, targetOf(request, response, note?.target), detailed);
  if (await write(context, record)) return response;
  return (response.status ?? 200) < 400 ? DONE_NOT_RECORDED : NOT_RECORDED;
}
