/**
 * POST /api/uploads: where a CI client may put a package. Every request that is not a proven re-run
 * gets a blob of its own, `ci/<uploadId>/<fileName>` with a random 128-bit upload id, so no other
 * request can ever be given a URL to it. The service records the upload (state container: id, blob,
 * the caller's full sha256, claimed size, created, expiry) and writes the product-fields sidecar
 * itself, create-only, from the validated request: the caller's SAS names the package blob alone.
 * The SAS (create+write: a block upload needs `w`, and Azurite ignores `c`) lasts UPLOAD_SAS_MINUTES;
 * integrity does not rest on it: the first drop or start pins the blob's ETag in the record
 * (uploadAdmission.ts) and every later step is held to that ETag.
 *
 * "Already uploaded" (`exists: true`, no SAS) is answered only to a request that names the upload's
 * id and its key (answered once with the URL; the id alone is public, being in the blob's name), and
 * only when the record says a version was pinned and the blob still has that ETag: never from the
 * blob's metadata, which the SAS holder writes. Packages over MAX_PACKAGE_BYTES get no URL.
 * The SAS appears only in this response body: never in logs, status or history.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import type { BlobServiceClient } from "@azure/storage-blob";
import { type AppConfig, getConfig } from "../config";
import { normalizeEtag } from "../domain/instanceId";
import { sidecarNameFor } from "../domain/packageRules";
import { ensureContainer, getBlobServiceClient } from "../storage/blobService";
import { storageStatusCode, toStorageOperationError, withStorageErrors } from "../storage/storageErrors";
import { createUploadRecord, readUploadRecord } from "../storage/uploadRecords";
import { createUploadSasUrl } from "../storage/userSas";
import { bodyLimited, bodyLimitOf, readJsonBody } from "./requestBody";
import { HTTP_AUTH_LEVEL } from "./callerGate";
import { ownerOfCaller } from "./access";
import { callerOf } from "../identity/caller";
import { ownerIn, type Owner } from "../domain/authorization";
import { uploadBlobName } from "./uploadAdmission";
import { invalidRequest } from "./validation/fieldProblems";
import { parseUploadRequest, type UploadRequest } from "./validation/uploadRequest";

export { UPLOAD_FOLDER, uploadBlobName } from "./uploadAdmission";

/** Blob metadata key holding the lower-case hex SHA-256 of the package: for people, never trusted. */
export const SHA256_METADATA_KEY = "sha256";

export function newUploadId(): string {
  return randomBytes(16).toString("hex");
}

/** 256 random bits, base64url (43 characters): answered once, stored only as its SHA-256. */
export function newUploadKey(): string {
  return randomBytes(32).toString("base64url");
}

export function uploadKeySha256(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

function sameKey(key: string, keySha256: string): boolean {
  const given = Buffer.from(uploadKeySha256(key), "hex");
  const stored = Buffer.from(keySha256, "hex");
  return given.length === stored.length && timingSafeEqual(given, stored);
}

/**
 * The earlier upload the request names, when it is the same file and still exactly the pinned
 * version; else undefined (the caller gets a fresh upload of its own).
 */
async function provenUpload(service: BlobServiceClient, config: AppConfig, upload: UploadRequest, owner: Owner | undefined): Promise<{ package: string } | undefined> {
  if (!upload.uploadId || !upload.uploadKey) return undefined;
  const found = await readUploadRecord(service, config, upload.uploadId);
  const record = found?.record;
  if (!record || typeof record.keySha256 !== "string" || !sameKey(upload.uploadKey, record.keySha256)) return undefined;
  // Only the caller it was issued to re-uses an upload (issue 32): anyone else gets one of their own.
  if (ownerIn(record)?.objectId !== owner?.objectId) return undefined;
  if (record.pinnedEtag === undefined) return undefined;
  if (record.sha256 !== upload.sha256 || record.size !== upload.size || record.blobName !== uploadBlobName(upload.uploadId, upload.fileName)) return undefined;
  let etag: string | undefined;
  try {
    etag = (await service.getContainerClient(record.container).getBlobClient(record.blobName).getProperties()).etag;
  } catch (error) {
    if (storageStatusCode(error) === 404) return undefined;
    throw toStorageOperationError(`Reading properties of ${record.container}/${record.blobName}`, error);
  }
  return etag !== undefined && normalizeEtag(etag) === normalizeEtag(record.pinnedEtag) ? { package: `${record.container}/${record.blobName}` } : undefined;
}

export async function handleCreateUpload(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const body = await readJsonBody(request, bodyLimitOf("createUpload"));
  if (!body.ok) return body.response;
  const parsed = parseUploadRequest(body.value);
  if (!parsed.ok) return invalidRequest(parsed.problems);
  const upload = parsed.value;

  const config = getConfig();
  const limit = config.settings.MAX_PACKAGE_BYTES;
  if (upload.size > limit) return invalidRequest([{ field: "size", reason: `is ${upload.size} bytes, over the ${limit}-byte package limit (MAX_PACKAGE_BYTES)` }]);
  const service = getBlobServiceClient(config);

  const owner = ownerOfCaller(callerOf(context));
  const proven = await provenUpload(service, config, upload, owner);
  if (proven) {
    context.log(`uploads: upload ${upload.uploadId} is pinned and unchanged at ${proven.package}; no upload needed`);
    return { status: 200, jsonBody: { exists: true, uploadId: upload.uploadId, package: proven.package, sha256: upload.sha256, size: upload.size } };
  }

  const container = config.settings.DROPS_CONTAINER;
  const uploadId = newUploadId();
  const uploadKey = newUploadKey();
  const blobName = uploadBlobName(uploadId, upload.fileName);
  const packageRef = `${container}/${blobName}`;
  const containerClient = await withStorageErrors(`Preparing container ${container}`, () => ensureContainer(service, container));

  const sas = await withStorageErrors(`Signing an upload URL for ${packageRef}`, () => createUploadSasUrl(service, container, blobName));
  await createUploadRecord(service, config, {
    uploadId,
    container,
    blobName,
    sha256: upload.sha256,
    size: upload.size,
    keySha256: uploadKeySha256(uploadKey),
    createdAt: new Date().toISOString(),
    expiresOn: sas.expiresOn.toISOString(),
    ...(owner ? { owner } : {}),
  });
  // Written by the service, create-only, before the URL leaves: the drop path reads it on BlobCreated.
  if (upload.product) {
    const text = JSON.stringify(upload.product);
    await withStorageErrors(`Writing the product fields of ${packageRef}`, () =>
      containerClient
        .getBlockBlobClient(sidecarNameFor(blobName))
        .upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: "application/json" }, conditions: { ifNoneMatch: "*" } }),
    );
  }

  context.log(`uploads: issued upload ${uploadId}: a write-only URL for ${packageRef} (expires ${sas.expiresOn.toISOString()})`);
  return {
    status: 200,
    headers: { "cache-control": "no-store" },
    jsonBody: {
      exists: false,
      uploadId,
      // Like the SAS, only in this body: never logged or stored (the record keeps its hash).
      uploadKey,
      package: packageRef,
      uploadUrl: sas.url,
      expiresOn: sas.expiresOn.toISOString(),
      // For people looking at the blob; the service trusts only its own record.
      metadata: { [SHA256_METADATA_KEY]: upload.sha256 },
    },
  };
}

app.http("createUpload", {
  route: "uploads",
  methods: ["POST"],
  authLevel: HTTP_AUTH_LEVEL,
  handler: bodyLimited("createUpload", "upload.create", handleCreateUpload),
});
