/**
 * Issue 37: the preflight step in submitDriver, through the real durable-functions replay engine.
 * A refusal ends the run as a rejected drop before any Hardware Dev Center activity; warnings go on.
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import type { SubmitDriverInput } from "../../../src/activities/contract";
import type { NormalizedSubmissionStatus, PreflightFinding, PreflightInf } from "../../../src/domain/types";
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

function scenario(preflight: { verdict: string; findings: PreflightFinding[]; hardwareIds: string[]; infs?: PreflightInf[] }): ActivityScript {
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

  describe("label preview of a dry-run publish policy (issue 37)", () => {
    const usbInf: PreflightInf = { path: "usb/contoso.inf", architectures: ["amd64"], hardwareIds: ["usb\\vid_1234&pid_5678"], driverVersion: "1.0.0.0" };
    const clean = { verdict: "clean", findings: [], hardwareIds: ["usb\\vid_1234&pid_5678"], infs: [usbInf] };
    const dryRun = { policy: { destination: "anotherPartner" as const, receiverPublisherId: "12345", dryRun: true }, polling: { initialIntervalSeconds: 60, maxIntervalSeconds: 900, backoffFactor: 1.5, deadlineMinutes: 60 } };
    // Microsoft fails the commit (this replay driver runs no sub-orchestration, so the run never reaches
    // publishLabel); the preview must be in the status before authenticate and stay to the end.
    const failsAtCommit = (script: ActivityScript): ActivityScript => (name, activityInput, attempt, info) =>
      name === "getSubmissionStatus" ? { ...signed, progress: "failed", commitStatus: "commitFailed", currentStep: "preProcessing", state: "failed", hasSignedPackage: false, hasDriverMetadata: false } : script(name, activityInput, attempt, info);
    // The driver keeps the last status of each episode: the one published while authenticate runs.
    const statusBeforeAuthenticate = (result: DriveResult) => result.customStatuses.find((status) => (status as { stage?: string }).stage === "authenticating") as Record<string, unknown> | undefined;

    test("with the input field: computed right after preflight, before anything at Microsoft, and kept to the end", async () => {
      const result = await driveOrchestration({ input: input({ publish: dryRun as never, labelPreview: true }), activities: failsAtCommit(scenario(clean)) });
      const expected = {
        basis: "packageInfs",
        name: "contoso-usb-2.3.1 1.0.0.0",
        destination: "anotherPartner",
        hardwareIdCount: 1,
        hardwareIds: ["contoso.inf | WINDOWS_v100_X64_RS5_FULL | usb\\vid_1234&pid_5678"],
        operatingSystemCodes: ["WINDOWS_v100_X64_RS5_FULL"],
        chidCount: 0,
        problems: [],
      };
      expect(statusBeforeAuthenticate(result)?.labelPreview).toEqual(expected);
      expect(viewOf(result).labelPreview).toEqual(expected);
      // Pure code: the same activities, in the same order, as a run without the field.
      const without = await driveOrchestration({ input: input({ publish: dryRun as never }), activities: failsAtCommit(scenario(clean)) });
      expect(names(result)).toEqual(names(without));
      expect(viewOf(without).labelPreview).toBeUndefined();
      expect(statusBeforeAuthenticate(without)).toBeDefined();
      expect(statusBeforeAuthenticate(without)?.labelPreview).toBeUndefined();
    });

    test("carried through continueAsNew: a later generation still shows the preview", async () => {
      let polls = 0;
      const processing = { ...signed, progress: "processing", commitStatus: "commitComplete", currentStep: "preProcessing", state: "inProgress", hasSignedPackage: false, hasDriverMetadata: false };
      const script = scenario(clean);
      const result = await driveOrchestration({
        input: input({ publish: dryRun as never, labelPreview: true, polling: { ...input().polling, pollsPerGeneration: 1 } }),
        activities: (name, activityInput, attempt, info) =>
          name === "getSubmissionStatus" ? (++polls < 3 ? processing : { ...processing, progress: "failed", commitStatus: "commitFailed", state: "failed" }) : script(name, activityInput, attempt, info),
      });
      expect(result.executions.length).toBeGreaterThan(1);
      expect(viewOf(result).labelPreview).toMatchObject({ basis: "packageInfs", hardwareIdCount: 1 });
    });

    test("not for a policy without dryRun, nor for a refused package", async () => {
      const live = { ...dryRun, policy: { ...dryRun.policy, dryRun: false } };
      const notDry = await driveOrchestration({ input: input({ publish: live as never, labelPreview: true }), activities: failsAtCommit(scenario(clean)) });
      expect(notDry.customStatuses.some((status) => (status as { labelPreview?: unknown }).labelPreview !== undefined)).toBe(false);
      const refused = await driveOrchestration({ input: input({ publish: dryRun as never, labelPreview: true }), activities: scenario({ ...clean, verdict: "refused", findings: [rootFile] }) });
      expect(refused.customStatuses.some((status) => (status as { labelPreview?: unknown }).labelPreview !== undefined)).toBe(false);
    });
  });
});
