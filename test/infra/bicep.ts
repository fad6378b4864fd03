/**
 * Shared by the test/infra tests: the pinned Bicep CLI (restored from NuGet by
 * scripts/restore-bicep.sh) and `bicep snapshot` of infra/main.bicep, which expands the
 * subscription-scoped template with its modules into the resources a deployment would create,
 * with parameters, names and conditions resolved. Nothing here talks to Azure.
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { resolve } from "./armExpression";

export const run = promisify(execFile);
export const root = path.resolve(__dirname, "../..");
export const infra = path.join(root, "infra");
export const SUBSCRIPTION = "00000000-0000-4000-8000-00000000aaaa";
export const TENANT = "00000000-0000-4000-8000-00000000bbbb";

export interface Resource {
  id: string;
  type: string;
  name: string;
  kind?: string;
  sku?: Record<string, unknown>;
  tags?: Record<string, string>;
  identity?: { type: string; userAssignedIdentities?: Record<string, unknown> };
  properties?: Record<string, unknown>;
}
export interface Snapshot {
  resources: Resource[];
  outputs: Record<string, unknown>;
}

/** Where the Bicep CLI is, or why there is none. Restores it (dotnet + NuGet) when absent. */
function locateBicep(): { bin?: string; problem?: string } {
  const result = spawnSync("bash", [path.join(root, "scripts/restore-bicep.sh")], { encoding: "utf8", timeout: 300_000 });
  if (result.status === 0) return { bin: result.stdout.trim().split("\n").pop() };
  return { problem: `scripts/restore-bicep.sh exited ${result.status}: ${(result.stderr || "").trim()}` };
}

export const bicep = locateBicep();
const inCi = process.env.CI === "true";
if (!bicep.bin && !inCi) {
  // A developer machine without the .NET SDK: say so, and skip (CI fails instead, below).
  console.warn(`test/infra skipped: no Bicep CLI. ${bicep.problem}`);
}
export const describeInfra = bicep.bin ? describe : describe.skip;

/** Call at the top level of each test/infra file: in CI a missing Bicep CLI is a failure, not a skip. */
export function failWithoutBicepInCi(): void {
  if (!bicep.bin && inCi) {
    test("the Bicep CLI is available in CI", () => {
      throw new Error(`CI=true but the Bicep CLI could not be restored: ${bicep.problem}`);
    });
  }
}

/** `bicep snapshot` of infra/main.bicep with these parameters, as resolved resources. */
export async function snapshot(dir: string, name: string, params: Record<string, unknown>): Promise<Snapshot> {
  const file = path.join(dir, `${name}.bicepparam`);
  const using = path.relative(dir, path.join(infra, "main.bicep")).split(path.sep).join("/");
  const lines = Object.entries(params).map(([key, value]) => `param ${key} = ${bicepLiteral(value)}`);
  fs.writeFileSync(file, [`using '${using}'`, ...lines, ""].join("\n"));
  await run(bicep.bin!, [
    "snapshot", file, "--subscription-id", SUBSCRIPTION, "--tenant-id", TENANT, "--location", "eastus", "--deployment-name", "azd",
  ]);
  const raw = JSON.parse(fs.readFileSync(path.join(dir, `${name}.snapshot.json`), "utf8")) as {
    predictedResources: Resource[];
    diagnostics: unknown[];
    outputs: Record<string, unknown>;
  };
  if (raw.diagnostics.length) throw new Error(`snapshot ${name}: ${JSON.stringify(raw.diagnostics)}`);
  return { resources: raw.predictedResources, outputs: raw.outputs };
}

function bicepLiteral(value: unknown): string {
  if (typeof value === "string") return `'${value.replace(/'/g, "\\'")}'`;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[ ${value.map(bicepLiteral).join(", ")} ]`;
  if (value && typeof value === "object") {
    return `{ ${Object.entries(value).map(([k, v]) => `'${k}': ${bicepLiteral(v)}`).join(", ")} }`;
  }
  throw new Error(`no Bicep literal for ${String(value)}`);
}

export const one = (snap: Snapshot, type: string): Resource => {
  const found = snap.resources.filter((r) => r.type === type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0];
};
export const all = (snap: Snapshot, type: string) => snap.resources.filter((r) => r.type === type);

/** Role assignments as (principal, role id, scope resource id), with runtime principals resolved. */
export function roleAssignments(snap: Snapshot): string[] {
  return all(snap, "Microsoft.Authorization/roleAssignments").map((r) => {
    const literal = r.id.split("/providers/Microsoft.Authorization/roleAssignments/");
    const scope = literal.length === 2 && !r.id.startsWith("[") ? literal[0] : /^\[extensionResourceId\('([^']+)'/.exec(r.id)?.[1];
    if (!scope) throw new Error(`cannot read the scope of ${r.id}`);
    const principal = resolve(r.properties!.principalId) as string;
    const role = String(r.properties!.roleDefinitionId).split("/").pop();
    return `${principal} ${role} ${scope}`;
  });
}
