/**
 * Throttling and scripted faults for the Hardware Dev Center emulator: what tests use to check the
 * client's Retry-After handling, bounded retries, 502-after-commit reconciliation and timeouts.
 */
import type { ScriptedFault } from "./hdcBehaviour";

/** A scripted fault with the number of matching requests it still applies to. */
export interface ArmedFault extends ScriptedFault {
  remaining: number;
}

export class FaultInjector {
  private faults: ArmedFault[] = [];

  arm(faults: ScriptedFault[]): void {
    this.faults = faults.map((fault) => ({ ...fault, remaining: fault.times }));
  }

  /** The first armed fault matching the request, consumed once; undefined when none applies. */
  take(method: string, path: string): ScriptedFault | undefined {
    const fault = this.faults.find(
      (candidate) =>
        candidate.remaining > 0 &&
        (!candidate.method || candidate.method.toUpperCase() === method.toUpperCase()) &&
        (!candidate.pathRegex || new RegExp(candidate.pathRegex).test(path)),
    );
    if (fault) fault.remaining -= 1;
    return fault;
  }

  snapshot(): ArmedFault[] {
    return this.faults.map((fault) => ({ ...fault }));
  }
}

/** Sliding one-second window over real time (a request rate is a real-time matter). */
export class RateLimiter {
  private recent: number[] = [];

  /** Seconds to wait when the request is over the limit; undefined when it may proceed. */
  admit(requestsPerSecond: number | undefined, nowMs = Date.now()): number | undefined {
    if (!requestsPerSecond) return undefined;
    this.recent = this.recent.filter((at) => nowMs - at < 1000);
    if (this.recent.length >= requestsPerSecond) {
      const oldest = this.recent[0];
      return Math.max(1, Math.ceil((1000 - (nowMs - oldest)) / 1000));
    }
    this.recent.push(nowMs);
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
