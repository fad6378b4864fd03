/**
 * The audit trail (issue 33): one record per state-changing request or decision, written by the code
 * that performs it before the caller is answered. Records are data for people who hold the app to
 * account, so nothing secret may be in one: every text goes through `auditSafe` (tokens, SAS
 * signatures, keys are masked; a URL keeps no query string).
 */
import type { Action } from "./authorization";
import { redactSecrets } from "./redact";

/**
 * The authorization actions, plus what no route names: a start that re-runs a failed or cancelled
 * version ("submission.restart"), a retention purge and a blob drop.
 */
export type AuditAction = Action | "submission.restart" | "purge" | "drop";

export const NON_ROUTE_AUDIT_ACTIONS = ["submission.restart", "purge", "drop"] as const;

/**
 * ok: done. refused: not done, and why ("role": the caller holds none of the action's roles, 403;
 * "owner": someone else's submission, answered 404; "crossSite": a cookie-only call without the
 * page's header, 403; "requester": the requester of a label deciding on its approval, 403). failed: the action was attempted and did not happen.
 */
export type AuditResult = "ok" | "refused" | "failed";
export type RefusalKind = "role" | "owner" | "crossSite" | "requester";

export interface AuditPrincipal {
  objectId: string;
  name?: string;
  clientAppId?: string;
  roles: string[];
}

export interface AuditTarget {
  instance?: string;
  product?: string;
  submission?: string;
  label?: string;
  /** The package as "container/blob" (never a URL with a query). */
  package?: string;
}

export interface AuditOutcome {
  result: AuditResult;
  refusal?: RefusalKind;
  /** Short text: the HTTP status and why. */
  reason?: string;
}

export interface AuditRecord {
  /** ISO 8601 UTC, when the record was made (after the outcome was known). */
  time: string;
  principal: AuditPrincipal;
  action: AuditAction;
  target: AuditTarget;
  outcome: AuditOutcome;
  /** The invocation id of the request (or trigger) that did it. */
  requestId?: string;
  clientAddress?: string;
}

/** The principal of what no caller did: Event Grid drops nobody is configured to own. */
export const BLOB_DROP_PRINCIPAL: AuditPrincipal = Object.freeze({ objectId: "blob-drop", name: "blob drop", roles: [] });
/** The principal of the retention timer. */
export const RETENTION_PRINCIPAL: AuditPrincipal = Object.freeze({ objectId: "retention", name: "retention timer", roles: [] });

// Keys that can reach text the redactor does not know: storage connection strings and function keys in a query.
const EXTRA_SECRETS: ReadonlyArray<[RegExp, string]> = [
  [/\b(AccountKey|SharedAccessSignature|SharedAccessKey)=[^;\s"']*/gi, "$1=REDACTED"],
  [/([?&](?:code|sig|se|sp|sv|skoid|sktid|skt|ske|sks|skv|st|spr|srt|ss|sr|signature|token|key)=)[^&\s"'<>]*/gi, "$1REDACTED"],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, "REDACTED-JWT"],
];

const MAX_TEXT = 512;

/** A text safe to keep for ever: known secrets masked, a URL's query dropped, bounded length. */
export function auditSafe(text: string): string {
  let result = redactSecrets(text);
  for (const [pattern, replacement] of EXTRA_SECRETS) result = result.replace(pattern, replacement);
  result = result.replace(/\b(https?:\/\/[^\s?#"'<>]+)\?[^\s#"'<>]*/gi, "$1");
  return result.length > MAX_TEXT ? `${result.slice(0, MAX_TEXT)}…` : result;
}

/** Whether a text still looks like it carries a secret (the scan the tests run over every record). */
export function looksSecret(text: string): boolean {
  return (
    /bearer\s+(?!REDACTED)[A-Za-z0-9]/i.test(text) ||
    /(?<![a-z])sig=(?!REDACTED)/i.test(text) ||
    /AccountKey=(?!REDACTED)/i.test(text) ||
    /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\./.test(text) ||
    /[?&]code=(?!REDACTED)/i.test(text) ||
    /"(?:access_token|client_secret|refresh_token)"\s*:\s*"(?!REDACTED)/i.test(text)
  );
}

function safeOptional(value: string | undefined): string | undefined {
  return value === undefined ? undefined : auditSafe(value);
}

function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The record as it is stored: every text made safe, empty fields dropped. */
export function sanitizeAuditRecord(record: AuditRecord): AuditRecord {
  const { principal, target, outcome } = record;
  return compact({
    time: record.time,
    principal: compact({
      objectId: auditSafe(principal.objectId),
      name: safeOptional(principal.name),
      clientAppId: safeOptional(principal.clientAppId),
      roles: principal.roles.map(auditSafe),
    }),
    action: record.action,
    target: compact({
      instance: safeOptional(target.instance),
      product: safeOptional(target.product),
      submission: safeOptional(target.submission),
      label: safeOptional(target.label),
      package: safeOptional(target.package),
    }),
    outcome: compact({ result: outcome.result, refusal: outcome.refusal, reason: safeOptional(outcome.reason) }),
    requestId: safeOptional(record.requestId),
    clientAddress: safeOptional(record.clientAddress),
  });
}

/** What the reader filters by; all optional, all must hold. */
export interface AuditQuery {
  /** An instance id, or Microsoft's submission id. */
  submission?: string;
  /** An object id. */
  principal?: string;
  action?: string;
  /** ISO times, inclusive from, exclusive to. */
  from?: string;
  to?: string;
}

export function matchesAuditQuery(record: AuditRecord, query: AuditQuery): boolean {
  if (query.submission && record.target.instance !== query.submission && record.target.submission !== query.submission) return false;
  if (query.principal && record.principal.objectId !== query.principal) return false;
  if (query.action && record.action !== query.action) return false;
  if (query.from && record.time < query.from) return false;
  if (query.to && record.time >= query.to) return false;
  return true;
}

/**
 * The blob name of a record: `yyyy/mm/dd/hh/<yyyymmddThhmmssSSSZ>-<random>.json`, so names sort by
 * time and a time range is a prefix. `random` keeps two records of the same millisecond apart.
 */
export function auditBlobName(time: string, random: string): string {
  const date = new Date(time);
  if (Number.isNaN(date.getTime())) throw new Error(`audit record time ${JSON.stringify(time)} is not a date`);
  if (!/^[a-z0-9]{8,64}$/.test(random)) throw new Error("audit record suffix must be 8-64 lowercase letters or digits");
  const iso = date.toISOString(); // 2026-12-07T06:11:07.123Z
  const [y, mo, d, h] = [iso.slice(0, 4), iso.slice(5, 7), iso.slice(8, 10), iso.slice(11, 13)];
  const stamp = iso.replace(/[-:.]/g, "");
  return `${y}/${mo}/${d}/${h}/${stamp}-${random}.json`;
}

/** Whether a blob name is a record's (auditBlobName's shape), not the key index beside them (store.ts). */
export function isAuditRecordName(name: string): boolean {
  return /^\d{4}\/\d{2}\/\d{2}\/\d{2}\/\d{8}T\d{9}Z-[a-z0-9]{8,64}\.json$/.test(name);
}

/** The longest blob-name prefix every record between `from` and `to` shares ("" when it spans years or is open). */
export function auditPrefixFor(from: string | undefined, to: string | undefined): string {
  if (!from || !to) return "";
  const a = auditBlobName(from, "00000000").split("/").slice(0, 4);
  // `to` is exclusive: the last record in range is at to - 1 ms.
  const b = auditBlobName(new Date(new Date(to).getTime() - 1).toISOString(), "00000000").split("/").slice(0, 4);
  const shared: string[] = [];
  for (let i = 0; i < 4 && a[i] === b[i]; i++) shared.push(a[i]);
  return shared.length ? `${shared.join("/")}/` : "";
}

/** Why a query is not valid, per field (the HTTP route and the CLI answer with these). */
export function auditQueryProblems(query: AuditQuery): { field: string; reason: string }[] {
  const problems: { field: string; reason: string }[] = [];
  for (const field of ["from", "to"] as const) {
    const value = query[field];
    if (value !== undefined && (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(value) || Number.isNaN(Date.parse(value)))) {
      problems.push({ field, reason: "must be an ISO 8601 date or time (e.g. 2026-12-07 or 2026-12-07T06:00:00Z)" });
    }
  }
  if (query.from && query.to && !problems.length && Date.parse(query.from) >= Date.parse(query.to)) problems.push({ field: "to", reason: "must be after from" });
  for (const field of ["submission", "principal", "action"] as const) {
    const value = query[field];
    if (value !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(value)) problems.push({ field, reason: "must be 1-128 letters, digits, '.', '_' or '-'" });
  }
  return problems;
}
