/**
 * The postdeploy hooks never hand the eventgrid_extension system key to a process on its command
 * line (process lists, CI logs show those). The .sh hook runs under /bin/sh with a PATH that holds
 * only recording stand-ins: a stub `az` and wrappers around every external command the hook uses,
 * so every process it starts is recorded with its arguments (a command without a stand-in is not
 * found and the hook fails). Where strace exists, a second run records every execve of the whole
 * process tree, arguments and environment. The stub az reads `@file` arguments the way the Azure
 * CLI does, so the test sees the endpoint Event Grid would get. Needs no Bicep CLI and no Azure.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "../..");
const hookSh = path.join(root, "infra/hooks/postdeploy.sh");
const hookPs1 = path.join(root, "infra/hooks/postdeploy.ps1");
const KEY = "FAKE-eventgrid-SYSTEM-key-5bd0c1e9";
const HOST = "func-example.azurewebsites.net";
const ENV = {
  AZURE_RESOURCE_GROUP: "rg-sign",
  AZURE_FUNCTION_APP_NAME: "func-example",
  AZURE_STORAGE_ACCOUNT_ID: "/subscriptions/00000000-0000-4000-8000-00000000aaaa/resourceGroups/rg-sign/providers/Microsoft.Storage/storageAccounts/stexample",
  EVENTGRID_SYSTEM_TOPIC_NAME: "evgt-example",
  EVENTGRID_DEADLETTER_CONTAINER: "eventgrid-deadletter",
  DROPS_CONTAINER: "driver-drops",
};
// The name the app registers its Event Grid trigger under, read from the source.
const FUNCTION_NAME = /app\.eventGrid\("(\w+)"/.exec(fs.readFileSync(path.join(root, "src/functions/packageDropped.ts"), "utf8"))![1];
const EXPECTED_ENDPOINT = `https://${HOST}/runtime/webhooks/eventgrid?functionName=${FUNCTION_NAME}&code=${KEY}`;
// External commands the hook may start besides az, and printf (a builtin the hook relies on: run as a
// process it would get the key as an argument); each gets a recording wrapper.
const WRAPPED = ["mktemp", "rm", "sleep", "printf"];

/** The executable file `name` on this process's PATH (a shell builtin of that name does not count). */
const which = (name: string) =>
  (process.env.PATH ?? "")
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, name))
    .find((file) => {
      try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
      } catch {
        return false;
      }
    });
const STRACE = which("strace");
const BASH = which("bash");
const PWSH = which("pwsh");

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  /** argv of every process started through PATH, az included (the command name first). */
  processes: string[][];
  /** What the stub az read from each `@path` argument: path, the file's mode then, its content. */
  files: { path: string; mode: string; content: string }[];
  /** Every execve of the process tree with its argument and environment vectors (strace runs only). */
  execs: string[];
}

/**
 * Runs a hook with PATH holding only the recording stand-ins. `createFails` makes the stub fail the
 * subscription call; `shell` picks how the hook is started.
 */
function runHook(options: { createFails?: boolean; shell?: string[]; strace?: boolean } = {}): Run {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "postdeploy-hook-"));
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  const calls = path.join(dir, "calls.log");
  const files = path.join(dir, "files.log");
  const stat = which("stat")!;
  // The stub records its argv with the builtin printf, reads @file arguments with the builtin read
  // (as az does: the value is the file's content without its final newline) and answers the calls.
  fs.writeFileSync(
    path.join(bin, "az"),
    [
      "#!/bin/sh",
      `printf '%s\\n' az "$@" '--end--' >> '${calls}'`,
      'for arg in "$@"; do',
      '  case "$arg" in',
      "    @*) f=${arg#@}; v=''; IFS= read -r v < \"$f\" || true",
      `        printf '%s\\n' "$f" "$(${stat} -c %a "$f")" "$v" '--end--' >> '${files}' ;;`,
      "  esac",
      "done",
      'case "$1 $2" in',
      `  'functionapp show') echo '${HOST}' ;;`,
      `  'functionapp keys') echo '${KEY}' ;;`,
      `  'eventgrid system-topic') ${options.createFails ? "echo 'ERROR: (BadRequest) endpoint validation failed' >&2; exit 1" : ":"} ;;`,
      "esac",
      "exit 0",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  for (const name of WRAPPED) {
    const real = which(name)!;
    const body = name === "sleep" ? "exit 0" : `exec '${real}' "$@"`;
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\nprintf '%s\\n' ${name} "$@" '--end--' >> '${calls}'\n${body}\n`, { mode: 0o755 });
  }
  const shell = options.shell ?? ["/bin/sh", hookSh];
  const trace = path.join(dir, "strace.log");
  const argv = options.strace ? [STRACE!, "-f", "-qq", "-v", "-s", "65536", "-e", "trace=execve", "-o", trace, ...shell] : shell;
  const result = spawnSync(argv[0], argv.slice(1), {
    encoding: "utf8",
    env: { PATH: bin, HOME: dir, TMPDIR: dir, ...ENV },
    timeout: 60_000,
  });
  const blocks = (file: string) =>
    fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("--end--\n").filter(Boolean).map((b) => b.replace(/\n$/, "").split("\n")) : [];
  const run: Run = {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    processes: blocks(calls),
    files: blocks(files).map(([p, mode, content]) => ({ path: p, mode, content: content ?? "" })),
    execs: fs.existsSync(trace) ? fs.readFileSync(trace, "utf8").split("\n").filter((l) => l.includes("execve(")) : [],
  };
  // Only the stand-ins and logs are left in dir once the hook has cleaned up after itself.
  const left = fs.readdirSync(dir).filter((f) => !["bin", "calls.log", "files.log", "strace.log"].includes(f));
  fs.rmSync(dir, { recursive: true, force: true });
  return Object.assign(run, { left });
}

const create = (run: Run) => run.processes.find((p) => p.slice(0, 5).join(" ") === "az eventgrid system-topic event-subscription create");
const argAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe("postdeploy.sh keeps the system key off every command line", () => {
  test("the endpoint with the key reaches az through a 0600 @file that is gone afterwards; no process's argv holds the key", () => {
    const run = runHook() as Run & { left: string[] };
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(`${run.stdout}${run.stderr}`).not.toContain(KEY);

    // (a) Every process the hook started, with its arguments: none holds the key.
    expect(run.processes.map((p) => p[0]).sort()).toEqual(["az", "az", "az", "mktemp", "rm"]);
    for (const argv of run.processes) expect({ argv, holdsKey: argv.some((a) => a.includes(KEY)) }).toEqual({ argv, holdsKey: false });

    // (b) The endpoint az resolved from its @file is the function's Event Grid webhook with the key.
    const args = create(run)!;
    expect(args).toBeDefined();
    const endpointArg = argAfter(args, "--endpoint");
    expect(endpointArg).toMatch(/^@\//);
    expect(run.files).toHaveLength(1);
    expect(run.files[0].path).toBe(endpointArg.slice(1));
    expect(run.files[0].content).toBe(EXPECTED_ENDPOINT);
    // Only its owner could read it while it existed.
    expect(run.files[0].mode).toBe("600");
    expect(argAfter(args, "--endpoint-type")).toBe("webhook");
    expect(argAfter(args, "--subject-begins-with")).toBe(`/blobServices/default/containers/${ENV.DROPS_CONTAINER}/`);

    // (c) The file is removed: by rm, on exit, and nothing else is left in TMPDIR.
    expect(run.processes.find((p) => p[0] === "rm")).toEqual(["rm", "-f", run.files[0].path]);
    expect(run.left).toEqual([]);
  });

  test("a failed subscription call still removes the key file, and the hook fails", () => {
    const run = runHook({ createFails: true }) as Run & { left: string[] };
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("endpoint validation failed");
    expect(run.files).toHaveLength(1);
    expect(run.files[0].content).toBe(EXPECTED_ENDPOINT);
    expect(run.processes.find((p) => p[0] === "rm")).toEqual(["rm", "-f", run.files[0].path]);
    expect(run.left).toEqual([]);
    expect(run.processes.flat().some((a) => a.includes(KEY))).toBe(false);
  });

  (BASH ? test : test.skip)("under a shell whose printf is not a builtin, the hook refuses before any process could get the key", () => {
    // bash with its printf builtin disabled finds the recording printf on PATH instead.
    const run = runHook({ shell: [BASH!, "-c", `enable -n printf; . '${hookSh}'`] });
    expect(run.processes.filter((argv) => argv.some((a) => a.includes(KEY)))).toEqual([]);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/printf is not a builtin/);
    expect(create(run)).toBeUndefined();
  });

  (STRACE ? test : test.skip)("strace: no execve anywhere in the process tree carries the key in argv or environment", () => {
    const run = runHook({ strace: true });
    expect(run.status).toBe(0);
    // The trace saw the whole tree: the shell, az three times, mktemp and rm (and the stub's stat).
    expect(run.execs.length).toBeGreaterThanOrEqual(6);
    expect(run.execs.filter((l) => /execve\("[^"]*\/az"/.test(l))).toHaveLength(3);
    expect(run.execs.some((l) => l.includes("event-subscription") && l.includes('"--endpoint", "@/'))).toBe(true);
    expect(run.execs.filter((l) => l.includes(KEY))).toEqual([]);
    expect(run.files[0].content).toBe(EXPECTED_ENDPOINT);
  });
  if (!STRACE) console.warn("postdeployHook: strace is not installed; the execve trace test was skipped (the PATH-recording tests ran)");
});

describe("postdeploy.ps1 keeps the system key off every command line", () => {
  const text = fs.readFileSync(hookPs1, "utf8");
  // Logical lines: backtick continuations joined, comments dropped.
  const statements = text
    .replace(/`\r?\n\s*/g, " ")
    .split(/\r?\n/)
    .map((l) => l.replace(/\s+/g, " ").trim())
    .filter((l) => l && !l.startsWith("#"));

  test("no az call (nor any other command) takes the key; the endpoint goes in-process to a temp file passed as '@file' and removed in finally", () => {
    const azCalls = statements.filter((l) => /^(\$\w+\s*=\s*)?az\s/.test(l));
    expect(azCalls).toHaveLength(3);
    // The command itself (what follows an assignment to a variable that takes its output).
    for (const call of azCalls.map((l) => l.replace(/^\$\w+\s*=\s*/, ""))) {
      expect({ call, key: /\$key\b|\$endpoint\b/.test(call) }).toEqual({ call, key: false });
    }
    const createCall = azCalls.find((l) => l.startsWith("az eventgrid system-topic event-subscription create"))!;
    expect(createCall).toContain('--endpoint "@$endpointFile"');

    // Every use of $key, allow-listed: its assignment from az's output, the wait loop's tests, and the
    // in-process write of the endpoint file. A new use (a command argument, Write-Host, a log) fails here.
    const uses = statements.filter((l) => /\$key\b/.test(l));
    expect(uses).toEqual([
      "$key = ''",
      "$key = az functionapp keys list --resource-group $env:AZURE_RESOURCE_GROUP --name $env:AZURE_FUNCTION_APP_NAME --query systemKeys.eventgrid_extension --output tsv 2>$null",
      "if ($LASTEXITCODE -eq 0 -and $key) { break }",
      'if (-not $key) { throw "the function app has no eventgrid_extension system key; is $functionName deployed?" }',
      '[System.IO.File]::WriteAllText($endpointFile, "https://$appHost/runtime/webhooks/eventgrid?functionName=$functionName&code=$key")',
    ]);
    expect(text).not.toMatch(/Start-Process|Invoke-Expression|\biex\b|cmd(\.exe)?\s+\/c|-ArgumentList/i);

    // The file is created, written, used and removed in that order, the removal in a finally block.
    const order = ["$endpointFile = [System.IO.Path]::GetTempFileName()", "try {", "[System.IO.File]::WriteAllText($endpointFile,", "az eventgrid", "finally {", "Remove-Item -LiteralPath $endpointFile -Force"];
    const at = order.map((s) => statements.findIndex((l) => l.startsWith(s)));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  (PWSH ? test : test.skip)("pwsh: the endpoint az resolves from the @file is right, and no az argv holds the key", () => {
    const run = runHook({ shell: [PWSH!, "-NoProfile", "-NonInteractive", "-File", hookPs1] }) as Run & { left: string[] };
    expect(run.status).toBe(0);
    expect(`${run.stdout}${run.stderr}`).not.toContain(KEY);
    expect(run.processes.flat().some((a) => a.includes(KEY))).toBe(false);
    expect(argAfter(create(run)!, "--endpoint")).toMatch(/^@/);
    expect(run.files.map((f) => f.content)).toEqual([EXPECTED_ENDPOINT]);
    expect(run.left).toEqual([]);
  });
  if (!PWSH) console.warn("postdeployHook: pwsh is not installed; postdeploy.ps1 was checked as text only, not run");
});
