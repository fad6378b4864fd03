/**
 * Shipping labels in the Hardware Dev Center emulator (shipping-labels.md section 7): create with
 * the service's validations, the per-destination step schedule driven by the emulator clock
 * (Microsoft Approval dwell, optional gradual rollout, scripted failure with messages and an
 * error report), PATCH and cancel rules, GET /hardware/audiences, and driver metadata with
 * several INFs, OS codes, PnP ids, an extension INF and CHIDs that appears some polls after the
 * signed package. Mounted by hdcEmulator.ts through route(), adjustDownloads() and reset().
 *
 * Configuration rides on the emulator behaviour under the key `labels` (see labelBehaviourPatch);
 * a label keeps the settings it was created with.
 */
import * as crypto from "node:crypto";
import { BlockBlobClient } from "@azure/storage-blob";
import { DEFAULT_LABEL_BEHAVIOUR, type HdcBehaviour, type HdcBehaviourPatch, type LabelBehaviour } from "./hdcBehaviour";
import { HdcBlobs, REPORTS_CONTAINER, SIGNED_CONTAINER } from "./hdcBlobs";
import type { HdcStore, ProductRecord, SubmissionRecord, ValidationError } from "./hdcStore";
import type { EmulatorClock } from "./clock";
import { EmulatorRequest, EmulatorResponse, jsonResponse } from "./httpServer";

/** Validates a label configuration and wraps it for EmulatorControl.configure / POST /_emulator/behaviour. */
export function labelBehaviourPatch(patch: Partial<LabelBehaviour>): HdcBehaviourPatch {
  resolveLabelBehaviour(patch);
  return { labels: patch };
}

function resolveLabelBehaviour(patch: unknown): LabelBehaviour {
  const merged = { ...DEFAULT_LABEL_BEHAVIOUR, ...(patch && typeof patch === "object" ? patch : {}) } as LabelBehaviour;
  const problems: string[] = [];
  for (const key of ["stepSeconds", "approvalSeconds", "rolloutSeconds", "cancelSeconds", "patchSeconds", "metadataDelayPolls"] as const) {
    if (!Number.isFinite(merged[key]) || merged[key] < 0) problems.push(`labels.${key} must be a number >= 0`);
  }
  if (!["completed", "published"].includes(merged.finalState)) problems.push("labels.finalState must be completed or published");
  if (typeof merged.rolloutStepName !== "string" || merged.rolloutStepName === "") problems.push("labels.rolloutStepName must be a non-empty string");
  if (!Array.isArray(merged.readOnlyProductIds)) problems.push("labels.readOnlyProductIds must be an array");
  if (problems.length > 0) throw new Error(`Invalid emulator behaviour: ${problems.join("; ")}`);
  return merged;
}

// ---- Audiences and driver metadata ------------------------------------------------------------

export const EMULATED_AUDIENCES = [
  { id: "9f4f44d8-bfec-48c6-a02c-2d9ea220f6e2", name: "Test Registry Key", audienceName: "TestRegistryKey", description: "Devices with the test registry key set." },
  { id: "3d6c1a57-2f51-4c4e-9a63-1f0b7e0c4d21", name: "CoDev Contoso", audienceName: "CoDevContoso", description: "Co-development partner devices." },
  { id: "b1a2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d", name: "Contoso OEM Preview Fleet", audienceName: "ContosoOemPreview", description: "Managed OEM preview devices." },
];
const TEST_AUDIENCE_IDS = new Set(EMULATED_AUDIENCES.filter((a) => /test registry key|codev/i.test(a.name)).map((a) => a.id));

/** A GUID derived from text, so the same submission always gets the same metadata. */
function stableGuid(text: string): string {
  const hex = crypto.createHash("sha256").update(text).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Metadata of an emulated signed submission: one bundle, three INFs (a function driver with two
 * CHIDs, a filter that also covers Windows 8.1, an extension INF), the product's Windows 10+
 * signatures plus Windows 11 (CO). PnP ids keep the upper case drivers use.
 */
export function emulatedDriverMetadata(submissionId: string, requestedSignatures: unknown) {
  const requested = Array.isArray(requestedSignatures) ? requestedSignatures.filter((code): code is string => typeof code === "string" && /^windows_v100_/i.test(code)) : [];
  const win10 = [...new Set([...(requested.length > 0 ? requested : ["WINDOWS_v100_X64_RS5_FULL"]), "WINDOWS_v100_X64_CO_FULL"])].sort();
  const device = (description: string) => ({ Manufacturer: "Contoso", DeviceDescription: description, FeatureScore: "FF" });
  const perOs = (codes: string[], pnps: Record<string, ReturnType<typeof device>>) => Object.fromEntries(codes.map((code) => [code, pnps]));
  const inf = (klass: string, extensionId: string | null, chids: string[], osMap: Record<string, unknown>) => ({
    DriverPackageFamilyId: `contoso_${submissionId}`,
    InfClass: klass,
    DriverVersion: "2.3.1.0",
    DriverDate: "2026-11-01T00:00:00",
    ExtensionId: extensionId,
    Provider: "Contoso",
    ClassGuid: "{36fc9e60-c465-11cf-8056-444553540000}",
    InstallationComputerHardwareIds: chids,
    OSPnPInfoMap: osMap,
  });
  return {
    BundleInfoMap: {
      [stableGuid(`bundle:${submissionId}`)]: {
        Locales: ["English"],
        InfInfoMap: {
          "contoso_usb.inf": inf("USB", null, [stableGuid(`chid1:${submissionId}`), stableGuid(`chid2:${submissionId}`)], perOs(win10, {
            "USB\\VID_045E&PID_0001": device("Contoso USB Device"),
            "USB\\VID_045E&PID_0002&MI_00": device("Contoso USB Composite"),
          })),
          "contoso_filter.inf": inf("System", null, [stableGuid(`chid3:${submissionId}`)], {
            ...perOs(win10, { "ROOT\\CONTOSO_FILTER": device("Contoso Filter") }),
            WINDOWS_v63_X64: { "ROOT\\CONTOSO_FILTER": device("Contoso Filter") },
          }),
          "contoso_ext.inf": inf("Extension", stableGuid(`extension:${submissionId}`), [], perOs(win10, { "USB\\VID_045E&PID_0001": device("Contoso USB Extension") })),
        },
      },
    },
  };
}

interface MetadataTuple {
  bundleId: string;
  infId: string;
  operatingSystemCode: string;
  pnpString: string;
  extension: boolean;
  windows10: boolean;
}

function metadataTuples(metadata: ReturnType<typeof emulatedDriverMetadata>): MetadataTuple[] {
  const tuples: MetadataTuple[] = [];
  for (const [bundleId, bundle] of Object.entries(metadata.BundleInfoMap)) {
    for (const [infId, inf] of Object.entries(bundle.InfInfoMap)) {
      for (const [operatingSystemCode, pnps] of Object.entries(inf.OSPnPInfoMap as Record<string, Record<string, unknown>>)) {
        for (const pnpString of Object.keys(pnps)) {
          tuples.push({ bundleId, infId, operatingSystemCode, pnpString, extension: inf.ExtensionId !== null, windows10: /^windows_v100_/i.test(operatingSystemCode) });
        }
      }
    }
  }
  return tuples;
}

const tupleKey = (id: { bundleId: unknown; infId: unknown; operatingSystemCode: unknown; pnpString: unknown }) =>
  [id.bundleId, id.infId, id.operatingSystemCode, id.pnpString].map((part) => String(part).toLowerCase()).join("|");

// ---- Label state ------------------------------------------------------------------------------

const WINDOWS_UPDATE_STEPS = ["preProcessShippingLabel", "finalizePreProcessing", "publishJobValidation", "updateGeneration", "microsoftApproval", "ROLLOUT", "publishing", "finalizePublishing"];
const SHARING_STEPS = ["preProcessShippingLabel", "finalizePreProcessing", "publishJobValidation", "processSharing", "finalizeSharing"];
const RELEASES = ["TH", "RS1", "RS2", "RS3", "RS4", "RS5", "19H1", "VB", "FE", "CO", "NI", "MN"];
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const FIRST_LABEL_ID = 1152921504628000000n;

interface HardwareIdEntry {
  bundleId: string;
  infId: string;
  operatingSystemCode: string;
  pnpString: string;
  distributionState: string;
}

interface LabelRecord {
  id: bigint;
  productId: bigint;
  submissionId: bigint;
  destination: "windowsUpdate" | "anotherPartner";
  /** The request body as echoed (name, specifications), without targeting. */
  echoed: Record<string, unknown>;
  targeting: Record<string, unknown> & { hardwareIds: HardwareIdEntry[]; chids: { chid: string; distributionState: string }[]; restrictedToAudiences: string[] };
  createdAtMs: number;
  createdDateTime: string;
  behaviour: LabelBehaviour;
  cancelRequestedAtMs?: number;
  patchBusyUntilMs?: number;
  errorReportBlob?: string;
}

interface LabelView {
  step: string;
  state: "notStarted" | "started" | "completed" | "failed" | "published";
  messages: string[];
  /** Paused in approval or rollout: PATCH allowed, cancel allowed. */
  waiting: boolean;
  finished: boolean;
  failed: boolean;
}

function stepsOf(label: LabelRecord): { name: string; seconds: number; dwell: boolean }[] {
  const b = label.behaviour;
  const names = label.destination === "windowsUpdate" ? WINDOWS_UPDATE_STEPS : SHARING_STEPS;
  return names
    .map((name) =>
      name === "ROLLOUT"
        ? { name: b.rolloutStepName, seconds: b.rolloutSeconds, dwell: true }
        : name === "microsoftApproval"
          ? { name, seconds: b.approvalSeconds, dwell: true }
          : { name, seconds: b.stepSeconds, dwell: false },
    )
    // An unused rollout (0 s) is left out; approval stays even at 0 s so a scripted failure there still happens.
    .filter((step) => !(step.dwell && step.seconds === 0 && step.name !== "microsoftApproval"));
}

/** Where a label stands at `nowMs` (pure; evaluated on every GET like the submission workflow). */
function evaluateLabel(label: LabelRecord, nowMs: number): LabelView {
  const steps = stepsOf(label);
  const b = label.behaviour;
  const frozenAt = label.cancelRequestedAtMs ?? nowMs;
  const elapsedMs = Math.min(nowMs, frozenAt) - label.createdAtMs;
  let startMs = 0;
  let view: LabelView | undefined;
  for (const step of steps) {
    const durationMs = step.seconds * 1000;
    const fails = b.failAtStep !== undefined && b.failAtStep.toLowerCase() === step.name.toLowerCase();
    if (elapsedMs < startMs + durationMs) {
      const third = Math.floor(((elapsedMs - startMs) / durationMs) * 3);
      const state = step.dwell ? "started" : third === 0 ? "notStarted" : third === 1 ? "started" : "completed";
      if (fails && state !== "notStarted") {
        return { step: step.name, state: "failed", messages: b.failMessages ?? [`The ${step.name} step failed for this shipping label.`], waiting: false, finished: false, failed: true };
      }
      view = { step: step.name, state, messages: [], waiting: step.dwell, finished: false, failed: false };
      break;
    }
    if (fails) return { step: step.name, state: "failed", messages: b.failMessages ?? [`The ${step.name} step failed for this shipping label.`], waiting: false, finished: false, failed: true };
    startMs += durationMs;
  }
  if (!view) {
    const last = steps[steps.length - 1]!.name;
    const published = label.destination === "windowsUpdate" && b.finalState === "published";
    view = { step: last, state: published ? "published" : "completed", messages: [], waiting: false, finished: true, failed: false };
  }
  if (label.cancelRequestedAtMs !== undefined && nowMs >= label.cancelRequestedAtMs + b.cancelSeconds * 1000) {
    return { ...view, state: "failed", messages: ["The shipping label was cancelled."], waiting: false, failed: true };
  }
  return view;
}

// ---- Routes -------------------------------------------------------------------------------------

export interface ShippingLabelRoutesOptions {
  store: HdcStore;
  clock: EmulatorClock;
  blobs: HdcBlobs;
  behaviour: () => HdcBehaviour;
  sasExpiry: () => Date;
  linkBase: string;
}

export interface LabelOperation {
  kind: string;
  run(): Promise<EmulatorResponse>;
}

export interface ShippingLabelRoutes {
  /** The operation for a label or audience route, or undefined when the path is not one. */
  route(request: EmulatorRequest): LabelOperation | undefined;
  /** Called with a detailed submission's download items: writes the rich metadata, delays its item. */
  adjustDownloads(submission: SubmissionRecord, items: { type: string; url: string }[]): Promise<void>;
  reset(): void;
}

const hdcError = (status: number, kind: string, code: string, message: string, validationErrors?: ValidationError[]) =>
  jsonResponse(status, kind, { error: { code, message, ...(validationErrors ? { validationErrors } : {}), httpErrorCode: status } });
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function parseBody(body: Buffer): Record<string, unknown> | undefined {
  if (body.length === 0) return {};
  try {
    const value: unknown = JSON.parse(body.toString("utf8"));
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function createShippingLabelRoutes(options: ShippingLabelRoutesOptions): ShippingLabelRoutes {
  const { store, clock, blobs } = options;
  const labelBehaviour = () => resolveLabelBehaviour(options.behaviour().labels);
  const labels = new Map<string, LabelRecord>();
  /** Per submission: signed-package GETs seen, whether the metadata item has been shown, the rich metadata write. */
  const metadataState = new Map<string, { polls: number; revealed: boolean; written?: Promise<void> }>();
  let labelCounter = 0n;

  const metadataFor = (product: ProductRecord, submission: SubmissionRecord) => emulatedDriverMetadata(submission.id.toString(), product.fields.requestedSignatures);

  async function adjustDownloads(submission: SubmissionRecord, items: { type: string; url: string }[]): Promise<void> {
    if (!submission.published) return;
    const key = submission.id.toString();
    let state = metadataState.get(key);
    if (!state) metadataState.set(key, (state = { polls: 0, revealed: false }));
    const product = store.product(submission.productId.toString());
    if (product && !state.written) {
      const published = submission.published;
      const text = JSON.stringify(metadataFor(product, submission), null, 2);
      state.written = blobs.sasUrl(SIGNED_CONTAINER, published.metadataBlob, "cw", options.sasExpiry()).then(async (url) => {
        await new BlockBlobClient(url).upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: "application/json" } });
      });
      state.written.catch(() => {
        if (state) state.written = undefined;
      });
    }
    await state.written;
    if (state.polls < labelBehaviour().metadataDelayPolls && !state.revealed) {
      const index = items.findIndex((item) => item.type === "driverMetadata");
      if (index >= 0) items.splice(index, 1);
    } else {
      state.revealed = true;
    }
    state.polls++;
  }

  function links(label: LabelRecord) {
    const self = `${options.linkBase}/products/${label.productId}/submissions/${label.submissionId}/shippingLabels/${label.id}`;
    return [
      { href: self, rel: "self", method: "GET" },
      { href: self, rel: "update_shippinglabel", method: "PATCH" },
    ];
  }

  async function labelJson(label: LabelRecord, includeTargeting: boolean) {
    const view = evaluateLabel(label, clock.nowMs());
    if (view.failed && !label.errorReportBlob && label.cancelRequestedAtMs === undefined) {
      const text = label.behaviour.errorReportText ?? [`Shipping label ${label.id} failed at step ${view.step}.`, ...view.messages].join("\n");
      label.errorReportBlob = await blobs.writeErrorReport(`label_${label.id}`, text);
    }
    return {
      id: label.id,
      productId: label.productId,
      submissionId: label.submissionId,
      ...label.echoed,
      ...(includeTargeting ? { targeting: label.targeting } : {}),
      links: links(label),
      workflowStatus: {
        currentStep: view.step,
        state: view.state,
        messages: view.messages,
        ...(view.failed && label.errorReportBlob ? { errorReport: await blobs.sasUrl(REPORTS_CONTAINER, label.errorReportBlob, "r", options.sasExpiry()) } : {}),
      },
      createdBy: "hdc-emulator",
      createdDateTime: label.createdDateTime,
    };
  }

  /** Checks of a new label's body against the submission; returns the validation errors. */
  function validateNewLabel(body: Record<string, unknown>, product: ProductRecord, submission: SubmissionRecord): ValidationError[] {
    const errors: ValidationError[] = [];
    const fail = (target: string, message: string) => errors.push({ target, message });
    if (typeof body.name !== "string" || body.name.trim() === "") fail("name", "Shipping label name is required.");
    const destination = body.destination;
    if (destination !== "windowsUpdate" && destination !== "anotherPartner") fail("destination", "Destination must be windowsUpdate or anotherPartner.");
    const targeting = isRecord(body.targeting) ? body.targeting : undefined;
    if (!targeting) fail("targeting", "Targeting is required.");
    const tuples = new Map(metadataTuples(metadataFor(product, submission)).map((tuple) => [tupleKey(tuple), tuple]));
    const hardwareIds = Array.isArray(targeting?.hardwareIds) ? targeting.hardwareIds : [];
    if (targeting && (!Array.isArray(targeting.hardwareIds) || hardwareIds.length === 0)) fail("targeting.hardwareIds", "At least one hardware id is required.");
    const selected: MetadataTuple[] = [];
    hardwareIds.forEach((entry: unknown, index: number) => {
      const tuple = isRecord(entry) ? tuples.get(tupleKey(entry as never)) : undefined;
      if (!tuple) fail(`targeting.hardwareIds[${index}]`, "The hardware id is not a valid combination from the submission's driver metadata.");
      else selected.push(tuple);
    });
    const chids = Array.isArray(targeting?.chids) ? targeting.chids : [];
    chids.forEach((entry: unknown, index: number) => {
      if (!isRecord(entry) || typeof entry.chid !== "string" || !GUID.test(entry.chid)) fail(`targeting.chids[${index}]`, "CHID must be a GUID.");
    });
    if (chids.length > 0 && selected.some((tuple) => !tuple.windows10)) {
      fail("targeting.chids", "CHIDs are allowed only when HardwareIds are for operating systems Windows 10 and later.");
    }
    const audiences = Array.isArray(targeting?.restrictedToAudiences) ? targeting.restrictedToAudiences : [];
    audiences.forEach((audience: unknown, index: number) => {
      if (!EMULATED_AUDIENCES.some((known) => known.id === audience)) fail(`targeting.restrictedToAudiences[${index}]`, "Unknown audience.");
    });
    const inService = targeting?.inServicePublishInfo;
    if (isRecord(inService)) {
      for (const key of ["flooring", "ceiling"]) {
        if (inService[key] !== undefined && !RELEASES.includes(String(inService[key]))) fail(`targeting.inServicePublishInfo.${key}`, `Must be one of ${RELEASES.join(", ")}.`);
      }
      if (targeting?.coEngDriverPublishInfo !== undefined) fail("targeting.coEngDriverPublishInfo", "InServicePublishInfo and CoEngDriverPublishInfo cannot both be set.");
    }

    if (destination === "windowsUpdate") {
      const specs = isRecord(body.publishingSpecifications) ? body.publishingSpecifications : undefined;
      if (!specs) fail("publishingSpecifications", "PublishingSpecifications is required for destination windowsUpdate.");
      else {
        const auto = specs.isAutoInstallDuringOSUpgrade === true || specs.isAutoInstallOnApplicableSystems === true;
        // A misspelt or missing manualAcquisition reads as false, as the service does.
        if (auto && specs.manualAcquisition === true) fail("publishingSpecifications.manualAcquisition", "ManualAcquisition must be false when an auto-install option is set.");
        if (!auto && specs.manualAcquisition !== true) fail("publishingSpecifications.manualAcquisition", "ManualAcquisition must be true when no auto-install option is set.");
        if (auto && !isRecord(specs.additionalInfoForMsApproval)) fail("publishingSpecifications.additionalInfoForMsApproval", "AdditionalInfoForMsApproval is required for auto-install.");
        if (!auto && selected.some((tuple) => tuple.extension)) {
          fail("targeting.hardwareIds", "Extension drivers must be published as an Automatic update.");
        }
        const accounts = specs.visibleToAccounts;
        if (accounts !== undefined && (!Array.isArray(accounts) || accounts.some((account) => typeof account !== "number"))) {
          fail("publishingSpecifications.visibleToAccounts", "VisibleToAccounts must be an array of numbers.");
        }
      }
      if (String(product.fields.testHarness).toLowerCase() === "attestation" && !audiences.some((audience: unknown) => TEST_AUDIENCE_IDS.has(String(audience)))) {
        fail("targeting.restrictedToAudiences", "Attestation signed drivers can only be published to test audiences.");
      }
    } else if (destination === "anotherPartner") {
      const recipient = isRecord(body.recipientSpecifications) ? body.recipientSpecifications : undefined;
      if (!recipient || typeof recipient.receiverPublisherId !== "string" || !/^\d+$/.test(recipient.receiverPublisherId)) {
        fail("recipientSpecifications.receiverPublisherId", "ReceiverPublisherId is required for destination anotherPartner.");
      }
    }
    return errors;
  }

  async function createLabel(request: EmulatorRequest, product: ProductRecord, submission: SubmissionRecord): Promise<EmulatorResponse> {
    const kind = "createShippingLabel";
    const body = parseBody(request.body);
    if (!body) return hdcError(400, kind, "invalidInput", "The request body is not a JSON object.");
    const current = labelBehaviour();
    if (current.readOnlyProductIds.includes(product.id.toString())) {
      return hdcError(403, kind, "readOnlyProduct", "Not allowed to create the shipping labels on a read only product");
    }
    if (!submission.published || !metadataState.get(submission.id.toString())?.revealed) {
      return hdcError(400, kind, "requestInvalidForCurrentState", "Submission isn't yet ready to create shipping label. Retry after some time.");
    }
    const errors = validateNewLabel(body, product, submission);
    if (errors.length > 0) return hdcError(422, kind, "invalidInput", "Validation Failed.", errors);
    const targeting = body.targeting as Record<string, unknown>;
    const { targeting: _ignored, ...echoed } = body;
    const label: LabelRecord = {
      id: FIRST_LABEL_ID + labelCounter++,
      productId: product.id,
      submissionId: submission.id,
      destination: body.destination as LabelRecord["destination"],
      echoed,
      targeting: {
        ...targeting,
        hardwareIds: (targeting.hardwareIds as HardwareIdEntry[]).map(({ bundleId, infId, operatingSystemCode, pnpString }) => ({ bundleId, infId, operatingSystemCode, pnpString, distributionState: "pendingAdd" })),
        chids: ((targeting.chids as { chid: string }[] | undefined) ?? []).map(({ chid }) => ({ chid, distributionState: "pendingAdd" })),
        restrictedToAudiences: ((targeting.restrictedToAudiences as string[] | undefined) ?? []).slice(),
      },
      createdAtMs: clock.nowMs(),
      createdDateTime: clock.iso(),
      behaviour: current,
    };
    labels.set(label.id.toString(), label);
    return jsonResponse(201, kind, await labelJson(label, true));
  }

  async function updateLabel(request: EmulatorRequest, product: ProductRecord, submission: SubmissionRecord, label: LabelRecord): Promise<EmulatorResponse> {
    const kind = "updateShippingLabel";
    const body = parseBody(request.body);
    if (!body) return hdcError(400, kind, "invalidInput", "The request body is not a JSON object.");
    const recipient = isRecord(body.recipientSpecifications) ? body.recipientSpecifications : undefined;
    const current = label.destination === "anotherPartner" ? (label.echoed.recipientSpecifications as Record<string, unknown> | undefined) : undefined;
    if (recipient?.receiverPublisherId !== undefined && recipient.receiverPublisherId !== current?.receiverPublisherId) {
      return hdcError(400, kind, "invalidInput", "Validation Failed.", [
        { target: "recipientSpecifications.receiverPublisherId", message: "ReceiverPublisherId cannot be changed after creation." },
      ]);
    }
    const targeting = isRecord(body.targeting) ? body.targeting : undefined;
    const hasTargeting = targeting !== undefined && ["hardwareIds", "chids", "restrictedToAudiences"].some((key) => targeting[key] !== undefined);
    const hasRecipient = recipient !== undefined && (recipient.enforceChidTargeting !== undefined || recipient.blockDuaCreation !== undefined);
    if (!hasTargeting && !hasRecipient) {
      return hdcError(
        422,
        kind,
        "invalidInput",
        "Validation Failed.",
        ["chids", "hardwareIds", "restrictedToAudiences"].map((field) => ({ target: `targetingInfo.${field}`, message: "At least one property is required for update" })),
      );
    }
    const now = clock.nowMs();
    const view = evaluateLabel(label, now);
    if (view.failed) return hdcError(400, kind, "requestInvalidForCurrentState", "The shipping label is in a failed state and cannot be updated.");
    if (!(view.waiting || view.finished) || (label.patchBusyUntilMs !== undefined && now < label.patchBusyUntilMs)) {
      return hdcError(400, kind, "invalidInput", "Can't update the shipping label when another workflow is in progress. Try again.");
    }

    const errors: ValidationError[] = [];
    const tuples = new Map(metadataTuples(metadataFor(product, submission)).map((tuple) => [tupleKey(tuple), tuple]));
    const hardwareIds = label.targeting.hardwareIds.map((entry) => ({ ...entry }));
    const chids = label.targeting.chids.map((entry) => ({ ...entry }));
    const hwChanges = targeting?.hardwareIds === undefined ? [] : Array.isArray(targeting.hardwareIds) ? targeting.hardwareIds : null;
    if (hwChanges === null) errors.push({ target: "targeting.hardwareIds", message: "HardwareIds must be an array." });
    (hwChanges ?? []).forEach((change: unknown, index: number) => {
      const target = `targeting.hardwareIds[${index}]`;
      if (!isRecord(change) || (change.action !== "add" && change.action !== "remove")) return void errors.push({ target, message: "Action must be add or remove." });
      const existing = hardwareIds.find((entry) => tupleKey(entry) === tupleKey(change as never));
      if (change.action === "add") {
        const tuple = tuples.get(tupleKey(change as never));
        if (!tuple) return void errors.push({ target, message: "The hardware id is not a valid combination from the submission's driver metadata." });
        if (existing) existing.distributionState = "pendingAdd";
        else hardwareIds.push({ bundleId: tuple.bundleId, infId: tuple.infId, operatingSystemCode: tuple.operatingSystemCode, pnpString: tuple.pnpString.toLowerCase(), distributionState: "pendingAdd" });
      } else {
        if (!existing) return void errors.push({ target, message: "The hardware id is not on this shipping label." });
        existing.distributionState = "pendingRemove";
      }
    });
    const chidChanges = targeting?.chids === undefined ? [] : Array.isArray(targeting.chids) ? targeting.chids : null;
    if (chidChanges === null) errors.push({ target: "targeting.chids", message: "Chids must be an array." });
    (chidChanges ?? []).forEach((change: unknown, index: number) => {
      const target = `targeting.chids[${index}]`;
      if (!isRecord(change) || typeof change.chid !== "string" || !GUID.test(change.chid)) return void errors.push({ target, message: "CHID must be a GUID." });
      if (change.action !== "add" && change.action !== "remove") return void errors.push({ target, message: "Action must be add or remove." });
      const existing = chids.find((entry) => entry.chid.toLowerCase() === (change.chid as string).toLowerCase());
      if (change.action === "add") {
        if (existing) existing.distributionState = "pendingAdd";
        else chids.push({ chid: change.chid, distributionState: "pendingAdd" });
      } else if (!existing) errors.push({ target, message: "The CHID is not on this shipping label." });
      else existing.distributionState = "pendingRemove";
    });
    const active = (state: string) => state !== "pendingRemove";
    if (
      chids.some((entry) => active(entry.distributionState)) &&
      hardwareIds.some((entry) => active(entry.distributionState) && !/^windows_v100_/i.test(entry.operatingSystemCode))
    ) {
      errors.push({ target: "targeting.chids", message: "CHIDs are allowed only when HardwareIds are for operating systems Windows 10 and later." });
    }
    let audiences = label.targeting.restrictedToAudiences;
    if (targeting?.restrictedToAudiences !== undefined) {
      const given = targeting.restrictedToAudiences;
      if (!Array.isArray(given) || given.some((audience) => !EMULATED_AUDIENCES.some((known) => known.id === audience))) {
        errors.push({ target: "targeting.restrictedToAudiences", message: "RestrictedToAudiences must be a list of known audience ids." });
      } else audiences = given as string[];
    }
    if (errors.length > 0) return hdcError(422, kind, "invalidInput", "Validation Failed.", errors);

    label.targeting = { ...label.targeting, hardwareIds, chids, restrictedToAudiences: audiences };
    if (hasRecipient && current) {
      label.echoed.recipientSpecifications = {
        ...current,
        ...(recipient?.enforceChidTargeting !== undefined ? { enforceChidTargeting: recipient.enforceChidTargeting } : {}),
        ...(recipient?.blockDuaCreation !== undefined ? { blockDuaCreation: recipient.blockDuaCreation } : {}),
      };
    }
    label.patchBusyUntilMs = now + label.behaviour.patchSeconds * 1000;
    return { status: 204, kind };
  }

  function cancelLabel(label: LabelRecord): EmulatorResponse {
    const kind = "cancelShippingLabel";
    if (label.cancelRequestedAtMs !== undefined) return { status: 204, kind };
    const view = evaluateLabel(label, clock.nowMs());
    if (label.destination !== "windowsUpdate" || !view.waiting || view.failed) {
      return hdcError(400, kind, "requestInvalidForCurrentState", "A shipping label can only be cancelled in Microsoft Approval or Gradual Rollout.");
    }
    label.cancelRequestedAtMs = clock.nowMs();
    return { status: 204, kind };
  }

  function route(request: EmulatorRequest): LabelOperation | undefined {
    const relative = request.path.slice("/v2.0/my/".length).replace(/\/+$/, "");
    const parts = relative.split("/");
    const method = request.method;
    if (parts.length === 2 && parts[0] === "hardware" && parts[1]?.toLowerCase() === "audiences") {
      if (method !== "GET") return undefined;
      return { kind: "listAudiences", run: async () => jsonResponse(200, "listAudiences", { value: EMULATED_AUDIENCES, links: [] }) };
    }
    const [hardware, products, productId, submissions, submissionId, segment, labelId, action] = parts;
    if (hardware !== "hardware" || products !== "products" || submissions !== "submissions" || segment?.toLowerCase() !== "shippinglabels") return undefined;
    const kind =
      labelId === undefined
        ? method === "POST"
          ? "createShippingLabel"
          : "listShippingLabels"
        : action === undefined
          ? method === "PATCH"
            ? "updateShippingLabel"
            : "getShippingLabel"
          : "cancelShippingLabel";
    const allowed =
      labelId === undefined ? ["GET", "POST"].includes(method) : action === undefined ? ["GET", "PATCH"].includes(method) : action === "cancel" && method === "PUT";
    if (!allowed || parts.length > 8) return undefined;
    return {
      kind,
      run: async () => {
        const product = productId === undefined ? undefined : store.product(productId);
        if (!product) return hdcError(404, kind, "entityNotFound", "Product not found");
        const submission = product.submissions.find((candidate) => candidate.id.toString() === submissionId);
        if (!submission) return hdcError(404, kind, "entityNotFound", "No submission found");
        if (labelId === undefined) {
          if (method === "POST") return createLabel(request, product, submission);
          const own = [...labels.values()].filter((label) => label.submissionId === submission.id && label.productId === product.id);
          const includeTargeting = request.query.get("includeTargetingInfo")?.toLowerCase() === "true";
          return jsonResponse(200, kind, { value: await Promise.all(own.map((label) => labelJson(label, includeTargeting))), links: [] });
        }
        const label = labels.get(labelId);
        if (!label || label.submissionId !== submission.id || label.productId !== product.id) return hdcError(404, kind, "entityNotFound", "Shipping label not found");
        if (action === "cancel") return cancelLabel(label);
        if (method === "PATCH") return updateLabel(request, product, submission, label);
        return jsonResponse(200, kind, await labelJson(label, request.query.get("includeTargetingInfo")?.toLowerCase() === "true"));
      },
    };
  }

  return {
    route,
    adjustDownloads,
    reset: () => {
      labels.clear();
      metadataState.clear();
    },
  };
}
