/**
 * The stack keeps the runtime running like the Functions host keeps its worker: kill -9 of the
 * runtime process (not through the stack) → the stack restarts it with backoff, and every
 * submission that was in flight completes, with exactly one product and submission each.
 */
import * as fs from "node:fs";
import { dropPackage, emulatorCounts, startTestStack, waitForEnd, type TestStack } from "../support/stack";

jest.setTimeout(150_000);

describe("runtime supervision", () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("restarts a SIGKILLed runtime and completes all 3 submissions in flight", async () => {
    // Slow every Hardware Dev Center answer so the three are certainly mid-way when the runtime dies.
    stack.emulators.configure({ latencyMs: 200 });
    const before = emulatorCounts(stack);
    const blobs = await Promise.all(["survive-a", "survive-b", "survive-c"].map((name) => dropPackage(stack, name)));
    const ids = await Promise.all(blobs.map((blob) => stack.submissions.findByBlob(blob, 20_000)));
    const started = new Set(["creatingProduct", "creatingSubmission", "uploading", "committing", "waitingForMicrosoft"]);
    await Promise.all(ids.map((id) => stack.submissions.waitFor(id, (v) => started.has(v.stage ?? ""), { timeoutMs: 30_000, intervalMs: 25 })));

    const killed = stack.runtime.pid!;
    process.kill(killed, "SIGKILL");
    const deadline = Date.now() + 30_000;
    while (stack.runtime.restarts === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await stack.runtime.whenRunning();
    expect(stack.runtime.restarts).toBe(1);
    expect(stack.runtime.pid).not.toBe(killed);
    stack.emulators.configure({ latencyMs: 0 });

    const finals = await Promise.all(ids.map((id) => waitForEnd(stack, id)));
    expect(finals.map((f) => [f.runtimeStatus, f.stage])).toEqual([
      ["Completed", "succeeded"],
      ["Completed", "succeeded"],
      ["Completed", "succeeded"],
    ]);
    expect(emulatorCounts(stack)).toEqual({ products: before.products + 3, submissions: before.submissions + 3 });
    expect(new Set(finals.map((f) => f.custom.productId)).size).toBe(3);
    expect(fs.readFileSync(stack.runtimeLogFile, "utf8")).toMatch(/runtime supervisor: the runtime exited unexpectedly \(SIGKILL\); restarting in \d+ ms/);
  });
});
