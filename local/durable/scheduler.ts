/** Scheduling building blocks: a bounded job runner and the book of pending durable timers. */

/** Runs queued jobs with at most `limit` at once; `onSettled` lets the owner look for more work. */
export class BoundedRunner<T> {
  private readonly queue: T[] = [];
  private running = 0;
  private paused = false;

  constructor(private readonly limit: number, private readonly run: (job: T) => Promise<void>, private readonly onSettled: () => void) {}

  push(job: T): void {
    this.queue.push(job);
    this.drain();
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Stop starting jobs (running ones finish). */
  pause(): void {
    this.paused = true;
  }

  clear(): void {
    this.queue.length = 0;
  }

  drain(): void {
    while (!this.paused && this.running < this.limit && this.queue.length > 0) {
      const job = this.queue.shift() as T;
      this.running++;
      this.run(job)
        .catch(() => undefined) // run() reports its own errors; a rejection must not stop the pool
        .finally(() => {
          this.running--;
          this.drain();
          this.onSettled();
        });
    }
  }
}

export interface TimerEntry {
  instanceId: string;
  executionId: number;
  id: number;
  fireAt: number;
}

const keyOf = (instanceId: string, executionId: number, id: number) => `${instanceId}\u0000${executionId}\u0000${id}`;

export class TimerBook {
  private readonly timers = new Map<string, TimerEntry>();

  add(entry: TimerEntry): void {
    this.timers.set(keyOf(entry.instanceId, entry.executionId, entry.id), entry);
  }

  remove(instanceId: string, executionId: number, id: number): void {
    this.timers.delete(keyOf(instanceId, executionId, id));
  }

  removeInstance(instanceId: string): void {
    for (const [key, entry] of this.timers) if (entry.instanceId === instanceId) this.timers.delete(key);
  }

  get size(): number {
    return this.timers.size;
  }

  earliest(): TimerEntry | undefined {
    let first: TimerEntry | undefined;
    for (const entry of this.timers.values()) if (!first || entry.fireAt < first.fireAt) first = entry;
    return first;
  }

  due(nowMs: number): TimerEntry[] {
    return [...this.timers.values()].filter((t) => t.fireAt <= nowMs).sort((a, b) => a.fireAt - b.fireAt);
  }
}

/** One wall-clock alarm for the earliest timer; long waits are re-armed in steps (setTimeout caps at ~24.8 days). */
export class Alarm {
  private handle: NodeJS.Timeout | undefined;
  private armedFor: number | undefined;

  set(atMs: number, onRing: () => void): void {
    if (this.armedFor === atMs) return;
    this.clear();
    this.armedFor = atMs;
    const delay = Math.min(Math.max(0, atMs - Date.now()), 2 ** 31 - 1);
    this.handle = setTimeout(() => {
      this.handle = undefined;
      this.armedFor = undefined;
      onRing();
    }, delay);
  }

  clear(): void {
    if (this.handle) clearTimeout(this.handle);
    this.handle = undefined;
    this.armedFor = undefined;
  }
}
