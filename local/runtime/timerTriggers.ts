/**
 * Timer triggers on the local runtime: the 6-field NCRONTAB subset the app uses
 * ("{second} {minute} {hour} {day} {month} {day-of-week}", UTC; each field *, n, a-b, a,b,… and /step;
 * day-of-week 0-6 with 0 = Sunday; day and day-of-week must both match, as in NCrontab), fired when the
 * runtime's clock (the durable engine's: real, or virtual and jumping) passes the next occurrence.
 * Not supported (refused at load): names (MON, JAN), L, W, #, ?, 5-field expressions, %setting% schedules.
 */
import { getRegisteredFunctions, triggerOf } from "../functionsHost/coreStandIn";

/** How often the runtime's clock is looked at for due timers. */
const CHECK_EVERY_MS = 1000;

export interface CronSchedule {
  seconds: number[];
  minutes: number[];
  hours: number[];
  days: Set<number>;
  months: Set<number>;
  daysOfWeek: Set<number>;
}

const FIELDS: Array<{ name: string; min: number; max: number }> = [
  { name: "second", min: 0, max: 59 },
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day-of-week", min: 0, max: 6 },
];

function parseField(text: string, field: { name: string; min: number; max: number }): number[] {
  const values = new Set<number>();
  for (const part of text.split(",")) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!match) throw new Error(`NCRONTAB ${field.name} field "${text}": "${part}" is not supported`);
    const [, whole, from, to, stepText] = match;
    const start = whole === "*" ? field.min : Number(from);
    const end = whole === "*" ? field.max : to !== undefined ? Number(to) : stepText !== undefined ? field.max : start;
    const step = stepText !== undefined ? Number(stepText) : 1;
    if (start < field.min || end > field.max || start > end || step < 1) {
      throw new Error(`NCRONTAB ${field.name} field "${text}": out of range ${field.min}-${field.max}`);
    }
    for (let value = start; value <= end; value += step) values.add(value);
  }
  return [...values].sort((a, b) => a - b);
}

export function parseNcrontab(expression: string): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 6) throw new Error(`NCRONTAB "${expression}" must have 6 fields (second minute hour day month day-of-week)`);
  const [seconds, minutes, hours, days, months, daysOfWeek] = parts.map((part, i) => parseField(part, FIELDS[i]));
  return { seconds, minutes, hours, days: new Set(days), months: new Set(months), daysOfWeek: new Set(daysOfWeek) };
}

/** The first occurrence strictly after `after` (UTC), within five years. */
export function nextOccurrence(schedule: CronSchedule, after: Date): Date {
  const dayMs = 24 * 3600 * 1000;
  const firstDay = Date.UTC(after.getUTCFullYear(), after.getUTCMonth(), after.getUTCDate());
  for (let day = firstDay; day < firstDay + 5 * 366 * dayMs; day += dayMs) {
    const date = new Date(day);
    if (!schedule.months.has(date.getUTCMonth() + 1) || !schedule.days.has(date.getUTCDate()) || !schedule.daysOfWeek.has(date.getUTCDay())) continue;
    for (const hour of schedule.hours) {
      for (const minute of schedule.minutes) {
        for (const second of schedule.seconds) {
          const at = day + ((hour * 60 + minute) * 60 + second) * 1000;
          if (at > after.getTime()) return new Date(at);
        }
      }
    }
  }
  throw new Error("NCRONTAB schedule has no occurrence within five years");
}

export interface TimerTriggerOptions {
  /** name → schedule expression, from the registered timerTrigger bindings. */
  timers: Array<{ name: string; schedule: string }>;
  now: () => Date;
  invoke: (name: string, timerInfo: unknown) => Promise<unknown>;
  log: (line: string) => void;
}

/** Fires each timer function when the clock passes its next occurrence; one invocation at a time per function. */
export class TimerTriggers {
  private readonly entries: Array<{ name: string; schedule: CronSchedule; next: Date; last?: Date; running: boolean }>;
  private handle: NodeJS.Timeout | undefined;

  constructor(private readonly options: TimerTriggerOptions) {
    const now = options.now();
    this.entries = options.timers.map(({ name, schedule }) => {
      const parsed = parseNcrontab(schedule);
      return { name, schedule: parsed, next: nextOccurrence(parsed, now), running: false };
    });
  }

  start(): void {
    for (const entry of this.entries) this.options.log(`local runtime: timer ${entry.name} next fires at ${entry.next.toISOString()}`);
    this.handle = setInterval(() => this.check(), CHECK_EVERY_MS);
    this.handle.unref();
  }

  stop(): void {
    if (this.handle) clearInterval(this.handle);
    this.handle = undefined;
  }

  /** Fires what is due; returns the names fired (exposed for tests). */
  check(): string[] {
    const now = this.options.now();
    const fired: string[] = [];
    for (const entry of this.entries) {
      if (entry.running || now.getTime() < entry.next.getTime()) continue;
      const timerInfo = {
        schedule: { adjustForDST: false },
        scheduleStatus: { last: (entry.last ?? entry.next).toISOString(), next: nextOccurrence(entry.schedule, now).toISOString(), lastUpdated: now.toISOString() },
        isPastDue: now.getTime() - entry.next.getTime() > 60_000,
      };
      entry.last = entry.next;
      entry.next = nextOccurrence(entry.schedule, now);
      entry.running = true;
      fired.push(entry.name);
      this.options
        .invoke(entry.name, timerInfo)
        .catch((error: unknown) => this.options.log(`local runtime: timer ${entry.name} failed: ${error instanceof Error ? error.message : String(error)}`))
        .finally(() => {
          entry.running = false;
        });
    }
    return fired;
  }
}

/** The app's timer functions and their schedules, from the stand-in's registry (what AppHost.load required). */
export function registeredTimers(names: string[]): Array<{ name: string; schedule: string }> {
  const functions = getRegisteredFunctions();
  return names.flatMap((name) => {
    const fn = functions.get(name);
    const trigger = fn ? triggerOf(fn) : undefined;
    return trigger?.type === "timerTrigger" ? [{ name, schedule: String(trigger.schedule) }] : [];
  });
}
