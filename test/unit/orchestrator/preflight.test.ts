/**
 * Issue 37: the preflight step in submitDriver, through the real durable-functions replay engine.
 * A refusal ends the run as a rejected drop before any Hardware Dev Center activity; warnings go on.
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import type { SubmitDriverInput } from "../../../src/activities/contract";
import type { NormalizedSubmissionStatus, PreflightFinding } from "../../../src/domain/types";
import "../../../src/orchestrators/submitDriver";
import { toSubmissionView } from "../../../src/domain/submissionView";
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
  preflight: true,
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
const rootFile: PreflightFinding = { code: "PKG001", severity: "error", message: "contoso.inf is at the root of the cabinet", file: "contoso.inf", line: null };
const noCatalog: PreflightFinding = { code: "PKG006", severity: "warning", message: "usb/contoso.inf names no CatalogFile", file: "usb/contoso.inf", line: 3 };

function scenario(preflight: { verdict: string; findings: PreflightFinding[]; hardwareIds: string[] }): ActivityScript {
  return (name, activityInput) => {
    switch (name) {
      case "preflightPackage":
        return { ...preflight, bytesRead: 1234 };
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
        return { signedPackage: { container: "signed-drivers", blobName: "x/signed.zip", contentLength: 5 } };
      case "writeResultManifest":
        return { container: "signed-drivers", blobName: `contoso/${activityInput.manifest.outcome}.manifest.json` };
      default:
        throw new Error(`unexpected activity ${name}`);
    }
  };
}

const names = (result: DriveResult) => result.activityCalls.map((call) => call.name);
const viewOf = (result: DriveResult) =>
  toSubmissionView({ instanceId: "test-instance", runtimeStatus: result.runtimeStatus, customStatus: result.customStatuses[result.customStatuses.length - 1], output: result.output } as never);

describe("submitDriver preflight step (issue 37)", () => {
  test("an error finding rejects the drop: no Microsoft call, rejected manifest and status with every finding", async () => {
    const result = await driveOrchestration({ input: input(), activities: scenario({ verdict: "refused", findings: [rootFile, noCatalog], hardwareIds: ["USB\\VID_1234&PID_5678"] }) });

    expect(result.runtimeStatus).toBe("Completed");
    expect(names(result)).toEqual(["preflightPackage", "writeResultManifest"]);
    expect(result.activityCalls[0].input).toEqual({ package: input().package });
    const manifest = result.activityCalls[1].input.manifest;
    expect(manifest).toMatchObject({ outcome: "rejected", preflight: { verdict: "refused", findings: [rootFile, noCatalog] } });
    expect(manifest.reason).toContain("PKG001");
    const view = viewOf(result);
    expect(view.stage).toBe("rejected");
    expect(view.outcome).toBe("rejected");
    expect(view.progress).toBe("failed");
    expect(view.reason).toMatch(/nothing was created at Microsoft/);
    expect(view.messages).toEqual([expect.stringContaining("PKG001 error"), expect.stringContaining("PKG006 warning")]);
    expect(view.preflight?.hardwareIds).toEqual(["USB\\VID_1234&PID_5678"]);
    expect(view.manifest).toEqual({ container: "signed-drivers", blobName: "contoso/rejected.manifest.json" });
    expect(result.output).toMatchObject({ outcome: "rejected", findings: [rootFile, noCatalog] });
  });

  test("warnings only: the run goes on and signs, the warnings and hardware ids stay in the status", async () => {
    const result = await driveOrchestration({ input: input(), activities: scenario({ verdict: "warnings", findings: [noCatalog], hardwareIds: ["PCI\\VEN_8086&DEV_1234"] }) });

    expect(result.runtimeStatus).toBe("Completed");
    expect(names(result).slice(0, 2)).toEqual(["preflightPackage", "authenticate"]);
    expect(names(result)).toContain("downloadSignedPackage");
    const view = viewOf(result);
    expect(view.stage).toBe("succeeded");
    expect(view.preflight).toEqual({ verdict: "warnings", findings: [noCatalog], hardwareIds: ["PCI\\VEN_8086&DEV_1234"] });
  });

  test("without the input field (PREFLIGHT=off, and every history before issue 37) authenticate comes first", async () => {
    const result = await driveOrchestration({ input: input({ preflight: undefined }), activities: scenario({ verdict: "refused", findings: [rootFile], hardwareIds: [] }) });
    expect(names(result)[0]).toBe("authenticate");
    expect(names(result)).not.toContain("preflightPackage");
  });
});
