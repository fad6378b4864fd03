/**
 * What a drop (Event Grid) and a start (POST /api/submissions) both check before a package may run,
 * after they have read the blob's real properties: not over MAX_PACKAGE_BYTES, and for a blob in the
 * uploads folder (`ci/<uploadId>/<fileName>`, issued by POST /api/uploads) the service's own upload
 * record: the blob is the size the caller claimed, and its ETag is the one pinned at the first drop
 * or start (pinned here when none is yet). The caller's sha256 comes from the record, never from the
 * blob's metadata.
 */
import type { BlobServiceClient } from "@azure/storage-blob";
import type { AppConfig } from "../config";
import { normalizeEtag } from "../domain/instanceId";
import { ownerIn, type Owner } from "../domain/authorization";
import { pinUpload, readUploadRecord } from "../storage/uploadRecords";

/** The service's folder in DROPS_CONTAINER: every name in it was issued by POST /api/uploads. */
export const UPLOAD_FOLDER = "ci";
const UPLOAD_ID = /^[0-9a-f]{32}$/;

export function isUploadId(text: string): boolean {
  return UPLOAD_ID.test(text);
}

export function uploadBlobName(uploadId: string, fileName: string): string {
  return `${UPLOAD_FOLDER}/${uploadId}/${fileName}`;
}

/** For a blob in the uploads folder: the upload id its name carries (undefined if the name is not one we issue). */
export function uploadIdOfBlob(config: AppConfig, container: string, blobName: string): { inFolder: boolean; uploadId?: string } {
  if (container !== config.settings.DROPS_CONTAINER || !blobName.startsWith(`${UPLOAD_FOLDER}/`)) return { inFolder: false };
  // <UPLOAD_FOLDER>/<uploadId>/<fileName>, exactly three segments.
  const segments = blobName.split("/");
  const uploadId = segments.length === 3 && segments[2] !== "" ? segments[1] : undefined;
  return { inFolder: true, uploadId: uploadId !== undefined && isUploadId(uploadId) ? uploadId : undefined };
}

export type Admission =
  /** `owner`: who asked for the upload URL (a blob in the uploads folder only). */
  | { ok: true; sha256?: string; owner?: Owner }
  /** `changed`: the blob is not the version pinned for this upload (409 over HTTP). */
  | { ok: false; field: "size" | "package"; reason: string; changed?: boolean; notYours?: boolean };

export async function admitPackage(
  service: BlobServiceClient,
  config: AppConfig,
  blob: { container: string; blobName: string; etag: string; contentLength: number },
  now: string,
  /** Whether the caller may use an upload asked for by `owner` (checked before anything is pinned); absent: anyone (a drop). */
  mayUse?: (owner: Owner | undefined) => boolean,
): Promise<Admission> {
  const limit = config.settings.MAX_PACKAGE_BYTES;
  if (blob.contentLength > limit) {
    return { ok: false, field: "size", reason: `the package is ${blob.contentLength} bytes, over the ${limit}-byte limit (MAX_PACKAGE_BYTES)` };
  }
  const { inFolder, uploadId } = uploadIdOfBlob(config, blob.container, blob.blobName);
  if (!inFolder) return { ok: true };
  const notIssued = { ok: false, field: "package", reason: `${UPLOAD_FOLDER}/ holds only blobs named by POST /api/uploads, and this service issued no upload for ${blob.blobName}` } as const;
  if (!uploadId) return notIssued;
  const found = await readUploadRecord(service, config, uploadId);
  if (!found || found.record.blobName !== blob.blobName || found.record.container !== blob.container) return notIssued;
  if (mayUse && !mayUse(ownerIn(found.record))) return { ...notIssued, notYours: true };
  const claimed = found.record.size;
  if (blob.contentLength !== claimed) {
    return {
      ok: false,
      field: "size",
      reason: `the uploaded blob is ${blob.contentLength} bytes, but the upload was requested for ${claimed} bytes: ${blob.contentLength > claimed ? "larger than claimed" : "not the claimed file"}`,
    };
  }
  const record = found.record.pinnedEtag !== undefined ? found.record : await pinUpload(service, config, uploadId, blob.etag, now);
  const pinned = record?.pinnedEtag;
  if (pinned === undefined || normalizeEtag(pinned) !== normalizeEtag(blob.etag)) {
    return {
      ok: false,
      field: "package",
      changed: true,
      reason: `the package changed after the service pinned it: the upload was pinned at ETag ${pinned ?? "(none)"}, the blob is now ${blob.etag}`,
    };
  }
  const owner = ownerIn(found.record);
  return { ok: true, sha256: found.record.sha256, ...(owner ? { owner } : {}) };
}
