/**
 * Purge records (domain/purgeRecord.ts) in STATE_CONTAINER under `purged/<instance id>.json`:
 * written by retention before it purges an instance's history, read by a re-post that finds no instance.
 */
import type { BlobServiceClient } from "@azure/storage-blob";
import type { AppConfig } from "../config";
import type { PurgeRecord } from "../domain/purgeRecord";
import { peekStateJson, writeStateJson } from "./checkpoints";

export function purgeRecordBlobName(instanceId: string): string {
  return `purged/${instanceId}.json`;
}

export async function writePurgeRecord(service: BlobServiceClient, config: AppConfig, record: PurgeRecord): Promise<void> {
  await writeStateJson(service, config, purgeRecordBlobName(record.instanceId), record);
}

export function readPurgeRecord(service: BlobServiceClient, config: AppConfig, instanceId: string): Promise<PurgeRecord | undefined> {
  return peekStateJson<PurgeRecord>(service, config, purgeRecordBlobName(instanceId));
}
