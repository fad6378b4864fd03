/**
 * Owners (issue 32): which submissions a caller may touch. The caller gate has already checked that
 * the caller holds a role for the route's action (domain/authorization.ts); here the action's scope
 * is held against the owner the submission recorded. Someone else's submission is "not found" (404),
 * never "forbidden": its existence is not told. Under AUTH_MODE=keys nothing tells callers apart, so
 * the key holder owns everything (every scope is "any").
 */
import type { InvocationContext } from "@azure/functions";
import { type Action, authorize, ownerIn, type Owner, type Scope, withinScope } from "../domain/authorization";
import type { Caller } from "../domain/principal";
import { callerOf, KEY_HOLDER } from "../identity/caller";
import { RECORD_REJECTED_DROP } from "../orchestrators/recordRejectedDrop";
import { noteAudit } from "./auditTrail";
import type { AuditTarget } from "../domain/audit";

/** The scope the invocation's caller has for `action`; undefined when it holds no role for it. */
export function scopeFor(context: InvocationContext, action: Action): Scope | undefined {
  const caller = callerOf(context);
  if (caller === KEY_HOLDER) return "any";
  const decision = authorize(caller.signRoles, action);
  return decision.allowed ? decision.scope : undefined;
}

/** The owner to record for what this caller starts; none for the key holder (no principal to record). */
export function ownerOfCaller(caller: Caller): Owner | undefined {
  if (caller === KEY_HOLDER) return undefined;
  return { objectId: caller.objectId, ...(caller.name ? { name: caller.name } : {}), ...(caller.clientAppId ? { clientAppId: caller.clientAppId } : {}) };
}

/** Whether the caller may do `action` on something owned by `owner` (undefined: operators only). */
export function mayTouch(context: InvocationContext, action: Action, owner: Owner | undefined): boolean {
  const scope = scopeFor(context, action);
  return scope !== undefined && withinScope(scope, callerOf(context).objectId, owner);
}

/**
 * Whether the caller may do `action` on this instance (its input shown): the owner its input
 * records; a rejected drop's record is for those who may read rejected drops.
 */
export function mayTouchInstance(
  context: InvocationContext,
  action: Action,
  status: { name?: string; input?: unknown; instanceId?: string; customStatus?: unknown; output?: unknown },
): boolean {
  const allowed = isVisibleTo(context, action, status);
  // The audit record of this request names the instance and Microsoft's ids; a caller asked for this
  // one instance and told "not found" is an owner refusal.
  noteAudit(context, { ...(allowed ? {} : { refusal: "owner" as const }), target: auditTargetOf(status) });
  return allowed;
}

/** The instance and, once known, Microsoft's product and submission ids (as strings: they are 64-bit). */
function auditTargetOf(status: { instanceId?: string; customStatus?: unknown; output?: unknown }): AuditTarget {
  const idOf = (field: "productId" | "submissionId"): string | undefined => {
    for (const source of [status.output, status.customStatus]) {
      const value = source && typeof source === "object" ? (source as Record<string, unknown>)[field] : undefined;
      if (typeof value === "string" || typeof value === "number" || typeof value === "bigint") return String(value);
    }
    return undefined;
  };
  const product = idOf("productId");
  const submission = idOf("submissionId");
  return { ...(status.instanceId ? { instance: status.instanceId } : {}), ...(product ? { product } : {}), ...(submission ? { submission } : {}) };
}

/** The same rule for filtering a list: what is left out is not a refusal. */
export function isVisibleTo(context: InvocationContext, action: Action, status: { name?: string; input?: unknown }): boolean {
  // A rejected drop's record is read under its own action, whatever the route; both go by the recorded owner.
  return mayTouch(context, status.name === RECORD_REJECTED_DROP ? "rejectedDrop.read" : action, ownerIn(status.input));
}
