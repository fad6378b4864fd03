/**
 * Sends the package to Microsoft as the raw body of PUT .../preprod/packages/ (issue 40). There is
 * no SAS to copy to, so the bytes pass through this process: streamed from the blob, pinned to the
 * run's ETag, with bounded memory (the pipeline pulls the blob as the socket drains; never the whole
 * package in memory). Every attempt of the PUT opens a fresh stream (the bearer policy re-sends after
 * a 401).
 *
 * Idempotent: a record in STATE_CONTAINER (preprod/<instance id>.json) says "sending" before the PUT
 * and holds the package id after it. A retry with an id reuses it. A retry that finds "sending"
 * without an id (a crash, or a 5xx/timeout, after the PUT went out) cannot tell whether Microsoft
 * created a package: the API has no way to find one without its id (reference f.2), so it stops
 * terminally instead of sending a second one. A failure that proves nothing was created (4xx, a
 * refused connection, no token) clears the intent, so that retry sends again; a refusal that
 * retrying cannot fix (hdcFailures.ts) fails the run at once with Microsoft's message.
 */
import { PassThrough } from "node:stream";
import type { BlobGetPropertiesResponse } from "@azure/storage-blob";
import { createPreprodPackage, isHdcError } from "../hdc";
import { ensureContainer } from "../storage/blobService";
import { writeStateJson } from "../storage/checkpoints";
import { storageStatusCode, toStorageOperationError, withStorageErrors } from "../storage/storageErrors";
import type { UploadPreprodPackageInput, UploadPreprodPackageOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { TerminalActivityError } from "./errors";
import { rethrowHdcFailure } from "./hdcFailures";

export interface PreprodUploadRecord {
  state: "sending" | "created" | "notSent";
  at: string;
  packageId?: string;
  signingStatus?: string;
  /** The package version sent. */
  etag?: string;
  contentLength?: number;
}

export const preprodRecordName = (instanceId: string) => `preprod/${instanceId}.json`;

async function recordBlob(deps: ActivityDeps, recordName: string) {
  const container = await withStorageErrors("Preparing the state container", () => ensureContainer(deps.blobService, deps.config.settings.STATE_CONTAINER));
  return container.getBlockBlobClient(recordName);
}

async function readRecord(deps: ActivityDeps, recordName: string): Promise<{ value?: PreprodUploadRecord; etag?: string }> {
  const blob = await recordBlob(deps, recordName);
  try {
    const download = await blob.download(0, undefined, { abortSignal: deps.budget.signal });
    const chunks: Buffer[] = [];
    for await (const chunk of download.readableStreamBody as AsyncIterable<Buffer>) chunks.push(chunk);
    return { value: JSON.parse(Buffer.concat(chunks).toString("utf8")) as PreprodUploadRecord, etag: download.etag };
  } catch (error) {
    if (storageStatusCode(error) === 404) return {};
    throw toStorageOperationError("Reading the preprod upload record", error);
  }
}

/** Writes the intent only over the record version read (none: create-only); losing that race is retryable. */
async function claimIntent(deps: ActivityDeps, recordName: string, intent: PreprodUploadRecord, readEtag: string | undefined): Promise<void> {
  const blob = await recordBlob(deps, recordName);
  const body = JSON.stringify(intent);
  try {
    await blob.upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: "application/json" },
      conditions: readEtag ? { ifMatch: readEtag } : { ifNoneMatch: "*" },
      abortSignal: deps.budget.signal,
    });
  } catch (error) {
    const status = storageStatusCode(error);
    if (status === 409 || status === 412) throw new Error("another attempt of this upload is sending the package right now; not sending it twice (a retry will see its outcome)");
    throw toStorageOperationError("Recording the preprod upload intent", error);
  }
}

/** Whether a failed PUT certainly created nothing: Microsoft refused it (4xx other than 408), or it never left. */
function certainlyNotCreated(error: unknown): boolean {
  if (!isHdcError(error)) return false;
  if (error.code === "tokenAcquisitionFailed") return true;
  const status = error.statusCode;
  return status !== undefined && status >= 400 && status < 500 && status !== 408;
}

export async function uploadPreprodPackage(input: UploadPreprodPackageInput, deps: ActivityDeps): Promise<UploadPreprodPackageOutput> {
  const { blobService, config, log } = deps;
  const recordName = preprodRecordName(input.instanceId);
  const { value: record, etag: recordEtag } = await readRecord(deps, recordName);
  if (record?.packageId) {
    log(`Preprod package ${record.packageId} was already created for ${input.instanceId}; not sending again`);
    return { packageId: record.packageId, signingStatus: record.signingStatus, reused: true, bytesSent: 0 };
  }
  if (record?.state === "sending") {
    throw new TerminalActivityError(
      `an earlier attempt (${record.at}) sent the package to Microsoft and its answer was lost; Microsoft may hold a preprod package for it, ` +
        "and the API offers no way to find one without its id, so a second package is not sent. Check Partner Center; to send again, drop a new version of the package.",
    );
  }

  const { container, blobName, etag } = input.package;
  const packageBlob = blobService.getContainerClient(container).getBlobClient(blobName);
  let properties: BlobGetPropertiesResponse;
  try {
    properties = await packageBlob.getProperties({ abortSignal: deps.budget.signal, ...(etag ? { conditions: { ifMatch: etag } } : {}) });
  } catch (error) {
    const status = storageStatusCode(error);
    if (status === 412 || status === 404) {
      throw new TerminalActivityError(`the package ${container}/${blobName} is no longer the version this run was started for (ETag ${etag ?? "?"}); nothing was sent`);
    }
    throw error;
  }
  const length = properties.contentLength ?? 0;
  const pinned = properties.etag ?? etag;

  // Intent first: a crash from here on leaves "sending", which a retry never sends over. Written only
  // if the record is still what was read (absent, or notSent): of two attempts at once, one sends.
  await claimIntent(deps, recordName, { state: "sending", at: new Date().toISOString(), etag: pinned, contentLength: length }, recordEtag);

  let opened = 0;
  const open = (): NodeJS.ReadableStream => {
    opened++;
    // The factory must return a stream at once; the blob read starts behind it, pinned to the version
    // checked above. PassThrough holds at most its highWaterMark: the socket's pace pulls the blob.
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    packageBlob
      .download(0, undefined, { abortSignal: deps.budget.signal, ...(pinned ? { conditions: { ifMatch: pinned } } : {}) })
      .then((download) => {
        const source = download.readableStreamBody;
        if (!source) throw new Error("the package download has no body");
        source.on("error", (error) => body.destroy(error as Error));
        source.pipe(body);
      })
      .catch((error: unknown) => body.destroy(error instanceof Error ? error : new Error(String(error))));
    return body;
  };

  let created;
  try {
    created = await createPreprodPackage(deps.hdc, { open, contentLength: length }, { timeoutMs: Math.max(1000, deps.budget.deadlineMs - Date.now()) });
  } catch (error) {
    if (certainlyNotCreated(error)) {
      // Microsoft's refusal is what the user must see: a record that cannot be cleared only costs a
      // retry (it then stops on "sending"), so its failure is logged, never thrown in its place.
      try {
        await writeStateJson(blobService, config, recordName, { state: "notSent", at: new Date().toISOString() } satisfies PreprodUploadRecord);
      } catch (recordError) {
        log(`Could not record that preprod package ${container}/${blobName} was not sent (${recordName}): ${recordError instanceof Error ? recordError.message : String(recordError)}`);
      }
    }
    // As for product submissions: a refusal (400/403/409/422...) fails the run with Microsoft's
    // message, so the package is not streamed again for each retry; 429/5xx stay retryable.
    rethrowHdcFailure(error, `Sending ${container}/${blobName} to Microsoft as a preprod package`);
  }
  await withStorageErrors("Recording the preprod package id", () =>
    writeStateJson(blobService, config, recordName, {
      state: "created",
      at: new Date().toISOString(),
      packageId: created.id,
      signingStatus: created.signingStatus,
      etag: pinned,
      contentLength: length,
    } satisfies PreprodUploadRecord),
  );
  log(`Package ${container}/${blobName} (${length} bytes, ${opened} stream(s) opened) is preprod package ${created.id} (${created.signingStatus ?? "no status"})`);
  return { packageId: created.id, signingStatus: created.signingStatus, reused: false, bytesSent: length };
}
