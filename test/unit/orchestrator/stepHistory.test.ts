/**
 * Microsoft's step history and the notification hook, through the real durable-functions replay
 * engine: one entry per (step, state) change at the orchestration time of the poll that saw it,
 * carried across continueAsNew; the notification is queued once, at the end, only when the input
 * says webhooks are configured (so histories without `notify` replay unchanged).
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import type { SubmitDriverInput } from "../../../src/activities/contract";
import type { NormalizedSubmissionStatus, SubmissionCustomStatus } from "../../../src/domain/types";
import "../../../src/orchestrators/submitDriver";
import { type ActivityScript, driveOrchestration } from "../../support/replayDriver";
import { signingRun, submitDriverInput } from "../../support/submitDriverScript";

const input = submitDriverInput({
  polling: { initialIntervalSeconds: 60, maxIntervalSeconds: 60, backoffFactor: 1, deadlineMinutes: 360, pollsPerGeneration: 2 },
});

/** Poll n sees this (step, state): two polls per step, so some polls repeat the last one. */
const POLLS: Array<[string, string]> = [
  ["preparation", "started"],
  ["preparation", "completed"],
  ["scanning", "started"],
  ["scanning", "started"],
  ["validation", "started"],
  ["catalogCreation", "started"],
  ["finalizeIngestion", "completed"],
];

const status = (poll: number): NormalizedSubmissionStatus => {
  const [currentStep, state] = POLLS[Math.min(poll, POLLS.length) - 1];
  const done = poll >= POLLS.length;
  return { progress: done ? "succeeded" : "processing", commitStatus: "commitComplete", currentStep, state, messages: [], hasSignedPackage: done, hasDriverMetadata: false };
};

const script = (queued: unknown[]): ActivityScript =>
  signingRun(status, (name, activityInput) => {
    if (name !== "queueNotification") throw new Error(`unexpected activity ${name}`);
    queued.push(activityInput);
    return ["ntf-x-0"];
  });

test("stepHistory has one entry per step/state change, at the polls' times, across continueAsNew", async () => {
  const startTime = new Date("2026-01-01T00:00:00Z");
  const result = await driveOrchestration({ input, activities: script([]), startTime });
  expect(result.runtimeStatus).toBe("Completed");
  expect(result.executions.length).toBeGreaterThan(2);

  const final = result.finalCustomStatus as SubmissionCustomStatus;
  expect(final.stepHistory!.map((entry) => [entry.step, entry.state])).toEqual([
    ["preparation", "started"],
    ["preparation", "completed"],
    ["scanning", "started"],
    ["validation", "started"],
    ["catalogCreation", "started"],
    ["finalizeIngestion", "completed"],
  ]);
  // Each entry's time is when a poll first saw it: the poll activities' (virtual) times.
  const pollTimes = result.activityCalls.filter((call) => call.name === "getSubmissionStatus").map((call) => Date.parse(call.at));
  const stepTimes = final.stepHistory!.map((entry) => Date.parse(entry.at));
  for (const time of stepTimes) expect(pollTimes.some((poll) => time >= poll && time - poll < 5000)).toBe(true);
  for (let i = 1; i < stepTimes.length; i++) expect(stepTimes[i]).toBeGreaterThan(stepTimes[i - 1]);
  // Later generations received the steps seen so far.
  expect((result.executions[1].input as SubmitDriverInput).carry?.stepHistory?.map((entry) => entry.step)).toEqual(["preparation", "preparation"]);
  // Replays never rewrote it: each published list extends the previous one.
  const published = result.customStatuses.map((s: SubmissionCustomStatus) => s.stepHistory ?? []);
  for (let i = 1; i < published.length; i++) expect(published[i].slice(0, published[i - 1].length)).toEqual(published[i - 1]);
});

test("with notify, the end queues one notification (and none without)", async () => {
  const queued: unknown[] = [];
  const notified = await driveOrchestration({ input: { ...input, notify: true }, activities: script(queued), instanceId: "drv-notify" });
  expect(notified.runtimeStatus).toBe("Completed");
  expect(queued).toEqual([{ instanceId: "drv-notify", event: "succeeded" }]);
  expect(notified.activityCalls[notified.activityCalls.length - 1].name).toBe("queueNotification");

  const silent: unknown[] = [];
  const plain = await driveOrchestration({ input, activities: script(silent) });
  expect(plain.callCounts.queueNotification ?? 0).toBe(0);
  expect(silent).toEqual([]);
});

test("a queueing that keeps failing does not change the outcome", async () => {
  const base = script([]);
  const failing: ActivityScript = (name, activityInput, attempt, info) => {
    if (name === "queueNotification") throw new Error("storage unavailable");
    return base(name, activityInput, attempt, info);
  };
  const result = await driveOrchestration({ input: { ...input, notify: true }, activities: failing });
  expect(result.runtimeStatus).toBe("Completed");
  expect(result.callCounts.queueNotification).toBe(3);
  expect((result.finalCustomStatus as SubmissionCustomStatus).stage).toBe("succeeded");
});

test("with publish, the signed driver is announced before publishing starts (a label can take days)", async () => {
  const queued: unknown[] = [];
  const publish = {
    policy: { destination: "anotherPartner" as const, receiverPublisherId: "27691110" },
    polling: { initialIntervalSeconds: 300, maxIntervalSeconds: 21600, backoffFactor: 2, deadlineDays: 30, metadataWaitMinutes: 240, pollsPerGeneration: 20 },
  };
  const result = await driveOrchestration({
    input: { ...input, notify: true, publish },
    activities: script(queued),
    instanceId: "drv-notify-publish",
  });
  expect(queued).toEqual([{ instanceId: "drv-notify-publish", event: "succeeded" }]);
  // The replay driver completes the publishLabel sub-orchestration like an activity (the script
  // answers it): the announcement was queued before the child was started, not after its label.
  const order = result.activityCalls.map((call) => call.name);
  expect(order).toContain("publishLabel");
  expect(order.indexOf("queueNotification")).toBeLessThan(order.indexOf("publishLabel"));
});
