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

const DAY_MS = 24 * 3600 * 1000;
/** Azure Storage provider: MaximumDelayTime (also sent to JS as maximumShortTimerDuration). */
export const MAX_SHORT_TIMER_MS = 6 * DAY_MS;
/** Azure Storage provider: LongRunningTimerIntervalLength (sent as longRunningTimerIntervalDuration). */
export const LONG_TIMER_INTERVAL_MS = 3 * DAY_MS;

/** A .NET TimeSpan the way Newtonsoft writes it: "[d.]hh:mm:ss". */
export function timeSpanText(ms: number): string {
  const two = (n: number) => String(n).padStart(2, "0");
  const days = Math.floor(ms / DAY_MS);
  const rest = ms - days * DAY_MS;
  const clock = `${two(Math.floor(rest / 3600_000))}:${two(Math.floor((rest % 3600_000) / 60_000))}:${two(Math.floor((rest % 60_000) / 1000))}`;
  return days > 0 ? `${days}.${clock}` : clock;
}

/**
 * DurableOrchestrationContext.CreateTimer: a timer further away than the maximum is created as chunks of the
 * long-running interval. Returns the first chunk's fireAt for a timer issued at `now`.
 */
export function firstTimerChunk(finalFireAt: Date, now: Date): Date {
  return finalFireAt.getTime() - now.getTime() > MAX_SHORT_TIMER_MS ? new Date(now.getTime() + LONG_TIMER_INTERVAL_MS) : finalFireAt;
}

/** The extension's long-timer loop after a chunk fired at `now`: the next chunk, or undefined once the final time is reached. */
export function nextTimerChunk(finalFireAt: Date, now: Date): Date | undefined {
  const remaining = finalFireAt.getTime() - now.getTime();
  if (remaining <= 0) return undefined;
  return remaining < LONG_TIMER_INTERVAL_MS ? finalFireAt : new Date(now.getTime() + LONG_TIMER_INTERVAL_MS);
}
