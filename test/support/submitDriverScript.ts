/**
 * A submitDriver run for the replay driver: an input and the activities of a run that signs, with
 * the poll answers left to each test (they are what the test is about).
 */
import type { SubmitDriverInput } from "../../src/activities/contract";
import type { NormalizedSubmissionStatus } from "../../src/domain/types";
import type { ActivityScript } from "./replayDriver";

export function submitDriverInput(overrides: Partial<SubmitDriverInput> = {}): SubmitDriverInput {
  return {
    package: { container: "driver-drops", blobName: "contoso.hlkx", etag: "0x1", contentLength: 10 },
    product: { productName: "contoso", testHarness: "hlk", requestedSignatures: ["WINDOWS_v100_X64_RS5_FULL"] },
    submissionName: "contoso",
    submissionType: "initial",
    polling: { initialIntervalSeconds: 60, maxIntervalSeconds: 300, backoffFactor: 1.5, deadlineMinutes: 360, pollsPerGeneration: 3 },
    retry: { firstRetryIntervalSeconds: 5, maxAttempts: 3, backoffCoefficient: 2, maxRetryIntervalSeconds: 300 },
    requestedBy: "http",
    ...overrides,
  };
}

/**
 * Every activity of a signing run answers success; `poll(n)` answers the n-th getSubmissionStatus;
 * `others` answers any further activity (e.g. queueNotification) or throws for an unexpected one.
 */
export function signingRun(poll: (callNumber: number) => NormalizedSubmissionStatus, others?: ActivityScript): ActivityScript {
  return (name, activityInput, attempt, info) => {
    switch (name) {
      case "authenticate":
        return { tenantId: "t", clientId: "c", credentialKind: "clientSecret", expiresOn: "2030-01-01T00:00:00Z", apiReachable: true };
      case "createProduct":
        return { productId: "14461751976964156", reused: false };
      case "createSubmission":
        return { submissionId: "1152921505699924012", commitStatus: "commitPending", reused: false };
      case "copyPackage":
        return { bytesCopied: 10, method: "serverSideCopy", verified: "length" };
      case "commitSubmission":
        return { commitStatus: "commitReceived", alreadyCommitted: false };
      case "getSubmissionStatus":
        return poll(info.callNumber);
      case "downloadSignedPackage":
        return { signedPackage: { container: "signed-drivers", blobName: `${activityInput.package.blobName}/signed.zip`, contentLength: 5 } };
      case "writeResultManifest":
        return { container: "signed-drivers", blobName: "contoso/manifest.json" };
      default:
        if (others) return others(name, activityInput, attempt, info);
        throw new Error(`unexpected activity ${name}`);
    }
  };
}
