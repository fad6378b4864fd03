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

/**
 * The activity's own message out of what the orchestrator receives. In Azure (failure-format.md, helper
 * A's notes) durable-functions throws `new Error(Reason + " \n " + Details)` with
 *   Reason  = "Activity function '<name>' failed: " + " " + <message>   (the host's friendly message), and
 *   Details = the serialized .NET exception as one-line JSON (InnerException.RemoteMessage = <message>).
 * Older hosts put the whole RpcException text ("Result: Failure\nException: …\nStack: …") in the
 * reason, and the local test driver uses a stack as details. Plain errors pass through unchanged.
 */
export function activityErrorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return stripHostWrapping(message);
}

const ACTIVITY_PREFIX = /^Activity function '[^']*' failed: ?/;
const ORCHESTRATOR_PREFIX = /^Orchestrator function '[^']*' failed: ?/;
const RPC_EXCEPTION = /^\s*Result: Failure\r?\n(?:Type: [^\n]*\r?\n)?Exception: ([\s\S]*?)(?:\r?\nStack: [\s\S]*)?$/;

function stripHostWrapping(message: string): string {
  if (!ACTIVITY_PREFIX.test(message)) return fromRpcException(message);
  let reason = message;
  let remote: string | undefined;
  // Details JSON never holds a raw newline, so the last " \n " separates it from the reason.
  const last = message.lastIndexOf(" \n ");
  if (last >= 0 && message.slice(last + 3).trimStart().startsWith("{")) {
    reason = message.slice(0, last);
    remote = remoteMessage(message.slice(last + 3));
  } else {
    const first = message.indexOf(" \n ");
    if (first >= 0) reason = message.slice(0, first);
  }
  if (remote !== undefined) return fromRpcException(remote);
  // The extension's friendly message keeps the space after "Exception:", hence two spaces after "failed:".
  return fromRpcException(reason.replace(ACTIVITY_PREFIX, "").replace(/^ /, ""));
}

function remoteMessage(details: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(details);
    const inner = (parsed as { InnerException?: { RemoteMessage?: unknown } } | null)?.InnerException;
    return typeof inner?.RemoteMessage === "string" ? inner.RemoteMessage : undefined;
  } catch {
    return undefined;
  }
}

function fromRpcException(text: string): string {
  const match = RPC_EXCEPTION.exec(text);
  return match ? match[1].replace(/^ /, "") : text;
}

export function isTerminalFailure(error: unknown): boolean {
  return activityErrorMessage(error).includes(TERMINAL_MARKER);
}

/** The failure text without the host's wrapping (prefix, RpcException labels, JSON details, stack) and the marker. */
export function failureText(error: unknown): string {
  return activityErrorMessage(error).split(TERMINAL_MARKER).join("").trim();
}

/**
 * A failed orchestration's output as users should read it. The extension stores
 * "Orchestrator function '<name>' failed: <message>", where <message> may itself be a wrapped activity
 * failure (an error the orchestrator did not catch).
 */
export function orchestrationFailureText(output: string): string {
  return redactSecrets(failureText(output.replace(ORCHESTRATOR_PREFIX, "")));
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
