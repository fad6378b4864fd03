/**
 * Drives a registered durable-functions orchestration through its real replay engine, the way the
 * Durable extension does (reference/durable-functions.md 3.3-3.5, 5.3): each episode sends the whole
 * DTFx history with exactly one new completion, earlier events marked IsPlayed, and an
 * OrchestratorStarted whose Timestamp is a virtual clock. Returned actions are flattened, checked
 * against what earlier episodes scheduled (the JS engine does not check determinism itself), and
 * turned into TaskScheduled#n / TimerCreated#n events. Activities are scripted functions; timers
 * fire by moving the virtual clock. ContinueAsNew starts a new execution with the new input.
 *
 * Requires the @azure/functions-core stand-in to be installed before the app module is imported.
 */
import { InvocationContext } from "@azure/functions";
import { flattenActions } from "../../local/durable/actions";
import { activityFailure, customStatusSizeError, orchestratorFailure } from "../../local/durable/failures";
import { getRegisteredFunctions, triggerOf } from "../../local/functionsHost/coreStandIn";

export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventRaised: 15,
} as const;

const ActionType = { CallActivity: 0, CallActivityWithRetry: 1, CallSubOrchestrator: 2, ContinueAsNew: 4, CreateTimer: 5, WaitForExternalEvent: 6, WhenAny: 11, WhenAll: 12 } as const;

export interface HistoryEvent {
  EventType: number;
  EventId: number;
  Timestamp: string;
  IsPlayed: boolean;
  [field: string]: unknown;
}

export interface ActivityCallInfo {
  /** 1-based count of calls to this activity name over the whole run (all executions). */
  callNumber: number;
  /** Virtual time when the activity runs. */
  now: Date;
  execution: number;
}

/** (name, input, attempt) → result, or throw to fail. `attempt` counts back-to-back failed calls with the same input. */
export type ActivityScript = (name: string, input: any, attempt: number, info: ActivityCallInfo) => unknown;

export interface DriveOptions {
  input: unknown;
  activities: ActivityScript;
  orchestrator?: string;
  instanceId?: string;
  startTime?: Date;
  /** Virtual seconds an activity takes (default 1). */
  activitySeconds?: number;
  /** Safety stop (default 5000 episodes). */
  maxEpisodes?: number;
  /**
   * Continue an execution from a saved history (e.g. one written by an earlier version of the code):
   * every saved scheduling event must be produced again by the code under test, in order and with the
   * same name, input and fire time; work left pending in it is then completed by `activities`.
   */
  resumeFrom?: { input: unknown; history: HistoryEvent[] };
  /**
   * External events (raiseEvent), each delivered at its virtual time: after the activities pending
   * then, before any timer firing later. Events still undelivered when the run ends are dropped.
   */
  externalEvents?: { name: string; data: unknown; at: string }[];
}

export interface ActivityCallRecord {
  execution: number;
  scheduledId: number;
  name: string;
  input: any;
  attempt: number;
  at: string;
  outcome: "completed" | "failed";
  error?: string;
}

export interface TimerRecord {
  execution: number;
  id: number;
  createdAt: string;
  fireAt: string;
}

export interface ExecutionRecord {
  input: unknown;
  history: HistoryEvent[];
}

export interface DriveResult {
  runtimeStatus: "Completed" | "Failed";
  output: unknown;
  error?: string;
  /** Custom status after each episode, consecutive duplicates dropped. */
  customStatuses: any[];
  finalCustomStatus: any;
  executions: ExecutionRecord[];
  allEvents: HistoryEvent[];
  callCounts: Record<string, number>;
  activityCalls: ActivityCallRecord[];
  timers: TimerRecord[];
  episodes: number;
  clock: Date;
}

interface OrchestratorStateLike {
  isDone: boolean;
  actions: unknown[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

interface LeafAction {
  actionType: number;
  functionName?: string;
  instanceId?: string;
  input?: unknown;
  fireAt?: string;
  isCanceled?: boolean;
}

type Work =
  | { kind: "activity"; id: number; name: string; input: unknown; subOrchestration?: boolean }
  | { kind: "timer"; id: number; fireAt: Date };

const FAILURE_MARKER = "$OutOfProcData$:";
const MAX_SHORT_TIMER_MS = 6 * 24 * 3600 * 1000;

export class NonDeterminismError extends Error {}

/** The engine pre-JSON-encodes string inputs (Utils.processInput); undo it as the host does. */
function decodeInput(input: unknown): unknown {
  if (typeof input !== "string") return input;
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

function sameAction(previous: LeafAction, current: LeafAction): boolean {
  if (previous.actionType !== current.actionType) return false;
  if (previous.actionType === ActionType.CreateTimer) return previous.fireAt === current.fireAt;
  return previous.functionName === current.functionName && previous.instanceId === current.instanceId && JSON.stringify(previous.input) === JSON.stringify(current.input);
}

/** Runs one orchestrator episode through the registered durable-functions handler; the returned state, or the failure state. */
export async function runEpisode(
  handler: (...args: unknown[]) => unknown,
  functionName: string,
  trigger: ReturnType<typeof triggerOf>,
  payload: unknown,
  episode: number,
): Promise<OrchestratorStateLike> {
  // A fresh context per episode: the engine keeps a `df` it finds on the context.
  const context = new InvocationContext({
    functionName,
    invocationId: `episode-${episode}`,
    options: { trigger: trigger as never, extraInputs: [], extraOutputs: [] },
    logHandler: () => undefined,
  });
  try {
    return JSON.parse(JSON.stringify(await handler(payload, context))) as OrchestratorStateLike;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const at = message.indexOf(FAILURE_MARKER);
    if (at < 0) throw error;
    return JSON.parse(message.slice(at + FAILURE_MARKER.length)) as OrchestratorStateLike;
  }
}

export async function driveOrchestration(options: DriveOptions): Promise<DriveResult> {
  const functionName = options.orchestrator ?? "submitDriver";
  const registered = getRegisteredFunctions().get(functionName);
  if (!registered) throw new Error(`No function "${functionName}" is registered`);
  const trigger = triggerOf(registered);
  if (trigger.type !== "orchestrationTrigger") throw new Error(`"${functionName}" is not an orchestration`);

  const instanceId = options.instanceId ?? "test-instance";
  const activitySeconds = options.activitySeconds ?? 1;
  const maxEpisodes = options.maxEpisodes ?? 5000;
  let clock = new Date(options.startTime ?? "2025-01-01T00:00:00.000Z");

  const executions: ExecutionRecord[] = [];
  const customStatuses: any[] = [];
  const callCounts: Record<string, number> = {};
  const activityCalls: ActivityCallRecord[] = [];
  const timers: TimerRecord[] = [];

  // Per-execution state.
  let input: unknown = JSON.parse(JSON.stringify(options.input));
  let history: HistoryEvent[] = [];
  let scheduled: LeafAction[] = [];
  let nextId = 0;
  let work: Work[] = [];
  let inbox: HistoryEvent[] = [];

  const event = (fields: { EventType: number; EventId?: number; [field: string]: unknown }): HistoryEvent => ({
    EventId: -1,
    Timestamp: clock.toISOString(),
    IsPlayed: false,
    ...fields,
  });
  const startExecution = () => {
    history = [];
    scheduled = [];
    nextId = 0;
    work = [];
    executions.push({ input, history });
    inbox = [event({ EventType: EventType.ExecutionStarted, Name: functionName, Input: JSON.stringify(input), Version: "" })];
  };
  startExecution();
  if (options.resumeFrom) {
    input = JSON.parse(JSON.stringify(options.resumeFrom.input));
    history = JSON.parse(JSON.stringify(options.resumeFrom.history)) as HistoryEvent[];
    executions[0] = { input, history };
    inbox = [];
    const done = new Set(
      history.filter((e) => [EventType.TaskCompleted, EventType.TaskFailed, EventType.TimerFired].includes(e.EventType as never))
        .map((e) => (e.EventType === EventType.TimerFired ? e.TimerId : e.TaskScheduledId) as number),
    );
    for (const saved of history) {
      if (saved.EventType === EventType.TaskScheduled) {
        const savedInput = JSON.parse(saved.Input as string);
        scheduled.push({ actionType: ActionType.CallActivity, functionName: saved.Name as string, input: savedInput });
        if (!done.has(saved.EventId)) work.push({ kind: "activity", id: saved.EventId, name: saved.Name as string, input: savedInput });
      } else if (saved.EventType === EventType.TimerCreated) {
        scheduled.push({ actionType: ActionType.CreateTimer, fireAt: saved.FireAt as string });
        if (!done.has(saved.EventId)) work.push({ kind: "timer", id: saved.EventId, fireAt: new Date(saved.FireAt as string) });
      }
    }
    nextId = scheduled.length;
    clock = new Date(history[history.length - 1]?.Timestamp ?? clock);
  }

  let lastFailedCall: { name: string; inputJson: string; attempt: number } | undefined;
  const pendingEvents = [...(options.externalEvents ?? [])].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));

  for (let episode = 1; episode <= maxEpisodes; episode++) {
    for (const past of history) past.IsPlayed = true;
    history.push(event({ EventType: EventType.OrchestratorStarted }));
    history.push(...inbox);
    inbox = [];

    const payload = JSON.parse(
      JSON.stringify({
        history,
        input,
        instanceId,
        isReplaying: false,
        parentInstanceId: null,
        upperSchemaVersion: 1,
        upperSchemaVersionNew: 3, // as the extension 3.19.0 sends (local/conformance)
        maximumShortTimerDuration: "6.00:00:00",
        longRunningTimerIntervalDuration: "3.00:00:00",
        defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
      }),
    );
    const state = await runEpisode(registered.handler, functionName, trigger, payload, episode);

    // The extension refuses a custom status over 16 KB before it schedules anything: the instance fails.
    const statusTooLarge = customStatusSizeError(state.customStatus);
    if (statusTooLarge) {
      const reason = state.error === undefined ? orchestratorFailure(functionName, statusTooLarge).reason : statusTooLarge;
      history.push(event({ EventType: EventType.ExecutionCompleted, OrchestrationStatus: "Failed", Result: JSON.stringify(reason) }));
      history.push(event({ EventType: EventType.OrchestratorCompleted }));
      const allEvents = executions.flatMap((execution) => execution.history);
      return {
        runtimeStatus: "Failed", output: null, error: reason, customStatuses, finalCustomStatus: customStatuses[customStatuses.length - 1] ?? null,
        executions, allEvents, callCounts, activityCalls, timers, episodes: episode, clock,
      };
    }
    const status = state.customStatus ?? null;
    if (JSON.stringify(status) !== JSON.stringify(customStatuses[customStatuses.length - 1] ?? null)) customStatuses.push(status);

    // Waiting for an external event is no scheduling event in DTFx history (no sequence number): not compared.
    const leaves = (flattenActions(state.actions ?? []) as unknown as LeafAction[]).filter((a) => a.actionType !== ActionType.WaitForExternalEvent);
    for (let i = 0; i < scheduled.length; i++) {
      if (!leaves[i] || !sameAction(scheduled[i], leaves[i])) {
        throw new NonDeterminismError(
          `Non-deterministic orchestration: action #${i} was ${JSON.stringify(scheduled[i])} but replay produced ${JSON.stringify(leaves[i])}`,
        );
      }
    }

    let continuedWith: { input: unknown } | undefined;
    for (const action of leaves.slice(scheduled.length)) {
      scheduled.push(action);
      switch (action.actionType) {
        case ActionType.CallActivity: {
          const id = nextId++;
          const activityInput = decodeInput(action.input);
          history.push(event({ EventType: EventType.TaskScheduled, EventId: id, Name: action.functionName, Input: JSON.stringify(activityInput) }));
          work.push({ kind: "activity", id, name: action.functionName as string, input: activityInput });
          break;
        }
        case ActionType.CreateTimer: {
          const id = nextId++;
          const fireAt = new Date(action.fireAt as string);
          if (fireAt.getTime() - clock.getTime() > MAX_SHORT_TIMER_MS) throw new Error("Long timers (> 6 days) are not supported by this driver");
          history.push(event({ EventType: EventType.TimerCreated, EventId: id, FireAt: fireAt.toISOString() }));
          timers.push({ execution: executions.length, id, createdAt: clock.toISOString(), fireAt: fireAt.toISOString() });
          if (!action.isCanceled) work.push({ kind: "timer", id, fireAt });
          break;
        }
        case ActionType.CallSubOrchestrator: {
          // Scripted like an activity (the script gets the orchestrator's name); its output is the child's result.
          const id = nextId++;
          const childInput = decodeInput(action.input);
          history.push(event({ EventType: EventType.SubOrchestrationInstanceCreated, EventId: id, Name: action.functionName, InstanceId: action.instanceId, Input: JSON.stringify(childInput) }));
          work.push({ kind: "activity", id, name: action.functionName as string, input: childInput, subOrchestration: true });
          break;
        }
        case ActionType.ContinueAsNew:
          continuedWith = { input: decodeInput(action.input) };
          break;
        default:
          throw new Error(`Action type ${action.actionType} is not supported by the replay driver`);
      }
    }

    const finish = (runtimeStatus: DriveResult["runtimeStatus"], output: unknown, error?: string): DriveResult => {
      const allEvents = executions.flatMap((execution) => execution.history);
      return {
        runtimeStatus,
        output,
        error,
        customStatuses,
        finalCustomStatus: customStatuses[customStatuses.length - 1] ?? null,
        executions,
        allEvents,
        callCounts,
        activityCalls,
        timers,
        episodes: episode,
        clock,
      };
    };

    if (state.error !== undefined) {
      history.push(event({ EventType: EventType.ExecutionCompleted, OrchestrationStatus: "Failed", Result: JSON.stringify(state.error) }));
      history.push(event({ EventType: EventType.OrchestratorCompleted }));
      return finish("Failed", null, state.error);
    }
    if (continuedWith) {
      history.push(event({ EventType: EventType.ExecutionCompleted, OrchestrationStatus: "ContinuedAsNew", Result: JSON.stringify(continuedWith.input) }));
      history.push(event({ EventType: EventType.OrchestratorCompleted }));
      input = continuedWith.input;
      startExecution();
      continue;
    }
    if (state.isDone) {
      history.push(event({ EventType: EventType.ExecutionCompleted, OrchestrationStatus: "Completed", Result: JSON.stringify(state.output ?? null) }));
      history.push(event({ EventType: EventType.OrchestratorCompleted }));
      return finish("Completed", state.output ?? null);
    }
    history.push(event({ EventType: EventType.OrchestratorCompleted }));

    // One completion per episode: activities first (in scheduling order), then the earliest timer.
    const activityIndex = work.findIndex((item) => item.kind === "activity");
    if (activityIndex >= 0) {
      const item = work.splice(activityIndex, 1)[0] as Extract<Work, { kind: "activity" }>;
      clock = new Date(clock.getTime() + activitySeconds * 1000);
      const inputJson = JSON.stringify(item.input);
      const attempt =
        lastFailedCall && lastFailedCall.name === item.name && lastFailedCall.inputJson === inputJson ? lastFailedCall.attempt + 1 : 1;
      callCounts[item.name] = (callCounts[item.name] ?? 0) + 1;
      const record: ActivityCallRecord = {
        execution: executions.length,
        scheduledId: item.id,
        name: item.name,
        input: item.input,
        attempt,
        at: clock.toISOString(),
        outcome: "completed",
      };
      activityCalls.push(record);
      try {
        const output = await options.activities(item.name, JSON.parse(inputJson), attempt, {
          callNumber: callCounts[item.name],
          now: new Date(clock),
          execution: executions.length,
        });
        lastFailedCall = undefined;
        inbox.push(event({ EventType: item.subOrchestration ? EventType.SubOrchestrationInstanceCompleted : EventType.TaskCompleted, TaskScheduledId: item.id, Result: JSON.stringify(output ?? null) }));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        record.outcome = "failed";
        record.error = message;
        lastFailedCall = { name: item.name, inputJson, attempt };
        // Reason/Details exactly as the Durable extension writes them for a JS activity.
        const failure = activityFailure(item.name, error);
        inbox.push(event({ EventType: item.subOrchestration ? EventType.SubOrchestrationInstanceFailed : EventType.TaskFailed, TaskScheduledId: item.id, Reason: failure.reason, Details: failure.details }));
      }
      continue;
    }
    const timerItems = work.filter((item): item is Extract<Work, { kind: "timer" }> => item.kind === "timer");
    const nextTimerAt = timerItems.length > 0 ? Math.min(...timerItems.map((item) => item.fireAt.getTime())) : Infinity;
    if (pendingEvents.length > 0 && Date.parse(pendingEvents[0].at) <= nextTimerAt) {
      const raised = pendingEvents.shift()!;
      if (Date.parse(raised.at) > clock.getTime()) clock = new Date(raised.at);
      inbox.push(event({ EventType: EventType.EventRaised, Name: raised.name, Input: JSON.stringify(raised.data) }));
      continue;
    }
    if (timerItems.length > 0) {
      const earliest = timerItems.reduce((a, b) => (b.fireAt.getTime() < a.fireAt.getTime() ? b : a));
      work.splice(work.indexOf(earliest), 1);
      if (earliest.fireAt.getTime() > clock.getTime()) clock = new Date(earliest.fireAt);
      inbox.push(event({ EventType: EventType.TimerFired, TimerId: earliest.id, FireAt: earliest.fireAt.toISOString() }));
      continue;
    }
    throw new Error(`Orchestration is stuck: running with nothing scheduled after episode ${episode}`);
  }
  throw new Error(`Orchestration did not finish within ${maxEpisodes} episodes`);
}
