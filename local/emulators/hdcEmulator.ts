/**
 * Hardware Dev Center emulator: rows 1-9 of reference/hdc-api.md a.4 under /v2.0/my/, with the
 * service's wire format and quirks (64-bit ids as raw JSON numbers, camel/Pascal enums, SAS
 * upload slots in Azurite, a commit that is checked against what really arrived, and a workflow
 * that advances with the emulator clock and ends in a real signed package blob).
 */
import * as crypto from "node:crypto";
import { EmulatorClock } from "./clock";
import { HdcBehaviour, ScriptedFault } from "./hdcBehaviour";
import { sizedErrorReport } from "./hdcBehaviour";
import { HdcBlobs, INGESTION_CONTAINER, REPORTS_CONTAINER, SIGNED_CONTAINER } from "./hdcBlobs";
import { HdcStore, ProductRecord, SubmissionRecord, ValidationError, validateNewProduct, validateProductUpdate } from "./hdcStore";
import { EmulatorHandler, EmulatorRequest, EmulatorResponse, jsonResponse } from "./httpServer";
import { createPreprodRoutes, type PreprodSummary } from "./preprod";
import { createShippingLabelRoutes } from "./shippingLabels";
import { TokenRegistry } from "./tokenRegistry";
import { FaultInjector, RateLimiter, sleep } from "./trafficShaping";
import { SUBMISSION_STEPS, WorkflowView, evaluateWorkflow, inCase } from "./workflow";

export const HDC_BASE_PATH = "/v2.0/my/";
export const HDC_RESOURCE = "https://manage.devcenter.microsoft.com";
/** Hosts in `links` are deliberately not the emulator's: clients must build URLs from ids (a.1). */
const LINK_BASE = "https://manage.devcenter.microsoft.com/v2.0/my/hardware";

export interface HdcEmulatorOptions {
  registry: TokenRegistry;
  clock: EmulatorClock;
  blobs: HdcBlobs;
  behaviour: () => HdcBehaviour;
  faults: FaultInjector;
  /** Keep products and submissions in this file across restarts (see HdcStore). */
  stateFile?: string;
  /** Azurite, for the signed zips of preprod packages (preprod.ts). */
  azuriteConnectionString: string;
}

export interface SubmissionSummary {
  id: string;
  name: string;
  type: string;
  commitStatus: string;
  currentStep?: string;
  state?: string;
  uploadBlob: string;
  upload?: { length: number; md5: string; sha256: string };
  signedPackage?: { container: string; blob: string; metadataBlob: string };
  errorReport?: { container: string; blob: string };
}

export interface ProductSummary {
  id: string;
  productName: unknown;
  testHarness: unknown;
  isCommitted: boolean;
  submissions: SubmissionSummary[];
}

export interface HdcEmulator {
  handler: EmulatorHandler;
  summary(): ProductSummary[];
  /** Preprod packages (section f), oldest first. */
  preprodSummary(): PreprodSummary[];
  reset(): void;
}

const hdcError = (status: number, kind: string, code: string, message: string, validationErrors?: ValidationError[], headers?: Record<string, string>) =>
  jsonResponse(status, kind, { error: { code, message, ...(validationErrors ? { validationErrors } : {}), httpErrorCode: status } }, headers);

const empty = (status: number, kind: string): EmulatorResponse => ({ status, kind });

function parseJsonObject(body: Buffer): Record<string, unknown> | undefined {
  if (body.length === 0) return {};
  try {
    const value: unknown = JSON.parse(body.toString("utf8"));
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

interface Operation {
  kind: string;
  run(): Promise<EmulatorResponse>;
}

export function createHdcEmulator(options: HdcEmulatorOptions): HdcEmulator {
  const { clock, blobs, registry } = options;
  const store = new HdcStore(options.stateFile ? { file: options.stateFile, clock } : undefined);
  const saveOwner = (submission: SubmissionRecord) => {
    const product = store.product(submission.productId.toString());
    if (product) store.save(product);
  };
  const rateLimiter = new RateLimiter();
  const behaviour = options.behaviour;

  // Real time, not the emulator clock: Azurite enforces `se` (and the app reads it) in real time, so a
  // lifetime counted on a virtual clock that runs ahead would make sasTtlSeconds meaningless.
  const sasExpiry = () => new Date(Date.now() + behaviour().sasTtlSeconds * 1000);
  /** A SAS URL for the client, on another origin when the behaviour says so (downloadUrlOrigin). */
  const handOut = async (...args: Parameters<HdcBlobs["sasUrl"]>): Promise<string> => {
    const url = new URL(await blobs.sasUrl(...args));
    const origin = behaviour().downloadUrlOrigin;
    return origin === null ? url.toString() : `${new URL(origin).origin}${url.pathname}${url.search}`;
  };
  // Shipping labels, audiences and the rich driver metadata live in shippingLabels.ts.
  const labels = createShippingLabelRoutes({ store, clock, blobs, behaviour, sasExpiry, linkBase: LINK_BASE });
  // Preproduction signing (PUT of the raw package, signingStatus, bare-array assets) lives in preprod.ts.
  const preprod = createPreprodRoutes({ clock, azuriteConnectionString: options.azuriteConnectionString, behaviour: () => behaviour().preprod, basePath: HDC_BASE_PATH });
  const productLinks = (id: bigint) => [
    { href: `${LINK_BASE}/products/${id}`, rel: "self", method: "GET" },
    { href: `${LINK_BASE}/products/${id}/submissions`, rel: "get_submissions", method: "GET" },
  ];
  const submissionLinks = (productId: bigint, id: bigint) => [
    { href: `${LINK_BASE}/products/${productId}/submissions/${id}`, rel: "self", method: "GET" },
    { href: `${LINK_BASE}/products/${productId}/submissions/${id}/commit`, rel: "commit_submission", method: "POST" },
    { href: `${LINK_BASE}/products/${productId}/submissions/${id}`, rel: "update_submission", method: "PATCH" },
  ];

  function productJson(product: ProductRecord) {
    return {
      id: product.id,
      sharedProductId: product.sharedProductId,
      links: productLinks(product.id),
      isCommitted: product.isCommitted,
      isExtensionInf: false,
      ...product.fields,
      originType: "author",
      sourceProductId: 0,
      sourcePublisherId: 0,
      isRetpolineCompiled: false,
      createdBy: "hdc-emulator",
      createdDateTime: product.createdDateTime,
      updatedDateTime: product.updatedDateTime,
    };
  }

  /** Publishes the signed package or the error report the first time the schedule calls for it. */
  async function applySideEffects(submission: SubmissionRecord, view: WorkflowView): Promise<void> {
    if (view.finished && !submission.published && submission.upload) {
      const upload = submission.upload;
      submission.publishing ??= blobs
        .publishSigned(submission.uploadBlob, submission.id.toString(), upload, sasExpiry(), behaviour().signedPackage)
        .then((published) => {
          submission.published = published;
          saveOwner(submission);
        })
        .finally(() => {
          submission.publishing = undefined;
        });
      await submission.publishing;
    }
    if (view.stepFailed && !submission.errorReportBlob && view.step) {
      const step = SUBMISSION_STEPS[view.step.index];
      const workflow = submission.commit?.workflow;
      const head = workflow?.errorReportText ?? [`Submission ${submission.id} failed at step ${step}.`, ...view.step.messages].join("\n");
      const text = workflow?.errorReportBytes ? sizedErrorReport(head, workflow.errorReportBytes) : head;
      submission.errorReportBlob = await blobs.writeErrorReport(submission.id.toString(), text);
      saveOwner(submission);
    }
  }

  async function submissionJson(submission: SubmissionRecord, detailed: boolean) {
    const current = behaviour();
    const view = evaluateWorkflow(submission.commit, clock.nowMs());
    const base = {
      id: submission.id,
      productId: submission.productId,
      name: submission.name,
      type: submission.type,
      commitStatus: inCase(view.commitStatus, current.enumCase),
      isExtensionInf: false,
      isUniversal: true,
      isDeclarativeInf: true,
      links: submissionLinks(submission.productId, submission.id),
      createdBy: "hdc-emulator",
      createdDateTime: submission.createdDateTime,
    };
    if (!detailed) return base;
    await applySideEffects(submission, view);

    let workflowStatus: Record<string, unknown> | undefined;
    if (view.step && !current.omitWorkflowStatus) {
      const stepName = SUBMISSION_STEPS[view.step.index];
      workflowStatus = {
        currentStep: current.numericCurrentStep ? view.step.index : inCase(stepName, current.enumCase),
        state: inCase(view.step.state, current.enumCase),
        messages: view.step.messages,
        ...(view.stepFailed && submission.errorReportBlob
          ? { errorReport: await handOut(REPORTS_CONTAINER, submission.errorReportBlob, "r", sasExpiry()) }
          : {}),
      };
    }

    // Each GET hands out fresh SAS URLs: writable while pending, read-only afterwards.
    const pending = view.commitStatus === "commitPending";
    const items: { type: string; url: string }[] = [
      {
        type: "initialPackage",
        url: await handOut(INGESTION_CONTAINER, submission.uploadBlob, pending ? "rw" : "r", sasExpiry(), `initial_${submission.id}.cab`),
      },
    ];
    if (submission.published) {
      const { signedBlob, metadataBlob } = submission.published;
      items.push(
        { type: "signedPackage", url: await handOut(SIGNED_CONTAINER, signedBlob, "r", sasExpiry(), signedBlob) },
        {
          type: "certificationReport",
          url: `https://manage.devcenter.microsoft.com/dashboard/hardware/Driver/DownloadCertificationReport/29963920/${submission.productId}/${submission.id}`,
        },
        { type: "driverMetadata", url: await handOut(SIGNED_CONTAINER, metadataBlob, "r", sasExpiry(), metadataBlob) },
      );
    }
    await labels.adjustDownloads(submission, items);
    return { ...base, ...(workflowStatus ? { workflowStatus } : {}), downloads: { items, messages: [] } };
  }

  const productNotFound = () => hdcError(404, "notFound", "entityNotFound", "Product not found");
  const submissionNotFound = () => hdcError(404, "notFound", "entityNotFound", "No submission found");
  const badJson = (kind: string) => hdcError(400, kind, "invalidInput", "The request body is not a JSON object.");

  async function createProduct(request: EmulatorRequest): Promise<EmulatorResponse> {
    const body = parseJsonObject(request.body);
    if (!body) return badJson("createProduct");
    const checked = validateNewProduct(body);
    if ("errors" in checked) return hdcError(422, "createProduct", "invalidInput", "The product is not valid.", checked.errors);
    const now = clock.iso();
    const product: ProductRecord = { ...store.nextProductIds(), fields: checked.fields, createdDateTime: now, updatedDateTime: now, isCommitted: false, submissions: [] };
    store.products.set(product.id.toString(), product);
    store.save(product);
    return jsonResponse(201, "createProduct", productJson(product));
  }

  async function updateProduct(request: EmulatorRequest, product: ProductRecord): Promise<EmulatorResponse> {
    const body = parseJsonObject(request.body);
    if (!body) return badJson("updateProduct");
    const errors = validateProductUpdate(body);
    if (errors.length > 0) return hdcError(400, "updateProduct", "invalidInput", "The update is not valid.", errors);
    Object.assign(product.fields, body);
    product.updatedDateTime = clock.iso();
    store.save(product);
    return empty(204, "updateProduct");
  }

  async function createSubmission(request: EmulatorRequest, product: ProductRecord): Promise<EmulatorResponse> {
    const body = parseJsonObject(request.body);
    if (!body) return badJson("createSubmission");
    const errors: ValidationError[] = [];
    if (typeof body.name !== "string" || body.name.trim() === "") errors.push({ target: "name", message: "Submission name is required." });
    if (body.type !== "initial" && body.type !== "derived") errors.push({ target: "type", message: "Submission type must be initial or derived." });
    if (errors.length > 0) return hdcError(422, "createSubmission", "invalidInput", "The submission is not valid.", errors);
    const hasInitial = product.submissions.some((submission) => submission.type === "initial");
    if (body.type === "initial" && hasInitial) {
      return hdcError(400, "createSubmission", "requestInvalidForCurrentState", "Initial submission already exists");
    }
    if (body.type === "derived") {
      if (product.fields.testHarness === "attestation" || product.fields.isTestSign === true) {
        return hdcError(400, "createSubmission", "invalidInput", "Cannot create derived submission for Attestation, TestSigned and ExtensionInf type of products.");
      }
      if (!hasInitial) return hdcError(400, "createSubmission", "requestInvalidForCurrentState", "Can't create derived submission since no initial submission created");
    }
    const submission: SubmissionRecord = {
      id: store.nextSubmissionId(),
      productId: product.id,
      name: body.name as string,
      type: body.type as "initial" | "derived",
      createdDateTime: clock.iso(),
      uploadBlob: crypto.randomUUID(),
    };
    product.submissions.push(submission);
    store.save(product);
    return jsonResponse(201, "createSubmission", await submissionJson(submission, true));
  }

  async function updateSubmission(request: EmulatorRequest, submission: SubmissionRecord): Promise<EmulatorResponse> {
    const body = parseJsonObject(request.body);
    if (!body) return badJson("updateSubmission");
    const extra = Object.keys(body).filter((key) => key !== "name");
    if (extra.length > 0 || typeof body.name !== "string") {
      return hdcError(400, "updateSubmission", "invalidInput", "Only the submission name can be updated.", extra.map((target) => ({ target, message: "Cannot be updated." })));
    }
    submission.name = body.name;
    saveOwner(submission);
    return empty(204, "updateSubmission");
  }

  async function commit(product: ProductRecord, submission: SubmissionRecord): Promise<EmulatorResponse> {
    if (submission.commit) return hdcError(400, "commit", "requestInvalidForCurrentState", "Only pending submissions can be committed.");
    const current = behaviour();
    const upload = await blobs.inspectUpload(submission.uploadBlob);
    const failureMessage =
      current.commitOutcome === "failed"
        ? "Commit processing failed (scripted by the emulator)."
        : !upload
          ? "No package was uploaded to the initialPackage URL before the commit."
          : await blobs.packageRuleFailure(submission.uploadBlob, upload.length);
    submission.upload = upload;
    submission.commit = { committedAtMs: clock.nowMs(), outcome: failureMessage ? "failed" : "complete", failureMessage, workflow: { ...current.workflow } };
    product.isCommitted = true;
    store.save(product);
    return empty(202, "commit");
  }

  /** Maps a request under /v2.0/my/ to an operation, or undefined (404). */
  function route(request: EmulatorRequest): Operation | undefined {
    const labelOperation = labels.route(request);
    if (labelOperation) return labelOperation;
    const preprodOperation = preprod.route(request);
    if (preprodOperation) return preprodOperation;
    const relative = request.path.slice(HDC_BASE_PATH.length).replace(/\/+$/, "");
    const parts = relative.split("/");
    if (parts[0] !== "hardware" || parts[1] !== "products") return undefined;
    const [, , productId, submissionsSegment, submissionId, action] = parts;
    const method = request.method;
    if (productId === undefined) {
      if (method === "GET") {
        return {
          kind: "listProducts",
          run: async () => {
            const top = Number(request.query.get("top") ?? request.query.get("$top") ?? NaN);
            const all = [...store.products.values()];
            const value = Number.isInteger(top) && top > 0 ? all.slice(0, top) : all;
            return jsonResponse(200, "listProducts", { value: value.map(productJson), links: [] });
          },
        };
      }
      if (method === "POST") return { kind: "createProduct", run: () => createProduct(request) };
      return undefined;
    }
    const withProduct = (kind: string, then: (product: ProductRecord) => Promise<EmulatorResponse>): Operation => ({
      kind,
      run: async () => {
        const product = store.product(productId);
        return product ? then(product) : { ...productNotFound(), kind };
      },
    });
    if (submissionsSegment === undefined) {
      if (method === "GET") return withProduct("getProduct", async (product) => jsonResponse(200, "getProduct", productJson(product)));
      if (method === "PATCH") return withProduct("updateProduct", (product) => updateProduct(request, product));
      return undefined;
    }
    if (submissionsSegment !== "submissions") return undefined;
    if (submissionId === undefined) {
      if (method === "GET") {
        return withProduct("listSubmissions", async (product) =>
          jsonResponse(200, "listSubmissions", { value: await Promise.all(product.submissions.map((s) => submissionJson(s, false))), links: [] }),
        );
      }
      if (method === "POST") return withProduct("createSubmission", (product) => createSubmission(request, product));
      return undefined;
    }
    const withSubmission = (kind: string, then: (product: ProductRecord, submission: SubmissionRecord) => Promise<EmulatorResponse>) =>
      withProduct(kind, async (product) => {
        const submission = product.submissions.find((candidate) => candidate.id.toString() === submissionId);
        return submission ? then(product, submission) : { ...submissionNotFound(), kind };
      });
    if (action === undefined) {
      if (method === "GET") return withSubmission("getSubmission", async (_p, submission) => jsonResponse(200, "getSubmission", await submissionJson(submission, true)));
      if (method === "PATCH") return withSubmission("updateSubmission", (_p, submission) => updateSubmission(request, submission));
      return undefined;
    }
    if (action === "commit" && method === "POST") return withSubmission("commit", (product, submission) => commit(product, submission));
    return undefined;
  }

  function faultResponse(fault: ScriptedFault, kind: string): EmulatorResponse {
    const status = fault.status ?? 500;
    const retryAfter = fault.retryAfterSeconds ?? (status === 429 ? 1 : undefined);
    const headers: Record<string, string> = retryAfter !== undefined ? { "retry-after": String(retryAfter) } : {};
    if (status === 401) headers["www-authenticate"] = 'Bearer error="invalid_token"';
    const codes: Record<number, string> = {
      400: "invalidInput",
      401: "unauthorized",
      403: "forbidden",
      404: "entityNotFound",
      409: "requestInvalidForCurrentState",
      422: "invalidInput",
      429: "tooManyRequests",
      500: "internalServerError",
      502: "badGateway",
      503: "serviceUnavailable",
    };
    return hdcError(status, kind, codes[status] ?? "error", fault.message ?? `Scripted fault (${status}) from the emulator.`, undefined, headers);
  }

  const handler: EmulatorHandler = async (request) => {
    if (!request.path.startsWith(HDC_BASE_PATH)) return hdcError(404, "notFound", "entityNotFound", `No such endpoint: ${request.path}`);
    const operation = route(request);
    const kind = operation?.kind ?? "notFound";
    const current = behaviour();
    if (current.latencyMs > 0) await sleep(current.latencyMs);

    const waitSeconds = rateLimiter.admit(current.rateLimit?.requestsPerSecond);
    if (waitSeconds !== undefined) {
      return hdcError(429, kind, "tooManyRequests", "Rate limit is exceeded. Try again later.", undefined, { "retry-after": String(waitSeconds) });
    }

    const fault = options.faults.take(request.method, request.path);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.status !== undefined && !fault.afterApplying) return faultResponse(fault, kind);

    const auth = registry.check(request.headers.authorization, HDC_RESOURCE);
    if (!auth.ok) {
      return hdcError(401, kind, "unauthorized", `Authentication failed: ${auth.reason}.`, undefined, { "www-authenticate": 'Bearer error="invalid_token"' });
    }
    if (!operation) return hdcError(404, "notFound", "entityNotFound", `No such endpoint: ${request.method} ${request.path}`);
    const response = await operation.run();
    if (fault?.status !== undefined && fault.afterApplying) return faultResponse(fault, kind);
    return response;
  };

  function summary(): ProductSummary[] {
    return [...store.products.values()].map((product) => ({
      id: product.id.toString(),
      productName: product.fields.productName,
      testHarness: product.fields.testHarness,
      isCommitted: product.isCommitted,
      submissions: product.submissions.map((submission) => {
        const view = evaluateWorkflow(submission.commit, clock.nowMs());
        return {
          id: submission.id.toString(),
          name: submission.name,
          type: submission.type,
          commitStatus: view.commitStatus,
          currentStep: view.step ? SUBMISSION_STEPS[view.step.index] : undefined,
          state: view.step?.state,
          uploadBlob: submission.uploadBlob,
          upload: submission.upload,
          signedPackage: submission.published
            ? { container: submission.published.container, blob: submission.published.signedBlob, metadataBlob: submission.published.metadataBlob }
            : undefined,
          errorReport: submission.errorReportBlob ? { container: REPORTS_CONTAINER, blob: submission.errorReportBlob } : undefined,
        };
      }),
    }));
  }

  return {
    handler,
    summary,
    preprodSummary: () => preprod.summary(),
    reset: () => {
      store.clear();
      labels.reset();
      preprod.reset();
    },
  };
}
