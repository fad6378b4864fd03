/**
 * Test-only orchestrators and activities for the conformance scenarios (never part of src/): each one
 * exercises one durable feature the app uses, the same code on both engines.
 */
import * as df from "durable-functions";
import type { OrchestrationContext } from "durable-functions";

df.app.activity("conformanceEcho", { handler: async (input: unknown) => ({ echoed: input }) });

df.app.orchestration("conformanceSequence", function* (context: OrchestrationContext) {
  const input: unknown = context.df.getInput();
  const first: unknown = yield context.df.callActivity("conformanceEcho", "first");
  const second: unknown = yield context.df.callActivity("conformanceEcho", { n: 2, list: [1, "two", null], at: "2026-01-02T03:04:05.000Z" });
  const third: unknown = yield context.df.callActivity("conformanceEcho", 3.5);
  return { input, results: [first, second, third] };
});
