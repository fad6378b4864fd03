/**
 * `npm run record:replay-fixtures`: records the app's orchestration histories as Microsoft's Durable Task extension
 * stores them, for the orchestrator replay tests (test/unit/orchestrator/realEngineReplay.test.ts, issue 39).
 *
 * Runs the two app scenarios of the conformance harness on the real engine only (the .NET host over Azurite, the
 * local stack's emulators): `submitDriver` from a dropped package to the signed package, and `submitDriver` with a
 * publish policy, whose `publishLabel` sub-orchestration takes the label through its phases. For each instance it
 * keeps the orchestrator's last trigger payload (the whole history exactly as the extension handed it over) and the
 * final status, replaces what differs per run (instance execution ids, the drop's ETag, the emulator's product,
 * submission and label ids, the Entra tenant and client ids) with fixed values, refuses to write anything that
 * looks secret, and writes small JSON files to test/fixtures/real-engine/.
 *
 * Re-record when a new orchestrator version is deployed (the files stand for instances in flight in Azure): move the
 * old folder aside if its instances may still be running, so both versions keep replaying.
 *
 * Usage: node dist/local/conformance/recordReplayFixtures.js [--out <dir>] [--verbose]
 */
import "../functionsHost/installCoreStandIn";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { startAzurite } from "../azurite";
import { LOCAL_DATA_DIR } from "../runtime/paths";
import { ensureLocalCa } from "../tls";
import { startAppStack } from "./appScenarios";
import { repoRoot, startRealEngine, type EngineDriver, type EngineStatus, type OrchestratorPayload } from "./engines";
import { APP_SCENARIOS } from "./scenarios";
import { extensionVersion } from "./run";
import { assertNothingSecret, fixtureNormaliser } from "./fixtureNormaliser";

/** One recorded instance: what the replay test feeds to the current code. */
export interface ReplayFixture {
  orchestrator: string;
  instanceId: string;
  /** Where it came from (engine, extension version, commit of the recorded code). */
  recordedWith: { engine: string; extensionVersion: string; commit: string };
  /** The orchestrator's last trigger payload: the history as the extension stored and sent it. */
  payload: OrchestratorPayload;
  /** The extension's final status of the instance (runtime status, output, custom status). */
  final: Pick<EngineStatus, "runtimeStatus" | "output" | "customStatus">;
}

/** Which instances are recorded: the scenario, the fixture file per instance (parent first, then its children). */
const RECORDINGS = [
  { scenario: "appSubmitDriver", instanceId: "replay-submitdriver", files: ["submitDriver-signed.json"] },
  { scenario: "appPublishLabel", instanceId: "replay-publish", files: ["submitDriver-with-label.json", "publishLabel-shared.json"] },
];

const TIMEOUT_MS = 120_000;

async function settle(engine: EngineDriver, instanceId: string): Promise<EngineStatus> {
  const started = Date.now();
  for (;;) {
    const status = await engine.status(instanceId);
    if (status && ["Completed", "Failed", "Terminated"].includes(status.runtimeStatus)) return status;
    if (Date.now() - started > TIMEOUT_MS) throw new Error(`${instanceId} did not finish within ${TIMEOUT_MS} ms (last ${status?.runtimeStatus ?? "none"})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function recordReplayFixtures(outDir: string, log: (line: string) => void = () => undefined): Promise<string[]> {
  const azurite = await startAzurite({ inMemory: true });
  // Steps that take wall-clock time, so the histories hold several polls and the label passes through its phases.
  const appStack = await startAppStack(azurite, { workflow: { stepSeconds: 1, commitSeconds: 1 }, labels: { stepSeconds: 1, approvalSeconds: 2 } });
  // The worker (the real engine's Node side) inherits these: the app settings the local runtime gives the app.
  Object.assign(process.env, appStack.env);
  let real: Awaited<ReturnType<typeof startRealEngine>> | undefined;
  try {
    real = await startRealEngine(azurite.connectionString, `Replay${Date.now().toString(36)}`, log);
    const engine = real;
    const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoRoot(), encoding: "utf8" }).stdout.trim() || "unknown";
    const recordedWith = { engine: "Microsoft.Azure.WebJobs.Extensions.DurableTask", extensionVersion: extensionVersion(), commit };
    const written: string[] = [];
    await Promise.all(RECORDINGS.map(async (recording) => {
      const scenario = APP_SCENARIOS.find((s) => s.name === recording.scenario);
      if (!scenario?.app) throw new Error(`no app scenario ${recording.scenario}`);
      await engine.start(scenario.orchestrator, await scenario.app.input(appStack, "real"), recording.instanceId);
      const parent = await settle(engine, recording.instanceId);
      if (parent.runtimeStatus !== "Completed") throw new Error(`${recording.instanceId} ended ${parent.runtimeStatus}: ${JSON.stringify(parent.output)}`);
      const instanceIds = [recording.instanceId, ...(scenario.app.children?.(recording.instanceId) ?? [])];
      const runs = await Promise.all(instanceIds.map(async (id) => {
        const status = await settle(engine, id);
        const payload = await engine.payload(id);
        if (!payload) throw new Error(`no orchestrator payload recorded for ${id}`);
        return { status, payload };
      }));
      const normalise = fixtureNormaliser(runs, appStack.env);
      runs.forEach((run, i) => {
        const fixture: ReplayFixture = {
          orchestrator: run.status.name,
          instanceId: instanceIds[i],
          recordedWith,
          payload: normalise(run.payload) as OrchestratorPayload,
          final: normalise({ runtimeStatus: run.status.runtimeStatus, output: run.status.output, customStatus: run.status.customStatus }) as ReplayFixture["final"],
        };
        const json = JSON.stringify(fixture, null, 1) + "\n";
        assertNothingSecret(recording.files[i], json, appStack.env);
        fs.mkdirSync(outDir, { recursive: true });
        fs.writeFileSync(path.join(outDir, recording.files[i]), json);
        written.push(`${recording.files[i]} (${run.payload.history.length} events, ${json.length} bytes)`);
      });
    }));
    return written;
  } finally {
    await real?.stop();
    await appStack.stack.stop();
    await azurite.stop();
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--out");
  const outDir = at >= 0 ? path.resolve(args[at + 1]) : path.join(repoRoot(), "test", "fixtures", "real-engine");
  // The activities call the emulators over TLS from the worker, which inherits this environment.
  const caCertPath = ensureLocalCa(path.join(LOCAL_DATA_DIR, "tls")).caCertPath;
  if (process.env.NODE_EXTRA_CA_CERTS !== caCertPath) {
    const again = spawnSync(process.execPath, [__filename, ...args], { stdio: "inherit", env: { ...process.env, NODE_EXTRA_CA_CERTS: caCertPath } });
    process.exit(again.status ?? 2);
  }
  const started = Date.now();
  recordReplayFixtures(outDir, args.includes("--verbose") ? (line) => process.stderr.write(line + "\n") : undefined)
    .then((written) => {
      process.stdout.write(`recorded on the real engine in ${Date.now() - started} ms, into ${outDir}:\n${written.map((w) => `  ${w}`).join("\n")}\n`);
    })
    .catch((error: unknown) => {
      process.stderr.write(`record-replay-fixtures: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(2);
    });
}
