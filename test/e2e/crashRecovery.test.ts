/**
 * kill -9 of the runtime process mid-orchestration: a restarted runtime on the same Azurite picks
 * the orchestration up from its stored history and finishes it with exactly one product and one
 * submission at Hardware Dev Center. The emulators live in the test process and survive the kill.
 */
import { createProductCalls, dropPackage, emulatorCounts, startTestStack, waitForEnd, type TestStack } from "../support/stack";

jest.setTimeout(150_000);

describe("runtime crash and restart", () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("finishes an orchestration killed while waiting for Microsoft, without a second product or submission", async () => {
    // Slow every Hardware Dev Center answer a little so the waiting stage spans several status polls.
    stack.emulators.configure({ latencyMs: 150 });
    const before = emulatorCounts(stack);
    const productCallsBefore = createProductCalls(stack);
    const blobName = await dropPackage(stack, "e2e-crash-wait");
    const id = await stack.submissions.findByBlob(blobName, 20_000);
    await stack.submissions.waitFor(id, (v) => v.stage === "waitingForMicrosoft", { timeoutMs: 30_000, intervalMs: 25 });

    const killedPid = stack.runtime.pid;
    await stack.runtime.kill("SIGKILL");
    stack.emulators.configure({ latencyMs: 0 });
    await stack.runtime.restart();
    expect(stack.runtime.pid).not.toBe(killedPid);

    const final = await waitForEnd(stack, id);
    expect(final.runtimeStatus).toBe("Completed");
    expect(final.stage).toBe("succeeded");
    expect(emulatorCounts(stack)).toEqual({ products: before.products + 1, submissions: before.submissions + 1 });
    expect(createProductCalls(stack)).toBe(productCallsBefore + 1);
  });

  it("finishes an orchestration killed while creating the product, without a second product", async () => {
    // Hold the create-product answer; the runtime dies while the activity waits for it. The emulator
    // still creates the product afterwards (the service had the request), as the real service may.
    stack.emulators.configure({ faults: [{ method: "POST", pathRegex: "/products$", delayMs: 1500, times: 1 }] });
    const before = emulatorCounts(stack);
    const blobName = await dropPackage(stack, "e2e-crash-create");
    const id = await stack.submissions.findByBlob(blobName, 20_000);
    await stack.submissions.waitFor(id, (v) => v.stage === "creatingProduct", { timeoutMs: 30_000, intervalMs: 25 });
    await new Promise((r) => setTimeout(r, 300)); // the POST is now in flight

    await stack.runtime.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 1500)); // let the held request land at the emulator
    await stack.runtime.restart();

    const final = await waitForEnd(stack, id);
    expect(final.runtimeStatus).toBe("Completed");
    expect(emulatorCounts(stack)).toEqual({ products: before.products + 1, submissions: before.submissions + 1 });
  });
});
