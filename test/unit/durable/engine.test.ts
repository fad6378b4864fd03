jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import * as df from "durable-functions";
import type { OrchestrationContext } from "durable-functions";
import { DurableEngine } from "../../../local/durable/engine";
import { EngineFixture, engineFixture, runToIdle, scheduleNotation } from "./harness";

const DAY_MS = 24 * 3600 * 1000;
const calls = new Map<string, number>();
const count = (key: string) => calls.set(key, (calls.get(key) ?? 0) + 1).get(key) as number;

df.app.activity("upper", { handler: async (input: unknown) => { count("upper"); return String(input).toUpperCase(); } });
df.app.activity("double", { handler: async (input: unknown) => Number(input) * 2 });
df.app.activity("flaky", {
  handler: async (input: unknown) => {
    const key = `flaky:${(input as { key: string }).key}`;
    const attempt = count(key);
    if (attempt <= (input as { failures: number }).failures) throw new Error(`boom ${attempt}`);
    return `ok after ${attempt}`;
  },
});

df.app.orchestration("sequence", function* (ctx: OrchestrationContext) {
  const a: string = yield ctx.df.callActivity("upper", "a");
  ctx.df.setCustomStatus({ step: 1 });
  const b: string = yield ctx.df.callActivity("upper", "b");
  ctx.df.setCustomStatus({ step: 2 });
  return `${a}${b}${ctx.df.getInput<string>()}`;
});

df.app.orchestration("fanOut", function* (ctx: OrchestrationContext) {
  const tasks = [1, 2, 3, 4, 5].map((n) => ctx.df.callActivity("double", n));
  const results: number[] = yield ctx.df.Task.all(tasks);
  return results;
});

df.app.orchestration("raceActivityVsTimer", function* (ctx: OrchestrationContext) {
  const started = ctx.df.currentUtcDateTime;
  const timer = ctx.df.createTimer(new Date(started.getTime() + 3600_000));
  const work = ctx.df.callActivity("upper", "race");
  const winner = yield ctx.df.Task.any([work, timer]);
  if (winner === work) timer.cancel();
  return { winner: winner === work ? "activity" : "timer", result: work.result, elapsedMs: ctx.df.currentUtcDateTime.getTime() - started.getTime() };
});

df.app.orchestration("retrying", function* (ctx: OrchestrationContext) {
  const retry = new df.RetryOptions(1000, 3);
  retry.backoffCoefficient = 2;
  const started = ctx.df.currentUtcDateTime.getTime();
  try {
    const result: string = yield ctx.df.callActivityWithRetry("flaky", retry, ctx.df.getInput());
    return { result, waitedMs: ctx.df.currentUtcDateTime.getTime() - started };
  } catch (error) {
    return { error: (error as Error).message, waitedMs: ctx.df.currentUtcDateTime.getTime() - started };
  }
});

df.app.orchestration("longTimer", function* (ctx: OrchestrationContext) {
  const started = ctx.df.currentUtcDateTime;
  yield ctx.df.createTimer(new Date(started.getTime() + 10 * DAY_MS));
  return ctx.df.currentUtcDateTime.getTime() - started.getTime();
});

df.app.orchestration("generations", function* (ctx: OrchestrationContext) {
  const state = ctx.df.getInput<{ n: number; seen: number[] }>();
  const doubled: number = yield ctx.df.callActivity("double", state.n);
  const seen = [...state.seen, doubled];
  if (state.n >= 5) return seen;
  ctx.df.continueAsNew({ n: state.n + 1, seen });
  return undefined;
});

df.app.orchestration("approval", function* (ctx: OrchestrationContext) {
  const prefix: string = yield ctx.df.callActivity("upper", "x");
  const approval: { by: string } = yield ctx.df.waitForExternalEvent("approve");
  return `${prefix}:${approval.by}`;
});

df.app.orchestration("child", function* (ctx: OrchestrationContext) {
  const input = ctx.df.getInput<{ n: number; fail?: boolean }>();
  if (input.fail) throw new Error(`child ${input.n} refused`);
  const doubled: number = yield ctx.df.callActivity("double", input.n);
  return { parent: ctx.df.parentInstanceId, doubled };
});

df.app.orchestration("parent", function* (ctx: OrchestrationContext) {
  const ok: unknown = yield ctx.df.callSubOrchestrator("child", { n: 21 });
  let failure = "";
  try {
    yield ctx.df.callSubOrchestrator("child", { n: 1, fail: true }, `${ctx.df.instanceId}-failing-child`);
  } catch (error) {
    failure = (error as Error).message;
  }
  return { ok, failure };
});

df.app.orchestration("usesHttp", function* (ctx: OrchestrationContext) {
  yield ctx.df.callHttp({ method: "GET", url: "http://127.0.0.1:9/nothing" });
  return "unreachable";
});

let useNewCode = false;
df.app.orchestration("evolving", function* (ctx: OrchestrationContext) {
  yield ctx.df.callActivity(useNewCode ? "double" : "upper", 1);
  yield ctx.df.waitForExternalEvent("go");
  return "done";
});

describe("DurableEngine with the real durable-functions replay engine", () => {
  let fixture: EngineFixture;
  let engine: DurableEngine;
  const clockAdvances: Date[] = [];

  beforeAll(async () => {
    fixture = await engineFixture();
    engine = await fixture.create({ onClockAdvance: (now) => { clockAdvances.push(now); } });
  });
  afterAll(async () => fixture.dispose());

  test("runs a sequence of activities to its output, with custom status and DTFx history", async () => {
    const status = await runToIdle(engine, "sequence", "!");
    expect(status.runtimeStatus).toBe("Completed");
    expect(status.output).toBe("AB!");
    expect(status.customStatus).toEqual({ step: 2 });
    expect(status.input).toBe("!");
    expect(scheduleNotation(status.rawHistory)).toEqual(["4#0", "5@0", "4#1", "5@1"]);
    expect(Date.parse(status.lastUpdatedTime)).toBeGreaterThanOrEqual(Date.parse(status.createdTime));
  });

  test("fans out with Task.all and fans in every result in order", async () => {
    const status = await runToIdle(engine, "fanOut");
    expect(status.output).toEqual([2, 4, 6, 8, 10]);
    expect(scheduleNotation(status.rawHistory).filter((e) => e.startsWith("4#"))).toEqual(["4#0", "4#1", "4#2", "4#3", "4#4"]);
  });

  test("Task.any: the activity beats a one-hour timer, the canceled timer is dropped and time does not jump", async () => {
    const before = engine.now().getTime();
    const status = await runToIdle(engine, "raceActivityVsTimer");
    expect(status.output).toEqual({ winner: "activity", result: "RACE", elapsedMs: 0 });
    expect(engine.now().getTime()).toBe(before);
    expect(scheduleNotation(status.rawHistory)).toEqual(["4#0", "10#1", "5@0"]); // Task.any children in array order
  });

  test("callActivityWithRetry: failures then success, numbered like the extension (reference 3.5)", async () => {
    const status = await runToIdle(engine, "retrying", { key: "twice", failures: 2 });
    expect(status.output).toEqual({ result: "ok after 3", waitedMs: 1000 + 2000 });
    expect(scheduleNotation(status.rawHistory)).toEqual(["4#0", "6@0", "10#1", "11@1", "4#2", "6@2", "10#3", "11@3", "4#4", "5@4"]);
  });

  // The conformance harness showed DTFx's RetryInterceptor: after the last attempt a "dummy timer for back-compat"
  // due at once, not the next backoff delay (this expected 1000 + 2000 + 4000 before).
  test("callActivityWithRetry: after the last attempt a timer due at once, then the error is catchable", async () => {
    const status = await runToIdle(engine, "retrying", { key: "always", failures: 99 });
    const output = status.output as { error: string; waitedMs: number };
    expect(output.error).toMatch(/^Activity function 'flaky' failed: boom 3 \n \{"\$type":"System\.Exception, System\.Private\.CoreLib"/);
    expect(output.waitedMs).toBe(1000 + 2000);
    const timers = status.rawHistory.filter((e) => e.EventType === 10);
    expect(Date.parse(timers[2].FireAt as string)).toBe(Date.parse(timers[2].Timestamp));
    expect(scheduleNotation(status.rawHistory)).toEqual(
      ["4#0", "6@0", "10#1", "11@1", "4#2", "6@2", "10#3", "11@3", "4#4", "6@4", "10#5", "11@5"]);
  });

  test("a 10-day timer completes at once on the virtual clock; currentUtcDateTime advances exactly 10 days", async () => {
    const before = engine.now().getTime();
    const started = Date.now();
    const status = await runToIdle(engine, "longTimer");
    expect(status.output).toBe(10 * DAY_MS);
    expect(Date.now() - started).toBeLessThan(10000);
    expect(engine.now().getTime() - before).toBe(10 * DAY_MS);
    expect(clockAdvances.map((d) => d.getTime())).toContain(engine.now().getTime());
    // Chunked like the extension's long-timer loop (6-day maximum, 3-day intervals): +3, +6, +9, then the final +10 days.
    expect(scheduleNotation(status.rawHistory)).toEqual(["10#0", "11@0", "10#1", "11@1", "10#2", "11@2", "10#3", "11@3"]);
  });

  test("continueAsNew runs N generations with a fresh history each time", async () => {
    const status = await runToIdle(engine, "generations", { n: 1, seen: [] });
    expect(status.runtimeStatus).toBe("Completed");
    expect(status.output).toEqual([2, 4, 6, 8, 10]);
    expect(status.input).toEqual({ n: 5, seen: [2, 4, 6, 8] });
    expect(scheduleNotation(status.rawHistory)).toEqual(["4#0", "5@0"]); // only the last generation's history
  });

  test("an external event raised before the orchestrator waits is buffered", async () => {
    const id = await engine.startNew("approval", null);
    expect(await engine.raiseEvent(id, "approve", { by: "early" })).toBe(true);
    await engine.waitForIdle(30000);
    expect((await engine.getStatus(id))?.output).toBe("X:early");
  });

  test("an external event raised while the orchestrator waits resumes it", async () => {
    const id = await engine.startNew("approval", null);
    await engine.waitForIdle(30000);
    expect((await engine.getStatus(id))?.runtimeStatus).toBe("Running");
    await engine.raiseEvent(id, "approve", { by: "late" });
    await engine.waitForIdle(30000);
    expect((await engine.getStatus(id))?.output).toBe("X:late");
    expect(await engine.raiseEvent("no-such-instance", "approve", {})).toBe(false);
  });

  test("sub-orchestrations: output flows back; a failing child surfaces as a catchable error", async () => {
    const status = await runToIdle(engine, "parent", null, "parent-1");
    const output = status.output as { ok: unknown; failure: string };
    expect(output.ok).toEqual({ parent: "parent-1", doubled: 42 });
    expect(output.failure).toContain("child 1 refused");
    // DTFx names a child started without an id "<parent ExecutionId>:<sequence id>".
    const created = status.rawHistory.find((e) => e.EventType === 7);
    expect(created?.InstanceId).toMatch(/^[0-9a-f]{32}:0$/);
    expect((await engine.getStatus(created?.InstanceId as string))?.runtimeStatus).toBe("Completed");
    expect((await engine.getStatus("parent-1-failing-child"))?.runtimeStatus).toBe("Failed");
  });

  test("callHttp is reported as unsupported instead of hanging", async () => {
    const status = await runToIdle(engine, "usesHttp");
    expect(status.runtimeStatus).toBe("Failed");
    expect(String(status.output)).toMatch(/CallHttp .*not supported by the local runtime/);
  });

  test("a changed orchestrator is reported as non-deterministic on its next replay", async () => {
    useNewCode = false;
    const id = await engine.startNew("evolving", null);
    await engine.waitForIdle(30000);
    useNewCode = true; // deploy "new code" while the instance waits
    await engine.raiseEvent(id, "go", null);
    await engine.waitForIdle(30000);
    const status = await engine.getStatus(id);
    expect(status?.runtimeStatus).toBe("Failed");
    expect(String(status?.output)).toBe(
      "Non-deterministic orchestrator: action #0 was CallActivity 'upper' in the recorded history, but the orchestrator now issued CallActivity 'double'");
  });

  test("startNew refuses a running instance id, overwrites a finished one; terminate and purge", async () => {
    const id = await engine.startNew("approval", null, "fixed-id");
    await engine.waitForIdle(30000);
    await expect(engine.startNew("approval", null, "fixed-id")).rejects.toThrow(/already exists/);
    expect(await engine.terminate(id, "stop it")).toBe(true);
    await engine.waitForIdle(30000);
    const terminated = await engine.getStatus(id);
    expect(terminated).toMatchObject({ runtimeStatus: "Terminated", output: "stop it" });
    await engine.startNew("sequence", "?", "fixed-id");
    await engine.waitForIdle(30000);
    expect((await engine.getStatus("fixed-id"))?.output).toBe("AB?");
    expect(await engine.purge("fixed-id")).toBe(true);
    expect(await engine.getStatus("fixed-id")).toBeUndefined();
  });

  test("list filters by runtime status and creation time; purgeBy removes matches", async () => {
    const completed = await engine.list({ runtimeStatus: ["Completed"] });
    expect(completed.length).toBeGreaterThan(3);
    expect(completed.every((s) => s.runtimeStatus === "Completed")).toBe(true);
    expect(await engine.list({ createdTimeFrom: new Date(engine.now().getTime() + 1) })).toEqual([]);
    const failedCount = (await engine.list({ runtimeStatus: ["Failed"] })).length;
    expect(await engine.purgeBy({ runtimeStatus: ["Failed"] })).toBe(failedCount);
    expect(await engine.list({ runtimeStatus: ["Failed"] })).toEqual([]);
  });

  test("200 concurrent orchestrations all complete", async () => {
    const started = Date.now();
    const ids = await Promise.all(Array.from({ length: 200 }, (_, i) => engine.startNew("sequence", String(i), `bulk-${i}`)));
    await engine.waitForIdle(90000);
    const statuses = await Promise.all(ids.map((id) => engine.getStatus(id)));
    expect(statuses.every((s, i) => s?.runtimeStatus === "Completed" && s.output === `AB${i}`)).toBe(true);
    expect(Date.now() - started).toBeLessThan(90000);
  });
});
