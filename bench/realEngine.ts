/**
 * What `--engine real` costs (issue 39): the local stack on our engine and on Microsoft's Durable Task extension,
 * one after the other in one run, on the real clock with the same emulator timings: how long the stack takes to
 * start, how long N dropped packages take to sign, and the peak resident memory (VmHWM) of the processes the engine
 * needs (our engine: the runtime alone; the extension: the runtime, the .NET host and its Node worker). Azurite and
 * the emulators are the same for both and not counted.
 *
 *   NODE_EXTRA_CA_CERTS=.local-data/tls/ca.pem node dist/bench/realEngine.js [packages]   (default 3)
 * Needs the .NET SDK (bash scripts/restore-conformance.sh builds the extension's host once).
 */
import * as fs from "node:fs";
import { samplePackage } from "../local/samplePackage";
import { APP_CONTAINERS, startStack, type Stack } from "../local/stack";
import { SubmissionsClient, isTerminal } from "../local/cli/submissionsClient";
import { assertCaTrusted, mib, printMachine, printTable, procMemory, ratio } from "./support/common";

interface EngineRun {
  engine: "local" | "real";
  startMs: number;
  signMs: number;
  signed: number;
  /** Peak RSS per process, bytes. */
  peaks: Record<string, number>;
}

/** The extension's host and worker pids, from the runtime's line "... host pid N, worker pid M ...". */
function realEnginePids(stack: Stack): Record<string, number> {
  const match = /host pid (\d+), worker pid (\d+)/.exec(fs.readFileSync(stack.runtimeLogFile, "utf8"));
  if (!match) throw new Error("the runtime did not log the real engine's pids");
  return { ".NET host": Number(match[1]), "Node worker": Number(match[2]) };
}

async function runOn(engine: "local" | "real", packages: number): Promise<EngineRun> {
  const started = Date.now();
  const stack = await startStack({
    engine,
    virtualClock: false,
    behaviour: { workflow: { stepSeconds: 2, commitSeconds: 1 } },
    appSettings: { POLL_INITIAL_SECONDS: "2", POLL_MAX_SECONDS: "4" },
  });
  const startMs = Date.now() - started;
  try {
    const pids: Record<string, number> = { runtime: stack.runtime.pid ?? 0, ...(engine === "real" ? realEnginePids(stack) : {}) };
    const client = new SubmissionsClient(stack.apiUrl, stack.functionKey);
    const signStarted = Date.now();
    const ids = await Promise.all(
      Array.from({ length: packages }, async (_, i) => {
        const pkg = samplePackage({ folder: `bench-${engine}-${i}` });
        await stack.blobService.getContainerClient(APP_CONTAINERS.drops).getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
        return client.findByBlob(pkg.fileName, 30_000);
      }),
    );
    const finals = await Promise.all(ids.map((id) => client.waitFor(id, isTerminal, { timeoutMs: 300_000, intervalMs: 250 })));
    const signMs = Date.now() - signStarted;
    const peaks: Record<string, number> = {};
    for (const [name, pid] of Object.entries(pids)) peaks[name] = procMemory(pid)?.hwm ?? NaN;
    return { engine, startMs, signMs, signed: finals.filter((f) => f.stage === "succeeded").length, peaks };
  } finally {
    await stack.stop();
  }
}

async function main(): Promise<void> {
  assertCaTrusted();
  printMachine();
  const packages = Number(process.argv[2] ?? 3);
  if (!Number.isInteger(packages) || packages < 1) throw new Error(`packages: "${process.argv[2]}" is not a positive whole number`);
  console.log(`${packages} package(s) dropped at once on each engine; real clock, emulator review steps of 2 s, polls every 2-4 s`);
  const local = await runOn("local", packages);
  const real = await runOn("real", packages);
  const total = (run: EngineRun) => Object.values(run.peaks).reduce((sum, bytes) => sum + bytes, 0);
  printTable(
    "local stack: our engine vs Microsoft's Durable Task extension",
    [local, real].map((run) => ({
      engine: run.engine,
      "stack start s": (run.startMs / 1000).toFixed(1),
      [`${packages} signed s`]: (run.signMs / 1000).toFixed(1),
      succeeded: `${run.signed}/${packages}`,
      "peak RSS MiB (per process)": Object.entries(run.peaks).map(([name, bytes]) => `${name} ${mib(bytes)}`).join(", "),
      "peak RSS MiB (sum)": mib(total(run)),
    })),
  );
  console.log(
    `\nreal / local: stack start ${ratio(real.startMs, local.startMs)}, signing ${ratio(real.signMs, local.signMs)}, engine memory ${ratio(total(real), total(local))}`,
  );
}

main().catch((error: unknown) => {
  console.error(`bench realEngine failed: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
