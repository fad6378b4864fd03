/**
 * The app's own orchestrations on both engines (issue 39): `submitDriver` from a dropped package to the signed
 * package, its activities calling the local stack's Hardware Dev Center, Entra ID and Key Vault emulators.
 * The stack (local/stack.ts) is started on the harness's Azurite so both engines' app gets exactly the app
 * settings the local runtime gets; its own runtime stays idle (nothing is started on its task hub).
 *
 * Both engines run against the same emulators and the same storage, so each engine gets its own instance id
 * (checkpoints, locks and output blobs are keyed by instance id) and creates its own product and submission.
 * Those ids, and the instants the app writes into its own data, are normalised before the comparison.
 */
import type { AzuriteHandle } from "../azurite";
import { samplePackage } from "../samplePackage";
import { startStack, type Stack } from "../stack";
import type { EngineStatus, OrchestratorPayload } from "./engines";

/** Real-clock timing that keeps one run short: emulator steps and polling in seconds, not minutes. */
export const APP_SCENARIO_SETTINGS: Record<string, string> = {
  POLL_INITIAL_SECONDS: "2",
  POLL_MAX_SECONDS: "4",
  ACTIVITY_RETRY_FIRST_SECONDS: "1",
  ACTIVITY_RETRY_MAX_SECONDS: "4",
  LABEL_POLL_INITIAL_SECONDS: "2",
  LABEL_POLL_MAX_SECONDS: "4",
};

export interface AppStack {
  stack: Stack;
  /** The app settings the local runtime gets (secrets included: never print them). */
  env: Record<string, string>;
}

/** Microsoft's processing done by the first poll after the commit (see startAppStack). */
export const INSTANT_PROCESSING: NonNullable<Parameters<typeof startStack>[0]>["behaviour"] = {
  workflow: { stepSeconds: 0, commitSeconds: 0 },
  labels: { stepSeconds: 0, approvalSeconds: 0 },
};

export async function startAppStack(azurite: AzuriteHandle, behaviour = INSTANT_PROCESSING): Promise<AppStack> {
  const stack = await startStack({
    azurite,
    virtualClock: false,
    // By default Microsoft's processing is done by the first poll after the commit: how many polls a run makes
    // then does not depend on how fast each engine runs (with steps that take time, the real engine's slower
    // episodes saw later steps on fewer polls). The replay-fixture recorder asks for steps that take time.
    behaviour,
    appSettings: APP_SCENARIO_SETTINGS,
  });
  return { stack, env: stack.env };
}

/**
 * Where the app scenarios put their packages: not the drops container, which the stack's own runtime watches (its
 * Event Grid stand-in would start a third run of each package, with its own product and submission at the emulator).
 */
export const APP_SCENARIO_DROPS = "conformance-drops";

/** Uploads a sample package for one engine's run (the orchestration input is built from it as the app's trigger does). */
export async function dropPackage(app: AppStack, engine: "real" | "local", variant = "app"): Promise<{ container: string; blobName: string; etag?: string; contentLength: number }> {
  // The same bytes for both engines (same length and MD5 downstream), under a name per engine.
  const pkg = samplePackage({ folder: `conformance-${variant}`, modified: new Date("2026-01-02T03:04:05Z") });
  const blobName = `conformance-${engine}-${pkg.fileName}`;
  const container = app.stack.blobService.getContainerClient(APP_SCENARIO_DROPS);
  await container.createIfNotExists();
  const uploaded = await container.getBlockBlobClient(blobName).uploadData(pkg.bytes);
  return { container: APP_SCENARIO_DROPS, blobName, etag: uploaded.etag, contentLength: pkg.bytes.length };
}

type Run = { status?: EngineStatus; payload?: OrchestratorPayload };

/**
 * Replaces what legitimately differs between the two engines' runs of an app scenario: the instance id, the
 * product, submission and label ids the emulator handed out (read from the run itself), the dropped blob's
 * ETag (read from the run's input), and ISO instants.
 */
export function normaliseAppRun<T extends Run>(run: T, instanceId: string, engine: "real" | "local"): T {
  // The instance id and the dropped package's folder name carry the engine's label.
  const ids = new Map<string, string>([[instanceId, "<instanceId>"], [`conformance-${engine}`, "conformance-<engine>"]]);
  const output = (run.status?.output ?? {}) as Record<string, unknown>;
  for (const key of ["productId", "submissionId"]) {
    if (typeof output[key] === "string" && output[key]) ids.set(output[key] as string, `<${key}>`);
  }
  // Ids the emulator handed out also appear where the output does not name them (e.g. createProduct's
  // sharedProductId), also inside JSON-encoded results: collect every such id from the run's text.
  for (const match of (JSON.stringify(run) ?? "").matchAll(/(productId|submissionId|sharedProductId|labelId)\\*":\\*"(\d+)/g)) {
    if (!ids.has(match[2])) ids.set(match[2], `<${match[1]}>`);
  }
  // The ETag without its quotes: it is also written inside JSON-encoded inputs, where the quotes are escaped.
  const etag = ((run.status?.input ?? {}) as { package?: { etag?: unknown } }).package?.etag;
  if (typeof etag === "string" && etag.replace(/"/g, "")) ids.set(etag.replace(/"/g, ""), "<etag>");
  const replace = (text: string): string => {
    let out = text;
    for (const [id, label] of ids) out = out.split(id).join(label);
    return out.replace(/\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z\b/g, "<instant>");
  };
  const walk = (value: unknown, key?: string): unknown => {
    // Wall-clock fields are left to compare.ts (it skips or relativises them).
    if (typeof value === "string") return key && /^(Timestamp|FireAt|ScheduledTime|ScheduledStartTime|createdTime|lastUpdatedTime)$/.test(key) ? value : replace(value);
    if (Array.isArray(value)) return value.map((v) => walk(v));
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    return value;
  };
  return walk(run) as T;
}
