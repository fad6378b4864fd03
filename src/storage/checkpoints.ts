/**
 * Checkpoints that keep a retried activity from creating a second product or submission.
 *
 * Creating a product is not idempotent at the API, and an activity can crash (or its result can be
 * lost) after the POST succeeded. So before the POST the activity records that it is about to
 * create (`requestedAt`), and after it records the id. A retry that finds an id reuses it; one
 * that finds only `requestedAt` reconciles by listing and adopting the match.
 *
 * Claims make adoption safe: `claims/products/<id>` is created only if absent and holds the
 * instance id, so two instances creating same-named products never adopt each other's.
 *
 * Only ids and times live here: nothing secret.
 */
import type { BlobServiceClient, BlockBlobClient } from "@azure/storage-blob";
import type { AppConfig } from "../config";
import { ensureContainer } from "./blobService";
import { storageStatusCode, toStorageOperationError, withStorageErrors } from "./storageErrors";

export interface ProductCheckpoint {
  /** Set just before POST /products. */
  requestedAt?: string;
  productId?: string;
  sharedProductId?: string;
}

export interface SubmissionCheckpoint {
  /** The product the submission belongs to; a checkpoint for another product is ignored. */
  productId: string;
  requestedAt?: string;
  submissionId?: string;
  commitStatus?: string;
}

export interface InstanceCheckpoint {
  product?: ProductCheckpoint;
  submission?: SubmissionCheckpoint;
}

export type ClaimKind = "products" | "submissions";

const MAX_UPDATE_ATTEMPTS = 5;

export function checkpointBlobName(instanceId: string): string {
  return `checkpoints/${instanceId}.json`;
}

export function claimBlobName(kind: ClaimKind, id: string): string {
  return `claims/${kind}/${id}`;
}

async function stateBlob(service: BlobServiceClient, config: AppConfig, blobName: string): Promise<BlockBlobClient> {
  const container = await withStorageErrors("Preparing the state container", () => ensureContainer(service, config.settings.STATE_CONTAINER));
  return container.getBlockBlobClient(blobName);
}

export async function readCheckpoint(service: BlobServiceClient, config: AppConfig, instanceId: string): Promise<InstanceCheckpoint> {
  const blob = await stateBlob(service, config, checkpointBlobName(instanceId));
  return (await readJsonWithEtag<InstanceCheckpoint>(blob, "Reading the checkpoint")).value ?? {};
}

/**
 * Read-modify-write with ETag conditions, so two overlapping attempts of one instance cannot
 * silently overwrite each other's ids. Returns what was stored.
 */
export async function updateCheckpoint(
  service: BlobServiceClient,
  config: AppConfig,
  instanceId: string,
  change: (current: InstanceCheckpoint) => InstanceCheckpoint,
): Promise<InstanceCheckpoint> {
  const blob = await stateBlob(service, config, checkpointBlobName(instanceId));
  for (let attempt = 1; ; attempt++) {
    const { value, etag } = await readJsonWithEtag<InstanceCheckpoint>(blob, "Reading the checkpoint");
    const next = change(value ?? {});
    const body = JSON.stringify(next);
    try {
      await blob.upload(body, Buffer.byteLength(body), {
        blobHTTPHeaders: { blobContentType: "application/json" },
        conditions: etag ? { ifMatch: etag } : { ifNoneMatch: "*" },
      });
      return next;
    } catch (error) {
      const status = storageStatusCode(error);
      const lostRace = status === 412 || status === 409;
      if (!lostRace || attempt >= MAX_UPDATE_ATTEMPTS) {
        throw toStorageOperationError("Writing the checkpoint", error);
      }
    }
  }
}

/**
 * Claims a product or submission for an instance. True when the claim is (now or already) this
 * instance's; false when another instance holds it.
 */
export async function claimResource(
  service: BlobServiceClient,
  config: AppConfig,
  kind: ClaimKind,
  id: string,
  instanceId: string,
): Promise<boolean> {
  const blob = await stateBlob(service, config, claimBlobName(kind, id));
  try {
    await blob.upload(instanceId, Buffer.byteLength(instanceId), {
      blobHTTPHeaders: { blobContentType: "text/plain" },
      conditions: { ifNoneMatch: "*" },
    });
    return true;
  } catch (error) {
    const status = storageStatusCode(error);
    if (status !== 409 && status !== 412) {
      throw toStorageOperationError("Claiming the HDC resource", error);
    }
  }
  return (await claimant(service, config, kind, id)) === instanceId;
}

/** The instance holding the claim on a product or submission, if any. */
export async function claimant(service: BlobServiceClient, config: AppConfig, kind: ClaimKind, id: string): Promise<string | undefined> {
  const blob = await stateBlob(service, config, claimBlobName(kind, id));
  return (await readText(blob, "Reading a claim"))?.text.trim();
}

async function readJsonWithEtag<T>(blob: BlockBlobClient, operation: string): Promise<{ value?: T; etag?: string }> {
  const read = await readText(blob, operation);
  return read ? { value: JSON.parse(read.text) as T, etag: read.etag } : {};
}

/** The blob's text and the ETag of exactly that version; undefined when the blob does not exist. */
async function readText(blob: BlockBlobClient, operation: string): Promise<{ text: string; etag?: string } | undefined> {
  try {
    const response = await blob.download();
    const chunks: Buffer[] = [];
    for await (const chunk of response.readableStreamBody ?? []) chunks.push(Buffer.from(chunk as Buffer));
    return { text: Buffer.concat(chunks).toString("utf8"), etag: response.etag };
  } catch (error) {
    if (storageStatusCode(error) === 404) return undefined;
    throw toStorageOperationError(operation, error);
  }
}
