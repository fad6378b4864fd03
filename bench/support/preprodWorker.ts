/**
 * Child process of bench/preprod.ts: ONE send of a package blob (Azurite) as the raw body of a PUT
 * to an HTTPS sink, reporting wall time and this process's peak RSS growth as one JSON line.
 *
 *   BENCH_PREPROD_CONN=<azurite connection string> node dist/bench/support/preprodWorker.js <app|raw> <container> <blob> <sinkBaseUrl>
 *
 * Modes:
 *   app  the app's activity uploadPreprodPackage (ETag check, intent record, body factory through
 *        HdcClient's pipeline with its policies, id record)
 *   raw  the bare minimum: BlobClient.download() piped into one node https PUT
 */
import * as https from "node:https";
import { BlobServiceClient } from "@azure/storage-blob";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { startActivityBudget, type ActivityDeps } from "../../src/activities/deps";
import { uploadPreprodPackage } from "../../src/activities/uploadPreprodPackage";
import type { AppConfig } from "../../src/config";
import { HdcClient } from "../../src/hdc/client";
import { rssWatcher } from "./common";

export type PreprodMode = "app" | "raw";

export interface PreprodWorkerResult {
  mode: PreprodMode;
  ms: number;
  bytes: number;
  rssBaseline: number;
  rssGrowth: number;
  maxRss: number;
  hwmExact: boolean;
}

/** The sink checks nothing; a fixed token keeps Entra out of the measurement. */
const staticCredential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: "bench-token", expiresOnTimestamp: Date.now() + 3600_000 }),
};

async function main(): Promise<void> {
  const [mode, container, blobName, sink] = process.argv.slice(2) as [PreprodMode, string, string, string];
  const connection = process.env.BENCH_PREPROD_CONN ?? "";
  if ((mode !== "app" && mode !== "raw") || !container || !blobName || !sink || !connection) throw new Error("usage: see the file header");
  const blobService = BlobServiceClient.fromConnectionString(connection);
  const blob = blobService.getContainerClient(container).getBlobClient(blobName);
  const properties = await blob.getProperties();
  const size = properties.contentLength ?? 0;

  const watcher = rssWatcher("self", 10);
  const started = Date.now();
  if (mode === "app") {
    const hdc = new HdcClient({ baseUrl: sink, credential: staticCredential, scope: "bench/.default", timeoutMs: 3600_000, maxRetries: 0, retryDelayMs: 10 });
    // Only the settings the activity reads (the state container for its record).
    const config = { settings: { STATE_CONTAINER: "signing-state" } } as unknown as AppConfig;
    const deps = { config, hdc, blobService, log: () => undefined, budget: startActivityBudget(60) } as unknown as ActivityDeps;
    await uploadPreprodPackage({ instanceId: `bench-${Date.now()}`, package: { container, blobName, etag: properties.etag, contentLength: size } }, deps);
  } else {
    const download = await blob.download(0, undefined, { conditions: { ifMatch: properties.etag } });
    await new Promise<void>((resolve, reject) => {
      const request = https.request(new URL("hardware/preprod/packages/", sink), { method: "PUT", headers: { "content-type": "application/octet-stream", "content-length": String(size) } }, (response) => {
        response.resume();
        response.on("end", () => (response.statusCode === 200 ? resolve() : reject(new Error(`sink answered ${response.statusCode}`))));
      });
      request.on("error", reject);
      download.readableStreamBody!.pipe(request);
    });
  }
  const ms = Date.now() - started;
  const memory = watcher.stop();
  const result: PreprodWorkerResult = {
    mode,
    ms,
    bytes: size,
    rssBaseline: memory.baseline,
    rssGrowth: memory.growth,
    maxRss: process.resourceUsage().maxRSS * 1024,
    hwmExact: memory.hwmExact,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
  process.exitCode = 1;
});
