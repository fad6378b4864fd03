/**
 * SAS URLs handed to our API's callers (the driver-sign CLI): a write-only URL for one package blob
 * and short read URLs for results. Signed like src/storage/sas.ts: with the account key when the
 * client has one (connection string, Azurite), else a user-delegation SAS (managed identity).
 * The URLs are secrets: they go into a response body or a Location header and nowhere else.
 */
import { BlobSASPermissions, BlobServiceClient, SASProtocol, StorageSharedKeyCredential } from "@azure/storage-blob";

/** Clock skew allowance between us and the storage service. */
const START_SKEW_MS = 5 * 60 * 1000;

export const UPLOAD_SAS_MINUTES = 30;
/** Result links redirect to this; a download that starts in time finishes even after expiry. */
export const DOWNLOAD_SAS_MINUTES = 15;

export interface IssuedSas {
  url: string;
  expiresOn: Date;
}

async function signedBlobUrl(
  service: BlobServiceClient,
  container: string,
  blobName: string,
  permissions: BlobSASPermissions,
  minutes: number,
  contentDisposition?: string,
): Promise<IssuedSas> {
  const blob = service.getContainerClient(container).getBlobClient(blobName);
  const now = Date.now();
  const startsOn = new Date(now - START_SKEW_MS);
  const expiresOn = new Date(now + minutes * 60 * 1000);
  // https-only in Azure; the loopback emulator only speaks http.
  const protocol = blob.url.startsWith("https://") ? SASProtocol.Https : SASProtocol.HttpsAndHttp;
  if (service.credential instanceof StorageSharedKeyCredential) {
    return { url: await blob.generateSasUrl({ permissions, startsOn, expiresOn, protocol, contentDisposition }), expiresOn };
  }
  const delegationKey = await service.getUserDelegationKey(startsOn, expiresOn);
  return { url: await blob.generateUserDelegationSasUrl({ permissions, startsOn, expiresOn, protocol, contentDisposition }, delegationKey), expiresOn };
}

/** Create + write on exactly one blob (no read, list or delete), for UPLOAD_SAS_MINUTES. */
export function createUploadSasUrl(service: BlobServiceClient, container: string, blobName: string): Promise<IssuedSas> {
  return signedBlobUrl(service, container, blobName, BlobSASPermissions.parse("cw"), UPLOAD_SAS_MINUTES);
}

/** Read-only on one blob, for DOWNLOAD_SAS_MINUTES. */
export function createDownloadSasUrl(service: BlobServiceClient, container: string, blobName: string, contentDisposition?: string): Promise<IssuedSas> {
  return signedBlobUrl(service, container, blobName, BlobSASPermissions.parse("r"), DOWNLOAD_SAS_MINUTES, contentDisposition);
}
