/**
 * changeLabel (issue 30): one PATCH or cancel of a shipping label through the real durable-functions
 * replay engine. Transient failures are retried on durable timers per the activity retry policy
 * (so a change may take far longer than an HTTP call may); Microsoft's refusal ends it at once as
 * `failed` with the reason; the status never carries a URL. Also the activity's "already applied" check.
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import type { ChangeLabelInput } from "../../../src/activities/contract";
import { TerminalActivityError } from "../../../src/activities/errors";
import { isApplied } from "../../../src/activities/updateShippingLabel";
import "../../../src/orchestrators/changeLabel";
import { driveOrchestration } from "../../support/replayDriver";

const retry = { firstRetryIntervalSeconds: 150, maxAttempts: 4, backoffCoefficient: 2, maxRetryIntervalSeconds: 300 };
const ref = { parentInstanceId: "drv-0123", productId: "14461751976964156", submissionId: "1152921505699924012", labelId: "1152921505699925000" };
const hw = { bundleId: "b1", infId: "contoso.inf", operatingSystemCode: "WINDOWS_v100_X64_RS5_FULL", pnpString: "usb\\vid_045e&pid_0001" };
const update: ChangeLabelInput = { ...ref, retry, kind: "update", targeting: { hardwareIds: [{ ...hw, action: "remove" }] } };

describe("changeLabel orchestration", () => {
  test("a PATCH failing twice (transient) is retried 150 s then 300 s later and succeeds: longer than any HTTP call", async () => {
    const result = await driveOrchestration({
      orchestrator: "changeLabel",
      input: update,
      activities: (name, input, attempt) => {
        expect(name).toBe("updateShippingLabel");
        expect(input).toEqual({ productId: ref.productId, submissionId: ref.submissionId, labelId: ref.labelId, targeting: update.targeting });
        if (attempt <= 2) throw new Error("Updating shipping label: HDC PATCH failed: 503 Service Unavailable");
        return { hardwareIdChanges: 1, chidChanges: 0, audiencesSet: false, alreadyApplied: false };
      },
    });
    expect(result.runtimeStatus).toBe("Completed");
    expect(result.timers.map((t) => (Date.parse(t.fireAt) - Date.parse(t.createdAt)) / 1000)).toEqual([150, 300]);
    const out = result.output as Record<string, any>;
    expect(out).toMatchObject({ kind: "update", labelId: ref.labelId, state: "succeeded", hardwareIdChanges: 1, alreadyApplied: false });
    expect((Date.parse(out.endedAt) - Date.parse(out.startedAt)) / 1000).toBeGreaterThan(230);
    expect(result.customStatuses[0]).toMatchObject({ state: "running", kind: "update" });
    expect(result.finalCustomStatus).toEqual(out);
  });

  test("Microsoft's refusal ends the change at once as failed, with the reason and no retry", async () => {
    const result = await driveOrchestration({
      orchestrator: "changeLabel",
      input: update,
      activities: () => {
        throw new TerminalActivityError("Updating shipping label 1152921505699925000 was rejected: targeting.hardwareIds[0]: not on this shipping label");
      },
    });
    expect(result.runtimeStatus).toBe("Completed");
    expect(result.activityCalls).toHaveLength(1);
    expect(result.output).toMatchObject({ state: "failed", reason: expect.stringMatching(/^Updating shipping label .* targeting\.hardwareIds\[0\]: not on this shipping label$/) });
  });

  test("out of attempts: failed, saying how many", async () => {
    const result = await driveOrchestration({
      orchestrator: "changeLabel",
      input: { ...ref, retry, kind: "cancel" },
      activities: () => {
        throw new Error("Cancelling shipping label: no answer within 120 s");
      },
    });
    expect(result.activityCalls.map((c) => c.name)).toEqual(["cancelShippingLabel", "cancelShippingLabel", "cancelShippingLabel", "cancelShippingLabel"]);
    expect(result.output).toMatchObject({ kind: "cancel", state: "failed", reason: expect.stringMatching(/after 4 attempts: Cancelling shipping label: no answer within 120 s/) });
  });

  test("a cancel already taken is reported as such", async () => {
    const result = await driveOrchestration({ orchestrator: "changeLabel", input: { ...ref, retry, kind: "cancel" }, activities: () => ({ cancelRequested: true, alreadyRequested: true }) });
    expect(result.output).toMatchObject({ kind: "cancel", state: "succeeded", alreadyApplied: true });
  });
});

describe("updateShippingLabel: is the change already in effect at Microsoft?", () => {
  const targeting = (entries: Array<typeof hw & { distributionState: string }>, extra: Record<string, unknown> = {}) => ({ hardwareIds: entries, chids: [], restrictedToAudiences: [], ...extra });

  test("hardware ids: an add is in effect when present and not being removed; a remove when pending removal or absent", () => {
    const add = { hardwareIds: [{ ...hw, action: "add" as const }] };
    const remove = { hardwareIds: [{ ...hw, action: "remove" as const }] };
    expect(isApplied(targeting([{ ...hw, distributionState: "pendingAdd" }]), add)).toBe(true);
    expect(isApplied(targeting([{ ...hw, pnpString: hw.pnpString.toUpperCase(), distributionState: "added" }]), add)).toBe(true);
    expect(isApplied(targeting([{ ...hw, distributionState: "pendingRemove" }]), add)).toBe(false);
    expect(isApplied(targeting([]), add)).toBe(false);
    expect(isApplied(targeting([{ ...hw, distributionState: "pendingRemove" }]), remove)).toBe(true);
    expect(isApplied(targeting([]), remove)).toBe(true);
    expect(isApplied(targeting([{ ...hw, distributionState: "pendingAdd" }]), remove)).toBe(false);
    expect(isApplied(targeting([{ ...hw, infId: "other.inf", distributionState: "pendingRemove" }, { ...hw, distributionState: "added" }]), remove)).toBe(false);
  });

  test("CHIDs and audiences", () => {
    const chid = "346511cf-ccee-5c6d-8ee9-3c70fc7aae83";
    expect(isApplied(targeting([], { chids: [{ chid: chid.toUpperCase(), distributionState: "pendingAdd" }] }), { chids: [{ chid, action: "add" }] })).toBe(true);
    expect(isApplied(targeting([], { chids: [] }), { chids: [{ chid, action: "add" }] })).toBe(false);
    expect(isApplied(targeting([], { restrictedToAudiences: ["b", "a"] }), { restrictedToAudiences: ["a", "b"] })).toBe(true);
    expect(isApplied(targeting([], { restrictedToAudiences: ["a"] }), { restrictedToAudiences: ["a", "b"] })).toBe(false);
    expect(isApplied(undefined, { restrictedToAudiences: [] })).toBe(true);
    // Every part must be in effect.
    expect(isApplied(targeting([], { restrictedToAudiences: ["a"] }), { restrictedToAudiences: ["a"], hardwareIds: [{ ...hw, action: "add" }] })).toBe(false);
  });
});
