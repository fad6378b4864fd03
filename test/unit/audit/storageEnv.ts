/**
 * For tests that load the whole app (AppHost) and call its HTTP functions: every state-changing
 * request and every refusal now writes an audit record (issue 33), so the app needs its storage.
 * Real Azurite, with the minimal settings getConfig needs; restored afterwards.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import type { AzuriteHandle } from "../../../local/azurite";
import { resetConfigCache } from "../../../src/config";
import type { AuditRecord } from "../../../src/domain/audit";
import { startStorage } from "../activities/support";

const SETTINGS = ["AzureWebJobsStorage", "HDC_TENANT_ID", "HDC_CLIENT_ID", "HDC_CLIENT_SECRET", "AUDIT_CONTAINER"] as const;

export interface AuditStorage {
  azurite: AzuriteHandle;
  /** Every record in the audit container, oldest first. */
  records(): Promise<AuditRecord[]>;
  stop(): Promise<void>;
}

export async function startAuditStorage(container = "test-audit"): Promise<AuditStorage> {
  const azurite = await startStorage();
  const saved = Object.fromEntries(SETTINGS.map((name) => [name, process.env[name]]));
  Object.assign(process.env, {
    AzureWebJobsStorage: azurite.connectionString,
    HDC_TENANT_ID: "11111111-2222-3333-4444-555555555555",
    HDC_CLIENT_ID: "66666666-7777-8888-9999-000000000000",
    HDC_CLIENT_SECRET: "test-secret",
    AUDIT_CONTAINER: container,
  });
  resetConfigCache();
  const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  return {
    azurite,
    async records() {
      const client = service.getContainerClient(container);
      if (!(await client.exists())) return [];
      const records: AuditRecord[] = [];
      for await (const item of client.listBlobsFlat()) records.push(JSON.parse((await client.getBlobClient(item.name).downloadToBuffer()).toString("utf8")) as AuditRecord);
      return records;
    },
    async stop() {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      resetConfigCache();
      await azurite.stop();
    },
  };
}
