/** Shared types of the local durable engine (the part of the Durable Task extension a JS app relies on). */

export type OrchestratorInvoker = (name: string, payload: unknown) => Promise<unknown>;
export type ActivityInvoker = (name: string, input: unknown) => Promise<unknown>;

export interface EngineOptions {
  tableConnectionString: string;
  hubName: string;
  invokeOrchestrator: OrchestratorInvoker;
  invokeActivity: ActivityInvoker;
  /** Timers fire as soon as nothing else is runnable; the clock jumps to their fireAt. */
  virtualClock?: boolean;
  /** Activities running at once; default 4. */
  activityConcurrency?: number;
  /** Called before timers fire after a virtual jump. */
  onClockAdvance?: (now: Date) => Promise<void> | void;
  /** When given, a client start of anything else is refused as the extension refuses it (400). */
  isOrchestrator?: (name: string) => boolean;
  log?: (line: string) => void;
}

export type RuntimeStatus =
  | "Pending" | "Running" | "Completed" | "ContinuedAsNew" | "Failed" | "Terminated" | "Canceled" | "Suspended";

export const TERMINAL_STATUSES: readonly RuntimeStatus[] = ["Completed", "Failed", "Terminated", "Canceled"];
export const isTerminal = (status: RuntimeStatus): boolean => TERMINAL_STATUSES.includes(status);

export interface InstanceStatus {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  history?: unknown[];
}

export interface StatusFilter {
  runtimeStatus?: string[];
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  instanceIdPrefix?: string;
}

/** One page of a status query (the extension's ListInstancesAsync with PageSize and ContinuationToken). */
export interface StatusPage {
  statuses: InstanceStatus[];
  /** Opaque; absent on the last page. */
  continuationToken?: string;
}

/** DTFx history event types (reference 3.3). */
export enum EventType {
  ExecutionStarted = 0, ExecutionCompleted = 1, ExecutionFailed = 2, ExecutionTerminated = 3,
  TaskScheduled = 4, TaskCompleted = 5, TaskFailed = 6,
  SubOrchestrationInstanceCreated = 7, SubOrchestrationInstanceCompleted = 8, SubOrchestrationInstanceFailed = 9,
  TimerCreated = 10, TimerFired = 11, OrchestratorStarted = 12, OrchestratorCompleted = 13,
  EventSent = 14, EventRaised = 15, ContinueAsNew = 16,
}

/** A history event as the extension sends it: DTFx field names, plain JSON. */
export interface HistoryEvent {
  EventType: EventType;
  EventId: number;
  Timestamp: string;
  IsPlayed: boolean;
  Name?: string;
  Input?: string | null;
  Result?: string;
  Reason?: string;
  Details?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  InstanceId?: string;
  OrchestrationStatus?: string;
  [field: string]: unknown;
}

/** durable-functions ActionType (reference 3.4). */
export enum ActionType {
  CallActivity = 0, CallActivityWithRetry = 1, CallSubOrchestrator = 2, CallSubOrchestratorWithRetry = 3,
  ContinueAsNew = 4, CreateTimer = 5, WaitForExternalEvent = 6, CallEntity = 7, CallHttp = 8, SignalEntity = 9,
  ScheduledSignalEntity = 10, WhenAny = 11, WhenAll = 12, LockEntities = 13, ReleaseEntities = 14,
}

export interface RetryOptionsJson {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

/** One action object as the JS engine returns it (after a JSON round trip). */
export interface ActionJson {
  actionType: ActionType;
  functionName?: string;
  input?: unknown;
  instanceId?: string;
  retryOptions?: RetryOptionsJson;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  compoundActions?: ActionJson[];
}

/** What an episode recorded about one leaf action, for the determinism check on later replays. */
export interface RecordedAction {
  type: ActionType;
  /** Function name, event name, or timer fireAt (ISO) depending on type. */
  target: string;
  /** The sequence id the host gave it (timers need it to honour isCanceled); -1 when none. */
  id: number;
}

export interface RetryState {
  options: RetryOptionsJson;
  /** Attempt number (1-based) of the task this record belongs to. */
  attempt: number;
  firstAttemptAt: string;
}

export interface ActivityWork { kind: "activity"; id: number; name: string; input: unknown; retry?: RetryState }
export interface SubOrchestrationWork {
  kind: "subOrchestration"; id: number; name: string; input: unknown; childId: string; retry?: RetryState;
  /** The instance id the orchestrator asked for (reused by retries); absent when the host generated it. */
  requestedChildId?: string;
}
/** A call with retry options, remembered by its delay timer so the next attempt can be scheduled when it fires. */
export interface RetriedCall {
  kind: "activity" | "subOrchestration"; name: string; input: unknown; requestedChildId?: string; retry: RetryState;
}
/**
 * A durable timer. Timers longer than the provider's maximum are a chain of chunks (the extension's long-timer
 * loop): every chunk carries the final fireAt and the sequence id of the chain's first chunk (the recorded action).
 */
export interface TimerWork {
  kind: "timer"; id: number; fireAt: string; retryOf?: RetriedCall;
  finalFireAt?: string;
  chainId?: number;
}

/** Pending host work created by an episode, keyed by its sequence id. */
export type WorkItem = ActivityWork | SubOrchestrationWork | TimerWork;

/** One inbox message: events delivered to an instance but not yet processed by an episode. */
export interface InboxItem {
  rowKey: string;
  events: HistoryEvent[];
  /** Completions belong to one execution; after continueAsNew their ids mean something else, so they are dropped. */
  executionId?: number;
  terminateReason?: string | null;
}

/** DTFx's OrchestrationAlreadyExistsException (host.json overridableExistingInstanceStates = NonRunningStates). */
export class InstanceExistsError extends Error {
  constructor(readonly instanceId: string, status: string) {
    super(`An Orchestration instance with the status ${status} already exists.`);
    this.name = "InstanceExistsError";
  }
}

/** The extension's ArgumentException: bad input the HTTP API answers with 400. */
export class DurableArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DurableArgumentError";
  }
}
