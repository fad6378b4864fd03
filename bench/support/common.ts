/**
 * Shared helpers of the benchmarks (not tests: they never fail CI). Every figure a benchmark prints
 * comes from one run on one machine, ours next to a baseline measured in the same run.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { createHash } from "node:crypto";
import type { BlockBlobClient } from "@azure/storage-blob";

export const MIB = 1024 * 1024;

/** Quick mode (BENCH_QUICK=1): smaller sizes and counts, for a smoke run in a minute or two. */
export function quickMode(): boolean {
  return /^(1|true|yes)$/i.test(process.env.BENCH_QUICK ?? "");
}

export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return value;
}

export interface MachineInfo {
  nproc: number;
  memoryGiB: number;
  node: string;
  date: string;
  cpu: string;
}

export function machineInfo(): MachineInfo {
  let nproc = os.cpus().length;
  try {
    nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim()) || nproc;
  } catch {
    // nproc missing: os.cpus() is close enough
  }
  return {
    nproc,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    date: new Date().toISOString().slice(0, 10),
    cpu: os.cpus()[0]?.model ?? "unknown",
  };
}

export function printMachine(): void {
  const m = machineInfo();
  console.log(`machine: nproc=${m.nproc}, memory=${m.memoryGiB} GiB, node ${m.node}, ${m.cpu}, ${m.date}`);
}

/** Prints rows as a Markdown table (so the output can be pasted into bench/README.md). */
export function printTable(title: string, rows: Record<string, string | number>[]): void {
  console.log(`\n### ${title}\n`);
  if (rows.length === 0) {
    console.log("(no rows)");
    return;
  }
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cell = (value: string | number | undefined) => (value === undefined ? "" : typeof value === "number" ? fmt(value) : value);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(cell(r[c])).length)));
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(columns));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const row of rows) console.log(line(columns.map((c) => String(cell(row[c])))));
}

export function fmt(value: number, digits = 2): string {
  if (Number.isInteger(value)) return String(value);
  return value.toFixed(Math.abs(value) >= 100 ? 0 : digits);
}

export function ratio(ours: number, baseline: number): string {
  return baseline > 0 ? `${(ours / baseline).toFixed(2)}×` : "n/a";
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The local CA the emulators' certificates chain to; processes calling them need NODE_EXTRA_CA_CERTS. */
export function assertCaTrusted(): void {
  if (!process.env.NODE_EXTRA_CA_CERTS) {
    console.warn("warning: NODE_EXTRA_CA_CERTS is not set; run with NODE_EXTRA_CA_CERTS=.local-data/tls/ca.pem (make it with node dist/local/tls.js .local-data/tls)");
  }
}

export function freeDiskGiB(dir = os.tmpdir()): number {
  try {
    const stats = fs.statfsSync(dir);
    return (stats.bavail * stats.bsize) / 1024 ** 3;
  } catch {
    return NaN;
  }
}

// ------------------------------------------------------------------ memory of a process

/** VmHWM (peak resident set) and VmRSS of a process, in bytes, from /proc (Linux only). */
export function procMemory(pid: number | "self" = "self"): { rss: number; hwm: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kib("VmRSS"), hwm: kib("VmHWM") };
  } catch {
    return undefined;
  }
}

/** Resets VmHWM to the current RSS (Linux: write 5 to clear_refs). False when not possible. */
export function resetPeakRss(pid: number | "self" = "self"): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * Samples a process's RSS every `everyMs` and reports the peak growth over the RSS at start,
 * using the kernel's VmHWM too (reset at start) so short spikes between samples are not missed.
 */
export function rssWatcher(pid: number | "self" = "self", everyMs = 20): { stop(): { baseline: number; peak: number; growth: number; hwmExact: boolean } } {
  const readRss = () => (pid === "self" ? process.memoryUsage().rss : procMemory(pid)?.rss ?? NaN);
  const hwmExact = resetPeakRss(pid);
  const baseline = readRss();
  let peak = baseline;
  const timer = setInterval(() => {
    const now = readRss();
    if (now > peak) peak = now;
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      const hwm = hwmExact ? procMemory(pid)?.hwm ?? NaN : NaN;
      const top = Math.max(peak, Number.isNaN(hwm) ? 0 : hwm);
      return { baseline, peak: top, growth: top - baseline, hwmExact };
    },
  };
}

export function mib(bytes: number): number {
  return Math.round((bytes / MIB) * 10) / 10;
}

// ------------------------------------------------------------------ big blobs without holding them

/**
 * A stream of `size` pseudo-random bytes made 1 MiB at a time (a fresh 1 MiB buffer per chunk,
 * varied by a counter so blocks differ), so a 1 GiB blob never sits in the generator's memory.
 */
export function generatedStream(size: number, seed = 1): { stream: Readable; md5: () => Buffer } {
  const base = Buffer.alloc(MIB);
  let state = seed;
  for (let i = 0; i < base.length; i += 4) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    base.writeUInt32LE(state >>> 0, i);
  }
  const hash = createHash("md5");
  let produced = 0;
  let chunkIndex = 0;
  const stream = new Readable({
    read() {
      if (produced >= size) {
        this.push(null);
        return;
      }
      const length = Math.min(MIB, size - produced);
      const chunk = Buffer.from(base.subarray(0, length));
      chunk.writeUInt32LE(chunkIndex++ >>> 0, 0);
      chunk.writeUInt32LE(seed >>> 0, 4);
      produced += length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  let digest: Buffer | undefined;
  return { stream, md5: () => (digest ??= hash.digest()) };
}

/**
 * Uploads `size` generated bytes to `blob` by streaming (4 MiB blocks), then records the blob's
 * Content-MD5 as a portal upload would, so copies are verified by length and MD5.
 */
export async function uploadGenerated(blob: BlockBlobClient, size: number, seed = 1): Promise<{ md5: Buffer }> {
  const { stream, md5 } = generatedStream(size, seed);
  await blob.uploadStream(stream, 4 * MIB, 4, { blobHTTPHeaders: { blobContentType: "application/octet-stream" } });
  const digest = md5();
  await blob.setHTTPHeaders({ blobContentType: "application/octet-stream", blobContentMD5: digest });
  return { md5: digest };
}

export function distPath(...parts: string[]): string {
  // dist/bench/support/common.js → dist/
  return path.join(__dirname, "..", "..", ...parts);
}
