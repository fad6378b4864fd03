/**
 * Runs the local runtime (dist/local/runtime/main.js) as a child process, so tests can SIGKILL it
 * and start it again on the same Azurite. Waits for its JSON ready line; its stderr goes to a log file.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as readline from "node:readline";
import { RUNTIME_MAIN } from "./paths";

export interface RuntimeProcessOptions {
  env: Record<string, string>;
  /** Appended with the runtime's stderr (app logs). */
  logFile: string;
  /** Also copy the runtime's log lines here (e.g. the terminal for `npm run local`). */
  echo?: (line: string) => void;
  readyTimeoutMs?: number;
  entry?: string;
}

export interface RuntimeProcess {
  readonly pid: number | undefined;
  readonly baseUrl: string;
  /** Sends a signal; resolves when the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the current process if it is running (SIGTERM) and starts a new one with the same env. */
  restart(): Promise<void>;
  /** SIGTERM, then SIGKILL if it has not exited within 10 s. */
  stop(): Promise<void>;
}

interface Started {
  child: ChildProcess;
  baseUrl: string;
  exited: Promise<void>;
}

export async function startRuntimeProcess(options: RuntimeProcessOptions): Promise<RuntimeProcess> {
  let current = await launch(options);
  return {
    get pid() {
      return current.child.pid;
    },
    get baseUrl() {
      return current.baseUrl;
    },
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (current.child.exitCode === null && current.child.signalCode === null) current.child.kill(signal);
      await current.exited;
    },
    async restart() {
      await stopChild(current);
      current = await launch(options);
    },
    stop: () => stopChild(current),
  };
}

async function stopChild(started: Started): Promise<void> {
  const { child } = started;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
  child.kill("SIGTERM");
  await started.exited;
  clearTimeout(force);
}

function launch(options: RuntimeProcessOptions): Promise<Started> {
  const log = fs.createWriteStream(options.logFile, { flags: "a" });
  const child = spawn(process.execPath, [options.entry ?? RUNTIME_MAIN], {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // If the parent dies (a crashed test run), do not leave an orphaned runtime behind.
  const killOnParentExit = () => child.kill("SIGKILL");
  process.once("exit", killOnParentExit);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      process.off("exit", killOnParentExit);
      resolve();
    }),
  );
  exited.then(() => log.end(), () => log.end());
  const recentErrors: string[] = [];
  readline.createInterface({ input: child.stderr! }).on("line", (line) => {
    log.write(line + "\n");
    options.echo?.(line);
    recentErrors.push(line);
    if (recentErrors.length > 30) recentErrors.shift();
  });

  return new Promise<Started>((resolve, reject) => {
    const timeout = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`The local runtime was not ready within ${options.readyTimeoutMs ?? 60_000} ms:\n${recentErrors.join("\n")}`));
    }, options.readyTimeoutMs ?? 60_000);
    let ready = false;
    readline.createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!ready && line.startsWith("{")) {
        try {
          const parsed = JSON.parse(line) as { ready?: boolean; baseUrl?: string };
          if (parsed.ready && parsed.baseUrl) {
            ready = true;
            clearTimeout(timeout);
            resolve({ child, baseUrl: parsed.baseUrl, exited });
            return;
          }
        } catch {
          /* an ordinary log line that starts with "{" */
        }
      }
      log.write(line + "\n");
      options.echo?.(line);
    });
    child.once("exit", (code, signal) => {
      if (ready) return;
      clearTimeout(timeout);
      // Give the stderr reader a moment to collect the last lines.
      setTimeout(
        () => reject(new Error(`The local runtime exited (${signal ?? code}) before it was ready:\n${recentErrors.join("\n")}`)),
        50,
      );
    });
  });
}
