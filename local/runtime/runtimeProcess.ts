/**
 * Runs the local runtime (dist/local/runtime/main.js) as a child process and keeps it running, as
 * the Functions host keeps its worker: when the runtime exits on its own (a crash, kill -9) it is
 * started again on the same port and Azurite, after a backoff (0.5 s doubling to 10 s), at most
 * `maxRestarts` times in a row (a runtime that ran a minute resets the count); the durable engine
 * then resumes every orchestration from storage. Tests can still kill it deliberately with kill()
 * (no automatic restart until restart()). Waits for its JSON ready line; its stderr goes to a log
 * file. The child exits by itself if this process dies (see ../parentLink.ts).
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as readline from "node:readline";
import { exitWithParentArgs, PARENT_LINK_STDIN } from "../parentLink";
import { RUNTIME_MAIN } from "./paths";

export interface RuntimeProcessOptions {
  env: Record<string, string>;
  /** Appended with the runtime's stderr (app logs). */
  logFile: string;
  /** Also copy the runtime's log lines here (e.g. the terminal for `npm run local`). */
  echo?: (line: string) => void;
  readyTimeoutMs?: number;
  entry?: string;
  /** Restart the runtime when it exits without being asked to (default true). */
  supervise?: boolean;
  /** Automatic restarts in a row before giving up (default 5). */
  maxRestarts?: number;
}

export interface RuntimeProcess {
  readonly pid: number | undefined;
  readonly baseUrl: string;
  /** Where the runtime keeps its host keys (from its ready line). */
  readonly keysFile: string;
  /** Automatic restarts after unexpected exits so far. */
  readonly restarts: number;
  /** Sends a signal; resolves when the process has exited. No automatic restart follows (call restart()). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the current process if it is running (SIGTERM) and starts a new one with the same env. */
  restart(): Promise<void>;
  /** Resolves once a runtime is ready again (after an automatic restart in progress, if any). */
  whenRunning(): Promise<void>;
  /** SIGTERM, then SIGKILL if it has not exited within 10 s; no restart afterwards. */
  stop(): Promise<void>;
}

interface Started {
  child: ChildProcess;
  baseUrl: string;
  keysFile: string;
  readyAt: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Set before this process is stopped or killed on purpose. */
  intentional: boolean;
}

const STABLE_AFTER_MS = 60_000;

export async function startRuntimeProcess(options: RuntimeProcessOptions): Promise<RuntimeProcess> {
  const supervise = options.supervise ?? true;
  const maxRestarts = options.maxRestarts ?? 5;
  const note = (line: string) => {
    const stamped = `${new Date().toISOString()} runtime supervisor: ${line}`;
    fs.appendFileSync(options.logFile, stamped + "\n");
    options.echo?.(stamped);
  };
  let current: Started;
  let restarts = 0;
  let failuresInARow = 0;
  let stopped = false;
  let relaunching: Promise<void> | undefined;
  /** Set while restart()/stop() take over from an automatic restart in progress. */
  let cancelRelaunch = false;
  let backoffTimer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;

  const adopt = (started: Started) => {
    current = started;
    started.exited.then(({ code, signal }) => {
      if (started.intentional || stopped || !supervise || current !== started) return;
      if (Date.now() - started.readyAt >= STABLE_AFTER_MS) failuresInARow = 0;
      relaunching = relaunchAfterCrash(`exited unexpectedly (${signal ?? `code ${code}`})`);
    });
  };

  const relaunchAfterCrash = async (why: string): Promise<void> => {
    for (;;) {
      failuresInARow++;
      if (failuresInARow > maxRestarts) {
        note(`the runtime ${why}; giving up after ${maxRestarts} restarts in a row`);
        return;
      }
      const delay = Math.min(10_000, 500 * 2 ** (failuresInARow - 1));
      note(`the runtime ${why}; restarting in ${delay} ms (restart ${failuresInARow}/${maxRestarts})`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        backoffTimer = setTimeout(resolve, delay);
      });
      if (stopped || cancelRelaunch) return;
      try {
        const started = await launch(options);
        if (stopped || cancelRelaunch) {
          started.intentional = true;
          await stopChild(started);
          return;
        }
        restarts++;
        adopt(started);
        note(`the runtime is back (pid ${started.child.pid})`);
        return;
      } catch (error) {
        why = `did not start (${(error as Error).message.split("\n")[0]})`;
      }
    }
  };

  adopt(await launch(options));
  /** Ends an automatic restart in progress (its backoff at once; a launch already under way is stopped). */
  const settle = async () => {
    cancelRelaunch = true;
    if (backoffTimer) clearTimeout(backoffTimer);
    wake?.();
    await relaunching;
    relaunching = undefined;
    cancelRelaunch = false;
  };
  return {
    get pid() {
      return current.child.pid;
    },
    get baseUrl() {
      return current.baseUrl;
    },
    get keysFile() {
      return current.keysFile;
    },
    get restarts() {
      return restarts;
    },
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      current.intentional = true;
      if (current.child.exitCode === null && current.child.signalCode === null) current.child.kill(signal);
      await current.exited;
    },
    async restart() {
      await settle();
      current.intentional = true;
      await stopChild(current);
      failuresInARow = 0;
      adopt(await launch(options));
    },
    async whenRunning() {
      await relaunching;
    },
    async stop() {
      stopped = true;
      await settle();
      current.intentional = true;
      await stopChild(current);
    },
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
  const child = spawn(process.execPath, [...exitWithParentArgs(), options.entry ?? RUNTIME_MAIN], {
    env: { ...process.env, ...options.env },
    stdio: [PARENT_LINK_STDIN, "pipe", "pipe"],
  });
  // If the parent dies (a crashed test run), do not leave an orphaned runtime behind.
  const killOnParentExit = () => child.kill("SIGKILL");
  process.once("exit", killOnParentExit);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      process.off("exit", killOnParentExit);
      resolve({ code, signal });
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
          const parsed = JSON.parse(line) as { ready?: boolean; baseUrl?: string; keysFile?: string };
          if (parsed.ready && parsed.baseUrl) {
            ready = true;
            clearTimeout(timeout);
            resolve({ child, baseUrl: parsed.baseUrl, keysFile: parsed.keysFile ?? "", readyAt: Date.now(), exited, intentional: false });
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
