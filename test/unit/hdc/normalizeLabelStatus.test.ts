/** Shipping-label status → our phase (shipping-labels.md section 3). */
import { normalizeLabelStatus } from "../../../src/hdc/normalizeLabelStatus";

const phase = (currentStep: unknown, state: unknown, options?: Parameters<typeof normalizeLabelStatus>[1]) =>
  normalizeLabelStatus({ currentStep, state }, options).phase;

describe("normalizeLabelStatus", () => {
  it("walks the Windows Update steps, whatever the casing", () => {
    expect(phase("created", "notStarted")).toBe("creating");
    expect(phase("preProcessShippingLabel", "notStarted")).toBe("validating");
    expect(phase("PreProcessShippingLabel", "Started")).toBe("validating");
    expect(phase("FINALIZEPREPROCESSING", "completed")).toBe("validating");
    expect(phase("publishJobValidation", "started")).toBe("validating");
    expect(phase("UpdateGeneration", "completed")).toBe("validating");
    expect(phase("MicrosoftApproval", "Started")).toBe("awaitingMicrosoftApproval");
    expect(phase("microsoftApproval", "completed")).toBe("awaitingMicrosoftApproval");
    expect(phase("Publishing", "started")).toBe("publishing");
    expect(phase("finalizePublishing", "started")).toBe("publishing");
    expect(phase("FinalizePublishing", "Completed")).toBe("published");
  });

  it("takes state published (nefarius) as published at any step", () => {
    expect(phase("microsoftApproval", "published")).toBe("published");
    expect(phase("publishing", "Published")).toBe("published");
  });

  it("walks the sharing steps to shared", () => {
    expect(phase("processSharing", "started")).toBe("publishing");
    expect(phase("finalizeSharing", "started")).toBe("publishing");
    expect(phase("FinalizeSharing", "completed")).toBe("shared");
  });

  it("tells cancelled from failed only when we sent the cancel", () => {
    expect(phase("microsoftApproval", "failed")).toBe("failed");
    expect(phase("microsoftApproval", "Failed", { cancelRequested: true })).toBe("cancelled");
    expect(phase("publishJobValidation", "failed", { cancelRequested: false })).toBe("failed");
  });

  it("tolerates the undocumented gradual rollout and keeps it cancellable", () => {
    const named = normalizeLabelStatus({ currentStep: "GradualRollout", state: "started" });
    expect(named).toMatchObject({ phase: "publishing", cancellable: true, terminal: false });
    const unknownAfterApproval = normalizeLabelStatus({ currentStep: "flighting", state: "started" }, { previousPhase: "awaitingMicrosoftApproval" });
    expect(unknownAfterApproval).toMatchObject({ phase: "publishing", cancellable: true });
    // The same unknown step before approval is not taken for a rollout.
    expect(normalizeLabelStatus({ currentStep: "flighting", state: "started" }, { previousPhase: "validating" })).toMatchObject({ phase: "validating", cancellable: false });
    expect(normalizeLabelStatus({ currentStep: "publishing", state: "started" })).toMatchObject({ cancellable: false });
    expect(normalizeLabelStatus({ currentStep: "microsoftApproval", state: "started" })).toMatchObject({ cancellable: true });
  });

  it("handles numeric steps, missing status, terminal flags, messages and error reports without URLs", () => {
    expect(normalizeLabelStatus(undefined)).toMatchObject({ phase: "creating", currentStep: null, state: null, terminal: false });
    expect(normalizeLabelStatus({ currentStep: 3, state: "started" })).toMatchObject({ phase: "validating", currentStep: "3" });
    const failed = normalizeLabelStatus({
      currentStep: "publishJobValidation",
      state: "failed",
      messages: ["Ingestion incomplete", "see https://x.blob.core.windows.net/r?sv=1&sig=SECRET"],
      errorReport: "https://x.blob.core.windows.net/r/report.txt?sv=1&sig=SECRET",
    });
    expect(failed).toMatchObject({ phase: "failed", terminal: true, cancellable: false, hasErrorReport: true });
    expect(JSON.stringify(failed)).not.toContain("SECRET");
    expect(failed.messages[0]).toBe("Ingestion incomplete");
    for (const done of ["published", "shared", "cancelled", "failed"] as const) {
      const status = done === "shared" ? { currentStep: "finalizeSharing", state: "completed" } : done === "published" ? { state: "published" } : { state: "failed" };
      expect(normalizeLabelStatus(status, { cancelRequested: done === "cancelled" })).toMatchObject({ phase: done, terminal: true });
    }
  });
});
