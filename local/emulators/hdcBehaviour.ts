/**
 * How the Hardware Dev Center emulator behaves in a run: latency, throttling, scripted faults,
 * commit outcome, workflow schedule, and the wire quirks of reference/hdc-api.md a.7/a.14
 * (enum casing, numeric currentStep, missing workflowStatus). Set at start and changed live
 * through the control API with a partial JSON merge.
 */
import type { TokenExpiryClock } from "./tokenRegistry";

/** Transient faults, and refusals (400/403/404/409/422) that retrying cannot fix. */
export type FaultStatus = 400 | 401 | 403 | 404 | 409 | 422 | 429 | 500 | 502 | 503;

export interface ScriptedFault {
  /** HTTP method to match (any when omitted). */
  method?: string;
  /** Regular expression tested against the request path, e.g. "/commit$" (any when omitted). */
  pathRegex?: string;
  /** Status to answer; omitted = only delay (delayMs), then answer normally. */
  status?: FaultStatus;
  /** error.message of the fault's answer (default: "Scripted fault (<status>) from the emulator."). */
  message?: string;
  /** How many matching requests get the fault. */
  times: number;
  retryAfterSeconds?: number;
  /** Perform the operation first, then answer the fault (e.g. a commit that happened but answered 502). */
  afterApplying?: boolean;
  /** Hold the response this long (e.g. past the client's timeout). */
  delayMs?: number;
}

export interface WorkflowBehaviour {
  /** Duration of each ingestion step (each third: notStarted, started, completed). 0 = finish at once. */
  stepSeconds: number;
  /** Time from commit to commitComplete/commitFailed (commitReceived in between). */
  commitSeconds: number;
  /** Step name (e.g. "validation") that fails once started. */
  failAtStep?: string;
  failMessages?: string[];
  errorReportText?: string;
  /**
   * Size in bytes of the error report of a failing submission (e.g. 204800 for a large HLK log):
   * errorReportText (or the default text) first, then numbered filler lines, ending with
   * SIZED_REPORT_END_MARKER so a reader can tell the tail arrived. Absent = just the text.
   */
  errorReportBytes?: number;
}

/** The last line of a report sized by errorReportBytes. */
export const SIZED_REPORT_END_MARKER = "END-OF-EMULATED-ERROR-REPORT";

/** `head` padded with numbered ASCII lines to exactly `bytes` bytes, the end marker last (cut to fit when small). */
export function sizedErrorReport(head: string, bytes: number): string {
  const tail = `\n${SIZED_REPORT_END_MARKER}\n`;
  let body = head;
  for (let line = 1; Buffer.byteLength(body) + Buffer.byteLength(tail) < bytes; line++) {
    body += `\nemulated HLK log line ${String(line).padStart(6, "0")}: test case passed or failed as scripted`;
  }
  const full = Buffer.from(body + tail);
  if (full.length <= bytes) return full.toString("utf8");
  // Over by part of the last filler line: drop bytes just before the tail (filler is ASCII).
  const keep = Buffer.byteLength(body) - (full.length - bytes);
  return Buffer.from(body).subarray(0, Math.max(0, keep)).toString("utf8") + tail;
}

export interface HdcBehaviour {
  latencyMs: number;
  /** null = unlimited. */
  rateLimit: { requestsPerSecond: number } | null;
  faults: ScriptedFault[];
  commitOutcome: "complete" | "failed";
  workflow: WorkflowBehaviour;
  /** camel: commitPending/packageInfoValidation/notStarted; pascal: CommitPending/PackageInfoValidation/NotStarted. */
  enumCase: "camel" | "pascal";
  /** Send workflowStatus.currentStep as its 0-based index in the documented step order. */
  numericCurrentStep: boolean;
  /** Never send workflowStatus (the field is missing). */
  omitWorkflowStatus: boolean;
  /** Lifetime of every SAS URL the emulator hands out. */
  sasTtlSeconds: number;
  /**
   * Replaces scheme, host and port of every blob URL handed out (upload, signed package, driver
   * metadata, error report), e.g. "https://evil.example" to test the app's host allow-list; null
   * hands out Azurite's own URLs.
   */
  downloadUrlOrigin: string | null;
  /** Lifetime of access tokens from the Entra emulator (expires_in). */
  tokenLifetimeSeconds: number;
  /** Which clock expires tokens (see TokenExpiryClock); "real" keeps cached SDK tokens usable across clock pushes. */
  tokenExpiryClock: TokenExpiryClock;
  /** Shipping labels (shippingLabels.ts): dwell times, scripted failure, metadata delay; merged field by field. */
  labels?: Partial<LabelBehaviour>;
  /** Preproduction signing (preprod.ts): status timing, outcome, quirks; merged field by field. */
  preprod?: Partial<PreprodBehaviour>;
  /**
   * The signed package of a CAB submission (signedPackage.ts): "valid" (catalogs signed by the local
   * test publisher), "infChanged" (the first INF differs from the submitted one), "untrustedRoot"
   * (catalogs signed under a root nobody trusts), "noWhqlEku" (signed without the WHQL EKU).
   */
  signedPackage: SignedPackageMode;
}

export type SignedPackageMode = "valid" | "infChanged" | "untrustedRoot" | "noWhqlEku";
export const SIGNED_PACKAGE_MODES: readonly SignedPackageMode[] = ["valid", "infChanged", "untrustedRoot", "noWhqlEku"];

/** A partial behaviour; `workflow` merges field by field, `faults` replaces the list. */
export type HdcBehaviourPatch = Partial<Omit<HdcBehaviour, "workflow">> & { workflow?: Partial<WorkflowBehaviour> };

export const DEFAULT_BEHAVIOUR: HdcBehaviour = {
  latencyMs: 0,
  rateLimit: null,
  faults: [],
  commitOutcome: "complete",
  workflow: { stepSeconds: 30, commitSeconds: 5 },
  enumCase: "camel",
  numericCurrentStep: false,
  omitWorkflowStatus: false,
  sasTtlSeconds: 3600,
  downloadUrlOrigin: null,
  tokenLifetimeSeconds: 3600,
  tokenExpiryClock: "real",
  signedPackage: "valid",
};

const FAULT_STATUSES = new Set<number>([400, 401, 403, 404, 409, 422, 429, 500, 502, 503]);

function assertValid(behaviour: HdcBehaviour): void {
  const problems: string[] = [];
  const nonNegative = (name: string, value: number) => {
    if (!Number.isFinite(value) || value < 0) problems.push(`${name} must be a number >= 0`);
  };
  nonNegative("latencyMs", behaviour.latencyMs);
  nonNegative("sasTtlSeconds", behaviour.sasTtlSeconds);
  nonNegative("tokenLifetimeSeconds", behaviour.tokenLifetimeSeconds);
  nonNegative("workflow.stepSeconds", behaviour.workflow.stepSeconds);
  nonNegative("workflow.commitSeconds", behaviour.workflow.commitSeconds);
  const reportBytes = behaviour.workflow.errorReportBytes;
  if (reportBytes !== undefined && reportBytes !== null && !(Number.isInteger(reportBytes) && reportBytes >= 64 && reportBytes <= 64 * 1024 * 1024)) {
    problems.push("workflow.errorReportBytes must be an integer from 64 to 67108864");
  }
  if (behaviour.rateLimit && !(behaviour.rateLimit.requestsPerSecond > 0)) problems.push("rateLimit.requestsPerSecond must be > 0");
  if (!["complete", "failed"].includes(behaviour.commitOutcome)) problems.push("commitOutcome must be complete or failed");
  if (!["real", "emulator"].includes(behaviour.tokenExpiryClock)) problems.push("tokenExpiryClock must be real or emulator");
  if (behaviour.downloadUrlOrigin !== null) {
    let origin: string | undefined;
    try {
      origin = new URL(behaviour.downloadUrlOrigin).origin;
    } catch {
      origin = undefined;
    }
    if (origin === undefined || origin === "null") problems.push("downloadUrlOrigin must be null or an origin like https://host:port");
  }
  if (!["camel", "pascal"].includes(behaviour.enumCase)) problems.push("enumCase must be camel or pascal");
  if (!SIGNED_PACKAGE_MODES.includes(behaviour.signedPackage)) problems.push(`signedPackage must be one of ${SIGNED_PACKAGE_MODES.join(", ")}`);
  if (!Array.isArray(behaviour.faults)) problems.push("faults must be an array");
  else {
    behaviour.faults.forEach((fault, index) => {
      if (fault.status !== undefined && !FAULT_STATUSES.has(fault.status)) problems.push(`faults[${index}].status must be one of ${[...FAULT_STATUSES].join(", ")}`);
      if (fault.message !== undefined && typeof fault.message !== "string") problems.push(`faults[${index}].message must be a string`);
      if (fault.status === undefined && fault.delayMs === undefined) problems.push(`faults[${index}] needs a status or a delayMs`);
      if (!(fault.times >= 1)) problems.push(`faults[${index}].times must be >= 1`);
      if (fault.pathRegex !== undefined) {
        try {
          new RegExp(fault.pathRegex);
        } catch {
          problems.push(`faults[${index}].pathRegex is not a valid regular expression`);
        }
      }
    });
  }
  if (behaviour.preprod !== undefined) problems.push(...preprodBehaviourProblems(behaviour.preprod));
  if (problems.length > 0) throw new Error(`Invalid emulator behaviour: ${problems.join("; ")}`);
}

const PREPROD_CHECKS: { [K in keyof PreprodBehaviour]-?: [test: (value: unknown) => boolean, must: string] } = {
  notStartedSeconds: [(v) => typeof v === "number" && Number.isFinite(v) && v >= 0, "be a number >= 0"],
  processingSeconds: [(v) => typeof v === "number" && Number.isFinite(v) && v >= 0, "be a number >= 0"],
  outcome: [(v) => v === "succeeded" || v === "failed", "be succeeded or failed"],
  failureMessage: [(v) => typeof v === "string", "be a string"],
  failureMessageBytes: [(v) => Number.isInteger(v) && (v as number) >= 64 && (v as number) <= 16 * 1024 * 1024, "be an integer from 64 to 16777216"],
  statusCase: [(v) => v === "pascal" || v === "camel" || v === "upper", "be pascal, camel or upper"],
  processingStatusText: [(v) => typeof v === "string" && v.trim() !== "", "be a non-empty string"],
  contentHashEncoding: [(v) => v === "hex" || v === "base64", "be hex or base64"],
  corruptContentHash: [(v) => typeof v === "boolean", "be true or false"],
};

/**
 * What is wrong with preprod settings, each naming its field. Checked when they are set (not first
 * at the next PUT, where a bad value would surface as an emulator failure mid-test); a present but
 * undefined/null optional field means "back to the default".
 */
export function preprodBehaviourProblems(preprod: unknown): string[] {
  if (typeof preprod !== "object" || preprod === null || Array.isArray(preprod)) return ["preprod must be an object"];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(preprod)) {
    const check = PREPROD_CHECKS[key as keyof PreprodBehaviour];
    if (!check) problems.push(`preprod.${key} is not a preprod setting (${Object.keys(PREPROD_CHECKS).join(", ")})`);
    else if (value !== undefined && value !== null && !check[0](value)) problems.push(`preprod.${key} must ${check[1]}`);
  }
  return problems;
}

export function mergeBehaviour(base: HdcBehaviour, patch: HdcBehaviourPatch = {}): HdcBehaviour {
  const merged: HdcBehaviour = {
    ...base,
    ...patch,
    workflow: { ...base.workflow, ...(patch.workflow ?? {}) },
    ...(base.labels || patch.labels ? { labels: { ...base.labels, ...patch.labels } } : {}),
    // A preprod that is not an object is kept as sent, for assertValid to name.
    ...(base.preprod || patch.preprod
      ? { preprod: typeof patch.preprod === "object" || patch.preprod === undefined ? { ...base.preprod, ...patch.preprod } : patch.preprod }
      : {}),
    faults: (patch.faults ?? base.faults).map((fault) => ({ ...fault })),
  };
  assertValid(merged);
  return merged;
}

/** How the shipping-label workflow behaves (shippingLabels.ts reads it); here so behaviour imports nothing that uses it. */
export interface LabelBehaviour {
  /** Each ordinary step (thirds: notStarted, started, completed). 0 = instant. */
  stepSeconds: number;
  /** Dwell at microsoftApproval/started (Windows Update). */
  approvalSeconds: number;
  /** Gradual rollout after approval (0 = none); reported under rolloutStepName (undocumented). */
  rolloutSeconds: number;
  rolloutStepName: string;
  /** How a finished Windows Update label reads: finalizePublishing/completed, or state "published" (nefarius). */
  finalState: "completed" | "published";
  /** Step (e.g. "publishJobValidation") that fails once started. */
  failAtStep?: string;
  failMessages?: string[];
  errorReportText?: string;
  /** Time between PUT .../cancel and the label showing state failed. */
  cancelSeconds: number;
  /** After a PATCH, further PATCHes get "another workflow is in progress" for this long. */
  patchSeconds: number;
  /** GETs of a signed submission that still lack the driverMetadata item. */
  metadataDelayPolls: number;
  /** Products treated as shared-in (read-only): label creation refused. */
  readOnlyProductIds: string[];
}

export const DEFAULT_LABEL_BEHAVIOUR: LabelBehaviour = {
  stepSeconds: 60,
  approvalSeconds: 86_400,
  rolloutSeconds: 0,
  rolloutStepName: "gradualRollout",
  finalState: "completed",
  cancelSeconds: 0,
  patchSeconds: 0,
  metadataDelayPolls: 0,
  readOnlyProductIds: [],
};

/** How preproduction signing behaves (preprod.ts reads it; defaults there); here so behaviour imports nothing that uses it. */
export interface PreprodBehaviour {
  /** Time a new package reads NotStarted. */
  notStartedSeconds: number;
  /** Time it then reads Processing before its outcome. */
  processingSeconds: number;
  outcome: "succeeded" | "failed";
  /** error.message of a Failed package. */
  failureMessage: string;
  /** Pads failureMessage to this many bytes (numbered lines, SIZED_REPORT_END_MARKER last). */
  failureMessageBytes?: number;
  /** How signingStatus is spelled: "pascal" NotStarted (the docs), "camel" notStarted, "upper" NOTSTARTED. */
  statusCase: "pascal" | "camel" | "upper";
  /** Served instead of "Processing" (an undocumented value the client must wait through), e.g. "Queued". */
  processingStatusText?: string;
  /** How contentHash is written: "hex" or "base64" (the docs do not say). */
  contentHashEncoding: "hex" | "base64";
  /** Serve a contentHash that does not match the bytes (to prove the client checks it). */
  corruptContentHash: boolean;
}
