/**
 * A second person before a label leaves for Microsoft (issue 34), as pure rules: which labels wait
 * for approval, how long, who may decide, and the decision event the publishLabel orchestration
 * receives (external event APPROVAL_EVENT). The orchestrator re-checks every decision with
 * checkDecision, so an event raised by anything but the approval route is held to the same rule.
 */
import type { PublishPolicy } from "./publishing";
import type { FieldProblem, Parsed } from "./validation";

/** External event name the publishLabel orchestration waits for. */
export const APPROVAL_EVENT = "approvalDecision";

/** Default time a label waits for a decision: 7 days. */
export const DEFAULT_APPROVAL_DEADLINE_HOURS = 7 * 24;
/** Bounds of APPROVAL_DEADLINE_HOURS: at least an hour, at most 30 days (the label deadline's default). */
export const MIN_APPROVAL_DEADLINE_HOURS = 1;
export const MAX_APPROVAL_DEADLINE_HOURS = 30 * 24;

export const MAX_APPROVAL_COMMENT_CHARS = 1000;
const MAX_ID_CHARS = 128;
const MAX_NAME_CHARS = 200;

/** A person (or app) in the approval: Entra object id, display name when known. */
export interface ApprovalParty {
  objectId: string;
  name?: string;
}

/** One partner an approval is configured for: publisher (seller) id, and a display name. */
export interface ApprovalPartner {
  publisherId: string;
  name?: string;
}

/** Settings (config.ts): APPROVAL_PARTNERS and APPROVAL_DEADLINE_HOURS. */
export interface ApprovalSettings {
  /** Partner shares that need approval: listed partners, or every partner share ("*"). */
  partners: ApprovalPartner[] | "all";
  deadlineHours: number;
}

/**
 * The publishLabel input field (PublishLabelInput.approval): set only on runs that must wait. Absent
 * in every history written before issue 34, which replay create-right-after-prepare as recorded.
 */
export interface ApprovalRequirement {
  /** Who asked for the label (the submission's owner or the caller of POST .../labels); may not decide. Absent = unknown (legacy run). */
  requester?: ApprovalParty;
  deadlineHours: number;
}

export type ApprovalVerdict = "approve" | "reject";

/** The external event's payload. */
export interface ApprovalDecision {
  decision: ApprovalVerdict;
  comment: string;
  approver: { objectId: string; name: string };
  decidedAt: string;
}

/**
 * APPROVAL_PARTNERS: comma-separated publisher ids, each optionally `<id>=<name>`; "*" = every
 * partner share. Returns the partners or the problems, one per bad entry.
 */
export function parseApprovalPartners(value: string): { ok: true; partners: ApprovalPartner[] | "all" } | { ok: false; problems: string[] } {
  const entries = value.split(",").map((s) => s.trim()).filter(Boolean);
  if (entries.length === 1 && entries[0] === "*") return { ok: true, partners: "all" };
  const problems: string[] = [];
  const partners: ApprovalPartner[] = [];
  for (const entry of entries) {
    const at = entry.indexOf("=");
    const id = (at < 0 ? entry : entry.slice(0, at)).trim();
    const name = at < 0 ? undefined : entry.slice(at + 1).trim();
    if (entry === "*") problems.push(`"*" must be the only entry (it means every partner share)`);
    else if (!/^\d{1,20}$/.test(id)) problems.push(`"${entry.slice(0, 40)}" must start with a publisher (seller) id of 1-20 digits, optionally followed by =<name>`);
    else if (name !== undefined && (name.length === 0 || name.length > MAX_NAME_CHARS)) problems.push(`"${entry.slice(0, 40)}" has an empty or too long name (at most ${MAX_NAME_CHARS} characters)`);
    else if (partners.some((p) => p.publisherId === id)) problems.push(`publisher id ${id} is listed twice`);
    else partners.push(name ? { publisherId: id, name } : { publisherId: id });
  }
  return problems.length ? { ok: false, problems } : { ok: true, partners };
}

/** Whether a label made from `policy` waits for a second person: Windows Update always; a partner share when configured. A dry run sends nothing. */
export function needsApproval(policy: PublishPolicy, settings: ApprovalSettings): boolean {
  if (policy.dryRun) return false;
  if (policy.destination === "windowsUpdate") return true;
  if (settings.partners === "all") return true;
  return policy.receiverPublisherId !== undefined && settings.partners.some((p) => p.publisherId === policy.receiverPublisherId);
}

/**
 * The `approval` field for a new publishLabel input, or undefined when the label needs none. The
 * requester is whoever asked for the label: the submission's owner (publish after signing) or the
 * caller of POST .../labels.
 */
export function approvalRequirement(policy: PublishPolicy, requester: ApprovalParty | undefined, settings: ApprovalSettings): ApprovalRequirement | undefined {
  if (!needsApproval(policy, settings)) return undefined;
  const who = requester ? { objectId: requester.objectId, ...(requester.name ? { name: requester.name } : {}) } : undefined;
  return { ...(who ? { requester: who } : {}), deadlineHours: settings.deadlineHours };
}

/**
 * The builder the input code spreads in (PublishRequest of a submission, PublishLabelInput of
 * POST .../labels): `{ approval }` when the label waits for a second person, else `{}` (so inputs
 * of labels that need none stay as before).
 */
export function approvalField(policy: PublishPolicy, requester: ApprovalParty | undefined, settings: ApprovalSettings): { approval?: ApprovalRequirement } {
  const approval = approvalRequirement(policy, requester, settings);
  return approval ? { approval } : {};
}

/** The decision deadline: `hours` after the time the label started waiting (orchestration time). */
export function approvalDeadline(waitingSince: Date, hours: number): Date {
  return new Date(waitingSince.getTime() + hours * 3600_000);
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** The decision event's shape, field by field. */
export function parseApprovalDecision(value: unknown): Parsed<ApprovalDecision> {
  const problems: FieldProblem[] = [];
  if (!isRecord(value)) return { ok: false, problems: [{ field: "body", reason: "must be a JSON object" }] };
  const known = new Set(["decision", "comment", "approver", "decidedAt"]);
  for (const key of Object.keys(value)) if (!known.has(key)) problems.push({ field: key, reason: "is not a recognized field" });
  const { decision, comment, approver, decidedAt } = value;
  if (decision !== "approve" && decision !== "reject") problems.push({ field: "decision", reason: 'must be "approve" or "reject"' });
  if (typeof comment !== "string") problems.push({ field: "comment", reason: "is required (a string; may be empty for approve)" });
  else if (comment.length > MAX_APPROVAL_COMMENT_CHARS) problems.push({ field: "comment", reason: `must be at most ${MAX_APPROVAL_COMMENT_CHARS} characters` });
  else if (decision === "reject" && comment.trim() === "") problems.push({ field: "comment", reason: "must say why when rejecting" });
  if (!isRecord(approver)) problems.push({ field: "approver", reason: "is required: { objectId, name }" });
  else {
    if (typeof approver.objectId !== "string" || approver.objectId.trim() === "" || approver.objectId.length > MAX_ID_CHARS) problems.push({ field: "approver.objectId", reason: `must be a non-empty string of at most ${MAX_ID_CHARS} characters` });
    if (typeof approver.name !== "string" || approver.name.length > MAX_NAME_CHARS) problems.push({ field: "approver.name", reason: `must be a string of at most ${MAX_NAME_CHARS} characters` });
    for (const key of Object.keys(approver)) if (key !== "objectId" && key !== "name") problems.push({ field: `approver.${key}`, reason: "is not a recognized field" });
  }
  if (typeof decidedAt !== "string" || !ISO_INSTANT.test(decidedAt) || Number.isNaN(Date.parse(decidedAt))) problems.push({ field: "decidedAt", reason: "must be an ISO 8601 instant with a time zone, e.g. 2026-12-07T08:00:00Z" });
  if (problems.length) return { ok: false, problems };
  const who = approver as { objectId: string; name: string };
  return { ok: true, value: { decision: decision as ApprovalVerdict, comment: comment as string, approver: { objectId: who.objectId, name: who.name }, decidedAt: decidedAt as string } };
}

/** Same person: object ids compare case-insensitively (GUIDs). */
export function isSameParty(a: ApprovalParty | undefined, b: ApprovalParty | undefined): boolean {
  return a !== undefined && b !== undefined && a.objectId.trim().toLowerCase() === b.objectId.trim().toLowerCase();
}

/**
 * A decision as the orchestrator takes it: a valid shape from someone other than the requester, or
 * the reason it is ignored. (Whether the approver holds Sign.Approve is the route's check, before
 * the event is raised; the event itself carries no roles.)
 */
export function checkDecision(value: unknown, requester: ApprovalParty | undefined): { ok: true; decision: ApprovalDecision } | { ok: false; reason: string; approver?: ApprovalParty } {
  const parsed = parseApprovalDecision(value);
  const approver = isRecord(value) && isRecord(value.approver) && typeof value.approver.objectId === "string"
    ? { objectId: value.approver.objectId.slice(0, MAX_ID_CHARS), ...(typeof value.approver.name === "string" ? { name: value.approver.name.slice(0, MAX_NAME_CHARS) } : {}) }
    : undefined;
  if (!parsed.ok) return { ok: false, reason: `invalid decision: ${parsed.problems.map((p) => `${p.field} ${p.reason}`).join("; ")}`, ...(approver ? { approver } : {}) };
  if (isSameParty(parsed.value.approver, requester)) return { ok: false, reason: "the requester may not decide on their own label", approver: parsed.value.approver };
  return { ok: true, decision: parsed.value };
}
