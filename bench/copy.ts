/**
 * Copy benchmark: a package blob through the copyPackage activity vs the raw @azure/storage-blob
 * copy of the same blob in the same Azurite, and the streaming fallback vs a raw SDK stream.
 * Reports wall time ratios and the peak RSS growth of the process that runs the copy.
 *
 *   node dist/bench/copy.js [sizeMiB]        (or BENCH_COPY_MIB; default 1024, 64 with BENCH_QUICK=1)
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { startAzurite, type AzuriteHandle } from "../local/azurite";
import { envNumber, freeDiskGiB, MIB, mib, printMachine, printTable, quickMode, ratio, uploadGenerated } from "./support/common";
import type { CopyMode, WorkerJob, WorkerResult } from "./support/copyWorker";

const CONTAINER = "driver-drops";
/** Memory budget for the server-side path: package size must not show up in our memory. */
const TARGET_GROWTH_MIB = 64;

export interface CopyBenchResult {
  sizeMiB: number;
  rows: Record<string, string | number>[];
  results: WorkerResult[];
}

async function runWorker(job: WorkerJob): Promise<WorkerResult> {
  const script = path.join(__dirname, "support", "copyWorker.js");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", script, JSON.stringify(job)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk) => (out += String(chunk)));
    child.stderr.on("data", (chunk) => (err += String(chunk)));
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) return reject(new Error(`copy worker (${job.mode}) exited ${code}: ${err.trim().slice(-2000)}`));
      resolve(JSON.parse(line) as WorkerResult);
    });
  });
}

export async function runCopyBench(sizeMiB?: number): Promise<CopyBenchResult> {
  const size = Math.round((sizeMiB ?? envNumber("BENCH_COPY_MIB", quickMode() ? 64 : 1024)) * MIB);
  const needGiB = (size * 5) / 1024 ** 3 + 0.5;
  if (freeDiskGiB() < needGiB) throw new Error(`copy benchmark needs about ${needGiB.toFixed(1)} GiB free in ${os.tmpdir()}`);
  const pollMs = envNumber("BENCH_COPY_POLL_MS", 200);
  const blockMiB = 8; // the app's defaults (STREAM_BLOCK_MIB, STREAM_CONCURRENCY)
  const concurrency = 2;

  const root = fs.mkdtempSync(path.join(os.tmpdir(), "bench-copy-"));
  let ours: AzuriteHandle | undefined;
  let microsoft: AzuriteHandle | undefined;
  try {
    [ours, microsoft] = await Promise.all([startAzurite({ dataDir: path.join(root, "ours") }), startAzurite({ dataDir: path.join(root, "microsoft") })]);
    const oursService = BlobServiceClient.fromConnectionString(ours.connectionString);
    const microsoftService = BlobServiceClient.fromConnectionString(microsoft.connectionString);
    await oursService.getContainerClient(CONTAINER).createIfNotExists();

    const blobName = `bench-${size}.cab`;
    const generated = Date.now();
    await uploadGenerated(oursService.getContainerClient(CONTAINER).getBlockBlobClient(blobName), size);
    console.log(`generated ${mib(size)} MiB package by streaming in ${Date.now() - generated} ms`);

    const modes: CopyMode[] = ["rawServerSide", "activityServerSide", "rawStreaming", "activityStreaming"];
    const results: WorkerResult[] = [];
    for (const mode of modes) {
      const streaming = mode.endsWith("Streaming");
      const job: WorkerJob = {
        mode,
        oursConnectionString: ours.connectionString,
        ingestionConnectionString: streaming ? microsoft.connectionString : ours.connectionString,
        container: CONTAINER,
        blobName,
        pollMs,
        blockMiB,
        concurrency,
      };
      const result = await runWorker(job);
      results.push(result);
      console.log(`  ${mode}: ${Math.round(result.ms)} ms, ${result.method ?? ""}, RSS +${mib(result.rssGrowth)} MiB`);
      // Keep the disk bounded: drop each copy once measured.
      const service = result.destination.connection === "ours" ? oursService : microsoftService;
      await service.getContainerClient(result.destination.container).getBlobClient(result.destination.blobName).deleteIfExists();
      if (result.bytes !== size) throw new Error(`${mode} copied ${result.bytes} bytes, expected ${size}`);
    }

    const by = (mode: CopyMode) => results.find((r) => r.mode === mode)!;
    const row = (label: string, mode: CopyMode, baseline: CopyMode) => {
      const r = by(mode);
      return {
        path: label,
        "size MiB": mib(size),
        method: r.method ?? "",
        verified: r.verified ?? "-",
        "wall ms": Math.round(r.ms),
        "vs raw SDK": mode === baseline ? "1.00× (baseline)" : ratio(r.ms, by(baseline).ms),
        "MiB/s": Math.round(size / MIB / (r.ms / 1000)),
        "peak RSS growth MiB": mib(r.rssGrowth),
      };
    };
    const rows = [
      row("raw beginCopyFromURL", "rawServerSide", "rawServerSide"),
      row("copyPackage (server-side)", "activityServerSide", "rawServerSide"),
      row("raw download→uploadStream", "rawStreaming", "rawStreaming"),
      row("copyPackage (streaming fallback)", "activityStreaming", "rawStreaming"),
    ];
    printTable(`Copy, ${mib(size)} MiB package (copy poll ${pollMs} ms, stream blocks ${blockMiB} MiB × ${concurrency})`, rows);
    const serverSide = by("activityServerSide");
    console.log(
      `\nserver-side copyPackage RSS growth ${mib(serverSide.rssGrowth)} MiB for ${mib(size)} MiB ` +
        `(target < ${TARGET_GROWTH_MIB} MiB): ${serverSide.rssGrowth < TARGET_GROWTH_MIB * MIB ? "met" : "NOT met"}; ` +
        `streaming fallback ${mib(by("activityStreaming").rssGrowth)} MiB (bound ≈ blocks × concurrency = ${blockMiB * concurrency} MiB plus SDK buffers)` +
        (serverSide.hwmExact ? "" : " [VmHWM reset unavailable: sampled every 10 ms]"),
    );
    return { sizeMiB: mib(size), rows, results };
  } finally {
    await Promise.all([ours?.stop(), microsoft?.stop()]);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (require.main === module) {
  printMachine();
  const arg = process.argv[2] ? Number(process.argv[2]) : undefined;
  runCopyBench(arg).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
