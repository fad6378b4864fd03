/**
 * The typed contract between the orchestrator and its activities.
 *
 * Every activity input and output lands in orchestration history (plain text in storage), so
 * nothing here may carry a token, a client secret or a SAS URL. Ids from Hardware Dev Center are
 * 64-bit and always travel as decimal strings.
 */

/** A driver package in our own storage. */
export interface PackageRef {
  container: string;
  blobName: string;
  /** ETag seen when the submission was requested (Event Grid data.eTag or a HEAD by the HTTP trigger). */
  etag?: string;
  contentLength?: number;
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
  /** Carried through continueAsNew; absent on the first generation. */
  carry?: PollingCarry;
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
export type CredentialKind = "clientSecret" | "keyVaultSecret" | "certificate" | "managedIdentity";

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

/** Small, normalised view of a submission (reference/hdc-api.md a.12). No URLs. */
export interface NormalizedSubmissionStatus {
  progress: "created" | "processing" | "succeeded" | "failed";
  commitStatus: string | null;
  currentStep: string | null;
  state: string | null;
  messages: string[];
  hasSignedPackage: boolean;
  hasDriverMetadata: boolean;
  /** Text of the fetched errorReport blob (truncated), only when the workflow failed. */
  errorReportText?: string;
}

export interface DownloadSignedPackageInput {
  instanceId: string;
  productId: string;
  submissionId: string;
  package: PackageRef;
}
export interface BlobLocation {
  container: string;
  blobName: string;
  contentLength?: number;
}
export interface DownloadSignedPackageOutput {
  signedPackage: BlobLocation;
  driverMetadata?: BlobLocation;
}

export interface WriteResultManifestInput {
  instanceId: string;
  manifest: ResultManifest;
}
export type WriteResultManifestOutput = BlobLocation;

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
  errorReportText?: string;
  /** For rejections and failures: which field or stage, and why. */
  reason?: string;
  signedPackage?: BlobLocation;
  driverMetadata?: BlobLocation;
  startedAt?: string;
  finishedAt: string;
}

/** Activity name → input/output types. The orchestrator calls activities only through this map. */
export interface ActivityContract {
  authenticate: { input: AuthenticateInput; output: AuthenticateOutput };
  createProduct: { input: CreateProductInput; output: CreateProductOutput };
  createSubmission: { input: CreateSubmissionInput; output: CreateSubmissionOutput };
  copyPackage: { input: CopyPackageInput; output: CopyPackageOutput };
  commitSubmission: { input: CommitSubmissionInput; output: CommitSubmissionOutput };
  getSubmissionStatus: { input: GetSubmissionStatusInput; output: NormalizedSubmissionStatus };
  downloadSignedPackage: { input: DownloadSignedPackageInput; output: DownloadSignedPackageOutput };
  writeResultManifest: { input: WriteResultManifestInput; output: WriteResultManifestOutput };
}
export type ActivityName = keyof ActivityContract;

export const ORCHESTRATOR_NAME = "submitDriver";

// ---------------------------------------------------------------------------------------------
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
  error?: string;
  signedPackage?: BlobLocation;
  manifest?: BlobLocation;
  updatedAt: string;
}
