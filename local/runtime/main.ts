/**
 * The local runtime process: `node dist/local/runtime/main.js`.
 *
 * Loads the app (its real registrations, through the functions-core stand-in), runs the durable
 * engine on Azurite tables, serves HTTP on 127.0.0.1, watches the drops container for Event Grid
 * BlobCreated events, and prints one JSON ready line on stdout. Everything else goes to stderr.
 *
 * Environment: the app's settings (src/config.ts) plus
 *   LOCAL_PORT (7071; 0 = any free port), LOCAL_HUB (host.json hubName), LOCAL_VIRTUAL_CLOCK=1,
 *   LOCAL_EMULATOR_CONTROL_URL (virtual clock pushes), LOCAL_ACTIVITY_CONCURRENCY,
 *   LOCAL_APP_ENTRY (defaults to dist/src/index.js), LOCAL_EVENTGRID_POLL_MS (100),
 *   LOCAL_KEYS_FILE (host keys; created at first start, default .local-data/run/keys.json),
 *   LOCAL_ENGINE (local, the default: our engine in this process; real: Microsoft's Durable Task extension in a .NET
 *   host with a Node worker, started beside this process by ../realEngine/launch.ts; real clock only).
 * Started by local/runtime/runtimeProcess.ts with a stdin pipe: it stops when its parent dies.
 */
import "../functionsHost/installCoreStandIn";
import { startRuntime } from "./runtime";

function fail(error: unknown): never {
  process.stderr.write(`local runtime failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
}

startRuntime(process.env)
  .then((runtime) => {
    process.stdout.write(JSON.stringify({ ready: true, baseUrl: runtime.baseUrl, pid: process.pid, keysFile: runtime.keysFile }) + "\n");
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`local runtime: ${signal}, stopping\n`);
      const forced = setTimeout(() => process.exit(1), 10_000);
      forced.unref();
      runtime
        .stop()
        .then(() => process.exit(0))
        .catch((error: unknown) => {
          process.stderr.write(`local runtime: stop failed: ${(error as Error).message}\n`);
          process.exit(1);
        });
    };
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    process.on("SIGINT", () => shutdown("SIGINT"));
  })
  .catch(fail);
