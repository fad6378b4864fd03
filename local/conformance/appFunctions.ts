/**
 * The functions both engines run in the conformance harness: the app's own registrations, loaded exactly
 * as the local runtime loads them (AppHost over the functions-core stand-in), plus the harness's test-only
 * orchestrators and activities (./scenarioFunctions). The caller must have imported
 * ../functionsHost/installCoreStandIn before anything imported @azure/functions.
 */
import { AppHost, DEFAULT_APP_ENTRY } from "../runtime/appHost";
import { ensureErrorType } from "../durable/failures";

export interface DurableFunctionInfo {
  name: string;
  kind: "orchestration" | "activity";
}

export interface LoadOptions {
  /** The app alone, without the catalogue's test-only functions (the local stack on the real engine). */
  appOnly?: boolean;
  /** The durableClient binding data an activity receives (none in the harness: its functions have no client binding). */
  durableClientData?: () => unknown;
}

export function loadFunctions(entry: string = DEFAULT_APP_ENTRY, log: (line: string) => void = () => undefined, options: LoadOptions = {}): AppHost {
  // Test-only registrations first: AppHost.load requires the app entry and collects everything registered.
  if (!options.appOnly) require("./scenarioFunctions");
  return AppHost.load(entry, {
    durableClientData:
      options.durableClientData ??
      (() => {
        throw new Error("the conformance harness runs orchestrators and activities only (no durable client bindings)");
      }),
    log,
  });
}

/** Every orchestrator and activity, as the .NET host generates its functions from them. */
export function durableFunctions(app: AppHost): DurableFunctionInfo[] {
  const kinds: Record<string, DurableFunctionInfo["kind"]> = { orchestrationTrigger: "orchestration", activityTrigger: "activity" };
  return app.names().flatMap((name) => {
    const kind = kinds[app.triggerType(name)];
    return kind ? [{ name, kind }] : [];
  });
}

/** What the Node.js worker reports for a thrown value: its message and stack (the host builds the rest). */
export function workerError(thrown: unknown): { message: string; stack: string } {
  const error = ensureErrorType(thrown);
  return { message: error.message, stack: error.stack ?? "" };
}

/**
 * Trigger data as the Node.js worker hands it to an activity: string data is JSON-parsed when it parses
 * (which undoes durable-functions' pre-encoding of string inputs), anything else is used as it came.
 */
export function activityInputFromHost(input: unknown): unknown {
  if (typeof input !== "string") return input;
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}
