/**
 * `npm run test:conformance`: runs every scenario of the catalogue on Microsoft's Durable Task extension and on
 * our engine (local/durable), compares them field by field and prints the report. Exit code 1 when a difference
 * is not in the known-differences list (or an engine fails to run a scenario).
 *
 * Usage: node dist/local/conformance/run.js [--json <file>] [--only <scenario name>] [--dump <dir>] [--verbose]
 * (--dump writes both engines' status and latest orchestrator payload per scenario.)
 */
import "../functionsHost/installCoreStandIn";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { startAzurite } from "../azurite";
import { LOCAL_DATA_DIR } from "../runtime/paths";
import { ensureLocalCa } from "../tls";
import { loadFunctions } from "./appFunctions";
import { compareRuns, Difference } from "./compare";
import { EngineDriver, EngineStatus, OrchestratorPayload, repoRoot, startLocalEngine, startRealEngine } from "./engines";
import { KNOWN_DIFFERENCES, knownDifferenceFor } from "./knownDifferences";
import { ALL_SCENARIOS, Scenario, TERMINAL, WaitFor } from "./scenarios";
import { normaliseAppRun, startAppStack, type AppStack } from "./appScenarios";

export interface ScenarioResult {
  name: string;
  covers: string;
  fields: number;
  differences: (Difference & { known?: string })[];
  /** Milliseconds from start to settled, per engine. */
  elapsedMs: { real: number; local: number };
  activitySteps?: number;
  /** App scenarios: each engine's `output.outcome` (the app's own verdict on the run). */
  outcomes?: { real: unknown; local: unknown };
  /**
   * App scenarios: the products the scenario left at the emulator, per product name (one package per engine, so
   * two names with one product each when nothing else ran the packages).
   */
  emulatorProducts?: Record<string, number>;
  error?: string;
}

export interface ConformanceReport {
  extensionVersion: string;
  harnessStartMs: number;
  scenarios: ScenarioResult[];
  fields: number;
  unknownDifferences: number;
  knownDifferences: { id: string; reason: string; seen: number }[];
}

const POLL_MS = 100;
const SCENARIO_TIMEOUT_MS = 120000;

async function runOn(engine: EngineDriver, scenario: Scenario, instanceId: string, appStack?: AppStack) {
  const startedAt = Date.now();
  const waitFor: WaitFor = async (what, predicate) => {
    for (;;) {
      const status = await engine.status(instanceId);
      if (status && predicate(status)) return status;
      if (Date.now() - startedAt > SCENARIO_TIMEOUT_MS) {
        throw new Error(`${engine.label} engine: ${scenario.name} did not reach "${what}" (last status ${status?.runtimeStatus ?? "none"})`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };
  const input = scenario.app && appStack ? await scenario.app.input(appStack, engine.label) : scenario.input;
  await engine.start(scenario.orchestrator, input, instanceId);
  if (scenario.drive) await scenario.drive(engine, instanceId, waitFor);
  const status = await waitFor("settled", scenario.settled ?? ((s: EngineStatus) => TERMINAL.includes(s.runtimeStatus)));
  const elapsedMs = Date.now() - startedAt;
  const payload: OrchestratorPayload | undefined = await engine.payload(instanceId);
  if (scenario.app) {
    // Children are normalised with the parent's ids (their ids and data derive from the parent's run).
    const children = await Promise.all((scenario.app.children?.(instanceId) ?? []).map(async (id) => {
      const child = { status: await engine.status(id), payload: await engine.payload(id) };
      return normaliseAppRun({ ...child, parent: status }, instanceId, engine.label);
    }));
    return { ...normaliseAppRun({ status, payload }, instanceId, engine.label), children, elapsedMs };
  }
  return { status, payload, elapsedMs };
}

export async function runConformance(options: { only?: string; log?: (line: string) => void; dumpDir?: string } = {}): Promise<ConformanceReport> {
  const log = options.log ?? (() => undefined);
  const scenarios = ALL_SCENARIOS.filter((s) => !options.only || s.name === options.only);
  const azurite = await startAzurite({ inMemory: true });
  // App scenarios: the local stack's emulators, and its app settings for both engines' app (this process's
  // in-process engine and the worker, which inherits this environment) before anything reads configuration.
  let appStack: AppStack | undefined;
  if (scenarios.some((s) => s.app)) {
    appStack = await startAppStack(azurite);
    Object.assign(process.env, appStack.env);
  }
  const app = loadFunctions();
  const tag = Date.now().toString(36);
  let real: Awaited<ReturnType<typeof startRealEngine>> | undefined;
  let local: EngineDriver | undefined;
  try {
    [real, local] = await Promise.all([
      startRealEngine(azurite.connectionString, `ConfReal${tag}`, log),
      startLocalEngine(app, azurite.connectionString, `ConfLocal${tag}`),
    ]);
    const results: ScenarioResult[] = [];
    for (const scenario of scenarios) {
      const instanceId = `conformance-${scenario.name}-${tag}`;
      // App scenarios keep checkpoints, locks and results per instance id in the shared storage: one id per engine.
      const idOn = (engine: "real" | "local") => (scenario.app ? `${instanceId}-${engine}` : instanceId);
      const result: ScenarioResult = { name: scenario.name, covers: scenario.covers, fields: 0, differences: [], elapsedMs: { real: 0, local: 0 }, activitySteps: scenario.activitySteps };
      const productsBefore = new Set(appStack?.stack.emulators.state().products.map((p) => p.id) ?? []);
      try {
        const [onReal, onLocal] = await Promise.all([runOn(real, scenario, idOn("real"), appStack), runOn(local, scenario, idOn("local"), appStack)]);
        if (options.dumpDir) {
          fs.mkdirSync(options.dumpDir, { recursive: true });
          fs.writeFileSync(path.join(options.dumpDir, `${scenario.name}.json`), JSON.stringify({ real: onReal, local: onLocal }, null, 2));
        }
        const comparison = compareRuns(onReal, onLocal);
        const childrenOf = (run: object) => ((run as { children?: { status?: EngineStatus; payload?: OrchestratorPayload }[] }).children ?? []);
        childrenOf(onReal).forEach((child, i) => {
          const other = childrenOf(onLocal)[i] ?? {};
          const sub = compareRuns(child, other);
          comparison.fields += sub.fields;
          comparison.differences.push(...sub.differences.map((d) => ({ ...d, field: `child[${i}].${d.field}` })));
        });
        result.fields = comparison.fields;
        result.differences = comparison.differences.map((d) => ({ ...d, known: knownDifferenceFor(scenario.name, { ...d, field: d.field.replace(/^child\[\d+\]\./, "") })?.id }));
        result.elapsedMs = { real: onReal.elapsedMs, local: onLocal.elapsedMs };
        if (scenario.app) {
          const outcome = (run: { status?: EngineStatus }) => (run.status?.output as { outcome?: unknown } | null)?.outcome;
          result.outcomes = { real: outcome(onReal), local: outcome(onLocal) };
          result.emulatorProducts = {};
          for (const product of appStack?.stack.emulators.state().products ?? []) {
            if (productsBefore.has(product.id)) continue;
            const name = String(product.productName);
            result.emulatorProducts[name] = (result.emulatorProducts[name] ?? 0) + 1;
          }
        }
      } catch (error) {
        result.error = (error as Error).message;
      }
      results.push(result);
    }
    const all = results.flatMap((r) => r.differences);
    return {
      extensionVersion: extensionVersion(),
      harnessStartMs: real.timings.startMs,
      scenarios: results,
      fields: results.reduce((n, r) => n + r.fields, 0),
      unknownDifferences: all.filter((d) => !d.known).length + results.filter((r) => r.error).length,
      knownDifferences: KNOWN_DIFFERENCES.map((k) => ({ id: k.id, reason: k.reason, seen: all.filter((d) => d.known === k.id).length })),
    };
  } finally {
    await real?.stop();
    await local?.stop();
    await appStack?.stack.stop();
    await azurite.stop();
  }
}

/** The pinned Microsoft.Azure.WebJobs.Extensions.DurableTask version (from the host project). */
export function extensionVersion(): string {
  const project = fs.readFileSync(path.join(repoRoot(), "local", "conformance", "host", "ConformanceHost.csproj"), "utf8");
  return /<DurableTaskVersion[^>]*>([^<]+)</.exec(project)?.[1] ?? "unknown";
}

const show = (value: unknown) => {
  const text = JSON.stringify(value);
  return text === undefined ? "(absent)" : text.length > 300 ? `${text.slice(0, 300)}…` : text;
};

export function formatReport(report: ConformanceReport): string {
  const lines: string[] = [];
  lines.push(`Conformance: Microsoft.Azure.WebJobs.Extensions.DurableTask ${report.extensionVersion} (real) vs local/durable (local)`);
  lines.push(`harness start (worker + .NET host + task hub): ${report.harnessStartMs} ms`);
  lines.push("");
  for (const s of report.scenarios) {
    const perStep = s.activitySteps ? `; per activity step: real ${(s.elapsedMs.real / s.activitySteps).toFixed(0)} ms, local ${(s.elapsedMs.local / s.activitySteps).toFixed(0)} ms` : "";
    lines.push(`scenario ${s.name} (${s.covers})`);
    lines.push(`  fields compared: ${s.fields}; differences: ${s.differences.length} (${s.differences.filter((d) => !d.known).length} unknown); time: real ${s.elapsedMs.real} ms, local ${s.elapsedMs.local} ms${perStep}`);
    if (s.outcomes) lines.push(`  the app's outcome: real ${String(s.outcomes.real)}, local ${String(s.outcomes.local)}`);
    if (s.emulatorProducts) lines.push(`  products at the emulator: ${Object.entries(s.emulatorProducts).map(([name, n]) => `${name} ×${n}`).join(", ")}`);
    if (s.error) lines.push(`  ERROR: ${s.error}`);
    for (const d of s.differences) lines.push(`  ${d.known ? `known[${d.known}]` : "DIFFERENT"} ${d.field}\n      real:  ${show(d.real)}\n      local: ${show(d.local)}`);
  }
  lines.push("");
  lines.push(`scenarios: ${report.scenarios.length}; fields compared: ${report.fields}; unknown differences: ${report.unknownDifferences}`);
  lines.push(`known differences (local/conformance/KNOWN-DIFFERENCES.md): ${report.knownDifferences.length === 0 ? "none" : ""}`);
  for (const k of report.knownDifferences) lines.push(`  ${k.id} (seen ${k.seen}x): ${k.reason}`);
  return lines.join("\n");
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const verbose = args.includes("--verbose");
  // The app scenarios' activities call the emulators over TLS from this process; Node reads
  // NODE_EXTRA_CA_CERTS only at start, so run again with the local CA when it is not the one given.
  const caCertPath = ensureLocalCa(path.join(LOCAL_DATA_DIR, "tls")).caCertPath;
  const needsCa = ALL_SCENARIOS.some((s) => s.app && (!option("only") || s.name === option("only")));
  if (needsCa && process.env.NODE_EXTRA_CA_CERTS !== caCertPath) {
    const again = spawnSync(process.execPath, [__filename, ...args], { stdio: "inherit", env: { ...process.env, NODE_EXTRA_CA_CERTS: caCertPath } });
    process.exit(again.status ?? 2);
  }
  runConformance({ only: option("only"), dumpDir: option("dump"), log: verbose ? (line) => process.stderr.write(line + "\n") : undefined })
    .then((report) => {
      process.stdout.write(formatReport(report) + "\n");
      const jsonFile = option("json");
      if (jsonFile) fs.writeFileSync(jsonFile, JSON.stringify(report, null, 2));
      process.exit(report.unknownDifferences === 0 ? 0 : 1);
    })
    .catch((error: unknown) => {
      process.stderr.write(`conformance: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(2);
    });
}
