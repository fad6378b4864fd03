/**
 * Replays a history recorded from Microsoft's Durable Task extension (test/fixtures/real-engine, written by
 * `npm run record:replay-fixtures`) under the current code, episode by episode, as the extension would after a
 * deployment: each episode gets exactly the history the extension gave the orchestrator then (earlier episodes,
 * then this episode's OrchestratorStarted and the events it delivered), and the actions the code returns must
 * be the scheduling events the extension recorded up to that episode, in order (the check DTFx's out-of-process
 * shim does: action kind, function name, sub-orchestration instance id, timer fire time). Activity inputs are not
 * compared: the extension does not store them (TaskScheduled.Input is null), so Azure cannot compare them either.
 *
 * Requires the @azure/functions-core stand-in before the app module is imported.
 */
import { flattenActions } from "../../local/durable/actions";
import { ActionType, type ActionJson } from "../../local/durable/types";
import { getRegisteredFunctions, triggerOf } from "../../local/functionsHost/coreStandIn";
import { EventType, NonDeterminismError, runEpisode, type HistoryEvent } from "./replayDriver";

const SUB_ORCHESTRATION_CREATED = 7;
/** Events an episode writes (its actions); every other event after OrchestratorStarted is delivered to it. */
const SCHEDULING = new Set<number>([EventType.TaskScheduled, SUB_ORCHESTRATION_CREATED, EventType.TimerCreated]);

export interface RecordedPayload {
  history: HistoryEvent[];
  input: unknown;
  instanceId: string;
  [field: string]: unknown;
}

export interface Episode {
  /** The history as the extension sent it for this episode. */
  delivered: HistoryEvent[];
  /** Every scheduling event recorded up to and including this episode, in order. */
  scheduled: HistoryEvent[];
}

/** Splits a recorded history into its episodes (OrchestratorStarted … OrchestratorCompleted). */
export function episodesOf(history: HistoryEvent[]): Episode[] {
  const starts = history.flatMap((event, i) => (event.EventType === EventType.OrchestratorStarted ? [i] : []));
  if (starts[0] !== 0) throw new Error("a recorded history starts with OrchestratorStarted");
  return starts.map((start, k) => {
    const end = k + 1 < starts.length ? starts[k + 1] : history.length;
    const own = history.slice(start, end);
    const firstAction = own.findIndex((event) => SCHEDULING.has(event.EventType) || event.EventType === EventType.OrchestratorCompleted);
    const received = firstAction < 0 ? own : own.slice(0, firstAction);
    const earlier = history.slice(0, start).map((event) => ({ ...event, IsPlayed: true }));
    return {
      delivered: [...earlier, ...received.map((event) => ({ ...event, IsPlayed: false }))],
      scheduled: history.slice(0, end).filter((event) => SCHEDULING.has(event.EventType)),
    };
  });
}

function describe(event: HistoryEvent | undefined): string {
  if (!event) return "nothing";
  if (event.EventType === EventType.TimerCreated) return `a timer firing at ${String(event.FireAt)}`;
  if (event.EventType === SUB_ORCHESTRATION_CREATED) return `sub-orchestration '${String(event.Name)}' (${String(event.InstanceId)})`;
  return `activity '${String(event.Name)}'`;
}

function describeAction(action: ActionJson | undefined): string {
  if (!action) return "nothing";
  if (action.actionType === ActionType.CreateTimer) return `a timer firing at ${action.fireAt}`;
  if (action.actionType === ActionType.CallSubOrchestrator || action.actionType === ActionType.CallSubOrchestratorWithRetry) {
    return `sub-orchestration '${action.functionName}' (${action.instanceId})`;
  }
  return `${ActionType[action.actionType]} '${action.functionName ?? ""}'`;
}

function matches(event: HistoryEvent, action: ActionJson): boolean {
  switch (event.EventType) {
    case EventType.TaskScheduled:
      return (action.actionType === ActionType.CallActivity || action.actionType === ActionType.CallActivityWithRetry) && action.functionName === event.Name;
    case SUB_ORCHESTRATION_CREATED:
      return (action.actionType === ActionType.CallSubOrchestrator || action.actionType === ActionType.CallSubOrchestratorWithRetry) &&
        action.functionName === event.Name && action.instanceId === event.InstanceId;
    case EventType.TimerCreated:
      // .NET writes 7 fractional digits, durable-functions milliseconds: compare the instants.
      return action.actionType === ActionType.CreateTimer && new Date(action.fireAt as string).getTime() === new Date(event.FireAt as string).getTime();
    default:
      return false;
  }
}

export interface ReplayOutcome {
  episodes: number;
  actions: number;
  isDone: boolean;
  output: unknown;
  customStatus: unknown;
  error?: string;
}

/** Replays every episode of a recorded payload; throws NonDeterminismError at the first episode whose actions differ. */
export async function replayRecorded(orchestrator: string, payload: RecordedPayload): Promise<ReplayOutcome> {
  const registered = getRegisteredFunctions().get(orchestrator);
  if (!registered) throw new Error(`No function "${orchestrator}" is registered`);
  const trigger = triggerOf(registered);
  const episodes = episodesOf(payload.history);
  let last: Awaited<ReturnType<typeof runEpisode>> | undefined;
  for (const [k, episode] of episodes.entries()) {
    const delivered = { ...payload, history: episode.delivered, isReplaying: k > 0 };
    last = await runEpisode(registered.handler, orchestrator, trigger, JSON.parse(JSON.stringify(delivered)), k + 1);
    const leaves = flattenActions(last.actions ?? []);
    const count = Math.max(leaves.length, episode.scheduled.length);
    for (let i = 0; i < count; i++) {
      const event = episode.scheduled[i];
      const action = leaves[i];
      if (!event || !action || !matches(event, action)) {
        throw new NonDeterminismError(
          `Non-deterministic replay of ${orchestrator} at episode ${k + 1}: action #${i} was ${describe(event)} in the recorded history, but the code now issues ${describeAction(action)}`,
        );
      }
    }
    if (k < episodes.length - 1 && (last.isDone || last.error !== undefined)) {
      throw new NonDeterminismError(`${orchestrator} finished at episode ${k + 1} of ${episodes.length} in the recorded history`);
    }
  }
  return {
    episodes: episodes.length,
    actions: episodes[episodes.length - 1]?.scheduled.length ?? 0,
    isDone: last?.isDone ?? false,
    output: last?.output,
    customStatus: last?.customStatus,
    error: last?.error,
  };
}
