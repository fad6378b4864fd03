/** The engine's in-memory view of one instance: cached between episodes, rebuilt from the table only on recovery. */
import { completedWorkId } from "./historyEvents";
import { EpisodeDoc, InstanceRecord, LoadedInstance } from "./store";
import { HistoryEvent, InboxItem, RecordedAction, WorkItem } from "./types";

export interface InstanceState {
  record: InstanceRecord;
  /** Committed history of the current execution (empty and unloaded for terminal instances). */
  history: HistoryEvent[];
  recorded: RecordedAction[];
  /** Work the current execution is waiting for, by sequence id. */
  work: Map<number, WorkItem>;
  inbox: InboxItem[];
  episodeRunning: boolean;
}

export function freshState(record: InstanceRecord, inbox: InboxItem[] = []): InstanceState {
  return { record, history: [], recorded: [], work: new Map(), inbox, episodeRunning: false };
}

/** Pending work = work created by the current execution's episodes minus what completed (history or inbox) or was canceled. */
export function rebuildState(loaded: LoadedInstance): InstanceState {
  const state = freshState(loaded.record, loaded.inbox);
  const done = new Set<number>();
  const noteCompletion = (event: HistoryEvent) => {
    const id = completedWorkId(event);
    if (id !== undefined) done.add(id);
  };
  loaded.episodes.forEach((doc: EpisodeDoc) => {
    state.history.push(...doc.events);
    state.recorded.push(...doc.newActions);
    doc.newWork.forEach((item) => state.work.set(item.id, item));
    doc.canceledTimers.forEach((id) => done.add(id));
    doc.events.forEach(noteCompletion);
  });
  loaded.inbox
    .filter((item) => item.executionId === undefined || item.executionId === loaded.record.executionId)
    .forEach((item) => item.events.forEach(noteCompletion));
  done.forEach((id) => state.work.delete(id));
  return state;
}
