/**
 * POST /api/uploads: where a CI client may put a package. The blob name is derived from the file's
 * SHA-256 and name (`ci/<first 16 hex>/<fileName>`), so a re-run of the same build lands on the same
 * blob and therefore the same submission. If that blob already holds the same bytes (its `sha256`
 * metadata, set by the uploader, and its size match), no SAS is issued and the client skips the
 * upload. Otherwise the product fields are written as the sidecar first (the drop path reads it on
 * BlobCreated), then a 30-minute create+write SAS for that one blob is returned. The SAS appears only
 * in this response body: never in logs, status or history.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getConfig } from "../config";
import { sidecarNameFor } from "../domain/packageRules";
import { ensureContainer, getBlobServiceClient } from "../storage/blobService";
import { storageStatusCode, toStorageOperationError, withStorageErrors } from "../storage/storageErrors";
import { createUploadSasUrl } from "../storage/userSas";
import { bodyLimited, bodyLimitOf, readJsonBody } from "./requestBody";
import { HTTP_AUTH_LEVEL } from "./callerGate";
import { invalidRequest } from "./validation/fieldProblems";
import { parseUploadRequest, type UploadRequest } from "./validation/uploadRequest";

/** Blob metadata key holding the lower-case hex SHA-256 of the package. */
export const SHA256_METADATA_KEY = "sha256";
export const UPLOAD_FOLDER = "ci";

export function uploadBlobName(request: Pick<UploadRequest, "fileName" | "sha256">): string {
  return `${UPLOAD_FOLDER}/${request.sha256.slice(0, 16)}/${request.fileName}`;
}

export async function handleCreateUpload(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const body = await readJsonBody(request, bodyLimitOf("createUpload"));
  if (!body.ok) return body.response;
  const parsed = parseUploadRequest(body.value);
  if (!parsed.ok) return invalidRequest(parsed.problems);
  const upload = parsed.value;

  const config = getConfig();
  const service = getBlobServiceClient(config);
  const container = config.settings.DROPS_CONTAINER;
  const blobName = uploadBlobName(upload);
  const packageRef = `${container}/${blobName}`;
  const containerClient = await withStorageErrors(`Preparing container ${container}`, () => ensureContainer(service, container));
  const blob = containerClient.getBlockBlobClient(blobName);

  try {
    const properties = await blob.getProperties();
    if (properties.metadata?.[SHA256_METADATA_KEY] === upload.sha256 && properties.contentLength === upload.size) {
      context.log(`uploads: ${packageRef} already holds these ${upload.size} bytes; no upload needed`);
      return { status: 200, jsonBody: { exists: true, package: packageRef, sha256: upload.sha256, size: upload.size } };
    }
  } catch (error) {
    if (storageStatusCode(error) !== 404) throw toStorageOperationError(`Reading properties of ${packageRef}`, error);
  }

  // The sidecar must be in place before the package's BlobCreated event is handled.
  const sidecar = containerClient.getBlockBlobClient(sidecarNameFor(blobName));
  if (upload.product) {
    const text = JSON.stringify(upload.product);
    await withStorageErrors(`Writing the product fields of ${packageRef}`, () =>
      sidecar.upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: "application/json" } }),
    );
  } else {
    // Fields of an earlier request for this name must not apply to this one.
    await withStorageErrors(`Removing old product fields of ${packageRef}`, () => sidecar.deleteIfExists());
  }

  const sas = await withStorageErrors(`Signing an upload URL for ${packageRef}`, () => createUploadSasUrl(service, container, blobName));
  context.log(`uploads: issued a write-only upload URL for ${packageRef} (expires ${sas.expiresOn.toISOString()})`);
  return {
    status: 200,
    headers: { "cache-control": "no-store" },
    jsonBody: {
      exists: false,
      package: packageRef,
      uploadUrl: sas.url,
      expiresOn: sas.expiresOn.toISOString(),
      // Set on the committed blob so a re-run can tell the bytes are already there.
      metadata: { [SHA256_METADATA_KEY]: upload.sha256 },
    },
  };
}

app.http("createUpload", {
  route: "uploads",
  methods: ["POST"],
  authLevel: HTTP_AUTH_LEVEL,
  handler: bodyLimited("createUpload", handleCreateUpload),
});
