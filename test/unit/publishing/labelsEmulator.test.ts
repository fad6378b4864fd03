/**
 * Shipping labels end to end against the running Hardware Dev Center emulator: the real HdcClient
 * (token from the Entra emulator, retries, lossless ids) with src/hdc/shippingLabels.ts, policies
 * expanded by src/publishing/expandPolicy.ts from the driver metadata the emulator publishes,
 * and the emulator clock moving the label through its steps.
 */
import * as crypto from "node:crypto";
import { ClientSecretCredential } from "@azure/identity";
import { BlobClient, BlockBlobClient } from "@azure/storage-blob";
import { type EmulatorsHandle } from "../../../local/emulators";
import { labelBehaviourPatch } from "../../../local/emulators/shippingLabels";
import type { LabelBehaviour } from "../../../local/emulators/hdcBehaviour";
import type { NewShippingLabel, PublishPolicy } from "../../../src/domain/publishing";
import { HdcClient } from "../../../src/hdc/client";
import { HdcError } from "../../../src/hdc/errors";
import { findDownloadUrl } from "../../../src/hdc/normalizeStatus";
import {
  cancelShippingLabel,
  createShippingLabel,
  findShippingLabelByName,
  getShippingLabel,
  labelErrorReportUrl,
  labelStatus,
  listAudiences,
  listShippingLabels,
  type ShippingLabel,
  updateShippingLabelTargeting,
} from "../../../src/hdc/shippingLabels";
import { expandPolicy } from "../../../src/publishing/expandPolicy";
import { parsePublishPolicy } from "../../../src/publishing/policySchema";
import { type EmulatorFixture, startEmulatorFixture } from "../../support/emulatorFixture";

const TENANT = "tenant-labels";
const CLIENT = "client-labels";
const SECRET = "labels-secret";
const TEST_REGISTRY_KEY = "9f4f44d8-bfec-48c6-a02c-2d9ea220f6e2";
const approval = { microsoftContact: "sponsor@microsoft.com", validationsPerformed: "HLK", affectedOems: ["Contoso"], businessJustification: "Fixes crash on resume" };

let fixture: EmulatorFixture;
let emulators: EmulatorsHandle;
let client: HdcClient;

beforeAll(async () => {
  fixture = await startEmulatorFixture({ apps: [{ tenantId: TENANT, clientId: CLIENT, clientSecret: SECRET }] });
  ({ emulators } = fixture);
  const credential = new ClientSecretCredential(TENANT, CLIENT, SECRET, { authorityHost: emulators.authorityHost, disableInstanceDiscovery: true });
  client = new HdcClient({ baseUrl: emulators.hdcBaseUrl, credential, scope: "https://manage.devcenter.microsoft.com/.default", timeoutMs: 10_000, maxRetries: 1, retryDelayMs: 10 });
});

afterAll(async () => {
  await fixture?.stop();
});

beforeEach(async () => {
  await emulators.reset();
});

const configureLabels = (patch: Partial<LabelBehaviour>) => emulators.configure(labelBehaviourPatch(patch));

interface Signed {
  productId: string;
  submissionId: string;
  metadata: unknown;
}

/** Product → submission → upload → commit, without waiting for signing. */
async function committedSubmission(testHarness: "hlk" | "attestation"): Promise<{ productId: string; submissionId: string }> {
  const product = await client.createProduct({ productName: "Contoso USB", testHarness, requestedSignatures: ["WINDOWS_v100_X64_RS5_FULL"] });
  const submission = await client.createSubmission(product.id, { name: "initial", type: "initial" });
  const bytes = crypto.randomBytes(4096);
  await new BlockBlobClient(findDownloadUrl(submission, "initialPackage")!).upload(bytes, bytes.length);
  await client.commitSubmission(product.id, submission.id);
  return { productId: product.id, submissionId: submission.id };
}

/** A signed submission with its driver metadata downloaded. */
async function signedSubmission(testHarness: "hlk" | "attestation" = "hlk"): Promise<Signed> {
  const { productId, submissionId } = await committedSubmission(testHarness);
  emulators.advanceClock(3600);
  const submission = await client.getSubmission(productId, submissionId);
  const metadataUrl = findDownloadUrl(submission, "driverMetadata");
  expect(metadataUrl).toBeDefined();
  const metadata: unknown = JSON.parse((await new BlobClient(metadataUrl!).downloadToBuffer()).toString("utf8"));
  return { productId, submissionId, metadata };
}

async function labelBody(signed: Signed, raw: unknown, testHarness: "hlk" | "attestation" = "hlk"): Promise<NewShippingLabel> {
  const policy = parsePublishPolicy(raw);
  if (!policy.ok) throw new Error(JSON.stringify(policy.problems));
  const expanded = expandPolicy({ policy: policy.value, metadata: signed.metadata, submission: { productName: "Contoso USB", testHarness }, audiences: await listAudiences(client) });
  if (!expanded.ok) throw new Error(JSON.stringify(expanded.problems));
  return expanded.value.label;
}

async function phaseAfter(signed: Signed, label: ShippingLabel, seconds: number, cancelRequested = false) {
  if (seconds > 0) emulators.advanceClock(seconds);
  const current = await getShippingLabel(client, signed.productId, signed.submissionId, label.id);
  return labelStatus(current, { cancelRequested });
}

async function hdcFailure(promise: Promise<unknown>): Promise<HdcError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof HdcError)) throw new Error(`expected an HdcError, got ${String(error)}`);
  return error;
}

const WU_POLICY: PublishPolicy = {
  destination: "windowsUpdate",
  autoInstallOnApplicableSystems: true,
  approval,
  hardwareIds: { exclude: [{ osCode: "WINDOWS_v63_*" }] },
  chids: "allFromMetadata",
};

describe("shipping labels on the HDC emulator", () => {
  it("publishes to Windows Update: validating → awaitingMicrosoftApproval → published, ids exact, targeting echoed", async () => {
    configureLabels({ stepSeconds: 10, approvalSeconds: 3600 });
    const signed = await signedSubmission();
    const body = await labelBody(signed, WU_POLICY);
    expect(body.name).toBe("Contoso USB 2.3.1.0");
    expect(body.targeting.hardwareIds.length).toBeGreaterThanOrEqual(6);
    expect(body.targeting.chids).toHaveLength(3);

    const created = await createShippingLabel(client, signed.productId, signed.submissionId, body);
    expect(created.id).toMatch(/^11529215046280000\d\d$/);
    expect(created.submissionId).toBe(signed.submissionId);
    expect(created.workflowStatus).toMatchObject({ currentStep: "preProcessShippingLabel", state: "notStarted" });
    expect(labelStatus(created).phase).toBe("validating");

    const approvalPhase = await phaseAfter(signed, created, 45);
    expect(approvalPhase).toMatchObject({ phase: "awaitingMicrosoftApproval", currentStep: "microsoftApproval", state: "started", cancellable: true, terminal: false });
    expect(await phaseAfter(signed, created, 1800)).toMatchObject({ phase: "awaitingMicrosoftApproval" });
    expect(await phaseAfter(signed, created, 1800)).toMatchObject({ phase: "publishing", currentStep: "publishing" });
    expect(await phaseAfter(signed, created, 30)).toMatchObject({ phase: "published", currentStep: "finalizePublishing", state: "completed", terminal: true });

    const fetched = await getShippingLabel(client, signed.productId, signed.submissionId, created.id);
    expect((fetched.targeting as { hardwareIds: { pnpString: string }[] }).hardwareIds.every((id) => id.pnpString === id.pnpString.toLowerCase())).toBe(true);
    const found = await findShippingLabelByName(client, signed.productId, signed.submissionId, " contoso usb 2.3.1.0 ");
    expect(found?.id).toBe(created.id);
    expect(await listShippingLabels(client, signed.productId, signed.submissionId)).toHaveLength(1);
  });

  it("sends an attestation driver only to test audiences and tolerates a gradual rollout ending in state published", async () => {
    configureLabels({ stepSeconds: 10, approvalSeconds: 600, rolloutSeconds: 600, finalState: "published" });
    const signed = await signedSubmission("attestation");
    const policy = { destination: "windowsUpdate", hardwareIds: { include: [{ inf: "contoso_usb.inf" }] } };
    const body = await labelBody(signed, policy, "attestation");
    expect(body.targeting.restrictedToAudiences).toEqual([TEST_REGISTRY_KEY]);

    // The emulator models the 2023 rule itself: the same body without the audience is refused.
    const refused = await hdcFailure(
      createShippingLabel(client, signed.productId, signed.submissionId, { ...body, targeting: { ...body.targeting, restrictedToAudiences: [] } }),
    );
    expect(refused.statusCode).toBe(422);
    expect(refused.validationErrors).toContainEqual({ target: "targeting.restrictedToAudiences", message: "Attestation signed drivers can only be published to test audiences." });

    const label = await createShippingLabel(client, signed.productId, signed.submissionId, body);
    expect(await phaseAfter(signed, label, 45)).toMatchObject({ phase: "awaitingMicrosoftApproval" });
    const previous = (await phaseAfter(signed, label, 600)).phase;
    const rollout = await getShippingLabel(client, signed.productId, signed.submissionId, label.id);
    expect(rollout.workflowStatus).toMatchObject({ currentStep: "gradualRollout", state: "started" });
    expect(labelStatus(rollout, { previousPhase: previous })).toMatchObject({ phase: "publishing", cancellable: true });
    expect(await phaseAfter(signed, label, 700)).toMatchObject({ phase: "published", state: "published", terminal: true });
  });

  it("shares with a partner: → shared", async () => {
    configureLabels({ stepSeconds: 10 });
    const signed = await signedSubmission();
    const body = await labelBody(signed, { destination: "anotherPartner", receiverPublisherId: "27691110" });
    expect(body.recipientSpecifications).toEqual({ receiverPublisherId: "27691110", enforceChidTargeting: false });
    const label = await createShippingLabel(client, signed.productId, signed.submissionId, body);
    expect(await phaseAfter(signed, label, 35)).toMatchObject({ phase: "publishing", currentStep: "processSharing", state: "started" });
    expect(await phaseAfter(signed, label, 60)).toMatchObject({ phase: "shared", currentStep: "finalizeSharing", state: "completed", terminal: true });
    // A shared label cannot be cancelled.
    const refused = await hdcFailure(cancelShippingLabel(client, signed.productId, signed.submissionId, label.id));
    expect(refused).toMatchObject({ statusCode: 400, code: "requestInvalidForCurrentState" });
  });

  it("cancels only during approval; the label then reads failed, which we report as cancelled", async () => {
    configureLabels({ stepSeconds: 10, approvalSeconds: 3600, cancelSeconds: 600 });
    const signed = await signedSubmission();
    const label = await createShippingLabel(client, signed.productId, signed.submissionId, await labelBody(signed, WU_POLICY));

    const early = await hdcFailure(cancelShippingLabel(client, signed.productId, signed.submissionId, label.id));
    expect(early).toMatchObject({ statusCode: 400, code: "requestInvalidForCurrentState" });
    expect(early.message).toContain("only be cancelled in Microsoft Approval or Gradual Rollout");

    expect(await phaseAfter(signed, label, 45)).toMatchObject({ phase: "awaitingMicrosoftApproval", cancellable: true });
    await cancelShippingLabel(client, signed.productId, signed.submissionId, label.id);
    await cancelShippingLabel(client, signed.productId, signed.submissionId, label.id); // a repeated PUT is harmless
    // Real cancellation takes time; meanwhile the label still reads as in approval.
    expect(await phaseAfter(signed, label, 60, true)).toMatchObject({ phase: "awaitingMicrosoftApproval" });
    const cancelled = await phaseAfter(signed, label, 600, true);
    expect(cancelled).toMatchObject({ phase: "cancelled", state: "failed", currentStep: "microsoftApproval", terminal: true, hasErrorReport: false });
    // Without our own record of the cancel, the same label reads failed.
    expect(await phaseAfter(signed, label, 0, false)).toMatchObject({ phase: "failed" });
    // It never moves on to publishing.
    expect(await phaseAfter(signed, label, 7200, true)).toMatchObject({ phase: "cancelled", currentStep: "microsoftApproval" });
  });

  it("PATCHes hardware ids, CHIDs and audiences with the targeting key, and refuses bad updates", async () => {
    configureLabels({ stepSeconds: 10, approvalSeconds: 3600, patchSeconds: 120 });
    const signed = await signedSubmission();
    const body = await labelBody(signed, { ...WU_POLICY, hardwareIds: { include: [{ inf: "contoso_usb.inf", osCode: "*_RS5_*" }] }, chids: undefined });
    expect(body.targeting.hardwareIds).toHaveLength(2);
    const label = await createShippingLabel(client, signed.productId, signed.submissionId, body);
    const [first] = body.targeting.hardwareIds;
    const filter = { ...first!, infId: "contoso_filter.inf", pnpString: "root\\contoso_filter" };

    // While the label's own workflow runs, updates are refused.
    const busy = await hdcFailure(updateShippingLabelTargeting(client, signed.productId, signed.submissionId, label.id, { hardwareIds: [{ ...filter, action: "add" }] }));
    expect(busy).toMatchObject({ statusCode: 400, code: "invalidInput" });
    expect(busy.message).toContain("another workflow is in progress");

    emulators.advanceClock(45);
    await updateShippingLabelTargeting(client, signed.productId, signed.submissionId, label.id, {
      hardwareIds: [
        { ...filter, action: "add" },
        { ...first!, action: "remove" },
      ],
    });
    let current = await getShippingLabel(client, signed.productId, signed.submissionId, label.id);
    const ids = (current.targeting as { hardwareIds: { infId: string; pnpString: string; distributionState: string }[] }).hardwareIds;
    expect(ids).toContainEqual(expect.objectContaining({ infId: "contoso_filter.inf", pnpString: "root\\contoso_filter", distributionState: "pendingAdd" }));
    expect(ids).toContainEqual(expect.objectContaining({ infId: first!.infId, pnpString: first!.pnpString, distributionState: "pendingRemove" }));
    expect(ids).toHaveLength(3);

    // The update has its own workflow: a second PATCH right away is refused, later accepted.
    const again = await hdcFailure(updateShippingLabelTargeting(client, signed.productId, signed.submissionId, label.id, { restrictedToAudiences: [TEST_REGISTRY_KEY] }));
    expect(again.message).toContain("another workflow is in progress");
    emulators.advanceClock(150);
    const chid = "346511cf-ccee-5c6d-8ee9-3c70fc7aae83";
    await updateShippingLabelTargeting(client, signed.productId, signed.submissionId, label.id, { restrictedToAudiences: [TEST_REGISTRY_KEY], chids: [{ chid, action: "add" }] });
    current = await getShippingLabel(client, signed.productId, signed.submissionId, label.id);
    expect(current.targeting).toMatchObject({ restrictedToAudiences: [TEST_REGISTRY_KEY], chids: [{ chid, distributionState: "pendingAdd" }] });

    emulators.advanceClock(150);
    // A tuple that is not in the metadata, and a pre-Windows 10 id next to CHIDs, are refused by field.
    const unknown = await hdcFailure(
      updateShippingLabelTargeting(client, signed.productId, signed.submissionId, label.id, { hardwareIds: [{ ...filter, pnpString: "pci\\ven_dead", action: "add" }] }),
    );
    expect(unknown).toMatchObject({ statusCode: 422, validationErrors: [{ target: "targeting.hardwareIds[0]", message: expect.stringContaining("driver metadata") }] });
    const win81 = await hdcFailure(
      updateShippingLabelTargeting(client, signed.productId, signed.submissionId, label.id, { hardwareIds: [{ ...filter, operatingSystemCode: "WINDOWS_v63_X64", action: "add" }] }),
    );
    expect(win81.validationErrors).toEqual([{ target: "targeting.chids", message: "CHIDs are allowed only when HardwareIds are for operating systems Windows 10 and later." }]);
    // The documented pitfall: `targetingInfo` is not the body key.
    const wrongKey = await hdcFailure(
      client.request("PATCH", `hardware/products/${signed.productId}/submissions/${signed.submissionId}/shippingLabels/${label.id}`, [204], {
        targetingInfo: { restrictedToAudiences: [] },
      }),
    );
    expect(wrongKey.statusCode).toBe(422);
    expect(wrongKey.validationErrors.map((v) => v.target)).toEqual(["targetingInfo.chids", "targetingInfo.hardwareIds", "targetingInfo.restrictedToAudiences"]);
    await expect(updateShippingLabelTargeting(client, signed.productId, signed.submissionId, label.id, {})).rejects.toThrow(TypeError);
  });

  it("refuses a label on a submission that is not signed yet, and until its driver metadata appears", async () => {
    configureLabels({ stepSeconds: 10, metadataDelayPolls: 2 });
    const { productId, submissionId } = await committedSubmission("hlk");
    const someLabel: NewShippingLabel = { name: "early", destination: "anotherPartner", recipientSpecifications: { receiverPublisherId: "1", enforceChidTargeting: false }, targeting: { hardwareIds: [], chids: [], restrictedToAudiences: [] } };
    const unsigned = await hdcFailure(createShippingLabel(client, productId, submissionId, someLabel));
    expect(unsigned).toMatchObject({ statusCode: 400, code: "requestInvalidForCurrentState", serviceMessage: "Submission isn't yet ready to create shipping label. Retry after some time." });
    expect(unsigned.retryable).toBe(false);

    emulators.advanceClock(3600);
    for (let poll = 0; poll < 2; poll++) {
      const submission = await client.getSubmission(productId, submissionId);
      expect(findDownloadUrl(submission, "signedPackage")).toBeDefined();
      expect(findDownloadUrl(submission, "driverMetadata")).toBeUndefined();
      const stillNotReady = await hdcFailure(createShippingLabel(client, productId, submissionId, someLabel));
      expect(stillNotReady.code).toBe("requestInvalidForCurrentState");
    }
    const ready = await client.getSubmission(productId, submissionId);
    const metadataUrl = findDownloadUrl(ready, "driverMetadata");
    expect(metadataUrl).toBeDefined();
    const signed: Signed = { productId, submissionId, metadata: JSON.parse((await new BlobClient(metadataUrl!).downloadToBuffer()).toString("utf8")) };
    const label = await createShippingLabel(client, productId, submissionId, await labelBody(signed, { destination: "anotherPartner", receiverPublisherId: "1" }));
    expect(labelStatus(label).phase).toBe("validating");
  });

  it("enforces the service's body rules with the documented error shapes", async () => {
    const signed = await signedSubmission();
    const valid = await labelBody(signed, { destination: "windowsUpdate", hardwareIds: { include: [{ inf: "contoso_usb.inf" }] } });
    const targetsOf = async (label: NewShippingLabel) => {
      const error = await hdcFailure(createShippingLabel(client, signed.productId, signed.submissionId, label));
      expect(error).toMatchObject({ statusCode: 422, code: "invalidInput", serviceMessage: "Validation Failed." });
      return error.validationErrors;
    };
    // SDCM 1.x's misspelling: the service ignores `manualAcquistion`, so manual acquisition reads false.
    const { manualAcquisition: _dropped, ...misspelt } = valid.publishingSpecifications!;
    expect(await targetsOf({ ...valid, publishingSpecifications: { ...misspelt, manualAcquistion: true } as never })).toEqual([
      { target: "publishingSpecifications.manualAcquisition", message: "ManualAcquisition must be true when no auto-install option is set." },
    ]);
    expect(await targetsOf({ ...valid, publishingSpecifications: { ...valid.publishingSpecifications!, isAutoInstallOnApplicableSystems: true } })).toEqual([
      { target: "publishingSpecifications.manualAcquisition", message: "ManualAcquisition must be false when an auto-install option is set." },
      { target: "publishingSpecifications.additionalInfoForMsApproval", message: "AdditionalInfoForMsApproval is required for auto-install." },
    ]);
    const all = await labelBody(signed, { destination: "anotherPartner", receiverPublisherId: "1" });
    expect(await targetsOf({ ...valid, targeting: { ...valid.targeting, hardwareIds: all.targeting.hardwareIds } })).toEqual([
      { target: "targeting.hardwareIds", message: "Extension drivers must be published as an Automatic update." },
    ]);
    const withWin81 = all.targeting.hardwareIds.filter((id) => id.infId === "contoso_filter.inf");
    expect(await targetsOf({ ...all, targeting: { ...all.targeting, hardwareIds: withWin81, chids: [{ chid: "346511cf-ccee-5c6d-8ee9-3c70fc7aae83" }] } })).toEqual([
      { target: "targeting.chids", message: "CHIDs are allowed only when HardwareIds are for operating systems Windows 10 and later." },
    ]);
    expect(
      await targetsOf({ ...valid, targeting: { ...valid.targeting, inServicePublishInfo: { flooring: "RS9" as never }, coEngDriverPublishInfo: { flooringBuildNumber: "1" } } }),
    ).toEqual([
      { target: "targeting.inServicePublishInfo.flooring", message: expect.stringContaining("Must be one of TH") },
      { target: "targeting.coEngDriverPublishInfo", message: "InServicePublishInfo and CoEngDriverPublishInfo cannot both be set." },
    ]);
    expect(await targetsOf({ ...all, recipientSpecifications: undefined })).toEqual([
      { target: "recipientSpecifications.receiverPublisherId", message: "ReceiverPublisherId is required for destination anotherPartner." },
    ]);
    expect(await targetsOf({ ...valid, publishingSpecifications: undefined })).toEqual([
      { target: "publishingSpecifications", message: "PublishingSpecifications is required for destination windowsUpdate." },
    ]);
    // A read-only (shared-in) product.
    configureLabels({ readOnlyProductIds: [signed.productId] });
    const readOnly = await hdcFailure(createShippingLabel(client, signed.productId, signed.submissionId, valid));
    expect(readOnly).toMatchObject({ statusCode: 403, code: "readOnlyProduct" });
  });

  it("fails a label as configured, with messages and an error report", async () => {
    configureLabels({
      stepSeconds: 10,
      failAtStep: "PublishJobValidation",
      failMessages: ["Ingestion is not complete for contoso_usb.inf"],
      errorReportText: "LABEL-REPORT: publish job validation failed for contoso_usb.inf",
    });
    const signed = await signedSubmission();
    const label = await createShippingLabel(client, signed.productId, signed.submissionId, await labelBody(signed, WU_POLICY));
    expect(await phaseAfter(signed, label, 15)).toMatchObject({ phase: "validating" });
    emulators.advanceClock(20);
    const failed = await getShippingLabel(client, signed.productId, signed.submissionId, label.id);
    const status = labelStatus(failed);
    expect(status).toEqual({
      phase: "failed",
      currentStep: "publishJobValidation",
      state: "failed",
      messages: ["Ingestion is not complete for contoso_usb.inf"],
      terminal: true,
      cancellable: false,
      hasErrorReport: true,
    });
    const reportUrl = labelErrorReportUrl(failed)!;
    expect(new URL(reportUrl).searchParams.get("sp")).toBe("r");
    expect((await new BlobClient(reportUrl).downloadToBuffer()).toString("utf8")).toBe("LABEL-REPORT: publish job validation failed for contoso_usb.inf");
    const refused = await hdcFailure(updateShippingLabelTargeting(client, signed.productId, signed.submissionId, label.id, { restrictedToAudiences: [] }));
    expect(refused.code).toBe("requestInvalidForCurrentState");
  });

  it("does not repeat a create whose answer was lost; the label is found again by name", async () => {
    configureLabels({ stepSeconds: 10 });
    const signed = await signedSubmission();
    const body = await labelBody(signed, { destination: "anotherPartner", receiverPublisherId: "27691110", name: "Contoso share" });
    emulators.configure({ faults: [{ method: "POST", pathRegex: "/shippingLabels$", status: 502, times: 1, afterApplying: true }] });
    const lost = await hdcFailure(createShippingLabel(client, signed.productId, signed.submissionId, body));
    expect(lost).toMatchObject({ statusCode: 502, retryable: true });
    expect(emulators.requests().entries.filter((entry) => entry.kind === "createShippingLabel")).toHaveLength(1);
    const found = await findShippingLabelByName(client, signed.productId, signed.submissionId, "Contoso share");
    expect(found).toMatchObject({ name: "Contoso share", destination: "anotherPartner" });
    expect(await listShippingLabels(client, signed.productId, signed.submissionId)).toHaveLength(1);
  });

  it("validates the label configuration it is given", () => {
    expect(() => labelBehaviourPatch({ stepSeconds: -1 })).toThrow(/labels.stepSeconds must be a number >= 0/);
    expect(() => labelBehaviourPatch({ finalState: "done" as never })).toThrow(/labels.finalState/);
  });

  it("lists audiences including the Test Registry Key, and answers 404 for unknown labels", async () => {
    const audiences = await listAudiences(client);
    expect(audiences).toContainEqual(expect.objectContaining({ id: TEST_REGISTRY_KEY, name: "Test Registry Key" }));
    const signed = await signedSubmission();
    const missing = await hdcFailure(getShippingLabel(client, signed.productId, signed.submissionId, "1152921504628999999"));
    expect(missing).toMatchObject({ statusCode: 404, code: "entityNotFound" });
    expect(emulators.requests().entries.map((entry) => entry.kind)).toEqual(expect.arrayContaining(["listAudiences", "getShippingLabel"]));
  });
});
