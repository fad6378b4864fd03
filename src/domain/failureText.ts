/**
 * Reading failure text the way users should see it: the activity's own message out of the host's
 * wrapping, and the "retrying will not help" marker. Pure string work, used by the orchestrators,
 * the activities and the submission view alike.
 */
import { redactSecrets } from "./redact";

/** Carried in an activity's exception message; it survives the trip through the host. */
export const TERMINAL_MARKER = "[terminal]";

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
