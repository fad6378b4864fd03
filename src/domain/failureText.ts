/**
 * Reading failure text the way users should see it: the activity's own message out of the host's
 * wrapping, and the "retrying will not help" marker. Pure string work, used by the orchestrators,
 * the activities and the submission view alike. Two formats: the Azure Storage backend's text, and
 * the structured FailureDetails that the Durable Task Scheduler backend (and hosts that send
 * FailureDetails on TaskFailed) use instead.
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
  // durable-functions throws a TaskFailedError when the host sent FailureDetails; its message is
  // "<errorType>: <errorMessage>", the activity's own text is errorMessage.
  const details = error && typeof error === "object" ? readFailureDetails((error as { failureDetails?: unknown }).failureDetails) : undefined;
  if (details) return stripHostWrapping(details.errorMessage);
  const message = error instanceof Error ? error.message : String(error);
  return stripHostWrapping(message);
}

const ACTIVITY_PREFIX = /^Activity function '[^']*' failed: ?/;
const ORCHESTRATOR_PREFIX = /^Orchestrator function '[^']*' failed: ?/;
// DurableTask's FailureDetails.ToString() ("<exception type>: <message>") in front of the extension's prefix.
const EXCEPTION_TYPE_BEFORE_PREFIX = /^[\w.`+]+: (?=Orchestrator function ')/;
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
  // The marker with the space after it, so a marker inside the text leaves no double space.
  return activityErrorMessage(error).split(`${TERMINAL_MARKER} `).join("").split(TERMINAL_MARKER).join("").trim();
}

/**
 * A failed orchestration's output as users should read it. The extension stores
 * "Orchestrator function '<name>' failed: <message>", where <message> may itself be a wrapped activity
 * failure (an error the orchestrator did not catch).
 */
export function orchestrationFailureText(output: string): string {
  return redactSecrets(failureText(output.replace(EXCEPTION_TYPE_BEFORE_PREFIX, "").replace(ORCHESTRATOR_PREFIX, "")));
}

/**
 * DurableTask's FailureDetails: what the Durable Task Scheduler reports for a failed orchestration
 * (and hosts send for a failed task) in place of the Azure Storage backend's output text. The
 * scheduler's protocol (TaskFailureDetails) and durable-functions write it in camelCase; .NET's
 * own serialization in PascalCase.
 */
export interface FailureDetails {
  errorType: string;
  errorMessage: string;
  stackTrace?: string;
  innerFailure?: FailureDetails;
  isNonRetriable: boolean;
}

/** Nesting read at most (a cause of a cause of...); deeper causes are not shown anyway. */
const MAX_FAILURE_DEPTH = 8;

/** `value` as FailureDetails in either casing, or undefined when it is not one (no errorMessage text). */
export function readFailureDetails(value: unknown, depth = 0): FailureDetails | undefined {
  if (!value || typeof value !== "object" || Array.isArray(value) || depth >= MAX_FAILURE_DEPTH) return undefined;
  const fields = value as Record<string, unknown>;
  const field = (camel: string) => fields[camel] ?? fields[camel[0].toUpperCase() + camel.slice(1)];
  const errorMessage = field("errorMessage");
  if (typeof errorMessage !== "string") return undefined;
  const errorType = field("errorType");
  const stackTrace = field("stackTrace");
  const innerFailure = readFailureDetails(field("innerFailure"), depth + 1);
  return {
    errorType: typeof errorType === "string" ? errorType : "",
    errorMessage,
    ...(typeof stackTrace === "string" ? { stackTrace } : {}),
    ...(innerFailure ? { innerFailure } : {}),
    isNonRetriable: field("isNonRetriable") === true,
  };
}

/**
 * A failed orchestration's failure as users should read it, from its status in either backend's
 * format: `failureDetails` (Durable Task Scheduler), an output that is FailureDetails (as an object or
 * its JSON), or the Azure Storage backend's output text. The outer message first, then each cause
 * that adds something; never the stack traces; secrets redacted. Undefined when there is none.
 */
export function orchestrationStatusFailureText(status: { output?: unknown; failureDetails?: unknown }): string | undefined {
  const details = readFailureDetails(status.failureDetails) ?? readFailureDetails(status.output) ?? failureDetailsJson(status.output);
  if (details) return failureDetailsText(details);
  return typeof status.output === "string" ? orchestrationFailureText(status.output) : undefined;
}

function failureDetailsJson(output: unknown): FailureDetails | undefined {
  if (typeof output !== "string" || !output.trimStart().startsWith("{")) return undefined;
  try {
    return readFailureDetails(JSON.parse(output));
  } catch {
    return undefined;
  }
}

function failureDetailsText(details: FailureDetails): string {
  const texts: string[] = [];
  for (let failure: FailureDetails | undefined = details; failure; failure = failure.innerFailure) {
    const text = orchestrationFailureText(failure.errorMessage);
    // A cause the outer message already quotes (the orchestrator's message states its reason) adds nothing.
    if (text && !texts.some((shown) => shown.includes(text))) texts.push(text);
  }
  return texts.join(" Caused by: ");
}
