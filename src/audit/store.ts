/**
 * The audit trail's storage: one block blob per record in AUDIT_CONTAINER, named by time
 * (domain/audit.ts auditBlobName). A record is created with If-None-Match: * so an existing blob is
 * never overwritten, and this module has no overwrite and no delete: in Azure the container's
 * time-based immutability policy (infra/app/storage.bicep) refuses both even to an account owner;
 * locally (Azurite enforces no policy) the writer simply never needs either.
 */
import { createHash, randomBytes } from "node:crypto";
import { RestError, type BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import type { AppConfig } from "../config";
import { type AuditQuery, type AuditRecord, auditBlobName, auditPrefixFor, isAuditRecordName, matchesAuditQuery, sanitizeAuditRecord } from "../domain/audit";
import { ensureContainer } from "../storage/blobService";

export class AuditOverwriteRefused extends Error {
  constructor(readonly blobName: string) {
    super(`audit record ${blobName} already exists; audit records are never overwritten`);
  }
}

/**
 * Creates `blobName` with `body`, only if no blob of that name exists (409 otherwise, as
 * AuditOverwriteRefused). The only write this module does.
 */
export async function createAuditBlob(container: ContainerClient, blobName: string, body: string, metadata: Record<string, string>): Promise<void> {
  try {
    await container.getBlockBlobClient(blobName).upload(body, Buffer.byteLength(body), {
      conditions: { ifNoneMatch: "*" },
      blobHTTPHeaders: { blobContentType: "application/json" },
      metadata,
    });
  } catch (error) {
    if (error instanceof RestError && (error.statusCode === 409 || error.statusCode === 412)) throw new AuditOverwriteRefused(blobName);
    throw error;
  }
}

// Blob metadata lets the reader filter without downloading every record (values: ASCII, ids only).
function metadataOf(record: AuditRecord): Record<string, string> {
  const ascii = (value: string | undefined) => (value && /^[\x20-\x7e]{1,256}$/.test(value) ? value : undefined);
  const entries = {
    action: record.action,
    principal: ascii(record.principal.objectId),
    instance: ascii(record.target.instance),
    submission: ascii(record.target.submission),
  };
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

/**
 * Writes one record (made safe first); resolves with its blob name once storage has it. The name is
 * chosen once, so a retry after an attempt whose answer was lost finds its own record (409) and is
 * done: one record, never two, never an overwrite.
 *
 * `key` names the action itself for a trigger that may run twice for it (an Event Grid redelivery,
 * even two deliveries at once): the first writer creates the key's index blob (`keys/<hash>.json`,
 * create-only too) naming its record's blob; every other writer reads that name and writes there, so
 * all converge on one record (the first to land stays). `keyedRecordExists` reads the index.
 */
export async function writeAuditRecord(
  service: BlobServiceClient,
  config: AppConfig,
  record: AuditRecord,
  options: { attempts?: number; key?: string } = {},
): Promise<string> {
  const attempts = options.attempts ?? 3;
  const safe = sanitizeAuditRecord(record);
  const suffix = options.key ? keySuffix(options.key) : randomBytes(8).toString("hex");
  let name = auditBlobName(safe.time, suffix);
  const body = JSON.stringify(safe);
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const container = await ensureContainer(service, config.settings.AUDIT_CONTAINER);
      if (options.key) name = await claimKey(container, options.key, name);
      await createAuditBlob(container, name, body, metadataOf(safe));
      return name;
    } catch (error) {
      // An earlier attempt landed, or (keyed) another writer recorded the same action under the name the key holds.
      if (error instanceof AuditOverwriteRefused && (attempt > 1 || options.key)) return name;
      lastError = error;
      if (error instanceof AuditOverwriteRefused) break;
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
  throw lastError;
}

const keyIndexName = (key: string) => `keys/${keySuffix(key)}.json`;

/** The record name the key's index holds: `proposed` if this writer created the index, else the first writer's. */
async function claimKey(container: ContainerClient, key: string, proposed: string): Promise<string> {
  const index = keyIndexName(key);
  try {
    await createAuditBlob(container, index, JSON.stringify({ record: proposed }), {});
    return proposed;
  } catch (error) {
    if (!(error instanceof AuditOverwriteRefused)) throw error;
    const held = await readKeyIndex(container, key);
    if (!held) throw new Error(`audit key index ${index} names no record`);
    return held;
  }
}

/** The record name a key's index holds; undefined when there is no index (or it names no record). */
async function readKeyIndex(container: ContainerClient, key: string): Promise<string | undefined> {
  let held: { record?: unknown };
  try {
    held = JSON.parse((await container.getBlobClient(keyIndexName(key)).downloadToBuffer()).toString("utf8")) as { record?: unknown };
  } catch (error) {
    if (error instanceof RestError && error.statusCode === 404) return undefined;
    throw error;
  }
  return typeof held.record === "string" && isAuditRecordName(held.record) ? held.record : undefined;
}

function keySuffix(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex").slice(0, 16);
}

/** Whether a record written with `key` exists: its key's index names a record that is there. */
export async function keyedRecordExists(service: BlobServiceClient, config: AppConfig, key: string): Promise<boolean> {
  const container = service.getContainerClient(config.settings.AUDIT_CONTAINER);
  const held = await readKeyIndex(container, key);
  // An index without its record: the writer stopped in between; the next writer fills the same name.
  return held !== undefined && (await container.getBlobClient(held).exists());
}

/** Whether records can be written now (the container exists or is created); throws when storage cannot be reached. */
export async function auditStoreReady(service: BlobServiceClient, config: AppConfig): Promise<void> {
  const container = service.getContainerClient(config.settings.AUDIT_CONTAINER);
  // A HEAD on every state-changing request; the create (a 409 when it exists) only the first time.
  if (!(await container.exists())) await container.createIfNotExists();
}

export interface AuditPage {
  records: AuditRecord[];
  /** Present while more blobs remain to be scanned; a page may hold fewer records than asked (even none). */
  continuationToken?: string;
}

export const MAX_AUDIT_PAGE = 500;

function isoOrUndefined(value: string | undefined): string | undefined {
  return value === undefined ? undefined : new Date(value).toISOString();
}

/**
 * One page of records matching `query`, oldest first: at most `pageSize` blobs are scanned per page
 * (the storage listing's own continuation token carries on), so a page may hold fewer matches.
 */
export async function readAuditPage(
  service: BlobServiceClient,
  config: AppConfig,
  query: AuditQuery,
  pageSize = 100,
  continuationToken?: string,
): Promise<AuditPage> {
  const size = Math.max(1, Math.min(MAX_AUDIT_PAGE, Math.floor(pageSize)));
  const normalized: AuditQuery = { ...query, from: isoOrUndefined(query.from), to: isoOrUndefined(query.to) };
  const container = service.getContainerClient(config.settings.AUDIT_CONTAINER);
  if (!(await container.exists())) return { records: [] };
  const prefix = auditPrefixFor(normalized.from, normalized.to);
  const pages = container
    .listBlobsFlat({ prefix: prefix || undefined, includeMetadata: true })
    .byPage({ maxPageSize: size, ...(continuationToken ? { continuationToken } : {}) });
  const { value: page } = await pages.next();
  if (!page) return { records: [] };
  const records: AuditRecord[] = [];
  for (const item of page.segment.blobItems) {
    if (!isAuditRecordName(item.name)) continue; // the key index (keys/…), not a record
    const meta = item.metadata ?? {};
    // Cheap rejections from the metadata first; the record itself decides.
    if (normalized.action && meta.action && meta.action !== normalized.action) continue;
    if (normalized.principal && meta.principal && meta.principal !== normalized.principal) continue;
    const body = await container.getBlobClient(item.name).downloadToBuffer();
    const record = JSON.parse(body.toString("utf8")) as AuditRecord;
    if (matchesAuditQuery(record, normalized)) records.push(record);
  }
  return { records, ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) };
}
