import { findDownloadUrl, normalizeSubmissionStatus } from "../../../src/hdc/normalizeStatus";
import { parseHdcJson } from "../../../src/hdc/losslessJson";
import type { HdcSubmission } from "../../../src/hdc/types";

const ids = { id: "1152921504621465124", productId: "14631253285588838" };
const signed = { type: "signedPackage", url: "https://x.blob.core.windows.net/s?sp=rl&sig=abc" };
const initial = { type: "initialPackage", url: "https://x.blob.core.windows.net/i?sp=rl&sig=def" };

function submission(fields: Partial<HdcSubmission>): HdcSubmission {
  return { ...ids, ...fields };
}

describe("normalizeSubmissionStatus (reference a.12)", () => {
  it.each<[string, Partial<HdcSubmission>, string]>([
    ["signedPackage present while an intermediate step runs", { commitStatus: "commitComplete", workflowStatus: { currentStep: "catalogCreation", state: "started" }, downloads: { items: [initial, signed] } }, "succeeded"],
    ["finalizeIngestion + completed without the package yet", { commitStatus: "commitComplete", workflowStatus: { currentStep: "finalizeIngestion", state: "completed" } }, "succeeded"],
    ["PascalCase finalizeIngestion + Completed", { commitStatus: "CommitComplete", workflowStatus: { currentStep: "FinalizeIngestion", state: "Completed" } }, "succeeded"],
    ["preparation + completed (per step, not final)", { commitStatus: "commitComplete", workflowStatus: { currentStep: "preparation", state: "completed" } }, "processing"],
    ["commitFailed", { commitStatus: "commitFailed" }, "failed"],
    ["CommitFailed (PascalCase) even with a signed package", { commitStatus: "CommitFailed", downloads: { items: [signed] } }, "failed"],
    ["state failed", { commitStatus: "commitComplete", workflowStatus: { currentStep: "packageInfoValidation", state: "failed", messages: ["SignatureValidationFailed"] } }, "failed"],
    ["commitPending and no workflowStatus", { commitStatus: "commitPending" }, "created"],
    ["CommitPending and workflowStatus null", { commitStatus: "CommitPending", workflowStatus: null }, "created"],
    ["commitPending and state NotStarted", { commitStatus: "commitPending", workflowStatus: { currentStep: "packageInfoValidation", state: "NotStarted" } }, "created"],
    ["commitReceived and no workflowStatus yet", { commitStatus: "CommitReceived" }, "processing"],
    ["commitComplete with a numeric step", { commitStatus: "commitComplete", workflowStatus: { currentStep: 5 as unknown as string, state: "started" } }, "processing"],
  ])("%s → %s", (_name, fields, expected) => {
    expect(normalizeSubmissionStatus(submission(fields)).progress).toBe(expected);
  });

  it("reports step, state, messages and download flags without any URL", () => {
    const status = normalizeSubmissionStatus(
      submission({
        commitStatus: "commitComplete",
        workflowStatus: { currentStep: "finalizeIngestion", state: "completed", messages: ["done"], errorReport: "https://r?sig=zzz" },
        downloads: { items: [signed, { type: "DriverMetadata", url: "https://m?sig=yyy" }], messages: ["metadata ready"] },
      }),
    );
    expect(status).toEqual({
      progress: "succeeded",
      commitStatus: "commitComplete",
      currentStep: "finalizeIngestion",
      state: "completed",
      messages: ["done", "metadata ready"],
      hasSignedPackage: true,
      hasDriverMetadata: true,
    });
    expect(JSON.stringify(status)).not.toMatch(/https?:|sig=/);
  });

  it("normalises a numeric currentStep parsed from the wire to a string", () => {
    const wire = parseHdcJson(
      '{"id":1152921504621465124,"productId":14631253285588838,"commitStatus":"CommitComplete","workflowStatus":{"currentStep":4,"state":"Started","messages":null}}',
    ) as HdcSubmission;
    const status = normalizeSubmissionStatus(wire);
    expect(status).toMatchObject({ progress: "processing", currentStep: "4", state: "Started", messages: [], hasSignedPackage: false });
  });

  it("gives nulls for a submission that carries no status fields", () => {
    expect(normalizeSubmissionStatus(submission({}))).toEqual({
      progress: "processing",
      commitStatus: null,
      currentStep: null,
      state: null,
      messages: [],
      hasSignedPackage: false,
      hasDriverMetadata: false,
    });
  });
});

describe("findDownloadUrl", () => {
  it("matches the type case-insensitively", () => {
    const sub = submission({ downloads: { items: [initial, signed] } });
    expect(findDownloadUrl(sub, "SIGNEDPACKAGE")).toBe(signed.url);
    expect(findDownloadUrl(sub, "initialpackage")).toBe(initial.url);
  });

  it("returns undefined when the item or the downloads are missing", () => {
    expect(findDownloadUrl(submission({ downloads: { items: [initial] } }), "signedPackage")).toBeUndefined();
    expect(findDownloadUrl(submission({ downloads: null }), "signedPackage")).toBeUndefined();
  });
});
