/**
 * The app's own storage account (AzureWebJobsStorage): drops, signed results and state.
 * One BlobServiceClient per process so HTTP connections and the managed-identity token are reused.
 */
import { DefaultAzureCredential } from "@azure/identity";
import { BlobServiceClient, ContainerClient } from "@azure/storage-blob";
import type { AppConfig } from "../config";

let cachedSource: string | undefined;
let cachedService: BlobServiceClient | undefined;

/** Connection string when configured; otherwise the blob endpoint with a managed identity. */
export function getBlobServiceClient(config: AppConfig): BlobServiceClient {
  const { AzureWebJobsStorage: connectionString, AzureWebJobsStorage__blobServiceUri: serviceUri } = config.settings;
  const source = connectionString ?? serviceUri;
  if (!source) throw new Error("AzureWebJobsStorage (or AzureWebJobsStorage__blobServiceUri) is required");
  if (cachedService && cachedSource === source) return cachedService;
  cachedService = connectionString
    ? BlobServiceClient.fromConnectionString(connectionString)
    : new BlobServiceClient(source, new DefaultAzureCredential());
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
