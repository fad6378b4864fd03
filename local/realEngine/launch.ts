/**
 * Starts Microsoft's Durable Task extension (the "real engine") on this machine: the Node worker that runs the
 * app's orchestrators and activities (local/conformance/worker.ts, spawned by path) and the .NET WebJobs host
 * around the extension (local/conformance/host, restored and built by scripts/restore-conformance.sh). The
 * conformance harness, its crash tests and `npm run local -- --engine real` start it through here.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import * as readline from "node:readline";
import { exitWithParentArgs, PARENT_LINK_STDIN } from "../parentLink";

/**
 * Where the extension serves its own HTTP API for Node durable clients when the host runs with localRpc (the
 * extension's fixed loopback address; in Azure it is the rpcBaseUrl of every durableClient binding).
 */
export const EXTENSION_RPC_BASE_URL = "http://127.0.0.1:17071/durabletask/";

/** The repository root (holds package.json), from src or dist. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("real engine: repository root not found");
    dir = parent;
  }
  return dir;
}

/** Where scripts/restore-conformance.sh builds the host. */
export function hostAssemblyPath(root = repoRoot()): string {
  return path.join(root, ".conformance", "host", "ConformanceHost.dll");
}

export interface LaunchOptions {
  connectionString: string;
  hubName: string;
  log?: (line: string) => void;
  /** The host.json whose extensions.durableTask section the host binds (default: the app's own). */
  hostJson?: string;
  /**
   * Environment for the worker and the host on top of this process's (the app settings, NODE_EXTRA_CA_CERTS). Under
   * jest a test's process.env is its own copy, which child processes do not inherit.
   */
  env?: Record<string, string>;
  /** The worker loads the app alone, without the conformance catalogue's test-only functions. */
  appOnly?: boolean;
  /**
   * Serve the extension's HTTP API at EXTENSION_RPC_BASE_URL, with management links under this webhook base (the
   * Functions host's webhook URL: `<origin>/runtime/webhooks/durabletask?code=<system key>`).
   */
  localRpc?: { webhookBase: string };
}

export interface LaunchedEngine {
  /** The worker's loopback base URL (GET /payload/<instanceId>). */
  workerUrl: string;
  /** The host's control API (start, status, raise, terminate). */
  controlUrl: string;
  /** From spawning the worker to the host's READY line (host start, extension and task hub included). */
  startMs: number;
  /** Process ids, for a caller that reports memory. */
  pids: { worker: number; host: number };
  /** kill -9 of both (the storage stays: starting again on the same hub resumes what was in flight). */
  stop(): Promise<void>;
}

export async function launchRealEngine(options: LaunchOptions): Promise<LaunchedEngine> {
  const log = options.log ?? (() => undefined);
  const root = repoRoot();
  const assembly = hostAssemblyPath(root);
  if (!fs.existsSync(assembly)) {
    throw new Error(`real engine: the .NET host is not built (${assembly}); run: bash scripts/restore-conformance.sh`);
  }
  if (options.localRpc) await requireFreePort(new URL(EXTENSION_RPC_BASE_URL));
  const started = Date.now();
  const workerScript = path.join(root, "dist", "local", "conformance", "worker.js");
  const workerArgs = options.appOnly ? ["--app-only"] : [];
  const worker = spawn(process.execPath, [...exitWithParentArgs(), workerScript, ...workerArgs], { stdio: [PARENT_LINK_STDIN, "pipe", "pipe"], env: { ...process.env, ...options.env } });
  const children: ChildProcess[] = [worker];
  const kill = () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL"));
  process.once("exit", kill);
  try {
    const workerPort = await readyPort(worker, "worker", log);
    // Its stdin is a pipe we hold: the host exits when it closes, so a killed parent leaves no host behind.
    const hostArgs = [
      assembly, "--worker", `http://127.0.0.1:${workerPort}/`, "--hub", options.hubName, "--host-json", options.hostJson ?? path.join(root, "host.json"), "--exit-with-stdin", "1",
      ...(options.localRpc ? ["--local-rpc", "1"] : []),
    ];
    // The webhook base carries the system key: in the environment, never on the command line (ps shows arguments).
    const webhook = options.localRpc ? { REAL_ENGINE_WEBHOOK_BASE: options.localRpc.webhookBase } : {};
    const host = spawn("dotnet", hostArgs, {
      env: { ...process.env, ...options.env, ...webhook, AzureWebJobsStorage: options.connectionString, DOTNET_CLI_TELEMETRY_OPTOUT: "1", DOTNET_NOLOGO: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    children.push(host);
    const controlPort = await readyPort(host, "host", log);
    return {
      workerUrl: `http://127.0.0.1:${workerPort}`,
      controlUrl: `http://127.0.0.1:${controlPort}`,
      startMs: Date.now() - started,
      pids: { worker: worker.pid ?? 0, host: host.pid ?? 0 },
      async stop() {
        // No graceful WebJobs shutdown (it takes ~25 s): what was in flight resumes from storage on the next start.
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

/**
 * The extension's HTTP API has a fixed address, and a second host whose endpoint cannot bind still starts: the
 * app's clients would then reach the other stack's extension (its instances, its storage). Refuse before starting.
 */
function requireFreePort(url: URL): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === "EADDRINUSE"
            ? `real engine: ${url.host} is in use (another stack on Microsoft's engine is running on this machine?): the extension serves its HTTP API there, one host per machine`
            : `real engine: cannot check ${url.host}: ${error.message}`,
        ),
      ),
    );
    probe.listen(Number(url.port), url.hostname, () => probe.close(() => resolve()));
  });
}

/** Waits for a child's "READY <port>" line; other stdout lines are the extension's event log (dropped). */
function readyPort(child: ChildProcess, what: string, log: (line: string) => void, timeoutMs = 120000): Promise<number> {
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
    log(`[${what}] ${chunk.toString().trimEnd()}`);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`real engine ${what}: no READY line within ${timeoutMs} ms\n${stderr}`)), timeoutMs);
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
      reject(new Error(`real engine ${what} exited (code ${code}) before it was ready\n${stderr}`));
    });
  });
}
