/**
 * How an activity says "retrying will not help". durable-functions (JS) retries every failure, so
 * the orchestrator runs its own retry loop and stops on errors whose message carries this marker.
 * The marker survives the trip through the host (it is part of the exception message).
 */
import { redactSecrets } from "../domain/redact";
import { TERMINAL_MARKER } from "../domain/failureText";

// The failure-text helpers live in the domain; re-exported so activities keep one place to import from.
export { TERMINAL_MARKER, activityErrorMessage, failureText, isTerminalFailure, orchestrationFailureText } from "../domain/failureText";

export class TerminalActivityError extends Error {
  constructor(message: string) {
    super(`${TERMINAL_MARKER} ${message}`);
    this.name = "TerminalActivityError";
  }
}

/**
 * What the host may write into history for a failed activity: message and stack redacted (the last
 * line of defence; activities already redact). A configuration problem will not fix itself on a
 * retry, so it becomes terminal.
 */
export function toSafeActivityError(error: unknown): Error {
  const original = error instanceof Error ? error : new Error(String(error));
  const terminal = original.name === "ConfigError" && !original.message.includes(TERMINAL_MARKER);
  const safe = new Error(redactSecrets(terminal ? `${TERMINAL_MARKER} ${original.message}` : original.message));
  safe.name = original.name;
  safe.stack = original.stack ? redactSecrets(original.stack) : undefined;
  return safe;
}
