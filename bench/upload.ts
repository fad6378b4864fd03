/**
 * Upload benchmark: a generated package uploaded to Azurite through the driver-sign CLI's upload
 * code (streamed SHA-256 + uploadPackageFile: 8 MiB blocks × 4, metadata on commit) vs the raw
 * SDK's BlockBlobClient.uploadFile of the same file, each in its own child process. Reports the
 * wall-time ratio and the ratio of peak RSS growth: a 4 GiB package must not need 4 GiB.
 *
 *   node dist/bench/upload.js [sizeMiB]      (or BENCH_UPLOAD_MIB; default 1024, 64 with BENCH_QUICK=1)
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import { BlobServiceClient } from "@azure/storage-blob";
import { startAzurite, type AzuriteHandle } from "../local/azurite";
import { createUploadSasUrl } from "../src/storage/userSas";
import { envNumber, freeDiskGiB, generatedStream, MIB, mib, printMachine, printTable, quickMode, ratio } from "./support/common";
import type { UploadMode, UploadWorkerResult } from "./support/uploadWorker";

const CONTAINER = "driver-drops";

export interface UploadBenchResult {
  sizeMiB: number;
  rows: Record<string, string | number>[];
  results: UploadWorkerResult[];
}

function runWorker(mode: UploadMode, file: string, sasUrl: string): Promise<UploadWorkerResult> {
  const script = path.join(__dirname, "support", "uploadWorker.js");
  return new Promise((resolve, reject) => {
    // The SAS goes through the environment, not argv (visible in process lists).
    const child = spawn(process.execPath, [script, mode, file], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, BENCH_UPLOAD_SAS: sasUrl } });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk) => (out += String(chunk)));
    child.stderr.on("data", (chunk) => (err += String(chunk)));
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) return reject(new Error(`upload worker (${mode}) exited ${code}: ${err.trim().slice(-2000)}`));
      resolve(JSON.parse(line) as UploadWorkerResult);
    });
  });
}

export async function runUploadBench(sizeMiB?: number): Promise<UploadBenchResult> {
  const size = Math.round((sizeMiB ?? envNumber("BENCH_UPLOAD_MIB", quickMode() ? 64 : 1024)) * MIB);
  const needGiB = (size * 4) / 1024 ** 3 + 0.5;
  if (freeDiskGiB() < needGiB) throw new Error(`upload benchmark needs about ${needGiB.toFixed(1)} GiB free in ${os.tmpdir()}`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "bench-upload-"));
  let azurite: AzuriteHandle | undefined;
  try {
    const file = path.join(root, "bench-package.hlkx");
    await pipeline(generatedStream(size, 7).stream, fs.createWriteStream(file));
    azurite = await startAzurite({ dataDir: path.join(root, "azurite") });
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    await service.getContainerClient(CONTAINER).createIfNotExists();

    const results: UploadWorkerResult[] = [];
    // SDK first, then the CLI: each into its own blob, each with a fresh write-only SAS.
    for (const mode of ["sdk", "cli"] as UploadMode[]) {
      const blobName = `bench/${mode}/bench-package.hlkx`;
      const sas = await createUploadSasUrl(service, CONTAINER, blobName);
      const result = await runWorker(mode, file, sas.url);
      const landed = await service.getContainerClient(CONTAINER).getBlobClient(blobName).getProperties();
      if (landed.contentLength !== size) throw new Error(`${mode} upload landed ${landed.contentLength} bytes, expected ${size}`);
      results.push(result);
      await service.getContainerClient(CONTAINER).getBlobClient(blobName).delete();
    }
    const sdk = results[0];
    const rows = results.map((r) => ({
      path: r.mode === "sdk" ? "raw SDK uploadFile (defaults)" : "driver-sign (SHA-256 + 8 MiB × 4 blocks)",
      "wall ms": r.ms,
      "of which hashing ms": r.hashMs,
      "vs raw SDK": ratio(r.ms, sdk.ms),
      "MiB/s": Math.round(size / MIB / (r.ms / 1000)),
      "peak RSS growth MiB": mib(r.rssGrowth),
      "growth vs raw SDK": ratio(r.rssGrowth, sdk.rssGrowth),
      "maxRSS MiB": mib(r.maxRss),
    }));
    printTable(`Upload, ${mib(size)} MiB package to Azurite`, rows);
    const cli = results[1];
    console.log(`\n- driver-sign peak RSS growth: ${mib(cli.rssGrowth)} MiB for ${mib(size)} MiB (${((cli.rssGrowth / size) * 100).toFixed(1)}% of the package).`);
    return { sizeMiB: mib(size), rows, results };
  } finally {
    await azurite?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (require.main === module) {
  printMachine();
  const arg = process.argv[2] ? Number(process.argv[2]) : undefined;
  runUploadBench(arg).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
