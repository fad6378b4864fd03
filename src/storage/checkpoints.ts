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
 * Creation locks make "at most once" hold for two attempts of the same instance running at the
 * same time (a duplicate delivery): the attempt that creates holds a lease on
 * `locks/<kind>/<instance id>`, renewed while it works. A second attempt waits up to one lease
 * period (a crashed holder's lease lapses by then) and otherwise stops with
 * CreationInProgressError instead of creating a second one.
 *
 * Only ids and times live here: nothing secret.
 */
import { setTimeout as sleep } from "node:timers/promises";
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

/** A shipping label of a publishLabel instance (keyed by that instance's id). */
export interface LabelCheckpoint {
  productId: string;
  submissionId: string;
  name: string;
  /** Set just before POST .../shippingLabels. */
  requestedAt?: string;
  /** The POST failed with a gateway error or timeout: it may have created the label. Never re-sent. */
  outcomeUnknown?: boolean;
  labelId?: string;
}

export interface InstanceCheckpoint {
  product?: ProductCheckpoint;
  submission?: SubmissionCheckpoint;
  label?: LabelCheckpoint;
}

export type ClaimKind = "products" | "submissions" | "labels";

const MAX_UPDATE_ATTEMPTS = 5;

export function checkpointBlobName(instanceId: string): string {
  return `checkpoints/${instanceId}.json`;
}

export function claimBlobName(kind: ClaimKind, id: string): string {
  return `claims/${kind}/${id}`;
}

/** Marks that we sent PUT .../cancel for a label, so a later `failed` state reads as cancelled. */
export function cancelMarkerBlobName(labelId: string): string {
  return `labels/${labelId}/cancel-requested`;
}

export async function recordCancelRequested(service: BlobServiceClient, config: AppConfig, labelId: string, at: string): Promise<boolean> {
  const blob = await stateBlob(service, config, cancelMarkerBlobName(labelId));
  try {
    await blob.upload(at, Buffer.byteLength(at), { conditions: { ifNoneMatch: "*" } });
    return true;
  } catch (error) {
    const status = storageStatusCode(error);
    if (status === 409 || status === 412) return false;
    throw toStorageOperationError("Recording the label cancel", error);
  }
}

/** Removes the marker after a definite refusal of the cancel. */
export async function clearCancelRequested(service: BlobServiceClient, config: AppConfig, labelId: string): Promise<void> {
  const blob = await stateBlob(service, config, cancelMarkerBlobName(labelId));
  await withStorageErrors("Clearing the label cancel marker", () => blob.deleteIfExists());
}

export async function isCancelRequested(service: BlobServiceClient, config: AppConfig, labelId: string): Promise<boolean> {
  const blob = await stateBlob(service, config, cancelMarkerBlobName(labelId));
  return (await readText(blob, "Reading the label cancel marker")) !== undefined;
}

/** A stored JSON document in STATE_CONTAINER (label request bodies): written whole, read whole. */
export async function writeStateJson(service: BlobServiceClient, config: AppConfig, blobName: string, value: unknown): Promise<{ container: string; blobName: string }> {
  const blob = await stateBlob(service, config, blobName);
  const body = JSON.stringify(value);
  await withStorageErrors("Writing a state document", () => blob.upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: "application/json" } }));
  return { container: config.settings.STATE_CONTAINER, blobName };
}

export async function readStateJson<T>(service: BlobServiceClient, config: AppConfig, blobName: string): Promise<T | undefined> {
  const blob = await stateBlob(service, config, blobName);
  const read = await readText(blob, "Reading a state document");
  return read ? (JSON.parse(read.text) as T) : undefined;
}

/**
 * Read-only: a missing document or state container reads as undefined, and nothing is created for a
 * read (triggers look with it before anything starts).
 */
export async function peekStateJson<T>(service: BlobServiceClient, config: AppConfig, blobName: string): Promise<T | undefined> {
  const blob = service.getContainerClient(config.settings.STATE_CONTAINER).getBlockBlobClient(blobName);
  const read = await readText(blob, "Reading a state document");
  return read ? (JSON.parse(read.text) as T) : undefined;
}

/** The round's checkpoint, read-only (see peekStateJson); empty when none was written. */
export async function peekCheckpoint(service: BlobServiceClient, config: AppConfig, key: string): Promise<InstanceCheckpoint> {
  return (await peekStateJson<InstanceCheckpoint>(service, config, checkpointBlobName(key))) ?? {};
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

/**
 * Who holds the claims on a resume's product and submission ids. Read-only (the state container is
 * not created for a read): a trigger checks a resume with it before anything starts.
 */
export async function resumeClaimants(
  service: BlobServiceClient,
  config: AppConfig,
  ids: { productId: string; submissionId?: string },
): Promise<{ product?: string; submission?: string }> {
  const read = async (kind: ClaimKind, id: string) => {
    const blob = service.getContainerClient(config.settings.STATE_CONTAINER).getBlockBlobClient(claimBlobName(kind, id));
    return (await readText(blob, "Reading a claim"))?.text.trim();
  };
  const [product, submission] = await Promise.all([
    read("products", ids.productId),
    ids.submissionId !== undefined ? read("submissions", ids.submissionId) : Promise.resolve(undefined),
  ]);
  return { product, submission };
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

/** Another attempt of the same instance holds the creation lock (and keeps renewing it). */
export class CreationInProgressError extends Error {
  constructor(readonly kind: ClaimKind, readonly instanceId: string) {
    super(`another attempt of instance ${instanceId} holds the ${kind} creation lock`);
    this.name = "CreationInProgressError";
  }
}

export interface CreationLockTiming {
  /** Lease length; a crashed holder's lock lapses after this. 15-60 s (storage's limits). */
  leaseSeconds: number;
  /** How long a second attempt waits for the lock before giving up. */
  waitMs: number;
  pollMs: number;
}

export const DEFAULT_CREATION_LOCK: CreationLockTiming = { leaseSeconds: 15, waitMs: 20_000, pollMs: 500 };

export function creationLockBlobName(kind: ClaimKind, instanceId: string): string {
  return `locks/${kind}/${instanceId}`;
}

/** Runs `work` while holding the instance's creation lock for `kind` (see the header). */
export async function withCreationLock<T>(
  service: BlobServiceClient,
  config: AppConfig,
  kind: ClaimKind,
  instanceId: string,
  work: () => Promise<T>,
  log: (line: string) => void,
  timing: CreationLockTiming = DEFAULT_CREATION_LOCK,
): Promise<T> {
  const blob = await stateBlob(service, config, creationLockBlobName(kind, instanceId));
  try {
    await blob.upload("", 0, { conditions: { ifNoneMatch: "*" } });
  } catch (error) {
    const status = storageStatusCode(error);
    if (status !== 409 && status !== 412) throw toStorageOperationError("Preparing the creation lock", error);
  }
  const lease = blob.getBlobLeaseClient();
  const giveUpAt = Date.now() + timing.waitMs;
  for (;;) {
    try {
      await lease.acquireLease(timing.leaseSeconds);
      break;
    } catch (error) {
      if (storageStatusCode(error) !== 409) throw toStorageOperationError("Taking the creation lock", error);
      if (Date.now() >= giveUpAt) throw new CreationInProgressError(kind, instanceId);
      await sleep(timing.pollMs);
    }
  }
  // A failed renewal is not fatal by itself (the next one may succeed before the lease lapses), but
  // it is said: the claim check after the create is then what stops a second resource.
  const renewal = setInterval(
    () =>
      void lease.renewLease().catch((error: unknown) => {
        log(`creation lock ${kind}/${instanceId}: lease renewal failed (${storageStatusCode(error) ?? "no status"})`);
      }),
    (timing.leaseSeconds * 1000) / 3,
  );
  renewal.unref();
  try {
    return await work();
  } finally {
    clearInterval(renewal);
    await lease.releaseLease().catch(() => undefined); // lapses on its own otherwise
  }
}
