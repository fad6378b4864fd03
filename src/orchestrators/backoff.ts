/** Pure timing arithmetic for the orchestrator: polling intervals, retry delays, deadlines. */
import type { ActivityRetryPolicy, PollingPolicy } from "../domain/types";

/** The wait after `currentSeconds`: × backoffFactor, never above maxIntervalSeconds. */
export function nextPollIntervalSeconds(currentSeconds: number, policy: PollingPolicy): number {
  return Math.min(Math.round(currentSeconds * policy.backoffFactor), policy.maxIntervalSeconds);
}

/** The first wait after commit, already capped (a policy may set initial above max). */
export function firstPollIntervalSeconds(policy: PollingPolicy): number {
  return Math.min(policy.initialIntervalSeconds, policy.maxIntervalSeconds);
}

/** Delay before retry number `failedAttempts` (1 = after the first failure): first × coefficient^(n-1), capped. */
export function retryDelaySeconds(failedAttempts: number, policy: ActivityRetryPolicy): number {
  const uncapped = policy.firstRetryIntervalSeconds * Math.pow(policy.backoffCoefficient, failedAttempts - 1);
  return Math.min(uncapped, policy.maxRetryIntervalSeconds);
}

export function addSeconds(time: Date, seconds: number): Date {
  return new Date(time.getTime() + seconds * 1000);
}

export function addMinutes(time: Date, minutes: number): Date {
  return addSeconds(time, minutes * 60);
}

/** The next poll time: one interval from now, but never past the deadline. */
export function nextPollTime(now: Date, intervalSeconds: number, deadline: Date): Date {
  const due = addSeconds(now, intervalSeconds);
  return due.getTime() > deadline.getTime() ? deadline : due;
}
