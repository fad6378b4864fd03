/** One orchestrator episode: the payload the extension sends, the handler call, and what came back. */
import { LONG_TIMER_INTERVAL_MS, MAX_SHORT_TIMER_MS, timeSpanText } from "./actions";
import { EventType, HistoryEvent, OrchestratorInvoker } from "./types";

export interface OrchestratorStateJson {
  isDone: boolean;
  actions: unknown;
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

export type EpisodeOutcome =
  | { kind: "state"; state: OrchestratorStateJson }
  /** The orchestrator threw: state carries the actions issued up to the throw. */
  | { kind: "failed"; message: string; state?: OrchestratorStateJson };

export interface EpisodeInput {
  instanceId: string;
  parentInstanceId?: string;
  input: unknown;
  /** Events already processed by earlier episodes (sent with IsPlayed as the extension marks them). */
  playedHistory: HistoryEvent[];
  /** Events this episode adds (OrchestratorStarted first). */
  newEvents: HistoryEvent[];
}

const OUT_OF_PROC_LABEL = "$OutOfProcData$:";

/** Events the orchestrator's own actions produced: DTFx never marks them played (the conformance harness shows it). */
const SELF_GENERATED = new Set<EventType>([
  EventType.OrchestratorStarted, EventType.OrchestratorCompleted, EventType.TaskScheduled, EventType.TimerCreated,
  EventType.SubOrchestrationInstanceCreated,
]);

/**
 * IsPlayed as the extension sends it: the events delivered to earlier episodes (ExecutionStarted, completions,
 * timers fired, events raised) are played, the orchestrator's own events are not, nor is anything new; except the
 * OrchestratorCompleted that a continueAsNew carries right after ExecutionStarted, which is.
 */
function isPlayed(event: HistoryEvent, previous: HistoryEvent | undefined): boolean {
  if (!SELF_GENERATED.has(event.EventType)) return true;
  return event.EventType === EventType.OrchestratorCompleted && previous?.EventType === EventType.ExecutionStarted;
}

/** The orchestrationTrigger JSON the Durable extension sends (reference 5.3). Always a fresh copy: the engine mutates it. */
export function buildPayload(episode: EpisodeInput): unknown {
  const played = episode.playedHistory;
  const history = [
    ...played.map((e, i) => ({ ...e, IsPlayed: isPlayed(e, played[i - 1]) })),
    ...episode.newEvents.map((e) => ({ ...e, IsPlayed: false })),
  ];
  return JSON.parse(JSON.stringify({
    history,
    input: episode.input ?? null,
    instanceId: episode.instanceId,
    // The extension says "replaying" whenever there is history from earlier episodes.
    isReplaying: played.length > 0,
    parentInstanceId: episode.parentInstanceId ?? null,
    upperSchemaVersion: 1,
    // The extension 3.19.0 offers V3 (the conformance harness shows it): durable-functions then splits long timers itself.
    upperSchemaVersionNew: 3,
    maximumShortTimerDuration: timeSpanText(MAX_SHORT_TIMER_MS),
    longRunningTimerIntervalDuration: timeSpanText(LONG_TIMER_INTERVAL_MS),
    defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
  }));
}

export async function runEpisode(invoke: OrchestratorInvoker, name: string, episode: EpisodeInput): Promise<EpisodeOutcome> {
  try {
    const result = await invoke(name, buildPayload(episode));
    // Round trip like the real worker channel: Dates become ISO strings, class instances plain objects.
    const state = JSON.parse(JSON.stringify(result ?? null)) as OrchestratorStateJson | null;
    if (!state || typeof state !== "object" || !("actions" in state)) {
      return { kind: "failed", message: `Orchestrator '${name}' returned no OrchestratorState (is it registered with df.app.orchestration?)` };
    }
    return { kind: "state", state };
  } catch (error) {
    return parseFailure(error);
  }
}

/** OrchestrationFailureError's message is "<x>\n\n$OutOfProcData$:<state JSON>"; only the part after the label is reliable. */
export function parseFailure(error: unknown): EpisodeOutcome {
  const message = error instanceof Error ? error.message : String(error);
  const at = message.indexOf(OUT_OF_PROC_LABEL);
  if (at >= 0) {
    try {
      const state = JSON.parse(message.slice(at + OUT_OF_PROC_LABEL.length)) as OrchestratorStateJson;
      return { kind: "failed", message: state.error ?? message.slice(0, at).trim(), state };
    } catch {
      /* fall through to the raw message */
    }
  }
  return { kind: "failed", message };
}
