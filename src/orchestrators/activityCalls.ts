/**
 * Typed activity calls for the orchestrator, with our own retry loop.
 *
 * durable-functions' callActivityWithRetry retries every failure (JS has no "handle" predicate), so a
 * 400 from Hardware Dev Center would be retried as often as a 503. Here each attempt is a plain
 * callActivity; between attempts a durable timer waits; a failure marked terminal stops at once.
 */
import type * as df from "durable-functions";
import type { ActivityContract, ActivityName } from "../activities/contract";
import type { ActivityRetryPolicy } from "../domain/types";
import { failureText, isTerminalFailure } from "../activities/errors";
import { redactSecrets } from "../domain/redact";
import { addSeconds, retryDelaySeconds } from "./backoff";

/** Long enough for Microsoft's validation messages, short enough for custom status and history. */
export const MAX_FAILURE_TEXT = 2000;

/** An activity that failed for good: terminal at the first attempt, or out of attempts. */
export class ActivityFailure extends Error {
  constructor(
    readonly activity: ActivityName,
    readonly attempts: number,
    readonly terminal: boolean,
    readonly detail: string,
  ) {
    super(
      terminal
        ? `${activity} failed: ${detail}`
        : `${activity} failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${detail}`,
    );
    this.name = "ActivityFailure";
  }
}

/**
 * The activity's own message, without the host's prefix, RpcException labels, the JSON details or
 * stack the host appends after " \n " (Reason \n Details), and the terminal marker; secrets redacted
 * and length bounded.
 */
export function describeActivityError(error: unknown): string {
  const redacted = redactSecrets(failureText(error));
  return redacted.length > MAX_FAILURE_TEXT ? `${redacted.slice(0, MAX_FAILURE_TEXT)}…` : redacted;
}

/**
 * Calls activity `name` with `input`, retrying transient failures on durable timers.
 * Use with `yield*` inside an orchestrator: `const out = yield* callActivity(context, "x", input, policy)`.
 */
export function* callActivity<N extends ActivityName>(
  context: df.OrchestrationContext,
  name: N,
  input: ActivityContract[N]["input"],
  policy: ActivityRetryPolicy,
): Generator<df.Task, ActivityContract[N]["output"], any> {
  const maxAttempts = Math.max(1, Math.floor(policy.maxAttempts));
  for (let attempt = 1; ; attempt++) {
    try {
      const output: ActivityContract[N]["output"] = yield context.df.callActivity(name, input);
      return output;
    } catch (error) {
      const terminal = isTerminalFailure(error);
      if (terminal || attempt >= maxAttempts) {
        throw new ActivityFailure(name, attempt, terminal, describeActivityError(error));
      }
      const retryAt = addSeconds(context.df.currentUtcDateTime, retryDelaySeconds(attempt, policy));
      yield context.df.createTimer(retryAt);
    }
  }
}

/**
 * callActivity for steps whose failure must not change the run's outcome (a manifest written after
 * the outcome is decided, a report copied beside it): undefined when the activity failed for good.
 * It yields exactly what callActivity yields, so histories replay unchanged.
 */
export function* callActivityBestEffort<N extends ActivityName>(
  context: df.OrchestrationContext,
  name: N,
  input: ActivityContract[N]["input"],
  policy: ActivityRetryPolicy,
): Generator<df.Task, ActivityContract[N]["output"] | undefined, any> {
  try {
    return yield* callActivity(context, name, input, policy);
  } catch {
    return undefined;
  }
}
