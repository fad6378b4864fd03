/**
 * Status and history the way the Durable extension's HTTP API shows them (DurableClient.GetDurableOrchestrationStatusAsync
 * and HttpApiHandler.ConvertFrom): pure functions over the engine's DTFx-shaped events.
 */
import { EventType, HistoryEvent, InstanceStatus } from "./types";

/** DateTime.ToString("s") + "Z": whole seconds, no fraction. */
export function statusTimestamp(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 19)}Z`;
}

/** How Newtonsoft writes a UTC DateTime ("…ss.FFFFFFFK"): the fraction without trailing zeros, none when zero. */
export function jsonNetTimestamp(iso: string): string {
  const [whole, fraction = ""] = new Date(iso).toISOString().slice(0, -1).split(".");
  const trimmed = fraction.replace(/0+$/, "");
  return `${whole}${trimmed ? `.${trimmed}` : ""}Z`;
}

/** DurableClient.ParseToJToken: JSON when it parses, the raw (trimmed) text otherwise, null for null. */
export function parseToJToken(value: string | null | undefined): unknown {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (text.length === 0) return "";
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The status payload the HTTP API returns (StatusResponsePayload); historyEvents only when asked for. */
export function statusPayload(status: InstanceStatus, historyEvents?: unknown[]): Record<string, unknown> {
  return {
    name: status.name,
    instanceId: status.instanceId,
    runtimeStatus: status.runtimeStatus,
    input: status.input ?? null,
    customStatus: status.customStatus ?? null,
    output: status.output ?? null,
    createdTime: statusTimestamp(status.createdTime),
    lastUpdatedTime: statusTimestamp(status.lastUpdatedTime),
    ...(historyEvents ? { historyEvents } : {}),
  };
}

const DATE_FIELDS = ["Timestamp", "FireAt", "ScheduledTime"];

interface Scheduled { index: number; name: unknown; timestamp: string; input: unknown; instanceId: unknown }

/**
 * The extension's history view: EventType as its name; episode brackets dropped; a completed or failed task
 * folded into one event (FunctionName, ScheduledTime, Input of its TaskScheduled, which is dropped); Result only
 * with showHistoryOutput (parsed as JSON); EventId, IsPlayed, TaskScheduledId and TimerId removed.
 */
export function historyView(events: HistoryEvent[], options: { showHistoryOutput: boolean; showInput: boolean }): Record<string, unknown>[] {
  const items = events.map((e) => ({ ...e }) as Record<string, unknown>);
  const scheduled = new Map<string, Scheduled>();
  const dropped = new Set<number>();
  const fold = (item: Record<string, unknown>, prefix: string) => {
    const found = scheduled.get(`${prefix}_${String(item.TaskScheduledId)}`);
    if (found) {
      item.ScheduledTime = found.timestamp;
      item.FunctionName = found.name;
      if (options.showInput) item.Input = found.input;
      // A sub-orchestration's completion names its child (the extension's view shows InstanceId).
      if (found.instanceId !== undefined) item.InstanceId = found.instanceId;
      dropped.add(found.index);
    }
    delete item.TaskScheduledId;
  };
  const result = (item: Record<string, unknown>, show: boolean) => {
    if (!show) delete item.Result;
    else item.Result = parseToJToken(item.Result as string | undefined);
  };
  items.forEach((item, i) => {
    const type = item.EventType as EventType;
    item.EventType = EventType[type] ?? type;
    switch (type) {
      case EventType.TaskScheduled:
      case EventType.SubOrchestrationInstanceCreated:
        scheduled.set(`${EventType[type]}_${String(item.EventId)}`, {
          index: i, name: item.Name, timestamp: String(item.Timestamp), input: item.Input, instanceId: item.InstanceId,
        });
        delete item.Version;
        break;
      case EventType.TaskCompleted:
      case EventType.TaskFailed:
        fold(item, "TaskScheduled");
        result(item, options.showHistoryOutput && type === EventType.TaskCompleted);
        break;
      case EventType.SubOrchestrationInstanceCompleted:
      case EventType.SubOrchestrationInstanceFailed:
        fold(item, "SubOrchestrationInstanceCreated");
        result(item, options.showHistoryOutput && type === EventType.SubOrchestrationInstanceCompleted);
        break;
      case EventType.ExecutionStarted: {
        const name = item.Name;
        delete item.Name;
        item.FunctionName = name;
        for (const key of ["OrchestrationInstance", "ParentInstance", "ParentInstanceId", "Version", "Tags"]) delete item[key];
        break;
      }
      case EventType.ExecutionCompleted:
        result(item, options.showHistoryOutput);
        break;
      case EventType.TimerFired:
        delete item.TimerId;
        break;
      case EventType.OrchestratorStarted:
      case EventType.OrchestratorCompleted:
        dropped.add(i);
        break;
      default:
        break;
    }
    if (!options.showInput) delete item.Input;
    delete item.EventId;
    delete item.IsPlayed;
    for (const key of DATE_FIELDS) if (typeof item[key] === "string") item[key] = jsonNetTimestamp(item[key] as string);
  });
  return items.filter((_, i) => !dropped.has(i));
}
