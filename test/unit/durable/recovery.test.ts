jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import * as df from "durable-functions";
import type { OrchestrationContext } from "durable-functions";
import { EngineFixture, engineFixture, uniqueHub } from "./harness";

const runs = new Map<string, number>();
let releaseHungStep: (() => void) | undefined;
let hangNextSlowStep = true;

df.app.activity("step", {
  handler: async (input: unknown) => {
    runs.set(`step:${input}`, (runs.get(`step:${input}`) ?? 0) + 1);
    return `s${input}`;
  },
});
// The first call hangs until the test lets go: the "process" dies while this activity is in flight.
df.app.activity("slowStep", {
  handler: async (input: unknown) => {
    runs.set(`slow:${input}`, (runs.get(`slow:${input}`) ?? 0) + 1);
    if (hangNextSlowStep) {
      hangNextSlowStep = false;
      await new Promise<void>((resolve) => { releaseHungStep = resolve; });
    }
    return `slow${input}`;
  },
});

df.app.orchestration("crashable", function* (ctx: OrchestrationContext) {
  const a: string = yield ctx.df.callActivity("step", 1);
  const b: string = yield ctx.df.callActivity("slowStep", 2);
  const c: string = yield ctx.df.callActivity("step", 3);
  return [a, b, c];
});

df.app.orchestration("sleeper", function* (ctx: OrchestrationContext) {
  const started = ctx.df.currentUtcDateTime.getTime();
  yield ctx.df.createTimer(new Date(started + 3600_000));
  return ctx.df.currentUtcDateTime.getTime() - started;
});

df.app.orchestration("shortSleeper", function* (ctx: OrchestrationContext) {
  yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 1500));
  return "woke";
});

describe("crash and restart on the same tables", () => {
  let fixture: EngineFixture;
  beforeAll(async () => { fixture = await engineFixture(); });
  afterAll(async () => {
    releaseHungStep?.();
    await fixture.dispose();
  });

  test("a second engine resumes mid-flight instances: activities run at least once, outputs are correct", async () => {
    const hubName = uniqueHub("Crash");
    const first = await fixture.create({ hubName, virtualClock: true });
    const firstClock = first.now().getTime();
    await first.startNew("crashable", null, "crash-1");
    // Wait until step 1 is recorded and slowStep is in flight, then "kill" the process.
    const deadline = Date.now() + 20000;
    while (!releaseHungStep && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(releaseHungStep).toBeDefined();
    // The sleeper's timer cannot fire while slowStep is running (virtual clock waits for idle).
    await first.startNew("sleeper", null, "sleeper-1");
    await new Promise((r) => setTimeout(r, 200));
    expect((await first.getStatus("crash-1"))?.runtimeStatus).toBe("Running");
    first.simulateCrash();
    fixture.engines.splice(fixture.engines.indexOf(first), 1);

    const second = await fixture.create({ hubName, virtualClock: true });
    expect(second.now().getTime()).toBe(firstClock); // virtual time continues where it was
    expect((await second.getStatus("crash-1"))?.runtimeStatus).toBe("Running");
    await second.waitForIdle(30000);

    const crashed = await second.getStatus("crash-1", { showHistory: true });
    expect(crashed).toMatchObject({ runtimeStatus: "Completed", output: ["s1", "slow2", "s3"] });
    expect(runs.get("step:1")).toBe(1); // recorded before the crash: not re-run
    expect(runs.get("slow:2")).toBe(2); // in flight at the crash: run again (at least once)
    expect(runs.get("step:3")).toBe(1);
    const sleeper = await second.getStatus("sleeper-1");
    expect(sleeper).toMatchObject({ runtimeStatus: "Completed", output: 3600_000 });
    expect(second.now().getTime()).toBe(firstClock + 3600_000);

    // The late result of the dead engine's activity changes nothing.
    releaseHungStep?.();
    await new Promise((r) => setTimeout(r, 100));
    expect((await second.getStatus("crash-1"))?.output).toEqual(["s1", "slow2", "s3"]);
  });

  test("a real-clock timer is re-armed from storage after a restart", async () => {
    const hubName = uniqueHub("Real");
    const first = await fixture.create({ hubName, virtualClock: false });
    await first.startNew("shortSleeper", null, "real-sleeper");
    await first.waitForIdle(10000); // real clock: a pending timer is not "runnable"
    first.simulateCrash();
    fixture.engines.splice(fixture.engines.indexOf(first), 1);
    const second = await fixture.create({ hubName, virtualClock: false });
    const status = await second.getStatus("real-sleeper", { showHistory: true });
    expect(status?.runtimeStatus).toBe("Running");
    expect((status?.history ?? []).map((e) => (e as { EventType: string }).EventType)).toContain("TimerCreated");
    const deadline = Date.now() + 10000;
    while ((await second.getStatus("real-sleeper"))?.runtimeStatus !== "Completed" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await second.getStatus("real-sleeper"))?.output).toBe("woke");
  });
});
