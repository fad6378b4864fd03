/**
 * The .NET host with Microsoft's Durable Task extension that the tests under test/conformance need: restored and
 * built once by scripts/restore-conformance.sh (a no-op when built). Without the .NET SDK those tests are skipped,
 * except under CI=true, where a test that fails says why.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const root = path.resolve(__dirname, "../..");

/** Restores the host; the `describe` to run the file's tests with (describe.skip when it is not available). */
export function describeWithConformanceHost(testFile: string): jest.Describe {
  const result = spawnSync("bash", [path.join(root, "scripts/restore-conformance.sh")], { encoding: "utf8", timeout: 600_000 });
  if (result.status === 0 && result.stdout.trim()) return describe;
  const problem = `scripts/restore-conformance.sh exited ${result.status}: ${(result.stderr || "").trim().slice(-2000)}`;
  if (process.env.CI === "true") {
    test("the conformance host is available in CI", () => {
      throw new Error(`CI=true but the conformance host could not be restored: ${problem}`);
    });
  } else {
    console.warn(`${testFile} skipped: the conformance host could not be built (no .NET SDK?). ${problem}`);
  }
  return describe.skip;
}
