/**
 * Every request body limit, written once: the app's HTTP routes (by function name), the Event Grid
 * webhook that feeds packageDropped, and the host's own ceiling. The app's triggers enforce their
 * entries (functions/requestBody.ts); the local runtime's front enforces the host's and the Event
 * Grid webhook's (local/http/bodyLimits.ts). Kept in domain/ so both sides read the same table.
 */

/** The Functions host's request limit: "The HTTP request length is limited to 100 MB (104,857,600 bytes)". */
export const HOST_MAX_REQUEST_BODY_BYTES = 104_857_600;

/** Event Grid's documented maximum: an event array (and each event in it) is at most 1 MB. */
export const EVENT_GRID_MAX_BODY_BYTES = 1_048_576;

/** A JSON request: a package name, ids and product fields; the largest valid one is a few KB. */
export const JSON_BODY_MAX_BYTES = 64 * 1024;

/** A POST that takes no body: an empty `{}` from a client is tolerated, nothing larger. */
export const NO_BODY_MAX_BYTES = 1024;

export interface BodyLimit {
  route: string;
  bytes: number;
  why: string;
}

const json = (route: string, why: string): BodyLimit => ({ route, bytes: JSON_BODY_MAX_BYTES, why });
const none = (route: string): BodyLimit => ({ route, bytes: NO_BODY_MAX_BYTES, why: "takes no body; an empty `{}` is tolerated" });
const get = (route: string): BodyLimit => ({ route, bytes: 0, why: "GET: no body (the Functions library drops one)" });

/** Per HTTP function of the app; a test checks that every registered HTTP function has its entry and enforces it. */
export const HTTP_BODY_LIMITS = {
  startSubmission: json("POST /api/submissions", "package name, resume ids and product fields (JSON)"),
  createUpload: json("POST /api/uploads", "file name, size, sha256 and product fields (JSON)"),
  startLabel: json("POST /api/submissions/{id}/labels", "a publish policy (JSON)"),
  updateLabel: json("PATCH /api/submissions/{id}/labels/{labelId}", "hardware ids, CHIDs and audiences to add or remove (JSON)"),
  decideApproval: json("POST /api/submissions/{id}/approvals", "a decision and its comment (JSON)"),
  cancelSubmission: none("POST /api/submissions/{id}/cancel"),
  cancelLabel: none("POST /api/submissions/{id}/labels/{labelId}/cancel"),
  listSubmissions: get("GET /api/submissions"),
  submissionStatus: get("GET /api/submissions/{id}"),
  listLabels: get("GET /api/submissions/{id}/labels"),
  labelChangeStatus: get("GET /api/submissions/{id}/labels/{labelId}/changes/{n}"),
  signedPackageLink: get("GET /api/submissions/{id}/signed-package"),
  driverMetadataLink: get("GET /api/submissions/{id}/driver-metadata"),
  manifestLink: get("GET /api/submissions/{id}/manifest"),
  errorReportLink: get("GET /api/submissions/{id}/error-report"),
  dashboard: get("GET /api/dashboard"),
  readAudit: get("GET /api/audit"),
  listApprovals: get("GET /api/approvals"),
} as const satisfies Record<string, BodyLimit>;

export type HttpFunctionName = keyof typeof HTTP_BODY_LIMITS;

/** The runtime's own routes (the local front enforces these; in Azure the host and Event Grid do). */
export const WEBHOOK_BODY_LIMITS = {
  eventGrid: {
    route: "POST /runtime/webhooks/eventgrid, POST /_local/eventgrid",
    bytes: EVENT_GRID_MAX_BODY_BYTES,
    why: "Event Grid never delivers more: an event array is at most 1 MB",
  },
  durable: {
    route: "/runtime/webhooks/durabletask/..., /durabletask/...",
    bytes: HOST_MAX_REQUEST_BODY_BYTES,
    why: "orchestration inputs and event data: the extension sets no lower limit than the host's",
  },
} as const satisfies Record<string, BodyLimit>;
