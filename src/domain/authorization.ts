/**
 * Who may do what: the app's named actions × the four app roles, written once (issue 32). Every HTTP
 * function names its action where it is registered; the caller gate (functions/callerGate.ts)
 * refuses a caller holding none of the action's roles with 403 before anything is read, and the
 * handlers narrow "own" scopes to the caller's own submissions (someone else's answers 404).
 *
 * Scopes: "own" — submissions the caller started (the owner recorded on the submission); "any" —
 * every owner's, including legacy runs without an owner and drops nobody is configured to own;
 * "others" — anyone's but the caller's own (a second person approves a publication).
 */
import type { SignRole } from "./principal";

export type Scope = "own" | "any" | "others";

/** Each action and the roles that may do it, with the scope each role gets. */
export const PERMISSIONS = {
  /** POST /api/uploads: an upload URL for a new package (the package then belongs to the caller). */
  "upload.create": { "Sign.Submit": "own" },
  /** POST /api/submissions: sign a package. */
  "submission.start": { "Sign.Submit": "own" },
  /** POST /api/submissions with productId/submissionId: continue a run this service created for the package. */
  "submission.resume": { "Sign.Submit": "own" },
  /** GET /api/submissions/{id}. */
  "submission.status": { "Sign.Submit": "own", "Sign.Operate": "any" },
  /** GET /api/submissions. */
  "submission.list": { "Sign.Submit": "own", "Sign.Operate": "any" },
  /** GET /api/submissions/{id}/signed-package, /driver-metadata, /manifest, /error-report. */
  "submission.files": { "Sign.Submit": "own", "Sign.Operate": "any" },
  /** POST /api/submissions/{id}/cancel. */
  "submission.cancel": { "Sign.Submit": "own", "Sign.Operate": "any" },
  /** POST /api/submissions/{id}/labels: publish a signed driver (Windows Update). */
  "label.create": { "Sign.Publish": "own" },
  /** GET /api/submissions/{id}/labels. */
  "label.list": { "Sign.Publish": "own", "Sign.Operate": "any" },
  /** PATCH /api/submissions/{id}/labels/{labelId}: targeting changes. */
  "label.change": { "Sign.Publish": "own" },
  /** POST /api/submissions/{id}/labels/{labelId}/cancel. */
  "label.cancel": { "Sign.Publish": "own" },
  /** GET /api/submissions/{id}/labels/{labelId}/changes/{n}. */
  "label.changeStatus": { "Sign.Publish": "own", "Sign.Operate": "any" },
  /** GET /api/dashboard: the page shows each signed-in user what they may do; operators see every owner's. */
  "dashboard.view": { "Sign.Submit": "own", "Sign.Publish": "own", "Sign.Approve": "own", "Sign.Operate": "any" },
  /**
   * Records of drops the blob trigger refused (in the list and status views): operators see all, a submitter the
   * ones of drops that were theirs (an upload URL they asked for, or their DROP_OWNERS prefix).
   */
  "rejectedDrop.read": { "Sign.Submit": "own", "Sign.Operate": "any" },
  /** GET /api/audit: the audit trail (issue 33), every principal's records. */
  "audit.read": { "Sign.Operate": "any" },
  /** POST /api/submissions/{id}/approvals: approve or reject a label waiting for approval (never one the caller asked for). */
  "approval.decide": { "Sign.Approve": "others" },
  /** GET /api/approvals: the labels waiting for approval, every owner's (what an approver decides on; the page lists them). */
  "approval.list": { "Sign.Approve": "any" },
} as const satisfies Record<string, Partial<Record<SignRole, Scope>>>;

export type Action = keyof typeof PERMISSIONS;
export const ACTIONS = Object.keys(PERMISSIONS) as Action[];

export type Decision =
  | { allowed: true; action: Action; scope: Scope }
  | { allowed: false; action: Action; allowedRoles: SignRole[] };

/** The roles that may do `action`, in the table's order. */
export function rolesFor(action: Action): SignRole[] {
  return Object.keys(PERMISSIONS[action]) as SignRole[];
}

const BREADTH: Record<Scope, number> = { others: 0, own: 1, any: 2 };

/** The decision for a caller holding `roles`: the broadest scope any of them grants, or a refusal. */
export function authorize(roles: readonly string[], action: Action): Decision {
  const grants = PERMISSIONS[action] as Partial<Record<SignRole, Scope>>;
  let scope: Scope | undefined;
  for (const [role, granted] of Object.entries(grants) as [SignRole, Scope][]) {
    if (!roles.includes(role)) continue;
    if (scope === undefined || BREADTH[granted] > BREADTH[scope]) scope = granted;
  }
  return scope === undefined ? { allowed: false, action, allowedRoles: rolesFor(action) } : { allowed: true, action, scope };
}

/** Who started a submission (or asked for an upload URL): recorded from the caller's principal. */
export interface Owner {
  objectId: string;
  name?: string;
  clientAppId?: string;
}

/**
 * Whether a caller with `scope` may touch something owned by `owner` (undefined: a legacy run or an
 * unconfigured drop, which belongs to operators only, i.e. to the "any" scope).
 */
export function withinScope(scope: Scope, callerObjectId: string, owner: Owner | undefined): boolean {
  if (scope === "any") return true;
  if (!owner) return false;
  return scope === "own" ? owner.objectId === callerObjectId : owner.objectId !== callerObjectId;
}

/** The refusal's text: the action and the roles that allow it. */
export function refusalText(action: Action): string {
  return `the caller may not do ${action}: it needs one of the roles ${rolesFor(action).join(", ")}`;
}

const OBJECT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The owner recorded in an orchestration input or a record; undefined when absent or malformed (legacy: operators only). */
export function ownerIn(value: unknown): Owner | undefined {
  if (!value || typeof value !== "object" || Array.isArray(value)) return undefined;
  const owner = (value as { owner?: unknown }).owner;
  if (!owner || typeof owner !== "object" || Array.isArray(owner)) return undefined;
  const { objectId, name, clientAppId } = owner as Record<string, unknown>;
  if (typeof objectId !== "string" || !OBJECT_ID.test(objectId)) return undefined;
  return {
    objectId,
    ...(typeof name === "string" ? { name } : {}),
    ...(typeof clientAppId === "string" ? { clientAppId } : {}),
  };
}

/** An owner's object id as DROP_OWNERS names it: Entra object ids are GUIDs; anything id-like is accepted. */
export function objectIdProblem(objectId: string): string | undefined {
  return OBJECT_ID.test(objectId) ? undefined : "must be an object id (letters, digits, '.', '_' or '-', at most 128)";
}
