/**
 * The submitDriver orchestration driven through the real durable-functions replay engine (the
 * handler df.app.orchestration registered), with scripted activities and a virtual clock.
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import type { SubmitDriverInput } from "../../../src/activities/contract";
import type { NormalizedSubmissionStatus, ResultManifest, SubmissionCustomStatus } from "../../../src/domain/types";
import { TerminalActivityError, toSafeActivityError } from "../../../src/activities/errors";
import "../../../src/orchestrators/submitDriver";
import { MAX_CUSTOM_STATUS_CHARS } from "../../../src/orchestrators/customStatus";
import { type ActivityScript, type DriveResult, driveOrchestration, EventType } from "../../support/replayDriver";

const PRODUCT_ID = "14461751976964156"; // > 2^53: must survive as a string
const SUBMISSION_ID = "1152921505699924012";

// Secrets a real activity holds for a moment; none may reach history, status or output.
const BEARER_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fake-payload.fake-signature";
const CLIENT_SECRET = "cs~Q8uT.super-secret-client-value";
const SAS_SIGNATURE = "Zm9vYmFyU0FTc2lnbmF0dXJlPQ%3D%3D";
const SUBMISSION_SAS = `https://ingestion.blob.core.windows.net/uploads/${SUBMISSION_ID}.hlkx?sv=2022-11-02&se=2030-01-01&sr=b&sp=rcw&sig=${SAS_SIGNATURE}`;

function baseInput(overrides: Partial<SubmitDriverInput> = {}): SubmitDriverInput {
  return {
    package: { container: "driver-drops", blobName: "contoso-usb-2.3.1.hlkx", etag: "0x8DC0FFEE", contentLength: 4096 },
    product: {
      productName: "contoso-usb-2.3.1",
      testHarness: "attestation",
      requestedSignatures: ["WINDOWS_v100_X64_RS5_FULL"],
      selectedProductTypes: { windows_v100_RS5: "Unclassified" },
      deviceType: "external",
      firmwareVersion: "0",
    },
    submissionName: "contoso-usb-2.3.1",
    submissionType: "initial",
    polling: { initialIntervalSeconds: 60, maxIntervalSeconds: 900, backoffFactor: 1.5, deadlineMinutes: 360, pollsPerGeneration: 20 },
    retry: { firstRetryIntervalSeconds: 5, maxAttempts: 3, backoffCoefficient: 2, maxRetryIntervalSeconds: 300 },
    requestedBy: "eventGrid",
    ...overrides,
  };
}

const processing = (step = "scanning"): NormalizedSubmissionStatus => ({
  progress: "processing",
  commitStatus: "commitComplete",
  currentStep: step,
  state: "started",
  messages: [],
  hasSignedPackage: false,
  hasDriverMetadata: false,
});
const signed: NormalizedSubmissionStatus = {
  progress: "succeeded",
  commitStatus: "commitComplete",
  currentStep: "finalizeIngestion",
  state: "completed",
  messages: [],
  hasSignedPackage: true,
  hasDriverMetadata: true,
};

type Handlers = Partial<Record<string, ActivityScript>>;

/** Fake activities shaped like the real ones: they use secrets internally and return only facts. */
function scenario(overrides: Handlers = {}, signedAfterPolls = 3): ActivityScript {
  const defaults: Handlers = {
    authenticate: () => {
      const header = `Bearer ${BEARER_TOKEN}`; // acquired with CLIENT_SECRET, used, dropped
      void header;
      void CLIENT_SECRET;
      return { tenantId: "tenant", clientId: "client", credentialKind: "clientSecret", expiresOn: "2030-01-01T00:00:00Z", apiReachable: true };
    },
    createProduct: () => ({ productId: PRODUCT_ID, reused: false }),
    createSubmission: () => ({ submissionId: SUBMISSION_ID, commitStatus: "commitPending", reused: false }),
    copyPackage: () => {
      void SUBMISSION_SAS; // fetched fresh inside the activity, never returned
      return { bytesCopied: 4096, method: "serverSideCopy", verified: "length" };
    },
    commitSubmission: () => ({ commitStatus: "commitReceived", alreadyCommitted: false }),
    getSubmissionStatus: (_name, _input, _attempt, info) => (info.callNumber >= signedAfterPolls ? signed : processing()),
    downloadSignedPackage: (_name, input) => ({
      signedPackage: { container: "signed-drivers", blobName: `${input.package.blobName}/signed.zip`, contentLength: 5000 },
      driverMetadata: { container: "signed-drivers", blobName: `${input.package.blobName}/driverMetadata.json` },
    }),
    writeResultManifest: (_name, input) => ({ container: "signed-drivers", blobName: `contoso/${input.manifest.outcome}.manifest.json` }),
  };
  const handlers = { ...defaults, ...overrides };
  return (name, input, attempt, info) => {
    const handler = handlers[name];
    if (!handler) throw new Error(`unexpected activity ${name}`);
    return handler(name, input, attempt, info);
  };
}

const activityOrder = (result: DriveResult) => result.activityCalls.map((call) => call.name);
const timerDeltasSeconds = (result: DriveResult) =>
  result.timers.map((timer) => (Date.parse(timer.fireAt) - Date.parse(timer.createdAt)) / 1000);
const manifestsWritten = (result: DriveResult): ResultManifest[] =>
  result.activityCalls.filter((call) => call.name === "writeResultManifest").map((call) => call.input.manifest);
const stages = (result: DriveResult): string[] =>
  result.customStatuses.map((status) => status?.stage).filter((stage, i, all) => stage !== all[i - 1]);

describe("submitDriver orchestration (real replay engine)", () => {
  test("happy path: activities in order, signed package and manifest, summary output", async () => {
    const result = await driveOrchestration({ input: baseInput(), activities: scenario() });

    expect(result.runtimeStatus).toBe("Completed");
    expect(activityOrder(result)).toEqual([
      "authenticate",
      "createProduct",
      "createSubmission",
      "copyPackage",
      "commitSubmission",
      "getSubmissionStatus",
      "getSubmissionStatus",
      "getSubmissionStatus",
      "downloadSignedPackage",
      "writeResultManifest",
    ]);
    const createSubmission = result.activityCalls.find((call) => call.name === "createSubmission");
    expect(createSubmission?.input).toEqual({ instanceId: "test-instance", productId: PRODUCT_ID, name: "contoso-usb-2.3.1", type: "initial" });

    const [manifest] = manifestsWritten(result);
    expect(manifest).toMatchObject({
      outcome: "succeeded",
      productId: PRODUCT_ID,
      submissionId: SUBMISSION_ID,
      signedPackage: { container: "signed-drivers", blobName: "contoso-usb-2.3.1.hlkx/signed.zip" },
      currentStep: "finalizeIngestion",
    });
    expect(result.output).toMatchObject({
      outcome: "succeeded",
      productId: PRODUCT_ID,
      submissionId: SUBMISSION_ID,
      manifest: { container: "signed-drivers", blobName: "contoso/succeeded.manifest.json" },
      pollCount: 3,
      generation: 0,
    });
    expect(stages(result)).toEqual([
      "authenticating",
      "creatingProduct",
      "creatingSubmission",
      "uploading",
      "committing",
      "waitingForMicrosoft",
      "downloadingSignedPackage",
      "succeeded",
    ]);
    expect(result.finalCustomStatus).toMatchObject({
      stage: "succeeded",
      productId: PRODUCT_ID,
      submissionId: SUBMISSION_ID,
      manifest: { blobName: "contoso/succeeded.manifest.json" },
      updatedAt: result.clock.toISOString(),
    });
    // While waiting, users see the next poll time and the deadline.
    const waiting = result.customStatuses.find((status) => status.stage === "waitingForMicrosoft" && status.nextPollAt);
    expect(waiting).toMatchObject({ pollCount: 0, deadline: expect.any(String), nextPollAt: expect.any(String) });
  });

  test("polling waits back off by the factor and are capped at the maximum", async () => {
    const result = await driveOrchestration({ input: baseInput(), activities: scenario({}, 10) });

    expect(result.runtimeStatus).toBe("Completed");
    expect(timerDeltasSeconds(result)).toEqual([60, 90, 135, 203, 305, 458, 687, 900, 900, 900]);
  });

  test("deadline passes: fails at waitingForMicrosoft, last poll at the deadline, failed manifest written", async () => {
    const input = baseInput({ polling: { ...baseInput().polling, deadlineMinutes: 10 } });
    const result = await driveOrchestration({ input, activities: scenario({ getSubmissionStatus: () => processing("manualReview") }) });

    expect(result.runtimeStatus).toBe("Failed");
    expect(result.error).toMatch(/stage waitingForMicrosoft/);
    expect(result.error).toMatch(/deadline/);
    const deadline = result.customStatuses.find((status) => status.deadline)?.deadline as string;
    const commitDoneAt = result.activityCalls.find((call) => call.name === "commitSubmission")?.at as string;
    expect(Date.parse(deadline) - Date.parse(commitDoneAt)).toBe(10 * 60 * 1000);
    // 60 + 90 + 135 + 203 = 488 s, then the 305 s wait is cut short at the deadline.
    expect(timerDeltasSeconds(result).slice(0, 4)).toEqual([60, 90, 135, 203]);
    expect(result.timers[result.timers.length - 1].fireAt).toBe(deadline);
    expect(manifestsWritten(result)).toEqual([
      expect.objectContaining({ outcome: "failed", reason: expect.stringMatching(/^waitingForMicrosoft: deadline/), currentStep: "manualReview" }),
    ]);
    expect(result.finalCustomStatus).toMatchObject({ stage: "failed", error: expect.stringMatching(/deadline/), currentStep: "manualReview" });
  });

  test("continueAsNew after pollsPerGeneration keeps pollCount, deadline and interval; history stays bounded", async () => {
    const input = baseInput({ polling: { ...baseInput().polling, pollsPerGeneration: 4, maxIntervalSeconds: 300 } });
    const result = await driveOrchestration({ input, activities: scenario({}, 18) });

    expect(result.runtimeStatus).toBe("Completed");
    expect(result.executions).toHaveLength(5); // 4 + 4 + 4 + 4 + 2 polls
    const carries = result.executions.slice(1).map((execution) => (execution.input as SubmitDriverInput).carry);
    expect(carries.map((carry) => carry?.pollCount)).toEqual([4, 8, 12, 16]);
    expect(carries.map((carry) => carry?.generation)).toEqual([1, 2, 3, 4]);
    const deadlines = new Set(carries.map((carry) => carry?.deadline));
    expect(deadlines.size).toBe(1);
    expect(carries.every((carry) => carry?.productId === PRODUCT_ID && carry?.submissionId === SUBMISSION_ID)).toBe(true);

    // Later generations only poll: nothing is created, copied or committed twice.
    expect(result.callCounts).toMatchObject({ authenticate: 1, createProduct: 1, createSubmission: 1, copyPackage: 1, commitSubmission: 1, getSubmissionStatus: 18 });
    // The backoff continues across generations instead of restarting.
    expect(timerDeltasSeconds(result)).toEqual([60, 90, 135, 203, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300]);
    expect(result.output).toMatchObject({ pollCount: 18, generation: 4 });

    const sizes = result.executions.map((execution) => execution.history.length);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(60);
    // A polling-only generation has the same bounded size however long the run.
    expect(new Set(sizes.slice(1, 4)).size).toBe(1);
  });

  test("a transient failure is retried after a durable timer, then succeeds", async () => {
    const copyPackage: ActivityScript = (_name, _input, attempt) => {
      if (attempt < 3) throw toSafeActivityError(new Error(`503 Service Unavailable from ${SUBMISSION_SAS}`));
      return { bytesCopied: 4096, method: "serverSideCopy", verified: "length" };
    };
    const result = await driveOrchestration({ input: baseInput(), activities: scenario({ copyPackage }) });

    expect(result.runtimeStatus).toBe("Completed");
    expect(result.activityCalls.filter((call) => call.name === "copyPackage").map((call) => [call.attempt, call.outcome])).toEqual([
      [1, "failed"],
      [2, "failed"],
      [3, "completed"],
    ]);
    // Retry delays 5 s then 10 s (first × coefficient^(n-1)), before the polling waits.
    expect(timerDeltasSeconds(result).slice(0, 3)).toEqual([5, 10, 60]);
    // Retries are new TaskScheduled events with their own sequence numbers.
    const scheduled = result.allEvents.filter((event) => event.EventType === EventType.TaskScheduled && event.Name === "copyPackage");
    expect(scheduled.map((event) => event.EventId)).toEqual([3, 5, 7]);
  });

  test("retries exhausted: fails at the stage with the last error after maxAttempts", async () => {
    const result = await driveOrchestration({
      input: baseInput(),
      activities: scenario({
        commitSubmission: () => {
          throw new Error("502 Bad Gateway");
        },
      }),
    });

    expect(result.runtimeStatus).toBe("Failed");
    expect(result.callCounts.commitSubmission).toBe(3);
    expect(result.error).toMatch(/stage committing: commitSubmission failed after 3 attempts: 502 Bad Gateway/);
    expect(timerDeltasSeconds(result)).toEqual([5, 10]); // no pointless wait after the last attempt
    expect(manifestsWritten(result)).toEqual([expect.objectContaining({ outcome: "failed", productId: PRODUCT_ID, submissionId: SUBMISSION_ID })]);
    expect(result.finalCustomStatus).toMatchObject({ stage: "failed", error: expect.stringContaining("502 Bad Gateway") });
  });

  test("a terminal failure is not retried", async () => {
    const result = await driveOrchestration({
      input: baseInput(),
      activities: scenario({
        createProduct: () => {
          throw new TerminalActivityError("400 Bad Request: productName is invalid");
        },
      }),
    });

    expect(result.runtimeStatus).toBe("Failed");
    expect(result.callCounts.createProduct).toBe(1);
    expect(result.timers).toHaveLength(0);
    expect(result.error).toMatch(/stage creatingProduct: createProduct failed: 400 Bad Request: productName is invalid/);
    expect(result.error).not.toContain("[terminal]");
    expect(result.callCounts.createSubmission).toBeUndefined();
    expect(manifestsWritten(result)).toEqual([expect.objectContaining({ outcome: "failed", reason: expect.stringMatching(/^creatingProduct:/) })]);
  });

  test("the orchestration still fails (with status) when the failed manifest cannot be written", async () => {
    const result = await driveOrchestration({
      input: baseInput(),
      activities: scenario({
        createProduct: () => {
          throw new TerminalActivityError("403 Forbidden");
        },
        writeResultManifest: () => {
          throw new TerminalActivityError("storage unavailable");
        },
      }),
    });
    expect(result.runtimeStatus).toBe("Failed");
    expect(result.error).toMatch(/403 Forbidden/);
    expect(result.finalCustomStatus).toMatchObject({ stage: "failed" });
    expect(result.finalCustomStatus.manifest).toBeUndefined();
  });

  test("CommitFailed from the commit: fails at committing with Microsoft's messages", async () => {
    const rejected: NormalizedSubmissionStatus = {
      ...processing(),
      progress: "failed",
      commitStatus: "CommitFailed",
      currentStep: null,
      state: null,
      messages: ["The package signature is not valid."],
    };
    const result = await driveOrchestration({
      input: baseInput(),
      activities: scenario({
        commitSubmission: () => ({ commitStatus: "CommitFailed", alreadyCommitted: false }),
        getSubmissionStatus: () => rejected,
      }),
    });

    expect(result.runtimeStatus).toBe("Failed");
    expect(result.error).toMatch(/stage committing: Microsoft rejected the commit \(commitStatus CommitFailed\)/);
    expect(result.error).toContain("The package signature is not valid.");
    expect(result.finalCustomStatus).toMatchObject({
      stage: "failed",
      commitStatus: "CommitFailed",
      messages: ["The package signature is not valid."],
    });
    expect(result.timers).toHaveLength(0);
  });

  test("commitFailed seen while polling also fails with the messages", async () => {
    const result = await driveOrchestration({
      input: baseInput(),
      activities: scenario({
        getSubmissionStatus: (_n, _i, _a, info) =>
          info.callNumber < 2
            ? processing("packageInfoValidation")
            : { ...processing(), progress: "failed", commitStatus: "commitFailed", messages: ["Catalog file missing"] },
      }),
    });
    expect(result.runtimeStatus).toBe("Failed");
    expect(result.error).toMatch(/stage waitingForMicrosoft: Microsoft rejected the commit/);
    expect(result.error).toContain("Catalog file missing");
  });

  test("workflow failed at validation: messages and error report in status, manifest and exception", async () => {
    const errorReportText = "HLK results: 3 tests failed.\n" + "x".repeat(6000);
    const failedAtValidation: NormalizedSubmissionStatus = {
      progress: "failed",
      commitStatus: "commitComplete",
      currentStep: "validation",
      state: "failed",
      messages: ["Test results missing for Device.Connectivity.UsbDevices", "Filters not applied"],
      hasSignedPackage: false,
      hasDriverMetadata: false,
      errorReportText,
    };
    const result = await driveOrchestration({
      input: baseInput(),
      activities: scenario({ getSubmissionStatus: (_n, _i, _a, info) => (info.callNumber < 3 ? processing("scanning") : failedAtValidation) }),
    });

    expect(result.runtimeStatus).toBe("Failed");
    expect(result.error).toMatch(/stage waitingForMicrosoft: Microsoft's processing failed at step validation \(state failed\)/);
    expect(result.error).toContain("Test results missing for Device.Connectivity.UsbDevices | Filters not applied");
    expect(result.error).toContain("Error report: HLK results: 3 tests failed.");
    expect((result.error as string).length).toBeLessThan(1500); // the report is truncated in the exception
    expect(result.finalCustomStatus).toMatchObject({
      stage: "failed",
      currentStep: "validation",
      state: "failed",
      messages: failedAtValidation.messages,
      errorReportText: expect.stringMatching(/^HLK results: 3 tests failed\./),
    });
    const [manifest] = manifestsWritten(result);
    expect(manifest).toMatchObject({ outcome: "failed", currentStep: "validation", messages: failedAtValidation.messages });
    expect(manifest.errorReportText).toContain("HLK results");
  });

  test("resume with productId and submissionId of a committed submission: no create, copy or commit", async () => {
    const input = baseInput({ resume: { productId: PRODUCT_ID, submissionId: SUBMISSION_ID }, requestedBy: "http" });
    const result = await driveOrchestration({ input, activities: scenario({}, 3) });

    expect(result.runtimeStatus).toBe("Completed");
    expect(activityOrder(result)).toEqual([
      "authenticate",
      "getSubmissionStatus", // the resume check (processing)
      "getSubmissionStatus",
      "getSubmissionStatus",
      "downloadSignedPackage",
      "writeResultManifest",
    ]);
    expect(result.output).toMatchObject({ productId: PRODUCT_ID, submissionId: SUBMISSION_ID });
  });

  test("resume of a submission still in 'created': copies and commits, creates nothing", async () => {
    const created: NormalizedSubmissionStatus = { ...processing(), progress: "created", commitStatus: "commitPending", currentStep: null, state: null };
    const input = baseInput({ resume: { productId: PRODUCT_ID, submissionId: SUBMISSION_ID } });
    const result = await driveOrchestration({
      input,
      activities: scenario({ getSubmissionStatus: (_n, _i, _a, info) => (info.callNumber === 1 ? created : signed) }),
    });

    expect(result.runtimeStatus).toBe("Completed");
    expect(activityOrder(result)).toEqual([
      "authenticate",
      "getSubmissionStatus",
      "copyPackage",
      "commitSubmission",
      "getSubmissionStatus",
      "downloadSignedPackage",
      "writeResultManifest",
    ]);
  });

  test("resume of an already signed submission goes straight to download", async () => {
    const input = baseInput({ resume: { productId: PRODUCT_ID, submissionId: SUBMISSION_ID } });
    const result = await driveOrchestration({ input, activities: scenario({ getSubmissionStatus: () => signed }) });
    expect(activityOrder(result)).toEqual(["authenticate", "getSubmissionStatus", "downloadSignedPackage", "writeResultManifest"]);
    expect(result.timers).toHaveLength(0);
  });

  test("resume with only a productId creates the submission but not the product", async () => {
    const input = baseInput({ resume: { productId: PRODUCT_ID } });
    const result = await driveOrchestration({ input, activities: scenario({}, 1) });
    expect(result.callCounts.createProduct).toBeUndefined();
    expect(result.callCounts).toMatchObject({ createSubmission: 1, copyPackage: 1, commitSubmission: 1 });
    expect(result.activityCalls.find((call) => call.name === "createSubmission")?.input.productId).toBe(PRODUCT_ID);
  });

  test("a resume with verifyResume checks the claims first; its own ids go on as before", async () => {
    const input = baseInput({ resume: { productId: PRODUCT_ID, submissionId: SUBMISSION_ID }, verifyResume: true });
    const result = await driveOrchestration({
      input,
      activities: scenario({ checkResumeClaims: (_n, claimInput) => ({ ...claimInput, owner: "test-instance" }), getSubmissionStatus: () => signed }),
    });
    expect(result.runtimeStatus).toBe("Completed");
    expect(activityOrder(result)).toEqual(["checkResumeClaims", "authenticate", "getSubmissionStatus", "downloadSignedPackage", "writeResultManifest"]);
    expect(result.activityCalls[0].input).toEqual({ instanceId: "test-instance", productId: PRODUCT_ID, submissionId: SUBMISSION_ID });
  });

  test("a resume whose claims are not this package version's fails before anything reaches Microsoft or is copied", async () => {
    const reason = `submissionId: submission ${SUBMISSION_ID} was created for another package version (instance drv-other)`;
    const result = await driveOrchestration({
      input: baseInput({ resume: { productId: PRODUCT_ID, submissionId: SUBMISSION_ID }, verifyResume: true }),
      activities: scenario({
        checkResumeClaims: () => {
          throw toSafeActivityError(new TerminalActivityError(`resume refused: ${reason}`));
        },
      }),
    });
    expect(result.runtimeStatus).toBe("Failed");
    // Tried once (terminal), then only the failed manifest: no authenticate, status read, copy or commit.
    expect(activityOrder(result)).toEqual(["checkResumeClaims", "writeResultManifest"]);
    expect(result.error).toContain(`checkResumeClaims failed: resume refused: ${reason}`);
    expect(manifestsWritten(result)[0]).toMatchObject({ outcome: "failed", reason: expect.stringContaining(reason) });
  });

  test("a resume input without verifyResume (written before issue 21) replays without the check", async () => {
    const result = await driveOrchestration({ input: baseInput({ resume: { productId: PRODUCT_ID } }), activities: scenario({}, 1) });
    expect(result.callCounts.checkResumeClaims).toBeUndefined();
    expect(activityOrder(result)[0]).toBe("authenticate");
  });

  test("a long failure list stays within custom status limits; the manifest keeps every message", async () => {
    const manyMessages = Array.from({ length: 120 }, (_, i) => `check ${i} failed: ${"x".repeat(900)}`);
    const failing: NormalizedSubmissionStatus = { ...processing(), progress: "failed", currentStep: "validation", state: "failed", messages: manyMessages };
    const result = await driveOrchestration({ input: baseInput(), activities: scenario({ getSubmissionStatus: () => failing }) });
    expect(result.runtimeStatus).toBe("Failed");
    const finalStatus = result.finalCustomStatus as SubmissionCustomStatus;
    expect(finalStatus.messages).toHaveLength(21);
    expect(finalStatus.messages?.[20]).toBe("(100 more in the result manifest)");
    expect(JSON.stringify(finalStatus).length).toBeLessThan(16_000);
    const manifestCall = result.activityCalls.find((call) => call.name === "writeResultManifest");
    expect(manifestCall?.input.manifest.messages).toHaveLength(120);
  });

  test("whatever Microsoft sends, every custom status stays under the host's 16 KB cap; the manifest keeps the full text", async () => {
    const control = "\u0007".repeat(200); // six characters each once serialized
    const longStep = `step-${"s".repeat(20_000)}`;
    const hugeReport = `HLK report ${control}` + "r".repeat(1024 * 1024);
    const messages = Array.from({ length: 400 }, (_, i) => `check ${i} failed ${control}${"😀".repeat(400)}`);
    const processingLong: NormalizedSubmissionStatus = { ...processing(longStep), state: "s".repeat(10_000), messages };
    const failing: NormalizedSubmissionStatus = { ...processingLong, progress: "failed", errorReportText: hugeReport };
    const result = await driveOrchestration({
      input: baseInput(),
      activities: scenario({ getSubmissionStatus: (_n, _i, _a, info) => (info.callNumber < 3 ? processingLong : failing) }),
    });
    expect(result.runtimeStatus).toBe("Failed");
    // The extension's rule: floor(2 × JSON length / 1024) must not exceed 16 (KB of UTF-16).
    for (const status of result.customStatuses) {
      expect(JSON.stringify(status).length).toBeLessThanOrEqual(MAX_CUSTOM_STATUS_CHARS);
      expect(Math.floor((2 * JSON.stringify(status).length) / 1024)).toBeLessThanOrEqual(16);
    }
    expect(result.finalCustomStatus).toMatchObject({ stage: "failed", productId: PRODUCT_ID, submissionId: SUBMISSION_ID });
    const [manifest] = manifestsWritten(result);
    expect(manifest.messages).toHaveLength(400);
    expect(manifest.errorReportText).toBe(hugeReport);
    expect((result.error as string).length).toBeLessThan(5000);
  });

  test("round 2 after Microsoft failed the submission: new checkpoints, a derived submission on the same product", async () => {
    const input = baseInput({ round: 2, resume: { productId: PRODUCT_ID }, submissionType: "derived", requestedBy: "http" });
    const result = await driveOrchestration({
      input,
      activities: scenario({ createSubmission: () => ({ submissionId: `${SUBMISSION_ID.slice(0, -1)}9`, commitStatus: "commitPending", reused: false }) }, 1),
    });
    expect(result.runtimeStatus).toBe("Completed");
    expect(result.callCounts.createProduct).toBeUndefined();
    const createSubmission = result.activityCalls.find((call) => call.name === "createSubmission");
    // A checkpoint key of its own: the failed round's checkpoint (key "test-instance") is not found again.
    expect(createSubmission?.input).toEqual({ instanceId: "test-instance-r2", productId: PRODUCT_ID, name: "contoso-usb-2.3.1", type: "derived" });
    expect(result.callCounts).toMatchObject({ copyPackage: 1, commitSubmission: 1 });
    // Results still land under the instance id.
    expect(result.activityCalls.find((call) => call.name === "downloadSignedPackage")?.input.instanceId).toBe("test-instance");
  });

  test("round 2 of an attestation package creates its product under the round's checkpoint key too", async () => {
    const result = await driveOrchestration({ input: baseInput({ round: 2 }), activities: scenario({}, 1) });
    expect(result.activityCalls.find((call) => call.name === "createProduct")?.input.instanceId).toBe("test-instance-r2");
    expect(result.activityCalls.find((call) => call.name === "createSubmission")?.input.instanceId).toBe("test-instance-r2");
  });

  test("failure kinds in custom status: microsoft for a failed workflow, activity for exhausted retries, deadline", async () => {
    const microsoft = await driveOrchestration({
      input: baseInput(),
      activities: scenario({ getSubmissionStatus: () => ({ ...processing(), progress: "failed", state: "failed", currentStep: "validation" }) }),
    });
    const transient = await driveOrchestration({
      input: baseInput(),
      activities: scenario({
        copyPackage: () => {
          throw new Error("503 Service Unavailable");
        },
      }),
    });
    const deadline = await driveOrchestration({
      input: baseInput({ polling: { ...baseInput().polling, deadlineMinutes: 2 } }),
      activities: scenario({ getSubmissionStatus: () => processing() }),
    });
    expect([microsoft, transient, deadline].map((run) => run.finalCustomStatus.failureKind)).toEqual(["microsoft", "activity", "deadline"]);
  });

  test("a reused submission that is already committed is not copied or committed again", async () => {
    const result = await driveOrchestration({
      input: baseInput(),
      activities: scenario(
        { createSubmission: () => ({ submissionId: SUBMISSION_ID, commitStatus: "commitPending", reused: true }) },
        2,
      ),
    });
    expect(result.runtimeStatus).toBe("Completed");
    expect(result.callCounts.copyPackage).toBeUndefined();
    expect(result.callCounts.commitSubmission).toBeUndefined();
  });

  test("a reused submission still pending is uploaded and committed", async () => {
    const pending: NormalizedSubmissionStatus = { ...processing(), progress: "created", commitStatus: "commitPending", currentStep: null, state: null };
    const result = await driveOrchestration({
      input: baseInput(),
      activities: scenario({
        createSubmission: () => ({ submissionId: SUBMISSION_ID, commitStatus: "commitPending", reused: true }),
        getSubmissionStatus: (_name, _input, _attempt, info) => (info.callNumber === 1 ? pending : info.callNumber >= 3 ? signed : processing()),
      }),
    });
    expect(result.runtimeStatus).toBe("Completed");
    expect(result.callCounts).toMatchObject({ copyPackage: 1, commitSubmission: 1 });
  });

  test("no bearer token, client secret or SAS signature in history, custom status or output", async () => {
    const leakyFailureOnce: ActivityScript = (_name, _input, attempt) => {
      // A raw SDK-style failure carrying the SAS and the token, through the same redaction the
      // registered activity handlers apply before the host records the failure.
      if (attempt === 1) throw toSafeActivityError(new Error(`copy to ${SUBMISSION_SAS} timed out (Authorization: Bearer ${BEARER_TOKEN})`));
      return { bytesCopied: 4096, method: "serverSideCopy", verified: "length" };
    };
    const failing: NormalizedSubmissionStatus = {
      ...processing(),
      progress: "failed",
      currentStep: "validation",
      state: "failed",
      messages: ["validation failed"],
      errorReportText: "see report",
    };
    const runs = [
      await driveOrchestration({ input: baseInput(), activities: scenario({ copyPackage: leakyFailureOnce }) }),
      await driveOrchestration({ input: baseInput(), activities: scenario({ getSubmissionStatus: () => failing }) }),
      await driveOrchestration({
        input: baseInput({ polling: { ...baseInput().polling, pollsPerGeneration: 2 } }),
        activities: scenario({}, 5),
      }),
    ];
    for (const run of runs) {
      const everything = JSON.stringify({
        history: run.executions.map((execution) => execution.history),
        inputs: run.executions.map((execution) => execution.input),
        statuses: run.customStatuses,
        output: run.output,
        error: run.error,
      });
      expect(everything).not.toContain(BEARER_TOKEN);
      expect(everything).not.toContain(CLIENT_SECRET);
      expect(everything).not.toContain(SAS_SIGNATURE);
      expect(everything).not.toMatch(/sig=(?!REDACTED)/i);
      expect(everything).not.toMatch(/Bearer\s+(?!REDACTED)/);
    }
    expect(runs.map((run) => run.runtimeStatus)).toEqual(["Completed", "Failed", "Completed"]);
    expect(runs[2].executions.length).toBeGreaterThan(1);
  });
});
