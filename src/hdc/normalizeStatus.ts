/**
 * Reduces a submission to the small, URL-free status the orchestrator decides on, following
 * reference/hdc-api.md a.12. Enums arrive in either casing and currentStep may be a number, so
 * every comparison is case-insensitive on the string form.
 */
import type { NormalizedSubmissionStatus } from "../domain/types";
import { redactSecrets } from "../domain/redact";
import type { HdcSubmission } from "./types";

export type SubmissionProgress = Omit<NormalizedSubmissionStatus, "errorReportText">;

export function normalizeSubmissionStatus(sub: HdcSubmission): SubmissionProgress {
  const commitStatus = textOf(sub.commitStatus);
  const workflow = sub.workflowStatus ?? undefined;
  const currentStep = textOf(workflow?.currentStep);
  const state = textOf(workflow?.state);
  const hasSignedPackage = hasDownload(sub, "signedPackage");

  const failed = matches(commitStatus, "commitFailed") || matches(state, "failed");
  const succeeded =
    !failed && (hasSignedPackage || (matches(currentStep, "finalizeIngestion") && matches(state, "completed")));
  // A workflowStatus without a state tells as little as a missing one.
  const created = matches(commitStatus, "commitPending") && (state === null || matches(state, "notStarted"));

  return {
    progress: failed ? "failed" : succeeded ? "succeeded" : created ? "created" : "processing",
    commitStatus,
    currentStep,
    state,
    messages: [...messageTexts(workflow?.messages), ...messageTexts(sub.downloads?.messages)],
    hasSignedPackage,
    hasDriverMetadata: hasDownload(sub, "driverMetadata"),
  };
}

/** URL of the first download item of this type (case-insensitive). The URL is a SAS: keep it local. */
export function findDownloadUrl(sub: HdcSubmission, type: string): string | undefined {
  const wanted = type.toLowerCase();
  const item = (sub.downloads?.items ?? []).find(
    (candidate) => typeof candidate?.type === "string" && candidate.type.toLowerCase() === wanted && typeof candidate.url === "string",
  );
  return item?.url;
}

function hasDownload(sub: HdcSubmission, type: string): boolean {
  return findDownloadUrl(sub, type) !== undefined;
}

function matches(value: string | null, expected: string): boolean {
  return value !== null && value.toLowerCase() === expected.toLowerCase();
}

/** Strings stay, numbers (a numeric currentStep) become strings, anything else is absent. */
function textOf(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  return null;
}

/** Microsoft's messages as redacted strings (non-strings serialised), for any workflowStatus. */
export function messageTexts(messages: unknown): string[] {
  if (!Array.isArray(messages)) return [];
  return messages
    .map((message) => (typeof message === "string" ? message : message == null ? "" : JSON.stringify(message)))
    .filter((message) => message !== "")
    .map(redactSecrets);
}
