jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

/**
 * The local engine against the Durable extension's own rules (azure-functions-durable-extension + DurableTask.Core
 * source): failure text, the custom status size check, sub-orchestration ids and long-timer chunks.
 */
import * as df from "durable-functions";
import type { OrchestrationContext } from "durable-functions";
import { DurableEngine } from "../../../local/durable/engine";
import { buildPayload } from "../../../local/durable/episode";
import { activityFailure, customStatusSizeError, friendlyMessage, orchestratorFailure } from "../../../local/durable/failures";
import { EventType, HistoryEvent } from "../../../local/durable/types";
import { EngineFixture, engineFixture, runToIdle } from "./harness";

const DAY_MS = 24 * 3600 * 1000;

df.app.activity("throwing", { handler: async (message: unknown) => { throw new Error(String(message)); } });
df.app.activity("echo", { handler: async (input: unknown) => input });

df.app.orchestration("catchesActivityFailure", function* (ctx: OrchestrationContext) {
  try {
    yield ctx.df.callActivity("throwing", ctx.df.getInput<string>());
    return "no error";
  } catch (error) {
    return { message: (error as Error).message };
  }
});

df.app.orchestration("throwsItself", function* () {
  throw new Error("kaput");
});

df.app.orchestration("failingChild", function* (ctx: OrchestrationContext) {
  throw new Error(`child ${ctx.df.getInput<number>()} refused`);
});

df.app.orchestration("twoChildren", function* (ctx: OrchestrationContext) {
  yield ctx.df.callActivity("echo", 1);
  const results: unknown[] = [];
  for (const n of [1, 2]) {
    try {
      results.push(yield ctx.df.callSubOrchestrator("failingChild", n));
    } catch (error) {
      results.push((error as Error).message);
    }
  }
  return results;
});

/** Sets a custom status of `chars` characters of JSON, then schedules an activity. */
df.app.orchestration("customStatusOfSize", function* (ctx: OrchestrationContext) {
  const { chars, thenThrow } = ctx.df.getInput<{ chars: number; thenThrow?: boolean }>();
  ctx.df.setCustomStatus("x".repeat(chars - 2)); // JSON adds the two quotes
  if (thenThrow) throw new Error("and then it threw");
  yield ctx.df.callActivity("echo", "after status");
  return "done";
});

df.app.orchestration("bigStatusParent", function* (ctx: OrchestrationContext) {
  try {
    yield ctx.df.callSubOrchestrator("customStatusOfSize", { chars: 8704 });
    return "no error";
  } catch (error) {
    return (error as Error).message;
  }
});

df.app.orchestration("timerOfDays", function* (ctx: OrchestrationContext) {
  const started = ctx.df.currentUtcDateTime.getTime();
  yield ctx.df.createTimer(new Date(started + ctx.df.getInput<number>() * DAY_MS));
  return ctx.df.currentUtcDateTime.getTime() - started;
});

df.app.orchestration("longTimerOrEvent", function* (ctx: OrchestrationContext) {
  const timer = ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 30 * DAY_MS));
  const event = ctx.df.waitForExternalEvent("stop");
  const winner = yield ctx.df.Task.any([timer, event]);
  if (winner === event) timer.cancel();
  return winner === event ? "stopped" : "timed out";
});

const ofType = (history: HistoryEvent[], type: EventType) => history.filter((e) => e.EventType === type);

describe("failure text as the extension writes it", () => {
  // The extension 3.16.2+ reads the host RpcException's RemoteMessage: one space after "failed:" (the conformance
  // harness shows it on 3.19.0; this expected the older two-space parse before).
  test("a JS activity error: Reason carries the worker's message (RemoteMessage), Details is the serialized cause", () => {
    const error = new Error("[terminal] boom");
    const { reason, details } = activityFailure("act", error);
    expect(reason).toBe("Activity function 'act' failed: [terminal] boom");
    const cause = JSON.parse(details);
    expect(cause).toMatchObject({
      $type: "System.Exception, System.Private.CoreLib", ClassName: "System.Exception", Message: "[terminal] boom", Data: null,
      HResult: -2146233088, InnerException: {
        $type: "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, Microsoft.Azure.WebJobs.Script",
        RemoteMessage: "[terminal] boom", RemoteStackTrace: error.stack,
        Message: `Result: Failure\nException: [terminal] boom\nStack: ${error.stack}`,
      },
    });
    expect(details).not.toContain("\n"); // JSON escapes newlines: the orchestrator can split at the last " \n "
  });

  test("the older friendly-message parse is cut at \\nStack: and $OutOfProcData$; activity failures keep the whole message", () => {
    expect(friendlyMessage("Result: Failure\nException: a\nStack: b\nStack: c")).toBe(" a");
    expect(friendlyMessage("Result: Failure\nException: x\n\n$OutOfProcData$:{}\nStack: s")).toBe(" x");
    expect(friendlyMessage("no rpc exception")).toBeUndefined();
    expect(activityFailure("act", new Error("one\nStack: two")).reason).toBe("Activity function 'act' failed: one\nStack: two");
    expect(activityFailure("act", "plain string").reason).toBe("Activity function 'act' failed: plain string");
    expect(orchestratorFailure("orch", "x")).toEqual({
      reason: "Orchestrator function 'orch' failed: x",
      // The extension 3.19.0's frames, as the conformance harness saw them (this expected only the shim's frame before).
      details: expect.stringMatching(/^Message: x, StackTrace: {4}at System\.Threading\.Tasks\.Task\.ThrowIfExceptional\([\s\S]*\n {3}at Microsoft\.Azure\.WebJobs\.Extensions\.DurableTask\.TaskOrchestrationShim\.InvokeUserCodeAndHandleResults\(.*:line 148$/),
    });
  });

  test("the custom status limit: UTF-16 size truncated to whole KB must not exceed 16", () => {
    expect(customStatusSizeError("x".repeat(8703 - 2))).toBeUndefined(); // 17,406 bytes = 16.99 KB → 16
    expect(customStatusSizeError("x".repeat(8704 - 2))).toBe(
      "The UTF-16 size of the JSON-serialized payload must not exceed 16 KB. The current payload size is 17 KB.");
    expect(customStatusSizeError({ big: "é".repeat(600_000) })).toMatch(/The current payload size is 1,171 KB\.$/);
    expect(customStatusSizeError(null)).toBeUndefined();
  });
});

describe("DurableEngine behaves like the extension", () => {
  let fixture: EngineFixture;
  let engine: DurableEngine;

  beforeAll(async () => {
    fixture = await engineFixture();
    engine = await fixture.create();
  });
  afterAll(async () => fixture.dispose());

  test("an activity's error reaches the orchestrator as `${Reason} \\n ${Details}` and TaskFailed carries both", async () => {
    const status = await runToIdle(engine, "catchesActivityFailure", "[terminal] boom");
    const [failed] = ofType(status.rawHistory, EventType.TaskFailed);
    expect(failed.Reason).toBe("Activity function 'throwing' failed: [terminal] boom");
    expect(JSON.parse(failed.Details as string).InnerException.RemoteMessage).toBe("[terminal] boom");
    const message = (status.output as { message: string }).message;
    expect(message).toBe(`${failed.Reason} \n ${failed.Details}`);
    expect(message.startsWith("Activity function 'throwing' failed: [terminal] boom \n {\"$type\":\"System.Exception")).toBe(true);
  });

  test("an orchestrator that throws fails with \"Orchestrator function '<name>' failed: <message>\"", async () => {
    const status = await runToIdle(engine, "throwsItself");
    expect(status.runtimeStatus).toBe("Failed");
    expect(status.output).toBe("Orchestrator function 'throwsItself' failed: kaput");
    const [completed] = ofType(status.rawHistory, EventType.ExecutionCompleted);
    expect(completed).toMatchObject({ OrchestrationStatus: "Failed", Result: "Orchestrator function 'throwsItself' failed: kaput" });
    // DTFx order: the execution completes inside the episode, OrchestratorCompleted closes it.
    expect(status.rawHistory.map((e) => e.EventType).slice(-2)).toEqual([EventType.ExecutionCompleted, EventType.OrchestratorCompleted]);
  });

  test("sub-orchestrations: ids are <parent ExecutionId>:<sequence id>; a failure arrives as the child's reason and details", async () => {
    const status = await runToIdle(engine, "twoChildren", null, "parity-parent");
    const created = ofType(status.rawHistory, EventType.SubOrchestrationInstanceCreated);
    expect(created.map((e) => e.EventId)).toEqual([1, 2]);
    const [first, second] = created.map((e) => e.InstanceId as string);
    expect(first).toMatch(/^[0-9a-f]{32}:1$/);
    expect(second).toBe(first.replace(/:1$/, ":2")); // same execution, next sequence id
    expect(first.startsWith("parity-parent")).toBe(false);

    const child = await engine.getStatus(first);
    expect(child?.output).toBe("Orchestrator function 'failingChild' failed: child 1 refused");
    const [failed] = ofType(status.rawHistory, EventType.SubOrchestrationInstanceFailed);
    expect(failed.Reason).toBe("Orchestrator function 'failingChild' failed: child 1 refused");
    expect(failed.Details).toMatch(/^Message: child 1 refused, StackTrace: {4}at /);
    expect((status.output as string[])[0]).toBe(`${failed.Reason} \n ${failed.Details}`);
  });

  test("a new execution under the same instance id gets a new ExecutionId, so its children get new ids", async () => {
    // Two runs of the same parent id: each execution has its own ExecutionId.
    const a = await runToIdle(engine, "twoChildren", null, "parity-rerun");
    const b = await runToIdle(engine, "twoChildren", null, "parity-rerun");
    const idOf = (h: HistoryEvent[]) => ofType(h, EventType.SubOrchestrationInstanceCreated)[0].InstanceId;
    expect(idOf(a.rawHistory)).not.toBe(idOf(b.rawHistory));
  });

  test("a custom status over 16 KB fails the orchestration before its actions are scheduled", async () => {
    const status = await runToIdle(engine, "customStatusOfSize", { chars: 8704 });
    expect(status.runtimeStatus).toBe("Failed");
    expect(status.output).toBe(
      "Orchestrator function 'customStatusOfSize' failed: The UTF-16 size of the JSON-serialized payload must not exceed 16 KB. " +
      "The current payload size is 17 KB.");
    expect(status.customStatus).toBeNull();
    expect(ofType(status.rawHistory, EventType.TaskScheduled)).toEqual([]);
  });

  test("a parent sees the refused custom status as the child's failure with the serialized ArgumentException", async () => {
    const status = await runToIdle(engine, "bigStatusParent");
    const [failed] = ofType(status.rawHistory, EventType.SubOrchestrationInstanceFailed);
    const message = "The UTF-16 size of the JSON-serialized payload must not exceed 16 KB. The current payload size is 17 KB.";
    expect(failed.Reason).toBe(`Orchestrator function 'customStatusOfSize' failed: ${message}`);
    expect(JSON.parse(failed.Details as string)).toMatchObject({ ClassName: "System.ArgumentException", Message: message });
    expect(status.output).toBe(`${failed.Reason} \n ${failed.Details}`);
  });

  test("a custom status just under the limit is kept", async () => {
    const status = await runToIdle(engine, "customStatusOfSize", { chars: 8703 });
    expect(status.runtimeStatus).toBe("Completed");
    expect((status.customStatus as string).length).toBe(8701);
  });

  test("oversized custom status on an orchestrator that also threw: the bare ArgumentException message", async () => {
    const status = await runToIdle(engine, "customStatusOfSize", { chars: 9000, thenThrow: true });
    expect(status.output).toBe("The UTF-16 size of the JSON-serialized payload must not exceed 16 KB. The current payload size is 17 KB.");
  });

  // upperSchemaVersionNew was 2 here; the conformance harness showed the extension 3.19.0 sends 3.
  test("the orchestration trigger payload carries the Azure Storage timer limits as TimeSpans and replay schema V3", () => {
    const payload = buildPayload({ instanceId: "i", input: null, playedHistory: [], newEvents: [] }) as Record<string, unknown>;
    expect(payload).toMatchObject({
      maximumShortTimerDuration: "6.00:00:00", longRunningTimerIntervalDuration: "3.00:00:00", upperSchemaVersion: 1, upperSchemaVersionNew: 3,
      isReplaying: false,
    });
  });

  test.each([
    [10, [3, 6, 9, 10]],
    [7, [3, 6, 7]],
    [6, [6]],
  ])("a %i-day timer is created as the extension's chunks at %j days", async (days, chunkDays) => {
    const status = await runToIdle(engine, "timerOfDays", days);
    expect(status.output).toBe(days * DAY_MS);
    const started = Date.parse(ofType(status.rawHistory, EventType.ExecutionStarted)[0].Timestamp);
    const created = ofType(status.rawHistory, EventType.TimerCreated);
    expect(created.map((e) => (Date.parse(e.FireAt as string) - started) / DAY_MS)).toEqual(chunkDays);
    expect(created.map((e) => e.EventId)).toEqual(chunkDays.map((_, i) => i));
    expect(ofType(status.rawHistory, EventType.TimerFired).map((e) => e.TimerId)).toEqual(chunkDays.map((_, i) => i));
  });

  test("a canceled long timer stops its chain of chunks", async () => {
    const id = await engine.startNew("longTimerOrEvent", null);
    await engine.raiseEvent(id, "stop", null);
    await engine.waitForIdle(30000);
    const status = await engine.getStatus(id);
    expect(status?.output).toBe("stopped");
    const history = await engine.getHistory(id);
    expect(ofType(history, EventType.TimerCreated)).toHaveLength(1);
    expect(ofType(history, EventType.TimerFired)).toHaveLength(0);
  });
});
