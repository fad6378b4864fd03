/**
 * What the CLI prints. With --json every command prints exactly one document matching
 * `resultDocumentSchema` (documented in cli/README.md); ids are always strings. Without --json a
 * short human summary goes to stdout. Progress goes to stderr either way.
 */
import { z } from "zod";
import { hdcStepPosition } from "../src/domain/hdcSteps";
import type { ExitCodeValue } from "./exitCodes";

export const SCHEMA_VERSION = 1;

export const submissionDocumentSchema = z.strictObject({
  id: z.string(),
  runtimeStatus: z.string(),
  /** Our stage (queued … succeeded | failed | terminated). */
  stage: z.string(),
  /** nefarius/SDCM's progress. */
  progress: z.enum(["created", "processing", "completed", "failed"]),
  package: z.string().nullable(),
  productId: z.string().nullable(),
  submissionId: z.string().nullable(),
  commitStatus: z.string().nullable(),
  currentStep: z.string().nullable(),
  state: z.string().nullable(),
  step: z.strictObject({ index: z.number().int().positive().nullable(), count: z.number().int().positive(), name: z.string() }).nullable(),
  hasSignedPackage: z.boolean(),
  messages: z.array(z.string()),
  /** An excerpt of Microsoft's error report (the first 2,000 bytes at most). */
  errorReportContent: z.string().nullable(),
  /** Microsoft's whole error report as the service copied it ("container/blob", bytes); fetched by `download`. */
  errorReport: z.strictObject({ blob: z.string(), bytes: z.number().int().nonnegative().nullable() }).nullable(),
  error: z.string().nullable(),
  elapsedSeconds: z.number().nonnegative().nullable(),
  stageHistory: z.array(z.strictObject({ stage: z.string(), at: z.string() })),
  createdTime: z.string().nullable(),
  lastUpdatedTime: z.string().nullable(),
});
export type SubmissionDocument = z.infer<typeof submissionDocumentSchema>;

export const fileDocumentSchema = z.strictObject({
  /** package: the CAB `pack` wrote. */
  kind: z.enum(["signedPackage", "driverMetadata", "manifest", "errorReport", "package"]),
  path: z.string(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Checks that passed: the HTTP Content-Length, the size the result manifest records, the blob's Content-MD5. */
  verified: z.array(z.enum(["contentLength", "manifestSize", "contentMd5"])),
});
export type FileDocument = z.infer<typeof fileDocumentSchema>;

export const OUTCOMES = [
  "signed",
  "running",
  "rejected",
  "failed",
  "canceled",
  "timeout",
  "downloaded",
  "listed",
  "cancelRequested",
  "decided",
  "clean",
  "warnings",
  "refused",
  "error",
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** check/pack: the preflight's findings (docs/package-rules.md) and what it read of each driver. */
export const preflightDocumentSchema = z.strictObject({
  verdict: z.enum(["clean", "warnings", "refused"]),
  errors: z.number().int().nonnegative(),
  warnings: z.number().int().nonnegative(),
  size: z.number().int().nonnegative(),
  fileCount: z.number().int().nonnegative(),
  compression: z.array(z.string()),
  findings: z.array(
    z.strictObject({
      code: z.string().regex(/^PKG\d{3}$/),
      severity: z.enum(["error", "warning"]),
      message: z.string(),
      file: z.string().nullable(),
      line: z.number().int().positive().nullable(),
    }),
  ),
  drivers: z.array(
    z.strictObject({
      folder: z.string(),
      architectures: z.array(z.string()),
      infs: z.array(
        z.strictObject({
          path: z.string(),
          encoding: z.string(),
          class: z.string().nullable(),
          provider: z.string().nullable(),
          driverVer: z.string().nullable(),
          catalogFiles: z.array(z.string()),
          architectures: z.array(z.string()),
          hardwareIds: z.array(z.string()),
        }),
      ),
    }),
  ),
  /** The CAB's Authenticode signer (null: unsigned, unreadable, or an HLKX). */
  signature: z
    .strictObject({
      subject: z.string(),
      issuer: z.string(),
      serialNumber: z.string(),
      notBefore: z.string(),
      notAfter: z.string(),
      ev: z.boolean(),
      digestAlgorithm: z.string(),
      fileDigestAlgorithm: z.string(),
      thumbprintSha1: z.string().regex(/^[0-9A-F]{40}$/),
      thumbprintSha256: z.string().regex(/^[0-9A-F]{64}$/),
      registered: z.boolean().nullable(),
    })
    .nullable(),
});
export type PreflightDocument = z.infer<typeof preflightDocumentSchema>;

export const resultDocumentSchema = z.strictObject({
  schemaVersion: z.literal(SCHEMA_VERSION),
  command: z.enum(["submit", "status", "wait", "download", "list", "cancel", "approve", "reject", "check", "pack", "audit", "driver-sign"]),
  exitCode: z.number().int().min(0).max(11),
  outcome: z.enum(OUTCOMES),
  /** One sentence for people; on rejection it carries Microsoft's messages. */
  message: z.string(),
  id: z.string().nullable(),
  /** submit: the package blob ("container/blob") and whether this run uploaded bytes (false: reused); check/pack: the local file. */
  package: z.string().nullable(),
  uploaded: z.boolean().nullable(),
  submission: submissionDocumentSchema.nullable(),
  /** list only. */
  submissions: z.array(submissionDocumentSchema).nullable(),
  files: z.array(fileDocumentSchema),
  /** check and pack only. */
  preflight: preflightDocumentSchema.nullable(),
  error: z.strictObject({ message: z.string(), httpStatus: z.number().int().nullable() }).nullable(),
});
export type ResultDocument = z.infer<typeof resultDocumentSchema>;

const PROGRESS = new Set(["created", "processing", "completed", "failed"]);
const TERMINATED = new Set(["Terminated", "Canceled"]);

const text = (value: unknown): string | null =>
  typeof value === "string" ? value : typeof value === "number" || typeof value === "bigint" ? String(value) : null;

function reportOf(value: unknown): SubmissionDocument["errorReport"] {
  const blob = value as { container?: unknown; blobName?: unknown; contentLength?: unknown } | undefined;
  if (!blob || typeof blob.container !== "string" || typeof blob.blobName !== "string") return null;
  return { blob: `${blob.container}/${blob.blobName}`, bytes: typeof blob.contentLength === "number" ? blob.contentLength : null };
}

/** The API's status view → the stable document (tolerates a missing field; computes what an older service lacks). */
export function toSubmissionDocument(view: Record<string, unknown>): SubmissionDocument {
  const runtimeStatus = text(view.runtimeStatus) ?? "Unknown";
  const stage = text(view.stage) ?? "unknown";
  const pkg = view.package as { container?: unknown; blobName?: unknown } | undefined;
  const currentStep = text(view.currentStep);
  const step = (view.step as SubmissionDocument["step"] | undefined) ?? hdcStepPosition(currentStep) ?? null;
  const progress =
    typeof view.progress === "string" && PROGRESS.has(view.progress)
      ? (view.progress as SubmissionDocument["progress"])
      : stage === "succeeded"
        ? "completed"
        : stage === "failed" || TERMINATED.has(runtimeStatus)
          ? "failed"
          : "processing";
  const history = Array.isArray(view.stageHistory) ? (view.stageHistory as { stage?: unknown; at?: unknown }[]) : [];
  return {
    id: text(view.id) ?? "",
    runtimeStatus,
    stage,
    progress,
    package: pkg && typeof pkg.container === "string" && typeof pkg.blobName === "string" ? `${pkg.container}/${pkg.blobName}` : null,
    productId: text(view.productId),
    submissionId: text(view.submissionId),
    commitStatus: text(view.commitStatus),
    currentStep,
    state: text(view.state),
    step: step ? { index: step.index ?? null, count: step.count, name: String(step.name) } : null,
    hasSignedPackage: Boolean(view.signedPackage),
    messages: Array.isArray(view.messages) ? view.messages.map(String) : [],
    errorReportContent: text(view.errorReport),
    errorReport: reportOf(view.errorReportBlob),
    error: text(view.error) ?? text(view.reason),
    elapsedSeconds: typeof view.elapsedSeconds === "number" ? view.elapsedSeconds : null,
    stageHistory: history.map((entry) => ({ stage: String(entry.stage), at: String(entry.at) })),
    createdTime: text(view.createdTime),
    lastUpdatedTime: text(view.lastUpdatedTime),
  };
}

export function emptyResult(command: ResultDocument["command"]): ResultDocument {
  return {
    schemaVersion: SCHEMA_VERSION,
    command,
    exitCode: 0,
    outcome: "error",
    message: "",
    id: null,
    package: null,
    uploaded: null,
    submission: null,
    submissions: null,
    files: [],
    preflight: null,
    error: null,
  };
}

export function withExit(result: ResultDocument, exitCode: ExitCodeValue, outcome: Outcome, message: string): ResultDocument {
  return { ...result, exitCode, outcome, message };
}
