/**
 * No orphans: when the process that owns a stack dies by SIGKILL (no chance to clean up), Azurite
 * and the runtime notice (their stdin pipe closes) and exit by themselves within seconds.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { DIST_DIR } from "../../local/runtime/paths";

jest.setTimeout(90_000);

/** Running and not a zombie (an exited child waiting to be reaped is gone for our purpose). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

it("Azurite and the runtime exit within seconds of a SIGKILL of the stack's owner", async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orphan-check-"));
  const owner = spawn(process.execPath, [path.join(DIST_DIR, "test", "e2e", "fixtures", "stackOwner.js"), dataDir], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  owner.stderr.on("data", (chunk) => (stderr += String(chunk)));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      readline.createInterface({ input: owner.stdout }).once("line", resolve);
      owner.once("exit", (code) => reject(new Error(`the stack owner exited (${code}) before it was ready: ${stderr}`)));
    });
    const { azuritePid, runtimePid } = JSON.parse(line) as { azuritePid: number; runtimePid: number };
    expect(alive(azuritePid)).toBe(true);
    expect(alive(runtimePid)).toBe(true);

    owner.kill("SIGKILL");
    const killedAt = Date.now();
    while ((alive(azuritePid) || alive(runtimePid)) && Date.now() - killedAt < 10_000) await new Promise((r) => setTimeout(r, 100));
    expect({ azurite: alive(azuritePid), runtime: alive(runtimePid) }).toEqual({ azurite: false, runtime: false });
    console.log(`children gone ${Date.now() - killedAt} ms after the owner's SIGKILL`);
  } finally {
    owner.kill("SIGKILL");
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
