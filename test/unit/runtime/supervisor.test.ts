/**
 * The runtime supervisor with a stand-in runtime (a script that prints the ready line): restarts
 * after an unexpected exit with backoff, gives up after maxRestarts in a row, never restarts what
 * it was asked to kill or stop, and stop() ends a restart that is waiting for its backoff.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startRuntimeProcess } from "../../../local/runtime/runtimeProcess";

jest.setTimeout(60_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "supervisor-"));
/** Ready at once; exits after EXIT_AFTER_MS (if set), else runs until SIGTERM. */
const entry = path.join(dir, "fakeRuntime.js");
fs.writeFileSync(
  entry,
  [
    'process.stdout.write(JSON.stringify({ ready: true, baseUrl: "http://127.0.0.1:1", keysFile: "k" }) + "\\n");',
    "const after = Number(process.env.EXIT_AFTER_MS);",
    "if (after) setTimeout(() => process.exit(3), after); else setInterval(() => undefined, 1000);",
    'process.on("SIGTERM", () => process.exit(0));',
  ].join("\n"),
);
const logFile = () => path.join(fs.mkdtempSync(path.join(dir, "log-")), "runtime.log");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it("restarts a runtime that dies on its own, with growing delays, and gives up after maxRestarts in a row", async () => {
  const log = logFile();
  const runtime = await startRuntimeProcess({ env: { EXIT_AFTER_MS: "100" }, logFile: log, entry, maxRestarts: 2 });
  try {
    const deadline = Date.now() + 20_000;
    while (!fs.readFileSync(log, "utf8").includes("giving up") && Date.now() < deadline) await sleep(100);
    const text = fs.readFileSync(log, "utf8");
    expect(text).toMatch(/exited unexpectedly \(code 3\); restarting in 500 ms \(restart 1\/2\)/);
    expect(text).toMatch(/exited unexpectedly \(code 3\); restarting in 1000 ms \(restart 2\/2\)/);
    expect(text).toContain("giving up after 2 restarts in a row");
    expect(runtime.restarts).toBe(2);
  } finally {
    await runtime.stop();
  }
});

it("does not restart a runtime killed or stopped on purpose; stop() cancels a pending restart", async () => {
  const log = logFile();
  const runtime = await startRuntimeProcess({ env: {}, logFile: log, entry });
  await runtime.kill("SIGKILL");
  await sleep(800);
  expect(runtime.restarts).toBe(0);
  await runtime.restart();
  const pid = runtime.pid!;
  process.kill(pid, "SIGKILL");
  while (!fs.readFileSync(log, "utf8").includes("restarting in")) await sleep(20);
  const started = Date.now();
  await runtime.stop();
  expect(Date.now() - started).toBeLessThan(400);
  await sleep(800);
  expect(runtime.restarts).toBe(0);
});
