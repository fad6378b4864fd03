/** The driver-sign commands. Each returns its one result document; driverSign.ts prints it and exits with its code. */
import * as fs from "node:fs";
import * as path from "node:path";
import { PACKAGE_EXTENSIONS } from "../src/domain/packageRules";
import { ApiClient } from "./api";
import { CliError, ExitCode } from "./exitCodes";
import { downloadVerified, hashFile, uploadPackageFile } from "./files";
import { rememberedUpload, rememberUpload } from "./uploadCache";
import { emptyResult, type FileDocument, type ResultDocument, type SubmissionDocument, toSubmissionDocument, withExit } from "./output";
import type { ProgressLine } from "./progress";

export interface WaitOptions {
  timeoutMs: number;
  pollMs: number;
}

const TERMINAL = new Set(["Completed", "Failed", "Terminated", "Canceled"]);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Microsoft failed it (workflow state failed, or commitFailed) as opposed to our service failing. */
export function rejectedByMicrosoft(doc: SubmissionDocument): boolean {
  return /^failed$/i.test(doc.state ?? "") || /^commitFailed$/i.test(doc.commitStatus ?? "");
}

function microsoftMessage(doc: SubmissionDocument): string {
  const parts = [`Microsoft rejected submission ${doc.id}`];
  if (doc.currentStep) parts[0] += ` at step ${doc.currentStep}`;
  if (doc.commitStatus && /^commitFailed$/i.test(doc.commitStatus)) parts[0] += ` (commitStatus ${doc.commitStatus})`;
  if (doc.messages.length > 0) parts.push(`Microsoft's messages: ${doc.messages.join(" | ")}`);
  if (doc.errorReportContent) parts.push(`Error report: ${doc.errorReportContent}`);
  if (doc.errorReport) parts.push(wholeReportNote(doc, doc.errorReport));
  return parts.join(". ");
}

/** Where Microsoft's whole report is (the message above carries only an excerpt). */
function wholeReportNote(doc: SubmissionDocument, report: NonNullable<SubmissionDocument["errorReport"]>): string {
  const size = report.bytes !== null ? ` (${report.bytes} bytes)` : "";
  return `The whole error report${size} is ${report.blob}; \`driver-sign download ${doc.id} --out <dir>\` fetches it (GET /api/submissions/${doc.id}/error-report)`;
}

/** The exit code, outcome and message a submission's state stands for. */
export function classify(doc: SubmissionDocument): Pick<ResultDocument, "exitCode" | "outcome" | "message"> {
  switch (doc.runtimeStatus) {
    case "Completed":
      // A drop the service refused (bad package or sidecar) is recorded as a completed "rejected" run.
      if (doc.stage === "rejected") {
        return { exitCode: ExitCode.InvalidState, outcome: "rejected", message: `Package of ${doc.id} was rejected before anything was submitted: ${doc.error ?? "no reason given"}` };
      }
      return { exitCode: ExitCode.Signed, outcome: "signed", message: `Submission ${doc.id} is signed` };
    case "Failed":
      return rejectedByMicrosoft(doc)
        ? { exitCode: ExitCode.RejectedByMicrosoft, outcome: "rejected", message: microsoftMessage(doc) }
        : { exitCode: ExitCode.ApiError, outcome: "failed", message: `Submission ${doc.id} failed: ${doc.error ?? "no reason given"}` };
    case "Terminated":
    case "Canceled":
      return { exitCode: ExitCode.InvalidState, outcome: "canceled", message: `Submission ${doc.id} was canceled` };
    default:
      return { exitCode: ExitCode.Signed, outcome: "running", message: `Submission ${doc.id} is at stage ${doc.stage}` };
  }
}

/**
 * Polls until the submission ends or the client's timeout passes. The timeout ends only this wait:
 * the submission goes on, and the same command run again waits for the same one. Transient API
 * errors (5xx, network, 429) while waiting are retried until the timeout.
 */
export async function waitForEnd(api: ApiClient, id: string, options: WaitOptions, progress: ProgressLine): Promise<{ doc: SubmissionDocument; timedOut: boolean }> {
  const deadline = Date.now() + options.timeoutMs;
  let last: SubmissionDocument | undefined;
  for (;;) {
    try {
      last = toSubmissionDocument(await api.status(id));
    } catch (error) {
      const transient = error instanceof CliError && (error.exitCode === ExitCode.ApiError || error.exitCode === ExitCode.RateLimited);
      if (!transient || !last) throw error;
      progress.note(`(${error.message}; trying again)`);
    }
    const doc = last;
    if (TERMINAL.has(doc.runtimeStatus)) {
      progress.submission(doc, undefined);
      progress.clear();
      return { doc, timedOut: false };
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      progress.clear();
      return { doc, timedOut: true };
    }
    const pause = Math.min(options.pollMs, remaining);
    progress.submission(doc, pause);
    await sleep(pause);
  }
}

/** Downloads manifest, signed package and driver metadata of a signed submission into `dir`. */
export async function downloadResults(api: ApiClient, doc: SubmissionDocument, dir: string, progress: ProgressLine): Promise<FileDocument[]> {
  const files: FileDocument[] = [];
  const manifestUrl = await api.resultUrl(doc.id, "manifest");
  let manifest: { signedPackage?: { contentLength?: number }; driverMetadata?: { contentLength?: number } } = {};
  if (manifestUrl) {
    const file = await downloadVerified(manifestUrl, dir, "manifest", "manifest.json");
    files.push(file);
    try {
      manifest = JSON.parse(fs.readFileSync(file.path, "utf8")) as typeof manifest;
    } catch {
      throw new CliError(ExitCode.Io, `The downloaded manifest ${file.path} is not JSON`);
    }
  }
  const signedUrl = await api.resultUrl(doc.id, "signed-package");
  if (!signedUrl) throw new CliError(ExitCode.NotFound, `Submission ${doc.id} has no signed package`);
  progress.note(`Downloading the signed package of ${doc.id}`);
  files.push(await downloadVerified(signedUrl, dir, "signedPackage", `Signed_${doc.submissionId ?? doc.id}.zip`, manifest.signedPackage?.contentLength));
  const metadataUrl = await api.resultUrl(doc.id, "driver-metadata");
  if (metadataUrl) {
    files.push(
      await downloadVerified(metadataUrl, dir, "driverMetadata", `driverMetadata_${doc.submissionId ?? doc.id}.json`, manifest.driverMetadata?.contentLength),
    );
  }
  return files;
}

/** A failed submission's manifest and Microsoft's whole error report, into `dir` (issue 29). */
export async function downloadFailureFiles(api: ApiClient, doc: SubmissionDocument, dir: string, progress: ProgressLine): Promise<FileDocument[]> {
  const files: FileDocument[] = [];
  let manifest: { errorReportBlob?: { contentLength?: number } } = {};
  const manifestUrl = await api.resultUrl(doc.id, "manifest");
  if (manifestUrl) {
    const file = await downloadVerified(manifestUrl, dir, "manifest", "manifest.json");
    files.push(file);
    try {
      manifest = JSON.parse(fs.readFileSync(file.path, "utf8")) as typeof manifest;
    } catch {
      throw new CliError(ExitCode.Io, `The downloaded manifest ${file.path} is not JSON`);
    }
  }
  const reportUrl = await api.resultUrl(doc.id, "error-report");
  if (reportUrl) {
    progress.note(`Downloading Microsoft's error report of ${doc.id}`);
    const expected = manifest.errorReportBlob?.contentLength ?? doc.errorReport?.bytes ?? undefined;
    files.push(await downloadVerified(reportUrl, dir, "errorReport", `errorReport_${doc.submissionId ?? doc.id}.txt`, expected));
  }
  return files;
}

/** The verdict of a failed submission with its files downloaded, the message saying where the report went. */
async function withFailureFiles(
  api: ApiClient,
  result: ResultDocument,
  doc: SubmissionDocument,
  verdict: Pick<ResultDocument, "exitCode" | "outcome" | "message">,
  dir: string,
  progress: ProgressLine,
): Promise<ResultDocument> {
  const files = await downloadFailureFiles(api, doc, dir, progress);
  const report = files.find((file) => file.kind === "errorReport");
  const message = report ? `${verdict.message}. The whole error report was downloaded to ${report.path}` : verdict.message;
  return { ...result, ...verdict, message, files };
}

async function finishWait(
  api: ApiClient,
  result: ResultDocument,
  id: string,
  wait: WaitOptions,
  out: string | undefined,
  progress: ProgressLine,
): Promise<ResultDocument> {
  const { doc, timedOut } = await waitForEnd(api, id, wait, progress);
  const base = { ...result, id, submission: doc };
  if (timedOut) {
    return withExit(
      base,
      ExitCode.Timeout,
      "timeout",
      `Stopped waiting after ${Math.round(wait.timeoutMs / 1000)} s; submission ${id} goes on (stage ${doc.stage}). Run the same command again to resume waiting.`,
    );
  }
  const verdict = classify(doc);
  if (out && doc.runtimeStatus === "Failed" && doc.errorReport) return withFailureFiles(api, base, doc, verdict, out, progress);
  let files: FileDocument[] = [];
  if (verdict.outcome === "signed" && out) files = await downloadResults(api, doc, out, progress);
  return { ...base, ...verdict, files };
}

export interface SubmitOptions {
  productFile?: string;
  /** Ask for Microsoft's preproduction signing (issue 40) instead of a product submission. */
  preproduction?: boolean;
  wait: boolean;
  out?: string;
  waitOptions: WaitOptions;
  /** Where the ids of this machine's uploads are remembered (uploadCache.ts); none: every run uploads. */
  uploadCacheDir?: string;
}

function readProduct(productFile: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(productFile, "utf8");
  } catch (error) {
    throw new CliError(ExitCode.Io, `Reading --product ${productFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    const product: unknown = JSON.parse(text);
    if (product === null || typeof product !== "object" || Array.isArray(product)) throw new Error("not an object");
    return product;
  } catch {
    throw new CliError(ExitCode.BadArguments, `--product ${productFile} must hold a JSON object of product fields`);
  }
}

export async function submit(api: ApiClient, packagePath: string, options: SubmitOptions, progress: ProgressLine): Promise<ResultDocument> {
  const fileName = path.basename(packagePath);
  if (!PACKAGE_EXTENSIONS.some((extension) => fileName.toLowerCase().endsWith(extension) && fileName.length > extension.length)) {
    throw new CliError(ExitCode.BadArguments, `<package> must be a ${PACKAGE_EXTENSIONS.join(", ")} file; got ${fileName}`);
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(packagePath);
  } catch (error) {
    throw new CliError(ExitCode.Io, `Reading ${packagePath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!stat.isFile()) throw new CliError(ExitCode.Io, `${packagePath} is not a file`);
  // A `publish` section in the product file (issue 11) travels as the request's own `publish` field;
  // the server validates it (400 naming publish.<field>) before anything starts.
  const { publish, ...productFields } = (options.productFile ? readProduct(options.productFile) : {}) as Record<string, unknown>;
  const product = Object.keys(productFields).length > 0 ? productFields : undefined;

  progress.note(`Hashing ${fileName} (${stat.size} bytes)`);
  const { sha256, size } = await hashFile(packagePath);
  const cacheKey = { apiBase: api.base, fileName, sha256, size };
  const earlier = options.uploadCacheDir ? rememberedUpload(options.uploadCacheDir, cacheKey) : undefined;
  const ticket = await api.createUpload({ fileName, sha256, size, ...(product ? { product } : {}), ...(earlier ?? {}) });
  if (ticket.exists) {
    progress.note(`${ticket.package} already holds this package (SHA-256 ${sha256.slice(0, 16)}…); not uploading again`);
  } else {
    if (options.uploadCacheDir && ticket.uploadId && ticket.uploadKey) {
      const problem = rememberUpload(options.uploadCacheDir, cacheKey, { uploadId: ticket.uploadId, uploadKey: ticket.uploadKey });
      if (problem) progress.note(`Could not remember upload ${ticket.uploadId} in ${options.uploadCacheDir} (${problem}); a re-run will upload again`);
    }
    progress.note(`Uploading to ${ticket.package}`);
    await uploadPackageFile(ticket.uploadUrl, packagePath, {
      metadata: ticket.metadata,
      onProgress: (done) => progress.bytes("Uploading", done, size),
    });
    progress.clear();
  }
  const started = await api.startSubmission({
    package: ticket.package,
    ...(product ? { product } : {}),
    ...(publish !== undefined ? { publish } : {}),
    ...(options.preproduction ? { signing: "preproduction" as const } : {}),
  });
  progress.note(
    started.how === "started"
      ? `Started submission ${started.id}`
      : started.how === "running"
        ? `Submission ${started.id} for this package is already running; following it`
        : `Submission ${started.id} already signed this package`,
  );
  const result: ResultDocument = { ...emptyResult("submit"), id: started.id, package: ticket.package, uploaded: !ticket.exists };
  if (options.wait || options.out) return finishWait(api, result, started.id, options.waitOptions, options.out, progress);
  const doc = toSubmissionDocument(await api.status(started.id));
  return { ...result, submission: doc, ...classify(doc) };
}

export async function status(api: ApiClient, id: string): Promise<ResultDocument> {
  const doc = toSubmissionDocument(await api.status(id));
  return { ...emptyResult("status"), id, submission: doc, ...classify(doc) };
}

export function wait(api: ApiClient, id: string, options: WaitOptions, out: string | undefined, progress: ProgressLine): Promise<ResultDocument> {
  return finishWait(api, emptyResult("wait"), id, options, out, progress);
}

export async function download(api: ApiClient, id: string, out: string, progress: ProgressLine): Promise<ResultDocument> {
  const doc = toSubmissionDocument(await api.status(id));
  const result = { ...emptyResult("download"), id, submission: doc };
  const verdict = classify(doc);
  if (verdict.outcome !== "signed") {
    // Nothing to download from a rejected or running submission; say why with the state's exit code.
    if (verdict.outcome === "running") return withExit(result, ExitCode.InvalidState, "running", `Submission ${id} is not signed yet (stage ${doc.stage})`);
    // A failed one keeps its exit code; what there is to read (manifest, Microsoft's whole report) is fetched.
    if (doc.runtimeStatus === "Failed" && doc.errorReport) return withFailureFiles(api, result, doc, verdict, out, progress);
    return { ...result, ...verdict };
  }
  const files = await downloadResults(api, doc, out, progress);
  return { ...withExit(result, ExitCode.Signed, "downloaded", `Downloaded ${files.length} files of ${id} to ${out}`), files };
}

export async function list(api: ApiClient, statuses: string | undefined): Promise<ResultDocument> {
  const submissions = (await api.list(statuses)).map(toSubmissionDocument);
  return withExit({ ...emptyResult("list"), submissions }, ExitCode.Signed, "listed", `${submissions.length} submissions`);
}

/**
 * The audit trail (issue 33) as JSON Lines, every page, to `write` (a file or stdout); Sign.Operate only.
 * Each line is checked to be a JSON object before it is passed on.
 */
export async function audit(api: ApiClient, query: Record<string, string>, write: (lines: string) => Promise<void>): Promise<ResultDocument> {
  let count = 0;
  let next: string | undefined;
  do {
    const page = await api.auditLines(query, next);
    const lines = page.lines.split("\n").filter((line) => line.trim() !== "");
    for (const line of lines) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw new CliError(ExitCode.ApiError, "GET /api/audit answered a line that is not JSON");
      }
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new CliError(ExitCode.ApiError, "GET /api/audit answered a line that is not a record");
    }
    if (lines.length > 0) await write(`${lines.join("\n")}\n`);
    count += lines.length;
    next = page.next;
  } while (next);
  return withExit(emptyResult("audit"), ExitCode.Signed, "listed", `${count} audit records`);
}

export async function cancel(api: ApiClient, id: string): Promise<ResultDocument> {
  await api.cancel(id);
  return withExit({ ...emptyResult("cancel"), id }, ExitCode.Signed, "cancelRequested", `Cancel requested for ${id}; Microsoft keeps processing a committed submission`);
}

/**
 * approve / reject (issue 34): the decision on the label run waiting for approval. The service fills
 * in who decided (the token's user) and when; the requester of the label is refused (exit 2).
 */
export async function decide(api: ApiClient, id: string, decision: "approve" | "reject", comment: string, labelRun?: string): Promise<ResultDocument> {
  const answer = await api.decideApproval(id, { decision, comment, ...(labelRun !== undefined ? { labelRun } : {}) });
  const run = typeof answer.labelRun === "string" ? answer.labelRun : (labelRun ?? "the waiting label run");
  const text = decision === "approve" ? `Approved ${run}: the label is created next` : `Rejected ${run}: no label is created`;
  return withExit({ ...emptyResult(decision), id }, ExitCode.Signed, "decided", `${text}; follow it with GET ${String(answer.statusUrl ?? `/api/submissions/${id}/labels`)}`);
}
