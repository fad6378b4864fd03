/**
 * Local stand-in for an Event Grid subscription on the storage account: lists the drops container
 * in Azurite and delivers `Microsoft.Storage.BlobCreated` events (Event Grid schema) at least once.
 *
 * A delivery ledger in an Azurite table (one row per container + blob + ETag) makes delivery survive
 * restarts: a row is written "pending" before the handler runs and "delivered" after it returns, so
 * a crash re-delivers what was not handled and never what was. Failures are retried with bounded
 * exponential backoff, then parked as "failed" (Event Grid would dead-letter them).
 */
import { createHash } from "node:crypto";
import { BlobItem, ContainerClient } from "@azure/storage-blob";
import { TableClient, TableEntity } from "@azure/data-tables";

export const BLOB_CREATED = "Microsoft.Storage.BlobCreated";

export interface BlobCreatedData {
  api: string;
  clientRequestId: string;
  requestId: string;
  eTag: string;
  contentType: string;
  contentLength: number;
  blobType: "BlockBlob";
  url: string;
  sequencer: string;
  storageDiagnostics: { batchId: string };
}

export interface EventGridEvent<T = unknown> {
  id: string;
  topic: string;
  subject: string;
  eventType: string;
  eventTime: string;
  data: T;
  dataVersion: string;
  metadataVersion: string;
}

export type DeliveryState = "pending" | "delivered" | "failed";

export interface DeliveryRecord {
  container: string;
  blobName: string;
  etag: string;
  state: DeliveryState;
  attempts: number;
  lastError?: string;
  event: EventGridEvent<BlobCreatedData>;
}

export interface EventGridWatcherOptions {
  /** Azurite (or storage) connection string; used for both the container and the ledger table. */
  connectionString: string;
  container: string;
  /** Delivers one event to the app; a rejection means "not delivered, retry later". */
  deliver: (event: EventGridEvent<BlobCreatedData>) => Promise<void>;
  ledgerTable?: string;
  pollIntervalMs?: number;
  maxAttempts?: number;
  /** Delay before attempt n+1 after n failed attempts. */
  retryDelayMs?: (failedAttempts: number) => number;
  log?: (line: string) => void;
}

interface LedgerRow extends TableEntity {
  blobName: string;
  etag: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: string;
  lastError?: string;
  event: string;
}

const DEFAULT_LEDGER_TABLE = "LocalEventGridDeliveries";

export class EventGridWatcher {
  private readonly containerClient: ContainerClient;
  private readonly ledger: TableClient;
  private readonly rows = new Map<string, LedgerRow>();
  private readonly log: (line: string) => void;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly options: EventGridWatcherOptions) {
    this.containerClient = new ContainerClient(options.connectionString, options.container);
    this.ledger = TableClient.fromConnectionString(options.connectionString, options.ledgerTable ?? DEFAULT_LEDGER_TABLE, {
      allowInsecureConnection: true,
    });
    this.log = options.log ?? (() => undefined);
  }

  /** Loads the ledger, delivers what is outstanding, then keeps polling until stop(). */
  async start(): Promise<void> {
    await this.ledger.createTable();
    for await (const row of this.ledger.listEntities<LedgerRow>({
      queryOptions: { filter: `PartitionKey eq '${this.options.container}'` },
    })) {
      this.rows.set(row.rowKey, row);
    }
    this.stopped = false;
    await this.pollOnce();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
  }

  /** One listing pass; deliveries run one after another, in listing order. */
  pollOnce(): Promise<void> {
    this.polling ??= this.poll().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  deliveries(): DeliveryRecord[] {
    return [...this.rows.values()].map((row) => ({
      container: this.options.container,
      blobName: row.blobName,
      etag: row.etag,
      state: row.state,
      attempts: row.attempts,
      lastError: row.lastError,
      event: JSON.parse(row.event) as EventGridEvent<BlobCreatedData>,
    }));
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.pollOnce()
        .catch((error: unknown) => this.log(`Event Grid watcher: listing ${this.options.container} failed: ${(error as Error).message}`))
        .finally(() => this.schedule());
    }, this.options.pollIntervalMs ?? 500);
  }

  private async poll(): Promise<void> {
    let blobs: BlobItem[];
    try {
      blobs = await listAll(this.containerClient);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return; // container not created yet
      throw error;
    }
    for (const blob of blobs) {
      if (this.stopped) return;
      const etag = quotedEtag(blob.properties.etag);
      const key = ledgerKey(this.options.container, blob.name, etag);
      const row = this.rows.get(key);
      if (row && (row.state !== "pending" || Date.parse(row.nextAttemptAt) > Date.now())) continue;
      const event = row ? (JSON.parse(row.event) as EventGridEvent<BlobCreatedData>) : this.eventFor(blob, etag, key);
      await this.attempt(key, blob.name, etag, event, row?.attempts ?? 0);
    }
  }

  private async attempt(key: string, blobName: string, etag: string, event: EventGridEvent<BlobCreatedData>, previousAttempts: number) {
    const attempts = previousAttempts + 1;
    const maxAttempts = this.options.maxAttempts ?? 6;
    const pending: LedgerRow = {
      partitionKey: this.options.container,
      rowKey: key,
      blobName,
      etag,
      state: "pending",
      attempts,
      nextAttemptAt: new Date(Date.now() + this.retryDelay(attempts)).toISOString(),
      event: JSON.stringify(event),
    };
    await this.write(pending);
    try {
      await this.options.deliver(event);
      await this.write({ ...pending, state: "delivered", lastError: "" });
    } catch (error) {
      const message = ((error as Error).message ?? String(error)).slice(0, 1000);
      const exhausted = attempts >= maxAttempts;
      this.log(`Event Grid delivery of ${event.subject} failed (attempt ${attempts}/${maxAttempts}${exhausted ? ", giving up" : ""}): ${message}`);
      await this.write({ ...pending, state: exhausted ? "failed" : "pending", lastError: message });
    }
  }

  private retryDelay(failedAttempts: number): number {
    return this.options.retryDelayMs?.(failedAttempts) ?? Math.min(30_000, 1000 * 2 ** (failedAttempts - 1));
  }

  private async write(row: LedgerRow): Promise<void> {
    await this.ledger.upsertEntity(row, "Replace");
    this.rows.set(row.rowKey, row);
  }

  private eventFor(blob: BlobItem, etag: string, key: string): EventGridEvent<BlobCreatedData> {
    const blobClient = this.containerClient.getBlobClient(blob.name);
    const lastModified = blob.properties.lastModified ?? new Date();
    return {
      id: uuidFrom(`event:${key}`),
      topic: `/subscriptions/local/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/${this.containerClient.accountName}`,
      subject: `/blobServices/default/containers/${this.options.container}/blobs/${blob.name}`,
      eventType: BLOB_CREATED,
      eventTime: lastModified.toISOString(),
      dataVersion: "",
      metadataVersion: "1",
      data: {
        api: "PutBlob",
        clientRequestId: uuidFrom(`client:${key}`),
        requestId: uuidFrom(`request:${key}`),
        eTag: etag,
        contentType: blob.properties.contentType ?? "application/octet-stream",
        contentLength: blob.properties.contentLength ?? 0,
        blobType: "BlockBlob",
        url: blobClient.url,
        sequencer: lastModified.getTime().toString(16).padStart(32, "0"),
        storageDiagnostics: { batchId: uuidFrom(`batch:${key}`) },
      },
    };
  }
}

async function listAll(container: ContainerClient): Promise<BlobItem[]> {
  const blobs: BlobItem[] = [];
  for await (const blob of container.listBlobsFlat({ includeMetadata: true })) blobs.push(blob);
  return blobs;
}

/** Event Grid carries the ETag as the storage service's header does: in double quotes. */
function quotedEtag(etag: string): string {
  const bare = etag.replace(/^"|"$/g, "");
  return `"${bare}"`;
}

/** Table row keys may not contain / \ # ?; a hash of the identity is short and safe. */
export function ledgerKey(container: string, blobName: string, etag: string): string {
  return createHash("sha256").update(`${container}\n${blobName}\n${etag}`).digest("hex");
}

/** A stable UUID-shaped id, so a re-delivered event carries the same id, as Event Grid's retries do. */
function uuidFrom(seed: string): string {
  const hex = createHash("sha256").update(seed).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
