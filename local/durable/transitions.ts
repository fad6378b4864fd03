/**
 * Pure episode logic: which events an episode appends, which host work it creates, and the instance's next
 * status. No I/O here; the engine commits the plan atomically and only then applies it to memory.
 */
import { randomUUID } from "node:crypto";
import {
  actionTarget, findNonDeterminism, firstTimerChunk, flattenActions, nextTimerChunk, retryDelayMs, takesSequenceId, UNSUPPORTED_ACTIONS,
} from "./actions";
import { EpisodeOutcome } from "./episode";
import { customStatusFailure, customStatusSizeError, orchestratorFailure } from "./failures";
import * as ev from "./historyEvents";
import { InstanceState } from "./instanceState";
import { InstanceRecord } from "./store";
import {
  ActionJson, ActionType, EventType, HistoryEvent, InboxItem, RecordedAction, RetriedCall, RetryState, RuntimeStatus, TimerWork, WorkItem,
} from "./types";

/** Events an episode delivers to the orchestrator plus host-allocated ids (reference 3.5: allocate while appending). */
export interface Delivery {
  newEvents: HistoryEvent[];
  newWork: WorkItem[];
  completedIds: number[];
  nextEventId: number;
  warnings: string[];
}

export function deliverEvents(state: InstanceState, item: InboxItem, now: Date): Delivery {
  const d: Delivery = { newEvents: [ev.orchestratorStarted(now)], newWork: [], completedIds: [], nextEventId: state.record.nextEventId, warnings: [] };
  for (const event of item.events) {
    d.newEvents.push(event);
    const id = ev.completedWorkId(event);
    if (id === undefined) continue;
    d.completedIds.push(id);
    const work = state.work.get(id);
    const failed = event.EventType === EventType.TaskFailed || event.EventType === EventType.SubOrchestrationInstanceFailed;
    if (failed && work && work.kind !== "timer" && work.retry) scheduleRetryTimer(d, work, work.retry, now);
    if (event.EventType === EventType.TimerFired && work?.kind === "timer" && work.retryOf) {
      const call = work.retryOf;
      if (call.retry.attempt <= call.retry.options.maxNumberOfAttempts) scheduleCall(d, state.record.executionGuid, call, now);
    }
    if (event.EventType === EventType.TimerFired && work?.kind === "timer" && work.finalFireAt) {
      continueLongTimer(d, work, now);
    }
  }
  return d;
}

/**
 * DTFx RetryInterceptor creates a timer after every failed attempt (the JS task throws when the last one fires):
 * the backoff delay between attempts, and after the last attempt a "dummy timer for back-compat" due at once.
 */
function scheduleRetryTimer(d: Delivery, work: WorkItem & { kind: "activity" | "subOrchestration" }, retry: RetryState, now: Date): void {
  const last = retry.attempt >= retry.options.maxNumberOfAttempts;
  const delay = last ? 0 : retryDelayMs(retry.options, retry.attempt, new Date(retry.firstAttemptAt), now);
  if (!last && delay <= 0) {
    d.warnings.push(`retry timeout of '${work.name}' passed: no retry timer, so the orchestration waits forever (durable-functions issue #629)`);
    return;
  }
  const id = d.nextEventId++;
  const fireAt = new Date(now.getTime() + delay).toISOString();
  d.newEvents.push(ev.timerCreated(now, id, fireAt));
  const retryOf: RetriedCall = {
    kind: work.kind, name: work.name, input: work.input, retry: { ...retry, attempt: retry.attempt + 1 },
    ...(work.kind === "subOrchestration" && work.requestedChildId ? { requestedChildId: work.requestedChildId } : {}),
  };
  d.newWork.push({ kind: "timer", id, fireAt, retryOf });
}

/** The extension's long-timer loop: once a chunk fired, the next chunk is created in the same episode. */
function continueLongTimer(d: Delivery, chunk: TimerWork, now: Date): void {
  const next = nextTimerChunk(new Date(chunk.finalFireAt as string), now);
  if (!next) return;
  const id = d.nextEventId++;
  const fireAt = next.toISOString();
  d.newEvents.push(ev.timerCreated(now, id, fireAt));
  d.newWork.push({ kind: "timer", id, fireAt, finalFireAt: chunk.finalFireAt, chainId: chunk.chainId ?? chunk.id });
}

/** DTFx names a sub-orchestration without an explicit id "<parent ExecutionId>:<sequence id>". */
export function childInstanceId(parentExecutionGuid: string, sequenceId: number): string {
  return `${parentExecutionGuid}:${sequenceId}`;
}

function scheduleCall(d: Delivery, executionGuid: string, call: RetriedCall, now: Date): void {
  const id = d.nextEventId++;
  if (call.kind === "activity") {
    d.newEvents.push(ev.taskScheduled(now, id, call.name));
    d.newWork.push({ kind: "activity", id, name: call.name, input: call.input, retry: call.retry });
  } else {
    const childId = call.requestedChildId ?? childInstanceId(executionGuid, id);
    d.newEvents.push(ev.subOrchestrationCreated(now, id, call.name, childId));
    d.newWork.push({ kind: "subOrchestration", id, name: call.name, input: call.input, childId, retry: call.retry, requestedChildId: call.requestedChildId });
  }
}

export interface EpisodePlan {
  record: InstanceRecord;
  /** Events to append to history (empty when the execution restarts). */
  events: HistoryEvent[];
  newWork: WorkItem[];
  newActions: RecordedAction[];
  canceledTimers: number[];
  completedIds: number[];
  /** continueAsNew: the next execution's start message. */
  restart?: InboxItem;
  warnings: string[];
}

export function planEpisode(state: InstanceState, d: Delivery, outcome: EpisodeOutcome, now: Date): EpisodePlan {
  const rec = state.record;
  const s = outcome.state;
  const leaves = s ? flattenActions(s.actions) : [];
  // The extension sets the custom status first, every episode (null when the orchestrator sent none) and refuses
  // one over 16 KB before it replays any action.
  const statusTooLarge = customStatusSizeError(s?.customStatus);
  const plan: EpisodePlan = {
    record: {
      ...rec, nextEventId: d.nextEventId, lastUpdatedTime: now.toISOString(),
      customStatus: statusTooLarge ? null : s?.customStatus ?? null, failureDetails: undefined,
    },
    events: [...d.newEvents], newWork: [...d.newWork], newActions: [], canceledTimers: [], completedIds: d.completedIds,
    warnings: d.warnings,
  };
  let failure: { reason: string; details: string } | undefined;
  if (statusTooLarge) {
    // Thrown inside the shim's normal path it becomes "Orchestrator function … failed: …"; when the orchestrator
    // had thrown too, the ArgumentException escapes the shim and DTFx records its bare message.
    failure = outcome.kind === "state"
      ? customStatusFailure(rec.name, statusTooLarge)
      : { reason: statusTooLarge, details: `Unhandled exception while executing orchestration: System.ArgumentException: ${statusTooLarge}` };
  } else if (outcome.kind === "failed") {
    failure = outcome.state ? orchestratorFailure(rec.name, outcome.message) : { reason: outcome.message, details: outcome.message };
  }
  const mismatch = statusTooLarge ? undefined : findNonDeterminism(state.recorded, leaves, outcome.kind === "state");
  if (mismatch) failure = { reason: mismatch, details: mismatch };
  let continueInput: { value: unknown } | undefined;
  if (!mismatch && !statusTooLarge) {
    state.recorded.forEach((recorded, i) => {
      const leaf = leaves[i];
      if (leaf?.actionType === ActionType.CreateTimer && leaf.isCanceled) plan.canceledTimers.push(...pendingChunks(state, recorded.id));
    });
    if (outcome.kind === "state") {
      for (const action of leaves.slice(state.recorded.length)) {
        if (UNSUPPORTED_ACTIONS.has(action.actionType)) {
          const message = `${ActionType[action.actionType]} ('${actionTarget(action)}') is not supported by the local runtime`;
          failure = { reason: message, details: message };
          break;
        }
        const id = takesSequenceId(action.actionType) ? plan.record.nextEventId++ : -1;
        plan.newActions.push({ type: action.actionType, target: actionTarget(action), id });
        if (action.actionType === ActionType.ContinueAsNew) continueInput = { value: ev.decodeActionInput(action.input) };
        else scheduleAction(plan, rec.executionGuid, action, id, now);
      }
    }
  }
  const finish = (status: RuntimeStatus, output: unknown) => {
    plan.record.runtimeStatus = status;
    plan.record.output = output ?? null;
    const completed = ev.executionCompleted(now, status, output);
    // DTFx stores a failure's reason as plain text, a result as JSON.
    plan.events.push(status === "Failed" ? { ...completed, Result: String(output) } : completed);
  };
  if (failure !== undefined) {
    finish("Failed", failure.reason);
    plan.record.failureDetails = failure.details;
  } else if (s?.isDone && continueInput) restartExecution(state, plan, continueInput.value, leaves, now);
  else if (s?.isDone) finish("Completed", s.output);
  else plan.record.runtimeStatus = "Running";
  // DTFx appends OrchestratorCompleted after the episode's decisions (ExecutionCompleted included).
  if (!plan.restart) plan.events.push(ev.orchestratorCompleted(now));
  return plan;
}

/** The pending timer(s) behind a recorded CreateTimer action: the timer itself or the current chunk of its chain. */
function pendingChunks(state: InstanceState, recordedId: number): number[] {
  return [...state.work.values()]
    .filter((w) => w.kind === "timer" && (w.id === recordedId || w.chainId === recordedId))
    .map((w) => w.id);
}

function scheduleAction(plan: EpisodePlan, executionGuid: string, action: ActionJson, id: number, now: Date): void {
  const name = action.functionName ?? "";
  switch (action.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry: {
      const input = ev.decodeActionInput(action.input);
      plan.events.push(ev.taskScheduled(now, id, name));
      plan.newWork.push({ kind: "activity", id, name, input, retry: retryStateOf(action, now) });
      return;
    }
    case ActionType.CreateTimer: {
      const finalFireAt = actionTarget(action);
      const fireAt = firstTimerChunk(new Date(finalFireAt), now).toISOString();
      plan.events.push(ev.timerCreated(now, id, fireAt));
      const chain = fireAt === finalFireAt ? {} : { finalFireAt, chainId: id };
      if (!action.isCanceled) plan.newWork.push({ kind: "timer", id, fireAt, ...chain });
      return;
    }
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry: {
      const childId = action.instanceId || childInstanceId(executionGuid, id);
      plan.events.push(ev.subOrchestrationCreated(now, id, name, childId));
      plan.newWork.push({
        kind: "subOrchestration", id, name, input: action.input, childId, retry: retryStateOf(action, now),
        ...(action.instanceId ? { requestedChildId: action.instanceId } : {}),
      });
      return;
    }
    default:
      return; // WaitForExternalEvent: raised events are matched by name, nothing to schedule
  }
}

function retryStateOf(action: ActionJson, now: Date): RetryState | undefined {
  return action.retryOptions ? { options: action.retryOptions, attempt: 1, firstAttemptAt: now.toISOString() } : undefined;
}

/** DTFx execution ids: a GUID in "N" format, new for every execution (continueAsNew included). */
export function newExecutionGuid(): string {
  return randomUUID().replace(/-/g, "");
}

/** continueAsNew: a new execution with a reset history; raised events no waiter consumed are carried over. */
function restartExecution(state: InstanceState, plan: EpisodePlan, input: unknown, leaves: ActionJson[], now: Date): void {
  const rec = plan.record;
  rec.executionId += 1;
  rec.episodeCount = 0;
  rec.nextEventId = 0;
  rec.executionGuid = newExecutionGuid();
  rec.input = input ?? null;
  rec.runtimeStatus = "ContinuedAsNew";
  rec.output = null;
  const carried = unconsumedEvents([...state.history, ...plan.events], leaves);
  plan.restart = {
    rowKey: `i${"0".repeat(15)}-${String(rec.executionId).padStart(6, "0")}`, // sorts before every queued message
    // DTFx starts the new execution's history with the continued episode's OrchestratorCompleted after
    // ExecutionStarted (the conformance harness shows [OrchestratorStarted, ExecutionStarted, OrchestratorCompleted, ...]).
    events: [ev.executionStarted(now, rec.name, JSON.stringify(input ?? null), rec.parent?.instanceId), ev.orchestratorCompleted(now), ...carried],
    executionId: rec.executionId,
  };
  plan.events = [];
  plan.newWork = [];
  plan.newActions = [];
}

/** Per event name, the raised events beyond the number of waits the orchestrator issued (JS consumes them in order). */
function unconsumedEvents(history: HistoryEvent[], leaves: ActionJson[]): HistoryEvent[] {
  const waits = new Map<string, number>();
  for (const a of leaves) {
    if (a.actionType === ActionType.WaitForExternalEvent) waits.set(a.externalEventName ?? "", (waits.get(a.externalEventName ?? "") ?? 0) + 1);
  }
  const carried: HistoryEvent[] = [];
  for (const event of history) {
    if (event.EventType !== EventType.EventRaised) continue;
    const name = event.Name ?? "";
    const remaining = waits.get(name) ?? 0;
    if (remaining > 0) waits.set(name, remaining - 1);
    else carried.push({ ...event, IsPlayed: false });
  }
  return carried;
}
