/** The test driver itself: history shape, numbering, replay flags and the determinism check. */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import * as df from "durable-functions";
import { driveOrchestration, EventType, NonDeterminismError } from "../../support/replayDriver";

/** Module state read by the probe: deliberately impure so a test can change the code path between replays. */
const probe = { firstActivity: "one" };
df.app.orchestration("driverProbe", function* (context) {
  const first: string = yield context.df.callActivity(probe.firstActivity, { n: 1 });
  yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 30_000));
  const second: string = yield context.df.callActivity("two", "plain string");
  return `${first}+${second}`;
});

describe("replay driver", () => {
  test("numbers TaskScheduled/TimerCreated, marks replayed events, advances the virtual clock", async () => {
    const seen: Array<[string, unknown, number]> = [];
    const result = await driveOrchestration({
      orchestrator: "driverProbe",
      input: { x: 1 },
      activities: (name, input, attempt) => {
        seen.push([name, input, attempt]);
        return name.toUpperCase();
      },
    });
    expect(result.runtimeStatus).toBe("Completed");
    expect(result.output).toBe("ONE+TWO");
    expect(seen).toEqual([
      ["one", { n: 1 }, 1],
      ["two", "plain string", 1],
    ]);
    const history = result.executions[0].history;
    const scheduling = history.filter((e) => e.EventType === EventType.TaskScheduled || e.EventType === EventType.TimerCreated);
    expect(scheduling.map((e) => [e.EventType, e.EventId])).toEqual([
      [EventType.TaskScheduled, 0],
      [EventType.TimerCreated, 1],
      [EventType.TaskScheduled, 2],
    ]);
    // Everything but the last episode was played back at least once.
    const lastStart = history.map((e) => e.EventType).lastIndexOf(EventType.OrchestratorStarted);
    expect(history.slice(0, lastStart).every((e) => e.IsPlayed)).toBe(true);
    expect(history.slice(lastStart).every((e) => !e.IsPlayed)).toBe(true);
    expect(result.timers[0].fireAt).toBe("2025-01-01T00:00:31.000Z");
  });

  test("flags an orchestrator that schedules something else on replay", async () => {
    const run = driveOrchestration({
      orchestrator: "driverProbe",
      input: null,
      activities: (name) => {
        if (name === "one") probe.firstActivity = "renamed";
        return "r";
      },
    });
    await expect(run).rejects.toThrow(NonDeterminismError);
    await expect(run).rejects.toThrow(/action #0/);
    probe.firstActivity = "one";
  });
});
