/** Writes the run's result manifest next to its signed package (storage/manifests.ts). */
import type { ResultManifest } from "../domain/types";
import { writeManifest } from "../storage/manifests";
import { readPackageCopied } from "../storage/packageRecords";
import type { WriteResultManifestInput, WriteResultManifestOutput } from "./contract";
import type { ActivityDeps } from "./deps";

export async function writeResultManifest(input: WriteResultManifestInput, deps: ActivityDeps): Promise<WriteResultManifestOutput> {
  // The manifest names its own instance; the input's instanceId is the authority for where it goes.
  const manifest = await withPackageVersion({ ...input.manifest, instanceId: input.instanceId }, deps);
  const location = await writeManifest(deps.blobService, deps.config, manifest);
  deps.log(`Result manifest (${input.manifest.outcome}) written to ${location.container}/${location.blobName}`);
  return location;
}

/**
 * Adds the package version copyPackage gave this submission (read here, not passed through the
 * orchestrator, so its history and yielded actions stay as they were). Only a record of this very
 * package counts.
 */
async function withPackageVersion(manifest: ResultManifest, deps: ActivityDeps): Promise<ResultManifest> {
  const { productId, submissionId } = manifest;
  if (manifest.packageVersion || !productId || !submissionId) return manifest;
  const version = await readPackageCopied(deps.blobService, deps.config, { productId, submissionId });
  if (!version || version.container !== manifest.package.container || version.blobName !== manifest.package.blobName) return manifest;
  return { ...manifest, packageVersion: version };
}
