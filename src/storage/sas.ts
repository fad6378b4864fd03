/**
 * Short-lived read SAS URLs on our own blobs, so a storage service (Microsoft's, for the upload)
 * can read them for a server-side copy. The returned URL is a secret: never log or return it.
 */
import {
  BlobSASPermissions,
  BlobServiceClient,
  SASProtocol,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";

/** Clock skew allowance between us and the storage service. */
const START_SKEW_MS = 5 * 60 * 1000;

/**
 * Read-only blob SAS valid for `minutes`: signed with the account key when the client has one
 * (connection string, Azurite), else a user-delegation SAS (managed identity; no key exists).
 */
export async function createReadSasUrl(
  service: BlobServiceClient,
  container: string,
  blobName: string,
  minutes: number,
): Promise<string> {
  const blob = service.getContainerClient(container).getBlobClient(blobName);
  const startsOn = new Date(Date.now() - START_SKEW_MS);
  const expiresOn = new Date(Date.now() + minutes * 60 * 1000);
  const permissions = BlobSASPermissions.parse("r");
  // https-only in Azure; the loopback emulator only speaks http.
  const protocol = blob.url.startsWith("https://") ? SASProtocol.Https : SASProtocol.HttpsAndHttp;

  if (service.credential instanceof StorageSharedKeyCredential) {
    return blob.generateSasUrl({ permissions, startsOn, expiresOn, protocol });
  }
  const delegationKey = await service.getUserDelegationKey(startsOn, expiresOn);
  return blob.generateUserDelegationSasUrl({ permissions, startsOn, expiresOn, protocol }, delegationKey);
}

/** True when the SAS URL's `se` (signed expiry) comes before `moment`. A URL without a readable `se` never expires here. */
export function sasExpiresBefore(url: string, moment: Date): boolean {
  let expiry: string | null;
  try {
    expiry = new URL(url).searchParams.get("se");
  } catch {
    return false;
  }
  if (!expiry) return false;
  const expiresAt = Date.parse(expiry);
  if (Number.isNaN(expiresAt)) return false;
  return expiresAt < moment.getTime();
}
