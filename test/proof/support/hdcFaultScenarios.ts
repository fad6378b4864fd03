/**
 * The Hardware Dev Center fault scenarios of the proof suite (reference/hdc-api.md a.8, a.9, a.14),
 * run one after another on one stack because scripted faults match any request of their kind.
 * Each scenario starts a package, injects its fault, waits for the terminal state and asserts the
 * outcome and the request counts by kind (from the emulator's request log) against a fault-free
 * baseline run, so a retry storm fails the test. Used by hdcFaults.test.ts and secrets.test.ts.
 */
import * as fs from "node:fs";
import type { HdcBehaviourPatch, RequestLogEntry } from "../../../local/emulators";
import { samplePackage } from "../../../local/samplePackage";
import { APP_CONTAINERS, type StackOptions } from "../../../local/stack";
import { dropPackage, startTestStack, waitForEnd, type SubmissionView, type TestStack } from "../../support/stack";

export const SUBMISSION_GET = "/hardware/products/\\d+/submissions/\\d+$";
export const COMMIT_POST = "/hardware/products/\\d+/submissions/\\d+/commit$";

/** HDC client timeout for the whole stack; the slow-response scenario holds answers longer than this. */
export const HTTP_TIMEOUT_SECONDS = 2;
/**
 * Below MSAL's 5-minute refresh window, so @azure/identity asks Entra again whenever the app's own
 * token cache asks it (after a 401); with hour-long tokens MSAL would hand back the revoked one.
 * Also above the app's 2-minute refresh margin, so the app still caches the token between requests.
 */
export const TOKEN_LIFETIME_SECONDS = 200;

export function faultStackOptions(): StackOptions {
  return {
    appSettings: { HDC_HTTP_TIMEOUT_SECONDS: String(HTTP_TIMEOUT_SECONDS) },
    behaviour: { tokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS },
  };
}

export function startFaultStack(): Promise<TestStack> {
  return startTestStack(faultStackOptions());
}

export interface RunRecord {
  name: string;
  id: string;
  view: SubmissionView;
  /** Requests the emulators answered during this run (the runs do not overlap). */
  entries: RequestLogEntry[];
  counts: Record<string, number>;
  manifestText?: string;
  /** Texts read back from the app (status API bodies, manifest), for the secrets scan. */
  readBack: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function lastSeq(stack: TestStack): number {
  const entries = stack.emulators.requests().entries;
  return entries.length > 0 ? entries[entries.length - 1].seq : 0;
}

function countByKind(entries: RequestLogEntry[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const entry of entries) counts[entry.kind] = (counts[entry.kind] ?? 0) + 1;
  return counts;
}

/** Polls the in-process request log until `predicate` holds for an entry of this run. */
export async function waitForEntry(
  stack: TestStack,
  fromSeq: number,
  predicate: (entry: RequestLogEntry) => boolean,
  timeoutMs = 30_000,
): Promise<RequestLogEntry> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = stack.emulators.requests().entries.find((entry) => entry.seq > fromSeq && predicate(entry));
    if (found) return found;
    if (Date.now() > deadline) throw new Error("the expected emulator request did not arrive");
    await sleep(5);
  }
}

/** Drops a package, runs `during` alongside, waits for the end, and collects what the run did. */
export async function runSubmission(
  stack: TestStack,
  name: string,
  options: { behaviour?: HdcBehaviourPatch; during?: (fromSeq: number) => Promise<void>; settleMs?: number } = {},
): Promise<RunRecord> {
  const fromSeq = lastSeq(stack);
  if (options.behaviour) stack.emulators.configure(options.behaviour);
  try {
    const blobName = await dropPackage(stack, `proof-${name}`);
    const during = options.during?.(fromSeq);
    const id = await stack.submissions.findByBlob(blobName, 20_000);
    const view = await waitForEnd(stack, id, 90_000);
    await during;
    // Requests the client abandoned (timeouts) are answered and logged later: keep them in this run.
    if (options.settleMs) await sleep(options.settleMs);
    const entries = stack.emulators.requests().entries.filter((entry) => entry.seq > fromSeq);
    const readBack = [JSON.stringify(view.raw)];
    let manifestText: string | undefined;
    const manifest = view.custom.manifest;
    if (manifest) {
      manifestText = (await stack.blobService.getContainerClient(manifest.container).getBlobClient(manifest.blobName).downloadToBuffer()).toString("utf8");
      readBack.push(manifestText);
    }
    return { name, id, view, entries, counts: countByKind(entries), manifestText, readBack };
  } finally {
    stack.emulators.configure({
      faults: [],
      commitOutcome: "complete",
      sasTtlSeconds: 3600,
      workflow: { failAtStep: undefined, failMessages: undefined, errorReportText: undefined },
    });
  }
}

/** Slack per kind for requests whose number depends on timing (polls land at different workflow points). */
const TIMING_SLACK: Record<string, number> = { getSubmission: 2, token: 2 };

/**
 * No retry storm: every kind of request was made at most as often as in the fault-free baseline
 * plus what the faults forced (`forced`), plus the timing slack above.
 */
export function expectNoStorm(run: RunRecord, baseline: RunRecord, forced: Record<string, number> = {}): void {
  const kinds = new Set([...Object.keys(run.counts), ...Object.keys(baseline.counts)]);
  const over: string[] = [];
  for (const kind of kinds) {
    const limit = (baseline.counts[kind] ?? 0) + (forced[kind] ?? 0) + (TIMING_SLACK[kind] ?? 0);
    if ((run.counts[kind] ?? 0) > limit) over.push(`${kind}: ${run.counts[kind]} > ${limit}`);
  }
  expect(over).toEqual([]);
}

function entriesOf(run: RunRecord, kind: string): RequestLogEntry[] {
  return run.entries.filter((entry) => entry.kind === kind);
}

/** The next request of the same kind after `entry`, in this run. */
function nextOfKind(run: RunRecord, entry: RequestLogEntry): RequestLogEntry | undefined {
  return run.entries.find((candidate) => candidate.seq > entry.seq && candidate.kind === entry.kind);
}

function runtimeLog(stack: TestStack): string {
  return fs.readFileSync(stack.runtimeLogFile, "utf8");
}

function expectSucceeded(run: RunRecord): void {
  expect({ runtimeStatus: run.view.runtimeStatus, stage: run.view.stage }).toEqual({ runtimeStatus: "Completed", stage: "succeeded" });
  expect(run.manifestText && JSON.parse(run.manifestText)).toMatchObject({ outcome: "succeeded" });
}

/** The signed package exists and the emulator received exactly the package we dropped. */
async function expectPackageArrived(stack: TestStack, run: RunRecord): Promise<void> {
  const pkg = samplePackage({ folder: `proof-${run.name}` });
  const submission = stack.emulators
    .state()
    .products.flatMap((product) => product.submissions)
    .find((candidate) => candidate.id === run.view.custom.submissionId);
  expect(submission?.upload?.length).toBe(pkg.bytes.length);
  const signed = run.view.custom.signedPackage;
  expect(signed?.container).toBe(APP_CONTAINERS.signed);
  expect(await stack.blobService.getContainerClient(signed!.container).getBlobClient(signed!.blobName).exists()).toBe(true);
}

export interface FaultScenario {
  name: string;
  run(stack: TestStack, baseline: RunRecord): Promise<RunRecord>;
}

export async function runBaseline(stack: TestStack): Promise<RunRecord> {
  const run = await runSubmission(stack, "baseline");
  expectSucceeded(run);
  expect(run.counts.commit).toBe(1);
  expect(run.counts.getSubmission).toBeGreaterThan(1);
  return run;
}

export const FAULT_SCENARIOS: FaultScenario[] = [
  {
    name: "429 with Retry-After on a poll and on commit",
    async run(stack, baseline) {
      const run = await runSubmission(stack, "throttled", {
        behaviour: {
          faults: [
            { method: "GET", pathRegex: SUBMISSION_GET, status: 429, retryAfterSeconds: 2, times: 1 },
            { method: "POST", pathRegex: COMMIT_POST, status: 429, retryAfterSeconds: 1, times: 1 },
          ],
        },
      });
      expectSucceeded(run);
      const throttled = run.entries.filter((entry) => entry.status === 429);
      expect(throttled.map((entry) => entry.kind).sort()).toEqual(["commit", "getSubmission"]);
      for (const entry of throttled) {
        const retryAfterMs = entry.kind === "getSubmission" ? 2000 : 1000;
        const next = nextOfKind(run, entry);
        expect(next?.status).toBeLessThan(300);
        const gap = next!.realAtMs - entry.realAtMs;
        // Honoured (small allowance for timer granularity), and not wildly exceeded either.
        expect(gap).toBeGreaterThanOrEqual(retryAfterMs - 50);
        expect(gap).toBeLessThan(retryAfterMs + 3000);
      }
      expect(entriesOf(run, "commit").map((entry) => entry.status)).toEqual([429, 202]);
      expectNoStorm(run, baseline, { getSubmission: 1, commit: 1 });
      return run;
    },
  },
  {
    name: "bursts of 500/502/503 on getSubmission and commit",
    async run(stack, baseline) {
      const burst = (method: string, pathRegex: string) =>
        ([500, 502, 503] as const).map((status) => ({ method, pathRegex, status, times: 1 }));
      const run = await runSubmission(stack, "bursts", {
        behaviour: { faults: [...burst("GET", SUBMISSION_GET), ...burst("POST", COMMIT_POST)] },
      });
      expectSucceeded(run);
      expect(entriesOf(run, "commit").map((entry) => entry.status)).toEqual([500, 502, 503, 202]);
      const failedGets = entriesOf(run, "getSubmission").filter((entry) => entry.status >= 500);
      expect(failedGets.map((entry) => entry.status)).toEqual([500, 502, 503]);
      // Bounded: a burst of three costs three extra requests, nothing more.
      expectNoStorm(run, baseline, { getSubmission: 3, commit: 3 });
      return run;
    },
  },
  {
    name: "slow responses past the client timeout",
    async run(stack, baseline) {
      const logBefore = runtimeLog(stack).length;
      const run = await runSubmission(stack, "slow", {
        behaviour: { faults: [{ method: "GET", pathRegex: SUBMISSION_GET, delayMs: (HTTP_TIMEOUT_SECONDS + 1) * 1000, times: 2 }] },
        settleMs: (HTTP_TIMEOUT_SECONDS + 1) * 1000,
      });
      expectSucceeded(run);
      // The two held answers were abandoned by the client (timeout) and the GET was repeated.
      const timeouts = runtimeLog(stack).slice(logBefore).match(/HDC GET \S+ got timeout; retry/g) ?? [];
      expect(timeouts).toHaveLength(2);
      expectNoStorm(run, baseline, { getSubmission: 2 });
      return run;
    },
  },
  {
    name: "token expires mid-polling (401, re-auth, success)",
    async run(stack, baseline) {
      let revokedAfterSeq = 0;
      const run = await runSubmission(stack, "token", {
        during: async (fromSeq) => {
          // Once polling has begun, hold one poll on the emulator side and revoke every token
          // while it is held: that poll's token is then rejected after it was sent.
          await waitForEntry(stack, fromSeq, (entry) => entry.kind === "commit" && entry.status === 202);
          stack.emulators.configure({ faults: [{ method: "GET", pathRegex: SUBMISSION_GET, delayMs: 1000, times: 1 }] });
          const deadline = Date.now() + 30_000;
          while (stack.emulators.state().faults[0]?.remaining !== 0) {
            if (Date.now() > deadline) throw new Error("no poll came to be held");
            await sleep(5);
          }
          revokedAfterSeq = stack.emulators.requests().entries.at(-1)?.seq ?? 0;
          stack.emulators.revokeAllTokens();
        },
      });
      expectSucceeded(run);
      const afterRevoke = run.entries.filter((entry) => entry.seq > revokedAfterSeq);
      const sequence = afterRevoke.map((entry) => `${entry.kind}:${entry.status}`);
      // The held poll was rejected, one new token was fetched, and the same poll went through.
      expect(sequence.slice(0, 3)).toEqual(["getSubmission:401", "token:200", "getSubmission:200"]);
      expect(sequence.filter((item) => item.endsWith(":401"))).toEqual(["getSubmission:401"]);
      // No token storm: the rest of the run reused the new token.
      const tokensAfterRevoke = sequence.filter((item) => item.startsWith("token:")).length;
      expect(tokensAfterRevoke).toBeLessThanOrEqual(3);
      expectNoStorm(run, baseline, { getSubmission: 1, token: 1 });
      return run;
    },
  },
  {
    name: "upload SAS already expired at copy time",
    async run(stack, baseline) {
      const logBefore = runtimeLog(stack).length;
      const sasBefore = stack.emulators.issuedSecrets().sas.length;
      const run = await runSubmission(stack, "sas", {
        // Every SAS handed out expires at once, until the app has read the submission for its copy.
        behaviour: { sasTtlSeconds: 0 },
        during: async (fromSeq) => {
          await waitForEntry(stack, fromSeq, (entry) => entry.kind === "getSubmission" && entry.status === 200);
          stack.emulators.configure({ sasTtlSeconds: 3600 });
        },
      });
      expectSucceeded(run);
      await expectPackageArrived(stack, run);
      const uploadSas = stack.emulators
        .issuedSecrets()
        .sas.slice(sasBefore)
        .filter((sas) => sas.container === "hdc-ingestion" && sas.permissions.includes("w"));
      // At least one expired upload SAS was handed out, and a fresh one after it.
      const firstExpired = uploadSas.findIndex((sas) => sas.expiresOnMs <= sas.issuedAtMs);
      expect(firstExpired).toBeGreaterThanOrEqual(0);
      expect(uploadSas.slice(firstExpired + 1).some((sas) => sas.expiresOnMs > sas.issuedAtMs + 60_000)).toBe(true);
      // The app noticed (by the SAS expiry or by the storage's refusal) and fetched a fresh one.
      expect(runtimeLog(stack).slice(logBefore)).toMatch(/Upload SAS of submission \d+ (expires within|was refused)/);
      expectNoStorm(run, baseline, { getSubmission: 4 });
      return run;
    },
  },
  {
    name: "commit answered 502 after it took effect",
    async run(stack, baseline) {
      const run = await runSubmission(stack, "commit502", {
        behaviour: { faults: [{ method: "POST", pathRegex: COMMIT_POST, status: 502, afterApplying: true, times: 1 }] },
      });
      expectSucceeded(run);
      const commits = entriesOf(run, "commit");
      expect(commits[0].status).toBe(502);
      // Reconciled: at most one more commit POST than the fault forced (answered "only pending").
      expect(commits.length).toBeLessThanOrEqual(2);
      expect(commits.filter((entry) => entry.status === 202)).toHaveLength(0);
      const submission = stack.emulators
        .state()
        .products.flatMap((product) => product.submissions)
        .find((candidate) => candidate.id === run.view.custom.submissionId);
      expect(submission?.commitStatus).toBe("commitComplete");
      expectNoStorm(run, baseline, { commit: 1, getSubmission: 1 });
      return run;
    },
  },
  {
    name: "commit fails (commitFailed)",
    async run(stack, baseline) {
      const run = await runSubmission(stack, "commitFailed", { behaviour: { commitOutcome: "failed" } });
      expect({ runtimeStatus: run.view.runtimeStatus, stage: run.view.stage }).toEqual({ runtimeStatus: "Failed", stage: "failed" });
      expect(run.view.custom.commitStatus).toBe("commitFailed");
      expect(run.view.custom.messages).toEqual([expect.stringContaining("Commit processing failed")]);
      expect(JSON.parse(run.manifestText ?? "{}")).toMatchObject({
        outcome: "failed",
        commitStatus: "commitFailed",
        messages: [expect.stringContaining("Commit processing failed")],
      });
      expect(run.counts.commit).toBe(1);
      expect(run.view.custom.signedPackage).toBeUndefined();
      expectNoStorm(run, baseline);
      return run;
    },
  },
  {
    name: "workflow fails at validation with messages and an error report",
    async run(stack, baseline) {
      const failMessages = ["Driver package failed HLK validation: test X.", "INF section [Foo] is invalid."];
      const errorReportText = "PROOF-ERROR-REPORT: validation failed for emulated.inf (line 12).";
      const run = await runSubmission(stack, "validation", {
        behaviour: { workflow: { failAtStep: "validation", failMessages, errorReportText } },
      });
      expect({ runtimeStatus: run.view.runtimeStatus, stage: run.view.stage }).toEqual({ runtimeStatus: "Failed", stage: "failed" });
      expect(run.view.custom.currentStep).toBe("validation");
      expect(run.view.custom.state).toBe("failed");
      expect(run.view.custom.messages).toEqual(failMessages);
      expect(run.view.raw.errorReport).toEqual(expect.stringContaining(errorReportText));
      expect(JSON.parse(run.manifestText ?? "{}")).toMatchObject({
        outcome: "failed",
        currentStep: "validation",
        messages: failMessages,
        errorReportText: expect.stringContaining(errorReportText),
      });
      expect(run.counts.commit).toBe(1);
      expectNoStorm(run, baseline);
      return run;
    },
  },
];
