/** Query parameters of GET /api/submissions: status, top, continuationToken, createdFrom, createdTo, package. */
import { containerNameProblem, CONTROL_CHARACTERS, MAX_BLOB_NAME_LENGTH } from "../../domain/packageRules";
import type { FieldProblem, Parsed } from "./fieldProblems";

export const RUNTIME_STATUSES = ["Running", "Completed", "ContinuedAsNew", "Failed", "Canceled", "Terminated", "Pending", "Suspended"] as const;
export type RuntimeStatusName = (typeof RUNTIME_STATUSES)[number];

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
/** Our token wraps the extension's; anything longer than this was not made by us. */
export const MAX_CONTINUATION_TOKEN_LENGTH = 4096;

/** Case-insensitive names, comma separated; empty or absent means all. */
export function parseStatusFilter(raw: string | null): Parsed<RuntimeStatusName[]> {
  if (raw === null || raw.trim() === "") return { ok: true, value: [] };
  const wanted: RuntimeStatusName[] = [];
  const problems: FieldProblem[] = [];
  for (const part of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
    const match = RUNTIME_STATUSES.find((name) => name.toLowerCase() === part.toLowerCase());
    if (match) {
      if (!wanted.includes(match)) wanted.push(match);
    } else {
      problems.push({ field: "status", reason: `"${part.slice(0, 40)}" is not one of ${RUNTIME_STATUSES.join(", ")}` });
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: wanted };
}

/** The page token users see: opaque (base64url of our version and the extension's token). */
export function encodeContinuationToken(extensionToken: string): string {
  return Buffer.from(JSON.stringify({ v: 1, t: extensionToken }), "utf8").toString("base64url");
}

export function decodeContinuationToken(token: string): string | undefined {
  if (token.length > MAX_CONTINUATION_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    const { v, t } = (parsed ?? {}) as { v?: unknown; t?: unknown };
    return v === 1 && typeof t === "string" && isExtensionToken(t) ? t : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The shape of a token the extension hands out: standard base64 of a UTF-8 JSON object with a string
 * value (the Azure Storage provider's serialized table continuation token; the local engine's
 * `{"after": id}`). The inner value goes out as the x-ms-continuation-token header, and a value either
 * reads as "no token" (the first page again: a client following tokens would loop) or breaks the
 * header (CR/LF): anything else was not made by the extension and is refused.
 */
function isExtensionToken(value: string): boolean {
  if (value.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  const bytes = Buffer.from(value, "base64");
  // Canonical: decoding and encoding again gives the same text (no stray bits, no missing padding).
  if (bytes.toString("base64") !== value) return false;
  let inner: unknown;
  try {
    inner = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return false;
  }
  return (
    inner !== null &&
    typeof inner === "object" &&
    !Array.isArray(inner) &&
    Object.values(inner).some((member) => typeof member === "string" && member.length > 0)
  );
}

export interface ListQuery {
  status: RuntimeStatusName[];
  top: number;
  continuationToken?: string;
  createdFrom?: Date;
  createdTo?: Date;
  /** "container" or "container/blob-name-prefix". */
  package?: { container: string; blobPrefix: string };
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2}))?$/;

function parseDate(raw: string | null, field: string, problems: FieldProblem[]): Date | undefined {
  if (raw === null || raw === "") return undefined;
  const date = ISO_DATE_TIME.test(raw) ? new Date(raw) : new Date(NaN);
  if (Number.isNaN(date.getTime())) {
    problems.push({ field, reason: "must be an ISO 8601 date or date-time, e.g. 2025-01-01T00:00:00Z" });
    return undefined;
  }
  return date;
}

export function parseListQuery(query: URLSearchParams): Parsed<ListQuery> {
  const problems: FieldProblem[] = [];
  const known = new Set(["status", "top", "continuationToken", "createdFrom", "createdTo", "package", "code"]);
  for (const key of new Set(query.keys())) {
    if (!known.has(key)) problems.push({ field: key.slice(0, 40), reason: "is not a recognized parameter" });
  }
  const status = parseStatusFilter(query.get("status"));
  if (!status.ok) problems.push(...status.problems);

  let top = DEFAULT_PAGE_SIZE;
  const rawTop = query.get("top");
  if (rawTop !== null) {
    if (/^\d{1,4}$/.test(rawTop) && Number(rawTop) >= 1 && Number(rawTop) <= MAX_PAGE_SIZE) top = Number(rawTop);
    else problems.push({ field: "top", reason: `must be a whole number from 1 to ${MAX_PAGE_SIZE}` });
  }

  let continuationToken: string | undefined;
  const rawToken = query.get("continuationToken");
  if (rawToken !== null && rawToken !== "") {
    continuationToken = decodeContinuationToken(rawToken);
    if (continuationToken === undefined) problems.push({ field: "continuationToken", reason: "is not a token this API returned" });
  }

  const createdFrom = parseDate(query.get("createdFrom"), "createdFrom", problems);
  const createdTo = parseDate(query.get("createdTo"), "createdTo", problems);
  if (createdFrom && createdTo && createdFrom.getTime() > createdTo.getTime()) {
    problems.push({ field: "createdFrom", reason: "must not be after createdTo" });
  }

  let pkg: ListQuery["package"];
  const rawPackage = query.get("package");
  if (rawPackage !== null && rawPackage !== "") {
    const slash = rawPackage.indexOf("/");
    const container = slash < 0 ? rawPackage : rawPackage.slice(0, slash);
    const blobPrefix = slash < 0 ? "" : rawPackage.slice(slash + 1);
    const problem =
      containerNameProblem(container) ??
      (blobPrefix.length > MAX_BLOB_NAME_LENGTH || CONTROL_CHARACTERS.test(blobPrefix)
        ? `blob name prefix must be at most ${MAX_BLOB_NAME_LENGTH} characters without control characters`
        : undefined);
    if (problem) problems.push({ field: "package", reason: `must be "container" or "container/blob-name-prefix": ${problem}` });
    else pkg = { container, blobPrefix };
  }

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    value: { status: status.ok ? status.value : [], top, continuationToken, createdFrom, createdTo, package: pkg },
  };
}
