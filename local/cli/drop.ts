/**
 * `npm run drop -- <package file> [sidecar.json]`: uploads a driver package (and optionally its
 * sidecar, first, so the trigger sees it) into the drops container of the stack `npm run local`
 * is running, the way a user's CI would upload to Azure Storage.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { APP_CONTAINERS } from "../stack";
import { instanceIdForPackage } from "../../src/domain/instanceId";

const CONNECTION_FILE = path.resolve(".local-data/run/storage-connection-string.txt");
const KEYS_FILE = path.resolve(".local-data/run/keys.json");
const API_URL_FILE = path.resolve(".local-data/run/api-url.txt");

/** The sidecar's `signing`; an unreadable sidecar is the trigger's to reject (under the product id). */
function sidecarSigning(text: string): unknown {
  try {
    return (JSON.parse(text) as { signing?: unknown } | null)?.signing;
  } catch {
    return undefined;
  }
}

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
  const uploaded = await drops.getBlockBlobClient(blobName).uploadFile(packagePath);
  if (!uploaded.etag) throw new Error(`storage answered the upload of ${blobName} without an ETag`);
  // The same id the trigger derives from this blob version and the sidecar's signing kind (src/domain/instanceId.ts).
  const signing = sidecarPath ? sidecarSigning(fs.readFileSync(sidecarPath, "utf8")) : undefined;
  const id = instanceIdForPackage(APP_CONTAINERS.drops, blobName, uploaded.etag, signing === "preproduction" ? "preproduction" : undefined);
  const apiUrl = fs.existsSync(API_URL_FILE) ? fs.readFileSync(API_URL_FILE, "utf8").trim() : "http://127.0.0.1:7071/api";
  const keys = path.relative(process.cwd(), KEYS_FILE);
  console.log(`dropped ${APP_CONTAINERS.drops}/${blobName}`);
  console.log(`  id:        ${id}`);
  console.log(`  status:    ${apiUrl}/submissions/${id}`);
  console.log(`  dashboard: ${apiUrl}/dashboard?id=${id}&code=<key>`);
  console.log(`  key:       functionKeys.default in ${keys} (send it as the x-functions-key header, or ?code= for the page)`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
