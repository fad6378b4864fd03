/**
 * What a deployment ships. scripts/package-app.sh stages build/deploy (what azd deploys); .funcignore
 * is what `func azure functionapp publish` honours from the repository root. Neither may carry the
 * local runtime, tests, benchmarks, the CLI, .local-data (it holds a generated CA key) or dev
 * dependencies, and the staged app must load with production dependencies alone.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "../..");
const staged = path.join(root, "build/deploy");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  main: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function filesUnder(dir: string, skip: (rel: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (current: string) => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      const rel = path.relative(dir, full);
      if (skip(rel)) continue;
      if (entry.isDirectory()) walk(full);
      else out.push(rel);
    }
  };
  walk(dir);
  return out;
}

describe("the staged deployment (build/deploy)", () => {
  beforeAll(() => {
    // npm test has just built dist/; staging installs production dependencies from the lock file.
    execFileSync("bash", [path.join(root, "scripts/package-app.sh"), "--skip-build"], { cwd: root, stdio: "pipe" });
  }, 180_000);

  it("holds the compiled app, host.json, package.json, the lock file and node_modules, nothing else", () => {
    expect(fs.readdirSync(staged).sort()).toEqual(["dist", "host.json", "node_modules", "package-lock.json", "package.json"]);
    expect(fs.readdirSync(path.join(staged, "dist"))).toEqual(["src"]);
    expect(fs.existsSync(path.join(staged, pkg.main))).toBe(true);
  });

  it("carries no local runtime, tests, benchmarks, CLI, local data, keys or TypeScript sources of ours", () => {
    const ours = filesUnder(staged, (rel) => rel === "node_modules");
    expect(ours.length).toBeGreaterThan(20);
    const forbidden = ours.filter((rel) =>
      /(^|\/)(local|test|bench|cli|\.local-data|infra)(\/|$)/.test(rel) || /\.(pem|key|pfx)$/.test(rel) || /(^|\/)keys\.json$/.test(rel) ||
      (rel.endsWith(".ts") && !rel.endsWith(".d.ts")) || rel.includes("local.settings"),
    );
    expect(forbidden).toEqual([]);
  });

  it("leaves azd's own npm steps nothing to build: the staged package.json has no scripts, dev dependencies or bin", () => {
    // azd runs `npm run build --if-present` in the deployable, where there is no compiler.
    const stagedManifest = JSON.parse(fs.readFileSync(path.join(staged, "package.json"), "utf8")) as Record<string, unknown>;
    expect(stagedManifest).toMatchObject({ main: pkg.main, dependencies: pkg.dependencies });
    expect(stagedManifest.scripts).toBeUndefined();
    expect(stagedManifest.devDependencies).toBeUndefined();
    expect(stagedManifest.bin).toBeUndefined();
    execFileSync("npm", ["run", "build", "--if-present"], { cwd: staged, stdio: "pipe" });
  });

  it("has every production dependency and no dev dependency", () => {
    const installed = (name: string) => fs.existsSync(path.join(staged, "node_modules", name, "package.json"));
    expect(Object.keys(pkg.dependencies).filter((name) => !installed(name))).toEqual([]);
    expect(Object.keys(pkg.devDependencies).filter(installed)).toEqual([]);
  });

  it("loads and registers the app's functions with production dependencies alone", () => {
    // The functions-core stand-in captures registrations as the worker would; @azure/functions,
    // durable-functions and the SDKs resolve from build/deploy/node_modules only.
    const script = [
      `require(${JSON.stringify(path.join(root, "dist/local/functionsHost/installCoreStandIn.js"))});`,
      `require(${JSON.stringify(path.join(staged, pkg.main))});`,
      `const { getRegisteredFunctions } = require(${JSON.stringify(path.join(root, "dist/local/functionsHost/installCoreStandIn.js"))});`,
      `process.stdout.write(JSON.stringify([...getRegisteredFunctions().keys()]));`,
    ].join("\n");
    const names = JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd: os.tmpdir(), encoding: "utf8" })) as string[];
    expect(names).toEqual(expect.arrayContaining(["submitDriver", "packageDropped", "startSubmission", "submissionStatus", "copyPackage"]));
    const resolvedFrom = execFileSync(process.execPath, ["-p", `require.resolve("durable-functions", { paths: [${JSON.stringify(path.join(staged, "dist/src"))}] })`], {
      encoding: "utf8",
    });
    expect(resolvedFrom.startsWith(path.join(staged, "node_modules"))).toBe(true);
  });
});

describe(".funcignore (func azure functionapp publish from the repository root)", () => {
  // git applies gitignore rules exactly as func does for .funcignore; check them in a scratch repo.
  const ignored = (paths: string[]): Set<string> => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "funcignore-"));
    try {
      execFileSync("git", ["init", "-q"], { cwd: scratch });
      fs.copyFileSync(path.join(root, ".funcignore"), path.join(scratch, ".gitignore"));
      let out = "";
      try {
        out = execFileSync("git", ["check-ignore", "--no-index", "--stdin"], { cwd: scratch, input: paths.join("\n"), encoding: "utf8" });
      } catch (error) {
        out = String((error as { stdout?: string }).stdout ?? ""); // exit 1 when nothing matched
      }
      return new Set(out.split("\n").filter(Boolean));
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  };

  it("excludes everything that is not the app", () => {
    const mustGo = [
      "local/stack.ts", "test/e2e/submissions.test.ts", "bench/copy.ts", "cli/driverSign.ts", ".local-data/tls/ca-key.pem",
      "dist/local/runtime/main.js", "dist/test/support/stack.js", "dist/bench/runAll.js", "dist/cli/driverSign.js",
      "src/config.ts", "local.settings.json", "tools/node22/package.json", "build/deploy/host.json", "infra/main.bicep",
      "some/where/cert.pem", ".git/config",
    ];
    const result = ignored(mustGo);
    expect(mustGo.filter((p) => !result.has(p))).toEqual([]);
  });

  it("keeps the app itself", () => {
    const mustStay = ["host.json", "package.json", "package-lock.json", "dist/src/index.js", "dist/src/functions/startSubmission.js",
      "node_modules/durable-functions/lib/src/index.js", "node_modules/@azure/functions/types/index.d.ts",
      // A dependency's own folders that happen to share a name with ours.
      "node_modules/json-with-bigint/scripts/x.js", "node_modules/some-sdk/dist/local/index.js", "node_modules/some-sdk/lib/test/helpers.js"];
    const result = ignored(mustStay);
    expect(mustStay.filter((p) => result.has(p))).toEqual([]);
  });
});
