/**
 * What every activity needs, built once per process: config, the Hardware Dev Center client over
 * the cached credential, and our storage account. Activities take it as a parameter so tests can
 * hand in a fake HdcApi and a real (Azurite) storage account.
 */
import type { TokenCredential } from "@azure/identity";
import type { BlobServiceClient } from "@azure/storage-blob";
import { getConfig, type AppConfig } from "../config";
import { createHdcCredential } from "../hdc/credentials";
import { createHdcClientFromConfig, type HdcApi, type HdcClient } from "../hdc";
import { getBlobServiceClient } from "../storage/blobService";
import type { CredentialKind } from "../domain/types";

export interface ActivityDeps {
  config: AppConfig;
  hdc: HdcApi;
  blobService: BlobServiceClient;
  identity: { kind: CredentialKind; tenantId: string; clientId: string; credential: TokenCredential };
  /** Goes to the invocation's log; never pass it a URL or a token. */
  log: (message: string) => void;
  /** This invocation's one deadline (ACTIVITY_DEADLINE_MINUTES), for every wait and SDK call. */
  budget: ActivityBudget;
}

/**
 * One deadline per activity invocation, below host.json's functionTimeout: the signal aborts the
 * SDK calls it is passed to, so the activity fails with its own clear error instead of being
 * killed by the host mid-write.
 */
export interface ActivityBudget {
  signal: AbortSignal;
  /** Epoch ms at which the signal aborts. */
  deadlineMs: number;
  minutes: number;
}

export function startActivityBudget(minutes: number, now: number = Date.now()): ActivityBudget {
  const ms = Math.max(1, Math.round(minutes * 60 * 1000));
  return { signal: AbortSignal.timeout(ms), deadlineMs: now + ms, minutes };
}

type SharedDeps = Omit<ActivityDeps, "log" | "budget" | "hdc"> & { hdc: HdcClient };

let shared: Promise<SharedDeps> | undefined;

/** The process-wide dependencies with this invocation's logger (console when none is given). */
export async function getActivityDeps(log?: (message: string) => void): Promise<ActivityDeps> {
  shared ??= buildSharedDeps().catch((error: unknown) => {
    shared = undefined; // e.g. a Key Vault hiccup: the next invocation tries again
    throw error;
  });
  const deps = await shared;
  const budget = startActivityBudget(deps.config.settings.ACTIVITY_DEADLINE_MINUTES);
  // The HDC calls of this invocation end at its deadline too.
  return { ...deps, hdc: deps.hdc.withAbortSignal(budget.signal), log: log ?? ((message) => console.log(message)), budget };
}

async function buildSharedDeps(): Promise<SharedDeps> {
  const config = getConfig();
  const identity = await createHdcCredential(config);
  // The client is shared by concurrent invocations, so it logs to the process log, not to one invocation's.
  const hdc = createHdcClientFromConfig(config, identity.credential, (line) => console.log(line));
  return { config, hdc, blobService: getBlobServiceClient(config), identity };
}
