/**
 * Crash points on Microsoft's engine (issue 39): the app's submitDriver runs on the Durable Task extension (the
 * conformance harness's .NET host, local/conformance/host) against the local stack's emulators; the host (and its
 * Node worker, as a Functions host takes its workers down with it) is killed with SIGKILL between an activity's side
 * effect at the emulator and the activity's completion in the history, then started again on the same Azurite and
 * task hub. The extension takes the hub's partitions back, runs the lost activity again, and the app's own
 * reconciliation must still leave exactly one product, one submission, one commit and one shipping label.
 *
 * Each kill moment is found from the emulator's state (a held request taken), never from a sleep:
 *   afterProduct     createProduct's POST held, applied after the kill (answer lost): the restarted run adopts it
 *   afterSubmission  the same for createSubmission
 *   afterCommit      the same for the commit: committed at Microsoft, answer lost ("already committed")
 *   afterLabel       publishLabel's shipping-label POST, the same: the label is adopted by name
 * Needs the .NET SDK (scripts/restore-conformance.sh), like test/conformance/engines.test.ts.
 */
jest.mock("@azure/functions-core", () => require("../../local/functionsHost/coreStandIn"), { virtual: true });

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describeWithConformanceHost } from "../support/conformanceHost";
import { startAzurite, type AzuriteHandle } from "../../local/azurite";
import { startAppStack, type AppStack } from "../../local/conformance/appScenarios";
import { startRealEngine, type EngineStatus } from "../../local/conformance/engines";
import type { ScriptedFault } from "../../local/emulators";
import { APP_CONTAINERS } from "../../local/stack";
import { ensureLocalCa } from "../../local/tls";
import { ORCHESTRATOR_NAME } from "../../src/activities/contract";
import { parseConfig } from "../../src/config";
import { buildSubmitDriverInput } from "../../src/functions/submissionInput";
import { parsePublishPolicy } from "../../src/publishing";
import { expectExactlyOnce, faultTaken, hdcEntries, listBlobNames, logMark, until, uploadPackage } from "../proof/support/proof";

const root = path.resolve(__dirname, "../..");
const HOLD_MS = 2000;
/** Drops outside the container the stack's own (idle) runtime watches: only the real engine runs these packages. */
const DROPS = "real-engine-drops";

/** The pinned extension version (local/conformance/host/ConformanceHost.csproj). */
const extensionVersion = () =>
  /<DurableTaskVersion[^>]*>([^<]+)</.exec(fs.readFileSync(path.join(root, "local/conformance/host/ConformanceHost.csproj"), "utf8"))?.[1] ?? "unknown";

const describeWithHost = describeWithConformanceHost("test/conformance/crashRecovery");

interface CrashPoint {
  name: string;
  publish?: boolean;
  /** Held requests, armed before the start (cleared before the restart). */
  faults: ScriptedFault[];
  /** The emulator request kind whose held POST is applied after the kill. */
  appliedKind: string;
  /** A log line of the restarted run that proves the reconciliation path ran. */
  recovery: RegExp;
}

const POINTS: CrashPoint[] = [
  { name: "afterProduct", faults: [{ method: "POST", pathRegex: "/products$", delayMs: HOLD_MS, times: 1 }], appliedKind: "createProduct", recovery: /adopted product/ },
  {
    name: "afterSubmission",
    faults: [{ method: "POST", pathRegex: "/products/\\d+/submissions$", delayMs: HOLD_MS, times: 1 }],
    appliedKind: "createSubmission",
    recovery: /adopted submission/,
  },
  { name: "afterCommit", faults: [{ method: "POST", pathRegex: "/commit$", delayMs: HOLD_MS, times: 1 }], appliedKind: "commit", recovery: /already committed/ },
  {
    name: "afterLabel",
    publish: true,
    faults: [{ method: "POST", pathRegex: "/shippingLabels$", delayMs: HOLD_MS, times: 1 }],
    appliedKind: "createShippingLabel",
    recovery: /adopted shipping label/,
  },
];

describeWithHost("crash points on Microsoft's Durable Task extension", () => {
  let azurite: AzuriteHandle;
  let app: AppStack;
  let hostJson: string;
  let workerEnv: Record<string, string>;
  const hub = `Crash${Date.now().toString(36)}`;
  /** The worker's log lines (the app's logs included), across restarts. */
  const workerLog: string[] = [];
  const log = (line: string) => {
    if (line.startsWith("[worker]")) workerLog.push(...line.split("\n"));
  };

  beforeAll(async () => {
    azurite = await startAzurite({ inMemory: true });
    app = await startAppStack(azurite);
    // For the worker (the real engine's Node side): the app settings the local runtime gives the app, and the local
    // CA for the emulators' TLS.
    workerEnv = { ...app.env, NODE_EXTRA_CA_CERTS: ensureLocalCa(path.join(root, ".local-data", "tls")).caCertPath };
    await app.stack.blobService.getContainerClient(DROPS).createIfNotExists();
    // The app's host.json, with the queues' visibility timeouts cut from 5 minutes to 1 (the extension's minimum): a
    // message the killed host had taken comes back after that (the partitions' leases expire after 30 s).
    const appHostJson = JSON.parse(fs.readFileSync(path.join(root, "host.json"), "utf8"));
    Object.assign(appHostJson.extensions.durableTask.storageProvider, { controlQueueVisibilityTimeout: "00:01:00", workItemQueueVisibilityTimeout: "00:01:00" });
    hostJson = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "crash-host-")), "host.json");
    fs.writeFileSync(hostJson, JSON.stringify(appHostJson));
  }, 180_000);

  afterAll(async () => {
    await app?.stack.stop();
    await azurite?.stop();
  });

  const settle = async (engine: Awaited<ReturnType<typeof startRealEngine>>, id: string, timeoutMs: number): Promise<EngineStatus> =>
    until(`${id} finished`, async () => {
      const status = await engine.status(id);
      return status && ["Completed", "Failed", "Terminated"].includes(status.runtimeStatus) ? status : undefined;
    }, timeoutMs, 250);

  /** One host at a time: each point kills it and starts the next one on the same hub. */
  let engine: Awaited<ReturnType<typeof startRealEngine>> | undefined;
  const rows: string[] = [];
  const startEngine = async () => (engine = await startRealEngine(azurite.connectionString, hub, log, { hostJson, env: workerEnv }));
  afterAll(async () => {
    await engine?.stop();
    console.log(`crash points on the real engine (Durable Task extension ${extensionVersion()}), kill -9 of the host at each:\n${rows.join("\n")}`);
  });

  test.each(POINTS.map((p) => [p.name, p] as const))("%s: kill -9 of the host between the side effect and its completion, restart: exactly one of everything", async (_name, point) => {
    const started = Date.now();
    let down = false;
    try {
      const first = engine ?? (await startEngine());
      app.stack.emulators.configure({ faults: point.faults });
      const mark = logMark(app.stack);
      const pkg = await uploadPackage(app.stack, `real-crash-${point.name.toLowerCase()}`, { container: DROPS });
      const policy = parsePublishPolicy({ destination: "anotherPartner", receiverPublisherId: "27691110" });
      if (!policy.ok) throw new Error(JSON.stringify(policy));
      const input = buildSubmitDriverInput(
        { package: { container: pkg.container, blobName: pkg.blobName, etag: pkg.etag, contentLength: pkg.bytes.length }, requestedBy: "eventGrid", ...(point.publish ? { publish: policy.value } : {}) },
        parseConfig(app.env),
      );
      await first.start(ORCHESTRATOR_NAME, input, pkg.instanceId);

      // The side effect is at the emulator (its POST taken and held); the activity has not completed.
      await until(`${point.appliedKind} POST held`, () => faultTaken(app.stack, 0) === 1, 120_000, 10).catch(async (error: Error) => {
        throw new Error(`${error.message}; instance ${JSON.stringify((await first.status(pkg.instanceId))?.customStatus ?? null).slice(0, 300)}; worker: ${workerLog.slice(-4).join(" | ").slice(0, 800)}`);
      });
      expect(hdcEntries(app.stack, mark, point.appliedKind, true)).toHaveLength(0);
      expect((await first.status(pkg.instanceId))?.runtimeStatus).toBe("Running");
      const killedAt = Date.now();
      await first.stop(); // SIGKILL of the .NET host and its worker
      down = true;
      const logAtKill = workerLog.length;
      // Before publishing, the run had written no manifest yet (a publishing run writes one when signed, then again).
      if (!point.publish) expect((await listBlobNames(app.stack, APP_CONTAINERS.signed, `${pkg.blobName}/`)).filter((n) => n.endsWith("/manifest.json"))).toEqual([]);
      await until(`the held ${point.appliedKind} applied after the kill`, () => hdcEntries(app.stack, mark, point.appliedKind, true).length === 1, 10_000);
      app.stack.emulators.configure({ faults: [] });

      const restarted = await startEngine();
      down = false;
      const restartMs = Date.now() - killedAt;
      const final = await settle(restarted, pkg.instanceId, 240_000);
      const recoveredMs = Date.now() - killedAt;
      expect({ runtimeStatus: final.runtimeStatus, outcome: (final.output as { outcome?: string } | null)?.outcome }).toEqual({ runtimeStatus: "Completed", outcome: "succeeded" });

      // One product (named after the package), one submission, one commit with the dropped bytes, one signed
      // package and manifest; and one shipping label when the run publishes.
      const facts = await expectExactlyOnce(app.stack, pkg, pkg.instanceId);
      const products = app.stack.emulators.state().products.filter((p) => p.productName === facts.product.productName).length;
      const commits = hdcEntries(app.stack, mark, "commit").filter((e) => e.status === 202).length;
      const labels = hdcEntries(app.stack, mark, "createShippingLabel", true).length;
      expect(commits).toBe(1);
      expect(labels).toBe(point.publish ? 1 : 0);
      // Another partner's label ends shared (Windows Update's would end published).
      if (point.publish) expect((final.output as { label?: { phase?: string } }).label?.phase).toBe("shared");
      const recovery = workerLog.slice(logAtKill).filter((line) => /earlier attempt|already|adopted|reusing/i.test(line));
      expect(recovery.join("\n")).toMatch(point.recovery);
      rows.push(
        `  PASS ${point.name}: products ${products}, submissions ${facts.product.submissions.length}, commits ${commits}, labels ${labels}; ` +
        `host back ${restartMs} ms after the kill, run finished ${recoveredMs} ms after it (point ${Date.now() - started} ms); ` +
        `recovery: ${recovery.map((l) => l.replace(/^.*?information:\s*/, "").slice(0, 90)).join(" / ")}`,
      );
    } catch (error) {
      rows.push(`  FAIL ${point.name}: ${(error as Error).message.split("\n").slice(0, 3).join(" | ").slice(0, 600)}`);
      throw error;
    } finally {
      app.stack.emulators.configure({ faults: [] });
      // A point that failed may have left the host down: the next point starts it again.
      if (down) engine = undefined;
    }
  }, 600_000);
});
