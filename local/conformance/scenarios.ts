/**
 * The catalogue: one scenario per durable feature the app uses, run on both engines with the same instance id.
 * The orchestrators and activities they run are test-only registrations (./scenarioFunctions).
 */
import type { EngineDriver, EngineStatus } from "./engines";
import { ORCHESTRATOR_NAME } from "../../src/activities/contract";
import { parseConfig } from "../../src/config";
import { parsePublishPolicy } from "../../src/publishing";
import { labelInstanceId } from "../../src/domain/instanceId";
import { buildSubmitDriverInput } from "../../src/functions/submissionInput";
import { dropPackage, type AppStack } from "./appScenarios";

export interface Scenario {
  name: string;
  /** The feature it covers, for the report. */
  covers: string;
  orchestrator: string;
  input?: unknown;
  /** Work after the start (raise events, terminate, ...); `waitFor` polls the instance's status. */
  drive?: (engine: EngineDriver, instanceId: string, waitFor: WaitFor) => Promise<void>;
  /** When the instance is ready to compare; default: a terminal runtime status. */
  settled?: (status: EngineStatus) => boolean;
  /** Activities run one after another (for the time per activity step). */
  activitySteps?: number;
  /**
   * An app scenario: the app's own orchestrator against the local stack's emulators (./appScenarios). Each
   * engine gets its own instance id and its own input (built per engine, e.g. its own dropped package).
   */
  app?: {
    input: (stack: AppStack, engine: "real" | "local") => Promise<unknown>;
    /** Sub-orchestrations compared too (their own status, history view and replayed history), by instance id. */
    children?: (instanceId: string) => string[];
  };
}

export type WaitFor = (what: string, predicate: (status: EngineStatus) => boolean) => Promise<EngineStatus>;

export const TERMINAL = ["Completed", "Failed", "Terminated", "Canceled"];

const running = (s: EngineStatus) => s.runtimeStatus === "Running" && s.customStatus !== null && s.customStatus !== undefined;

export const SCENARIOS: Scenario[] = [
  {
    name: "activitySequence",
    covers: "activities called one after another; inputs and results of every JSON kind, an activity returning nothing",
    orchestrator: "conformanceSequence",
    input: { hello: "world", n: 1 },
    activitySteps: 4,
  },
  {
    name: "activityRetry",
    covers: "callActivityWithRetry: backoff 2, max interval; recovered after 2 failures; attempts exhausted and caught",
    orchestrator: "conformanceRetry",
  },
  {
    name: "durableTimer",
    covers: "a 2 s durable timer: FireAt relative to the episode, TimerFired, the clock after it",
    orchestrator: "conformanceTimer",
  },
  {
    name: "longTimer",
    covers: "a 10-day timer (longer than the extension's 6-day maximum): its first chunk, raced with an event that wins",
    orchestrator: "conformanceLongTimer",
    drive: async (engine, id, waitFor) => {
      await waitFor("waiting on the timer", running);
      await engine.raise(id, "wake", "now");
    },
  },
  {
    name: "externalEvent",
    covers: "waitForExternalEvent raced with a timer (Task.any), the event raised through the client, the timer cancelled",
    orchestrator: "conformanceExternalEvent",
    drive: async (engine, id, waitFor) => {
      await waitFor("waiting for the event", running);
      await engine.raise(id, "approval", { by: "conformance", at: "2026-05-06T07:08:09.123Z" });
    },
  },
  {
    name: "subOrchestrations",
    covers: "sub-orchestrations with Task.all, generated and explicit instance ids, a failing child caught",
    orchestrator: "conformanceSubOrchestrations",
  },
  {
    name: "continueAsNew",
    covers: "continueAsNew twice with new input; custom status across generations",
    orchestrator: "conformanceContinueAsNew",
  },
  {
    name: "customStatusAtCap",
    covers: "a custom status just under the 16 KB cap (8,700 characters: 16 KB after rounding down)",
    orchestrator: "conformanceCustomStatus",
    input: { chars: 8700 },
  },
  {
    name: "customStatusOverCap",
    covers: "a custom status just over the 16 KB cap (8,704 characters: 17 KB)",
    orchestrator: "conformanceCustomStatus",
    input: { chars: 8704 },
  },
  {
    name: "terminate",
    covers: "terminate with a reason while waiting for an event",
    orchestrator: "conformanceWaitForever",
    drive: async (engine, id, waitFor) => {
      await waitFor("waiting for the event", running);
      await engine.terminate(id, "stopped by the conformance harness");
    },
  },
  {
    name: "activityFailureCaught",
    covers: "an activity that throws, caught by the orchestrator: TaskFailed reason and details, the message the orchestrator sees",
    orchestrator: "conformanceActivityFailureCaught",
  },
  {
    name: "activityFailureUncaught",
    covers: "an activity that throws, not caught: the instance fails with the extension's text",
    orchestrator: "conformanceActivityFailureUncaught",
  },
  {
    name: "orchestratorThrows",
    covers: "an orchestrator that throws: Orchestrator function '<name>' failed: <message>",
    orchestrator: "conformanceOrchestratorThrows",
  },
];

/** The app's own orchestrations, on the local stack's emulators (run with the catalogue; `--only` picks one). */
export const APP_SCENARIOS: Scenario[] = [
  {
    name: "appSubmitDriver",
    covers: "the app's submitDriver from a dropped package to the signed package: Entra ID sign-in, product, submission, upload, commit, polling on durable timers, download, manifest",
    orchestrator: ORCHESTRATOR_NAME,
    app: {
      input: async (stack, engine) => {
        const pkg = await dropPackage(stack, engine);
        return buildSubmitDriverInput({ package: pkg, requestedBy: "eventGrid" }, parseConfig(stack.env));
      },
    },
  },
  {
    name: "appPublishLabel",
    covers: "the app's submitDriver with a publish policy (another partner): signed, then the publishLabel sub-orchestration through its phases to shared",
    orchestrator: ORCHESTRATOR_NAME,
    app: {
      input: async (stack, engine) => {
        const pkg = await dropPackage(stack, engine, "publish");
        const policy = parsePublishPolicy({ destination: "anotherPartner", receiverPublisherId: "27691110" });
        if (!policy.ok) throw new Error(`appPublishLabel: ${JSON.stringify(policy)}`);
        return buildSubmitDriverInput({ package: pkg, requestedBy: "eventGrid", publish: policy.value }, parseConfig(stack.env));
      },
      children: (instanceId) => [labelInstanceId(instanceId, 1)],
    },
  },
];

export const ALL_SCENARIOS: Scenario[] = [...SCENARIOS, ...APP_SCENARIOS];
