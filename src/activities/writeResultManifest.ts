/** Writes the run's result manifest next to its signed package (storage/manifests.ts). */
import { writeManifest } from "../storage/manifests";
import type { WriteResultManifestInput, WriteResultManifestOutput } from "./contract";
import type { ActivityDeps } from "./deps";

export async function writeResultManifest(input: WriteResultManifestInput, deps: ActivityDeps): Promise<WriteResultManifestOutput> {
  // The manifest names its own instance; the input's instanceId is the authority for where it goes.
  const location = await writeManifest(deps.blobService, deps.config, { ...input.manifest, instanceId: input.instanceId });
  deps.log(`Result manifest (${input.manifest.outcome}) written to ${location.container}/${location.blobName}`);
  return location;
}
