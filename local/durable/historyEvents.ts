/** Builders for DTFx history events in the JSON shape the Durable extension sends (reference 3.3). */
import { EventType, HistoryEvent } from "./types";

type Extra = Omit<Partial<HistoryEvent>, "EventType" | "Timestamp">;

export function historyEvent(type: EventType, timestamp: Date, extra: Extra = {}): HistoryEvent {
  return { EventType: type, EventId: -1, Timestamp: timestamp.toISOString(), IsPlayed: false, ...extra };
}

export const orchestratorStarted = (at: Date) => historyEvent(EventType.OrchestratorStarted, at);
export const orchestratorCompleted = (at: Date) => historyEvent(EventType.OrchestratorCompleted, at);

export const executionStarted = (at: Date, name: string, inputJson: string | null, parentInstanceId?: string) =>
  historyEvent(EventType.ExecutionStarted, at, { Name: name, Input: inputJson, ...(parentInstanceId ? { ParentInstanceId: parentInstanceId } : {}) });

/**
 * The extension keeps no input in TaskScheduled / SubOrchestrationInstanceCreated (storeInputsInOrchestrationHistory
 * is false by default; the conformance harness shows Input: null on 3.19.0); the work item carries it instead.
 */
export const taskScheduled = (at: Date, id: number, name: string) =>
  historyEvent(EventType.TaskScheduled, at, { EventId: id, Name: name, Input: null });

export const taskCompleted = (at: Date, id: number, output: unknown) =>
  historyEvent(EventType.TaskCompleted, at, { TaskScheduledId: id, Result: toJsonOrNull(output) });

export const taskFailed = (at: Date, id: number, reason: string, details: string) =>
  historyEvent(EventType.TaskFailed, at, { TaskScheduledId: id, Reason: reason, Details: details });

export const timerCreated = (at: Date, id: number, fireAt: string) =>
  historyEvent(EventType.TimerCreated, at, { EventId: id, FireAt: fireAt });

export const timerFired = (at: Date, id: number, fireAt: string) =>
  historyEvent(EventType.TimerFired, at, { TimerId: id, FireAt: fireAt });

export const subOrchestrationCreated = (at: Date, id: number, name: string, childId: string) =>
  historyEvent(EventType.SubOrchestrationInstanceCreated, at, { EventId: id, Name: name, InstanceId: childId, Input: null });

export const subOrchestrationCompleted = (at: Date, id: number, output: unknown) =>
  historyEvent(EventType.SubOrchestrationInstanceCompleted, at, { TaskScheduledId: id, Result: toJsonOrNull(output) });

export const subOrchestrationFailed = (at: Date, id: number, reason: string, details: string) =>
  historyEvent(EventType.SubOrchestrationInstanceFailed, at, { TaskScheduledId: id, Reason: reason, Details: details });

export const eventRaised = (at: Date, name: string, data: unknown) =>
  historyEvent(EventType.EventRaised, at, { Name: name, Input: data === undefined ? null : JSON.stringify(data) });

export const executionCompleted = (at: Date, status: string, output: unknown) =>
  historyEvent(EventType.ExecutionCompleted, at, { OrchestrationStatus: status, Result: toJsonOrNull(output) });

/** DTFx keeps the terminate reason as raw text (not JSON) in Input. */
export const executionTerminated = (at: Date, reason: string | null) =>
  historyEvent(EventType.ExecutionTerminated, at, { Input: reason });

/** The engine JSON.parses every Result, so an undefined output must travel as "null". */
export function toJsonOrNull(value: unknown): string {
  return value === undefined ? "null" : JSON.stringify(value);
}

/** Completion events name the work item they finish; returns that sequence id (undefined for other events). */
export function completedWorkId(event: HistoryEvent): number | undefined {
  switch (event.EventType) {
    case EventType.TaskCompleted:
    case EventType.TaskFailed:
    case EventType.SubOrchestrationInstanceCompleted:
    case EventType.SubOrchestrationInstanceFailed:
      return event.TaskScheduledId;
    case EventType.TimerFired:
      return event.TimerId;
    default:
      return undefined;
  }
}

/**
 * Inputs on CallActivity / ContinueAsNew actions arrive pre-JSON-encoded when they are strings
 * (durable-functions Utils.processInput); undo that so the callee gets the value the caller passed.
 */
export function decodeActionInput(input: unknown): unknown {
  if (typeof input !== "string") return input;
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}
