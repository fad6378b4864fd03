jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

/** The orchestrator-test replay driver writes failures and enforces the custom status limit like the extension. */
import * as df from "durable-functions";
import { activityFailure } from "../../../local/durable/failures";
import { driveOrchestration, EventType } from "../../support/replayDriver";

df.app.orchestration("driverCatches", function* (context) {
  try {
    yield context.df.callActivity("fails", null);
    return "no error";
  } catch (error) {
    return (error as Error).message;
  }
});

df.app.orchestration("driverBigStatus", function* (context) {
  context.df.setCustomStatus("x".repeat(context.df.getInput<number>() - 2));
  yield context.df.callActivity("fine", null);
  return "done";
});

describe("replay driver parity with the extension", () => {
  test("a failed activity reaches the orchestrator as the extension's Reason \\n Details", async () => {
    const thrown = new Error("[terminal] boom");
    const result = await driveOrchestration({ orchestrator: "driverCatches", input: null, activities: () => { throw thrown; } });
    const expected = activityFailure("fails", thrown);
    expect(result.output).toBe(`${expected.reason} \n ${expected.details}`);
    const failed = result.allEvents.find((e) => e.EventType === EventType.TaskFailed);
    expect(failed).toMatchObject({ Reason: "Activity function 'fails' failed: [terminal] boom", Details: expected.details });
  });

  test("a custom status over 16 KB (UTF-16) fails the run before anything is scheduled", async () => {
    const calls: string[] = [];
    const failed = await driveOrchestration({ orchestrator: "driverBigStatus", input: 8704, activities: (name) => { calls.push(name); return null; } });
    expect(failed.runtimeStatus).toBe("Failed");
    expect(failed.error).toBe("Orchestrator function 'driverBigStatus' failed: The UTF-16 size of the JSON-serialized payload must not exceed 16 KB. " +
      "The current payload size is 17 KB.");
    expect(calls).toEqual([]);
    const fits = await driveOrchestration({ orchestrator: "driverBigStatus", input: 8703, activities: () => null });
    expect(fits.runtimeStatus).toBe("Completed");
  });
});
