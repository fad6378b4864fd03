/**
 * The second person before a label (issue 34) through the real durable-functions replay engine
 * (test/support/replayDriver.ts checks every replay schedules the same actions): publishLabel shows
 * the computed label as awaitingApproval, then waits on durable timers and the external event
 * "approvalDecision". Approve → createShippingLabel exactly once; reject or expiry → nothing created;
 * a self-approval or a malformed decision is ignored and recorded; a crash between the approval and
 * the create's completion replays to exactly one create.
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import type { PublishLabelInput } from "../../../src/activities/contract";
import { APPROVAL_EVENT } from "../../../src/domain/approval";
import type { LabelReport } from "../../../src/domain/types";
import type { NormalizedSubmissionStatus } from "../../../src/domain/types";
import "../../../src/orchestrators/publishLabel";
import "../../../src/orchestrators/submitDriver";
import { type ActivityScript, driveOrchestration, EventType, type HistoryEvent } from "../../support/replayDriver";
import { signingRun, submitDriverInput } from "../../support/submitDriverScript";

const START = "2026-12-01T00:00:00.000Z";
const requester = { objectId: "11111111-1111-1111-1111-111111111111", name: "Rita Requester" };
const approver = { objectId: "22222222-2222-2222-2222-222222222222", name: "Alex Approver" };

const input = (over: Partial<PublishLabelInput> = {}): PublishLabelInput => ({
  parentInstanceId: "drv-parent",
  package: { container: "driver-drops", blobName: "contoso-1.0.0.hlkx" },
  productId: "14631253285588845",
  submissionId: "1152921504621465131",
  product: { productName: "contoso", testHarness: "hlk" },
  policy: { destination: "windowsUpdate", goLiveDate: "2027-01-15T00:00:00Z", floor: "RS5", ceiling: "NI", audiences: ["aud-1"], chids: ["f0a1b2c3-0000-4000-8000-000000000001"] },
  polling: { initialIntervalSeconds: 300, maxIntervalSeconds: 3600, backoffFactor: 2, deadlineDays: 30, metadataWaitMinutes: 60, pollsPerGeneration: 50 },
  retry: { firstRetryIntervalSeconds: 1, maxAttempts: 2, backoffCoefficient: 2, maxRetryIntervalSeconds: 10 },
  approval: { requester, deadlineHours: 168 },
  ...over,
});

const ready = {
  ready: true,
  ok: true,
  name: "contoso 2.3.1.0",
  destination: "windowsUpdate",
  hardwareIdCount: 8,
  hardwareIdSample: ["contoso_usb.inf | WINDOWS_v100_X64_RS5_FULL | usb\\vid_045e&pid_0001"],
  chidCount: 1,
  audiences: ["aud-1"],
  request: { container: "signing-state", blobName: "labels/x/request.json" },
};
const published = { phase: "published", currentStep: "finalizePublishing", state: "completed", messages: [], terminal: true, cancellable: false, hasErrorReport: false, cancelRequested: false };

const activities: ActivityScript = (name) => {
  switch (name) {
    case "prepareShippingLabel":
      return ready;
    case "createShippingLabel":
      return { labelId: "1152921504628000000", reused: false };
    case "getShippingLabelStatus":
      return published;
    default:
      throw new Error(`unexpected activity ${name}`);
  }
};

const hoursAfterStart = (h: number) => new Date(Date.parse(START) + h * 3600_000).toISOString();
const decision = (over: Record<string, unknown> = {}, at = hoursAfterStart(30)) => ({
  name: APPROVAL_EVENT,
  at,
  data: { decision: "approve", comment: "checked the ids", approver, decidedAt: at, ...over },
});
const run = (events: ReturnType<typeof decision>[], over: Partial<PublishLabelInput> = {}) =>
  driveOrchestration({ orchestrator: "publishLabel", instanceId: "drv-parent-label-1", input: input(over), activities, startTime: new Date(START), externalEvents: events });
const phases = (statuses: { label: LabelReport }[]) => statuses.map((s) => s.label.phase);

describe("publishLabel with a second person (replayed)", () => {
  test("awaitingApproval shows the exact label, the requester and the deadline; approve → createShippingLabel exactly once, after the decision", async () => {
    const result = await run([decision()]);
    expect(result.runtimeStatus).toBe("Completed");
    expect(result.callCounts).toEqual({ prepareShippingLabel: 1, createShippingLabel: 1, getShippingLabelStatus: 1 });
    const waiting = result.customStatuses.find((s: { label: LabelReport }) => s.label.phase === "awaitingApproval").label as LabelReport;
    expect(waiting).toMatchObject({
      name: "contoso 2.3.1.0",
      destination: "windowsUpdate",
      hardwareIdCount: 8,
      hardwareIdSample: ready.hardwareIdSample,
      chidCount: 1,
      audiences: ["aud-1"],
      request: ready.request,
      approval: { requester, goLiveDate: "2027-01-15T00:00:00Z", floor: "RS5", ceiling: "NI", deadline: "2026-12-08T00:00:01.000Z" },
    });
    expect(waiting.labelId).toBeUndefined();
    // Nothing went to Microsoft before the decision.
    const create = result.activityCalls.find((c) => c.name === "createShippingLabel")!;
    expect(Date.parse(create.at)).toBeGreaterThanOrEqual(Date.parse(hoursAfterStart(30)));
    expect(phases(result.customStatuses)).toEqual(expect.arrayContaining(["waitingForMetadata", "awaitingApproval", "creating", "published"]));
    expect(result.output).toMatchObject({
      phase: "published",
      labelId: "1152921504628000000",
      approval: { decision: "approve", approver, comment: "checked the ids", decidedAt: hoursAfterStart(30) },
    });
    // Wait steps of at most a day (short timers), then the event won.
    const waits = result.timers.filter((t) => Date.parse(t.fireAt) <= Date.parse("2026-12-08T00:00:01.000Z") && Date.parse(t.createdAt) < Date.parse(hoursAfterStart(30)));
    expect(waits.length).toBe(2);
    for (const t of waits) expect(Date.parse(t.fireAt) - Date.parse(t.createdAt)).toBeLessThanOrEqual(24 * 3600_000);
  });

  test("reject → no label; status rejected with the reason, comment and approver", async () => {
    const result = await run([decision({ decision: "reject", comment: "wrong CHID set" })]);
    expect(result.runtimeStatus).toBe("Completed");
    expect(result.callCounts).toEqual({ prepareShippingLabel: 1 });
    expect(result.output).toMatchObject({
      phase: "rejected",
      error: expect.stringMatching(/rejected by Alex Approver: wrong CHID set; nothing was created/),
      approval: { decision: "reject", approver, comment: "wrong CHID set", requester },
    });
    expect(result.finalCustomStatus.label).toMatchObject({ phase: "rejected", approval: { decision: "reject" } });
  });

  test("expiry: the timers reach the deadline with no decision → no label, phase expired", async () => {
    const result = await run([]);
    expect(result.runtimeStatus).toBe("Completed");
    expect(result.callCounts).toEqual({ prepareShippingLabel: 1 });
    expect(result.output).toMatchObject({ phase: "expired", error: expect.stringMatching(/no approval decision by 2026-12-08T00:00:01.000Z/), approval: { requester } });
    expect(result.clock.toISOString()).toBe("2026-12-08T00:00:01.000Z");
    expect(result.timers[result.timers.length - 1].fireAt).toBe("2026-12-08T00:00:01.000Z");
  });

  test("a decision after the deadline changes nothing; the deadline setting is honoured (2 hours)", async () => {
    const result = await run([decision({}, hoursAfterStart(3))], { approval: { requester, deadlineHours: 2 } });
    expect(result.output).toMatchObject({ phase: "expired" });
    expect(result.callCounts.createShippingLabel).toBeUndefined();
    expect(result.clock.toISOString()).toBe("2026-12-01T02:00:01.000Z");
  });

  test("a self-approval and a malformed decision are ignored and recorded; a valid one then approves; one create", async () => {
    const self = decision({ approver: { objectId: requester.objectId.toUpperCase(), name: "Rita again" } }, hoursAfterStart(10));
    const malformed = decision({ decision: "maybe", comment: 42 }, hoursAfterStart(20));
    const valid = decision({}, hoursAfterStart(40));
    const result = await run([self, malformed, valid]);
    expect(result.callCounts).toEqual({ prepareShippingLabel: 1, createShippingLabel: 1, getShippingLabelStatus: 1 });
    const create = result.activityCalls.find((c) => c.name === "createShippingLabel")!;
    expect(Date.parse(create.at)).toBeGreaterThanOrEqual(Date.parse(hoursAfterStart(40)));
    const ignoredSeen = result.customStatuses.filter((s: { label: LabelReport }) => s.label.phase === "awaitingApproval").map((s: { label: LabelReport }) => s.label.approval?.ignored?.length ?? 0);
    expect(ignoredSeen).toEqual([0, 1, 2]);
    expect(result.output).toMatchObject({
      phase: "published",
      approval: {
        decision: "approve",
        approver,
        ignored: [
          { approver: { objectId: requester.objectId.toUpperCase(), name: "Rita again" }, reason: "the requester may not decide on their own label", at: hoursAfterStart(10) },
          { reason: expect.stringMatching(/^invalid decision: decision must be "approve" or "reject"; comment is required/), at: hoursAfterStart(20) },
        ],
      },
    });
  });

  test("only self-approvals until the deadline → expired, nothing created", async () => {
    const result = await run([decision({ approver: requester }, hoursAfterStart(1)), decision({ approver: requester }, hoursAfterStart(100))]);
    expect(result.output).toMatchObject({ phase: "expired" });
    expect((result.output as LabelReport).approval?.ignored).toHaveLength(2);
    expect(result.callCounts.createShippingLabel).toBeUndefined();
  });

  test("a crash after the approve event and before createShippingLabel completed replays to exactly one create", async () => {
    const first = await run([decision()]);
    const history = first.executions[0].history;
    // Cut after the episode that scheduled createShippingLabel (the approval is in history, the create is not done).
    const scheduledAt = history.findIndex((e) => e.EventType === EventType.TaskScheduled && e.Name === "createShippingLabel");
    const cutEnd = history.findIndex((e, i) => i > scheduledAt && e.EventType === EventType.OrchestratorCompleted);
    const saved: HistoryEvent[] = history.slice(0, cutEnd + 1).map((e) => ({ ...e, IsPlayed: false }));
    expect(saved.some((e) => e.EventType === EventType.EventRaised && e.Name === APPROVAL_EVENT)).toBe(true);
    expect(saved.some((e) => e.EventType === EventType.TaskCompleted && e.TaskScheduledId === history[scheduledAt].EventId)).toBe(false);

    const resumed = await driveOrchestration({
      orchestrator: "publishLabel",
      instanceId: "drv-parent-label-1",
      input: input(),
      resumeFrom: { input: input(), history: saved },
      activities,
    });
    expect(resumed.runtimeStatus).toBe("Completed");
    // The pending create ran once (the recorded one), nothing else was scheduled as a create.
    expect(resumed.callCounts).toEqual({ createShippingLabel: 1, getShippingLabelStatus: 1 });
    const creates = resumed.executions[0].history.filter((e) => e.EventType === EventType.TaskScheduled && e.Name === "createShippingLabel");
    expect(creates).toHaveLength(1);
    expect(resumed.output).toMatchObject({ phase: "published", approval: { decision: "approve", approver } });
  });

  test("a partner share without `approval` in its input goes straight to create (no wait)", async () => {
    const result = await driveOrchestration({
      orchestrator: "publishLabel",
      input: input({ approval: undefined, policy: { destination: "anotherPartner", receiverPublisherId: "12345" } }),
      activities,
      startTime: new Date(START),
    });
    expect(result.callCounts.createShippingLabel).toBe(1);
    expect(phases(result.customStatuses)).not.toContain("awaitingApproval");
  });
});

describe("publish after signing: submitDriver passes the approval on to its publishLabel child", () => {
  const signed: NormalizedSubmissionStatus = { progress: "succeeded", commitStatus: "commitComplete", currentStep: "finalizeIngestion", state: "completed", messages: [], hasSignedPackage: true, hasDriverMetadata: true };
  const childReport = { phase: "published", labelId: "1152921504628000000" };
  const childInputs: unknown[] = [];
  const activities = signingRun(() => signed, (name, childInput) => {
    if (name !== "publishLabel") throw new Error(`unexpected activity ${name}`);
    childInputs.push(childInput);
    return childReport;
  });
  const publish = { policy: { destination: "windowsUpdate" as const }, polling: input().polling };

  test("with `approval` in the submission's publish request, the child input carries it", async () => {
    childInputs.length = 0;
    const result = await driveOrchestration({ input: submitDriverInput({ publish: { ...publish, approval: { requester, deadlineHours: 48 } } }), activities });
    expect(result.runtimeStatus).toBe("Completed");
    expect(childInputs).toEqual([expect.objectContaining({ policy: publish.policy, approval: { requester, deadlineHours: 48 } })]);
    expect((childInputs[0] as { notify?: boolean }).notify).toBeUndefined();
  });

  test("with webhooks configured (notify), the child is told to announce the approval", async () => {
    childInputs.length = 0;
    await driveOrchestration({ input: submitDriverInput({ notify: true, publish: { ...publish, approval: { requester, deadlineHours: 48 } } }), activities: (name, i, a, info) => (name === "queueNotification" ? [] : activities(name, i, a, info)) });
    expect(childInputs).toEqual([expect.objectContaining({ approval: { requester, deadlineHours: 48 }, notify: true })]);
  });

  test("without it (every input built before issue 34), the child input is exactly as before: no approval key", async () => {
    childInputs.length = 0;
    await driveOrchestration({ input: submitDriverInput({ publish }), activities });
    expect(childInputs).toHaveLength(1);
    expect(Object.keys(childInputs[0] as object).sort()).toEqual(["package", "parentInstanceId", "policy", "polling", "product", "productId", "retry", "submissionId"]);
  });
});

describe("approval webhooks (webhooks configured: input.notify)", () => {
  const queued = (result: Awaited<ReturnType<typeof run>>) =>
    result.activityCalls.filter((c) => c.name === "queueNotification").map((c) => ({ event: c.input.event, instanceId: c.input.instanceId, at: c.at }));
  const withQueue: ActivityScript = (name, activityInput, attempt, info) => (name === "queueNotification" ? ["ntf-1"] : activities(name, activityInput, attempt, info));
  const runNotify = (events: ReturnType<typeof decision>[], over: Partial<PublishLabelInput> = {}) =>
    driveOrchestration({ orchestrator: "publishLabel", instanceId: "drv-parent-label-1", input: input({ notify: true, ...over }), activities: withQueue, startTime: new Date(START), externalEvents: events });

  test("requested when the wait begins (status already awaitingApproval), decided before the label is created", async () => {
    const result = await runNotify([decision()]);
    expect(queued(result).map(({ event, instanceId }) => ({ event, instanceId }))).toEqual([
      { event: "approvalRequested", instanceId: "drv-parent-label-1" },
      { event: "approvalDecided", instanceId: "drv-parent-label-1" },
    ]);
    const names = result.activityCalls.map((c) => c.name);
    expect(names.indexOf("queueNotification")).toBeGreaterThan(names.indexOf("prepareShippingLabel"));
    expect(names.lastIndexOf("queueNotification")).toBeLessThan(names.indexOf("createShippingLabel"));
    expect(Date.parse(queued(result)[1].at)).toBeGreaterThanOrEqual(Date.parse(hoursAfterStart(30)));
    expect(result.callCounts.createShippingLabel).toBe(1);
  });

  test("reject and expiry are announced too; a failing queue changes nothing", async () => {
    const rejected = await runNotify([decision({ decision: "reject", comment: "no" })]);
    expect(queued(rejected).map((q) => q.event)).toEqual(["approvalRequested", "approvalDecided"]);
    expect(rejected.output).toMatchObject({ phase: "rejected" });

    const expired = await runNotify([], { approval: { requester, deadlineHours: 2 } });
    expect(queued(expired).map((q) => q.event)).toEqual(["approvalRequested", "approvalDecided"]);
    expect(expired.output).toMatchObject({ phase: "expired" });

    const failing = await driveOrchestration({
      orchestrator: "publishLabel",
      input: input({ notify: true }),
      activities: (name, i, a, info) => {
        if (name === "queueNotification") throw new Error("storage unavailable");
        return activities(name, i, a, info);
      },
      startTime: new Date(START),
      externalEvents: [decision()],
    });
    expect(failing.output).toMatchObject({ phase: "published" });
    expect(failing.callCounts).toMatchObject({ createShippingLabel: 1, queueNotification: 6 });
  });

  test("without notify nothing is queued", async () => {
    const result = await run([decision()]);
    expect(result.callCounts.queueNotification).toBeUndefined();
  });
});
