/**
 * The service's own record of each upload URL it issued (POST /api/uploads), in STATE_CONTAINER
 * under `uploads/<uploadId>.json`. The record, not the blob's metadata (which the SAS holder
 * writes), is what says which sha256 and size the caller claimed and which blob version the service
 * pinned when the package was first started. Written once (create-only), then pinned once
 * (ETag-conditional), so two starts racing cannot pin two versions.
 */
import type { BlobServiceClient } from "@azure/storage-blob";
import type { AppConfig } from "../config";
import type { Owner } from "../domain/authorization";
import { ensureContainer } from "./blobService";
import { storageStatusCode, toStorageOperationError, withStorageErrors } from "./storageErrors";

export interface UploadRecord {
  uploadId: string;
  container: string;
  blobName: string;
  /** The caller's full SHA-256 (lower-case hex), as validated by POST /api/uploads. */
  sha256: string;
  /** The size the caller claimed, in bytes. */
  size: number;
  /**
   * SHA-256 (hex) of the upload key handed to the caller once. The upload id is in the blob's name,
   * which statuses and lists show; the key is what proves a later request is the uploader's.
   */
  keySha256: string;
  createdAt: string;
  /** When the upload URL stops accepting writes. */
  expiresOn: string;
  /** Who asked for the upload URL (issue 32): the package is theirs. Absent for a key holder's and older records. */
  owner?: Owner;
  /** The blob's ETag the service first saw at a drop or start; every later step is held to it. */
  pinnedEtag?: string;
  pinnedAt?: string;
}

export function uploadRecordBlobName(uploadId: string): string {
  return `uploads/${uploadId}.json`;
}

async function recordBlob(service: BlobServiceClient, config: AppConfig, uploadId: string) {
  const container = await withStorageErrors("Preparing the state container", () => ensureContainer(service, config.settings.STATE_CONTAINER));
  return container.getBlockBlobClient(uploadRecordBlobName(uploadId));
}

/** Creates the record; fails if one exists under that id (ids are random: that is a bug, not a race to win). */
export async function createUploadRecord(service: BlobServiceClient, config: AppConfig, record: UploadRecord): Promise<void> {
  const blob = await recordBlob(service, config, record.uploadId);
  const body = JSON.stringify(record);
  await withStorageErrors("Recording the upload", () =>
    blob.upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: "application/json" }, conditions: { ifNoneMatch: "*" } }),
  );
}

/** The record and the ETag of exactly that version of it; undefined when there is none. */
export async function readUploadRecord(service: BlobServiceClient, config: AppConfig, uploadId: string): Promise<{ record: UploadRecord; etag: string } | undefined> {
  const blob = service.getContainerClient(config.settings.STATE_CONTAINER).getBlockBlobClient(uploadRecordBlobName(uploadId));
  try {
    const response = await blob.download();
    const chunks: Buffer[] = [];
    for await (const chunk of response.readableStreamBody ?? []) chunks.push(Buffer.from(chunk as Buffer));
    return { record: JSON.parse(Buffer.concat(chunks).toString("utf8")) as UploadRecord, etag: response.etag ?? "" };
  } catch (error) {
    if (storageStatusCode(error) === 404) return undefined;
    throw toStorageOperationError("Reading the upload record", error);
  }
}

/**
 * Pins `etag` on the record unless one is pinned already. Returns the record as it now stands:
 * its pinnedEtag is this one, or the one another start pinned first.
 */
export async function pinUpload(service: BlobServiceClient, config: AppConfig, uploadId: string, etag: string, at: string): Promise<UploadRecord | undefined> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const current = await readUploadRecord(service, config, uploadId);
    if (!current) return undefined;
    if (current.record.pinnedEtag !== undefined) return current.record;
    const next: UploadRecord = { ...current.record, pinnedEtag: etag, pinnedAt: at };
    const body = JSON.stringify(next);
    try {
      await service
        .getContainerClient(config.settings.STATE_CONTAINER)
        .getBlockBlobClient(uploadRecordBlobName(uploadId))
        .upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: "application/json" }, conditions: { ifMatch: current.etag } });
      return next;
    } catch (error) {
      // Another start pinned first: read what it pinned.
      if (storageStatusCode(error) !== 412) throw toStorageOperationError("Pinning the upload", error);
    }
  }
  return (await readUploadRecord(service, config, uploadId))?.record;
}
