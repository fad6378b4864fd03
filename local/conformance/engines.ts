/**
 * The two engines the conformance harness compares, behind one interface:
 * - "real": Microsoft's Durable Task extension in the .NET host (local/conformance/host, restored and built by
 *   scripts/restore-conformance.sh), its functions forwarded to the Node worker (./worker.ts);
 * - "local": our engine (local/durable) running the same registrations in this process, as the local runtime does.
 * Both run over the same Azurite, each on its own task hub.
 */
import { DurableEngine } from "../durable/engine";
import type { AppHost } from "../runtime/appHost";
import { launchRealEngine, type LaunchOptions } from "../realEngine/launch";
import { PayloadRecorder } from "./payloads";

export interface EngineStatus {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  history?: unknown[];
}

/** The orchestrator trigger JSON of an instance's latest episode (history as the orchestrator received it). */
export type OrchestratorPayload = Record<string, unknown> & { history: Record<string, unknown>[] };

export interface EngineDriver {
  readonly label: "real" | "local";
  start(orchestrator: string, input: unknown, instanceId: string): Promise<void>;
  status(instanceId: string): Promise<EngineStatus | undefined>;
  payload(instanceId: string): Promise<OrchestratorPayload | undefined>;
  raise(instanceId: string, eventName: string, data: unknown): Promise<void>;
  terminate(instanceId: string, reason: string): Promise<void>;
  stop(): Promise<void>;
}

export { hostAssemblyPath, repoRoot } from "../realEngine/launch";

// ------------------------------------------------------------------------------------------- local engine

export async function startLocalEngine(app: AppHost, connectionString: string, hubName: string): Promise<EngineDriver> {
  const payloads = new PayloadRecorder();
  const engine = new DurableEngine({
    tableConnectionString: connectionString,
    hubName,
    invokeOrchestrator: (name, payload) => {
      payloads.record(payload);
      return app.invoke(name, payload);
    },
    invokeActivity: (name, input) => app.invoke(name, input),
    isOrchestrator: (name) => app.has(name) && app.triggerType(name) === "orchestrationTrigger",
  });
  await engine.start();
  return {
    label: "local",
    async start(orchestrator, input, instanceId) {
      await engine.startNew(orchestrator, input, instanceId);
    },
    async status(instanceId) {
      return (await engine.getStatus(instanceId, { showHistory: true, showHistoryOutput: true })) as EngineStatus | undefined;
    },
    async payload(instanceId) {
      return payloads.last(instanceId) as OrchestratorPayload | undefined;
    },
    async raise(instanceId, eventName, data) {
      if (!(await engine.raiseEvent(instanceId, eventName, data))) throw new Error(`local engine: no instance ${instanceId} to raise ${eventName} on`);
    },
    async terminate(instanceId, reason) {
      if (!(await engine.terminate(instanceId, reason))) throw new Error(`local engine: no instance ${instanceId} to terminate`);
    },
    stop: () => engine.stop(),
  };
}

// -------------------------------------------------------------------------------------------- real engine

export interface RealEngineTimings {
  /** From spawning the worker to the .NET host's READY line (host start, extension and task hub included). */
  startMs: number;
}

export type RealEngineOptions = Pick<LaunchOptions, "hostJson" | "env">;

/**
 * Starts the worker and the .NET host on `hubName`. Starting it again on the same storage and hub after stop()
 * (which is a kill -9) is a restart: the extension takes the task hub's partitions over and resumes what was in flight.
 */
export async function startRealEngine(
  connectionString: string,
  hubName: string,
  log: (line: string) => void = () => undefined,
  options: RealEngineOptions = {},
): Promise<EngineDriver & { timings: RealEngineTimings }> {
  const launched = await launchRealEngine({ connectionString, hubName, log, ...options });
  const control = launched.controlUrl;
  const call = async (method: string, route: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
    const response = await fetch(control + route, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  };
  const expectOk = (r: { status: number; json: unknown }, what: string) => {
    if (r.status !== 200) throw new Error(`real engine: ${what} answered ${r.status}: ${JSON.stringify(r.json)}`);
  };
  return {
    label: "real",
    timings: { startMs: launched.startMs },
    async start(orchestrator, input, instanceId) {
      expectOk(await call("POST", `/start/${encodeURIComponent(orchestrator)}?instanceId=${encodeURIComponent(instanceId)}`, input ?? null), "start");
    },
    async status(instanceId) {
      const r = await call("GET", `/status/${encodeURIComponent(instanceId)}`);
      if (r.status === 404) return undefined;
      expectOk(r, "status");
      return r.json as EngineStatus;
    },
    async payload(instanceId) {
      const response = await fetch(`${launched.workerUrl}/payload/${encodeURIComponent(instanceId)}`);
      return ((await response.json()) ?? undefined) as OrchestratorPayload | undefined;
    },
    async raise(instanceId, eventName, data) {
      expectOk(await call("POST", `/raise/${encodeURIComponent(instanceId)}/${encodeURIComponent(eventName)}`, data ?? null), "raise");
    },
    async terminate(instanceId, reason) {
      expectOk(await call("POST", `/terminate/${encodeURIComponent(instanceId)}?reason=${encodeURIComponent(reason)}`), "terminate");
    },
    stop: () => launched.stop(),
  };
}
