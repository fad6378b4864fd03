/**
 * Azurite Table persistence. One table per hub; PartitionKey = instanceId so everything an episode writes
 * (instance row, its history row, the consumed inbox row) commits in ONE entity-group transaction.
 *   RK "instance"              status, input/output, counters
 *   RK "h<exec>-<episode>"     one row per episode: the events it appended + host bookkeeping (append-only)
 *   RK "i<time><seq>"          inbox: delivered events not yet processed by an episode
 *   PK "!engine" RK "clock"    the virtual clock
 */
import { createHash } from "node:crypto";
import { TableClient, TableEntity, TableTransaction, odata } from "@azure/data-tables";
import { DurableArgumentError, HistoryEvent, InboxItem, InstanceStatus, RecordedAction, RuntimeStatus, WorkItem } from "./types";

export interface ParentLink {
  instanceId: string;
  executionId: number;
  taskId: number;
}

/** The persisted instance row: the public status plus what the host needs to go on. */
export interface InstanceRecord extends Omit<InstanceStatus, "history"> {
  executionId: number;
  /** DTFx ExecutionId of the current execution (32 hex digits); names sub-orchestrations started without an id. */
  executionGuid: string;
  /** Failed instances: the failure details the extension hands a parent (SubOrchestrationInstanceFailed.Details). */
  failureDetails?: string;
  /** Number of episodes committed in the current execution (next history row index). */
  episodeCount: number;
  /** Next host sequence id (TaskScheduled / TimerCreated / SubOrchestrationInstanceCreated). */
  nextEventId: number;
  parent?: ParentLink;
}

/** What one episode appended: its history events plus what the host must remember to resume after a crash. */
export interface EpisodeDoc {
  events: HistoryEvent[];
  newWork: WorkItem[];
  newActions: RecordedAction[];
  canceledTimers: number[];
}

export interface LoadedInstance {
  record: InstanceRecord;
  episodes: EpisodeDoc[];
  inbox: InboxItem[];
  /** History rows of earlier executions (continueAsNew), safe to delete. */
  staleRowKeys: string[];
}

const INSTANCE_ROW = "instance";
const ENGINE_PARTITION = "!engine";
const CHUNK_CHARS = 30000; // a Table string property holds 32K UTF-16 chars
const MAX_CHUNKS = 15; // keeps an entity well under the 1 MB limit

export class PayloadTooLargeError extends Error {}

export const episodeRowKey = (executionId: number, episode: number) =>
  `h${String(executionId).padStart(6, "0")}-${String(episode).padStart(8, "0")}`;
const executionPrefix = (executionId: number) => `h${String(executionId).padStart(6, "0")}-`;

let inboxSequence = 0;
/** Inbox keys sort in arrival order (also across restarts: wall-clock time leads). */
export function newInboxKey(): string {
  inboxSequence = (inboxSequence + 1) % 1_000_000;
  return `i${String(Date.now()).padStart(15, "0")}${String(inboxSequence).padStart(6, "0")}`;
}

/** Splits a JSON value over properties name, name_1, … ; errors clearly instead of truncating. */
function putJson(entity: Record<string, unknown>, name: string, value: unknown, what: string): void {
  const json = JSON.stringify(value === undefined ? null : value);
  const chunks = Math.max(1, Math.ceil(json.length / CHUNK_CHARS));
  if (chunks > MAX_CHUNKS) {
    throw new PayloadTooLargeError(
      `${what} is ${json.length} characters of JSON; the local runtime stores at most ${CHUNK_CHARS * MAX_CHUNKS} ` +
      `per row. Pass references (e.g. blob names), not content.`);
  }
  for (let i = 0; i < chunks; i++) entity[i === 0 ? name : `${name}_${i}`] = json.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS);
}

function getJson<T>(entity: Record<string, unknown>, name: string): T {
  let json = String(entity[name] ?? "null");
  for (let i = 1; typeof entity[`${name}_${i}`] === "string"; i++) json += entity[`${name}_${i}`] as string;
  return JSON.parse(json) as T;
}

function instanceEntity(record: InstanceRecord): TableEntity<Record<string, unknown>> {
  const entity: TableEntity<Record<string, unknown>> = {
    partitionKey: record.instanceId,
    rowKey: INSTANCE_ROW,
    Name: record.name,
    RuntimeStatus: record.runtimeStatus,
    CreatedTime: record.createdTime,
    LastUpdatedTime: record.lastUpdatedTime,
    ExecutionId: record.executionId,
    ExecutionGuid: record.executionGuid,
    EpisodeCount: record.episodeCount,
    NextEventId: record.nextEventId,
    Parent: record.parent ? JSON.stringify(record.parent) : "",
  };
  putJson(entity, "Input", record.input, `Input of instance '${record.instanceId}'`);
  putJson(entity, "Output", record.output, `Output of instance '${record.instanceId}'`);
  putJson(entity, "CustomStatus", record.customStatus, `Custom status of instance '${record.instanceId}'`);
  putJson(entity, "FailureDetails", record.failureDetails ?? null, `Failure details of instance '${record.instanceId}'`);
  return entity;
}

function recordFromEntity(entity: Record<string, unknown>): InstanceRecord {
  return {
    instanceId: String(entity.partitionKey),
    name: String(entity.Name),
    runtimeStatus: entity.RuntimeStatus as RuntimeStatus,
    input: getJson(entity, "Input"),
    output: getJson(entity, "Output"),
    customStatus: getJson(entity, "CustomStatus"),
    createdTime: String(entity.CreatedTime),
    lastUpdatedTime: String(entity.LastUpdatedTime),
    executionId: Number(entity.ExecutionId),
    // Rows written before execution GUIDs existed get a stable stand-in.
    executionGuid: typeof entity.ExecutionGuid === "string" && entity.ExecutionGuid
      ? entity.ExecutionGuid
      : createHash("md5").update(`${String(entity.partitionKey)}/${String(entity.ExecutionId)}`).digest("hex"),
    failureDetails: getJson<string | null>(entity, "FailureDetails") ?? undefined,
    episodeCount: Number(entity.EpisodeCount),
    nextEventId: Number(entity.NextEventId),
    parent: entity.Parent ? (JSON.parse(String(entity.Parent)) as ParentLink) : undefined,
  };
}

function inboxEntity(instanceId: string, item: InboxItem): TableEntity<Record<string, unknown>> {
  const entity: TableEntity<Record<string, unknown>> = { partitionKey: instanceId, rowKey: item.rowKey };
  putJson(entity, "Data", { events: item.events, executionId: item.executionId, terminateReason: item.terminateReason }, `Event for instance '${instanceId}'`);
  return entity;
}

export class DurableStore {
  private readonly table: TableClient;

  constructor(connectionString: string, hubName: string) {
    if (!/^[A-Za-z][A-Za-z0-9]{2,57}$/.test(hubName)) {
      throw new Error(`Task hub name '${hubName}' must be 3-58 letters/digits starting with a letter`);
    }
    this.table = TableClient.fromConnectionString(connectionString, `${hubName}Durable`, { allowInsecureConnection: true });
  }

  async ensureTable(): Promise<void> {
    await this.table.createTable();
  }

  async loadInstanceRecords(): Promise<InstanceRecord[]> {
    const records: InstanceRecord[] = [];
    for await (const entity of this.table.listEntities({ queryOptions: { filter: odata`RowKey eq ${INSTANCE_ROW}` } })) {
      records.push(recordFromEntity(entity));
    }
    return records;
  }

  /** Everything needed to resume an instance: one partition query. */
  async loadInstance(instanceId: string): Promise<LoadedInstance | undefined> {
    let record: InstanceRecord | undefined;
    const episodes: Array<{ key: string; doc: EpisodeDoc }> = [];
    const inbox: InboxItem[] = [];
    const historyRows: string[] = [];
    for await (const entity of this.table.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${instanceId}` } })) {
      const key = String(entity.rowKey);
      if (key === INSTANCE_ROW) record = recordFromEntity(entity);
      else if (key.startsWith("h")) {
        historyRows.push(key);
        episodes.push({ key, doc: getJson<EpisodeDoc>(entity, "Data") });
      } else if (key.startsWith("i")) {
        inbox.push({ rowKey: key, ...getJson<Omit<InboxItem, "rowKey">>(entity, "Data") });
      }
    }
    if (!record) return undefined;
    const current = executionPrefix(record.executionId);
    const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    return {
      record,
      episodes: episodes.filter((e) => e.key.startsWith(current)).sort(byKey).map((e) => e.doc),
      inbox: inbox.sort((a, b) => (a.rowKey < b.rowKey ? -1 : 1)),
      staleRowKeys: historyRows.filter((k) => !k.startsWith(current)),
    };
  }

  /** History of the current execution (status queries for instances whose history is not cached). */
  async loadHistory(instanceId: string, executionId: number): Promise<HistoryEvent[]> {
    const from = executionPrefix(executionId);
    const to = `h${String(executionId).padStart(6, "0")}.`;
    const rows: Array<{ key: string; events: HistoryEvent[] }> = [];
    const filter = odata`PartitionKey eq ${instanceId} and RowKey ge ${from} and RowKey lt ${to}`;
    for await (const entity of this.table.listEntities({ queryOptions: { filter } })) {
      rows.push({ key: String(entity.rowKey), events: getJson<EpisodeDoc>(entity, "Data").events });
    }
    return rows.sort((a, b) => (a.key < b.key ? -1 : 1)).flatMap((r) => r.events);
  }

  /** A new instance: its row and the ExecutionStarted message, atomically. */
  async createInstance(record: InstanceRecord, start: InboxItem): Promise<void> {
    const tx = new TableTransaction();
    tx.upsertEntity(instanceEntity(record), "Replace");
    tx.createEntity(inboxEntity(record.instanceId, start));
    await this.table.submitTransaction(tx.actions);
  }

  async appendInbox(instanceId: string, item: InboxItem): Promise<void> {
    await this.table.createEntity(inboxEntity(instanceId, item));
  }

  /**
   * Commits an episode atomically: the updated instance row, the episode's history row (if any), the consumed
   * inbox message's deletion, and (continueAsNew) the next execution's start message.
   */
  async commitEpisode(commit: {
    record: InstanceRecord;
    episode?: { rowKey: string; doc: EpisodeDoc };
    consumedInboxKey: string;
    newInbox?: InboxItem;
  }): Promise<void> {
    const id = commit.record.instanceId;
    const tx = new TableTransaction();
    tx.upsertEntity(instanceEntity(commit.record), "Replace");
    if (commit.episode) {
      const entity: TableEntity<Record<string, unknown>> = { partitionKey: id, rowKey: commit.episode.rowKey };
      putJson(entity, "Data", commit.episode.doc, `History of one episode of instance '${id}'`);
      tx.createEntity(entity);
    }
    tx.deleteEntity(id, commit.consumedInboxKey);
    if (commit.newInbox) tx.createEntity(inboxEntity(id, commit.newInbox));
    await this.table.submitTransaction(tx.actions);
  }

  /** Checks sizes before anything is written, so an oversize value fails the caller clearly. */
  assertStorable(record: InstanceRecord): void {
    instanceEntity(record);
  }

  async deleteRows(instanceId: string, rowKeys: string[]): Promise<void> {
    for (let i = 0; i < rowKeys.length; i += 100) {
      const tx = new TableTransaction();
      for (const key of rowKeys.slice(i, i + 100)) tx.deleteEntity(instanceId, key);
      await this.table.submitTransaction(tx.actions);
    }
  }

  /** Deletes every row of an instance; the instance row goes last so a crash midway leaves it visible. */
  async purgeInstance(instanceId: string): Promise<void> {
    const keys: string[] = [];
    for await (const entity of this.table.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${instanceId}`, select: ["RowKey"] },
    })) {
      if (entity.rowKey !== INSTANCE_ROW) keys.push(String(entity.rowKey));
    }
    await this.deleteRows(instanceId, keys);
    await this.table.deleteEntity(instanceId, INSTANCE_ROW).catch((error: { statusCode?: number }) => {
      if (error.statusCode !== 404) throw error;
    });
  }

  async readVirtualTime(): Promise<Date | undefined> {
    try {
      const entity = await this.table.getEntity<{ VirtualNow: string }>(ENGINE_PARTITION, "clock");
      return new Date(entity.VirtualNow);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  }

  async writeVirtualTime(now: Date): Promise<void> {
    await this.table.upsertEntity({ partitionKey: ENGINE_PARTITION, rowKey: "clock", VirtualNow: now.toISOString() }, "Replace");
  }
}

/** The extension's instance id rules: at most 256 characters, no leading "@", none of / \ # ? or control characters; "!" is ours. */
export function assertValidInstanceId(instanceId: string): void {
  if (!instanceId || instanceId.length > 256 || /[\\/#?\u0000-\u001f\u007f-\u009f]/.test(instanceId) || /^[!@]/.test(instanceId)) {
    throw new DurableArgumentError(`Invalid instance id '${instanceId}': 1-256 characters, none of / \\ # ? or control characters, not starting with '@' or '!'`);
  }
}
