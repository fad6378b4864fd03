/**
 * The app's shared domain types: what a package, a product, a submission's status, a result manifest
 * and our policies look like. functions/, orchestrators/, activities/, hdc/, storage/ and config all
 * import from here, so none of them depends on another's module for a type.
 *
 * Everything here can land in orchestration history, custom status or a manifest (plain text in
 * storage): no token, client secret or SAS URL. Hardware Dev Center ids are 64-bit and always
 * travel as decimal strings.
 */
import type { LabelPhase, PublishDestination } from "./publishing";
import type { ApprovalParty } from "./approval";

/** A driver package in our own storage. */
export interface PackageRef {
  container: string;
  blobName: string;
  /** ETag seen when the submission was requested (Event Grid data.eTag or a HEAD by the HTTP trigger). */
  etag?: string;
  contentLength?: number;
  /**
   * The caller's full SHA-256 (lower-case hex) from the service's own upload record (POST
   * /api/uploads), for a package uploaded that way; never taken from blob metadata.
   */
  sha256?: string;
}

export type TestHarness = "hlk" | "hck" | "attestation" | "notset";
export type DeviceType = "internal" | "external" | "internalExternal" | "notSet";

/** Fields of a Hardware Dev Center product (reference/hdc-api.md a.5). */
export interface ProductFields {
  productName: string;
  testHarness: TestHarness;
  /** ISO 8601 date-time. */
  announcementDate?: string;
  deviceMetadataIds?: string[];
  firmwareVersion?: string;
  deviceType?: DeviceType;
  isTestSign?: boolean;
  isFlightSign?: boolean;
  marketingNames?: string[];
  selectedProductTypes?: Record<string, string>;
  requestedSignatures: string[];
  additionalAttributes?: Record<string, unknown>;
}

/** Polling schedule; computed by the trigger from configuration because the orchestrator may not read config. */
export interface PollingPolicy {
  initialIntervalSeconds: number;
  maxIntervalSeconds: number;
  backoffFactor: number;
  /** Overall wait for Microsoft, counted from the first poll. */
  deadlineMinutes: number;
  /** continueAsNew after this many polls to keep history bounded. */
  pollsPerGeneration: number;
}

/** Retry policy for transient activity faults; also computed from configuration by the trigger. */
export interface ActivityRetryPolicy {
  firstRetryIntervalSeconds: number;
  maxAttempts: number;
  backoffCoefficient: number;
  maxRetryIntervalSeconds: number;
}

export type CredentialKind = "clientSecret" | "keyVaultSecret" | "certificate" | "managedIdentity";

/** Small, normalised view of a submission (reference/hdc-api.md a.12). No URLs. */
export interface NormalizedSubmissionStatus {
  progress: "created" | "processing" | "succeeded" | "failed";
  commitStatus: string | null;
  currentStep: string | null;
  state: string | null;
  messages: string[];
  hasSignedPackage: boolean;
  hasDriverMetadata: boolean;
  /** The first bytes of the errorReport blob (an excerpt, see getSubmissionStatus), only when the workflow failed. */
  errorReportText?: string;
  /**
   * Microsoft offered an error report (workflow failed). Set by code since issue 29 only: histories
   * recorded before it lack the field, and only with it does the orchestrator copy the report.
   */
  hasErrorReport?: boolean;
}

export interface BlobLocation {
  container: string;
  blobName: string;
  contentLength?: number;
  /**
   * Base64 Content-MD5. For the signed package: as Microsoft's download answered it (its
   * Content-MD5 header), absent when Microsoft sent none.
   */
  contentMd5?: string;
}

/**
 * The package version that was copied to a submission (recorded by copyPackage, named in the
 * result manifest): the bytes Microsoft was given are exactly this version.
 */
export interface PackageVersion {
  container: string;
  blobName: string;
  etag: string;
  /** x-ms-version-id, where the account keeps versions (Azure with blob versioning); Azurite gives none. */
  versionId?: string;
  contentLength: number;
  /** Base64 MD5 of the package, when the copy was verified by MD5. */
  contentMd5?: string;
  /** The caller's SHA-256 from the service's upload record (PackageRef.sha256); the blob's `sha256` metadata is never used. */
  sha256?: string;
}

/** The JSON a user finds next to the signed package (or alone, on failure or rejection). */
export interface ResultManifest {
  outcome: "succeeded" | "failed" | "rejected";
  instanceId: string;
  package: PackageRef;
  productId?: string;
  submissionId?: string;
  commitStatus?: string | null;
  currentStep?: string | null;
  state?: string | null;
  messages: string[];
  /** An excerpt of Microsoft's error report; the whole report is the errorReportBlob. */
  errorReportText?: string;
  /** Microsoft's whole error report, copied beside this manifest (issue 29). */
  errorReportBlob?: BlobLocation;
  /** For rejections and failures: which field or stage, and why. */
  reason?: string;
  signedPackage?: BlobLocation;
  driverMetadata?: BlobLocation;
  /** The package version the submission was given (absent when no copy to this submission was recorded). */
  packageVersion?: PackageVersion;
  startedAt?: string;
  finishedAt: string;
  /** The shipping label published after signing (issue 11), when a `publish` policy was given. */
  label?: LabelReport;
  /** The preflight step's result (issue 37), every finding. */
  preflight?: PreflightResult;
  /** Preproduction signing (issue 40): absent for a product submission. */
  signing?: "preproduction";
  /** The preprod package at Microsoft, its last signingStatus, and the SignedFilesZip's verified contentHash. */
  preprodPackageId?: string;
  signingStatus?: string;
  contentHash?: string;
  /** The check of Microsoft's signed package (issue 36): catalogs, roots, INFs compared. */
  signedPackageVerification?: SignedPackageVerification;
}

/** Which check of Microsoft's signed package a failure is about (issue 36, src/preflight/signedPackage.ts). */
export type SignedPackageCheck =
  | "archive"
  | "catalogPresent"
  | "catalogSignature"
  | "catalogChain"
  | "whqlEku"
  | "catalogCoversInf"
  | "infIdentical"
  | "infMissing";

/**
 * What was verified in the signed package before the run was called a success: every driver
 * folder's catalog (PKCS#7 signature over its content, chain to a trusted root, WHQL EKU on the
 * signer) and every INF compared byte for byte (SHA-256) with the submitted one. Bounded lists:
 * the counts say how many there were in all. Lands in history, status and the manifest: no secrets.
 */
export interface SignedPackageVerification {
  verdict: "verified" | "failed" | "notApplicable";
  /** notApplicable: why; failed: the first failure in words. */
  reason?: string;
  catalogCount: number;
  infCount: number;
  catalogs: { path: string; signer: string; signerThumbprintSha256: string; root: string; rootThumbprintSha256: string; members: number }[];
  infs: { path: string; submittedPath: string; sha256: string }[];
  failures: { file: string; check: SignedPackageCheck; reason: string }[];
}

/** One preflight finding (src/preflight/rules.ts): a package rule the dropped package breaks. */
export interface PreflightFinding {
  code: string;
  severity: "error" | "warning";
  message: string;
  file: string | null;
  line: number | null;
}

/**
 * What the preflight step (issue 37) concluded: refused = an error finding, nothing is created at
 * Microsoft; warnings/clean = the run goes on; notApplicable = a name without a package extension
 * (.cab get the CAB rules, .hlkx/.hckx the HLKX ones). Small and non-secret.
 */
/** One INF the preflight read: its path in the package, the architectures of its models sections, its hardware ids, its version. */
export interface PreflightInf {
  path: string;
  architectures: string[];
  hardwareIds: string[];
  /** The version of the INF's DriverVer ("1.0.0.0"), when it has one. */
  driverVersion?: string;
}

/**
 * The label a publish policy with `dryRun` would produce, computed at drop time from the package's
 * INFs (issue 37) before Microsoft's driver metadata exists: the hardware ids and OS codes the label
 * would target (the OS codes are the run's requestedSignatures for each INF's architectures, as
 * Microsoft's metadata lists them), and what Microsoft would refuse in it. The label made after
 * signing, from Microsoft's metadata, is the one that counts (`label`).
 */
export interface LabelPreview {
  basis: "packageInfs";
  name: string;
  destination: PublishDestination;
  hardwareIdCount: number;
  /** A sample, "inf | OS code | pnp". */
  hardwareIds: string[];
  operatingSystemCodes: string[];
  chidCount: number;
  /** Why Microsoft would refuse the label, "field: reason" (empty: none found). */
  problems: string[];
}

export interface PreflightResult {
  verdict: "refused" | "warnings" | "clean" | "notApplicable";
  findings: PreflightFinding[];
  /** Hardware ids from the INFs' models sections, deduplicated, in package order. */
  hardwareIds: string[];
  /** Where a bounded copy (custom status) left some out: how many. */
  moreFindings?: number;
  moreHardwareIds?: number;
}

// Custom status: what GET /api/submissions/{id} shows while the orchestration runs.

export type Stage =
  | "queued"
  | "authenticating"
  | "creatingProduct"
  | "creatingSubmission"
  | "uploading"
  | "committing"
  | "waitingForMicrosoft"
  | "downloadingSignedPackage"
  | "succeeded"
  | "failed";

/** One stage change of a submission, at orchestration time (replay-safe). */
export interface StageTransition {
  stage: Stage;
  at: string;
}

/** One change of Microsoft's workflow step or state, first seen at this orchestration time (replay-safe). */
export interface StepTransition {
  step: string | null;
  state: string | null;
  at: string;
}

export interface SubmissionCustomStatus {
  stage: Stage;
  package: PackageRef;
  productId?: string;
  submissionId?: string;
  commitStatus?: string | null;
  currentStep?: string | null;
  state?: string | null;
  messages?: string[];
  pollCount?: number;
  nextPollAt?: string;
  deadline?: string;
  errorReportText?: string;
  /** Microsoft's whole error report, copied into SIGNED_CONTAINER beside the manifest (a location, never a URL). */
  errorReportBlob?: BlobLocation;
  error?: string;
  /** On failure: who ended it. "microsoft" = commit rejected or workflow failed (a re-post creates a new submission). */
  failureKind?: FailureKind;
  signedPackage?: BlobLocation;
  manifest?: BlobLocation;
  /** Stage changes so far, oldest first (bounded; see StatusReporter). */
  stageHistory?: StageTransition[];
  /** Microsoft's step/state changes as first seen by a poll, oldest first (bounded; see StatusReporter). */
  stepHistory?: StepTransition[];
  /** The shipping label after signing (bounded: see fitLabelReport). */
  label?: LabelReport;
  /** The preflight step's verdict, findings and hardware ids (bounded: see fitPreflight). */
  preflight?: PreflightResult;
  /** The label a dry-run publish policy would produce from the package's INFs (bounded: see fitLabelPreview). */
  labelPreview?: LabelPreview;
  /** The signed package's check after download (issue 36), bounded as in history. */
  signedPackageVerification?: SignedPackageVerification;
  /** Preproduction signing (issue 40): absent for a product submission. */
  signing?: "preproduction";
  preprodPackageId?: string;
  /** Microsoft's signingStatus as last read (NotStarted, Processing, Succeeded, Failed, or another word). */
  signingStatus?: string;
  updatedAt: string;
}

/**
 * Custom status of a `recordRejectedDrop` instance: a dropped package refused before anything was
 * submitted (wrong extension, empty, invalid sidecar), listed beside the submissions.
 */
export interface RejectedDropStatus {
  stage: "rejected";
  package: PackageRef;
  reason: string;
  manifest?: BlobLocation;
  /** A submitDriver run its preflight refused: every finding (as messages too) and the hardware ids. */
  messages?: string[];
  preflight?: PreflightResult;
  updatedAt: string;
}

/** microsoft: Microsoft rejected or failed the submission; deadline: Microsoft did not finish in time; activity: our side (retries exhausted, bad input, storage). */
export type FailureKind = "microsoft" | "deadline" | "activity";

// Publishing after signing (issue 11). The policy and wire types live in domain/publishing.ts.

/** Label polling, computed by the trigger from LABEL_* settings (the orchestrator reads no config). */
export interface LabelPollingPolicy {
  initialIntervalSeconds: number;
  maxIntervalSeconds: number;
  backoffFactor: number;
  /** How long a created label is followed (LABEL_DEADLINE_DAYS). */
  deadlineDays: number;
  /** How long to wait for the submission's driverMetadata item before giving up. */
  metadataWaitMinutes: number;
  pollsPerGeneration: number;
}

/**
 * What we say about a label, in custom status (bounded), the result manifest and the publishLabel
 * output. Phases beyond LabelPhase: waitingForMetadata (the driverMetadata item is not there yet),
 * dryRun (expanded, written, nothing created), rejected (the policy does not fit the driver
 * metadata or the submission; nothing created).
 */
export type LabelReportPhase = LabelPhase | "waitingForMetadata" | "dryRun" | "rejected" | "awaitingApproval" | "expired";

/**
 * The second-person approval of a label (issue 34), as status shows it: what waits (the label's
 * dates and targets next to the summary fields of LabelReport), who asked, until when, and the
 * decision; decisions the orchestrator ignored (self-approval, bad shape) are listed too.
 */
export interface LabelApprovalView {
  requester?: ApprovalParty;
  requestedAt: string;
  deadline: string;
  /** Policy facts of the label beyond the targets: dates, OS range, receiving partner. */
  goLiveDate?: string;
  floor?: string;
  ceiling?: string;
  receiverPublisherId?: string;
  visibleToAccounts?: string[];
  decision?: "approve" | "reject";
  approver?: ApprovalParty;
  comment?: string;
  decidedAt?: string;
  /** The latest ignored decisions (bounded), each with why. */
  ignored?: { approver?: ApprovalParty; reason: string; at: string }[];
}

export interface LabelReport {
  phase: LabelReportPhase;
  /** The publishLabel instance following this label. */
  instanceId?: string;
  labelId?: string;
  name?: string;
  destination?: PublishDestination;
  hardwareIdCount?: number;
  /** A few of the hardware ids, "inf | os | pnp". */
  hardwareIdSample?: string[];
  chidCount?: number;
  audiences?: string[];
  currentStep?: string | null;
  state?: string | null;
  /** Microsoft's messages (bounded in status). */
  messages?: string[];
  errorReportText?: string;
  /** Our own reason (rejected policy fields, deadline, activity failure). */
  error?: string;
  /** Fields of the policy that do not fit, "publish.<field>: reason". */
  problems?: string[];
  cancelRequested?: boolean;
  /** Where the expanded request body is (dry run: next to the manifest). */
  request?: BlobLocation;
  portalUrl?: string;
  deadline?: string;
  pollCount?: number;
  /** Second-person approval (issue 34): only on labels that waited for one. */
  approval?: LabelApprovalView;
  updatedAt?: string;
}

/** What a completed orchestration returns (its `output`). */
export interface SubmitDriverSummary {
  outcome: "succeeded";
  instanceId: string;
  package: PackageRef;
  productId: string;
  submissionId: string;
  commitStatus: string | null;
  signedPackage: BlobLocation;
  driverMetadata?: BlobLocation;
  manifest?: BlobLocation;
  pollCount: number;
  generation: number;
  startedAt: string;
  finishedAt: string;
  /** The shipping label published after signing, when the input asked for one. */
  label?: LabelReport;
  /** What was verified in the signed package (issue 36), when the input asked for the check. */
  signedPackageVerification?: SignedPackageVerification;
}
