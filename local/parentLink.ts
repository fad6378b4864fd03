/**
 * No orphans: the stack's node children (Azurite, the runtime) get a stdin pipe from their parent
 * and a preloaded watcher that sends the child SIGTERM (its normal graceful stop) when that pipe
 * closes, which the kernel does when the parent dies, even by SIGKILL. A child still running 5 s
 * later exits. The watcher is preloaded with `node --import`, so it works for Azurite's own entry
 * as well as ours without a wrapper script.
 */
const WATCHER = [
  'process.stdin.on("end", () => {',
  '  process.kill(process.pid, "SIGTERM");',
  "  setTimeout(() => process.exit(1), 5000).unref();",
  "});",
  "process.stdin.resume();",
  // Watching must not keep the child alive: Azurite stops by letting its event loop run dry.
  "process.stdin.unref?.();",
].join("\n");

/** Node arguments that must come before the child's entry script. */
export function exitWithParentArgs(): string[] {
  return ["--import", `data:text/javascript,${encodeURIComponent(WATCHER)}`];
}

/** The child's stdio: stdin must be a pipe the parent holds (and never writes to) for the watcher to work. */
export const PARENT_LINK_STDIN = "pipe" as const;
