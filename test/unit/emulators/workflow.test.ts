/** The submission workflow schedule as a pure function of the emulator clock. */
import { CommitRecord, SUBMISSION_STEPS, evaluateWorkflow, inCase } from "../../../local/emulators/workflow";

const committedAt = Date.parse("2025-01-01T00:00:00Z");
const commit = (workflow: Partial<CommitRecord["workflow"]> = {}, outcome: CommitRecord["outcome"] = "complete"): CommitRecord => ({
  committedAtMs: committedAt,
  outcome,
  failureMessage: outcome === "failed" ? "no package" : undefined,
  workflow: { stepSeconds: 30, commitSeconds: 5, ...workflow },
});
const at = (seconds: number) => committedAt + seconds * 1000;

describe("evaluateWorkflow", () => {
  it("is commitPending without workflow before a commit", () => {
    expect(evaluateWorkflow(undefined, at(0))).toEqual({ commitStatus: "commitPending", finished: false, stepFailed: false });
  });

  it("walks every documented step notStarted → started → completed", () => {
    const seen = new Set<string>();
    for (let second = 5; second < 5 + 30 * SUBMISSION_STEPS.length; second += 5) {
      const view = evaluateWorkflow(commit(), at(second));
      const label = `${SUBMISSION_STEPS[view.step!.index]}:${view.step!.state}`;
      seen.add(label);
      // The signed package is due exactly when the last step completes.
      expect(view.finished).toBe(label === "finalizeIngestion:completed");
    }
    expect(seen.size).toBe(SUBMISSION_STEPS.length * 3);
    const done = evaluateWorkflow(commit(), at(5 + 30 * SUBMISSION_STEPS.length));
    expect(done).toMatchObject({ commitStatus: "commitComplete", finished: true, step: { index: 7, state: "completed" } });
  });

  it("reports commitReceived until commitSeconds, then commitFailed for a failed commit", () => {
    expect(evaluateWorkflow(commit({}, "failed"), at(4)).commitStatus).toBe("commitReceived");
    expect(evaluateWorkflow(commit({}, "failed"), at(5))).toMatchObject({ commitStatus: "commitFailed", step: { messages: ["no package"] } });
  });

  it("fails at failAtStep once that step has started, and stays failed", () => {
    const failing = commit({ failAtStep: "scanning" });
    expect(evaluateWorkflow(failing, at(5 + 60 + 1)).stepFailed).toBe(false); // scanning, notStarted
    const failed = evaluateWorkflow(failing, at(5 + 60 + 15));
    expect(failed).toMatchObject({ stepFailed: true, finished: false, step: { index: 2, state: "failed" } });
    expect(evaluateWorkflow(failing, at(100000)).step).toEqual(failed.step);
  });

  it("finishes at once when stepSeconds is 0", () => {
    expect(evaluateWorkflow(commit({ stepSeconds: 0 }), at(5)).finished).toBe(true);
  });

  it("writes enums in either case", () => {
    expect(inCase("commitPending", "pascal")).toBe("CommitPending");
    expect(inCase("notStarted", "camel")).toBe("notStarted");
  });
});
