/**
 * Issue 29 in the orchestrator (real durable-functions replay engine, scripted activities): when
 * Microsoft fails a submission and offers a report, copyErrorReport runs before the "failed"
 * manifest, and the manifest, custom status and the history name the copied blob while carrying
 * only the excerpt; a copy that fails leaves the failure recorded as before.
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import type { SubmitDriverInput } from "../../../src/activities/contract";
import { TerminalActivityError, toSafeActivityError } from "../../../src/activities/errors";
import type { NormalizedSubmissionStatus, ResultManifest } from "../../../src/domain/types";
import { MAX_CUSTOM_STATUS_CHARS } from "../../../src/orchestrators/customStatus";
import "../../../src/orchestrators/submitDriver";
import { type ActivityScript, type DriveResult, driveOrchestration } from "../../support/replayDriver";

const PRODUCT_ID = "14461751976964156";
const SUBMISSION_ID = "1152921505699924012";
const REPORT_BLOB = { container: "signed-drivers", blobName: `drops/contoso.hlkx/drv-1/errorReport_${SUBMISSION_ID}.txt`, contentLength: 204_800 };

const input: SubmitDriverInput = {
  package: { container: "driver-drops", blobName: "drops/contoso.hlkx", etag: "0x1", contentLength: 4096 },
  product: { productName: "contoso", testHarness: "attestation", requestedSignatures: ["WINDOWS_v100_X64_RS5_FULL"] },
  submissionName: "contoso",
  submissionType: "initial",
  polling: { initialIntervalSeconds: 60, maxIntervalSeconds: 900, backoffFactor: 1.5, deadlineMinutes: 360, pollsPerGeneration: 20 },
  retry: { firstRetryIntervalSeconds: 5, maxAttempts: 2, backoffCoefficient: 2, maxRetryIntervalSeconds: 30 },
  requestedBy: "http",
};

const processing: NormalizedSubmissionStatus = {
  progress: "processing",
  commitStatus: "commitComplete",
  currentStep: "scanning",
  state: "started",
  messages: [],
  hasSignedPackage: false,
  hasDriverMetadata: false,
};
// As getSubmissionStatus now returns it: a 2,000-byte excerpt and the flag.
const excerpt = `HLK: DevFund test 42 failed\n${"e".repeat(1972)}\n[truncated]`;
const failed: NormalizedSubmissionStatus = {
  ...processing,
  progress: "failed",
  currentStep: "validation",
  state: "failed",
  messages: ["HLK validation failed"],
  errorReportText: excerpt,
  hasErrorReport: true,
};

function activities(copy: ActivityScript): ActivityScript {
  return (name, activityInput, attempt, info) => {
    switch (name) {
      case "authenticate":
        return { tenantId: "t", clientId: "c", credentialKind: "clientSecret", expiresOn: "2030-01-01T00:00:00Z", apiReachable: true };
      case "createProduct":
        return { productId: PRODUCT_ID, reused: false };
      case "createSubmission":
        return { submissionId: SUBMISSION_ID, commitStatus: "commitPending", reused: false };
      case "copyPackage":
        return { bytesCopied: 4096, method: "serverSideCopy", verified: "length" };
      case "commitSubmission":
        return { commitStatus: "commitReceived", alreadyCommitted: false };
      case "getSubmissionStatus":
        return info.callNumber >= 2 ? failed : processing;
      case "copyErrorReport":
        return copy(name, activityInput, attempt, info);
      case "writeResultManifest":
        return { container: "signed-drivers", blobName: `${activityInput.manifest.package.blobName}/drv-1/manifest.json` };
      default:
        throw new Error(`unexpected activity ${name}`);
    }
  };
}

const manifestOf = (result: DriveResult): ResultManifest => result.activityCalls.find((call) => call.name === "writeResultManifest")!.input.manifest;

describe("Microsoft's error report in submitDriver", () => {
  test("copied before the failed manifest; manifest and status name the blob and carry only the excerpt", async () => {
    const result = await driveOrchestration({ input, instanceId: "drv-1", activities: activities(() => ({ errorReport: REPORT_BLOB })) });

    expect(result.runtimeStatus).toBe("Failed");
    const names = result.activityCalls.map((call) => call.name);
    expect(names.slice(-3)).toEqual(["getSubmissionStatus", "copyErrorReport", "writeResultManifest"]);
    expect(result.activityCalls.find((call) => call.name === "copyErrorReport")!.input).toEqual({
      instanceId: "drv-1",
      productId: PRODUCT_ID,
      submissionId: SUBMISSION_ID,
      package: input.package,
    });
    const manifest = manifestOf(result);
    expect(manifest).toMatchObject({ outcome: "failed", errorReportBlob: REPORT_BLOB, errorReportText: excerpt });
    expect(result.finalCustomStatus).toMatchObject({ stage: "failed", failureKind: "microsoft", errorReportBlob: REPORT_BLOB });
    expect(result.finalCustomStatus.errorReportText.length).toBeLessThanOrEqual(excerpt.length);
    for (const status of result.customStatuses) expect(JSON.stringify(status).length).toBeLessThanOrEqual(MAX_CUSTOM_STATUS_CHARS);
    // The exception (the orchestration's output) keeps a short part of the excerpt.
    expect((result.error as string).length).toBeLessThan(1500);
  });

  test("a copy that fails (terminally) leaves the failure recorded: manifest and status with the excerpt, no blob", async () => {
    let attempts = 0;
    const result = await driveOrchestration({
      input,
      instanceId: "drv-1",
      activities: activities(() => {
        attempts += 1;
        throw toSafeActivityError(new TerminalActivityError("Hardware Dev Center handed out a error report URL on https://evil.example"));
      }),
    });

    expect(result.runtimeStatus).toBe("Failed");
    expect(attempts).toBe(1); // terminal: no retry
    expect(result.error).toContain("Microsoft's processing failed at step validation");
    const manifest = manifestOf(result);
    expect(manifest.errorReportBlob).toBeUndefined();
    expect(manifest.errorReportText).toBe(excerpt);
    expect(result.finalCustomStatus).toMatchObject({ stage: "failed", manifest: { blobName: "drops/contoso.hlkx/drv-1/manifest.json" } });
    expect(result.finalCustomStatus.errorReportBlob).toBeUndefined();
  });

  test("no report offered (hasErrorReport absent): no copy", async () => {
    const noReport = { ...failed, errorReportText: undefined, hasErrorReport: undefined };
    const base = activities(() => {
      throw new Error("copyErrorReport must not run");
    });
    const result = await driveOrchestration({
      input,
      instanceId: "drv-1",
      activities: (name, activityInput, attempt, info) =>
        name === "getSubmissionStatus" && info.callNumber >= 2 ? noReport : base(name, activityInput, attempt, info),
    });
    expect(result.runtimeStatus).toBe("Failed");
    expect(result.activityCalls.map((call) => call.name)).not.toContain("copyErrorReport");
  });
});
