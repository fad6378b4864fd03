/** fitCustomStatus: the published custom status stays under the host's 16 KB (UTF-16) cap whatever it is given. */
import fc from "fast-check";
import type { SubmissionCustomStatus } from "../../../src/domain/types";
import { fitCustomStatus, MAX_CUSTOM_STATUS_CHARS } from "../../../src/orchestrators/customStatus";

/** The extension's rule (failure-format.md §4): floor(2 × JSON length / 1024) KB must not exceed 16. */
const hostAccepts = (status: unknown) => Math.floor((2 * JSON.stringify(status).length) / 1024) <= 16;

const base: SubmissionCustomStatus = {
  stage: "failed",
  package: { container: "driver-drops", blobName: "contoso-usb-2.3.1.hlkx" },
  productId: "14461751976964156",
  submissionId: "1152921505699924012",
  updatedAt: "2025-01-01T00:00:00.000Z",
};

describe("fitCustomStatus", () => {
  test("a small status is published as it is", () => {
    const status = { ...base, messages: ["one", "two"], currentStep: "validation", error: "failed" };
    expect(fitCustomStatus(status)).toEqual(status);
  });

  test("hundreds of long messages, a 1 MB report, long step names and control characters fit with a margin", () => {
    const control = "\u0001".repeat(400); // six characters each once serialized
    const status: SubmissionCustomStatus = {
      ...base,
      messages: Array.from({ length: 600 }, (_, i) => `check ${i} failed ${control}${"😀".repeat(300)}`),
      errorReportText: `HLK report ${control}` + "x".repeat(1024 * 1024),
      currentStep: "s".repeat(20_000),
      state: "\u0002".repeat(5000),
      commitStatus: "c".repeat(5000),
      error: `waitingForMicrosoft: ${"\u0003".repeat(3000)}`,
      signedPackage: { container: "signed-drivers", blobName: "b".repeat(1024) },
      manifest: { container: "signed-drivers", blobName: "m".repeat(1024) },
    };
    const fitted = fitCustomStatus(status);
    expect(JSON.stringify(fitted).length).toBeLessThanOrEqual(MAX_CUSTOM_STATUS_CHARS);
    expect(hostAccepts(fitted)).toBe(true);
    // Still useful: the ids, the stage, the start of the error and a count of what was left out.
    expect(fitted).toMatchObject({ stage: "failed", productId: base.productId, submissionId: base.submissionId });
    expect(fitted.messages?.[fitted.messages.length - 1]).toMatch(/^\(\d+ more in the result manifest\)$/);
  });

  test("a label preview (issue 37) is bounded: a few hardware ids, OS codes and problems, each short; counts kept", () => {
    const long = "\u0001".repeat(2000);
    const status: SubmissionCustomStatus = {
      ...base,
      labelPreview: {
        basis: "packageInfs",
        name: `label ${long}`,
        destination: "windowsUpdate",
        hardwareIdCount: 5000,
        hardwareIds: Array.from({ length: 300 }, (_, i) => `contoso.inf | WINDOWS_v100_X64_RS5_FULL | usb\\vid_${i} ${long}`),
        operatingSystemCodes: Array.from({ length: 50 }, (_, i) => `WINDOWS_v100_X64_${i}_${long}`),
        chidCount: 700,
        problems: Array.from({ length: 40 }, (_, i) => `publish.audiences.${i}: ${long}`),
      },
    };
    const fitted = fitCustomStatus(status);
    expect(hostAccepts(fitted)).toBe(true);
    expect(fitted.labelPreview).toMatchObject({ basis: "packageInfs", hardwareIdCount: 5000, chidCount: 700 });
    expect(fitted.labelPreview!.hardwareIds.length).toBeLessThanOrEqual(5);
    expect(fitted.labelPreview!.problems.length).toBeLessThanOrEqual(5);
    expect(fitted.labelPreview!.operatingSystemCodes.length).toBeLessThanOrEqual(5);
  });

  test("any status at all stays under the limit (property)", () => {
    const text = fc.string({ unit: "binary", maxLength: 3000 });
    fc.assert(
      fc.property(
        fc.array(text, { maxLength: 300 }),
        fc.option(fc.string({ unit: "binary", maxLength: 200_000 })),
        fc.option(text),
        fc.option(text),
        fc.option(text),
        (messages, report, step, state, error) => {
          const fitted = fitCustomStatus({
            ...base,
            messages,
            errorReportText: report ?? undefined,
            currentStep: step,
            state,
            error: error ?? undefined,
          });
          return JSON.stringify(fitted).length <= MAX_CUSTOM_STATUS_CHARS && hostAccepts(fitted);
        },
      ),
      { numRuns: 150 },
    );
  });
});
