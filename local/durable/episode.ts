/** One orchestrator episode: the payload the extension sends, the handler call, and what came back. */
import { LONG_TIMER_INTERVAL_MS, MAX_SHORT_TIMER_MS, timeSpanText } from "./actions";
import { HistoryEvent, OrchestratorInvoker } from "./types";

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
  /** Events already processed by earlier episodes (sent with IsPlayed: true). */
  playedHistory: HistoryEvent[];
  /** Events this episode adds (OrchestratorStarted first). */
  newEvents: HistoryEvent[];
}

const OUT_OF_PROC_LABEL = "$OutOfProcData$:";

/** The orchestrationTrigger JSON the Durable extension sends (reference 5.3). Always a fresh copy: the engine mutates it. */
export function buildPayload(episode: EpisodeInput): unknown {
  const history = [
    ...episode.playedHistory.map((e) => ({ ...e, IsPlayed: true })),
    ...episode.newEvents.map((e) => ({ ...e, IsPlayed: false })),
  ];
  return JSON.parse(JSON.stringify({
    history,
    input: episode.input ?? null,
    instanceId: episode.instanceId,
    isReplaying: false,
    parentInstanceId: episode.parentInstanceId ?? null,
    upperSchemaVersion: 1,
    upperSchemaVersionNew: 2,
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
