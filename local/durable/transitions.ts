/**
 * Pure episode logic: which events an episode appends, which host work it creates, and the instance's next
 * status. No I/O here; the engine commits the plan atomically and only then applies it to memory.
 */
import { actionTarget, findNonDeterminism, flattenActions, retryDelayMs, takesSequenceId, UNSUPPORTED_ACTIONS } from "./actions";
import { EpisodeOutcome } from "./episode";
import * as ev from "./historyEvents";
import { InstanceState } from "./instanceState";
import { InstanceRecord } from "./store";
import {
  ActionJson, ActionType, EventType, HistoryEvent, InboxItem, RecordedAction, RetriedCall, RetryState, RuntimeStatus, WorkItem,
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
      if (call.retry.attempt <= call.retry.options.maxNumberOfAttempts) scheduleCall(d, state.record.instanceId, call, now);
    }
  }
  return d;
}

/** DTFx creates a delay timer after every failed attempt, the last one included (the JS task throws when it fires). */
function scheduleRetryTimer(d: Delivery, work: WorkItem & { kind: "activity" | "subOrchestration" }, retry: RetryState, now: Date): void {
  const delay = retryDelayMs(retry.options, retry.attempt, new Date(retry.firstAttemptAt), now);
  if (delay <= 0) {
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

function scheduleCall(d: Delivery, instanceId: string, call: RetriedCall, now: Date): void {
  const id = d.nextEventId++;
  if (call.kind === "activity") {
    d.newEvents.push(ev.taskScheduled(now, id, call.name, JSON.stringify(call.input ?? null)));
    d.newWork.push({ kind: "activity", id, name: call.name, input: call.input, retry: call.retry });
  } else {
    const childId = call.requestedChildId ?? `${instanceId}:${id}`;
    d.newEvents.push(ev.subOrchestrationCreated(now, id, call.name, childId, JSON.stringify(call.input ?? null)));
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
  let error = outcome.kind === "failed" ? outcome.message : undefined;
  const plan: EpisodePlan = {
    record: { ...rec, nextEventId: d.nextEventId, lastUpdatedTime: now.toISOString(), customStatus: s?.customStatus ?? rec.customStatus ?? null },
    events: [...d.newEvents], newWork: [...d.newWork], newActions: [], canceledTimers: [], completedIds: d.completedIds,
    warnings: d.warnings,
  };
  const mismatch = findNonDeterminism(state.recorded, leaves, outcome.kind === "state");
  if (mismatch) error = mismatch;
  let continueInput: { value: unknown } | undefined;
  if (!mismatch) {
    state.recorded.forEach((recorded, i) => {
      const leaf = leaves[i];
      if (leaf?.actionType === ActionType.CreateTimer && leaf.isCanceled && state.work.has(recorded.id)) plan.canceledTimers.push(recorded.id);
    });
    if (outcome.kind === "state") {
      for (const action of leaves.slice(state.recorded.length)) {
        if (UNSUPPORTED_ACTIONS.has(action.actionType)) {
          error = `${ActionType[action.actionType]} ('${actionTarget(action)}') is not supported by the local runtime`;
          break;
        }
        const id = takesSequenceId(action.actionType) ? plan.record.nextEventId++ : -1;
        plan.newActions.push({ type: action.actionType, target: actionTarget(action), id });
        if (action.actionType === ActionType.ContinueAsNew) continueInput = { value: ev.decodeActionInput(action.input) };
        else scheduleAction(plan, rec.instanceId, action, id, now);
      }
    }
  }
  plan.events.push(ev.orchestratorCompleted(now));
  const finish = (status: RuntimeStatus, output: unknown) => {
    plan.record.runtimeStatus = status;
    plan.record.output = output ?? null;
    plan.events.push(ev.executionCompleted(now, status, output));
  };
  if (error !== undefined) finish("Failed", error);
  else if (s?.isDone && continueInput) restartExecution(state, plan, continueInput.value, leaves, now);
  else if (s?.isDone) finish("Completed", s.output);
  else plan.record.runtimeStatus = "Running";
  return plan;
}

function scheduleAction(plan: EpisodePlan, instanceId: string, action: ActionJson, id: number, now: Date): void {
  const name = action.functionName ?? "";
  switch (action.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry: {
      const input = ev.decodeActionInput(action.input);
      plan.events.push(ev.taskScheduled(now, id, name, JSON.stringify(input ?? null)));
      plan.newWork.push({ kind: "activity", id, name, input, retry: retryStateOf(action, now) });
      return;
    }
    case ActionType.CreateTimer: {
      const fireAt = actionTarget(action);
      plan.events.push(ev.timerCreated(now, id, fireAt));
      if (!action.isCanceled) plan.newWork.push({ kind: "timer", id, fireAt });
      return;
    }
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry: {
      const childId = action.instanceId || `${instanceId}:${id}`;
      plan.events.push(ev.subOrchestrationCreated(now, id, name, childId, JSON.stringify(action.input ?? null)));
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

/** continueAsNew: a new execution with a reset history; raised events no waiter consumed are carried over. */
function restartExecution(state: InstanceState, plan: EpisodePlan, input: unknown, leaves: ActionJson[], now: Date): void {
  const rec = plan.record;
  rec.executionId += 1;
  rec.episodeCount = 0;
  rec.nextEventId = 0;
  rec.input = input ?? null;
  rec.runtimeStatus = "ContinuedAsNew";
  rec.output = null;
  const carried = unconsumedEvents([...state.history, ...plan.events], leaves);
  plan.restart = {
    rowKey: `i${"0".repeat(15)}-${String(rec.executionId).padStart(6, "0")}`, // sorts before every queued message
    events: [ev.executionStarted(now, rec.name, JSON.stringify(input ?? null), rec.parent?.instanceId), ...carried],
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
