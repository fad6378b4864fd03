/**
 * Our durable engine (local/durable) against Microsoft's Durable Task extension: runs the conformance
 * harness (`npm run test:conformance`, local/conformance/run.ts) as a child process and checks its report:
 * every scenario ran on both engines, fields were compared, and every difference is either fixed or listed
 * with its reason in local/conformance/KNOWN-DIFFERENCES.md. Needs the .NET SDK (the host is restored and
 * built by scripts/restore-conformance.sh): skipped with a message without it, a failure under CI=true.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describeWithConformanceHost } from "../support/conformanceHost";
import type { ConformanceReport } from "../../local/conformance/run";
import { KNOWN_DIFFERENCES } from "../../local/conformance/knownDifferences";
import { ALL_SCENARIOS } from "../../local/conformance/scenarios";

const root = path.resolve(__dirname, "../..");

const describeWithHost = describeWithConformanceHost("test/conformance/engines");

describeWithHost("conformance: local/durable against the Durable Task extension", () => {
  let report: ConformanceReport;
  let printed = "";

  beforeAll(() => {
    const jsonFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "conformance-")), "report.json");
    const run = spawnSync(process.execPath, [path.join(root, "dist/local/conformance/run.js"), "--json", jsonFile], {
      encoding: "utf8",
      timeout: 600_000,
    });
    printed = `${run.stdout}\n${run.stderr}`;
    if (!fs.existsSync(jsonFile)) throw new Error(`the harness wrote no report (exit ${run.status}):\n${printed}`);
    report = JSON.parse(fs.readFileSync(jsonFile, "utf8")) as ConformanceReport;
    console.log(printed);
  }, 900_000);

  test("every scenario ran on both engines and was compared field by field", () => {
    expect(report.scenarios.map((s) => s.name)).toEqual(ALL_SCENARIOS.map((s) => s.name));
    for (const scenario of report.scenarios) {
      expect({ name: scenario.name, error: scenario.error }).toEqual({ name: scenario.name, error: undefined });
      expect(scenario.fields).toBeGreaterThan(10);
      expect(scenario.elapsedMs.real).toBeGreaterThan(0);
      expect(scenario.elapsedMs.local).toBeGreaterThan(0);
    }
  });

  test.each(["appSubmitDriver", "appPublishLabel"])("the app's %s ran to its end on both engines, through the emulators", (name) => {
    const app = report.scenarios.find((s) => s.name === name);
    expect(app?.error).toBeUndefined();
    // Runtime status, output (outcome, ids, signed package, label) and custom status are among the compared
    // fields; equal on both engines unless listed, and each engine's run is checked to have succeeded.
    expect(app?.outcomes).toEqual({ real: "succeeded", local: "succeeded" });
    expect(app?.fields).toBeGreaterThan(300);
    // Only the two engines ran the scenario's packages: one product each at the emulator (the stack's own runtime,
    // which watches the drops container, ran them too before the packages moved out of it).
    expect(Object.values(app?.emulatorProducts ?? {})).toEqual([1, 1]);
  });

  test("the publishLabel sub-orchestration itself was compared (its status, history view and replayed history)", () => {
    const app = report.scenarios.find((s) => s.name === "appPublishLabel");
    expect(app?.differences.some((d) => d.field.startsWith("child[0].payload.history["))).toBe(true);
    expect(app?.fields).toBeGreaterThan(700);
  });

  test("every difference is fixed or listed as known, with its reason", () => {
    const unknown = report.scenarios.flatMap((s) => s.differences.filter((d) => !d.known).map((d) => ({ scenario: s.name, ...d })));
    expect(unknown).toEqual([]);
    expect(report.unknownDifferences).toBe(0);
  });

  test("the known-differences file explains every listed difference", () => {
    const text = fs.readFileSync(path.join(root, "local/conformance/KNOWN-DIFFERENCES.md"), "utf8");
    for (const known of KNOWN_DIFFERENCES) {
      expect(known.reason.length).toBeGreaterThan(20);
      expect(text).toContain(`\`${known.id}\``);
    }
  });
});
