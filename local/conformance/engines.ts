/**
 * The two engines the conformance harness compares, behind one interface:
 * - "real": Microsoft's Durable Task extension in the .NET host (local/conformance/host, restored and built by
 *   scripts/restore-conformance.sh), its functions forwarded to the Node worker (./worker.ts);
 * - "local": our engine (local/durable) running the same registrations in this process, as the local runtime does.
 * Both run over the same Azurite, each on its own task hub.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import { DurableEngine } from "../durable/engine";
import type { AppHost } from "../runtime/appHost";
import { exitWithParentArgs, PARENT_LINK_STDIN } from "../parentLink";
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

/** The repository root (holds package.json), from src or dist. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("conformance: repository root not found");
    dir = parent;
  }
  return dir;
}

/** Where scripts/restore-conformance.sh builds the host. */
export function hostAssemblyPath(root = repoRoot()): string {
  return path.join(root, ".conformance", "host", "ConformanceHost.dll");
}

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

export interface RealEngineOptions {
  /** The host.json whose extensions.durableTask section the host binds (default: the app's own). */
  hostJson?: string;
  /**
   * Environment for the worker and the host on top of this process's (the app settings, NODE_EXTRA_CA_CERTS). Under
   * jest a test's process.env is its own copy, which child processes do not inherit.
   */
  env?: Record<string, string>;
}

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
  const root = repoRoot();
  const assembly = hostAssemblyPath(root);
  if (!fs.existsSync(assembly)) {
    throw new Error(`conformance: the .NET host is not built (${assembly}); run: bash scripts/restore-conformance.sh`);
  }
  const started = Date.now();
  const workerScript = path.join(root, "dist", "local", "conformance", "worker.js");
  const worker = spawn(process.execPath, [...exitWithParentArgs(), workerScript], { stdio: [PARENT_LINK_STDIN, "pipe", "pipe"], env: { ...process.env, ...options.env } });
  const children: ChildProcess[] = [worker];
  const kill = () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL"));
  process.once("exit", kill);
  try {
    const workerPort = await readyPort(worker, "worker", log);
    // Its stdin is a pipe we hold: the host exits when it closes, so a killed harness leaves no host behind.
    const host = spawn("dotnet", [
      assembly, "--worker", `http://127.0.0.1:${workerPort}/`, "--hub", hubName, "--host-json", options.hostJson ?? path.join(root, "host.json"), "--exit-with-stdin", "1",
    ], {
      env: { ...process.env, ...options.env, AzureWebJobsStorage: connectionString, DOTNET_CLI_TELEMETRY_OPTOUT: "1", DOTNET_NOLOGO: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    children.push(host);
    const controlPort = await readyPort(host, "host", log);
    const timings = { startMs: Date.now() - started };
    const control = `http://127.0.0.1:${controlPort}`;
    const workerUrl = `http://127.0.0.1:${workerPort}`;
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
      timings,
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
        const response = await fetch(`${workerUrl}/payload/${encodeURIComponent(instanceId)}`);
        return ((await response.json()) ?? undefined) as OrchestratorPayload | undefined;
      },
      async raise(instanceId, eventName, data) {
        expectOk(await call("POST", `/raise/${encodeURIComponent(instanceId)}/${encodeURIComponent(eventName)}`, data ?? null), "raise");
      },
      async terminate(instanceId, reason) {
        expectOk(await call("POST", `/terminate/${encodeURIComponent(instanceId)}?reason=${encodeURIComponent(reason)}`), "terminate");
      },
      async stop() {
        // The storage is thrown away: no graceful WebJobs shutdown (it takes ~25 s).
        await Promise.all(children.map((child) => new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        })));
        process.removeListener("exit", kill);
      },
    };
  } catch (error) {
    kill();
    process.removeListener("exit", kill);
    throw error;
  }
}

/** Waits for a child's "READY <port>" line; other stdout lines are the extension's event log (dropped). */
function readyPort(child: ChildProcess, what: string, log: (line: string) => void, timeoutMs = 120000): Promise<number> {
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
    log(`[${what}] ${chunk.toString().trimEnd()}`);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`conformance ${what}: no READY line within ${timeoutMs} ms\n${stderr}`)), timeoutMs);
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const match = /^READY (\d+)$/.exec(line.trim());
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`conformance ${what} exited (code ${code}) before it was ready\n${stderr}`));
    });
  });
}
