/**
 * Child process of bench/copy.ts: runs ONE copy of a package blob and reports its wall time and
 * the peak RSS growth of this process, as one JSON line on stdout. A separate process, so the
 * figure holds only the copy (not the generator, not another run's garbage).
 *
 *   node --expose-gc dist/bench/support/copyWorker.js '<json WorkerJob>'
 *
 * Modes:
 *   activityServerSide  copyPackage (the app's activity) into an upload blob in the SAME Azurite
 *   activityStreaming   copyPackage into an upload blob in a SECOND Azurite (cannot read ours:
 *                       CannotVerifyCopySource), which forces the streaming fallback
 *   rawServerSide       @azure/storage-blob beginCopyFromURL + pollUntilDone, same Azurite
 *   rawStreaming        @azure/storage-blob download() piped into uploadStream, second Azurite
 */
import { randomUUID } from "node:crypto";
import { BlobServiceClient } from "@azure/storage-blob";
import { copyPackage } from "../../src/activities/copyPackage";
import { startActivityBudget } from "../../src/activities/deps";
import { parseConfig } from "../../src/config";
import { createReadSasUrl } from "../../src/storage/sas";
import { FakeHdc, FakeCredential } from "../../test/unit/activities/support";
import { MIB, rssWatcher } from "./common";

export type CopyMode = "activityServerSide" | "activityStreaming" | "rawServerSide" | "rawStreaming";

export interface WorkerJob {
  mode: CopyMode;
  oursConnectionString: string;
  /** Storage playing Microsoft's ingestion account (same as ours for the server-side modes). */
  ingestionConnectionString: string;
  container: string;
  blobName: string;
  pollMs: number;
  blockMiB: number;
  concurrency: number;
}

export interface WorkerResult {
  mode: CopyMode;
  ms: number;
  bytes: number;
  method?: string;
  verified?: string;
  rssBaseline: number;
  rssPeak: number;
  rssGrowth: number;
  hwmExact: boolean;
  /** Where the copy landed (the parent deletes it). */
  destination: { connection: "ours" | "ingestion"; container: string; blobName: string };
}

const INGESTION = "ingestion";

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "{}") as WorkerJob;
  const ours = BlobServiceClient.fromConnectionString(job.oursConnectionString);
  const ingestion = BlobServiceClient.fromConnectionString(job.ingestionConnectionString);
  await ingestion.getContainerClient(INGESTION).createIfNotExists();
  const sameAccount = job.oursConnectionString === job.ingestionConnectionString;
  const destination = { connection: (sameAccount ? "ours" : "ingestion") as "ours" | "ingestion", container: INGESTION, blobName: "" };

  let run: () => Promise<{ bytes: number; method?: string; verified?: string }>;
  if (job.mode === "activityServerSide" || job.mode === "activityStreaming") {
    const config = parseConfig({
      AzureWebJobsStorage: job.oursConnectionString,
      HDC_TENANT_ID: "11111111-2222-3333-4444-555555555555",
      HDC_CLIENT_ID: "66666666-7777-8888-9999-000000000000",
      HDC_CLIENT_SECRET: "bench-secret-not-used",
      HDC_API_BASE_URL: "https://127.0.0.1:9/v2.0/my/",
      HDC_AUTHORITY_HOST: "http://127.0.0.1:9",
      COPY_POLL_MS: String(job.pollMs),
      STREAM_BLOCK_MIB: String(job.blockMiB),
      STREAM_CONCURRENCY: String(job.concurrency),
      HDC_ALLOWED_URL_HOST_SUFFIXES: "127.0.0.1",
    });
    const hdc = new FakeHdc(ingestion, INGESTION);
    const product = await hdc.createProduct({ productName: "Copy benchmark", testHarness: "attestation", requestedSignatures: [] });
    const submission = await hdc.createSubmission(product.id, { name: "initial", type: "initial" });
    destination.blobName = String(hdc.submission(product.id, submission.id).uploadBlob);
    const logLines: string[] = [];
    const deps = {
      config,
      hdc,
      blobService: ours,
      identity: { kind: "clientSecret" as const, tenantId: config.settings.HDC_TENANT_ID, clientId: config.settings.HDC_CLIENT_ID, credential: new FakeCredential() },
      log: (line: string) => logLines.push(line),
      budget: startActivityBudget(config.settings.ACTIVITY_DEADLINE_MINUTES),
    };
    run = async () => {
      const out = await copyPackage({ productId: product.id, submissionId: submission.id, package: { container: job.container, blobName: job.blobName } }, deps);
      return { bytes: out.bytesCopied, method: out.method, verified: out.verified };
    };
  } else if (job.mode === "rawServerSide") {
    const sourceUrl = await createReadSasUrl(ours, job.container, job.blobName, 60);
    destination.blobName = `raw-${randomUUID()}`;
    const target = ingestion.getContainerClient(INGESTION).getBlockBlobClient(destination.blobName);
    run = async () => {
      const poller = await target.beginCopyFromURL(sourceUrl, { intervalInMs: job.pollMs });
      const result = await poller.pollUntilDone();
      if (result.copyStatus !== "success") throw new Error(`raw copy ended ${result.copyStatus}`);
      return { bytes: (await target.getProperties()).contentLength ?? 0, method: "serverSideCopy" };
    };
  } else {
    destination.blobName = `raw-stream-${randomUUID()}`;
    const source = ours.getContainerClient(job.container).getBlockBlobClient(job.blobName);
    const target = ingestion.getContainerClient(INGESTION).getBlockBlobClient(destination.blobName);
    run = async () => {
      const download = await source.download();
      await target.uploadStream(download.readableStreamBody as NodeJS.ReadableStream as import("node:stream").Readable, job.blockMiB * MIB, job.concurrency);
      return { bytes: download.contentLength ?? 0, method: "streaming" };
    };
  }

  global.gc?.();
  global.gc?.();
  const watcher = rssWatcher("self", 10);
  const started = performance.now();
  const outcome = await run();
  const ms = performance.now() - started;
  const memory = watcher.stop();
  const result: WorkerResult = {
    mode: job.mode,
    ms,
    ...outcome,
    rssBaseline: memory.baseline,
    rssPeak: memory.peak,
    rssGrowth: memory.growth,
    hwmExact: memory.hwmExact,
    destination,
  };
  process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((error: unknown) => {
  process.stderr.write(`copy worker failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
