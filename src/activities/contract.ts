/**
 * The typed contract between the orchestrator and its activities.
 *
 * Every activity input and output lands in orchestration history (plain text in storage), so
 * nothing here may carry a token, a client secret or a SAS URL. Ids from Hardware Dev Center are
 * 64-bit and always travel as decimal strings.
 */

import type { ApprovalRequirement } from "../domain/approval";
import type { Owner } from "../domain/authorization";
import type {
  ActivityRetryPolicy,
  BlobLocation,
  CredentialKind,
  NormalizedSubmissionStatus,
  PackageRef,
  PollingPolicy,
  PreflightInf,
  PreflightResult,
  LabelPreview,
  ProductFields,
  LabelPollingPolicy,
  LabelReport,
  ResultManifest,
  SignedPackageVerification,
  StageTransition,
  StepTransition,
  TestHarness,
} from "../domain/types";
import type { LabelPhase, LabelTargetingUpdate, NormalizedLabelStatus, PublishDestination, PublishPolicy } from "../domain/publishing";
import type { ApprovalNotificationEvent, NotificationEvent } from "../notifications/cloudEvent";
import type { DeliverNotificationInput } from "../notifications/queue";

/** Input of the submitDriver orchestration. */
export interface SubmitDriverInput {
  package: PackageRef;
  product: ProductFields;
  submissionName: string;
  submissionType: "initial" | "derived";
  /** Resume an existing product/submission instead of creating new ones. */
  resume?: { productId: string; submissionId?: string };
  polling: PollingPolicy;
  retry: ActivityRetryPolicy;
  requestedBy: "eventGrid" | "http";
  /**
   * Who the submission belongs to (issue 32): the caller who started it, the caller who asked for the
   * upload URL, or the DROP_OWNERS owner of a drop. Never read by the orchestrator. Absent in
   * histories written before, and for unowned drops and key-holder starts: operators only.
   */
  owner?: Owner;
  /**
   * Which attempt at a submission this run is (absent = 1). A re-post after Microsoft failed the
   * submission starts round n + 1: its product/submission checkpoints are new, so a new submission is
   * created instead of resuming the failed one (src/functions/restartPolicy.ts).
   */
  round?: number;
  /**
   * Publish after signing (issue 11): the validated policy and the label polling schedule. Absent in
   * every history written before publishing existed; only then does the run start publishLabel.
   */
  publish?: PublishRequest;
  /**
   * Check the resume ids' claims in an activity before using them (checkResumeClaims). Set on every
   * input built since issue 21; absent in histories written before, which replay without the check
   * (src/orchestrators/versions.ts).
   */
  verifyResume?: boolean;
  /**
   * Run the preflightPackage activity before authenticate (issue 37; PREFLIGHT=on). Absent in every
   * history written before it, which replay without the step (src/orchestrators/versions.ts).
   */
  preflight?: boolean;
  /**
   * Run the verifySignedPackage activity after the download (issue 36; VERIFY_SIGNED_PACKAGE=on):
   * catalogs, root and INFs checked before the run is a success. Absent in every history written
   * before it, which replay without the step (src/orchestrators/versions.ts).
   */
  verifySignedPackage?: boolean;
  /**
   * Show the label a dry-run publish policy would produce right after preflight (issue 37), from the
   * package's INFs. Set only on inputs built since then with a `publish` policy with `dryRun`; no
   * history before has it (the preview is custom status only: no activity, no timer).
   */
  labelPreview?: boolean;
  /** Carried through continueAsNew; absent on the first generation. */
  carry?: PollingCarry;
  /** Webhooks are configured: at the end, queue a notification (src/notifications). Absent = none. */
  notify?: boolean;
}

export interface PublishRequest {
  policy: PublishPolicy;
  polling: LabelPollingPolicy;
  /** Issue 34: passed on to the publishLabel child (PublishLabelInput.approval); absent in older inputs. */
  approval?: ApprovalRequirement;
}

/** What a label is made for: a signed submission of a package, and the user's policy. */
export interface LabelTarget {
  /** The submitDriver instance whose signed submission is published (result folder, status view). */
  parentInstanceId: string;
  package: PackageRef;
  productId: string;
  submissionId: string;
  product: { productName: string; testHarness: TestHarness };
  policy: PublishPolicy;
}

/** Input of the publishLabel orchestration (a sub-orchestration of submitDriver, or started by POST .../labels). */
export interface PublishLabelInput extends LabelTarget {
  polling: LabelPollingPolicy;
  retry: ActivityRetryPolicy;
  /**
   * Wait for a second person between prepare and create (issue 34). Set only on new runs whose label
   * needs it (src/domain/approval.ts); absent in every history written before, which replay as recorded.
   */
  approval?: ApprovalRequirement;
  /** Webhooks are configured: queue approval requested / decided events (issue 34; only with `approval`). */
  notify?: boolean;
  /** Carried through continueAsNew once the label exists. */
  carry?: LabelCarry;
}

export interface LabelCarry {
  report: LabelReport & { labelId: string; deadline: string };
  pollCount: number;
  generation: number;
  intervalSeconds: number;
}

/** What a new generation (continueAsNew) needs to go on polling where the last stopped. */
export interface PollingCarry {
  productId: string;
  submissionId: string;
  startedAt: string;
  /** ISO time after which waiting for Microsoft fails the orchestration. */
  deadline: string;
  pollCount: number;
  generation: number;
  intervalSeconds: number;
  lastStatus?: NormalizedSubmissionStatus;
  /** Stage changes of earlier generations, so the status keeps them across continueAsNew. */
  stageHistory?: StageTransition[];
  /** Microsoft's step changes of earlier generations. */
  stepHistory?: StepTransition[];
  /** The preflight result (bounded as in custom status), so later generations still show it. */
  preflight?: PreflightResult;
  /** The label preview (bounded as in custom status), so later generations still show it. */
  labelPreview?: LabelPreview;
}

// ---------------------------------------------------------------------------------------------
// Activity inputs and outputs

export interface AuthenticateInput {
  /** Only for log correlation. */
  instanceId: string;
}
export interface AuthenticateOutput {
  tenantId: string;
  clientId: string;
  credentialKind: CredentialKind;
  /** ISO expiry of the token just acquired (the token itself never leaves the activity). */
  expiresOn: string;
  apiReachable: boolean;
}

export interface CheckResumeClaimsInput {
  /** The package version's instance: the claims must be held by it (any round). */
  instanceId: string;
  productId: string;
  submissionId?: string;
}
export interface CheckResumeClaimsOutput {
  productId: string;
  submissionId?: string;
  /** The instance the claims belong to. */
  owner: string;
}

export interface CreateProductInput {
  /** Key of the checkpoint that prevents a duplicate product when the activity is retried. */
  instanceId: string;
  product: ProductFields;
}
export interface CreateProductOutput {
  productId: string;
  sharedProductId?: string;
  /** True when an earlier attempt had already created the product (found by checkpoint or reconcile). */
  reused: boolean;
}

export interface CreateSubmissionInput {
  instanceId: string;
  productId: string;
  name: string;
  type: "initial" | "derived";
}
export interface CreateSubmissionOutput {
  submissionId: string;
  commitStatus: string;
  reused: boolean;
}

export interface CopyPackageInput {
  productId: string;
  submissionId: string;
  package: PackageRef;
}
export interface CopyPackageOutput {
  bytesCopied: number;
  method: "serverSideCopy" | "streaming";
  /** Base64 Content-MD5 when the source had one and the destination matched it. */
  contentMd5?: string;
  /**
   * What was checked: "lengthAndMd5" when the source has a Content-MD5 and the destination's
   * equals it; "length" when the source has none (only the length was compared; see storage/copy.ts).
   */
  verified: "length" | "lengthAndMd5";
}

export interface CommitSubmissionInput {
  productId: string;
  submissionId: string;
}
export interface CommitSubmissionOutput {
  commitStatus: string;
  /** True when the submission had already been committed (retry, or 502 after success). */
  alreadyCommitted: boolean;
}

export interface GetSubmissionStatusInput {
  productId: string;
  submissionId: string;
}

export interface DownloadSignedPackageInput {
  instanceId: string;
  productId: string;
  submissionId: string;
  package: PackageRef;
}
export interface DownloadSignedPackageOutput {
  signedPackage: BlobLocation;
  driverMetadata?: BlobLocation;
}

/** Copies Microsoft's whole error report of a failed submission beside the result manifest (issue 29). */
export type CopyErrorReportInput = DownloadSignedPackageInput;
export interface CopyErrorReportOutput {
  /** Absent when Microsoft no longer offers a report. */
  errorReport?: BlobLocation;
}

export interface WriteResultManifestInput {
  instanceId: string;
  manifest: ResultManifest;
}
export type WriteResultManifestOutput = BlobLocation;

export interface PrepareShippingLabelInput extends LabelTarget {
  /** The publishLabel instance: key of the stored request body. */
  instanceId: string;
}
export type PrepareShippingLabelOutput =
  | { ready: false }
  | { ready: true; ok: false; problems: string[] }
  | {
      ready: true;
      ok: true;
      name: string;
      destination: PublishDestination;
      hardwareIdCount: number;
      hardwareIdSample: string[];
      chidCount: number;
      audiences: string[];
      /** The full NewShippingLabel body, in STATE_CONTAINER. */
      request: BlobLocation;
      /** Dry run: the body as the user reads it, next to the manifest. */
      dryRunRequest?: BlobLocation;
      /** Dry run only: why Microsoft would refuse this label (a real run stops as rejected instead). */
      problems?: string[];
    };

export interface CreateShippingLabelInput {
  /** The publishLabel instance: checkpoint and creation-lock key. */
  instanceId: string;
  productId: string;
  submissionId: string;
  name: string;
  request: BlobLocation;
}
export interface CreateShippingLabelOutput {
  labelId: string;
  /** Found by checkpoint or adopted by name after a lost answer. */
  reused: boolean;
}

export interface LabelRef {
  productId: string;
  submissionId: string;
  labelId: string;
}
export interface GetShippingLabelStatusInput extends LabelRef {
  previousPhase?: LabelPhase;
}
export type GetShippingLabelStatusOutput = NormalizedLabelStatus & { cancelRequested: boolean; errorReportText?: string };

export interface UpdateShippingLabelInput extends LabelRef {
  targeting: LabelTargetingUpdate;
}
export interface UpdateShippingLabelOutput {
  hardwareIdChanges: number;
  chidChanges: number;
  audiencesSet: boolean;
  /** The label already showed the change: nothing was sent (a retry after a lost answer or a crash). */
  alreadyApplied?: boolean;
}
export type CancelShippingLabelInput = LabelRef;
export interface CancelShippingLabelOutput {
  cancelRequested: true;
  /** The cancel had been sent before (idempotent). */
  alreadyRequested: boolean;
}

export interface PreflightPackageInput {
  package: PackageRef;
}
export type PreflightPackageOutput = PreflightResult & {
  /** Bytes read from the package blob (ranged reads), for the log and the benchmark. */
  bytesRead: number;
  /**
   * The INFs read, with their architectures and hardware ids (bounded like hardwareIds), for the
   * label preview. Absent in outputs recorded before it.
   */
  infs?: PreflightInf[];
};
/** Checks the signed package downloaded for this run against the package submitted (issue 36). */
export interface VerifySignedPackageInput {
  instanceId: string;
  /** The submitted package, read pinned to its ETag. */
  package: PackageRef;
  /** Where downloadSignedPackage put Microsoft's signed package. */
  signedPackage: BlobLocation;
}
/** A "failed" verdict is returned, not thrown: the orchestrator fails the run with the reason. */
export type VerifySignedPackageOutput = SignedPackageVerification;

// Preproduction signing (issue 40): the signPreproduction orchestration and its activities.

/** Input of the signPreproduction orchestration. */
export interface SignPreproductionInput {
  signing: "preproduction";
  package: PackageRef;
  polling: PollingPolicy;
  retry: ActivityRetryPolicy;
  requestedBy: "eventGrid" | "http";
  /** Who the run belongs to (issue 32), as SubmitDriverInput.owner. */
  owner?: Owner;
  notify?: boolean;
  /** A re-post after a failed preprod run is round n + 1: a new upload record, so a new package is sent (absent = 1). */
  round?: number;
  /** Carried through continueAsNew; absent on the first generation. */
  carry?: PreprodCarry;
}

export interface PreprodCarry {
  packageId: string;
  startedAt: string;
  deadline: string;
  pollCount: number;
  generation: number;
  intervalSeconds: number;
  signingStatus?: string;
  stageHistory?: StageTransition[];
}

export interface UploadPreprodPackageInput {
  /** Key of the upload record (intent before the PUT, package id after). */
  instanceId: string;
  package: PackageRef;
}
export interface UploadPreprodPackageOutput {
  packageId: string;
  signingStatus?: string;
  /** The record already held the id: nothing was sent this time. */
  reused: boolean;
  bytesSent: number;
}

export interface GetPreprodStatusInput {
  instanceId: string;
  packageId: string;
  package: PackageRef;
}
export interface GetPreprodStatusOutput {
  phase: "notStarted" | "processing" | "succeeded" | "failed" | "unknown";
  /** As Microsoft wrote it (bounded). */
  signingStatus?: string;
  /** Failed: a bounded excerpt of error.message; the whole message is errorMessageBlob. */
  errorExcerpt?: string;
  errorMessageBlob?: BlobLocation;
}

export interface DownloadPreprodSignedInput {
  instanceId: string;
  packageId: string;
  package: PackageRef;
}
export interface DownloadPreprodSignedOutput {
  signedPackage: BlobLocation;
  assetId: string;
  /** Microsoft's contentHash, checked against the SHA-256 of the bytes stored. */
  contentHash: string;
}

/** Activity name → input/output types. The orchestrator calls activities only through this map. */
export interface ActivityContract {
  authenticate: { input: AuthenticateInput; output: AuthenticateOutput };
  checkResumeClaims: { input: CheckResumeClaimsInput; output: CheckResumeClaimsOutput };
  preflightPackage: { input: PreflightPackageInput; output: PreflightPackageOutput };
  createProduct: { input: CreateProductInput; output: CreateProductOutput };
  createSubmission: { input: CreateSubmissionInput; output: CreateSubmissionOutput };
  copyPackage: { input: CopyPackageInput; output: CopyPackageOutput };
  commitSubmission: { input: CommitSubmissionInput; output: CommitSubmissionOutput };
  getSubmissionStatus: { input: GetSubmissionStatusInput; output: NormalizedSubmissionStatus };
  downloadSignedPackage: { input: DownloadSignedPackageInput; output: DownloadSignedPackageOutput };
  verifySignedPackage: { input: VerifySignedPackageInput; output: VerifySignedPackageOutput };
  writeResultManifest: { input: WriteResultManifestInput; output: WriteResultManifestOutput };
  copyErrorReport: { input: CopyErrorReportInput; output: CopyErrorReportOutput };
  prepareShippingLabel: { input: PrepareShippingLabelInput; output: PrepareShippingLabelOutput };
  createShippingLabel: { input: CreateShippingLabelInput; output: CreateShippingLabelOutput };
  getShippingLabelStatus: { input: GetShippingLabelStatusInput; output: GetShippingLabelStatusOutput };
  updateShippingLabel: { input: UpdateShippingLabelInput; output: UpdateShippingLabelOutput };
  cancelShippingLabel: { input: CancelShippingLabelInput; output: CancelShippingLabelOutput };
  uploadPreprodPackage: { input: UploadPreprodPackageInput; output: UploadPreprodPackageOutput };
  getPreprodStatus: { input: GetPreprodStatusInput; output: GetPreprodStatusOutput };
  downloadPreprodSigned: { input: DownloadPreprodSignedInput; output: DownloadPreprodSignedOutput };
}
export type ActivityName = keyof ActivityContract;

export const ORCHESTRATOR_NAME = "submitDriver";
export const PUBLISH_LABEL_ORCHESTRATOR = "publishLabel";
/** Preproduction signing (issue 40): a run of its own, so submitDriver's histories are untouched. */
export const SIGN_PREPRODUCTION_ORCHESTRATOR = "signPreproduction";
/** One PATCH or cancel of a label, in the background (functions/labels.ts answers 202). */
export const CHANGE_LABEL_ORCHESTRATOR = "changeLabel";
export type ChangeLabelInput = LabelRef & {
  /** The submitDriver instance whose label it is (status routes). */
  parentInstanceId: string;
  retry: ActivityRetryPolicy;
} & ({ kind: "update"; targeting: LabelTargetingUpdate } | { kind: "cancel" });

/** Queues the webhook deliveries for one submission event (one deliverNotification orchestration per URL). */
export const QUEUE_NOTIFICATION = "queueNotification";
export interface QueueNotificationInput {
  /** The submission run; for an approval event, the publishLabel run. */
  instanceId: string;
  event: NotificationEvent | ApprovalNotificationEvent;
}

/** One delivery attempt of one CloudEvent to one configured webhook. */
export const SEND_WEBHOOK = "sendWebhook";
export interface SendWebhookInput {
  event: DeliverNotificationInput["event"];
  /** The receiver's stable id (inputs since issue 30). */
  receiverId?: string;
  /** A position in the list (inputs written before issue 30): dropped, never sent. */
  urlIndex?: number;
}
export type SendWebhookOutput =
  | { httpStatus: number; dropped?: undefined }
  /** Not sent: the receiver is no longer configured (or the delivery predates receiver ids). Why, without a URL. */
  | { dropped: string; httpStatus?: undefined };
