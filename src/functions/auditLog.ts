/**
 * GET /api/audit (issue 33), for Sign.Operate: the audit trail, oldest first. Filters: submission
 * (an instance id or Microsoft's submission id), principal (object id), action, from/to (ISO times;
 * from inclusive, to exclusive). Paged: `pageSize` blobs are scanned per page (1-500, default 100),
 * so a page may hold fewer records than that, even none, with `continuationToken` while more remain.
 * `Accept: application/x-ndjson` or `?format=jsonl`: JSON Lines, one record a line, scanning up to
 * 20 storage pages per response; the token to carry on is in the `X-Continuation-Token` header.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getConfig } from "../config";
import { type AuditQuery, type AuditRecord, auditQueryProblems } from "../domain/audit";
import { MAX_AUDIT_PAGE, readAuditPage } from "../audit/store";
import { getBlobServiceClient } from "../storage/blobService";
import { bodyLimited } from "./requestBody";
import { HTTP_AUTH_LEVEL } from "./callerGate";
import { invalidRequest } from "./validation/fieldProblems";

const JSONL_MAX_PAGES = 20;

/** The storage listing's marker, opaque to callers and safe in a URL. */
function encodeToken(token: string): string {
  return Buffer.from(token, "utf8").toString("base64url");
}
function decodeToken(token: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,4096}$/.test(token)) return undefined;
  return Buffer.from(token, "base64url").toString("utf8");
}

export async function handleReadAudit(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const params = request.query;
  const query: AuditQuery = {};
  for (const field of ["submission", "principal", "action", "from", "to"] as const) {
    const value = params.get(field);
    if (value !== null && value !== "") query[field] = value;
  }
  const problems = auditQueryProblems(query);
  const pageSizeText = params.get("pageSize");
  const pageSize = pageSizeText === null ? 100 : Number(pageSizeText);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_AUDIT_PAGE) problems.push({ field: "pageSize", reason: `must be a whole number from 1 to ${MAX_AUDIT_PAGE}` });
  const format = params.get("format");
  if (format !== null && format !== "json" && format !== "jsonl") problems.push({ field: "format", reason: "must be json or jsonl" });
  const tokenText = params.get("continuationToken");
  const token = tokenText ? decodeToken(tokenText) : undefined;
  if (tokenText && token === undefined) problems.push({ field: "continuationToken", reason: "is not a token this API returned" });
  if (problems.length > 0) return invalidRequest(problems);

  const config = getConfig();
  const service = getBlobServiceClient(config);
  const jsonl = format === "jsonl" || (format === null && (request.headers.get("accept") ?? "").toLowerCase().includes("application/x-ndjson"));
  if (!jsonl) {
    const page = await readAuditPage(service, config, query, pageSize, token);
    return {
      status: 200,
      headers: { "cache-control": "no-store" },
      jsonBody: { items: page.records, ...(page.continuationToken ? { continuationToken: encodeToken(page.continuationToken) } : {}) },
    };
  }
  const records: AuditRecord[] = [];
  let next = token;
  for (let pages = 0; pages < JSONL_MAX_PAGES; pages++) {
    const page = await readAuditPage(service, config, query, pageSize, next);
    records.push(...page.records);
    next = page.continuationToken;
    if (!next) break;
  }
  return {
    status: 200,
    headers: { "content-type": "application/x-ndjson; charset=utf-8", "cache-control": "no-store", ...(next ? { "x-continuation-token": encodeToken(next) } : {}) },
    body: records.map((record) => `${JSON.stringify(record)}\n`).join(""),
  };
}

app.http("readAudit", {
  route: "audit",
  methods: ["GET"],
  authLevel: HTTP_AUTH_LEVEL,
  handler: bodyLimited("readAudit", "audit.read", handleReadAudit),
});
