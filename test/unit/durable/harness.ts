/**
 * Shared test wiring: real Azurite, the real durable-functions engine through captured registrations,
 * and a DurableEngine per test on its own task hub. Test files must install the core stand-in
 * (jest.mock("@azure/functions-core", …)) before importing this module.
 */
import { randomUUID } from "node:crypto";
import { InvocationContext } from "@azure/functions";
import { AzuriteHandle, startAzurite } from "../../../local/azurite";
import { DurableEngine, EngineOptions } from "../../../local/durable/engine";
import { EventType, HistoryEvent } from "../../../local/durable/types";
import { getRegisteredFunctions } from "../../../local/functionsHost/coreStandIn";

/** Calls a captured handler the way the worker would: a fresh InvocationContext each time (df must not carry over). */
export function invokeCaptured(name: string, triggerInput: unknown): Promise<unknown> {
  const fn = getRegisteredFunctions().get(name);
  if (!fn) return Promise.reject(new Error(`Function '${name}' is not registered`));
  const context = new InvocationContext({ functionName: name, invocationId: randomUUID(), logHandler: () => undefined });
  return Promise.resolve(fn.handler(triggerInput, context));
}

let hubCounter = 0;
export function uniqueHub(prefix: string): string {
  hubCounter++;
  return `${prefix}${process.pid}x${hubCounter}`;
}

export interface EngineFixture {
  azurite: AzuriteHandle;
  engines: DurableEngine[];
  create(options?: Partial<EngineOptions>): Promise<DurableEngine>;
  dispose(): Promise<void>;
}

export async function engineFixture(): Promise<EngineFixture> {
  // inMemory is not used: local/azurite.ts passes --location too, which Azurite rejects with --inMemoryPersistence.
  const azurite = await startAzurite();
  const engines: DurableEngine[] = [];
  return {
    azurite,
    engines,
    async create(options = {}) {
      const engine = new DurableEngine({
        tableConnectionString: azurite.connectionString,
        hubName: options.hubName ?? uniqueHub("Hub"),
        invokeOrchestrator: invokeCaptured,
        invokeActivity: invokeCaptured,
        virtualClock: true,
        ...options,
      });
      await engine.start();
      engines.push(engine);
      return engine;
    },
    async dispose() {
      for (const engine of engines) await engine.stop();
      await azurite.stop();
    },
  };
}

/**
 * Runs an orchestration to quiescence on the engine: its final status (history in the HTTP API's view) plus the
 * raw DTFx history the orchestrator replays.
 */
export async function runToIdle(engine: DurableEngine, name: string, input?: unknown, instanceId?: string) {
  const id = await engine.startNew(name, input, instanceId);
  await engine.waitForIdle(30000);
  const status = await engine.getStatus(id, { showHistory: true, showHistoryOutput: true });
  if (!status) throw new Error(`instance ${id} vanished`);
  return { ...status, rawHistory: await engine.getHistory(id) };
}

/** Compact history notation of reference 3.5: "4#0" = TaskScheduled id 0, "6@0" = TaskFailed for id 0. */
export function scheduleNotation(history: HistoryEvent[]): string[] {
  const scheduling = [EventType.TaskScheduled, EventType.SubOrchestrationInstanceCreated, EventType.TimerCreated];
  const completing = [
    EventType.TaskCompleted, EventType.TaskFailed, EventType.SubOrchestrationInstanceCompleted, EventType.SubOrchestrationInstanceFailed,
    EventType.TimerFired,
  ];
  return history.flatMap((e) => {
    if (scheduling.includes(e.EventType)) return [`${e.EventType}#${e.EventId}`];
    if (completing.includes(e.EventType)) return [`${e.EventType}@${e.TaskScheduledId ?? e.TimerId}`];
    return [];
  });
}
