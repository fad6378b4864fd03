/**
 * The local stack (Azurite, emulators, runtime child process) as the benchmarks use it: drops of
 * generated packages, one list poll that tracks many submissions at once, request-log slices, and
 * orchestration history.
 */
import { samplePackage } from "../../local/samplePackage";
import { APP_CONTAINERS, startStack, type Stack, type StackOptions } from "../../local/stack";
import { SubmissionsClient, isTerminal, type SubmissionView } from "../../local/cli/submissionsClient";
import type { RequestLogEntry } from "../../local/emulators";
import { sleep } from "./common";

export interface BenchStack extends Stack {
  submissions: SubmissionsClient;
}

export async function startBenchStack(options: StackOptions = {}): Promise<BenchStack> {
  const stack = await startStack({ virtualClock: true, ...options });
  return Object.assign(stack, { submissions: new SubmissionsClient(stack.apiUrl, stack.functionKey) });
}

export interface Drop {
  blobName: string;
  /** Wall clock (ms) when the upload call returned. */
  droppedAt: number;
}

/** Uploads a generated package (a few hundred bytes, valid for the app's checks). */
export async function dropPackage(stack: Stack, folder: string): Promise<Drop> {
  const pkg = samplePackage({ folder });
  await stack.blobService.getContainerClient(APP_CONTAINERS.drops).getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
  return { blobName: pkg.fileName, droppedAt: Date.now() };
}

export interface Tracked extends Drop {
  id?: string;
  /** Wall clock (ms) when a list poll first saw the submission / saw it terminal. */
  seenAt?: number;
  endedAt?: number;
  final?: SubmissionView;
}

/**
 * Polls GET /api/submissions (one request for all) until every drop is terminal. Times are
 * observed, so they carry up to `intervalMs` of polling granularity.
 */
export async function trackUntilEnd(stack: BenchStack, drops: Drop[], options: { timeoutMs: number; intervalMs?: number }): Promise<Tracked[]> {
  const tracked = new Map<string, Tracked>(drops.map((d) => [d.blobName, { ...d }]));
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const views = await stack.submissions.list();
    const now = Date.now();
    for (const view of views) {
      const blobName = view.custom.package?.blobName;
      const entry = blobName ? tracked.get(blobName) : undefined;
      if (!entry) continue;
      entry.id ??= view.id;
      entry.seenAt ??= now;
      if (isTerminal(view) && entry.endedAt === undefined) {
        entry.endedAt = now;
        entry.final = view;
      }
    }
    const open = [...tracked.values()].filter((t) => t.endedAt === undefined);
    if (open.length === 0) return [...tracked.values()];
    if (Date.now() > deadline) throw new Error(`${open.length} of ${drops.length} submissions not finished within ${options.timeoutMs} ms`);
    await sleep(options.intervalMs ?? 100);
  }
}

export interface HistoryEvent {
  EventType: string;
  Name?: string;
  Timestamp: string;
}

export async function historyOf(stack: Stack, instanceId: string): Promise<HistoryEvent[]> {
  const response = await fetch(`${stack.baseUrl}/runtime/webhooks/durabletask/instances/${encodeURIComponent(instanceId)}?showHistory=true`, {
    headers: { "x-functions-key": stack.keys.systemKeys.durabletask_extension },
  });
  if (!response.ok) throw new Error(`history of ${instanceId}: HTTP ${response.status}`);
  const body = (await response.json()) as { history?: HistoryEvent[]; historyEvents?: HistoryEvent[] };
  return body.history ?? body.historyEvents ?? [];
}

/** token = Entra/Key Vault traffic (token + discovery); GET / POST = Hardware Dev Center calls. */
export function callKinds(entries: RequestLogEntry[]): { token: number; discovery: number; get: number; post: number; getSubmission: number; other: number } {
  const counts = { token: 0, discovery: 0, get: 0, post: 0, getSubmission: 0, other: 0 };
  for (const e of entries) {
    if (e.service === "control") continue;
    if (e.service === "entra" || e.service === "keyvault") {
      if (e.kind === "token") counts.token++;
      else counts.discovery++;
    } else if (e.service === "hdc" && e.kind !== "plainHttp") {
      if (e.method === "GET") counts.get++;
      else if (e.method === "POST") counts.post++;
      else counts.other++;
      if (e.kind === "getSubmission") counts.getSubmission++;
    }
  }
  return counts;
}

/** Difference between the emulator clock and the wall clock now (ms), to map log times to wall times. */
export function emulatorOffsetMs(stack: Stack): number {
  return Date.parse(stack.emulators.state().now) - Date.now();
}
