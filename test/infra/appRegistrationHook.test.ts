/**
 * infra/hooks/app-registration.sh (the azd pre/postprovision hook that creates the API's Entra app
 * registration) run offline: PATH holds a stub `az` that keeps a tiny tenant in a state folder
 * (registrations, service principals) and records every argv and the content of every @file it
 * reads, and a stub `azd` that records `azd env set`. Proves: the app roles az receives are
 * exactly the four Sign.* roles with their fixed ids and member types; the identifier URI is
 * api://<client id>; v2 tokens and the scope before its pre-authorisation; a re-run updates the
 * same registration instead of making a second one; the client id lands in the azd environment;
 * nothing creates a secret. Needs no Azure.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "../..");
const hook = path.join(root, "infra/hooks/app-registration.sh");
const filesDir = path.join(root, "infra/hooks/app-registration");
const NEW_APP_ID = "66666666-6666-4666-8666-666666666666";
const OBJECT_ID = "77777777-7777-4777-8777-777777777777";
const HOST = "func-example.azurewebsites.net";
const AZURE_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/** The four roles, their ids (fixed: assignments refer to them) and who may hold them. */
const EXPECTED_ROLES = [
  { value: "Sign.Submit", id: "7aa7a3b3-ee69-4d46-955e-8bb0bc0ae44b" },
  { value: "Sign.Publish", id: "ed352371-24cb-4893-8d85-e3f03925e3cc" },
  { value: "Sign.Approve", id: "84a8c5cc-c87e-465a-8e1b-d2324964dcd7" },
  { value: "Sign.Operate", id: "06ceb86a-c7f5-4f51-90bd-0b99069e56d1" },
].map((r) => ({ ...r, allowedMemberTypes: ["User", "Application"], isEnabled: true }));

interface HookRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** argv of every az / azd call, the command name first. */
  calls: string[][];
  /** Content of each @file argument az read, in call order. */
  files: { path: string; content: string }[];
}

/** A tenant the stub az keeps between runs: one folder per test. */
function makeTenant() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "app-reg-hook-"));
  const bin = path.join(dir, "bin");
  const state = path.join(dir, "state");
  fs.mkdirSync(bin);
  fs.mkdirSync(state);
  const calls = path.join(dir, "calls.log");
  const files = path.join(dir, "files.log");
  fs.writeFileSync(
    path.join(bin, "az"),
    [
      "#!/bin/sh",
      `printf '%s\\n' az "$@" '--end--' >> '${calls}'`,
      'for arg in "$@"; do',
      '  case "$arg" in @*) f=${arg#@}; { printf \'%s\\n\' "$f"; cat "$f"; printf \'\\n--end--\\n\'; } >> \'' + files + "' ;; esac",
      "done",
      `S='${state}'`,
      'id_arg() { while [ $# -gt 0 ]; do [ "$1" = "--id" ] && { echo "$2"; return; }; shift; done; }',
      'case "$1 $2 $3" in',
      "  'ad app create')",
      `    echo '${NEW_APP_ID}' > "$S/app"; echo '${NEW_APP_ID}' ;;`,
      "  'ad app show')",
      '    [ -f "$S/app" ] && [ "$(id_arg "$@")" = "$(cat "$S/app")" ] || { echo "ERROR: Resource does not exist" >&2; exit 3; }',
      `    case "$*" in *'--query appId'*) cat "$S/app" ;; *'--query id'*) echo '${OBJECT_ID}' ;; esac ;;`,
      "  'ad app list') if [ -f \"$S/list\" ]; then cat \"$S/list\"; elif [ -f \"$S/app\" ]; then cat \"$S/app\"; fi ;;",
      "  'ad sp list') [ -f \"$S/sp\" ] && echo 'sp-object-id'; : ;;",
      "  'ad sp create') touch \"$S/sp\" ;;",
      "esac",
      "exit 0",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(bin, "azd"), `#!/bin/sh\nprintf '%s\\n' azd "$@" '--end--' >> '${calls}'\n`, { mode: 0o755 });

  const run = (env: Record<string, string> = {}): HookRun => {
    fs.rmSync(calls, { force: true });
    fs.rmSync(files, { force: true });
    const result = spawnSync("/bin/sh", [hook], {
      encoding: "utf8",
      env: { PATH: `${bin}:/usr/bin:/bin`, HOME: dir, AZURE_ENV_NAME: "sign", ...env },
      timeout: 60_000,
    });
    const blocks = (file: string) =>
      fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("--end--\n").filter(Boolean).map((b) => b.replace(/\n$/, "").split("\n")) : [];
    return {
      status: result.status,
      stdout: result.stdout,
      stderr: result.stderr,
      calls: blocks(calls),
      files: blocks(files).map(([p, ...content]) => ({ path: p, content: content.join("\n") })),
    };
  };
  return { run, state, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

const named = (run: HookRun, ...prefix: string[]) => run.calls.filter((c) => prefix.every((p, i) => c[i] === p));
const after = (argv: string[], flag: string) => argv[argv.indexOf(flag) + 1];
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;

let tenant: ReturnType<typeof makeTenant>;
beforeEach(() => {
  tenant = makeTenant();
});
afterEach(() => tenant.cleanup());

test("first run creates one registration with exactly the four Sign.* roles, api://<client id>, v2 tokens and the scope, and sets API_CLIENT_ID", () => {
  const run = tenant.run();
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);

  const created = named(run, "az", "ad", "app", "create");
  expect(created).toHaveLength(1);
  expect(after(created[0], "--display-name")).toBe("driver-signing-api-sign");
  expect(after(created[0], "--sign-in-audience")).toBe("AzureADMyOrg");

  // Every --app-roles az got is an @file whose content is exactly the four roles.
  const roleArgs = run.calls.filter((c) => c.includes("--app-roles")).map((c) => after(c, "--app-roles"));
  expect(roleArgs.length).toBeGreaterThanOrEqual(1);
  for (const arg of roleArgs) {
    expect(arg).toMatch(/^@\//);
    const content = run.files.find((f) => f.path === arg.slice(1))!.content;
    const roles = JSON.parse(content) as Record<string, unknown>[];
    expect(roles.map(({ value, id, allowedMemberTypes, isEnabled }) => ({ value, id, allowedMemberTypes, isEnabled }))).toEqual(EXPECTED_ROLES);
    for (const role of roles) {
      expect(Object.keys(role).sort()).toEqual(["allowedMemberTypes", "description", "displayName", "id", "isEnabled", "value"]);
      expect(role.displayName).toEqual(expect.any(String));
      expect(role.description).toEqual(expect.any(String));
    }
  }

  const update = named(run, "az", "ad", "app", "update").find((c) => c.includes("--identifier-uris"))!;
  expect(after(update, "--id")).toBe(NEW_APP_ID);
  expect(after(update, "--identifier-uris")).toBe(`api://${NEW_APP_ID}`);

  // The scope reaches Graph before its pre-authorisation references it; both ask for v2 tokens.
  const patches = named(run, "az", "rest");
  expect(patches.map((c) => [after(c, "--method"), after(c, "--uri")])).toEqual([
    ["PATCH", `https://graph.microsoft.com/v1.0/applications/${OBJECT_ID}`],
    ["PATCH", `https://graph.microsoft.com/v1.0/applications/${OBJECT_ID}`],
  ]);
  const bodies = patches.map((c) => JSON.parse(run.files.find((f) => f.path === after(c, "--body").slice(1))!.content) as { api: Record<string, unknown> });
  const [scopeOnly, full] = bodies;
  expect(scopeOnly.api.requestedAccessTokenVersion).toBe(2);
  expect(scopeOnly.api.preAuthorizedApplications).toBeUndefined();
  expect(full.api.requestedAccessTokenVersion).toBe(2);
  expect(full.api.oauth2PermissionScopes).toEqual(scopeOnly.api.oauth2PermissionScopes);
  const [scope] = scopeOnly.api.oauth2PermissionScopes as { id: string; value: string; type: string; isEnabled: boolean }[];
  expect([scope.value, scope.type, scope.isEnabled]).toEqual(["user_impersonation", "User", true]);
  expect(full.api.preAuthorizedApplications).toEqual([{ appId: AZURE_CLI, delegatedPermissionIds: [scope.id] }]);

  // The enterprise application exists and only callers with a role get tokens for it.
  expect(named(run, "az", "ad", "sp", "create").map((c) => after(c, "--id"))).toEqual([NEW_APP_ID]);
  const spUpdate = named(run, "az", "ad", "sp", "update");
  expect(spUpdate.map((c) => [after(c, "--id"), after(c, "--set")])).toEqual([[NEW_APP_ID, "appRoleAssignmentRequired=true"]]);

  // No sign-in redirect before the function app exists.
  expect(run.calls.filter((c) => c.includes("--web-redirect-uris"))).toEqual([]);
  expect(named(run, "azd")).toEqual([["azd", "env", "set", "API_CLIENT_ID", NEW_APP_ID]]);
});

test("re-running updates the same registration: no second registration or service principal, same roles, same client id", () => {
  const first = tenant.run();
  expect(first.status).toBe(0);
  // azd passes API_CLIENT_ID back to later hooks; a run by hand without it finds the registration by name.
  for (const env of [{ API_CLIENT_ID: NEW_APP_ID }, {}] as Record<string, string>[]) {
    const again = tenant.run(env);
    expect(again.stderr).toBe("");
    expect(again.status).toBe(0);
    expect(named(again, "az", "ad", "app", "create")).toEqual([]);
    expect(named(again, "az", "ad", "sp", "create")).toEqual([]);
    const roleUpdates = named(again, "az", "ad", "app", "update").filter((c) => c.includes("--app-roles"));
    expect(roleUpdates.map((c) => after(c, "--id"))).toEqual([NEW_APP_ID]);
    const roles = JSON.parse(again.files.find((f) => f.path === after(roleUpdates[0], "--app-roles").slice(1))!.content) as { id: string }[];
    expect(roles.map((r) => r.id)).toEqual(EXPECTED_ROLES.map((r) => r.id));
    expect(named(again, "azd")).toEqual([["azd", "env", "set", "API_CLIENT_ID", NEW_APP_ID]]);
  }
});

test("after provisioning, the page's Easy Auth callback is registered with ID tokens", () => {
  const run = tenant.run({ AZURE_FUNCTION_APP_HOSTNAME: HOST });
  expect(run.status).toBe(0);
  const web = run.calls.filter((c) => c.includes("--web-redirect-uris"));
  expect(web).toHaveLength(1);
  expect(after(web[0], "--web-redirect-uris")).toBe(`https://${HOST}/.auth/login/aad/callback`);
  expect(after(web[0], "--enable-id-token-issuance")).toBe("true");
});

test("no secret or certificate is ever created or reset", () => {
  const run = tenant.run({ AZURE_FUNCTION_APP_HOSTNAME: HOST });
  expect(run.status).toBe(0);
  for (const argv of run.calls) {
    const text = argv.join(" ");
    expect({ argv, secretish: /credential|secret|password|--cert|--create-cert/i.test(text) }).toEqual({ argv, secretish: false });
  }
});

test("an API_CLIENT_ID that names no registration fails with the reason, and nothing is created", () => {
  const run = tenant.run({ API_CLIENT_ID: "88888888-8888-4888-8888-888888888888" });
  expect(run.status).toBe(1);
  expect(run.stderr).toContain("API_CLIENT_ID=88888888-8888-4888-8888-888888888888 names no app registration");
  expect(named(run, "az", "ad", "app", "create")).toEqual([]);
  expect(named(run, "azd")).toEqual([]);
});

test("two registrations with the display name: refuses to guess, creates nothing", () => {
  fs.writeFileSync(path.join(tenant.state, "list"), `${NEW_APP_ID}\n99999999-9999-4999-8999-999999999999\n`);
  const run = tenant.run();
  expect(run.status).toBe(1);
  expect(run.stderr).toContain("2 app registrations are named 'driver-signing-api-sign'; set API_CLIENT_ID");
  expect(named(run, "az", "ad", "app", "create")).toEqual([]);
  expect(named(run, "az", "ad", "app", "update")).toEqual([]);
  expect(named(run, "azd")).toEqual([]);
});

test("API_APP_REGISTRATION=skip touches nothing", () => {
  const run = tenant.run({ API_APP_REGISTRATION: "skip" });
  expect(run.status).toBe(0);
  expect(run.calls).toEqual([]);
});

test("the checked-in files are what the hook sends: four roles with distinct ids, the scope the pre-authorisation names", () => {
  const roles = JSON.parse(fs.readFileSync(path.join(filesDir, "app-roles.json"), "utf8")) as { id: string }[];
  expect(new Set(roles.map((r) => r.id)).size).toBe(4);
  const scopes = readJson(path.join(filesDir, "api-scopes.json")) as { api: { oauth2PermissionScopes: unknown[] } };
  const full = readJson(path.join(filesDir, "api.json")) as { api: { oauth2PermissionScopes: unknown[] } };
  expect(full.api.oauth2PermissionScopes).toEqual(scopes.api.oauth2PermissionScopes);
});
