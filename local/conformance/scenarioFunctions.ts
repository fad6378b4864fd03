/**
 * Test-only orchestrators and activities for the conformance scenarios (never part of src/): each one
 * exercises one durable feature the app uses, the same code on both engines. Orchestrators stay pure
 * (time only from context.df.currentUtcDateTime).
 */
import * as df from "durable-functions";
import type { OrchestrationContext } from "durable-functions";

const SECOND = 1000;
const DAY = 24 * 60 * 60 * SECOND;

df.app.activity("conformanceEcho", { handler: async (input: unknown) => ({ echoed: input }) });

df.app.activity("conformanceFail", {
  handler: async (input: unknown) => {
    throw new Error(`conformance failure: ${JSON.stringify(input)}`);
  },
});

/** Fails the first `failures` calls per key (a key per instance), then answers; attempts are counted in this process. */
const attempts = new Map<string, number>();
df.app.activity("conformanceFlaky", {
  handler: async (input: unknown) => {
    const { key, failures } = input as { key: string; failures: number };
    const attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    if (attempt <= failures) throw new Error(`transient failure ${attempt} of ${failures}`);
    return { attempt };
  },
});

df.app.activity("conformanceNothing", { handler: async () => undefined });

df.app.orchestration("conformanceSequence", function* (context: OrchestrationContext) {
  const input: unknown = context.df.getInput();
  const first: unknown = yield context.df.callActivity("conformanceEcho", "first");
  const second: unknown = yield context.df.callActivity("conformanceEcho", { n: 2, list: [1, "two", null], at: "2026-01-02T03:04:05.000Z" });
  const third: unknown = yield context.df.callActivity("conformanceEcho", 3.5);
  const fourth: unknown = yield context.df.callActivity("conformanceNothing");
  return { input, results: [first, second, third, fourth ?? "undefined"] };
});

df.app.orchestration("conformanceRetry", function* (context: OrchestrationContext) {
  const retry = new df.RetryOptions(500, 3);
  retry.backoffCoefficient = 2;
  retry.maxRetryIntervalInMilliseconds = 5 * SECOND;
  const recovered: unknown = yield context.df.callActivityWithRetry("conformanceFlaky", retry, { key: `${context.df.instanceId}:a`, failures: 2 });
  try {
    yield context.df.callActivityWithRetry("conformanceFlaky", new df.RetryOptions(300, 2), { key: `${context.df.instanceId}:b`, failures: 5 });
    return { recovered, exhausted: false };
  } catch (error) {
    return { recovered, exhausted: (error as Error).message };
  }
});

df.app.orchestration("conformanceTimer", function* (context: OrchestrationContext) {
  const start = context.df.currentUtcDateTime;
  yield context.df.createTimer(new Date(start.getTime() + 2 * SECOND));
  const woke = context.df.currentUtcDateTime;
  return { sleptAtLeastMs: woke.getTime() - start.getTime() >= 2 * SECOND };
});

/** A 10-day timer raced with an event, so a second episode shows how the timer was created and split. */
df.app.orchestration("conformanceLongTimer", function* (context: OrchestrationContext) {
  context.df.setCustomStatus("waiting 10 days");
  const timer = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 10 * DAY));
  const wake = context.df.waitForExternalEvent("wake");
  const winner: unknown = yield context.df.Task.any([timer, wake]);
  if (winner === wake) timer.cancel();
  return winner === wake ? "woken by the event" : "timer fired";
});

df.app.orchestration("conformanceExternalEvent", function* (context: OrchestrationContext) {
  context.df.setCustomStatus({ waitingFor: "approval" });
  const approval = context.df.waitForExternalEvent("approval");
  const timeout = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 60 * SECOND));
  const winner: unknown = yield context.df.Task.any([approval, timeout]);
  if (winner === approval) {
    timeout.cancel();
    return { approved: approval.result };
  }
  return { approved: "timed out" };
});

df.app.orchestration("conformanceChild", function* (context: OrchestrationContext) {
  const input = context.df.getInput() as { fail?: boolean; n: number; waitMs?: number };
  if (input.fail) throw new Error(`child ${input.n} refused`);
  // A later child waits first, so the children finish in a known order on both engines.
  if (input.waitMs) yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + input.waitMs));
  const echoed: unknown = yield context.df.callActivity("conformanceEcho", input.n);
  return { child: context.df.instanceId, parent: context.df.parentInstanceId, echoed };
});

df.app.orchestration("conformanceSubOrchestrations", function* (context: OrchestrationContext) {
  const both: unknown = yield context.df.Task.all([
    context.df.callSubOrchestrator("conformanceChild", { n: 1 }),
    context.df.callSubOrchestrator("conformanceChild", { n: 2, waitMs: 3 * SECOND }, `${context.df.instanceId}-named-child`),
  ]);
  try {
    yield context.df.callSubOrchestrator("conformanceChild", { n: 3, fail: true });
    return { both, failed: false };
  } catch (error) {
    return { both, failed: (error as Error).message };
  }
});

df.app.orchestration("conformanceContinueAsNew", function* (context: OrchestrationContext) {
  const round = (context.df.getInput() as { round: number } | undefined)?.round ?? 0;
  const echoed: unknown = yield context.df.callActivity("conformanceEcho", round);
  context.df.setCustomStatus({ round });
  if (round < 2) {
    context.df.continueAsNew({ round: round + 1 });
    return undefined;
  }
  return { round, echoed };
});

/** A custom status of `chars` characters of JSON: the extension allows 16 KB of UTF-16 (whole KB, rounded down). */
df.app.orchestration("conformanceCustomStatus", function* (context: OrchestrationContext) {
  const { chars } = context.df.getInput() as { chars: number };
  context.df.setCustomStatus("x".repeat(chars - 2));
  yield context.df.callActivity("conformanceEcho", chars);
  return chars;
});

df.app.orchestration("conformanceWaitForever", function* (context: OrchestrationContext) {
  context.df.setCustomStatus("waiting to be terminated");
  yield context.df.waitForExternalEvent("never");
  return "not reached";
});

df.app.orchestration("conformanceActivityFailureCaught", function* (context: OrchestrationContext) {
  try {
    yield context.df.callActivity("conformanceFail", { why: "caught" });
    return "not reached";
  } catch (error) {
    return { caught: (error as Error).message };
  }
});

df.app.orchestration("conformanceActivityFailureUncaught", function* (context: OrchestrationContext) {
  yield context.df.callActivity("conformanceFail", { why: "uncaught" });
  return "not reached";
});

df.app.orchestration("conformanceOrchestratorThrows", function* (context: OrchestrationContext) {
  yield context.df.callActivity("conformanceEcho", "before the throw");
  throw new Error("orchestrator gave up");
});
