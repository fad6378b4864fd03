/**
 * What copyPackage gave a submission: the package version (ETag, version id, size, MD5), kept in
 * STATE_CONTAINER under the submission's ids so writeResultManifest can name it, however many
 * continueAsNew generations later. Written after the verified copy; a retry writes the same facts.
 */
import type { BlobServiceClient } from "@azure/storage-blob";
import type { AppConfig } from "../config";
import type { PackageVersion } from "../domain/types";
import { readStateJson, writeStateJson } from "./checkpoints";

export function packageRecordBlobName(ids: { productId: string; submissionId: string }): string {
  return `packages/${ids.productId}/${ids.submissionId}.json`;
}

export async function recordPackageCopied(
  service: BlobServiceClient,
  config: AppConfig,
  ids: { productId: string; submissionId: string },
  version: PackageVersion,
): Promise<void> {
  await writeStateJson(service, config, packageRecordBlobName(ids), version);
}

export function readPackageCopied(service: BlobServiceClient, config: AppConfig, ids: { productId: string; submissionId: string }): Promise<PackageVersion | undefined> {
  return readStateJson<PackageVersion>(service, config, packageRecordBlobName(ids));
}
