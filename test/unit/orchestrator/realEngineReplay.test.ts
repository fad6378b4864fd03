/**
 * Histories recorded from Microsoft's Durable Task extension (3.19.0, the conformance harness's real engine) replay
 * under the current code (issue 39): test/fixtures/real-engine holds the app's orchestrations as the extension
 * stored them, recorded by `npm run record:replay-fixtures` from a run against the local stack's emulators:
 * submitDriver from a dropped package to the signed package (polls on durable timers while Microsoft processes),
 * submitDriver with a publish policy (its publishLabel sub-orchestration), and that publishLabel child through the
 * label's phases to shared (another partner's label).  Each episode the extension ran is given to the current code with the history it had
 * then; the code must issue the recorded actions in order and, at the end, the recorded output and custom status.
 * They stand for instances in flight when the next version is deployed (rule: src/orchestrators/versions.ts).
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import "../../../src/orchestrators/submitDriver";
import "../../../src/orchestrators/publishLabel";
import { labelInstanceId } from "../../../src/domain/instanceId";
import { episodesOf, replayRecorded, type RecordedPayload } from "../../support/realEngineReplay";
import { EventType, type HistoryEvent } from "../../support/replayDriver";

const FIXTURES = join(__dirname, "../../fixtures/real-engine");

interface RealFixture {
  orchestrator: string;
  instanceId: string;
  recordedWith: { engine: string; extensionVersion: string; commit: string };
  payload: RecordedPayload;
  final: { runtimeStatus: string; output: unknown; customStatus: unknown };
}

const load = (file: string): RealFixture => JSON.parse(readFileSync(join(FIXTURES, file), "utf8")) as RealFixture;
const names = (history: HistoryEvent[], type: number) => history.filter((e) => e.EventType === type).map((e) => e.Name);
/**
 * The extension reads an instance's output and custom status back as JSON with .NET date parsing, so the status
 * writes an instant without trailing zeros ("…35.14Z" for the orchestrator's "…35.140Z"): compare instants as instants.
 */
const instants = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value), (_key, v: unknown) => (typeof v === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(v) ? new Date(v).toISOString() : v));
const FILES = ["publishLabel-shared.json", "submitDriver-signed.json", "submitDriver-with-label.json"];

describe("histories recorded from the real Durable Task extension replay under the current code", () => {
  test("the fixtures are there, recorded from the extension, complete and as the extension stores them", () => {
    expect(readdirSync(FIXTURES).filter((f) => f.endsWith(".json")).sort()).toEqual(FILES);
    for (const file of FILES) {
      const fixture = load(file);
      expect(fixture.recordedWith).toMatchObject({ engine: "Microsoft.Azure.WebJobs.Extensions.DurableTask", extensionVersion: "3.19.0" });
      expect(fixture.final.runtimeStatus).toBe("Completed");
      // The extension's own shape: no activity input stored, .NET's 7-digit instants, its upper schema version.
      const scheduled = fixture.payload.history.filter((e) => e.EventType === EventType.TaskScheduled);
      expect(scheduled.length).toBeGreaterThan(2);
      expect(scheduled.every((e) => e.Input === null)).toBe(true);
      expect(fixture.payload.history[0].Timestamp).toMatch(/\.\d{5,7}Z$/);
      expect(fixture.payload.upperSchemaVersionNew).toBe(3);
      // Nothing secret in a stored history (the recorder refuses it too).
      expect(JSON.stringify(fixture)).not.toMatch(/[?&]sig=|Bearer\s+ey|AccountKey=|client_secret/i);
    }
  });

  test("submitDriver drop → signed: every action of every episode, polls on durable timers included, replays; same output and custom status", async () => {
    const fixture = load("submitDriver-signed.json");
    const activities = names(fixture.payload.history, EventType.TaskScheduled);
    const polls = activities.filter((n) => n === "getSubmissionStatus").length;
    // Microsoft's processing took several polls in the recorded run (the emulator's steps took wall-clock time).
    expect(polls).toBeGreaterThanOrEqual(2);
    expect(activities).toEqual([
      "preflightPackage", "authenticate", "createProduct", "createSubmission", "copyPackage", "commitSubmission",
      ...Array(polls).fill("getSubmissionStatus"),
      "downloadSignedPackage", "verifySignedPackage", "writeResultManifest",
    ]);
    const result = await replayRecorded(fixture.orchestrator, fixture.payload);
    expect(result).toMatchObject({ episodes: episodesOf(fixture.payload.history).length, actions: activities.length + polls, isDone: true, error: undefined });
    expect(instants(result.output)).toEqual(instants(fixture.final.output));
    expect(instants(result.customStatus)).toEqual(instants(fixture.final.customStatus));
    expect(result.output).toMatchObject({ outcome: "succeeded", instanceId: fixture.instanceId, pollCount: polls });
  });

  test("submitDriver with a publish policy: the publishLabel sub-orchestration is issued with the recorded instance id", async () => {
    const fixture = load("submitDriver-with-label.json");
    const created = fixture.payload.history.filter((e) => e.EventType === 7);
    expect(created.map((e) => [e.Name, e.InstanceId])).toEqual([["publishLabel", labelInstanceId(fixture.instanceId, 1)]]);
    const result = await replayRecorded(fixture.orchestrator, fixture.payload);
    expect(result.isDone).toBe(true);
    expect(instants(result.output)).toEqual(instants(fixture.final.output));
    expect(instants(result.customStatus)).toEqual(instants(fixture.final.customStatus));
    expect(result.output).toMatchObject({ outcome: "succeeded", label: expect.objectContaining({ instanceId: labelInstanceId(fixture.instanceId, 1) }) });
  });

  test("publishLabel through the label's phases to shared (another partner) replays; same output and custom status", async () => {
    const fixture = load("publishLabel-shared.json");
    expect(fixture.payload.parentInstanceId).toBe("replay-publish");
    expect(names(fixture.payload.history, EventType.TaskScheduled).filter((n) => n === "getShippingLabelStatus").length).toBeGreaterThanOrEqual(2);
    const result = await replayRecorded(fixture.orchestrator, fixture.payload);
    expect(result.isDone).toBe(true);
    expect(instants(result.output)).toEqual(instants(fixture.final.output));
    expect(instants(result.customStatus)).toEqual(instants(fixture.final.customStatus));
    expect(result.output).toMatchObject({ phase: "shared", destination: "anotherPartner" });
  });
});

describe("the replay check is real", () => {
  const fixture = load("submitDriver-signed.json");
  const tamper = (change: (e: HistoryEvent) => HistoryEvent): RecordedPayload => ({ ...fixture.payload, history: fixture.payload.history.map((e) => change({ ...e })) });

  test("a recorded activity the code no longer issues at that point fails the replay", async () => {
    const renamed = tamper((e) => (e.EventType === EventType.TaskScheduled && e.Name === "copyPackage" ? { ...e, Name: "copyPackageV0" } : e));
    await expect(replayRecorded(fixture.orchestrator, renamed)).rejects.toThrow(/episode 5: action #4 was activity 'copyPackageV0' in the recorded history, but the code now issues CallActivity 'copyPackage'/);
  });

  test("a poll timer recorded at another fire time fails the replay", async () => {
    let first = true;
    const moved = tamper((e) => {
      if (e.EventType !== EventType.TimerCreated || !first) return e;
      first = false;
      return { ...e, FireAt: new Date(new Date(e.FireAt as string).getTime() + 1000).toISOString() };
    });
    await expect(replayRecorded(fixture.orchestrator, moved)).rejects.toThrow(/action #6 was a timer firing at .* but the code now issues a timer firing at/);
  });

  test("a recorded activity the code would not issue (an extra step in the old version) fails the replay", async () => {
    const history = fixture.payload.history;
    const at = history.findIndex((e) => e.EventType === EventType.TaskScheduled && e.Name === "verifySignedPackage");
    const extra = { ...history[at], Name: "scanSignedPackage" };
    const withExtra = { ...fixture.payload, history: [...history.slice(0, at + 1), extra, ...history.slice(at + 1)] };
    await expect(replayRecorded(fixture.orchestrator, withExtra)).rejects.toThrow(/action #\d+ was activity 'scanSignedPackage' in the recorded history, but the code now issues nothing/);
  });
});
