/**
 * The orchestration's public face: the custom status set at every stage and the summary it returns.
 * Both are read by GET /api/submissions/{id}, so they hold only non-secret facts.
 */
import type * as df from "durable-functions";
import type {
  BlobLocation,
  LabelReport,
  PackageRef,
  LabelPreview,
  PreflightResult,
  SignedPackageVerification,
  Stage,
  StageTransition,
  StepTransition,
  SubmissionCustomStatus,
} from "../domain/types";

/** Microsoft's error report can be long; status and exception messages keep a bounded prefix. */
export const MAX_ERROR_REPORT_IN_STATUS = 4000;
export const MAX_ERROR_REPORT_IN_MESSAGE = 500;

export type StatusFacts = Omit<SubmissionCustomStatus, "stage" | "package" | "updatedAt" | "stageHistory" | "stepHistory">;

/** Stage changes kept in custom status: the first (when it started) and the latest ones. */
export const MAX_STAGE_HISTORY = 24;
/** Microsoft step/state changes kept in custom status (the documented workflow has 6 steps × a few states). */
export const MAX_STEP_HISTORY = 24;

/**
 * Custom status is capped by the host: the extension refuses a status whose JSON, counted in UTF-16
 * code units × 2 bytes, exceeds 16 KB (floor(2 × length / 1024) > 16 fails the instance; reference
 * azure-deployment.md §6). JS string length already counts UTF-16 code units, so the measure is
 * JSON.stringify(status).length; we keep it under MAX_CUSTOM_STATUS_CHARS (about 11.7 KB, a third
 * below the cap) whatever Microsoft sends. The result manifest keeps every message and the report.
 */
export const MAX_CUSTOM_STATUS_CHARS = 6000;
export const MAX_MESSAGES_IN_STATUS = 20;
export const MAX_MESSAGE_LENGTH_IN_STATUS = 500;
/** Step, state and commit status are short words from Microsoft; anything longer is cut. */
export const MAX_WORD_LENGTH_IN_STATUS = 200;
export const MAX_ERROR_IN_STATUS = 2000;

const moreMessagesNote = (count: number) => `(${count} more in the result manifest)`;
const MORE_MESSAGES_NOTE = /^\((\d+) more in the result manifest\)$/;

/** At most MAX_MESSAGES_IN_STATUS messages, each shortened, plus a count of the rest. Idempotent. */
export function boundedMessages(messages: string[]): string[] {
  const last = messages[messages.length - 1];
  const noted = last !== undefined ? MORE_MESSAGES_NOTE.exec(last) : null;
  const real = noted ? messages.slice(0, -1) : messages;
  const kept = real.slice(0, MAX_MESSAGES_IN_STATUS).map((message) => truncate(message, MAX_MESSAGE_LENGTH_IN_STATUS));
  const dropped = real.length - kept.length + (noted ? Number(noted[1]) : 0);
  return dropped > 0 ? [...kept, moreMessagesNote(dropped)] : kept;
}

export function truncate(text: string, maxLength: number): string {
  return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
}

export const serializedLength = (value: unknown): number => JSON.stringify(value).length;

const truncateWord = (value: string | null | undefined) => (typeof value === "string" ? truncate(value, MAX_WORD_LENGTH_IN_STATUS) : value);
const shortBlob = <T extends { blobName: string }>(location: T | undefined, max: number): T | undefined =>
  location ? { ...location, blobName: truncate(location.blobName, max) } : undefined;

/** Drops the last kept message (or the note) and counts it in the "(n more …)" note. */
function dropOneMessage(messages: string[]): string[] {
  const last = messages[messages.length - 1];
  const noted = last !== undefined ? MORE_MESSAGES_NOTE.exec(last) : null;
  const kept = noted ? messages.slice(0, -1) : messages;
  if (kept.length === 0) return [];
  const alreadyDropped = noted ? Number(noted[1]) : 0;
  return [...kept.slice(0, -1), moreMessagesNote(alreadyDropped + 1)];
}

/** Bounds of the `label` block of custom status (the manifest keeps everything). */
export const MAX_LABEL_MESSAGES_IN_STATUS = 5;
export const MAX_LABEL_TEXT_IN_STATUS = 300;
export const MAX_LABEL_REPORT_IN_STATUS = 1000;

const boundedList = (values: string[] | undefined, count: number): string[] | undefined => {
  if (values === undefined) return undefined;
  const kept = values.slice(0, count).map((value) => truncate(value, MAX_LABEL_TEXT_IN_STATUS));
  return values.length > count ? [...kept, moreMessagesNote(values.length - count)] : kept;
};

/** The label block as custom status shows it: few, short messages and problems; a report excerpt. */
export function fitLabelReport(report: LabelReport): LabelReport {
  const fitted: LabelReport = {
    ...report,
    name: report.name !== undefined ? truncate(report.name, MAX_LABEL_TEXT_IN_STATUS) : undefined,
    currentStep: truncateWord(report.currentStep),
    state: truncateWord(report.state),
    messages: boundedList(report.messages, MAX_LABEL_MESSAGES_IN_STATUS),
    problems: boundedList(report.problems, MAX_LABEL_MESSAGES_IN_STATUS),
    hardwareIdSample: boundedList(report.hardwareIdSample, MAX_LABEL_MESSAGES_IN_STATUS),
    audiences: boundedList(report.audiences, MAX_LABEL_MESSAGES_IN_STATUS),
    errorReportText: report.errorReportText !== undefined ? truncate(report.errorReportText, MAX_LABEL_REPORT_IN_STATUS) : undefined,
    error: report.error !== undefined ? truncate(report.error, MAX_LABEL_REPORT_IN_STATUS) : undefined,
  };
  for (const key of Object.keys(fitted) as Array<keyof LabelReport>) if (fitted[key] === undefined) delete fitted[key];
  return fitted;
}

/** Bounds of the `preflight` block of custom status (the manifest keeps every finding). */
export const MAX_FINDINGS_IN_STATUS = 10;
export const MAX_FINDING_TEXT_IN_STATUS = 300;
export const MAX_HARDWARE_IDS_IN_STATUS = 20;

/** The preflight block as custom status shows it: errors first, few and short findings, a hardware id sample. */
export function fitPreflight(result: PreflightResult, findings = MAX_FINDINGS_IN_STATUS, hardwareIds = MAX_HARDWARE_IDS_IN_STATUS): PreflightResult {
  const ordered = [...result.findings.filter((f) => f.severity === "error"), ...result.findings.filter((f) => f.severity !== "error")];
  const kept = ordered.slice(0, findings).map((f) => ({
    ...f,
    message: truncate(f.message, MAX_FINDING_TEXT_IN_STATUS),
    file: f.file !== null ? truncate(f.file, MAX_WORD_LENGTH_IN_STATUS) : null,
  }));
  const ids = result.hardwareIds.slice(0, hardwareIds).map((id) => truncate(id, MAX_WORD_LENGTH_IN_STATUS));
  return {
    verdict: result.verdict,
    findings: kept,
    hardwareIds: ids,
    ...(ordered.length > kept.length ? { moreFindings: ordered.length - kept.length + (result.moreFindings ?? 0) } : {}),
    ...(result.hardwareIds.length > ids.length ? { moreHardwareIds: result.hardwareIds.length - ids.length + (result.moreHardwareIds ?? 0) } : {}),
  };
}

/** Entries of each list of the `labelPreview` block in custom status. */
export const MAX_PREVIEW_ENTRIES_IN_STATUS = 5;

/** The label preview as custom status shows it: short texts, a few hardware ids, OS codes and problems. */
export function fitLabelPreview(preview: LabelPreview, entries = MAX_PREVIEW_ENTRIES_IN_STATUS): LabelPreview {
  const short = (text: string) => truncate(text, MAX_FINDING_TEXT_IN_STATUS);
  return {
    ...preview,
    name: short(preview.name),
    hardwareIds: preview.hardwareIds.slice(0, entries).map(short),
    operatingSystemCodes: preview.operatingSystemCodes.slice(0, entries).map((code) => truncate(code, MAX_WORD_LENGTH_IN_STATUS)),
    problems: preview.problems.slice(0, entries).map(short),
  };
}

/** Entries of each list of the `signedPackageVerification` block in custom status (the manifest keeps up to MAX_LISTED). */
export const MAX_VERIFICATION_ENTRIES_IN_STATUS = 3;

/** The signed-package check as custom status shows it: verdict, reason, counts and the first few of each list. */
export function fitSignedPackageVerification(result: SignedPackageVerification, entries = MAX_VERIFICATION_ENTRIES_IN_STATUS): SignedPackageVerification {
  const short = (text: string) => truncate(text, MAX_FINDING_TEXT_IN_STATUS);
  return {
    verdict: result.verdict,
    ...(result.reason !== undefined ? { reason: truncate(result.reason, MAX_MESSAGE_LENGTH_IN_STATUS) } : {}),
    catalogCount: result.catalogCount,
    infCount: result.infCount,
    catalogs: result.catalogs.slice(0, entries).map((c) => ({ ...c, path: short(c.path), signer: short(c.signer), root: short(c.root) })),
    infs: result.infs.slice(0, entries).map((i) => ({ ...i, path: short(i.path), submittedPath: short(i.submittedPath) })),
    failures: result.failures.slice(0, entries).map((f) => ({ ...f, file: short(f.file), reason: short(f.reason) })),
  };
}

/** What identifies a label when nothing else fits. */
function minimalLabel(report: LabelReport): LabelReport {
  const { phase, labelId, instanceId, destination, hardwareIdCount } = report;
  const minimal: LabelReport = { phase, labelId, instanceId, destination, hardwareIdCount };
  for (const key of Object.keys(minimal) as Array<keyof LabelReport>) if (minimal[key] === undefined) delete minimal[key];
  return minimal;
}

/**
 * The status as published: per-field caps first, then, while the serialized size is over `limit`,
 * the error report, Microsoft's messages and the error text give way in that order; as a last resort
 * only the identifying facts remain. Measured on the serialized form, so escapes (a control character
 * becomes six characters) and surrogate pairs count as the host counts them.
 */
export function fitCustomStatus(status: SubmissionCustomStatus, limit = MAX_CUSTOM_STATUS_CHARS): SubmissionCustomStatus {
  let fitted: SubmissionCustomStatus = {
    ...status,
    commitStatus: truncateWord(status.commitStatus),
    currentStep: truncateWord(status.currentStep),
    state: truncateWord(status.state),
    messages: status.messages ? boundedMessages(status.messages) : undefined,
    errorReportText: status.errorReportText !== undefined ? truncate(status.errorReportText, MAX_ERROR_REPORT_IN_STATUS) : undefined,
    error: status.error !== undefined ? truncate(status.error, MAX_ERROR_IN_STATUS) : undefined,
    label: status.label !== undefined ? fitLabelReport(status.label) : undefined,
    preflight: status.preflight !== undefined ? fitPreflight(status.preflight) : undefined,
    labelPreview: status.labelPreview !== undefined ? fitLabelPreview(status.labelPreview) : undefined,
    signedPackageVerification: status.signedPackageVerification !== undefined ? fitSignedPackageVerification(status.signedPackageVerification) : undefined,
  };
  for (const key of Object.keys(fitted) as Array<keyof SubmissionCustomStatus>) if (fitted[key] === undefined) delete fitted[key];

  for (let guard = 0; serializedLength(fitted) > limit && guard < 200; guard++) {
    const report = fitted.errorReportText;
    const messages = fitted.messages ?? [];
    const longestMessage = Math.max(0, ...messages.map((message) => message.length));
    if (report !== undefined && report.length > 200) {
      fitted = { ...fitted, errorReportText: truncate(report, Math.floor(report.length / 2)) };
    } else if (report !== undefined) {
      const { errorReportText: _dropped, ...rest } = fitted;
      fitted = rest;
    } else if (longestMessage > 100) {
      fitted = { ...fitted, messages: messages.map((message) => (MORE_MESSAGES_NOTE.test(message) ? message : truncate(message, Math.floor(longestMessage / 2)))) };
    } else if (messages.length > 0 && !(messages.length === 1 && MORE_MESSAGES_NOTE.test(messages[0]))) {
      fitted = { ...fitted, messages: dropOneMessage(messages) };
    } else if (fitted.label !== undefined && serializedLength(fitted.label) > serializedLength(minimalLabel(fitted.label))) {
      fitted = { ...fitted, label: minimalLabel(fitted.label) };
    } else if (fitted.preflight !== undefined && fitted.preflight.findings.length + fitted.preflight.hardwareIds.length > 2) {
      const p = fitted.preflight;
      fitted = { ...fitted, preflight: fitPreflight(p, Math.floor(p.findings.length / 2), Math.floor(p.hardwareIds.length / 2)) };
    } else if (fitted.labelPreview !== undefined && serializedLength(fitted.labelPreview) > serializedLength(fitLabelPreview(fitted.labelPreview, 0))) {
      fitted = { ...fitted, labelPreview: fitLabelPreview(fitted.labelPreview, 0) };
    } else if (fitted.signedPackageVerification !== undefined && serializedLength(fitted.signedPackageVerification) > serializedLength(fitSignedPackageVerification(fitted.signedPackageVerification, 0))) {
      fitted = { ...fitted, signedPackageVerification: fitSignedPackageVerification(fitted.signedPackageVerification, 0) };
    } else if (fitted.error !== undefined && fitted.error.length > 200) {
      fitted = { ...fitted, error: truncate(fitted.error, Math.floor(fitted.error.length / 2)) };
    } else {
      break;
    }
  }
  if (serializedLength(fitted) <= limit) return fitted;
  // Still too big (control characters in every field, say): keep what identifies the submission.
  const minimal: SubmissionCustomStatus = {
    stage: status.stage,
    package: { container: status.package.container, blobName: truncate(status.package.blobName, 300) },
    productId: status.productId,
    submissionId: status.submissionId,
    manifest: shortBlob(status.manifest, 300),
    errorReportBlob: shortBlob(status.errorReportBlob, 300),
    error: "the status was too large to show; see the result manifest",
    failureKind: status.failureKind,
    label: status.label !== undefined ? minimalLabel(status.label) : undefined,
    updatedAt: status.updatedAt,
  };
  for (const key of Object.keys(minimal) as Array<keyof SubmissionCustomStatus>) if (minimal[key] === undefined) delete minimal[key];
  return minimal;
}

/**
 * Accumulates the facts learnt so far and publishes them with each stage change. Replays call it
 * again with the same values, which is harmless: only the last value of an episode is kept.
 */
export class StatusReporter {
  private facts: StatusFacts = {};
  private current: Stage = "queued";
  private readonly transitions: StageTransition[];
  private readonly steps: StepTransition[];

  /** `earlierHistory` / `earlierSteps`: the stage and step changes of earlier generations (carried through continueAsNew). */
  constructor(
    private readonly context: df.OrchestrationContext,
    private readonly packageRef: PackageRef,
    earlierHistory: readonly StageTransition[] = [],
    earlierSteps: readonly StepTransition[] = [],
  ) {
    this.transitions = [...earlierHistory];
    this.steps = [...earlierSteps];
  }

  /** Microsoft's step/state changes so far, as first seen (orchestration time: a replay rebuilds the same list). */
  get stepHistory(): StepTransition[] {
    return [...this.steps];
  }

  /** Stage changes so far; `at` is orchestration time, so a replay rebuilds the same list. */
  get history(): StageTransition[] {
    return [...this.transitions];
  }

  get stage(): Stage {
    return this.current;
  }

  get known(): Readonly<StatusFacts> {
    return this.facts;
  }

  /** Records `stage` plus any new facts; `undefined` values clear a fact (e.g. nextPollAt). */
  report(stage: Stage, facts: Partial<StatusFacts> = {}): void {
    this.current = stage;
    this.recordTransition(stage);
    const merged: Record<string, unknown> = { ...this.facts, ...facts };
    for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
    this.facts = merged as StatusFacts;
    this.recordStep(this.facts.currentStep, this.facts.state);
    const status: SubmissionCustomStatus = {
      stage,
      package: this.packageRef,
      ...this.facts,
      stageHistory: this.history,
      ...(this.steps.length > 0 ? { stepHistory: this.stepHistory } : {}),
      updatedAt: this.context.df.currentUtcDateTime.toISOString(),
    };
    this.context.df.setCustomStatus(fitCustomStatus(status));
  }

  /** One entry per change of stage; beyond the bound the oldest after the first are dropped. */
  private recordTransition(stage: Stage): void {
    if (this.transitions[this.transitions.length - 1]?.stage === stage) return;
    this.transitions.push({ stage, at: this.context.df.currentUtcDateTime.toISOString() });
    if (this.transitions.length > MAX_STAGE_HISTORY) this.transitions.splice(1, this.transitions.length - MAX_STAGE_HISTORY);
  }

  /** One entry per change of Microsoft's (step, state) pair once a step is known; bounded like stages. */
  private recordStep(step: string | null | undefined, state: string | null | undefined): void {
    if (step === undefined || step === null) return;
    const shortStep = truncate(step, MAX_WORD_LENGTH_IN_STATUS);
    const shortState = typeof state === "string" ? truncate(state, MAX_WORD_LENGTH_IN_STATUS) : null;
    const last = this.steps[this.steps.length - 1];
    if (last && last.step === shortStep && last.state === shortState) return;
    this.steps.push({ step: shortStep, state: shortState, at: this.context.df.currentUtcDateTime.toISOString() });
    if (this.steps.length > MAX_STEP_HISTORY) this.steps.splice(1, this.steps.length - MAX_STEP_HISTORY);
  }
}
