/**
 * Preproduction upload benchmark (issue 40): the package must pass through the app (PUT of the raw
 * body, no SAS), so this measures what that costs per GiB. A generated package in Azurite is sent by
 * the app's uploadPreprodPackage activity and, as the baseline, by a bare download()→https PUT, each
 * in its own child process, to an HTTPS sink in this process that counts and hashes what arrives and
 * discards it. Reports seconds per GiB, and peak RSS growth against the package size.
 *
 *   node dist/bench/preprod.js [sizeMiB]      (or BENCH_PREPROD_MIB; default 1024, 64 with BENCH_QUICK=1)
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import type { AddressInfo } from "node:net";
import { BlobServiceClient } from "@azure/storage-blob";
import { startAzurite, type AzuriteHandle } from "../local/azurite";
import { ensureLocalCa, issueServerCertificate } from "../local/tls";
import { assertCaTrusted, envNumber, freeDiskGiB, MIB, mib, printMachine, printTable, quickMode, ratio, uploadGenerated } from "./support/common";
import type { PreprodMode, PreprodWorkerResult } from "./support/preprodWorker";

const CONTAINER = "driver-drops";
const GIB = 1024 * MIB;

interface Received {
  bytes: number;
  sha256: string;
}

/** An HTTPS server that takes PUT bodies, counts and hashes them, keeps nothing, and answers a package object. */
async function startSink(tlsDir: string): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const { certPem, keyPem } = issueServerCertificate(ensureLocalCa(tlsDir));
  const received: Received[] = [];
  let next = 1;
  const server = https.createServer({ cert: certPem, key: keyPem }, (request, response) => {
    const hash = createHash("sha256");
    let bytes = 0;
    request.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    request.on("end", () => {
      received.push({ bytes, sha256: hash.digest("hex") });
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ id: String(next++), signingStatus: "NotStarted", error: null, assets: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `https://127.0.0.1:${port}/v2.0/my/`, received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function runWorker(mode: PreprodMode, blobName: string, sink: string, connection: string): Promise<PreprodWorkerResult> {
  const script = path.join(__dirname, "support", "preprodWorker.js");
  return new Promise((resolve, reject) => {
    // The connection string (an account key) goes through the environment, not argv.
    const child = spawn(process.execPath, [script, mode, CONTAINER, blobName, sink], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, BENCH_PREPROD_CONN: connection } });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk) => (out += String(chunk)));
    child.stderr.on("data", (chunk) => (err += String(chunk)));
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) return reject(new Error(`preprod worker (${mode}) exited ${code}: ${err.trim().slice(-2000)}`));
      resolve(JSON.parse(line) as PreprodWorkerResult);
    });
  });
}

export async function runPreprodBench(sizeMiB?: number): Promise<{ sizeMiB: number; rows: Record<string, string | number>[] }> {
  assertCaTrusted();
  const size = Math.round((sizeMiB ?? envNumber("BENCH_PREPROD_MIB", quickMode() ? 64 : 1024)) * MIB);
  const needGiB = (size * 2) / GIB + 0.5;
  if (freeDiskGiB() < needGiB) throw new Error(`preprod benchmark needs about ${needGiB.toFixed(1)} GiB free in ${os.tmpdir()}`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "bench-preprod-"));
  let azurite: AzuriteHandle | undefined;
  const sink = await startSink(path.resolve(".local-data/tls"));
  try {
    azurite = await startAzurite({ dataDir: path.join(root, "azurite") });
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    await service.getContainerClient(CONTAINER).createIfNotExists();
    const blobName = "bench/preprod-package.cab";
    await uploadGenerated(service.getContainerClient(CONTAINER).getBlockBlobClient(blobName), size, 11);

    const results: PreprodWorkerResult[] = [];
    for (const mode of ["raw", "app"] as PreprodMode[]) {
      const before = sink.received.length;
      results.push(await runWorker(mode, blobName, sink.url, azurite.connectionString));
      const got = sink.received.slice(before);
      if (got.length !== 1 || got[0]!.bytes !== size) throw new Error(`${mode}: the sink received ${got.map((r) => r.bytes).join(", ")} bytes, expected one body of ${size}`);
    }
    const [raw, app] = results as [PreprodWorkerResult, PreprodWorkerResult];
    if (new Set(sink.received.map((r) => r.sha256)).size !== 1) throw new Error("the two bodies differ");
    const rows = results.map((r) => ({
      path: r.mode === "raw" ? "raw download() → https PUT" : "uploadPreprodPackage (app)",
      "wall ms": r.ms,
      "s per GiB": Math.round((r.ms / 1000 / (size / GIB)) * 10) / 10,
      "MiB/s": Math.round(size / MIB / (r.ms / 1000)),
      "vs raw": ratio(r.ms, raw.ms),
      "peak RSS growth MiB": mib(r.rssGrowth),
      "growth / package size": `${((r.rssGrowth / size) * 100).toFixed(1)}%`,
      "maxRSS MiB": mib(r.maxRss),
    }));
    printTable(`Preprod upload, ${mib(size)} MiB package from Azurite through the app to an HTTPS sink`, rows);
    console.log(`\n- The app's peak RSS growth: ${mib(app.rssGrowth)} MiB for ${mib(size)} MiB (${((app.rssGrowth / size) * 100).toFixed(1)}% of the package); time ${ratio(app.ms, raw.ms)} the bare stream.`);
    return { sizeMiB: mib(size), rows };
  } finally {
    await sink.close();
    await azurite?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (require.main === module) {
  printMachine();
  const arg = process.argv[2] ? Number(process.argv[2]) : undefined;
  runPreprodBench(arg).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
