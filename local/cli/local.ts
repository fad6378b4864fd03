/**
 * `npm run local [-- --virtual-clock] [--port 7071] [--fresh] [--settings local.settings.json] [--data-dir .local-data/run] [--auth keys|entra] [--engine local|real]`:
 * the whole app on this machine, offline, like `func start`: the app's settings come from the
 * environment and local.settings.json (Values apply only where the environment has no value;
 * Host.LocalHttpPort is the port unless --port is given). Every setting the stack replaces is named
 * on the terminal. Data (Azurite, emulator state, host keys, runtime log) lives in the data folder
 * and is kept between runs unless --fresh; Ctrl-C stops everything.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { DEV_ACCOUNT } from "../azurite";
import { LOCAL_DATA_DIR } from "../runtime/paths";
import { startStack } from "../stack";
import { LOCAL_SETTINGS_FILE, mergeLikeFunc, readLocalSettings, type LocalSettings } from "../localSettings";

const USAGE = `usage: npm run local [-- options]
  --virtual-clock      timers fire at once (Microsoft's emulated review passes in seconds)
  --port <n>           HTTP port (default: Host.LocalHttpPort of local.settings.json, else 7071)
  --fresh              start from empty storage, emulator state and new host keys
  --settings <file>    local.settings.json to read (default: ./${LOCAL_SETTINGS_FILE} when it exists)
  --data-dir <dir>     where everything is kept (default: .local-data/run)
  --auth keys|entra    keys (default): function keys, every key-holder holds every role;
                       entra: Easy Auth in front, callers need a token from \`npm run -s token\`
  --engine local|real  local (default): our durable engine in the runtime;
                       real: Microsoft's Durable Task extension runs the orchestrations (real clock only;
                       needs the .NET SDK: bash scripts/restore-conformance.sh builds its host once)
`;

interface CliOptions {
  virtualClock: boolean;
  port?: number;
  fresh: boolean;
  settingsFile?: string;
  dataDir: string;
  auth: "keys" | "entra";
  engine: "local" | "real";
}

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}`);
  process.exit(2);
}

function readOptions(argv: string[]): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        "virtual-clock": { type: "boolean", default: false },
        port: { type: "string" },
        fresh: { type: "boolean", default: false },
        settings: { type: "string" },
        "data-dir": { type: "string" },
        auth: { type: "string", default: "keys" },
        engine: { type: "string", default: "local" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    fail((error as Error).message);
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  let port: number | undefined;
  if (parsed.port !== undefined) {
    port = Number(parsed.port);
    if (!/^\d+$/.test(parsed.port) || port > 65535) fail(`--port: "${parsed.port}" is not a port number (0-65535)`);
  }
  if (parsed.auth !== "keys" && parsed.auth !== "entra") fail(`--auth: "${parsed.auth}" must be keys or entra`);
  if (parsed.engine !== "local" && parsed.engine !== "real") fail(`--engine: "${parsed.engine}" must be local or real`);
  if (parsed.engine === "real" && parsed["virtual-clock"]) fail("--engine real: Microsoft's engine keeps its own time; --virtual-clock is for --engine local only");
  return {
    auth: parsed.auth,
    engine: parsed.engine,
    virtualClock: parsed["virtual-clock"] === true,
    port,
    fresh: parsed.fresh === true,
    settingsFile: parsed.settings,
    dataDir: path.resolve(parsed["data-dir"] ?? path.join(LOCAL_DATA_DIR, "run")),
  };
}

/** The explicit --settings file (must exist), or ./local.settings.json if there is one. */
function loadSettingsFile(options: CliOptions): LocalSettings | undefined {
  if (options.settingsFile) return readLocalSettings(path.resolve(options.settingsFile));
  const inCwd = path.resolve(LOCAL_SETTINGS_FILE);
  return fs.existsSync(inCwd) ? readLocalSettings(inCwd) : undefined;
}

async function main(): Promise<void> {
  const options = readOptions(process.argv.slice(2));
  const say = (line: string) => process.stdout.write(line + "\n");
  const localSettings = loadSettingsFile(options);
  const { settings, skipped } = mergeLikeFunc(process.env, localSettings?.values ?? {});
  if (localSettings) say(`Settings: ${path.relative(process.cwd(), localSettings.file) || localSettings.file} (Values applied where the environment has none)`);
  for (const name of skipped) say(`  ${name}: skipping the value from local.settings.json, it is already set in the environment`);
  const port = options.port ?? localSettings?.localHttpPort ?? 7071;

  if (options.fresh) fs.rmSync(options.dataDir, { recursive: true, force: true });
  say(`Starting the local stack (${options.engine === "real" ? "Microsoft's Durable Task extension, " : ""}${options.virtualClock ? "virtual" : "real"} clock, data in ${path.relative(process.cwd(), options.dataDir) || options.dataDir})...`);
  const stack = await startStack({
    dataDir: options.dataDir,
    virtualClock: options.virtualClock,
    port,
    userSettings: settings,
    auth: options.auth,
    engine: options.engine,
    // On the real clock, Microsoft's emulated review takes about a minute instead of several.
    behaviour: options.virtualClock ? undefined : { workflow: { stepSeconds: 5, commitSeconds: 2 } },
    echoRuntimeLog: (line) => process.stderr.write(`  ${line}\n`),
  });
  for (const notice of stack.notices) say(`  ${notice}`);

  // The connection string carries Azurite's published development key, not a secret; still keep it
  // off the terminal and in a file a storage tool can read.
  const connectionFile = path.join(options.dataDir, "storage-connection-string.txt");
  fs.writeFileSync(connectionFile, stack.azurite.connectionString + "\n", { mode: 0o600 });
  // Where `npm run drop` says to follow a drop (the API's base URL; not a secret).
  fs.writeFileSync(path.join(options.dataDir, "api-url.txt"), stack.apiUrl + "\n");
  const shown = (file: string) => path.relative(process.cwd(), file) || file;
  const drops = stack.env.DROPS_CONTAINER;
  const dataDirArg = path.resolve(options.dataDir) === path.join(LOCAL_DATA_DIR, "run") ? "" : ` --data-dir ${shown(options.dataDir)}`;
  const access =
    options.auth === "entra"
      ? [
          `  Auth:     Entra ID (Easy Auth emulated with the local issuer in ${shown(path.join(options.dataDir, "identity"))}); no function key is asked for`,
          `            a token: npm run -s token -- --user alice --roles Sign.Submit${dataDirArg}; send it as Authorization: Bearer <token>`,
          `  Example:  curl -H "Authorization: Bearer $(npm run -s token -- --user alice --roles Sign.Submit${dataDirArg})" ${stack.apiUrl}/submissions`,
          `  CI (OIDC): AZURE_AUTHORITY_HOST=${stack.emulators.authorityHost} takes a local "GitHub" OIDC JWT (npm run -s token -- --oidc-subject repo:contoso/drivers:environment:prod${dataDirArg})`,
          `            for the federated app's env: npm run -s token -- --federation-env ci-pipeline${dataDirArg} (README: "Try the federated credential locally")`,
        ]
      : [
          `  Auth:     function keys only: every key-holder holds every role (--auth entra for Entra ID callers)`,
          `  Keys:     ${shown(stack.keysFile)} (host keys; the API needs functionKeys.default or the masterKey)`,
          `            send it as the x-functions-key header or ?code=<key>; without a key the API answers 401`,
        ];
  const lines = [
    "",
    "Local runtime ready.",
    ...(options.engine === "real" ? [`  Engine:   Microsoft's Durable Task extension (a .NET host and a Node worker beside the runtime; log lines "real engine")`] : []),
    ...access,
    `  Submit:   POST ${stack.apiUrl}/submissions   {"package":"${drops}/<file>.hlkx"}`,
    `  Status:   GET  ${stack.apiUrl}/submissions/{id}`,
    `  List:     GET  ${stack.apiUrl}/submissions`,
    ...(options.auth === "entra"
      ? [`  Page:     ${new URL(stack.apiUrl).origin}/.auth/login/aad?post_login_redirect_uri=/api/dashboard   (sign in on the local test tenant's form: a user name and its roles)`]
      : [
          `  Page:     ${stack.apiUrl}/dashboard?code=<functionKeys.default>   (the key leaves the address bar at once)`,
          `  Example:  curl -H "x-functions-key: $(node -p 'require("./${shown(stack.keysFile)}").functionKeys.default')" ${stack.apiUrl}/submissions`,
        ]),
    `  Drops:    container "${drops}" at ${stack.azurite.blobEndpoint} (account ${DEV_ACCOUNT}); npm run drop -- <file>`,
    `            connection string (Azurite development account) in ${shown(connectionFile)}`,
    `  Signed:   container "${stack.env.SIGNED_CONTAINER}"`,
    `  HDC:      ${stack.hdcTarget === "user" ? `${stack.env.HDC_API_BASE_URL} (your settings)` : "the local emulator"}`,
    `  Log:      ${shown(stack.runtimeLogFile)}`,
    "Press Ctrl-C to stop (state is kept; --fresh starts empty).",
    "",
  ];
  say(lines.join("\n"));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`\n${signal}: stopping the local stack...`);
    stack.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`stop failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((error: unknown) => {
  process.stderr.write(`npm run local failed: ${(error as Error).message}\n`);
  process.exit(1);
});
