/**
 * The emulators' shared clock: real time plus an offset. The local runtime's virtual clock pushes
 * its time here (forward only) so Hardware Dev Center workflow steps and token lifetimes advance
 * in virtual time.
 */
export class EmulatorClock {
  private offsetMs = 0;

  nowMs(): number {
    return Date.now() + this.offsetMs;
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  iso(): string {
    return this.now().toISOString();
  }

  /** Moves the clock to `iso` if that is later than now; never backwards. Returns the new time. */
  setClock(iso: string): string {
    const target = Date.parse(iso);
    if (Number.isNaN(target)) throw new Error(`Not an ISO date: ${iso}`);
    const ahead = target - this.nowMs();
    if (ahead > 0) this.offsetMs += ahead;
    return this.iso();
  }

  advanceSeconds(seconds: number): string {
    if (seconds > 0) this.offsetMs += seconds * 1000;
    return this.iso();
  }
}
