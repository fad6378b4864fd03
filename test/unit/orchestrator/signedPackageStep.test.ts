/**
 * Issue 36: the verifySignedPackage step in submitDriver, through the real durable-functions replay
 * engine. A verified package succeeds with the verification in the manifest, output and status; a
 * failed one fails the run with the reason (manifest and status say which file and which check);
 * without the input field (every history before issue 36) no step runs.
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import type { SubmitDriverInput } from "../../../src/activities/contract";
import type { NormalizedSubmissionStatus, SignedPackageVerification } from "../../../src/domain/types";
import "../../../src/orchestrators/submitDriver";
import { toSubmissionView } from "../../../src/domain/submissionView";
import { fitCustomStatus, MAX_CUSTOM_STATUS_CHARS } from "../../../src/orchestrators/customStatus";
import { type ActivityScript, type DriveResult, driveOrchestration } from "../../support/replayDriver";

const input = (overrides: Partial<SubmitDriverInput> = {}): SubmitDriverInput => ({
  package: { container: "driver-drops", blobName: "contoso-usb-2.3.1.cab", etag: "0x8DC0FFEE", contentLength: 4096 },
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
  verifyResume: true,
  verifySignedPackage: true,
  ...overrides,
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
const signedPackage = { container: "signed-drivers", blobName: "contoso-usb-2.3.1.cab/test-instance/Signed_2.zip", contentLength: 5 };
const catalog = { path: "usb/contoso.cat", signer: "CN=Windows Hardware Compatibility Publisher", signerThumbprintSha256: "AA", root: "CN=Microsoft Root Certificate Authority 2010", rootThumbprintSha256: "DF54", members: 2 };
const verified: SignedPackageVerification = {
  verdict: "verified",
  catalogCount: 1,
  infCount: 1,
  catalogs: [catalog],
  infs: [{ path: "usb/contoso.inf", submittedPath: "usb/contoso.inf", sha256: "ab".repeat(32) }],
  failures: [],
};
const infChanged: SignedPackageVerification = {
  ...verified,
  verdict: "failed",
  reason: "infIdentical: usb/contoso.inf: the INF differs from the submitted usb/contoso.inf",
  infs: [],
  failures: [{ file: "usb/contoso.inf", check: "infIdentical", reason: "the INF differs from the submitted usb/contoso.inf" }],
};

function scenario(verification: SignedPackageVerification): ActivityScript {
  return (name, activityInput) => {
    switch (name) {
      case "authenticate":
        return { tenantId: "t", clientId: "c", credentialKind: "clientSecret", expiresOn: "2030-01-01T00:00:00Z", apiReachable: true };
      case "createProduct":
        return { productId: "1", reused: false };
      case "createSubmission":
        return { submissionId: "2", commitStatus: "commitPending", reused: false };
      case "copyPackage":
        return { bytesCopied: 4096, method: "serverSideCopy", verified: "length" };
      case "commitSubmission":
        return { commitStatus: "commitReceived", alreadyCommitted: false };
      case "getSubmissionStatus":
        return signed;
      case "downloadSignedPackage":
        return { signedPackage };
      case "verifySignedPackage":
        return verification;
      case "writeResultManifest":
        return { container: "signed-drivers", blobName: `contoso/${activityInput.manifest.outcome}.manifest.json` };
      default:
        throw new Error(`unexpected activity ${name}`);
    }
  };
}

const names = (result: DriveResult) => result.activityCalls.map((call) => call.name);
const call = (result: DriveResult, name: string) => result.activityCalls.find((c) => c.name === name)!;
const viewOf = (result: DriveResult) =>
  toSubmissionView({ instanceId: "test-instance", runtimeStatus: result.runtimeStatus, customStatus: result.customStatuses[result.customStatuses.length - 1], output: result.output } as never);

describe("submitDriver signed-package step (issue 36)", () => {
  test("verified: the step runs after the download with the run's package and the stored signed package; manifest, output and status say what was verified", async () => {
    const result = await driveOrchestration({ input: input(), activities: scenario(verified) });
    expect(result.runtimeStatus).toBe("Completed");
    expect(names(result).slice(-3)).toEqual(["downloadSignedPackage", "verifySignedPackage", "writeResultManifest"]);
    expect(call(result, "verifySignedPackage").input).toEqual({ instanceId: expect.any(String), package: input().package, signedPackage });
    expect(call(result, "writeResultManifest").input.manifest).toMatchObject({ outcome: "succeeded", signedPackageVerification: verified });
    expect(result.output).toMatchObject({ outcome: "succeeded", signedPackageVerification: verified });
    const view = viewOf(result);
    expect(view.stage).toBe("succeeded");
    expect(view.signedPackageVerification).toEqual(verified);
  });

  test("failed: the run fails at downloadingSignedPackage with the reason; the failed manifest and status name the file and the check", async () => {
    const result = await driveOrchestration({ input: input(), activities: scenario(infChanged) });
    expect(result.runtimeStatus).toBe("Failed");
    expect(names(result).slice(-3)).toEqual(["downloadSignedPackage", "verifySignedPackage", "writeResultManifest"]);
    const manifest = call(result, "writeResultManifest").input.manifest;
    expect(manifest).toMatchObject({ outcome: "failed", signedPackage, signedPackageVerification: infChanged });
    expect(manifest.reason).toBe(`downloadingSignedPackage: the signed package Microsoft returned failed verification: ${infChanged.reason}`);
    const view = viewOf(result);
    expect(view.stage).toBe("failed");
    expect(view.error).toContain("infIdentical: usb/contoso.inf");
    expect(view.signedPackageVerification?.failures).toEqual(infChanged.failures);
    expect(view.failureKind).toBe("microsoft");
  });

  test("without the input field (VERIFY_SIGNED_PACKAGE=off, and every history before issue 36) the manifest follows the download", async () => {
    const result = await driveOrchestration({ input: input({ verifySignedPackage: undefined }), activities: scenario(infChanged) });
    expect(result.runtimeStatus).toBe("Completed");
    expect(names(result)).not.toContain("verifySignedPackage");
    expect(names(result).slice(-2)).toEqual(["downloadSignedPackage", "writeResultManifest"]);
    expect(call(result, "writeResultManifest").input.manifest.signedPackageVerification).toBeUndefined();
  });
});

describe("the signedPackageVerification block in custom status", () => {
  test("a verification with 50 long entries per list fits the status bound, keeping verdict, reason and counts", () => {
    const long = (n: number) => `${"x".repeat(400)}-${n}`;
    const big: SignedPackageVerification = {
      verdict: "failed",
      reason: long(0),
      catalogCount: 50,
      infCount: 50,
      catalogs: Array.from({ length: 50 }, (_, n) => ({ ...catalog, path: long(n), signer: long(n), root: long(n) })),
      infs: Array.from({ length: 50 }, (_, n) => ({ path: long(n), submittedPath: long(n), sha256: "ab".repeat(32) })),
      failures: Array.from({ length: 50 }, (_, n) => ({ file: long(n), check: "infIdentical" as const, reason: long(n) })),
    };
    const fitted = fitCustomStatus({ stage: "failed", package: input().package, signedPackageVerification: big, updatedAt: "2026-01-01T00:00:00Z" });
    expect(JSON.stringify(fitted).length).toBeLessThanOrEqual(MAX_CUSTOM_STATUS_CHARS);
    expect(fitted.signedPackageVerification).toMatchObject({ verdict: "failed", catalogCount: 50, infCount: 50 });
    expect(fitted.signedPackageVerification?.reason).toMatch(/^x+/);
  });
});
