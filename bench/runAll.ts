/**
 * Runs every benchmark in sequence: copy, HDC calls, overhead, throughput, upload. BENCH_QUICK=1 makes a
 * smoke run (64 MiB copy and upload, 1 h signing, 3 overhead runs, N = 10, 20). Never fails CI: a benchmark
 * that throws is reported and the next one runs.
 *
 *   NODE_EXTRA_CA_CERTS=.local-data/tls/ca.pem node dist/bench/runAll.js
 */
import { runApiCallsBench } from "./apiCalls";
import { runCopyBench } from "./copy";
import { runOverheadBench } from "./overhead";
import { runThroughputBench } from "./throughput";
import { runUploadBench } from "./upload";
import { printMachine, quickMode } from "./support/common";

async function main(): Promise<void> {
  printMachine();
  console.log(quickMode() ? "quick mode (BENCH_QUICK=1)" : "full mode (BENCH_QUICK=1 for a quick run)");
  const benches: [string, () => Promise<unknown>][] = [
    ["copy", () => runCopyBench()],
    ["HDC calls", () => runApiCallsBench()],
    ["overhead", () => runOverheadBench()],
    ["throughput", () => runThroughputBench()],
    ["upload (driver-sign)", () => runUploadBench()],
  ];
  const failed: string[] = [];
  for (const [name, run] of benches) {
    console.log(`\n## ${name}`);
    const started = Date.now();
    try {
      await run();
    } catch (error) {
      failed.push(name);
      console.error(`benchmark ${name} failed: ${(error as Error).stack ?? String(error)}`);
    }
    console.log(`(${name}: ${Math.round((Date.now() - started) / 1000)} s)`);
  }
  if (failed.length > 0) console.log(`\nbenchmarks that did not finish: ${failed.join(", ")}`);
}

main().catch((error: unknown) => {
  console.error(error);
});
