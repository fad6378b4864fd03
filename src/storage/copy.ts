/**
 * Copies one blob to another without the bytes passing through the function when possible:
 * an async server-side Copy Blob (the destination's storage service reads the source URL), polled
 * to completion, then verified. When the destination service cannot read the source (firewalled
 * account, copy-scope restrictions), the bytes are streamed through with bounded buffers instead.
 * Used by copyPackage (ours → Microsoft's upload SAS) and downloadSignedPackage (Microsoft's
 * signed package SAS → ours).
 *
 * What "verified" means (CopyOutcome.verified), the same on Azure and Azurite:
 *   - "lengthAndMd5": the source has a Content-MD5 and the destination's Content-MD5 equals it
 *     (a server-side copy carries it over; a streamed copy hashes the bytes it read, must match
 *     it, and records it on the destination).
 *   - "length": the source has no Content-MD5 (e.g. uploaded in blocks). Only the length is
 *     compared: computing an MD5 would mean reading the whole source through the function, which
 *     the server-side copy exists to avoid. A streamed copy still records the MD5 of what it read.
 *
 * Every read of the source is pinned to the version whose properties the caller read
 * (BlobToCopy.properties.etag): the server-side copy carries it as a source condition
 * (x-ms-source-if-match) and the streamed download as If-Match (the SDK's own resumed reads keep
 * it). A source replaced in between fails with SourceChangedError instead of copying other bytes;
 * the length/MD5 check after the copy stays as a second line.
 *
 * The whole copy, streaming fallback included, runs under the activity's one deadline
 * (settings.signal / deadlineMs): at the deadline the SDK calls are aborted, a pending server-side
 * copy is aborted, a streamed upload never commits its block list (so no partial blob appears),
 * and CopyDeadlineError says so. It is retryable: the next attempt has a fresh budget.
 *
 * Source and destination URLs may hold a SAS: nothing here logs a URL or rethrows a raw RestError.
 */
import { createHash } from "node:crypto";
import { Transform } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { BlobBeginCopyFromUrlPollState, BlobClient, BlobGetPropertiesResponse, BlockBlobClient } from "@azure/storage-blob";
import type { AppConfig } from "../config";
import { redactSecrets } from "../domain/redact";
import { StorageOperationError, storageErrorCode, storageStatusCode, toStorageOperationError } from "./storageErrors";

const MIB = 1024 * 1024;

export interface CopySettings {
  pollMs: number;
  /** Streaming fallback: block size and blocks in flight; memory use is about their product. */
  blockMiB: number;
  concurrency: number;
  /** The activity's deadline: aborts every storage call and wait of the copy. */
  signal: AbortSignal;
  deadlineMs: number;
  budgetMinutes: number;
}

export function copySettingsFrom(config: AppConfig, budget: { signal: AbortSignal; deadlineMs: number; minutes: number }): CopySettings {
  const s = config.settings;
  return {
    pollMs: s.COPY_POLL_MS,
    blockMiB: s.STREAM_BLOCK_MIB,
    concurrency: s.STREAM_CONCURRENCY,
    signal: budget.signal,
    deadlineMs: budget.deadlineMs,
    budgetMinutes: budget.minutes,
  };
}

/** The copy ran out of the activity's budget; nothing partial was committed at the destination. */
export class CopyDeadlineError extends Error {
  constructor(budgetMinutes: number, stage: string) {
    super(
      `The copy did not finish within the activity budget of ${budgetMinutes} minutes (ACTIVITY_DEADLINE_MINUTES) while ${stage}; ` +
        "nothing partial was committed at the destination, and the next attempt starts over",
    );
    this.name = "CopyDeadlineError";
  }
}

export type CopySide = "source" | "destination";

/**
 * The source is no longer the version the copy was pinned to (412 on a read conditional on its
 * ETag). Nothing of the other version was committed at the destination by this copy.
 */
export class SourceChangedError extends StorageOperationError {
  constructor(
    readonly pinnedEtag: string,
    cause: StorageOperationError,
  ) {
    super(`The copy source is no longer the version with ETag ${pinnedEtag}: ${cause.message}`, cause.statusCode, cause.code);
    this.name = "SourceChangedError";
  }
}

/** 403 on one side: usually an expired SAS. The caller fetches fresh URLs and tries again. */
export class BlobAuthorizationError extends StorageOperationError {
  constructor(
    readonly side: CopySide,
    cause: StorageOperationError,
  ) {
    super(cause.message, cause.statusCode, cause.code);
    this.name = "BlobAuthorizationError";
  }
}

export interface SourceProperties {
  contentLength: number;
  /** Raw MD5 digest when the source has one. */
  contentMd5?: Uint8Array;
  contentType?: string;
  /** The version every read of the copy is pinned to. */
  etag?: string;
}

export interface BlobToCopy {
  /** Reads the source ourselves: properties, and the bytes in the streaming fallback. */
  client: BlobClient;
  /** A URL the destination's storage service can read (a SAS URL: secret). */
  url: string;
  properties: SourceProperties;
}

export interface CopyOutcome {
  bytesCopied: number;
  method: "serverSideCopy" | "streaming";
  /** Base64 MD5 when the source had one and the destination matched it. */
  contentMd5?: string;
  verified: "length" | "lengthAndMd5";
  /** The destination already held the same content; nothing was copied. */
  alreadyPresent: boolean;
}

/** Properties of a blob, undefined when it does not exist; a 403 becomes BlobAuthorizationError. */
export async function readBlobProperties(
  client: BlobClient,
  side: CopySide,
  what: string,
  abortSignal?: AbortSignal,
): Promise<BlobGetPropertiesResponse | undefined> {
  try {
    return await client.getProperties({ abortSignal });
  } catch (error) {
    if (storageStatusCode(error) === 404) return undefined;
    throw classifiedError(side, `Reading the properties of ${what}`, error);
  }
}

export function toSourceProperties(properties: BlobGetPropertiesResponse): SourceProperties {
  return {
    contentLength: properties.contentLength ?? 0,
    contentMd5: properties.contentMD5,
    contentType: properties.contentType,
    etag: properties.etag,
  };
}

/**
 * Makes `destination` hold the source's bytes and proves it (see "verified" above). Idempotent: a
 * destination that already holds this source's content is left alone.
 */
export async function copyBlobVerified(
  source: BlobToCopy,
  destination: BlockBlobClient,
  settings: CopySettings,
  log: (message: string) => void,
): Promise<CopyOutcome> {
  let stage = "checking the destination";
  try {
    const existing = await readBlobProperties(destination, "destination", "the copy destination", settings.signal);
    if (existing && existing.copyStatus !== "pending" && alreadyHolds(existing, source)) {
      log(`Destination already holds the ${source.properties.contentLength} bytes; not copying again`);
      return { ...verification(existing, source.properties), method: existing.copyStatus ? "serverSideCopy" : "streaming", alreadyPresent: true };
    }

    let method: CopyOutcome["method"] = "serverSideCopy";
    stage = "waiting for the server-side copy";
    if (existing?.copyStatus === "pending") {
      // An earlier attempt's copy is still running; starting another would fail with PendingCopyOperation.
      log("A server-side copy from an earlier attempt is still pending; waiting for it");
      const finished = await waitForServerSideCopy(destination, existing.copyId, settings);
      if (!finished.succeeded) {
        stage = "streaming";
        method = await fallBackToStreaming(source, destination, settings, log, finished.reason);
      }
    } else {
      const copied = await tryServerSideCopy(source, destination, settings);
      if (!copied.succeeded) {
        stage = "streaming";
        method = await fallBackToStreaming(source, destination, settings, log, copied.reason);
      }
    }

    stage = "verifying the copy";
    const landed = await readBlobProperties(destination, "destination", "the copy destination", settings.signal);
    if (!landed) throw new Error("The copy destination does not exist after the copy");
    if (!matchesSource(landed, source.properties)) {
      throw new Error(
        `Copy verification failed: destination has ${landed.contentLength ?? "unknown"} bytes` +
          `${source.properties.contentMd5 ? " or a different MD5" : ""}, source has ${source.properties.contentLength} bytes`,
      );
    }
    return { ...verification(landed, source.properties), method, alreadyPresent: false };
  } catch (error) {
    if (settings.signal.aborted) throw new CopyDeadlineError(settings.budgetMinutes, stage);
    throw error;
  }
}

type CopyAttempt = { succeeded: true } | { succeeded: false; reason: string };

async function tryServerSideCopy(source: BlobToCopy, destination: BlockBlobClient, settings: CopySettings): Promise<CopyAttempt> {
  let copyId: string | undefined;
  try {
    // Starts the copy (one request); the waiting below is ours, to own the timeout and the outcome.
    const etag = source.properties.etag;
    const poller = await destination.beginCopyFromURL(source.url, {
      intervalInMs: settings.pollMs,
      abortSignal: settings.signal,
      ...(etag ? { sourceConditions: { ifMatch: etag } } : {}),
    });
    const state = poller.getOperationState() as BlobBeginCopyFromUrlPollState;
    if (state.isCompleted && !state.error) return { succeeded: true };
    copyId = state.copyId;
  } catch (error) {
    // 412 here is the source condition (we set none on the destination): Azure says SourceConditionNotMet, Azurite ConditionNotMet.
    if (storageStatusCode(error) === 412) throw sourceChanged(source, "Starting the server-side copy", error);
    if (await serviceCannotReadSource(error, destination, settings)) {
      return { succeeded: false, reason: `the storage service could not read the source (${storageStatusCode(error)} ${storageErrorCode(error) ?? ""})`.trim() };
    }
    throw classifiedError("destination", "Starting the server-side copy", error);
  }
  return waitForServerSideCopy(destination, copyId, settings);
}

/** Polls the destination until the copy leaves `pending`; aborts it at the deadline. */
async function waitForServerSideCopy(destination: BlockBlobClient, copyId: string | undefined, settings: CopySettings): Promise<CopyAttempt> {
  for (;;) {
    let properties: BlobGetPropertiesResponse | undefined;
    try {
      properties = await readBlobProperties(destination, "destination", "the copy destination", settings.signal);
      if (properties?.copyStatus === "pending") await sleep(settings.pollMs, undefined, { signal: settings.signal });
    } catch (error) {
      if (settings.signal.aborted && copyId) {
        // Best effort, outside the spent budget; a retry starts over either way.
        await destination.abortCopyFromURL(copyId, { abortSignal: AbortSignal.timeout(10_000) }).catch(() => undefined);
      }
      throw error;
    }
    if (!properties) throw new Error("The copy destination disappeared while the server-side copy was running");
    switch (properties.copyStatus) {
      case "success":
      case undefined: // no copy metadata: a plain upload finished in between
        return { succeeded: true };
      case "failed":
      case "aborted":
        return { succeeded: false, reason: `the server-side copy ${properties.copyStatus}: ${redactSecrets(properties.copyStatusDescription ?? "no description")}` };
      case "pending":
        break;
    }
  }
}

/**
 * True when a failed Copy Blob means "the destination service cannot read the source", which
 * streaming can work around. A 403 is ambiguous (expired destination SAS vs. unreadable source),
 * so it is settled by checking whether the destination itself still accepts us.
 */
async function serviceCannotReadSource(error: unknown, destination: BlockBlobClient, settings: CopySettings): Promise<boolean> {
  const code = storageErrorCode(error) ?? "";
  if (/^CannotVerifyCopySource$|^CopySource/i.test(code)) return true;
  if (storageStatusCode(error) !== 403) return false;
  try {
    await destination.getProperties({ abortSignal: settings.signal });
    return true;
  } catch (probeError) {
    const status = storageStatusCode(probeError);
    return status === 404; // destination reachable (just not created yet), so the source was the problem
  }
}

async function fallBackToStreaming(
  source: BlobToCopy,
  destination: BlockBlobClient,
  settings: CopySettings,
  log: (message: string) => void,
  reason: string,
): Promise<"streaming"> {
  log(`Server-side copy not possible (${reason}); streaming ${source.properties.contentLength} bytes instead`);
  await streamCopy(source, destination, settings);
  return "streaming";
}

/** Download stream → block upload, settings.blockMiB × settings.concurrency bytes in memory at most. */
async function streamCopy(source: BlobToCopy, destination: BlockBlobClient, settings: CopySettings): Promise<void> {
  let download;
  const etag = source.properties.etag;
  try {
    // If-Match: also used by the SDK for the reads it makes to resume an interrupted body.
    download = await source.client.download(0, undefined, { abortSignal: settings.signal, ...(etag ? { conditions: { ifMatch: etag } } : {}) });
  } catch (error) {
    if (storageStatusCode(error) === 412) throw sourceChanged(source, "Downloading the copy source", error);
    throw classifiedError("source", "Downloading the copy source", error);
  }
  if (!download.readableStreamBody) throw new Error("The copy source returned no body");

  const md5 = createHash("md5");
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      md5.update(chunk);
      callback(null, chunk);
    },
  });
  let sourceError: unknown;
  download.readableStreamBody.on("error", (error) => {
    sourceError = error;
    hashing.destroy(error);
  });
  const body = download.readableStreamBody.pipe(hashing);

  try {
    // The block list is committed only after every block arrived: an abort leaves no blob behind.
    await destination.uploadStream(body, settings.blockMiB * MIB, settings.concurrency, {
      abortSignal: settings.signal,
      blobHTTPHeaders: { blobContentType: source.properties.contentType },
    });
  } catch (error) {
    if (sourceError !== undefined) {
      if (storageStatusCode(sourceError) === 412) throw sourceChanged(source, "Reading the copy source", sourceError);
      throw classifiedError("source", "Reading the copy source", sourceError);
    }
    throw classifiedError("destination", "Streaming the copy", error);
  }

  const streamedMd5 = md5.digest();
  const expected = source.properties.contentMd5;
  if (expected && !Buffer.from(expected).equals(streamedMd5)) {
    throw new Error("Streamed bytes do not match the source's Content-MD5");
  }
  // Record the MD5 of what was streamed, so the destination can be verified like a server-side copy.
  try {
    await destination.setHTTPHeaders({ blobContentType: source.properties.contentType, blobContentMD5: streamedMd5 }, { abortSignal: settings.signal });
  } catch (error) {
    throw classifiedError("destination", "Recording the streamed blob's MD5", error);
  }
}

/**
 * Whether an existing destination is this source's content. With the source's MD5 that is a real
 * check; without it the length alone could match someone else's bytes, so only a finished
 * server-side copy from this very source blob (same host and path; the SAS differs) counts.
 */
function alreadyHolds(destination: BlobGetPropertiesResponse, source: BlobToCopy): boolean {
  if (!matchesSource(destination, source.properties)) return false;
  if (source.properties.contentMd5) return true;
  return destination.copyStatus === "success" && sameBlob(destination.copySource, source.url);
}

function sameBlob(a: string | undefined, b: string): boolean {
  if (!a) return false;
  try {
    const [x, y] = [new URL(a), new URL(b)];
    return x.host === y.host && decodeURIComponent(x.pathname) === decodeURIComponent(y.pathname);
  } catch {
    return false;
  }
}

function matchesSource(destination: BlobGetPropertiesResponse, source: SourceProperties): boolean {
  if (destination.contentLength !== source.contentLength) return false;
  if (!source.contentMd5) return true;
  return destination.contentMD5 !== undefined && Buffer.from(destination.contentMD5).equals(Buffer.from(source.contentMd5));
}

function verification(destination: BlobGetPropertiesResponse, source: SourceProperties): Pick<CopyOutcome, "bytesCopied" | "contentMd5" | "verified"> {
  const bytesCopied = destination.contentLength ?? 0;
  if (source.contentMd5) return { bytesCopied, verified: "lengthAndMd5", contentMd5: Buffer.from(source.contentMd5).toString("base64") };
  return { bytesCopied, verified: "length" };
}

function sourceChanged(source: BlobToCopy, operation: string, error: unknown): SourceChangedError {
  return new SourceChangedError(source.properties.etag ?? "(none)", toStorageOperationError(operation, error));
}

function classifiedError(side: CopySide, operation: string, error: unknown): StorageOperationError {
  const wrapped = toStorageOperationError(operation, error);
  return wrapped.statusCode === 403 ? new BlobAuthorizationError(side, wrapped) : wrapped;
}
