/**
 * The app's own storage account (AzureWebJobsStorage): drops, signed results and state.
 * One BlobServiceClient per process so HTTP connections and the managed-identity token are reused.
 *
 * Either a connection string, or an identity-based connection read the way the Functions host
 * reads it (AzureWebJobsStorage__accountName or __blobServiceUri, __credential=managedidentity,
 * __clientId for a user-assigned identity). config.ts has already rejected mixtures.
 */
import { ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import { BlobServiceClient, ContainerClient } from "@azure/storage-blob";
import type { AppConfig, Settings } from "../config";

let cachedSource: string | undefined;
let cachedService: BlobServiceClient | undefined;

/** How the blob service is reached; no secret in it except a connection string's key. */
export type BlobConnection =
  | { kind: "connectionString"; connectionString: string }
  | { kind: "identity"; blobServiceUrl: string; clientId?: string };

export function blobConnectionFrom(settings: Settings): BlobConnection {
  if (settings.AzureWebJobsStorage) return { kind: "connectionString", connectionString: settings.AzureWebJobsStorage };
  const blobServiceUrl =
    settings.AzureWebJobsStorage__blobServiceUri ??
    (settings.AzureWebJobsStorage__accountName ? `https://${settings.AzureWebJobsStorage__accountName}.blob.core.windows.net` : undefined);
  if (!blobServiceUrl) throw new Error("AzureWebJobsStorage (or AzureWebJobsStorage__accountName / AzureWebJobsStorage__blobServiceUri) is required");
  return { kind: "identity", blobServiceUrl, ...(settings.AzureWebJobsStorage__clientId ? { clientId: settings.AzureWebJobsStorage__clientId } : {}) };
}

/**
 * The identity for storage: the user-assigned identity by its client id, else the system-assigned
 * one. Never DefaultAzureCredential: in Azure it would try other credentials (environment, CLI)
 * first and could pick a different principal than the one granted access.
 */
export function storageCredential(clientId: string | undefined): TokenCredential {
  return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
}

/** Builds the client for a connection (no network). */
export function createBlobServiceClient(connection: BlobConnection): BlobServiceClient {
  return connection.kind === "connectionString"
    ? BlobServiceClient.fromConnectionString(connection.connectionString)
    : new BlobServiceClient(connection.blobServiceUrl, storageCredential(connection.clientId));
}

export function getBlobServiceClient(config: AppConfig): BlobServiceClient {
  const connection = blobConnectionFrom(config.settings);
  const source = JSON.stringify(connection);
  if (cachedService && cachedSource === source) return cachedService;
  cachedService = createBlobServiceClient(connection);
  cachedSource = source;
  return cachedService;
}

const ensuredContainers = new WeakMap<BlobServiceClient, Map<string, Promise<ContainerClient>>>();

/** Creates the container if missing, once per service client and name. */
export function ensureContainer(service: BlobServiceClient, name: string): Promise<ContainerClient> {
  let byName = ensuredContainers.get(service);
  if (!byName) {
    byName = new Map();
    ensuredContainers.set(service, byName);
  }
  const known = byName.get(name);
  if (known) return known;
  const container = service.getContainerClient(name);
  const ensured = container.createIfNotExists().then(
    () => container,
    (error: unknown) => {
      byName?.delete(name); // let the next call try again
      throw error;
    },
  );
  byName.set(name, ensured);
  return ensured;
}
