/**
 * Throughput: N packages dropped at once (virtual clock, zero-latency emulators), all taken to
 * completion. Total time, per-submission drop → succeeded p50/p95, orchestration history size,
 * and HDC calls per submission, for growing N.
 *
 *   node dist/bench/throughput.js [N...]     (or BENCH_THROUGHPUT_N="50,100,200"; "10,20" with BENCH_QUICK=1)
 */
import { assertCaTrusted, percentile, printMachine, printTable, quickMode } from "./support/common";
import { callKinds, dropPackage, historyOf, startBenchStack, trackUntilEnd } from "./support/stackRun";

export interface ThroughputRow extends Record<string, string | number> {}

async function runOnce(n: number): Promise<ThroughputRow> {
  const stack = await startBenchStack();
  try {
    const started = Date.now();
    const drops = await Promise.all(Array.from({ length: n }, (_, i) => dropPackage(stack, `bench-tp-${n}-${i}`)));
    const uploadedMs = Date.now() - started;
    const tracked = await trackUntilEnd(stack, drops, { timeoutMs: Math.max(180_000, n * 3000), intervalMs: 100 });
    const totalMs = Math.max(...tracked.map((t) => t.endedAt!)) - started;
    const latencies = tracked.map((t) => t.endedAt! - t.droppedAt);
    const succeeded = tracked.filter((t) => t.final?.stage === "succeeded").length;
    const histories: number[] = [];
    for (const t of tracked) if (t.id) histories.push((await historyOf(stack, t.id)).length);
    const kinds = callKinds(stack.emulators.requests().entries);
    return {
      N: n,
      succeeded: `${succeeded}/${n}`,
      "upload all ms": uploadedMs,
      "total s": Math.round(totalMs / 100) / 10,
      "submissions/s": Math.round((n / (totalMs / 1000)) * 10) / 10,
      "p50 drop→end s": Math.round(percentile(latencies, 50) / 100) / 10,
      "p95 drop→end s": Math.round(percentile(latencies, 95) / 100) / 10,
      "history events/orch (median)": percentile(histories, 50),
      "history max": Math.max(...histories),
      "HDC GET/sub": Math.round((kinds.get / n) * 10) / 10,
      "HDC POST/sub": Math.round((kinds.post / n) * 10) / 10,
      "tokens total": kinds.token,
    };
  } finally {
    await stack.stop();
  }
}

export async function runThroughputBench(counts?: number[]): Promise<ThroughputRow[]> {
  assertCaTrusted();
  const fromEnv = process.env.BENCH_THROUGHPUT_N?.split(",").map(Number).filter((v) => v > 0);
  const ns = counts && counts.length > 0 ? counts : fromEnv && fromEnv.length > 0 ? fromEnv : quickMode() ? [10, 20] : [50, 100, 200];
  const rows: ThroughputRow[] = [];
  for (const n of ns) {
    const row = await runOnce(n);
    console.log(`  N=${n}: ${row["total s"]} s`);
    rows.push(row);
  }
  printTable("Concurrent drops to completion (virtual clock, one fresh stack per N)", rows);
  if (rows.length > 1) {
    const first = rows[0]!;
    const last = rows[rows.length - 1]!;
    const growth = (key: string) => (Number(last[key]) / Number(first[key])).toFixed(2);
    console.log(
      `\nN ×${(Number(last.N) / Number(first.N)).toFixed(1)}: total time ×${growth("total s")}, p50 ×${growth("p50 drop→end s")}, ` +
        `p95 ×${growth("p95 drop→end s")}, history events/orchestration ×${growth("history events/orch (median)")}`,
    );
  }
  return rows;
}

if (require.main === module) {
  printMachine();
  const args = process.argv.slice(2).map(Number).filter((v) => v > 0);
  runThroughputBench(args).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
