/**
 * Approval webhooks (issue 34): the CloudEvent of a label run waiting for / given a decision, and the
 * queueNotification activity building it from the label run's status. The durable client here is a
 * small in-memory stand-in (getStatus/startNew only): the unit under test is the event and who gets it.
 */
import { queueNotification } from "../../../src/activities/queueNotification";
import { parseConfig } from "../../../src/config";
import type { LabelReport } from "../../../src/domain/types";
import { buildApprovalCloudEvent, type ApprovalCloudEvent } from "../../../src/notifications/cloudEvent";
import type { DeliverNotificationInput } from "../../../src/notifications/queue";
import type { SubmissionsClient } from "../../../src/instances/durableClient";

const requester = { objectId: "11111111-1111-1111-1111-111111111111", name: "Rita" };
const approver = { objectId: "22222222-2222-2222-2222-222222222222", name: "Alex" };
const waiting: LabelReport = {
  phase: "awaitingApproval",
  destination: "windowsUpdate",
  name: "contoso 2.3.1.0",
  hardwareIdCount: 8,
  hardwareIdSample: ["contoso_usb.inf | WINDOWS_v100_X64_RS5_FULL | usb\\vid_045e&pid_0001"],
  chidCount: 1,
  audiences: [],
  approval: { requester, requestedAt: "2026-12-01T00:00:00.000Z", deadline: "2026-12-08T00:00:00.000Z", goLiveDate: "2027-01-15T00:00:00Z" },
};
const approved: LabelReport = { ...waiting, phase: "creating", approval: { ...waiting.approval!, decision: "approve", approver, comment: "ok", decidedAt: "2026-12-02T10:00:00.000Z" } };

describe("the approval CloudEvent", () => {
  test("requested: type, subject the label run, the label and the deadline; same input → same id", () => {
    const event = buildApprovalCloudEvent("drv-1", "drv-1-label-1", waiting, "approvalRequested");
    expect(event).toMatchObject({
      specversion: "1.0",
      type: "com.contoso.driversigning.label.approvalRequested",
      subject: "drv-1-label-1",
      time: "2026-12-01T00:00:00.000Z",
      data: { id: "drv-1", labelRun: "drv-1-label-1", phase: "awaitingApproval", hardwareIdCount: 8, approval: { requester, deadline: "2026-12-08T00:00:00.000Z" } },
    });
    expect(event.data.text).toBe('Label approval requested by Rita for windowsUpdate "contoso 2.3.1.0" (8 hardware ids, 1 CHIDs) of submission drv-1, until 2026-12-08T00:00:00.000Z');
    expect(buildApprovalCloudEvent("drv-1", "drv-1-label-1", waiting, "approvalRequested").id).toBe(event.id);
  });

  test("decided: approve, reject and expired each say so; the decided id differs from the requested one", () => {
    const yes = buildApprovalCloudEvent("drv-1", "drv-1-label-1", approved, "approvalDecided");
    expect(yes.data.text).toMatch(/^Label approved by Alex — /);
    expect(yes.time).toBe("2026-12-02T10:00:00.000Z");
    expect(yes.id).not.toBe(buildApprovalCloudEvent("drv-1", "drv-1-label-1", waiting, "approvalRequested").id);
    const no = buildApprovalCloudEvent("drv-1", "drv-1-label-1", { ...approved, phase: "rejected", approval: { ...approved.approval!, decision: "reject", comment: "wrong CHIDs" } }, "approvalDecided");
    expect(no.data.text).toMatch(/^Label rejected by Alex: wrong CHIDs — /);
    const late = buildApprovalCloudEvent("drv-1", "drv-1-label-1", { ...waiting, phase: "expired" }, "approvalDecided");
    expect(late.data.text).toMatch(/^Label expired without a decision at 2026-12-08T00:00:00.000Z — /);
    expect(late.time).toBe("2026-12-08T00:00:00.000Z");
    expect(() => buildApprovalCloudEvent("drv-1", "drv-1-label-1", { phase: "creating" }, "approvalDecided")).toThrow(/no approval/);
  });
});

describe("queueNotification for an approval event", () => {
  const config = parseConfig({
    AzureWebJobsStorage: "UseDevelopmentStorage=true", HDC_TENANT_ID: "t", HDC_CLIENT_ID: "c", HDC_CLIENT_SECRET: "s",
    NOTIFY_WEBHOOK_URLS: "ops=https://hooks.example.com/a,teams=https://hooks.example.com/b", NOTIFY_WEBHOOK_SECRET: "0123456789abcdef-secret",
  });
  function client(statuses: Record<string, unknown>) {
    const started: { name: string; instanceId: string; input: DeliverNotificationInput }[] = [];
    const stand: Partial<SubmissionsClient> = {
      getStatus: (async (id: string) => {
        if (statuses[id]) return statuses[id];
        throw new Error(`The operation failed with an unexpected status code: 404. Details: {}`); // as the durable-functions client words it
      }) as never,
      startNew: (async (name: string, options: { instanceId: string; input: DeliverNotificationInput }) => {
        started.push({ name, instanceId: options.instanceId, input: options.input });
        statuses[options.instanceId] = { runtimeStatus: "Running" };
        return options.instanceId;
      }) as never,
    };
    return { client: stand as SubmissionsClient, started };
  }

  test("builds the event from the label run's status and starts one delivery per receiver, once", async () => {
    const { client: c, started } = client({ "drv-1-label-1": { name: "publishLabel", runtimeStatus: "Running", customStatus: { parentInstanceId: "drv-1", label: waiting } } });
    const first = await queueNotification({ instanceId: "drv-1-label-1", event: "approvalRequested" }, c, config);
    expect(first).toHaveLength(2);
    expect(started.map((s) => s.name)).toEqual(["deliverNotification", "deliverNotification"]);
    const event = started[0].input.event as ApprovalCloudEvent;
    expect(event).toEqual(buildApprovalCloudEvent("drv-1", "drv-1-label-1", waiting, "approvalRequested"));
    expect(started.map((s) => s.input.receiverId)).toEqual(["ops", "teams"]);
    // Run again (activity retry): nothing new.
    expect(await queueNotification({ instanceId: "drv-1-label-1", event: "approvalRequested" }, c, config)).toEqual([]);
    // No URL in what enters history.
    expect(JSON.stringify(started)).not.toMatch(/hooks\.example\.com/);
  });

  test("a run without an approval block is refused with its id", async () => {
    const { client: c } = client({ "drv-1-label-2": { runtimeStatus: "Running", customStatus: { parentInstanceId: "drv-1", label: { phase: "creating" } } } });
    await expect(queueNotification({ instanceId: "drv-1-label-2", event: "approvalDecided" }, c, config)).rejects.toThrow(/label run drv-1-label-2 shows no approval/);
  });
});
