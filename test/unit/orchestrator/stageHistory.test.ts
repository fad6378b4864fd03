/**
 * stageHistory through the real durable-functions replay engine: one entry per stage change with
 * orchestration (virtual clock) times, the same list on every replay, and carried across
 * continueAsNew so the first stages are not lost when polling moves to a new generation.
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import type { SubmitDriverInput } from "../../../src/activities/contract";
import type { NormalizedSubmissionStatus, SubmissionCustomStatus } from "../../../src/domain/types";
import "../../../src/orchestrators/submitDriver";
import { driveOrchestration } from "../../support/replayDriver";
import { signingRun, submitDriverInput } from "../../support/submitDriverScript";

const input = submitDriverInput();

const status = (progress: NormalizedSubmissionStatus["progress"], hasSignedPackage: boolean): NormalizedSubmissionStatus => ({
  progress,
  commitStatus: "commitComplete",
  currentStep: hasSignedPackage ? "finalizeIngestion" : "scanning",
  state: hasSignedPackage ? "completed" : "started",
  messages: [],
  hasSignedPackage,
  hasDriverMetadata: false,
});

const activities = signingRun((poll) => (poll >= 8 ? status("succeeded", true) : status("processing", false)));

test("stageHistory survives continueAsNew, in order, with virtual-clock times", async () => {
  const startTime = new Date("2026-01-01T00:00:00Z");
  const result = await driveOrchestration({ input, activities, startTime });
  expect(result.runtimeStatus).toBe("Completed");
  expect(result.executions.length).toBeGreaterThan(2); // polling moved to new generations

  const final = result.finalCustomStatus as SubmissionCustomStatus;
  const history = final.stageHistory!;
  expect(history.map((entry) => entry.stage)).toEqual([
    "queued",
    "authenticating",
    "creatingProduct",
    "creatingSubmission",
    "uploading",
    "committing",
    "waitingForMicrosoft",
    "downloadingSignedPackage",
    "succeeded",
  ]);
  const times = history.map((entry) => Date.parse(entry.at));
  expect(times[0]).toBe(startTime.getTime());
  for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1]);
  // Waiting lasted the polling timers (virtual minutes), not wall-clock milliseconds.
  expect(times[7] - times[6]).toBeGreaterThan(10 * 60 * 1000);

  // Every custom status published is a prefix-extension of the previous one: replays never rewrote it.
  const published = result.customStatuses.map((s: SubmissionCustomStatus) => s.stageHistory ?? []);
  for (let i = 1; i < published.length; i++) expect(published[i].slice(0, published[i - 1].length)).toEqual(published[i - 1]);
  // And the carry handed to the later generations held the history so far.
  const carried = (result.executions[1].input as SubmitDriverInput).carry?.stageHistory?.map((entry) => entry.stage);
  expect(carried).toEqual(["queued", "authenticating", "creatingProduct", "creatingSubmission", "uploading", "committing", "waitingForMicrosoft"]);
});
