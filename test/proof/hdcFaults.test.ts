/**
 * Proof suite, item 2: every Hardware Dev Center fault of reference/hdc-api.md (a.8, a.9, a.14)
 * ends in the right terminal state with the right status and no retry storm. Request counts by
 * kind come from the emulators' request log and are compared with a fault-free baseline run.
 * One stack (virtual clock, HDC client timeout 2 s, 200 s tokens); the runs are sequential.
 */
import { FAULT_SCENARIOS, runBaseline, startFaultStack, type RunRecord } from "./support/hdcFaultScenarios";
import type { TestStack } from "../support/stack";

jest.setTimeout(120_000);

describe("Hardware Dev Center faults (proof)", () => {
  let stack: TestStack;
  let baseline: RunRecord;
  const survived: string[] = [];

  beforeAll(async () => {
    stack = await startFaultStack();
    baseline = await runBaseline(stack);
  });
  afterAll(async () => {
    console.log(`faults survived: ${survived.length}/${FAULT_SCENARIOS.length}`);
    await stack?.stop();
  });

  it("the fault-free baseline succeeds with one commit", () => {
    expect(baseline.view.runtimeStatus).toBe("Completed");
    expect(baseline.entries.filter((entry) => entry.status >= 400)).toEqual([]);
  });

  for (const scenario of FAULT_SCENARIOS) {
    it(scenario.name, async () => {
      await scenario.run(stack, baseline);
      survived.push(scenario.name);
    });
  }
});
