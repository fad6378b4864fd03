/** Small helpers for the proof suite: a bounded-concurrency pool, blob counting and rejection manifests. */
import type { Stack } from "../../../local/stack";
import { APP_CONTAINERS } from "../../../local/stack";

/** Runs `work` over `items` with at most `concurrency` in flight; results in input order. */
export async function runPool<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    for (;;) {
      const index = next++;
      if (index >= items.length) return;
      results[index] = await work(items[index], index);
    }
  });
  await Promise.all(workers);
  return results;
}

export async function blobNames(stack: Stack, container: string, prefix?: string): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of stack.blobService.getContainerClient(container).listBlobsFlat(prefix ? { prefix } : {})) names.push(blob.name);
  return names;
}

export interface StoredManifest {
  blobName: string;
  outcome: string;
  reason?: string;
  instanceId: string;
  package: { container: string; blobName: string };
}

/** Every manifest.json in signed-drivers, parsed. */
export async function allManifests(stack: Stack): Promise<StoredManifest[]> {
  const container = stack.blobService.getContainerClient(APP_CONTAINERS.signed);
  const names = (await blobNames(stack, APP_CONTAINERS.signed)).filter((name) => name.endsWith("manifest.json"));
  return runPool(names, 16, async (blobName) => {
    const parsed = JSON.parse((await container.getBlobClient(blobName).downloadToBuffer()).toString("utf8")) as Omit<StoredManifest, "blobName">;
    return { ...parsed, blobName };
  });
}

/** Polls until `done` holds for the manifests (or the timeout passes); returns the last listing. */
export async function waitForManifests(stack: Stack, done: (manifests: StoredManifest[]) => boolean, timeoutMs: number): Promise<StoredManifest[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const manifests = await allManifests(stack);
    if (done(manifests) || Date.now() > deadline) return manifests;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export async function health(stack: Stack): Promise<{ status: number; ready?: boolean }> {
  const response = await fetch(`${stack.baseUrl}/_local/health`);
  const body = (await response.json()) as { ready?: boolean };
  return { status: response.status, ready: body.ready };
}
