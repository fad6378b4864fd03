/**
 * Child process of bench/upload.ts: ONE upload of a local file to a write SAS URL, reporting wall
 * time and this process's peak RSS growth as one JSON line on stdout.
 *
 *   BENCH_UPLOAD_SAS=<url> node dist/bench/support/uploadWorker.js <cli|sdk> <file>
 *
 * Modes:
 *   cli  what `driver-sign submit` does with the file: streamed SHA-256, then uploadPackageFile
 *        (8 MiB blocks × 4, the sha256 metadata set on commit)
 *   sdk  @azure/storage-blob BlockBlobClient.uploadFile with its defaults
 */
import { BlockBlobClient } from "@azure/storage-blob";
import { hashFile, uploadPackageFile } from "../../cli/files";
import { rssWatcher } from "./common";

export type UploadMode = "cli" | "sdk";

export interface UploadWorkerResult {
  mode: UploadMode;
  ms: number;
  hashMs: number;
  rssBaseline: number;
  rssPeak: number;
  rssGrowth: number;
  /** process.resourceUsage().maxRSS (bytes): the kernel's peak for the whole process life. */
  maxRss: number;
  hwmExact: boolean;
}

async function main(): Promise<void> {
  const mode = process.argv[2] as UploadMode;
  const file = process.argv[3] ?? "";
  const sasUrl = process.env.BENCH_UPLOAD_SAS ?? "";
  if ((mode !== "cli" && mode !== "sdk") || !file || !sasUrl) throw new Error("usage: BENCH_UPLOAD_SAS=<url> uploadWorker.js <cli|sdk> <file>");
  const watcher = rssWatcher("self", 10);
  const started = Date.now();
  let hashMs = 0;
  if (mode === "cli") {
    const { sha256 } = await hashFile(file);
    hashMs = Date.now() - started;
    await uploadPackageFile(sasUrl, file, { metadata: { sha256 } });
  } else {
    await new BlockBlobClient(sasUrl).uploadFile(file);
  }
  const ms = Date.now() - started;
  const memory = watcher.stop();
  const result: UploadWorkerResult = {
    mode,
    ms,
    hashMs,
    rssBaseline: memory.baseline,
    rssPeak: memory.peak,
    rssGrowth: memory.growth,
    maxRss: process.resourceUsage().maxRSS * 1024,
    hwmExact: memory.hwmExact,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  // The SDK's message may quote the SAS URL.
  process.stderr.write(`${String((error as Error).message).replace(/sig=[^&\s]*/gi, "sig=REDACTED")}\n`);
  process.exitCode = 1;
});
