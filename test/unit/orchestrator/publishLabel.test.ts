/**
 * publishLabel through the real durable-functions replay engine (test/support/replayDriver.ts checks
 * every replay schedules the same actions): waiting for the driver metadata on timers, dry run,
 * rejected policy, create once, follow to published across continueAsNew, cancelled, the deadline,
 * and the label block staying under the custom status cap.
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import type { PublishLabelInput } from "../../../src/activities/contract";
import type { LabelReport } from "../../../src/domain/types";
import "../../../src/orchestrators/publishLabel";
import { fitCustomStatus, MAX_CUSTOM_STATUS_CHARS, serializedLength } from "../../../src/orchestrators/customStatus";
import { type ActivityScript, driveOrchestration } from "../../support/replayDriver";

const input = (over: Partial<PublishLabelInput> = {}): PublishLabelInput => ({
  parentInstanceId: "drv-parent",
  package: { container: "driver-drops", blobName: "contoso-1.0.0.hlkx" },
  productId: "14631253285588845",
  submissionId: "1152921504621465131",
  product: { productName: "contoso", testHarness: "hlk" },
  policy: { destination: "windowsUpdate" },
  polling: { initialIntervalSeconds: 300, maxIntervalSeconds: 3600, backoffFactor: 2, deadlineDays: 30, metadataWaitMinutes: 60, pollsPerGeneration: 5 },
  retry: { firstRetryIntervalSeconds: 1, maxAttempts: 2, backoffCoefficient: 2, maxRetryIntervalSeconds: 10 },
  ...over,
});

const ready = {
  ready: true,
  ok: true,
  name: "contoso 2.3.1.0",
  destination: "windowsUpdate",
  hardwareIdCount: 8,
  hardwareIdSample: ["contoso_usb.inf | WINDOWS_v100_X64_RS5_FULL | usb\\vid_045e&pid_0001"],
  chidCount: 0,
  audiences: [],
  request: { container: "signing-state", blobName: "labels/x/request.json" },
};

const status = (phase: string, step: string, state: string, extra: Record<string, unknown> = {}) => ({
  phase,
  currentStep: step,
  state,
  messages: [],
  terminal: ["published", "shared", "cancelled", "failed"].includes(phase),
  cancellable: phase === "awaitingMicrosoftApproval",
  hasErrorReport: false,
  cancelRequested: false,
  ...extra,
});

function script(statuses: (n: number) => unknown, metadataAfter = 2): ActivityScript {
  return (name, _input, _attempt, info) => {
    switch (name) {
      case "prepareShippingLabel":
        return info.callNumber <= metadataAfter ? { ready: false } : ready;
      case "createShippingLabel":
        return { labelId: "1152921504628000000", reused: false };
      case "getShippingLabelStatus":
        return statuses(info.callNumber);
      default:
        throw new Error(`unexpected activity ${name}`);
    }
  };
}

describe("publishLabel (replayed)", () => {
  test("waits for metadata, creates once, follows through approval to published across continueAsNew", async () => {
    const phases = (n: number) =>
      n <= 2 ? status("validating", "publishJobValidation", "started") : n <= 9 ? status("awaitingMicrosoftApproval", "microsoftApproval", "started") : n === 10 ? status("publishing", "publishing", "started") : status("published", "finalizePublishing", "completed");
    const result = await driveOrchestration({ orchestrator: "publishLabel", instanceId: "drv-parent-label-1", input: input(), activities: script(phases) });
    expect(result.runtimeStatus).toBe("Completed");
    expect(result.output).toMatchObject({ phase: "published", labelId: "1152921504628000000", hardwareIdCount: 8, pollCount: 11, instanceId: "drv-parent-label-1" });
    expect(result.callCounts).toEqual({ prepareShippingLabel: 3, createShippingLabel: 1, getShippingLabelStatus: 11 });
    expect(result.executions.length).toBe(3); // 5 polls per generation
    const seen = result.customStatuses.map((s: { label: LabelReport }) => s.label.phase);
    expect(seen).toEqual(expect.arrayContaining(["waitingForMetadata", "creating", "validating", "awaitingMicrosoftApproval", "publishing", "published"]));
  });

  test("dry run: nothing created, the summary is the result", async () => {
    const result = await driveOrchestration({ orchestrator: "publishLabel", input: input({ policy: { destination: "windowsUpdate", dryRun: true } }), activities: script(() => { throw new Error("no polls"); }, 0) });
    expect(result.output).toMatchObject({ phase: "dryRun", hardwareIdCount: 8, hardwareIdSample: ready.hardwareIdSample });
    expect(result.callCounts).toEqual({ prepareShippingLabel: 1 });
  });

  test("a policy that does not fit the metadata is rejected with its fields; nothing created", async () => {
    const activities: ActivityScript = (name) => {
      if (name === "prepareShippingLabel") return { ready: true, ok: false, problems: ["publish.audiences.0: is not a test audience"] };
      throw new Error(`unexpected ${name}`);
    };
    const result = await driveOrchestration({ orchestrator: "publishLabel", input: input(), activities });
    expect(result.output).toMatchObject({ phase: "rejected", problems: ["publish.audiences.0: is not a test audience"] });
  });

  test("metadata that never appears ends failed after metadataWaitMinutes, nothing created", async () => {
    const result = await driveOrchestration({ orchestrator: "publishLabel", input: input(), activities: script(() => undefined, 1000) });
    expect(result.output).toMatchObject({ phase: "failed", error: expect.stringMatching(/did not appear within 60 minutes/) });
    expect(result.callCounts.createShippingLabel).toBeUndefined();
    const last = new Date(result.timers[result.timers.length - 1].fireAt).getTime();
    expect(last - new Date(result.timers[0].createdAt).getTime()).toBeLessThanOrEqual(60 * 60_000 + 5_000);
  });

  test("cancelled and failed labels carry Microsoft's messages and report; the deadline ends the follow", async () => {
    const cancelled = await driveOrchestration({
      orchestrator: "publishLabel",
      input: input(),
      activities: script((n) => (n < 3 ? status("awaitingMicrosoftApproval", "microsoftApproval", "started") : status("cancelled", "microsoftApproval", "failed", { cancelRequested: true, messages: ["The shipping label was cancelled."] })), 0),
    });
    expect(cancelled.output).toMatchObject({ phase: "cancelled", cancelRequested: true, messages: ["The shipping label was cancelled."] });

    const failed = await driveOrchestration({
      orchestrator: "publishLabel",
      input: input(),
      activities: script(() => status("failed", "publishJobValidation", "failed", { messages: ["bad id"], errorReportText: "x".repeat(20_000) }), 0),
    });
    expect(failed.output).toMatchObject({ phase: "failed", messages: ["bad id"] });
    expect((failed.output as LabelReport).errorReportText).toHaveLength(20_000);
    expect(serializedLength(failed.finalCustomStatus)).toBeLessThan(MAX_CUSTOM_STATUS_CHARS);

    const late = await driveOrchestration({
      orchestrator: "publishLabel",
      input: input({ polling: { ...input().polling, deadlineDays: 1, pollsPerGeneration: 100 } }),
      activities: script(() => status("awaitingMicrosoftApproval", "microsoftApproval", "started"), 0),
    });
    expect(late.output).toMatchObject({ phase: "awaitingMicrosoftApproval", error: expect.stringMatching(/deadline .* passed/) });
  });

  test("the submission's custom status stays under the cap with a large label block", () => {
    const huge = "m".repeat(3000);
    const fitted = fitCustomStatus({
      stage: "succeeded",
      package: { container: "driver-drops", blobName: "contoso-1.0.0.hlkx" },
      messages: Array.from({ length: 40 }, () => huge),
      errorReportText: huge,
      label: { phase: "failed", labelId: "1", name: huge, messages: Array.from({ length: 50 }, () => huge), errorReportText: huge.repeat(5), problems: [huge], hardwareIdSample: [huge, huge] },
      updatedAt: "2026-11-30T00:00:00Z",
    });
    expect(serializedLength(fitted)).toBeLessThanOrEqual(MAX_CUSTOM_STATUS_CHARS);
    expect(fitted.label).toMatchObject({ phase: "failed", labelId: "1" });
  });
});
