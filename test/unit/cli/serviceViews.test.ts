/**
 * The service-side pieces the CLI relies on, one function each: Microsoft's step position, the
 * status view's progress/elapsed/stageHistory/step, the stage history kept by StatusReporter
 * (one entry per change, bounded, carried across generations, the same on replay), the upload
 * request's validation, the SAS signer's two branches (user delegation, account key), and the
 * CLI's duration parsing and progress line.
 */
import { AnonymousCredential, BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import type * as df from "durable-functions";
import type { DurableOrchestrationStatus } from "durable-functions";
import { parseDuration } from "../../../cli/duration";
import { ProgressLine } from "../../../cli/progress";
import { toSubmissionDocument } from "../../../cli/output";
import { hdcStepPosition } from "../../../src/domain/hdcSteps";
import type { SubmissionCustomStatus } from "../../../src/domain/types";
import { elapsedSecondsOf, progressOf, toSubmissionView } from "../../../src/domain/submissionView";
import { parseUploadRequest } from "../../../src/functions/validation/uploadRequest";
import { newUploadId, newUploadKey, uploadBlobName } from "../../../src/functions/uploads";
import { MAX_STAGE_HISTORY, StatusReporter } from "../../../src/orchestrators/customStatus";
import { createDownloadSasUrl, createUploadSasUrl } from "../../../src/storage/userSas";

describe("hdcStepPosition", () => {
  test.each([
    ["packageInfoValidation", { index: 1, count: 8, name: "packageInfoValidation" }],
    ["Validation", { index: 4, count: 8, name: "validation" }],
    ["finalizeIngestion", { index: 8, count: 8, name: "finalizeIngestion" }],
    ["3", { index: 4, count: 8, name: "validation" }],
    ["42", { index: null, count: 8, name: "42" }],
    ["someNewStep", { index: null, count: 8, name: "someNewStep" }],
  ])("%s", (step, expected) => expect(hdcStepPosition(step)).toEqual(expected));
  test("no step → undefined", () => {
    expect(hdcStepPosition(null)).toBeUndefined();
    expect(hdcStepPosition("")).toBeUndefined();
  });
});

describe("status view additions", () => {
  const status = (runtimeStatus: string, custom: Partial<SubmissionCustomStatus>, created: string, updated: string) =>
    ({ instanceId: "i-1", runtimeStatus, customStatus: custom, createdTime: created, lastUpdatedTime: updated }) as unknown as DurableOrchestrationStatus;

  test("progress in nefarius's terms", () => {
    expect(["queued", "creatingProduct", "uploading"].map((s) => progressOf(s as never))).toEqual(["created", "created", "created"]);
    expect(["committing", "waitingForMicrosoft", "downloadingSignedPackage"].map((s) => progressOf(s as never))).toEqual(["processing", "processing", "processing"]);
    expect([progressOf("succeeded"), progressOf("failed"), progressOf("terminated")]).toEqual(["completed", "failed", "failed"]);
  });

  test("elapsed: to now while running, to the last update when finished", () => {
    const now = new Date("2026-01-01T01:00:00Z");
    expect(elapsedSecondsOf("Running", "2026-01-01T00:00:00.000Z", "2026-01-01T00:10:00.000Z", now)).toBe(3600);
    expect(elapsedSecondsOf("Completed", "2026-01-01T00:00:00.000Z", "2026-01-01T00:10:00.000Z", now)).toBe(600);
    expect(elapsedSecondsOf("Running", undefined, undefined, now)).toBeUndefined();
  });

  test("the view carries step, progress, stageHistory and elapsedSeconds", () => {
    const history = [
      { stage: "queued" as const, at: "2026-01-01T00:00:00.000Z" },
      { stage: "waitingForMicrosoft" as const, at: "2026-01-01T00:01:00.000Z" },
    ];
    const view = toSubmissionView(
      status("Running", { stage: "waitingForMicrosoft", currentStep: "scanning", state: "started", stageHistory: history, package: { container: "c", blobName: "b.hlkx" }, updatedAt: "" }, "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"),
    );
    expect(view).toMatchObject({ progress: "processing", step: { index: 3, count: 8, name: "scanning" }, stageHistory: history });
    expect(view.elapsedSeconds).toBeGreaterThan(0);
    // And the CLI's document keeps them.
    const doc = toSubmissionDocument(view as unknown as Record<string, unknown>);
    expect(doc).toMatchObject({ progress: "processing", step: { index: 3, count: 8, name: "scanning" }, stageHistory: history, package: "c/b.hlkx" });
  });
});

describe("StatusReporter stage history", () => {
  function fakeContext(times: string[]): { context: df.OrchestrationContext; statuses: SubmissionCustomStatus[] } {
    const statuses: SubmissionCustomStatus[] = [];
    let call = 0;
    const context = {
      df: {
        get currentUtcDateTime() {
          return new Date(times[Math.min(call, times.length - 1)]);
        },
        setCustomStatus: (value: SubmissionCustomStatus) => {
          statuses.push(value);
          call++;
        },
      },
    } as unknown as df.OrchestrationContext;
    return { context, statuses };
  }
  const pkg = { container: "c", blobName: "b.hlkx" };
  const times = ["2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.000Z", "2026-01-01T00:00:02.000Z", "2026-01-01T00:00:03.000Z", "2026-01-01T00:00:04.000Z"];

  function drive(reporter: StatusReporter): void {
    reporter.report("queued");
    reporter.report("authenticating");
    reporter.report("creatingSubmission", { productId: "1" });
    reporter.report("creatingSubmission", { submissionId: "2" });
    reporter.report("uploading");
  }

  test("one entry per stage change, with orchestration time; a replay builds the same list", () => {
    const first = fakeContext(times);
    drive(new StatusReporter(first.context, pkg));
    const replay = fakeContext(times);
    drive(new StatusReporter(replay.context, pkg));
    const history = first.statuses[first.statuses.length - 1].stageHistory;
    expect(history).toEqual([
      { stage: "queued", at: times[0] },
      { stage: "authenticating", at: times[1] },
      { stage: "creatingSubmission", at: times[2] },
      { stage: "uploading", at: times[4] },
    ]);
    expect(replay.statuses).toEqual(first.statuses);
  });

  test("earlier generations' history is kept and the list stays bounded (first entry kept)", () => {
    const earlier = [{ stage: "queued" as const, at: "2025-12-31T00:00:00.000Z" }];
    const { context, statuses } = fakeContext(times);
    const reporter = new StatusReporter(context, pkg, earlier);
    for (let i = 0; i < MAX_STAGE_HISTORY * 2; i++) reporter.report(i % 2 === 0 ? "waitingForMicrosoft" : "downloadingSignedPackage");
    const history = statuses[statuses.length - 1].stageHistory!;
    expect(history).toHaveLength(MAX_STAGE_HISTORY);
    expect(history[0]).toEqual(earlier[0]);
    expect(history[history.length - 1].stage).toBe("downloadingSignedPackage");
    expect(reporter.history).toEqual(history);
  });
});

describe("POST /api/uploads validation", () => {
  const sha = "AB".repeat(32);
  test("a valid request; the hash is lower-cased; the folder is the upload's own id, not the hash", () => {
    const parsed = parseUploadRequest({ fileName: "contoso-usb-2.3.1.hlkx", sha256: sha, size: 10, product: { productName: "Contoso" } });
    expect(parsed).toEqual({ ok: true, value: { fileName: "contoso-usb-2.3.1.hlkx", sha256: "ab".repeat(32), size: 10, product: { productName: "Contoso" } } });
    const first = newUploadId();
    const second = newUploadId();
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    expect(second).not.toBe(first);
    if (parsed.ok) expect(uploadBlobName(first, parsed.value.fileName)).toBe(`ci/${first}/contoso-usb-2.3.1.hlkx`);
  });
  test("an earlier upload is named by its id (32 lower-case hex digits) and its key, together", () => {
    const uploadKey = newUploadKey();
    expect(uploadKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(parseUploadRequest({ fileName: "x.hlkx", sha256: sha, size: 1, uploadId: "0f".repeat(16), uploadKey })).toMatchObject({ ok: true, value: { uploadId: "0f".repeat(16), uploadKey } });
    expect(parseUploadRequest({ fileName: "x.hlkx", sha256: sha, size: 1, uploadId: "../x", uploadKey })).toMatchObject({ ok: false, problems: [{ field: "uploadId" }] });
    expect(parseUploadRequest({ fileName: "x.hlkx", sha256: sha, size: 1, uploadId: "0f".repeat(16) })).toEqual({ ok: false, problems: [{ field: "uploadKey", reason: "is required with uploadId" }] });
    expect(parseUploadRequest({ fileName: "x.hlkx", sha256: sha, size: 1, uploadKey })).toEqual({ ok: false, problems: [{ field: "uploadId", reason: "is required with uploadKey" }] });
  });
  test.each([
    [{ fileName: "x.txt", sha256: sha, size: 1 }, "fileName", /\.hlkx/],
    [{ fileName: "dir/x.hlkx", sha256: sha, size: 1 }, "fileName", /without folders/],
    [{ fileName: "..\\x.cab", sha256: sha, size: 1 }, "fileName", /without folders/],
    [{ fileName: "x.hlkx", sha256: "zz", size: 1 }, "sha256", /64 hexadecimal/],
    [{ fileName: "x.hlkx", sha256: sha, size: 0 }, "size", /at least 1 byte/],
    [{ fileName: "x.hlkx", sha256: sha, size: 1.5 }, "size", /whole number/],
    [{ fileName: "x.hlkx", sha256: sha, size: 1, product: { deviceType: "toaster" } }, "product.deviceType", /must be one of/],
    [{ fileName: "x.hlkx", sha256: sha, size: 1, extra: true }, "extra", /not a recognized field/],
  ])("%j → %s", (body, field, reason) => {
    const parsed = parseUploadRequest(body);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problems).toEqual(expect.arrayContaining([{ field, reason: expect.stringMatching(reason) }]));
  });
});

describe("CLI helpers", () => {
  test.each([
    ["90m", 5_400_000],
    ["30s", 30_000],
    ["1h30m", 5_400_000],
    ["500ms", 500],
    ["45", 45_000],
    ["banana", undefined],
    ["10x", undefined],
    ["", undefined],
  ])("parseDuration(%j) = %j", (text, ms) => expect(parseDuration(text)).toBe(ms));

  function stream(isTTY: boolean) {
    const s = { text: "", isTTY, write(chunk: string) { s.text += chunk; return true; } };
    return s;
  }
  const doc = (stage: string, elapsedSeconds: number) =>
    toSubmissionDocument({ id: "i-1", runtimeStatus: "Running", stage, currentStep: "scanning", state: "started", elapsedSeconds });

  test("not a TTY: one plain line per change of stage or step", () => {
    const out = stream(false);
    const line = new ProgressLine(out as unknown as NodeJS.WriteStream);
    line.submission(doc("waitingForMicrosoft", 10), 30_000);
    line.submission(doc("waitingForMicrosoft", 40), 30_000);
    line.submission(doc("downloadingSignedPackage", 70), 30_000);
    expect(out.text.split("\n").filter(Boolean)).toEqual([
      "i-1: waitingForMicrosoft · Microsoft step 3 of 8 scanning (started) · elapsed 10s · next check in 30s",
      "i-1: downloadingSignedPackage · Microsoft step 3 of 8 scanning (started) · elapsed 1m10s · next check in 30s",
    ]);
    expect(out.text).not.toContain("\r");
  });

  test("a TTY: one live line rewritten in place", () => {
    const out = stream(true);
    const line = new ProgressLine(out as unknown as NodeJS.WriteStream);
    line.submission(doc("waitingForMicrosoft", 10), 30_000);
    line.submission(doc("waitingForMicrosoft", 40), 30_000);
    expect(out.text).not.toContain("\n");
    expect(out.text.split("\r\x1b[2K").filter(Boolean)).toHaveLength(2);
    expect(out.text).toContain("elapsed 40s");
  });
});

describe("user SAS signing", () => {
  test("with a managed identity (no account key): a user-delegation SAS, create+write on the one blob, 30 minutes", async () => {
    const service = new BlobServiceClient("https://acct.blob.core.windows.net", new AnonymousCredential());
    const requested: Date[] = [];
    // The one call that needs Azure AD: answered here with a delegation key of the documented shape.
    service.getUserDelegationKey = (async (startsOn: Date, expiresOn: Date) => {
      requested.push(startsOn, expiresOn);
      return {
        signedObjectId: "00000000-0000-0000-0000-000000000001",
        signedTenantId: "00000000-0000-0000-0000-000000000002",
        signedStartsOn: startsOn,
        signedExpiresOn: expiresOn,
        signedService: "b",
        signedVersion: "2025-01-05",
        value: Buffer.alloc(32, 7).toString("base64"),
      };
    }) as never;
    const sas = await createUploadSasUrl(service, "driver-drops", "ci/0123456789abcdef/x.hlkx");
    const url = new URL(sas.url);
    expect(url.pathname).toBe("/driver-drops/ci/0123456789abcdef/x.hlkx");
    expect(url.searchParams.get("sp")).toBe("cw");
    expect(url.searchParams.get("sr")).toBe("b");
    expect(url.searchParams.get("spr")).toBe("https");
    expect(url.searchParams.get("skoid")).toBe("00000000-0000-0000-0000-000000000001");
    expect(requested).toHaveLength(2);
    expect(Math.round((sas.expiresOn.getTime() - Date.now()) / 60000)).toBe(30);
  });

  test("with an account key: a service SAS, read-only, 15 minutes", async () => {
    const service = new BlobServiceClient("http://127.0.0.1:10000/devstoreaccount1", new StorageSharedKeyCredential("devstoreaccount1", Buffer.alloc(32, 1).toString("base64")));
    const sas = await createDownloadSasUrl(service, "signed-drivers", "a/b/Signed_1.zip");
    const url = new URL(sas.url);
    expect(url.searchParams.get("sp")).toBe("r");
    expect(url.searchParams.get("skoid")).toBeNull();
    expect(Math.round((sas.expiresOn.getTime() - Date.now()) / 60000)).toBe(15);
  });
});
