/** Engine clocks: real wall-clock time, or a virtual time that only moves when the engine jumps it to a timer. */

export interface Clock {
  readonly virtual: boolean;
  now(): Date;
}

export class RealClock implements Clock {
  readonly virtual = false;
  now(): Date {
    return new Date();
  }
}

/**
 * Time-skipping clock: frozen between jumps, so an orchestration's currentUtcDateTime advances exactly
 * to each timer's fireAt, as it would in production after the wait.
 */
export class VirtualClock implements Clock {
  readonly virtual = true;
  constructor(private current: number) {}

  now(): Date {
    return new Date(this.current);
  }

  /** Moves forward only; returns true when time actually advanced. */
  advanceTo(when: Date): boolean {
    if (when.getTime() <= this.current) return false;
    this.current = when.getTime();
    return true;
  }
}
