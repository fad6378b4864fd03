/**
 * Restarting the whole stack (npm run local without --fresh) on the same data folder: the
 * submissions in flight complete, a new drop completes, and Hardware Dev Center's ids never repeat,
 * because the emulators keep their state (products, submissions, workflow progress, upload refs,
 * id counters, clock) in the data folder next to Azurite's data and the host keys.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { dropPackage, startTestStack, waitForEnd, type TestStack } from "../support/stack";

jest.setTimeout(180_000);

describe("stack restart on the same data folder", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-restart-"));
  let first: TestStack | undefined;
  let second: TestStack | undefined;

  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("completes the submissions in flight and new drops, with distinct ids", async () => {
    first = await startTestStack({ dataDir });
    first.emulators.configure({ latencyMs: 200 });
    const blobs = await Promise.all(["restart-a", "restart-b", "restart-c"].map((name) => dropPackage(first!, name)));
    const ids = await Promise.all(blobs.map((blob) => first!.submissions.findByBlob(blob, 20_000)));
    // Stop once the first has its product and submission and is waiting for Microsoft.
    await first.submissions.waitFor(ids[0], (v) => v.stage === "waitingForMicrosoft", { timeoutMs: 30_000, intervalMs: 25 });
    const midway = await Promise.all(ids.map((id) => first!.submissions.get(id)));
    expect(midway.every((view) => view.runtimeStatus === "Running")).toBe(true);
    const functionKey = first.functionKey;
    const productsBefore = first.emulators.state().products.map((p) => p.id);
    expect(productsBefore.length).toBeGreaterThanOrEqual(1);
    await first.stop();
    first = undefined;

    second = await startTestStack({ dataDir });
    expect(second.functionKey).toBe(functionKey);
    // The emulator came back with what it had.
    expect(second.emulators.state().products.map((p) => p.id)).toEqual(expect.arrayContaining(productsBefore));

    const finals = await Promise.all(ids.map((id) => waitForEnd(second!, id)));
    expect(finals.map((f) => f.runtimeStatus)).toEqual(["Completed", "Completed", "Completed"]);
    expect(finals.map((f) => f.stage)).toEqual(["succeeded", "succeeded", "succeeded"]);

    const fresh = await dropPackage(second, "restart-new");
    const freshId = await second.submissions.findByBlob(fresh, 20_000);
    const freshFinal = await waitForEnd(second, freshId);
    expect(freshFinal.stage).toBe("succeeded");

    const products = second.emulators.state().products;
    const productIds = products.map((p) => p.id);
    const submissionIds = products.flatMap((p) => p.submissions.map((s) => s.id));
    expect(productIds).toHaveLength(4);
    expect(new Set(productIds).size).toBe(4);
    expect(submissionIds).toHaveLength(4);
    expect(new Set(submissionIds).size).toBe(4);
    for (const final of [...finals, freshFinal]) {
      expect(productIds).toContain(final.custom.productId);
      expect(submissionIds).toContain(final.custom.submissionId);
    }
  });
});
