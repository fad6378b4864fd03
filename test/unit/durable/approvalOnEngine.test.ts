/**
 * The approval wait of publishLabel (issue 34) on the local runtime's durable engine (local/durable,
 * over real Azurite), the engine the route/page slice's end-to-end tests will run on: the instance
 * waits as awaitingApproval; a crash of the engine while it waits changes nothing; after a restart on
 * the same task hub a self-approval is ignored and a second person's approval creates exactly one
 * label; a reject creates none; with the virtual clock and no decision the run expires.
 * Shipping-label activities are small stand-ins registered here (the orchestration is the real one).
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import * as df from "durable-functions";
import type { PublishLabelInput } from "../../../src/activities/contract";
import { APPROVAL_EVENT } from "../../../src/domain/approval";
import type { LabelReport } from "../../../src/domain/types";
import "../../../src/orchestrators/publishLabel";
import { type EngineFixture, engineFixture, uniqueHub } from "./harness";

const creates: string[] = [];
df.app.activity("prepareShippingLabel", {
  handler: async () => ({
    ready: true, ok: true, name: "contoso 2.3.1.0", destination: "windowsUpdate", hardwareIdCount: 2,
    hardwareIdSample: ["contoso_usb.inf | WINDOWS_v100_X64_RS5_FULL | usb\\vid_045e&pid_0001"], chidCount: 0, audiences: [],
    request: { container: "signing-state", blobName: "labels/x/request.json" },
  }),
});
df.app.activity("createShippingLabel", {
  handler: async (input: unknown) => {
    creates.push((input as { instanceId: string }).instanceId);
    return { labelId: "1152921504628000000", reused: false };
  },
});
df.app.activity("getShippingLabelStatus", {
  handler: async () => ({ phase: "published", currentStep: "finalizePublishing", state: "completed", messages: [], terminal: true, cancellable: false, hasErrorReport: false, cancelRequested: false }),
});

const requester = { objectId: "11111111-1111-1111-1111-111111111111", name: "Rita" };
const approver = { objectId: "22222222-2222-2222-2222-222222222222", name: "Alex" };
const input = (deadlineHours: number): PublishLabelInput => ({
  parentInstanceId: "drv-engine",
  package: { container: "driver-drops", blobName: "contoso.hlkx" },
  productId: "14631253285588845",
  submissionId: "1152921504621465131",
  product: { productName: "contoso", testHarness: "hlk" },
  policy: { destination: "windowsUpdate" },
  polling: { initialIntervalSeconds: 1, maxIntervalSeconds: 1, backoffFactor: 1, deadlineDays: 1, metadataWaitMinutes: 1, pollsPerGeneration: 10 },
  retry: { firstRetryIntervalSeconds: 1, maxAttempts: 2, backoffCoefficient: 2, maxRetryIntervalSeconds: 1 },
  approval: { requester, deadlineHours },
});
const decision = (who: { objectId: string; name: string }, verdict = "approve", comment = "") => ({ decision: verdict, comment, approver: who, decidedAt: "2026-12-07T08:00:00Z" });

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("publishLabel's approval on the local durable engine", () => {
  let fixture: EngineFixture;
  beforeAll(async () => {
    fixture = await engineFixture();
  });
  afterAll(async () => fixture.dispose());

  const labelOf = async (engine: Awaited<ReturnType<EngineFixture["create"]>>, id: string) =>
    ((await engine.getStatus(id))?.customStatus as { label?: LabelReport } | undefined)?.label;

  test("waits; a crash while waiting changes nothing; after restart a self-approval is ignored and a second person's approval creates one label", async () => {
    const hubName = uniqueHub("Approval");
    const first = await fixture.create({ hubName, virtualClock: false });
    const id = await first.startNew("publishLabel", input(24), "drv-engine-label-1");
    const waiting = await waitFor("awaitingApproval", async () => ((await labelOf(first, id))?.phase === "awaitingApproval" ? labelOf(first, id) : undefined));
    expect(waiting).toMatchObject({ hardwareIdCount: 2, approval: { requester } });
    first.simulateCrash();

    const second = await fixture.create({ hubName, virtualClock: false });
    expect((await second.getStatus(id))?.runtimeStatus).toBe("Running");
    expect(await second.raiseEvent(id, APPROVAL_EVENT, decision({ objectId: requester.objectId, name: "Rita" }))).toBe(true);
    await waitFor("the self-approval recorded", async () => ((await labelOf(second, id))?.approval?.ignored?.length === 1 ? true : undefined));
    expect((await labelOf(second, id))?.phase).toBe("awaitingApproval");
    expect(creates.filter((c) => c === id)).toEqual([]);

    expect(await second.raiseEvent(id, APPROVAL_EVENT, decision(approver, "approve", "ids checked"))).toBe(true);
    const done = await waitFor("completion", async () => {
      const status = await second.getStatus(id);
      return status?.runtimeStatus === "Completed" ? status : undefined;
    });
    expect(done.output).toMatchObject({ phase: "published", approval: { decision: "approve", approver, comment: "ids checked" } });
    expect(creates.filter((c) => c === id)).toEqual([id]);
    await second.stop();
  });

  test("reject: completed as rejected, nothing created", async () => {
    const engine = await fixture.create({ virtualClock: false });
    const id = await engine.startNew("publishLabel", input(24), "drv-engine-label-2");
    await waitFor("awaitingApproval", async () => ((await labelOf(engine, id))?.phase === "awaitingApproval" ? true : undefined));
    await engine.raiseEvent(id, APPROVAL_EVENT, decision(approver, "reject", "wrong audience"));
    const done = await waitFor("completion", async () => {
      const status = await engine.getStatus(id);
      return status?.runtimeStatus === "Completed" ? status : undefined;
    });
    expect(done.output).toMatchObject({ phase: "rejected", error: expect.stringMatching(/rejected by Alex: wrong audience/) });
    expect(creates).not.toContain(id);
    await engine.stop();
  });

  test("no decision: on the virtual clock the day-long waits run out and the run expires, nothing created", async () => {
    const engine = await fixture.create({ virtualClock: true });
    const id = await engine.startNew("publishLabel", input(72), "drv-engine-label-3");
    await engine.waitForIdle(30_000);
    const status = await engine.getStatus(id);
    expect(status?.runtimeStatus).toBe("Completed");
    expect(status?.output).toMatchObject({ phase: "expired" });
    const label = status?.output as LabelReport;
    expect(Date.parse(label.updatedAt!) - Date.parse(label.approval!.requestedAt)).toBe(72 * 3600_000);
    expect(creates).not.toContain(id);
    await engine.stop();
  });
});
