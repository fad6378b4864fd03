/**
 * `npm run local [-- --virtual-clock] [--port 7071] [--fresh]`: the whole app on this machine, offline.
 * Data (Azurite, runtime log) lives in .local-data/run; Ctrl-C stops everything.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DEV_ACCOUNT } from "../azurite";
import { LOCAL_DATA_DIR } from "../runtime/paths";
import { APP_CONTAINERS, startStack } from "../stack";

interface CliOptions {
  virtualClock: boolean;
  port: number;
  fresh: boolean;
}

function parseArgs(argv: string[]): CliOptions {
  const options: CliOptions = { virtualClock: false, port: Number(process.env.LOCAL_PORT) || 7071, fresh: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--virtual-clock") options.virtualClock = true;
    else if (arg === "--fresh") options.fresh = true;
    else if (arg === "--port") options.port = Number(argv[++i]);
    else if (arg === "--help" || arg === "-h") {
      process.stdout.write("usage: npm run local [-- --virtual-clock] [--port <n>] [--fresh]\n");
      process.exit(0);
    } else {
      process.stderr.write(`unknown option ${arg} (try --help)\n`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(options.port) || options.port < 0) {
    process.stderr.write("--port needs a number\n");
    process.exit(2);
  }
  return options;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const dataDir = path.join(LOCAL_DATA_DIR, "run");
  if (options.fresh) fs.rmSync(dataDir, { recursive: true, force: true });
  process.stdout.write(`Starting the local stack (${options.virtualClock ? "virtual" : "real"} clock)...\n`);
  const stack = await startStack({
    dataDir,
    virtualClock: options.virtualClock,
    port: options.port,
    // On the real clock, Microsoft's emulated review takes about a minute instead of several.
    behaviour: options.virtualClock ? undefined : { workflow: { stepSeconds: 5, commitSeconds: 2 } },
    echoRuntimeLog: (line) => process.stderr.write(`  ${line}\n`),
  });
  // The connection string carries Azurite's published development key, not a secret; still keep it
  // off the terminal and in a file a storage tool can read.
  const connectionFile = path.join(dataDir, "storage-connection-string.txt");
  fs.writeFileSync(connectionFile, stack.azurite.connectionString + "\n", { mode: 0o600 });
  const lines = [
    "",
    "Local runtime ready.",
    `  Submit:   POST ${stack.apiUrl}/submissions   {"package":"${APP_CONTAINERS.drops}/<file>.hlkx"}`,
    `  Status:   GET  ${stack.apiUrl}/submissions/{id}`,
    `  List:     GET  ${stack.apiUrl}/submissions`,
    `  Drops:    container "${APP_CONTAINERS.drops}" at ${stack.azurite.blobEndpoint} (account ${DEV_ACCOUNT})`,
    `            connection string (Azurite development account) in ${path.relative(process.cwd(), connectionFile)}`,
    `  Signed:   container "${APP_CONTAINERS.signed}"`,
    `  Log:      ${path.relative(process.cwd(), stack.runtimeLogFile)}`,
    "Press Ctrl-C to stop.",
    "",
  ];
  process.stdout.write(lines.join("\n") + "\n");

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the local stack...\n`);
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
