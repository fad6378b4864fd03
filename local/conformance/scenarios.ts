/**
 * The catalogue: one scenario per durable feature the app uses, run on both engines with the same instance id.
 * The orchestrators and activities they run are test-only registrations (./scenarioFunctions).
 */
import type { EngineDriver, EngineStatus } from "./engines";

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
}

export type WaitFor = (what: string, predicate: (status: EngineStatus) => boolean) => Promise<EngineStatus>;

export const TERMINAL = ["Completed", "Failed", "Terminated", "Canceled"];

export const SCENARIOS: Scenario[] = [
  {
    name: "activitySequence",
    covers: "activities called one after another; inputs and results of every JSON kind",
    orchestrator: "conformanceSequence",
    input: { hello: "world", n: 1 },
    activitySteps: 3,
  },
];
