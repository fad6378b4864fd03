/** Reading the action list an episode returns: flattening, recording, and the determinism check. */
import { ActionJson, ActionType, RecordedAction, RetryOptionsJson } from "./types";

/** Schema >= V2 returns [[a1, a2, {WhenAll, compoundActions}]]; this yields the leaf actions in issue order. */
export function flattenActions(actions: unknown): ActionJson[] {
  const leaves: ActionJson[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== "object") return;
    const action = node as ActionJson;
    if (action.actionType === ActionType.WhenAll || action.actionType === ActionType.WhenAny) {
      (action.compoundActions ?? []).forEach(visit);
    } else {
      leaves.push(action);
    }
  };
  visit(actions);
  return leaves;
}

/** Whether the host gives this action a sequence number (external events are keyed by name; continueAsNew by nothing). */
export function takesSequenceId(type: ActionType): boolean {
  return type !== ActionType.WaitForExternalEvent && type !== ActionType.ContinueAsNew;
}

export const UNSUPPORTED_ACTIONS: ReadonlySet<ActionType> = new Set([
  ActionType.CallEntity, ActionType.CallHttp, ActionType.SignalEntity, ActionType.ScheduledSignalEntity,
  ActionType.LockEntities, ActionType.ReleaseEntities,
]);

export function actionTarget(action: ActionJson): string {
  switch (action.actionType) {
    case ActionType.CreateTimer:
      return new Date(action.fireAt as string).toISOString();
    case ActionType.WaitForExternalEvent:
      return action.externalEventName ?? "";
    case ActionType.ContinueAsNew:
      return "";
    default:
      return action.functionName ?? action.instanceId ?? "";
  }
}

export function describeAction(action: { type: ActionType; target: string }): string {
  const kind = ActionType[action.type] ?? `action type ${action.type}`;
  if (action.type === ActionType.CreateTimer) return `${kind} firing at ${action.target}`;
  return action.target ? `${kind} '${action.target}'` : kind;
}

/**
 * Replays must issue the actions already recorded, in the same order (the check DTFx does and the JS engine
 * does not). Returns the mismatch message, or undefined when the recorded prefix matches.
 * `requireAll`: a replay that is still running (or finished) must have re-issued every recorded action.
 */
export function findNonDeterminism(recorded: RecordedAction[], leaves: ActionJson[], requireAll: boolean): string | undefined {
  for (let i = 0; i < recorded.length; i++) {
    const expected = recorded[i];
    const action = leaves[i];
    if (!action) {
      if (!requireAll) return undefined;
      return `Non-deterministic orchestrator: action #${i} was ${describeAction(expected)} in the recorded history, ` +
        `but the orchestrator did not issue it on replay`;
    }
    const actual = { type: action.actionType, target: actionTarget(action) };
    if (actual.type !== expected.type || actual.target !== expected.target) {
      return `Non-deterministic orchestrator: action #${i} was ${describeAction(expected)} in the recorded history, ` +
        `but the orchestrator now issued ${describeAction(actual)}`;
    }
  }
  return undefined;
}

const SIX_DAYS_MS = 6 * 24 * 3600 * 1000;

/**
 * Delay before the next attempt after failed attempt `attempt` (1-based), per DTFx RetryInterceptor:
 * first * backoff^(attempt-1), capped at the max interval (default 6 days); 0 once the retry timeout has passed.
 */
export function retryDelayMs(options: RetryOptionsJson, attempt: number, firstAttemptAt: Date, now: Date): number {
  const timeout = options.retryTimeoutInMilliseconds;
  if (typeof timeout === "number" && timeout > 0 && now.getTime() >= firstAttemptAt.getTime() + timeout) return 0;
  const backoff = options.backoffCoefficient ?? 1;
  const cap = options.maxRetryIntervalInMilliseconds && options.maxRetryIntervalInMilliseconds > 0
    ? options.maxRetryIntervalInMilliseconds : SIX_DAYS_MS;
  return Math.min(options.firstRetryIntervalInMilliseconds * Math.pow(backoff, attempt - 1), cap);
}
