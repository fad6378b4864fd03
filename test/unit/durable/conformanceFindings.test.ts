jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

/**
 * What the conformance harness (local/conformance, Microsoft's Durable Task extension 3.19.0) showed and the
 * other durable tests did not: checked here on our engine alone, so they hold without dotnet too.
 */
import * as df from "durable-functions";
import type { OrchestrationContext } from "durable-functions";
import { DurableEngine } from "../../../local/durable/engine";
import { historyView } from "../../../local/durable/statusView";
import { EventType, HistoryEvent } from "../../../local/durable/types";
import { EngineFixture, engineFixture, invokeCaptured, runToIdle } from "./harness";

df.app.activity("findingsEcho", { handler: async (input: unknown) => input });
df.app.orchestration("findingsChild", function* (ctx: OrchestrationContext) {
  return ctx.df.getInput<number>();
});
df.app.orchestration("findingsParent", function* (ctx: OrchestrationContext) {
  const a: unknown = yield ctx.df.callActivity("findingsEcho", { secretish: "input" });
  const b: unknown = yield ctx.df.callSubOrchestrator("findingsChild", 7, `${ctx.df.instanceId}-kid`);
  return [a, b];
});
df.app.orchestration("findingsGenerations", function* (ctx: OrchestrationContext) {
  const round = ctx.df.getInput<number>() ?? 0;
  yield ctx.df.callActivity("findingsEcho", round);
  if (round < 1) {
    ctx.df.continueAsNew(round + 1);
    return undefined;
  }
  return round;
});

describe("findings of the conformance harness, on our engine", () => {
  let fixture: EngineFixture;
  let engine: DurableEngine;
  const payloads = new Map<string, { history: HistoryEvent[]; isReplaying: boolean; upperSchemaVersionNew: number }>();

  beforeAll(async () => {
    fixture = await engineFixture();
    engine = await fixture.create({
      invokeOrchestrator: (name, payload) => {
        payloads.set((payload as { instanceId: string }).instanceId, JSON.parse(JSON.stringify(payload)));
        return invokeCaptured(name, payload);
      },
    });
  });
  afterAll(async () => fixture.dispose());

  test("TaskScheduled and SubOrchestrationInstanceCreated keep no input; the view shows Input null and the child's InstanceId", async () => {
    const status = await runToIdle(engine, "findingsParent", null, "findings-parent");
    expect(status.output).toEqual([{ secretish: "input" }, 7]);
    const scheduled = status.rawHistory.filter((e) => e.EventType === EventType.TaskScheduled || e.EventType === EventType.SubOrchestrationInstanceCreated);
    expect(scheduled.map((e) => [e.EventType, e.Input])).toEqual([[EventType.TaskScheduled, null], [EventType.SubOrchestrationInstanceCreated, null]]);
    const view = status.history as Record<string, unknown>[];
    expect(view.find((e) => e.EventType === "TaskCompleted")).toMatchObject({ FunctionName: "findingsEcho", Input: null });
    expect(view.find((e) => e.EventType === "SubOrchestrationInstanceCompleted")).toMatchObject({
      FunctionName: "findingsChild", InstanceId: "findings-parent-kid", Input: null,
    });
  });

  test("the trigger payload: schema V3, isReplaying with earlier episodes, IsPlayed only on delivered events", async () => {
    await runToIdle(engine, "findingsGenerations", 0, "findings-generations");
    const payload = payloads.get("findings-generations")!;
    expect(payload.upperSchemaVersionNew).toBe(3);
    expect(payload.isReplaying).toBe(true);
    // The second generation's last episode, as the extension 3.19.0 sent it: the continued OrchestratorCompleted
    // right after ExecutionStarted (played), the orchestrator's own events not played, the new completion not played.
    expect(payload.history.map((e) => [e.EventType, e.IsPlayed])).toEqual([
      [EventType.OrchestratorStarted, false], [EventType.ExecutionStarted, true], [EventType.OrchestratorCompleted, true],
      [EventType.TaskScheduled, false], [EventType.OrchestratorCompleted, false],
      [EventType.OrchestratorStarted, false], [EventType.TaskCompleted, false],
    ]);
  });

  test("historyView folds a sub-orchestration's InstanceId into its completion", () => {
    const at = "2026-01-01T00:00:00.000Z";
    const events: HistoryEvent[] = [
      { EventType: EventType.SubOrchestrationInstanceCreated, EventId: 0, Timestamp: at, IsPlayed: true, Name: "c", InstanceId: "kid", Input: null },
      { EventType: EventType.SubOrchestrationInstanceFailed, EventId: -1, Timestamp: at, IsPlayed: false, TaskScheduledId: 0, Reason: "r", Details: "d" },
    ];
    expect(historyView(events, { showHistoryOutput: true, showInput: true })).toEqual([
      { EventType: "SubOrchestrationInstanceFailed", Timestamp: "2026-01-01T00:00:00Z", Reason: "r", Details: "d", ScheduledTime: "2026-01-01T00:00:00Z", FunctionName: "c", Input: null, InstanceId: "kid" },
    ]);
  });
});
