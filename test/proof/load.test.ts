/**
 * Proof suite, load: 200 packages dropped at once complete on the local runtime (virtual clock)
 * while the Hardware Dev Center emulator throttles to a fixed request rate. Every submission must
 * succeed, with exactly one product and one submission per package, and the 429s must be honoured.
 */
import { samplePackage } from "../../local/samplePackage";
import { APP_CONTAINERS } from "../../local/stack";
import { createProductCalls, emulatorCounts, startTestStack, type TestStack } from "../support/stack";
import { blobNames, health, runPool } from "./support/proofRunner";

jest.setTimeout(330_000);

const PACKAGES = Number(process.env.PROOF_LOAD_PACKAGES ?? 200);
const REQUESTS_PER_SECOND = 20;
const DEADLINE_MS = 280_000;

interface LoggedRequest {
  seq: number;
  service: string;
  method: string;
  path: string;
  status: number;
  kind: string;
  realAtMs?: number;
}

describe("proof: load", () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({ behaviour: { rateLimit: { requestsPerSecond: REQUESTS_PER_SECOND } } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it(`${PACKAGES} packages dropped at once all complete under a ${REQUESTS_PER_SECOND} requests/s rate limit`, async () => {
    const pid = stack.runtime.pid;
    const started = Date.now();
    const drops = stack.blobService.getContainerClient(APP_CONTAINERS.drops);
    const fileNames = await runPool(
      Array.from({ length: PACKAGES }, (_, i) => i),
      32,
      async (i) => {
        const pkg = samplePackage({ folder: `proof-load-${String(i).padStart(3, "0")}` });
        await drops.getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
        return pkg.fileName;
      },
    );
    expect(new Set(fileNames).size).toBe(PACKAGES);

    let views = await stack.submissions.list();
    let lastReport = 0;
    while (Date.now() - started < DEADLINE_MS) {
      views = await stack.submissions.list();
      const done = views.filter((v) => v.runtimeStatus === "Completed" || v.runtimeStatus === "Failed" || v.runtimeStatus === "Terminated");
      if (done.length >= PACKAGES) break;
      if (Date.now() - lastReport > 30_000) {
        lastReport = Date.now();
        console.log(`load: ${views.length} started, ${done.length} ended after ${((Date.now() - started) / 1000).toFixed(0)} s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    const seconds = (Date.now() - started) / 1000;
    const completed = views.filter((v) => v.runtimeStatus === "Completed" && v.stage === "succeeded");
    console.log(`packages completed: ${completed.length}/${PACKAGES} in ${seconds.toFixed(1)} s`);

    const notCompleted = views.filter((v) => !completed.includes(v)).map((v) => `${v.id} ${v.runtimeStatus} ${v.stage} ${JSON.stringify(v.custom.error ?? "")}`);
    expect(notCompleted.slice(0, 5)).toEqual([]);
    expect(completed).toHaveLength(PACKAGES);
    // One orchestration per package, each for a different package.
    const packagesSeen = new Set(completed.map((v) => v.custom.package?.blobName));
    expect(packagesSeen).toEqual(new Set(fileNames));

    // Exactly one product and one submission per package; no duplicate product from a retried create.
    expect(emulatorCounts(stack)).toEqual({ products: PACKAGES, submissions: PACKAGES });
    expect(createProductCalls(stack)).toBe(PACKAGES);
    const products = stack.emulators.state().products as unknown as { id?: string; productId?: string }[];
    expect(new Set(completed.map((v) => v.custom.productId)).size).toBe(PACKAGES);
    expect(products).toHaveLength(PACKAGES);

    // Throttling happened, and was honoured.
    const hdc = (stack.emulators.requests().entries as LoggedRequest[]).filter((e) => e.service === "hdc");
    const throttled = hdc.filter((e) => e.status === 429);
    const answered = hdc.filter((e) => e.status !== 429);
    console.log(`load: ${hdc.length} HDC requests, ${throttled.length} answered 429, ${answered.length} served; runtime pid ${pid}`);
    expect(throttled.length).toBeGreaterThan(0);
    // A client that ignored Retry-After would hammer the emulator: 429s stay within the served traffic.
    expect(throttled.length).toBeLessThanOrEqual(answered.length * 2);
    // Where the path identifies one orchestration's resource, the next request for it waits out the
    // Retry-After (the emulator always says 1 s here) — real time, which the virtual clock does not skip.
    if (hdc.every((e) => typeof e.realAtMs === "number")) {
      const early: string[] = [];
      for (const hit of throttled) {
        if (!/\/products\/\d+/.test(hit.path)) continue; // POST /products is shared by every orchestration
        const next = hdc.find((e) => e.seq > hit.seq && e.method === hit.method && e.path === hit.path);
        if (next && next.realAtMs! - hit.realAtMs! < 950) early.push(`${hit.method} ${hit.path}: again after ${next.realAtMs! - hit.realAtMs!} ms`);
      }
      expect(early.slice(0, 5)).toEqual([]);
    }

    // The runtime survived and every dropped package is still where it was dropped.
    expect(await health(stack)).toEqual({ status: 200, ready: true });
    expect(stack.runtime.pid).toBe(pid);
    const left = await blobNames(stack, APP_CONTAINERS.drops);
    for (const name of fileNames) expect(left).toContain(name);
    expect(seconds).toBeLessThan(DEADLINE_MS / 1000);
  });
});
