/**
 * Proof: kill -9 of the runtime at every step boundary of submitDriver, then a restart on the same
 * Azurite and emulators, still ends with the submission succeeded and exactly one product, one
 * submission, one committed package (same bytes as dropped), one signed package and one manifest.
 *
 * Each kill moment is found from the emulators' own state (request log, scripted faults taken,
 * the status API's stage), never from a sleep:
 *   afterAuthenticate  createProduct's POST arrived (held, then refused 503 unapplied): authenticate's result is in history
 *   afterProduct       createProduct's POST held; killed; the emulator creates the product after the kill, so the
 *                      answer is lost (the restarted run must adopt that product, not create another)
 *   afterSubmission    the same for createSubmission (must adopt the submission)
 *   midCopy            copyPackage's upload-SAS GET arrived and is held: the copy activity is running
 *   afterCopy          the commit POST arrived (held, then refused 503 unapplied): the package is in the upload slot
 *   afterCommit        the same for the commit: committed at Microsoft, answer lost (must accept "already committed")
 *   midPolling         two status polls answered after the commit
 *   duringDownload     stage downloadingSignedPackage and its GET of the submission is held
 * One stack for the file; the points run one after another, each with its own package.
 */
import { startTestStack, waitForEnd, type TestStack } from "../support/stack";
import { APP_CONTAINERS } from "../../local/stack";
import type { ScriptedFault } from "../../local/emulators";
import { expectExactlyOnce, faultTaken, hdcEntries, listBlobNames, logMark, until, uploadPackage, type DroppedPackage } from "./support/proof";

jest.setTimeout(280_000);

const HOLD_MS = 2000;
/** Status GETs of a submission (not /commit). */
const SUBMISSION_GET = "/products/\\d+/submissions/\\d+$";

interface PointContext {
  stack: TestStack;
  pkg: DroppedPackage;
  mark: number;
}

interface CrashPoint {
  name: string;
  /** Faults armed before the package is dropped (cleared before the restart). */
  faults?: ScriptedFault[];
  /** Resolves as soon as the runtime is at the boundary; returns a short description of where it was. */
  reached(ctx: PointContext): Promise<string>;
  /** Runs after the kill, before the restart (e.g. let a held request take effect at the emulator). */
  beforeRestart?(ctx: PointContext): Promise<void>;
  /** A runtime log line the restarted run must write: proof that the reconciliation path ran. */
  recovery?: RegExp;
}

const POINTS: CrashPoint[] = [
  {
    name: "afterAuthenticate",
    faults: [{ method: "POST", pathRegex: "/products$", delayMs: HOLD_MS, status: 503, times: 1 }],
    async reached({ stack, mark }) {
      await until("createProduct POST held", () => faultTaken(stack, 0) === 1);
      expect(hdcEntries(stack, mark, "listProducts", true).length).toBeGreaterThanOrEqual(1);
      return "createProduct POST in flight (held, will not apply)";
    },
  },
  {
    name: "afterProduct",
    faults: [{ method: "POST", pathRegex: "/products$", delayMs: HOLD_MS, times: 1 }],
    async reached({ stack }) {
      await until("createProduct POST held", () => faultTaken(stack, 0) === 1);
      return "createProduct POST held; killed; the product was created after the kill (answer lost)";
    },
    async beforeRestart({ stack, mark }) {
      await until("the held createProduct applied", () => hdcEntries(stack, mark, "createProduct", true).length === 1, 10_000);
    },
    recovery: /adopted product/,
  },
  {
    name: "afterSubmission",
    faults: [{ method: "POST", pathRegex: "/products/\\d+/submissions$", delayMs: HOLD_MS, times: 1 }],
    async reached({ stack }) {
      await until("createSubmission POST held", () => faultTaken(stack, 0) === 1);
      return "createSubmission POST held; killed; the submission was created after the kill (answer lost)";
    },
    async beforeRestart({ stack, mark }) {
      await until("the held createSubmission applied", () => hdcEntries(stack, mark, "createSubmission", true).length === 1, 10_000);
    },
    recovery: /adopted submission/,
  },
  {
    name: "midCopy",
    faults: [{ method: "GET", pathRegex: SUBMISSION_GET, delayMs: HOLD_MS, times: 1 }],
    async reached({ stack, mark }) {
      await until("copyPackage's upload-SAS GET held", () => faultTaken(stack, 0) === 1);
      expect(hdcEntries(stack, mark, "createSubmission", true)).toHaveLength(1);
      return "copyPackage running (upload-SAS GET held)";
    },
  },
  {
    name: "afterCopy",
    faults: [{ method: "POST", pathRegex: "/commit$", delayMs: HOLD_MS, status: 503, times: 1 }],
    async reached({ stack }) {
      await until("commit POST held", () => faultTaken(stack, 0) === 1);
      return "commit POST in flight (held, will not apply)";
    },
  },
  {
    name: "afterCommit",
    faults: [{ method: "POST", pathRegex: "/commit$", delayMs: HOLD_MS, times: 1 }],
    async reached({ stack }) {
      await until("commit POST held", () => faultTaken(stack, 0) === 1);
      return "commit POST held; killed; the commit took effect after the kill (answer lost)";
    },
    async beforeRestart({ stack, mark }) {
      await until("the held commit applied", () => hdcEntries(stack, mark, "commit").some((e) => e.status === 202), 10_000);
    },
    recovery: /already committed/,
  },
  {
    name: "midPolling",
    async reached({ stack, mark }) {
      const polls = () => {
        const commit = hdcEntries(stack, mark, "commit").find((e) => e.status === 202);
        return commit ? hdcEntries(stack, commit.seq, "getSubmission", true).length : 0;
      };
      await until("two polls after the commit", () => polls() >= 2);
      return `${polls()} status polls answered after the commit`;
    },
  },
  {
    name: "duringDownload",
    // Every GET of the submission is held a little; once the stage says downloading, a GET still in
    // flight can only be downloadSignedPackage's (every poll is answered before the stage changes).
    faults: [{ method: "GET", pathRegex: SUBMISSION_GET, delayMs: 800, times: 1000 }],
    async reached({ stack, pkg, mark }) {
      const inFlight = () => faultTaken(stack, 0) - hdcEntries(stack, mark, "getSubmission").length;
      await until(
        "downloadSignedPackage's GET held",
        async () => inFlight() > 0 && (await stack.submissions.get(pkg.instanceId)).stage === "downloadingSignedPackage" && inFlight() > 0,
        60_000,
        10,
      );
      return "downloadSignedPackage running (its submission GET held)";
    },
  },
];

describe("proof: crash recovery at every step boundary", () => {
  let stack: TestStack;
  /** The runtime's log lines (app logs included), to show which recovery path each restart took. */
  const runtimeLog: string[] = [];

  beforeAll(async () => {
    stack = await startTestStack({ echoRuntimeLog: (line) => runtimeLog.push(line) });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("finishes with exactly one of everything after a SIGKILL at each boundary", async () => {
    const results: { name: string; ok: boolean; detail: string; ms: number }[] = [];
    for (const point of POINTS) {
      const started = Date.now();
      let where = "(not reached)";
      let down = false;
      try {
        stack.emulators.configure({ faults: point.faults ?? [] });
        const mark = logMark(stack);
        const pkg = await uploadPackage(stack, `proof-crash-${point.name.toLowerCase()}`);
        const ctx: PointContext = { stack, pkg, mark };
        where = await point.reached(ctx);

        const killedPid = stack.runtime.pid;
        down = true;
        await stack.runtime.kill("SIGKILL");
        const logAtKill = runtimeLog.length;
        // Nothing of this point may be finished at the moment of the kill.
        const signedAtKill = await listBlobNames(stack, APP_CONTAINERS.signed, `${pkg.blobName}/`);
        expect(signedAtKill.filter((name) => name.endsWith("/manifest.json"))).toEqual([]);
        await point.beforeRestart?.(ctx);
        stack.emulators.configure({ faults: [] });
        await stack.runtime.restart();
        down = false;
        expect(stack.runtime.pid).not.toBe(killedPid);

        const final = await waitForEnd(stack, pkg.instanceId, 90_000);
        expect({ runtimeStatus: final.runtimeStatus, stage: final.stage }).toEqual({ runtimeStatus: "Completed", stage: "succeeded" });
        await expectExactlyOnce(stack, pkg, pkg.instanceId);
        const recovery = runtimeLog
          .slice(logAtKill)
          .filter((line) => /earlier attempt|already|adopted|reusing/i.test(line))
          .map((line) => line.replace(/^.*?information:\s*/, "").slice(0, 120));
        if (point.recovery) expect(recovery.join("\n")).toMatch(point.recovery);
        const detail = `${where}; after restart: ${recovery.length > 0 ? recovery.join(" / ") : "nothing to reconcile"}`;
        results.push({ name: point.name, ok: true, detail, ms: Date.now() - started });
      } catch (error) {
        results.push({ name: point.name, ok: false, detail: `${where}: ${(error as Error).message.split("\n").slice(0, 6).join(" | ")}`, ms: Date.now() - started });
        // A failed point may leave the runtime down or faults armed; get back to a usable stack.
        stack.emulators.configure({ faults: [] });
        if (down) await stack.runtime.restart().catch(() => undefined);
      }
    }

    const passed = results.filter((r) => r.ok).length;
    const lines = results.map((r) => `  ${r.ok ? "PASS" : "FAIL"} ${r.name} (${r.ms} ms): ${r.detail}`);
    console.log(`crash injection points passed: ${passed}/${POINTS.length}\n${lines.join("\n")}`);
    expect(results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`)).toEqual([]);
    expect(passed).toBe(8);
  });
});
