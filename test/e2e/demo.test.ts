/** `npm run demo` as users run it (the compiled CLI): it must sign the sample package and exit 0, quickly. */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { DIST_DIR } from "../../local/runtime/paths";

jest.setTimeout(90_000);

it("npm run demo signs the sample package and exits 0 within a minute", async () => {
  const started = Date.now();
  const child = spawn(process.execPath, [path.join(DIST_DIR, "local", "cli", "demo.js")], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk) => (output += String(chunk)));
  child.stderr.on("data", (chunk) => (output += String(chunk)));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining("Signed.") });
  expect(output).toMatch(/✔ creating product\s+product \d+/);
  expect(output).toMatch(/signed package: signed-drivers\//);
  expect(Date.now() - started).toBeLessThan(60_000);
});
