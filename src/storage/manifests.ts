/**
 * The result manifest a user finds in SIGNED_CONTAINER next to the signed package (or alone, on
 * failure or rejection): `<package blob name>/<instance id>/manifest.json`.
 */
import type { BlobServiceClient } from "@azure/storage-blob";
import type { BlobLocation, PackageRef, ResultManifest } from "../domain/types";
import type { AppConfig } from "../config";
import { blobNameProblem, MAX_BLOB_NAME_LENGTH } from "../domain/packageRules";
import { redactSecrets } from "../domain/redact";
import { ensureContainer } from "./blobService";
import { withStorageErrors } from "./storageErrors";

export const MANIFEST_FILE_NAME = "manifest.json";

/** Folder of one run's results; the instance id keeps re-submissions of the same name apart. */
export function resultFolder(pkg: PackageRef, instanceId: string): string {
  // A rejected name ("../x", control characters, over-long) must not shape where results are written:
  // those go under a fixed folder (the manifest still names the package). 1024 is storage's name limit.
  if (blobNameProblem(pkg.blobName) || pkg.blobName.length > MAX_BLOB_NAME_LENGTH - RESULT_NAME_ALLOWANCE) return `${UNSAFE_NAME_FOLDER}/${instanceId}`;
  return `${pkg.blobName}/${instanceId}`;
}

/** Where results of packages whose names cannot be used as a folder go. */
export const UNSAFE_NAME_FOLDER = "_rejected-names";
/** Room kept for "/<instance id>/driverMetadata_<20 digits>.json". */
const RESULT_NAME_ALLOWANCE = 160;

export function manifestBlobName(pkg: PackageRef, instanceId: string): string {
  return `${resultFolder(pkg, instanceId)}/${MANIFEST_FILE_NAME}`;
}

/** Messages and report text come from Microsoft and may echo URLs: mask them before storing. */
export function redactManifest(manifest: ResultManifest): ResultManifest {
  return {
    ...manifest,
    messages: manifest.messages.map(redactSecrets),
    ...(manifest.errorReportText !== undefined ? { errorReportText: redactSecrets(manifest.errorReportText) } : {}),
    ...(manifest.reason !== undefined ? { reason: redactSecrets(manifest.reason) } : {}),
  };
}

/** Writes (or overwrites: the same run writes the same manifest) the manifest and says where. */
export async function writeManifest(service: BlobServiceClient, config: AppConfig, manifest: ResultManifest): Promise<BlobLocation> {
  const container = config.settings.SIGNED_CONTAINER;
  const blobName = manifestBlobName(manifest.package, manifest.instanceId);
  const body = JSON.stringify(redactManifest(manifest), null, 2);
  const contentLength = Buffer.byteLength(body);
  await withStorageErrors("Writing the result manifest", async () => {
    const containerClient = await ensureContainer(service, container);
    await containerClient.getBlockBlobClient(blobName).upload(body, contentLength, {
      blobHTTPHeaders: { blobContentType: "application/json" },
    });
  });
  return { container, blobName, contentLength };
}

/** For triggers that reject a package before any orchestration starts: the user still gets a manifest saying why. */
export function recordRejection(service: BlobServiceClient, config: AppConfig, manifest: ResultManifest): Promise<BlobLocation> {
  return writeManifest(service, config, { ...manifest, outcome: "rejected" });
}
