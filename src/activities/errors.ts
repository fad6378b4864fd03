/**
 * How an activity says "retrying will not help". durable-functions (JS) retries every failure, so
 * the orchestrator runs its own retry loop and stops on errors whose message carries this marker.
 * The marker survives the trip through the host (it is part of the exception message).
 */
import { redactSecrets } from "../shared/redact";

export const TERMINAL_MARKER = "[terminal]";

export class TerminalActivityError extends Error {
  constructor(message: string) {
    super(`${TERMINAL_MARKER} ${message}`);
    this.name = "TerminalActivityError";
  }
}

export function isTerminalFailure(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return message.includes(TERMINAL_MARKER);
}

/** The failure text without the marker and the host's "Activity function 'x' failed:" prefix. */
export function failureText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message
    .replace(/^Activity function '[^']*' failed:\s*/, "")
    .split(TERMINAL_MARKER)
    .join("")
    .trim();
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
