/**
 * Field-by-field comparison of what the two engines produced for one scenario: the status (runtime status,
 * input, output, custom status), the extension's history view, and the raw history the orchestrator replayed
 * (event types, names, order, payloads, failure text, sub-orchestration ids, timer fire times relative to the
 * episode that created them) plus the other fields of the orchestrator trigger payload.
 * Absolute times and execution ids differ by nature and are left out; everything else is compared.
 */
import type { EngineStatus, OrchestratorPayload } from "./engines";

export interface Difference {
  /** e.g. "status.output", "payload.history[3].Reason". */
  field: string;
  real: unknown;
  local: unknown;
}

export interface Comparison {
  fields: number;
  differences: Difference[];
}

/** Times that are wall-clock instants (never equal across two runs); compared relatively where it matters. */
const INSTANT_FIELDS = new Set(["Timestamp", "ScheduledTime", "createdTime", "lastUpdatedTime", "FireAt", "ScheduledStartTime"]);
/** Random per run. */
const RANDOM_FIELDS = new Set(["ExecutionId"]);

export function compareRuns(
  real: { status?: EngineStatus; payload?: OrchestratorPayload },
  local: { status?: EngineStatus; payload?: OrchestratorPayload },
): Comparison {
  const out: Comparison = { fields: 0, differences: [] };
  compareValue("status", normaliseStatus(real.status), normaliseStatus(local.status), out);
  compareValue("payload", normalisePayload(real.payload), normalisePayload(local.payload), out);
  return out;
}

/**
 * The history view's TimerCreated FireAt becomes whole hours after the event (a long timer's chunk is 72 h; short
 * timers read 0): the episode's own time is not in the view, and instants depend on each host's timing.
 */
function normaliseStatus(status: EngineStatus | undefined): unknown {
  if (!status) return undefined;
  const { history, ...rest } = status;
  const events = (history ?? []) as Record<string, unknown>[];
  return {
    ...rest,
    history: history && events.map((e) => {
      const copy = { ...e };
      if (copy.EventType === "TimerCreated" && typeof copy.FireAt === "string" && typeof copy.Timestamp === "string") {
        copy.FireAtAfterCreatedH = Math.round((Date.parse(copy.FireAt) - Date.parse(copy.Timestamp)) / 3600_000);
      }
      return copy;
    }),
  };
}

/**
 * The raw history: each TimerCreated/TimerFired FireAt becomes milliseconds after the OrchestratorStarted of the
 * episode that created the timer (the orchestrator's currentUtcDateTime when it asked for it).
 */
function normalisePayload(payload: OrchestratorPayload | undefined): unknown {
  if (!payload) return undefined;
  let episodeStart: number | undefined;
  const created = new Map<unknown, number | undefined>();
  const history = payload.history.map((event) => {
    if (event.EventType === 12) episodeStart = Date.parse(String(event.Timestamp));
    if (event.EventType === 10) created.set(event.EventId, episodeStart);
    const base = event.EventType === 11 ? created.get(event.TimerId) : episodeStart;
    return relativeTimes(event, base);
  });
  return { ...payload, history };
}

function relativeTimes(event: Record<string, unknown>, base: number | undefined): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...event };
  if (typeof copy.FireAt === "string" && base !== undefined) copy.FireAtAfterEpisodeStartMs = Date.parse(copy.FireAt) - base;
  return copy;
}

/** A missing field and a null one read the same to the JS library (it reads with `?.` / `== null`). */
function isAbsent(value: unknown): boolean {
  return value === undefined || value === null;
}

export function compareValue(field: string, real: unknown, local: unknown, out: Comparison): void {
  const key = field.slice(field.lastIndexOf(".") + 1).replace(/\[\d+\]$/, "");
  if (INSTANT_FIELDS.has(key) || RANDOM_FIELDS.has(key)) return;
  if (Array.isArray(real) && Array.isArray(local)) {
    if (real.length !== local.length) {
      out.fields++;
      out.differences.push({ field: `${field}.length`, real: real.length, local: local.length });
    }
    for (let i = 0; i < Math.min(real.length, local.length); i++) compareValue(`${field}[${i}]`, real[i], local[i], out);
    return;
  }
  if (isObject(real) && isObject(local)) {
    const keys = new Set([...Object.keys(real), ...Object.keys(local)]);
    for (const k of keys) compareValue(`${field}.${k}`, real[k], local[k], out);
    return;
  }
  out.fields++;
  if (isAbsent(real) && isAbsent(local)) return;
  if (JSON.stringify(normaliseIds(real)) !== JSON.stringify(normaliseIds(local))) out.differences.push({ field, real, local });
}

/** Generated sub-orchestration ids are "<parent execution id>:<sequence id>"; the execution id is random. */
function normaliseIds(value: unknown): unknown {
  return typeof value === "string" ? value.replace(/\b[0-9a-f]{32}(?=:\d+)/g, "<executionId>") : value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
