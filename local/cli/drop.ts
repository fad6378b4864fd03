/**
 * `npm run drop -- <package file> [sidecar.json]`: uploads a driver package (and optionally its
 * sidecar, first, so the trigger sees it) into the drops container of the stack `npm run local`
 * is running, the way a user's CI would upload to Azure Storage.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { APP_CONTAINERS } from "../stack";

const CONNECTION_FILE = path.resolve(".local-data/run/storage-connection-string.txt");
const KEYS_FILE = path.resolve(".local-data/run/keys.json");

async function main(): Promise<void> {
  const [packagePath, sidecarPath] = process.argv.slice(2);
  if (!packagePath) throw new Error("usage: npm run drop -- <package.hlkx|.hckx|.cab> [sidecar.json]");
  if (!fs.existsSync(CONNECTION_FILE)) throw new Error("no local stack found: start it with `npm run local` in another terminal");
  const containers = BlobServiceClient.fromConnectionString(fs.readFileSync(CONNECTION_FILE, "utf8").trim());
  const drops = containers.getContainerClient(APP_CONTAINERS.drops);
  const blobName = path.basename(packagePath);
  if (sidecarPath) {
    await drops.getBlockBlobClient(`${blobName}.json`).uploadFile(sidecarPath, { blobHTTPHeaders: { blobContentType: "application/json" } });
    console.log(`uploaded sidecar ${APP_CONTAINERS.drops}/${blobName}.json`);
  }
  await drops.getBlockBlobClient(blobName).uploadFile(packagePath);
  console.log(
    `dropped ${APP_CONTAINERS.drops}/${blobName}; follow it with GET /api/submissions on the local runtime ` +
      `(x-functions-key: functionKeys.default of ${path.relative(process.cwd(), KEYS_FILE)})`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
