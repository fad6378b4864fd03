/**
 * Instances in flight survive a deployment: histories written by the deployed orchestrator
 * (test/fixtures/submitDriver-v1, generated at 2407747) replay under the current code through the
 * real durable-functions engine without a different action, and then run to completion.
 * The rule for future changes is in src/orchestrators/versions.ts.
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import "../../../src/orchestrators/submitDriver";
import "../../../src/orchestrators/deliverNotification";
import "../../../src/orchestrators/publishLabel";
import { sendWebhook } from "../../../src/activities/sendWebhook";
import { parseConfig } from "../../../src/config";
import { SUBMIT_DRIVER_NAMES } from "../../../src/orchestrators/versions";
import { type ActivityScript, driveOrchestration, EventType, type HistoryEvent } from "../../support/replayDriver";

const FIXTURES = join(__dirname, "../../fixtures/submitDriver-v1");
const fixtureNames = readdirSync(FIXTURES).filter((name) => name.endsWith(".json"));

interface Fixture {
  orchestrator: string;
  input: { package: { blobName: string } };
  history: HistoryEvent[];
}

const processing = { progress: "processing", commitStatus: "commitComplete", currentStep: "scanning", state: "started", messages: [], hasSignedPackage: false, hasDriverMetadata: false };
const signed = { ...processing, progress: "succeeded", currentStep: "finalizeIngestion", state: "completed", hasSignedPackage: true, hasDriverMetadata: true };

/** Activities as they answer after the deployment: Microsoft signs after two more polls. */
const afterDeployment: ActivityScript = (name, input, _attempt, info) => {
  switch (name) {
    case "copyPackage":
      return { bytesCopied: 4096, method: "serverSideCopy", verified: "length" };
    case "commitSubmission":
      return { commitStatus: "commitReceived", alreadyCommitted: false };
    case "getSubmissionStatus":
      return info.callNumber >= 2 ? signed : processing;
    case "downloadSignedPackage":
      return { signedPackage: { container: "signed-drivers", blobName: `${input.package.blobName}/signed.zip`, contentLength: 5000 } };
    case "writeResultManifest":
      return { container: "signed-drivers", blobName: "contoso/manifest.json" };
    default:
      throw new Error(`unexpected activity ${name} after the deployment`);
  }
};

describe("histories written by the deployed submitDriver (v1, 2407747)", () => {
  test("the fixtures are there: retry pending, mid-poll, after continueAsNew", () => {
    expect(fixtureNames.sort()).toEqual(["after-continue-as-new.json", "mid-poll.json", "retry-pending.json"]);
  });

  test.each(fixtureNames)("%s replays without non-determinism and completes", async (fileName) => {
    const fixture = JSON.parse(readFileSync(join(FIXTURES, fileName), "utf8")) as Fixture;
    expect(SUBMIT_DRIVER_NAMES).toContain(fixture.orchestrator);
    const savedSchedules = fixture.history.filter((e) => e.EventType === EventType.TaskScheduled || e.EventType === EventType.TimerCreated).length;

    // A NonDeterminismError (a saved action produced differently, or not at all) rejects here.
    const result = await driveOrchestration({
      orchestrator: fixture.orchestrator,
      instanceId: "test-instance", // the id the fixtures were written under
      input: fixture.input,
      resumeFrom: { input: fixture.input, history: fixture.history },
      activities: afterDeployment,
    });

    expect(result.runtimeStatus).toBe("Completed");
    expect(result.output).toMatchObject({ outcome: "succeeded", productId: "14461751976964156", submissionId: "1152921505699924012" });
    // The saved part was replayed, not redone: nothing before the cut is scheduled again.
    const firstExecution = result.executions[0].history;
    expect(firstExecution.slice(0, fixture.history.length).map((e) => [e.EventType, e.EventId])).toEqual(
      fixture.history.map((e) => [e.EventType, e.EventId]),
    );
    expect(result.activityCalls.map((call) => call.name)).not.toContain("createProduct");
    expect(result.activityCalls.map((call) => call.name)).not.toContain("createSubmission");
    expect(savedSchedules).toBeGreaterThan(0);
  });

  test("the retry fixture with its TaskFailed as Azure records it (friendly reason + JSON details) replays the same way", async () => {
    const fixture = JSON.parse(readFileSync(join(FIXTURES, "retry-pending.json"), "utf8")) as Fixture;
    const message = "503 Service Unavailable";
    const azureHistory = fixture.history.map((e) =>
      e.EventType === EventType.TaskFailed
        ? {
            ...e,
            Reason: `Activity function 'copyPackage' failed:  ${message}`,
            Details: JSON.stringify({
              $type: "System.Exception, System.Private.CoreLib",
              Message: ` ${message}`,
              InnerException: { RemoteMessage: message, Message: `Result: Failure\nException: ${message}\nStack: Error: ${message}\n    at copyPackage (/home/site/wwwroot/dist/src/activities/copyPackage.js:1:1)` },
            }),
          }
        : e,
    );
    const result = await driveOrchestration({
      orchestrator: fixture.orchestrator,
      input: fixture.input,
      resumeFrom: { input: fixture.input, history: azureHistory },
      activities: afterDeployment,
    });
    expect(result.runtimeStatus).toBe("Completed");
    // The retry timer in the saved history was honoured, then copyPackage ran again (attempt 2).
    expect(result.activityCalls[0].name).toBe("copyPackage");
  });

  test("a change to the yielded actions is caught (the check is real)", async () => {
    const fixture = JSON.parse(readFileSync(join(FIXTURES, "mid-poll.json"), "utf8")) as Fixture;
    // Simulate an incompatible deployment: the history says a different activity was scheduled first.
    const tampered = fixture.history.map((e) => (e.EventType === EventType.TaskScheduled && e.EventId === 0 ? { ...e, Name: "authenticateV2" } : e));
    await expect(
      driveOrchestration({ orchestrator: fixture.orchestrator, input: fixture.input, resumeFrom: { input: fixture.input, history: tampered }, activities: afterDeployment }),
    ).rejects.toThrow(/Non-deterministic orchestration: action #0/);
  });
});

describe("a failure history written before issue 29 (2a62f33: the error report not yet copied)", () => {
  const FAILURE = join(__dirname, "../../fixtures/submitDriver-v1-failure/failed-manifest-pending.json");

  test("Microsoft failed it and the failed manifest is pending: replays without copyErrorReport and fails as before", async () => {
    const fixture = JSON.parse(readFileSync(FAILURE, "utf8")) as Fixture;
    const result = await driveOrchestration({
      orchestrator: fixture.orchestrator,
      instanceId: "test-instance",
      input: fixture.input,
      resumeFrom: { input: fixture.input, history: fixture.history },
      activities: (name) => {
        if (name === "writeResultManifest") return { container: "signed-drivers", blobName: "contoso/manifest.json" };
        throw new Error(`unexpected activity ${name} after the deployment`);
      },
    });
    expect(result.runtimeStatus).toBe("Failed");
    expect(result.error).toContain("Microsoft's processing failed at step validation");
    // Only the pending manifest write completed; nothing was scheduled anew (copyErrorReport included).
    expect(result.activityCalls.map((call) => call.name)).toEqual(["writeResultManifest"]);
    expect(result.finalCustomStatus).toMatchObject({ stage: "failed", manifest: { blobName: "contoso/manifest.json" } });
    expect(result.finalCustomStatus.errorReportBlob).toBeUndefined();
  });

  test("copying the report unconditionally would break that history (the check is real)", async () => {
    const fixture = JSON.parse(readFileSync(FAILURE, "utf8")) as Fixture;
    // The same history, but the failing poll's result as issue 29's getSubmissionStatus writes it.
    const withFlag = fixture.history.map((e) =>
      e.EventType === EventType.TaskCompleted && typeof e.Result === "string" && e.Result.includes('"progress":"failed"')
        ? { ...e, Result: JSON.stringify({ ...JSON.parse(e.Result), hasErrorReport: true }) }
        : e,
    );
    await expect(
      driveOrchestration({
        orchestrator: fixture.orchestrator,
        instanceId: "test-instance",
        input: fixture.input,
        resumeFrom: { input: fixture.input, history: withFlag },
        activities: () => ({}),
      }),
    ).rejects.toThrow(/Non-deterministic orchestration/);
  });
});

/**
 * Deliveries in flight when receiver ids were deployed (issue 30): their input holds a position in
 * NOTIFY_WEBHOOK_URLS (test/fixtures/deliverNotification-v1, written by the code before). The list
 * may have been edited since, so the position names nobody for sure: the retry replays as recorded,
 * then the real sendWebhook drops it with a log line and sends nothing to whoever is at that position now.
 */
describe("deliverNotification histories keyed by position (before receiver ids)", () => {
  const fixture = JSON.parse(readFileSync(join(__dirname, "../../fixtures/deliverNotification-v1/retry-pending.json"), "utf8")) as {
    orchestrator: string;
    input: { urlIndex: number; event: { id: string } };
    history: HistoryEvent[];
  };

  test("replays without non-determinism and ends Completed as dropped; nothing is sent", async () => {
    expect(fixture.input.urlIndex).toBe(1);
    const sent: string[] = [];
    const logged: string[] = [];
    const fetchSpy = jest.spyOn(globalThis, "fetch").mockImplementation(async (url) => {
      sent.push(String(url));
      return new Response(null, { status: 200 });
    });
    try {
      // Two receivers configured now: position 2 exists, but it may be another receiver than the one queued for.
      const config = parseConfig({
        AzureWebJobsStorage: "UseDevelopmentStorage=true",
        HDC_TENANT_ID: "t",
        HDC_CLIENT_ID: "c",
        HDC_CLIENT_SECRET: "s",
        NOTIFY_WEBHOOK_URLS: "https://a.example.com/hook,https://b.example.com/hook",
        NOTIFY_WEBHOOK_SECRET: "0123456789abcdef-secret",
      });
      const result = await driveOrchestration({
        orchestrator: fixture.orchestrator,
        instanceId: `ntf-${fixture.input.event.id}-1`,
        input: fixture.input,
        resumeFrom: { input: fixture.input, history: fixture.history },
        activities: (name, input) => {
          if (name !== "sendWebhook") throw new Error(`unexpected activity ${name}`);
          return sendWebhook(input, config, (line) => logged.push(line));
        },
      });
      expect(result.runtimeStatus).toBe("Completed");
      expect(result.activityCalls).toHaveLength(1);
      expect(result.activityCalls[0].input).toEqual({ event: fixture.input.event, urlIndex: 1 });
      expect(result.output).toMatchObject({ delivered: false, attempts: 2, dropped: expect.stringMatching(/position 2 before receivers had ids/) });
      expect(sent).toEqual([]);
      expect(logged.join("\n")).toMatch(new RegExp(`event ${fixture.input.event.id} dropped`));
    } finally {
      fetchSpy.mockRestore();
    }
  });
});

/**
 * publishLabel runs in flight before the second-person approval (issue 34): histories written by the
 * code before it (test/fixtures/publishLabel-v1, generated at 0b66f99) have no `approval` input, so
 * they replay straight from prepareShippingLabel to createShippingLabel as recorded and finish.
 */
describe("publishLabel histories written before the approval step (v1, 0b66f99)", () => {
  const LABEL_FIXTURES = join(__dirname, "../../fixtures/publishLabel-v1");
  const load = (name: string) => JSON.parse(readFileSync(join(LABEL_FIXTURES, name), "utf8")) as Fixture & { instanceId: string; input: Record<string, unknown> };
  const ready = {
    ready: true, ok: true, name: "contoso-usb-2.3.1 2.3.1.0", destination: "windowsUpdate", hardwareIdCount: 2,
    hardwareIdSample: ["contoso_usb.inf | WINDOWS_v100_X64_RS5_FULL | usb\\vid_045e&pid_0001"], chidCount: 0, audiences: [],
    request: { container: "signing-state", blobName: "labels/drv-contoso-usb-label-1/request.json" },
  };
  const published = { phase: "published", currentStep: "finalizePublishing", state: "completed", messages: [], terminal: true, cancellable: false, hasErrorReport: false, cancelRequested: false };
  const labelActivities: ActivityScript = (name) => {
    switch (name) {
      case "prepareShippingLabel":
        return { ...ready, dryRunRequest: { container: "signed-drivers", blobName: "contoso/label-request.json" } };
      case "createShippingLabel":
        return { labelId: "1152921504628000000", reused: false };
      case "getShippingLabelStatus":
        return published;
      default:
        throw new Error(`unexpected activity ${name} after the deployment`);
    }
  };
  const replay = (fixture: ReturnType<typeof load>, input: unknown = fixture.input) =>
    driveOrchestration({ orchestrator: fixture.orchestrator, instanceId: fixture.instanceId, input, resumeFrom: { input, history: fixture.history }, activities: labelActivities });

  test("the fixtures are there: create pending, following, dry run waiting", () => {
    expect(readdirSync(LABEL_FIXTURES).filter((n) => n.endsWith(".json")).sort()).toEqual(["create-pending.json", "dry-run-waiting.json", "following.json"]);
  });

  test("create pending: the recorded createShippingLabel completes once, no approval wait, followed to published", async () => {
    const fixture = load("create-pending.json");
    expect(fixture.input.approval).toBeUndefined();
    const result = await replay(fixture);
    expect(result.runtimeStatus).toBe("Completed");
    expect(result.output).toMatchObject({ phase: "published", labelId: "1152921504628000000" });
    expect(result.callCounts).toEqual({ createShippingLabel: 1, getShippingLabelStatus: 1 });
    expect(result.customStatuses.map((s: { label: { phase: string } }) => s.label.phase)).not.toContain("awaitingApproval");
  });

  test("following: the pending poll timer fires and the label is followed to published; nothing created again", async () => {
    const result = await replay(load("following.json"));
    expect(result.runtimeStatus).toBe("Completed");
    expect(result.output).toMatchObject({ phase: "published", labelId: "1152921504628000000", pollCount: 2 });
    expect(result.callCounts).toEqual({ getShippingLabelStatus: 1 });
  });

  test("the same history with the new `approval` input would not replay (the gate is what keeps it safe; the check is real)", async () => {
    const fixture = load("create-pending.json");
    const withApproval = { ...fixture.input, approval: { requester: { objectId: "someone" }, deadlineHours: 168 } };
    await expect(replay(fixture, withApproval)).rejects.toThrow(/Non-deterministic orchestration: action #3 was .*createShippingLabel.* but replay produced .*"actionType":5/);
  });

  test("dry run waiting for the metadata: ends as a dry run, nothing created", async () => {
    const result = await replay(load("dry-run-waiting.json"));
    expect(result.runtimeStatus).toBe("Completed");
    expect(result.output).toMatchObject({ phase: "dryRun", hardwareIdCount: 2 });
    expect(result.callCounts).toEqual({ prepareShippingLabel: 1 });
  });
});
