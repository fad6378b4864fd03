/**
 * Publishing after signing (issue 11) on the local runtime: the `publish` policy in POST
 * /api/submissions and in a sidecar, the publishLabel sub-orchestration through the emulator's
 * label workflow (virtual clock: approval and rollout dwell times are skipped), the label routes
 * (POST/PATCH/cancel), validation before anything starts, the attestation guard, and a kill -9
 * between the label POST and its checkpoint.
 * One stack for the file; each test signs its own package.
 */
import { ClientSecretCredential } from "@azure/identity";
import { APP_CONTAINERS } from "../../local/stack";
import { labelBehaviourPatch } from "../../local/emulators/shippingLabels";
import type { LabelBehaviour } from "../../local/emulators/hdcBehaviour";
import { samplePackage } from "../../local/samplePackage";
import type { LabelReport } from "../../src/domain/types";
import { HdcClient } from "../../src/hdc/client";
import { getShippingLabel, listShippingLabels } from "../../src/hdc/shippingLabels";
import { expectNothingSecret, startTestStack, waitForEnd, type TestStack } from "../support/stack";
import { faultTaken, hdcEntries, logMark, until } from "../proof/support/proof";

jest.setTimeout(180_000);

const HTTP_CONTAINER = "e2e-publish";
const TEST_REGISTRY_KEY = "9f4f44d8-bfec-48c6-a02c-2d9ea220f6e2";
const OEM_PREVIEW_AUDIENCE = "b1a2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
/** The emulated metadata has an extension INF, which Windows Update takes only as an automatic update. */
const NO_EXTENSION = { exclude: [{ inf: "contoso_ext.inf" }] };
const TEN_YEARS_SECONDS = 10 * 365 * 86_400;

describe("publish after signing (local runtime, virtual clock)", () => {
  let stack: TestStack;
  let hdc: HdcClient;
  const readBack: string[] = [];
  const runtimeLog: string[] = [];

  beforeAll(async () => {
    stack = await startTestStack({
      // Followed long enough that a label parked in approval can be caught and cancelled.
      // Activity retries 150 s, then 300 s apart (durable timers, virtual clock): a label change that
      // needs them lasts longer than the 230 s an HTTP call may take in Azure.
      appSettings: {
        SUBMISSION_CONTAINERS: `${APP_CONTAINERS.drops},${HTTP_CONTAINER}`,
        LABEL_DEADLINE_DAYS: "7300",
        ACTIVITY_RETRY_FIRST_SECONDS: "150",
        ACTIVITY_RETRY_MAX_SECONDS: "300",
      },
      echoRuntimeLog: (line) => runtimeLog.push(line),
    });
    const credential = new ClientSecretCredential(stack.env.HDC_TENANT_ID, stack.env.HDC_CLIENT_ID, stack.env.HDC_CLIENT_SECRET, {
      authorityHost: stack.env.HDC_AUTHORITY_HOST,
      disableInstanceDiscovery: true,
    });
    hdc = new HdcClient({ baseUrl: stack.env.HDC_API_BASE_URL, credential, scope: stack.env.HDC_SCOPE ?? "https://manage.devcenter.microsoft.com/.default", timeoutMs: 10_000, maxRetries: 1, retryDelayMs: 10 });
  });
  afterAll(async () => {
    if (stack) for (const text of readBack) expectNothingSecret(stack, text);
    await stack?.stop();
  });

  const labels = (patch: Partial<LabelBehaviour>) => stack.emulators.configure(labelBehaviourPatch(patch));

  async function upload(folder: string, extension: ".hlkx" | ".cab" = ".hlkx"): Promise<string> {
    const pkg = samplePackage({ folder, extension });
    const container = stack.blobService.getContainerClient(HTTP_CONTAINER);
    await container.createIfNotExists();
    await container.getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
    return `${HTTP_CONTAINER}/${pkg.fileName}`;
  }

  async function post(path: string, body: unknown, method = "POST"): Promise<{ status: number; json: Record<string, any> }> {
    const response = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: { "content-type": "application/json", "x-functions-key": stack.functionKey },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    readBack.push(text);
    return { status: response.status, json: text ? JSON.parse(text) : {} };
  }

  /** Sends a label change; it must answer 202 with our own status location (header and body alike). */
  async function startChange(path: string, body: unknown, method = "POST"): Promise<{ ms: number; statusUrl: string; json: Record<string, any> }> {
    const began = performance.now();
    const response = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: { "content-type": "application/json", "x-functions-key": stack.functionKey },
      body: JSON.stringify(body),
    });
    const ms = performance.now() - began;
    const text = await response.text();
    readBack.push(text);
    expect({ status: response.status, text }).toMatchObject({ status: 202 });
    const json = JSON.parse(text);
    expect(response.headers.get("location")).toBe(json.statusUrl);
    expect(json.statusUrl).toMatch(new RegExp(`^${stack.apiUrl}/submissions/[^/]+/labels/\\d+/changes/\\d+$`));
    expect(json.statusUrl).not.toMatch(/code=|runtime\/webhooks/);
    return { ms, statusUrl: json.statusUrl as string, json };
  }

  /** Follows a change's status location to its end, as the CLI and the page do. */
  async function changeOutcome(statusUrl: string, timeoutMs = 90_000): Promise<Record<string, any>> {
    return until(
      "the label change to end",
      async () => {
        const response = await fetch(statusUrl, { headers: { "x-functions-key": stack.functionKey } });
        const text = await response.text();
        readBack.push(text);
        expect(response.status).toBe(200);
        const json = JSON.parse(text);
        return json.state === "running" ? undefined : json;
      },
      timeoutMs,
      100,
    );
  }

  async function change(path: string, body: unknown, method = "POST"): Promise<Record<string, any>> {
    return changeOutcome((await startChange(path, body, method)).statusUrl);
  }

  async function submit(folder: string, publish: unknown, extension: ".hlkx" | ".cab" = ".hlkx"): Promise<string> {
    const started = await post("/submissions", { package: await upload(folder, extension), publish });
    expect(started.status).toBe(202);
    return started.json.id as string;
  }

  async function finished(id: string): Promise<{ label: LabelReport; view: Record<string, any> }> {
    const final = await waitForEnd(stack, id, 150_000);
    readBack.push(JSON.stringify(final.raw));
    expect({ runtimeStatus: final.runtimeStatus, stage: final.stage }).toEqual({ runtimeStatus: "Completed", stage: "succeeded" });
    return { label: final.raw.label as LabelReport, view: final.raw };
  }

  async function manifestOf(view: Record<string, any>): Promise<Record<string, any>> {
    const text = (await stack.blobService.getContainerClient(view.manifest.container).getBlobClient(view.manifest.blobName).downloadToBuffer()).toString("utf8");
    readBack.push(text);
    return JSON.parse(text);
  }

  const createCalls = (mark: number) => hdcEntries(stack, mark, "createShippingLabel").length;

  it("publishes to Windows Update through Microsoft approval to published", async () => {
    labels({ approvalSeconds: 86_400, rolloutSeconds: 0, failAtStep: undefined });
    const mark = logMark(stack);
    const id = await submit("pub-wu", { destination: "windowsUpdate", hardwareIds: NO_EXTENSION });
    const { label, view } = await finished(id);
    expect(label).toMatchObject({ phase: "published", destination: "windowsUpdate", labelId: expect.stringMatching(/^\d+$/), instanceId: `${id}-label-1` });
    expect(label.hardwareIdCount).toBeGreaterThan(0);
    const remote = await getShippingLabel(hdc, view.productId, view.submissionId, label.labelId!);
    expect(remote.workflowStatus?.currentStep).toBe("finalizePublishing");
    // It went through approval: the label's GETs saw microsoftApproval before it finished.
    expect(label.pollCount).toBeGreaterThan(1);
    expect(createCalls(mark)).toBe(1);
    const manifest = await manifestOf(view);
    expect(manifest).toMatchObject({ outcome: "succeeded", label: { phase: "published", labelId: label.labelId } });
  });

  it("shares with a partner (the smallest policy, as written) to shared", async () => {
    const packagePath = await upload("pub-partner");
    const started = await post("/submissions", { package: packagePath, publish: { destination: "anotherPartner", receiverPublisherId: "27691110" } });
    expect(started.status).toBe(202);
    const id = started.json.id as string;
    const { label, view } = await finished(id);
    expect(label).toMatchObject({ phase: "shared", destination: "anotherPartner" });
    // The same version again with a policy: nothing new starts, and the answer says where publishing goes.
    const again = await post("/submissions", { package: packagePath, publish: { destination: "anotherPartner", receiverPublisherId: "27691110" } });
    expect(again).toMatchObject({ status: 200, json: { alreadySigned: true, publish: expect.stringMatching(/\/labels with the policy$/) } });
    const remote = await getShippingLabel(hdc, view.productId, view.submissionId, label.labelId!);
    expect(remote.recipientSpecifications).toMatchObject({ receiverPublisherId: "27691110" });
  });

  it("dry run: creates nothing, shows the label it would create and writes shippingLabel.request.json", async () => {
    const mark = logMark(stack);
    const id = await submit("pub-dry", { destination: "windowsUpdate", dryRun: true, hardwareIds: NO_EXTENSION });
    const { label, view } = await finished(id);
    expect(label).toMatchObject({ phase: "dryRun", destination: "windowsUpdate" });
    expect(label.hardwareIdCount).toBeGreaterThan(0);
    expect(label.hardwareIdSample!.length).toBeGreaterThan(0);
    expect(label.hardwareIdSample![0]).toMatch(/\.inf \| WINDOWS_v\d+/i);
    expect(label.labelId).toBeUndefined();
    expect(createCalls(mark)).toBe(0);
    expect(label.request?.blobName).toBe(`${view.manifest.blobName.replace(/manifest\.json$/, "")}shippingLabel.request.json`);
    const body = JSON.parse((await stack.blobService.getContainerClient(label.request!.container).getBlobClient(label.request!.blobName).downloadToBuffer()).toString("utf8"));
    expect(body.targeting.hardwareIds).toHaveLength(label.hardwareIdCount!);
    expect(body.publishingSpecifications.manualAcquisition).toBe(true);
  });

  it("dry run of the bare policy, as written: shows the label with every hardware id and what Microsoft would refuse, creates nothing", async () => {
    const mark = logMark(stack);
    const id = await submit("pub-dry-bare", { destination: "windowsUpdate", dryRun: true });
    const { label } = await finished(id);
    expect(label.phase).toBe("dryRun");
    expect(label.hardwareIdCount).toBeGreaterThan(0);
    expect(label.hardwareIdSample!.length).toBeGreaterThan(0);
    // The emulated driver has an extension INF: a manual Windows Update label would be refused for it.
    expect(label.problems!.join("\n")).toMatch(/^publish\.hardwareIds: selects extension INF\(s\) contoso_ext\.inf/m);
    const body = JSON.parse((await stack.blobService.getContainerClient(label.request!.container).getBlobClient(label.request!.blobName).downloadToBuffer()).toString("utf8"));
    expect(body.targeting.hardwareIds).toHaveLength(label.hardwareIdCount!);
    expect(body.targeting.hardwareIds.some((h: { infId: string }) => h.infId === "contoso_ext.inf")).toBe(true);
    expect(label.labelId).toBeUndefined();
    expect(createCalls(mark)).toBe(0);
  });

  it("a real run of a policy Microsoft would refuse stops as rejected before anything is sent", async () => {
    const mark = logMark(stack);
    const id = await submit("pub-bare-real", { destination: "windowsUpdate" });
    const { label } = await finished(id);
    expect(label.phase).toBe("rejected");
    expect(label.problems!.join("\n")).toMatch(/^publish\.hardwareIds: selects extension INF\(s\) contoso_ext\.inf/m);
    expect(createCalls(mark)).toBe(0);
  });

  it("Microsoft fails the label: phase failed with its messages and error report; signing stays succeeded", async () => {
    labels({ failAtStep: "publishJobValidation", failMessages: ["Hardware id usb\\vid_045e&pid_0001 failed publish job validation."], errorReportText: "Publish job validation report\nline 2: target rejected" });
    try {
      const id = await submit("pub-fail", { destination: "windowsUpdate", hardwareIds: NO_EXTENSION });
      const { label } = await finished(id);
      expect(label).toMatchObject({ phase: "failed", currentStep: "publishJobValidation", state: "failed" });
      expect(label.messages).toEqual(["Hardware id usb\\vid_045e&pid_0001 failed publish job validation."]);
      expect(label.errorReportText).toContain("line 2: target rejected");
    } finally {
      labels({ failAtStep: undefined, failMessages: undefined, errorReportText: undefined });
    }
  });

  it("PATCH removes and adds hardware ids, then cancel during approval ends cancelled", async () => {
    labels({ approvalSeconds: 2 * TEN_YEARS_SECONDS });
    const id = await submit("pub-cancel", { destination: "windowsUpdate", hardwareIds: NO_EXTENSION });
    const waiting = await stack.submissions.waitFor(id, (v) => (v.raw.label as LabelReport | undefined)?.phase === "awaitingMicrosoftApproval", { timeoutMs: 90_000 });
    labels({ approvalSeconds: 86_400 });
    const label = waiting.raw.label as LabelReport;
    const productId = waiting.custom.productId!;
    const submissionId = waiting.custom.submissionId!;
    const before = await getShippingLabel(hdc, productId, submissionId, label.labelId!);
    const first = (before.targeting!.hardwareIds as any[])[0];
    const tuple = { bundleId: first.bundleId, infId: first.infId, operatingSystemCode: first.operatingSystemCode, pnpString: first.pnpString };

    const removed = await change(`/submissions/${id}/labels/${label.labelId}`, { targeting: { hardwareIds: { remove: [tuple] } } }, "PATCH");
    expect(removed).toMatchObject({ kind: "update", state: "succeeded", hardwareIdChanges: 1, alreadyApplied: false, labelId: label.labelId });
    const afterRemove = await getShippingLabel(hdc, productId, submissionId, label.labelId!);
    expect((afterRemove.targeting!.hardwareIds as any[]).find((h) => h.pnpString === tuple.pnpString && h.operatingSystemCode === tuple.operatingSystemCode && h.infId === tuple.infId)?.distributionState).toBe("pendingRemove");
    const added = await change(`/submissions/${id}/labels/${label.labelId}`, { targeting: { hardwareIds: { add: [tuple] } } }, "PATCH");
    expect(added).toMatchObject({ state: "succeeded", hardwareIdChanges: 1, chidChanges: 0 });
    const afterAdd = await getShippingLabel(hdc, productId, submissionId, label.labelId!);
    expect((afterAdd.targeting!.hardwareIds as any[]).find((h) => h.pnpString === tuple.pnpString && h.operatingSystemCode === tuple.operatingSystemCode && h.infId === tuple.infId)?.distributionState).toBe("pendingAdd");
    // The label also targets Windows 8.1 (contoso_filter.inf): Microsoft refuses CHIDs, and the change's status says why.
    const chid = await change(`/submissions/${id}/labels/${label.labelId}`, { targeting: { chids: { add: ["346511cf-ccee-5c6d-8ee9-3c70fc7aae83"] } } }, "PATCH");
    expect(chid.state).toBe("failed");
    expect(chid.reason).toMatch(/targeting\.chids: CHIDs are allowed only when HardwareIds are for operating systems Windows 10 and later/);
    // Microsoft's validation is passed on, naming its field.
    const bogus = await change(`/submissions/${id}/labels/${label.labelId}`, { targeting: { hardwareIds: { add: [{ ...tuple, pnpString: "usb\\vid_dead&pid_beef" }] } } }, "PATCH");
    expect(bogus.state).toBe("failed");
    expect(bogus.reason).toMatch(/targeting\.hardwareIds\[0\]/);
    // Our own validation before anything starts.
    const badBody = await post(`/submissions/${id}/labels/${label.labelId}`, { targeting: { hardwareIds: { add: [{ infId: "x.inf" }] } } }, "PATCH");
    expect(badBody.status).toBe(400);
    expect(badBody.json.fields.map((f: { field: string }) => f.field)).toContain("targeting.hardwareIds.add.0.bundleId");
    // An unknown label id: 404, nothing started.
    expect((await post(`/submissions/${id}/labels/99999999/cancel`, {})).status).toBe(404);
    // The listing shows the changes with their outcomes.
    const listed = await fetch(`${stack.apiUrl}/submissions/${id}/labels`, { headers: { "x-functions-key": stack.functionKey } });
    const listing = (await listed.json()) as { items: { label?: LabelReport; changes?: { change: number; state: string }[] }[] };
    expect(listing.items.find((run) => run.label?.labelId === label.labelId)?.changes?.map((c) => [c.change, c.state])).toEqual([
      [1, "succeeded"],
      [2, "succeeded"],
      [3, "failed"],
      [4, "failed"],
    ]);

    const cancelled = await change(`/submissions/${id}/labels/${label.labelId}/cancel`, {});
    expect(cancelled).toMatchObject({ kind: "cancel", state: "succeeded", alreadyApplied: false });
    const { label: final } = await finished(id);
    expect(final).toMatchObject({ phase: "cancelled", cancelRequested: true, labelId: label.labelId });
    // A finished label cannot be cancelled again at Microsoft; our marker answers idempotently, nothing started.
    expect((await post(`/submissions/${id}/labels/${label.labelId}/cancel`, {})).json).toMatchObject({ alreadyRequested: true });
    // Nor can a cancelled label's targeting change: 409 with why.
    const late = await post(`/submissions/${id}/labels/${label.labelId}`, { targeting: { hardwareIds: { add: [tuple] } } }, "PATCH");
    expect(late.status).toBe(409);
    expect(late.json.error).toMatch(/is cancelled; its targeting cannot be changed/);
  });

  it("a PATCH whose calls to Microsoft take longer than 230 s answers 202 at once and completes; one change per label at a time", async () => {
    labels({ approvalSeconds: 2 * TEN_YEARS_SECONDS });
    const id = await submit("pub-slow-patch", { destination: "windowsUpdate", hardwareIds: NO_EXTENSION });
    const waiting = await stack.submissions.waitFor(id, (v) => (v.raw.label as LabelReport | undefined)?.phase === "awaitingMicrosoftApproval", { timeoutMs: 90_000 });
    const label = waiting.raw.label as LabelReport;
    const { productId, submissionId } = waiting.custom as { productId: string; submissionId: string };
    const before = await getShippingLabel(hdc, productId, submissionId, label.labelId!);
    const first = (before.targeting!.hardwareIds as any[])[0];
    const tuple = { bundleId: first.bundleId, infId: first.infId, operatingSystemCode: first.operatingSystemCode, pnpString: first.pnpString };
    // Microsoft answers 503 to the first 10 PATCHes: two activity attempts (the HDC client's 1 + 4 tries
    // each) fail, 150 s and 300 s of retry waits follow, the third attempt goes through.
    stack.emulators.configure({ faults: [{ method: "PATCH", pathRegex: "/shippingLabels/\\d+$", status: 503, times: 10 }] });
    const mark = logMark(stack);
    try {
      const started = await startChange(`/submissions/${id}/labels/${label.labelId}`, { targeting: { hardwareIds: { remove: [tuple] } } }, "PATCH");
      // The answer comes at once (real time), not after Microsoft.
      expect(started.ms).toBeLessThan(3000);
      expect(started.json).toMatchObject({ kind: "update", state: "running", change: 1 });
      // A second change while this one runs: 409 naming the running one.
      const second = await post(`/submissions/${id}/labels/${label.labelId}/cancel`, {});
      expect(second.status).toBe(409);
      expect(second.json).toMatchObject({ error: expect.stringMatching(/still running; one change per label at a time/), statusUrl: started.statusUrl });
      const outcome = await changeOutcome(started.statusUrl);
      expect(outcome).toMatchObject({ state: "succeeded", hardwareIdChanges: 1, runtimeStatus: "Completed" });
      // Longer than Azure's 230 s HTTP limit in (orchestration) time, of calls to Microsoft and their retries.
      expect((Date.parse(outcome.endedAt) - Date.parse(outcome.startedAt)) / 1000).toBeGreaterThan(230);
      expect(faultTaken(stack, 0)).toBe(10);
      expect(hdcEntries(stack, mark, "updateShippingLabel", true)).toHaveLength(1);
      const after = await getShippingLabel(hdc, productId, submissionId, label.labelId!);
      expect((after.targeting!.hardwareIds as any[]).find((h) => h.pnpString === tuple.pnpString && h.infId === tuple.infId && h.operatingSystemCode === tuple.operatingSystemCode)?.distributionState).toBe("pendingRemove");
      // Let the parked label go (it would be followed for years otherwise).
      stack.emulators.configure({ faults: [] });
      expect(await change(`/submissions/${id}/labels/${label.labelId}/cancel`, {})).toMatchObject({ state: "succeeded" });
      expect((await finished(id)).label.phase).toBe("cancelled");
    } finally {
      stack.emulators.configure({ faults: [] });
      labels({ approvalSeconds: 86_400 });
    }
  });

  it("kill -9 while a label PATCH is at Microsoft: the change is applied exactly once and the status says so", async () => {
    labels({ approvalSeconds: 2 * TEN_YEARS_SECONDS });
    const id = await submit("pub-patch-crash", { destination: "windowsUpdate", hardwareIds: NO_EXTENSION });
    const waiting = await stack.submissions.waitFor(id, (v) => (v.raw.label as LabelReport | undefined)?.phase === "awaitingMicrosoftApproval", { timeoutMs: 90_000 });
    const label = waiting.raw.label as LabelReport;
    const { productId, submissionId } = waiting.custom as { productId: string; submissionId: string };
    const before = await getShippingLabel(hdc, productId, submissionId, label.labelId!);
    const first = (before.targeting!.hardwareIds as any[])[0];
    const tuple = { bundleId: first.bundleId, infId: first.infId, operatingSystemCode: first.operatingSystemCode, pnpString: first.pnpString };
    // The PATCH is held 2 s at the emulator, then applied: the runtime dies while it is in flight.
    stack.emulators.configure({ faults: [{ method: "PATCH", pathRegex: "/shippingLabels/\\d+$", delayMs: 2000, times: 1 }] });
    const mark = logMark(stack);
    let down = false;
    try {
      const started = await startChange(`/submissions/${id}/labels/${label.labelId}`, { targeting: { hardwareIds: { remove: [tuple] } } }, "PATCH");
      await until("the PATCH held", () => faultTaken(stack, 0) === 1, 30_000, 10);
      down = true;
      await stack.runtime.kill("SIGKILL");
      await until("the held PATCH applied", () => hdcEntries(stack, mark, "updateShippingLabel", true).length === 1, 10_000);
      await stack.runtime.restart();
      down = false;
      const outcome = await changeOutcome(started.statusUrl);
      // The retried activity read the label, found the change in effect and did not send it again.
      expect(outcome).toMatchObject({ state: "succeeded", alreadyApplied: true });
      expect(hdcEntries(stack, mark, "updateShippingLabel")).toHaveLength(1);
      const after = await getShippingLabel(hdc, productId, submissionId, label.labelId!);
      expect((after.targeting!.hardwareIds as any[]).find((h) => h.pnpString === tuple.pnpString && h.infId === tuple.infId && h.operatingSystemCode === tuple.operatingSystemCode)?.distributionState).toBe("pendingRemove");
      // Let the parked label go (it would be followed for years otherwise).
      stack.emulators.configure({ faults: [] });
      expect(await change(`/submissions/${id}/labels/${label.labelId}/cancel`, {})).toMatchObject({ state: "succeeded" });
      expect((await finished(id)).label.phase).toBe("cancelled");
    } finally {
      stack.emulators.configure({ faults: [] });
      labels({ approvalSeconds: 86_400 });
      if (down) await stack.runtime.restart().catch(() => undefined);
    }
  });

  it("refuses to cancel a label that is not in approval or rollout", async () => {
    const id = await submit("pub-nocancel", { destination: "anotherPartner", receiverPublisherId: "27691110" });
    const { label } = await finished(id);
    const refused = await post(`/submissions/${id}/labels/${label.labelId}/cancel`, {});
    expect(refused.status).toBe(409);
    expect(refused.json.error).toMatch(/only be cancelled in Microsoft Approval or the gradual rollout/);
  });

  it("attestation guard: a non-test audience is refused before any label is created; the default goes to Test Registry Key", async () => {
    const mark = logMark(stack);
    const id = await submit("pub-attest", { destination: "windowsUpdate", hardwareIds: NO_EXTENSION, audiences: [OEM_PREVIEW_AUDIENCE] }, ".cab");
    const { label, view } = await finished(id);
    expect(label.phase).toBe("rejected");
    expect(label.problems!.join("\n")).toMatch(/^publish\.audiences\.0: is not a test audience/m);
    expect(createCalls(mark)).toBe(0);

    // Publishing again on the signed submission (POST .../labels) without audiences targets Test Registry Key.
    const again = await post(`/submissions/${id}/labels`, { destination: "windowsUpdate", hardwareIds: NO_EXTENSION });
    expect(again.status).toBe(202);
    expect(again.json.labelRun).toBe(`${id}-label-2`);
    // The submission has finished; its status view reads the label run's own status.
    const second = await until("label run 2 to end", async () => {
      const label = (await stack.submissions.get(id)).raw.label as LabelReport | undefined;
      return label?.instanceId === `${id}-label-2` && ["published", "failed", "rejected"].includes(label.phase) ? label : undefined;
    }, 90_000, 200);
    expect(second).toMatchObject({ phase: "published", audiences: [TEST_REGISTRY_KEY], instanceId: `${id}-label-2` });
    const remote = await getShippingLabel(hdc, view.productId, view.submissionId, second.labelId!);
    expect(remote.targeting!.restrictedToAudiences).toEqual([TEST_REGISTRY_KEY]);
    const list = await fetch(`${stack.apiUrl}/submissions/${id}/labels`, { headers: { "x-functions-key": stack.functionKey } });
    const runs = (await list.json()) as { items: { instanceId: string; label?: LabelReport }[] };
    expect(runs.items.map((run) => [run.instanceId, run.label?.phase])).toEqual([
      [`${id}-label-1`, "rejected"],
      [`${id}-label-2`, "published"],
    ]);
  });

  it("refuses POST .../labels for a submission that is not signed (409) and a bad policy (400)", async () => {
    labels({});
    stack.emulators.configure({ workflow: { failAtStep: "validation" } });
    try {
      const started = await post("/submissions", { package: await upload("pub-unsigned") });
      const id = started.json.id as string;
      const final = await waitForEnd(stack, id, 90_000);
      expect(final.runtimeStatus).toBe("Failed");
      const refused = await post(`/submissions/${id}/labels`, { destination: "anotherPartner", receiverPublisherId: "1" });
      expect(refused.status).toBe(409);
      const bad = await post(`/submissions/${id}/labels`, { destination: "anotherPartner" });
      expect(bad.status).toBe(400);
      expect(bad.json.fields).toEqual([{ field: "publish.receiverPublisherId", reason: "is required when destination is anotherPartner" }]);
    } finally {
      stack.emulators.configure({ workflow: { failAtStep: undefined } });
    }
  });

  describe("each validation rule is refused with its field named, and nothing is sent or started", () => {
    const approval = { microsoftContact: "sponsor@microsoft.com", validationsPerformed: "HLK", affectedOems: ["Contoso"], businessJustification: "fix" };
    const CASES: [string, unknown, string][] = [
      ["not an object", "yes", "publish"],
      ["destination missing", {}, "publish.destination"],
      ["unknown destination", { destination: "windowsStore" }, "publish.destination"],
      ["partner without receiver", { destination: "anotherPartner" }, "publish.receiverPublisherId"],
      ["receiver id not decimal", { destination: "anotherPartner", receiverPublisherId: "abc" }, "publish.receiverPublisherId"],
      ["Windows Update field on a partner label", { destination: "anotherPartner", receiverPublisherId: "1", floor: "RS5" }, "publish.floor"],
      ["partner field on a Windows Update label", { destination: "windowsUpdate", receiverPublisherId: "1" }, "publish.receiverPublisherId"],
      ["auto install without approval", { destination: "windowsUpdate", autoInstallOnApplicableSystems: true }, "publish.approval"],
      ["manualAcquisition with auto install", { destination: "windowsUpdate", autoInstallDuringOSUpgrade: true, manualAcquisition: true, approval }, "publish.manualAcquisition"],
      ["manualAcquisition false without auto", { destination: "windowsUpdate", manualAcquisition: false }, "publish.manualAcquisition"],
      ["approval contact not an e-mail", { destination: "windowsUpdate", autoInstallOnApplicableSystems: true, approval: { ...approval, microsoftContact: "bob" } }, "publish.approval.microsoftContact"],
      ["CHID not a GUID", { destination: "windowsUpdate", chids: ["not-a-guid"] }, "publish.chids.0"],
      ["unknown OS release", { destination: "windowsUpdate", floor: "XP" }, "publish.floor"],
      ["ceiling older than floor", { destination: "windowsUpdate", floor: "NI", ceiling: "RS5" }, "publish.ceiling"],
      ["co-engineering with floor", { destination: "windowsUpdate", floor: "RS5", coEngineering: { floorBuildNumber: "19041" } }, "publish.coEngineering"],
      ["goLiveDate not a date", { destination: "windowsUpdate", goLiveDate: "tomorrow" }, "publish.goLiveDate"],
      ["seller id not a string of digits", { destination: "windowsUpdate", visibleToAccounts: [27691110] }, "publish.visibleToAccounts.0"],
      ["empty rule", { destination: "windowsUpdate", hardwareIds: { include: [{}] } }, "publish.hardwareIds.include.0"],
      ["CHIDs with a pre-Windows 10 OS", { destination: "windowsUpdate", chids: ["346511cf-ccee-5c6d-8ee9-3c70fc7aae83"], hardwareIds: { include: [{ osCode: "WINDOWS_v63_X64" }] } }, "publish.hardwareIds.include.0.osCode"],
      ["unknown field", { destination: "windowsUpdate", colour: "blue" }, "publish.colour"],
    ];

    it.each(CASES)("%s", async (_name, publish, field) => {
      const mark = logMark(stack);
      const before = (await stack.submissions.list()).length;
      // The package does not even exist: the policy is refused before storage or HDC is touched.
      const response = await post("/submissions", { package: `${HTTP_CONTAINER}/never-uploaded-1.0.0.hlkx`, publish });
      expect(response.status).toBe(400);
      expect(response.json.fields.map((f: { field: string }) => f.field)).toContain(field);
      expect(hdcEntries(stack, mark)).toEqual([]);
      expect((await stack.submissions.list()).length).toBe(before);
    });

    it("a sidecar with a bad policy rejects the drop with a manifest naming the field", async () => {
      const mark = logMark(stack);
      const pkg = samplePackage({ folder: "pub-sidecar-bad" });
      const drops = stack.blobService.getContainerClient(APP_CONTAINERS.drops);
      const sidecar = JSON.stringify({ publish: { destination: "anotherPartner" } });
      await drops.getBlockBlobClient(`${pkg.fileName}.json`).upload(sidecar, Buffer.byteLength(sidecar));
      await drops.getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
      const signed = stack.blobService.getContainerClient(APP_CONTAINERS.signed);
      const manifestName = await until("the rejection manifest", async () => {
        for await (const blob of signed.listBlobsFlat({ prefix: `${pkg.fileName}/` })) if (blob.name.endsWith("/manifest.json")) return blob.name;
        return undefined;
      }, 30_000, 100);
      const manifest = JSON.parse((await signed.getBlobClient(manifestName).downloadToBuffer()).toString("utf8"));
      readBack.push(JSON.stringify(manifest));
      expect(manifest.outcome).toBe("rejected");
      expect(manifest.reason).toMatch(/publish\.receiverPublisherId is required when destination is anotherPartner/);
      expect(hdcEntries(stack, mark)).toEqual([]);
    });

    it("a sidecar with a good policy publishes", async () => {
      const pkg = samplePackage({ folder: "pub-sidecar-good" });
      const drops = stack.blobService.getContainerClient(APP_CONTAINERS.drops);
      const sidecar = JSON.stringify({ publish: { destination: "anotherPartner", receiverPublisherId: "27691110" } });
      await drops.getBlockBlobClient(`${pkg.fileName}.json`).upload(sidecar, Buffer.byteLength(sidecar));
      await drops.getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
      const id = await stack.submissions.findByBlob(pkg.fileName, 20_000);
      const { label } = await finished(id);
      expect(label.phase).toBe("shared");
    });
  });

  it("a label POST answered 503 after it took effect: the retry adopts that label, no second POST", async () => {
    stack.emulators.configure({ faults: [{ method: "POST", pathRegex: "/shippingLabels$", status: 503, afterApplying: true, times: 1 }] });
    const mark = logMark(stack);
    try {
      const id = await submit("pub-lost-answer", { destination: "anotherPartner", receiverPublisherId: "27691110" });
      const { label, view } = await finished(id);
      expect(label.phase).toBe("shared");
      expect((await listShippingLabels(hdc, view.productId, view.submissionId)).map((l) => l.id)).toEqual([label.labelId]);
      expect(hdcEntries(stack, mark).filter((e) => e.method === "POST" && /shippingLabels$/.test(e.path))).toHaveLength(1);
    } finally {
      stack.emulators.configure({ faults: [] });
    }
  });

  it("a label POST answered 503 that did not take effect is not sent again: the label run fails and says so", async () => {
    stack.emulators.configure({ faults: [{ method: "POST", pathRegex: "/shippingLabels$", status: 503, times: 1 }] });
    const mark = logMark(stack);
    try {
      const id = await submit("pub-unknown", { destination: "anotherPartner", receiverPublisherId: "27691110" });
      const { label, view } = await finished(id);
      expect(label.phase).toBe("failed");
      expect(label.error).toMatch(/no definite answer .* not sent again/);
      expect(await listShippingLabels(hdc, view.productId, view.submissionId)).toEqual([]);
      expect(hdcEntries(stack, mark).filter((e) => e.method === "POST" && /shippingLabels$/.test(e.path))).toHaveLength(1);
    } finally {
      stack.emulators.configure({ faults: [] });
    }
  });

  it("kill -9 between the label POST and its checkpoint: exactly one label, adopted by name", async () => {
    labels({ approvalSeconds: 86_400 });
    // Every label POST is held 2 s at the emulator, then applied: the runtime dies while it is in flight.
    stack.emulators.configure({ faults: [{ method: "POST", pathRegex: "/shippingLabels$", delayMs: 2000, times: 1 }] });
    const mark = logMark(stack);
    const id = await submit("pub-crash", { destination: "windowsUpdate", hardwareIds: NO_EXTENSION });
    let down = false;
    try {
      await until("the label POST held", () => faultTaken(stack, 0) === 1, 90_000, 10);
      down = true;
      await stack.runtime.kill("SIGKILL");
      const logAtKill = runtimeLog.length;
      await until("the held label POST applied", () => hdcEntries(stack, mark, "createShippingLabel", true).length === 1, 10_000);
      stack.emulators.configure({ faults: [] });
      await stack.runtime.restart();
      down = false;
      const { label, view } = await finished(id);
      expect(label.phase).toBe("published");
      const all = await listShippingLabels(hdc, view.productId, view.submissionId);
      expect(all.map((l) => l.id)).toEqual([label.labelId]);
      expect(hdcEntries(stack, mark, "createShippingLabel", true)).toHaveLength(1);
      expect(runtimeLog.slice(logAtKill).join("\n")).toMatch(/adopted shipping label/);
    } finally {
      stack.emulators.configure({ faults: [] });
      if (down) await stack.runtime.restart().catch(() => undefined);
    }
  });
});
