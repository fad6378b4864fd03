/**
 * copyErrorReport (issue 29) against Azurite: Microsoft's whole error report, 200 KB here, lands
 * byte for byte beside the result manifest, while getSubmissionStatus (whose output goes into
 * history) carries only a bounded excerpt; the host allow-list, a refused SAS and a report no longer
 * offered behave as for the signed package.
 */
import { createHash } from "node:crypto";
import { BlobSASPermissions, BlobServiceClient } from "@azure/storage-blob";
import type { AzuriteHandle } from "../../../local/azurite";
import type { CopyErrorReportInput } from "../../../src/activities/contract";
import { copyErrorReport } from "../../../src/activities/copyErrorReport";
import { isTerminalFailure } from "../../../src/activities/errors";
import { ERROR_REPORT_EXCERPT_BYTES, getSubmissionStatus } from "../../../src/activities/getSubmissionStatus";
import { manifestBlobName } from "../../../src/storage/manifests";
import { FakeHdc, expectNoSecrets, startStorage, testConfig, testDeps } from "./support";

let azurite: AzuriteHandle;
let service: BlobServiceClient;
beforeAll(async () => {
  azurite = await startStorage();
  service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  await service.getContainerClient("hdc-results").createIfNotExists();
});
afterAll(async () => {
  await azurite?.stop();
});

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const pkg = { container: "driver-drops", blobName: "vendor/report-test.cab" };
const TAIL = "LAST-LINE-OF-THE-REPORT";

/** A 200 KB report: a head, numbered lines, and a tail the excerpt must not reach. */
function bigReport(bytes = 200 * 1024): Buffer {
  let text = "HLK: DevFund test 42 failed on contoso.inf\n";
  for (let line = 0; text.length < bytes - TAIL.length - 1; line++) text += `line ${line}: ${"r".repeat(60)}\n`;
  return Buffer.from((text.slice(0, bytes - TAIL.length - 1) + "\n" + TAIL).slice(0, bytes));
}

async function microsoftBlob(name: string, content: Buffer, expiresInMs = 3600_000): Promise<string> {
  const blob = service.getContainerClient("hdc-results").getBlockBlobClient(name);
  await blob.upload(content, content.length, { blobHTTPHeaders: { blobContentType: "text/plain" } });
  return blob.generateSasUrl({ permissions: BlobSASPermissions.parse("r"), startsOn: new Date(Date.now() - 7200_000), expiresOn: new Date(Date.now() + expiresInMs) });
}

async function failedSubmission(hdc: FakeHdc, reportUrl?: string) {
  const product = await hdc.createProduct({ productName: "Report test", testHarness: "attestation", requestedSignatures: [] });
  const submission = await hdc.createSubmission(product.id, { name: "initial", type: "initial" });
  const stored = hdc.submission(product.id, submission.id);
  stored.commitStatus = "commitComplete";
  stored.workflowStatus = { currentStep: "validation", state: "failed", messages: ["HLK failed"], ...(reportUrl ? { errorReport: reportUrl } : {}) };
  return { productId: product.id, submissionId: submission.id, stored };
}

function setup(overrides: Record<string, string> = {}) {
  const hdc = new FakeHdc(service);
  // The fetch bound of the excerpt is the smaller of this setting and ERROR_REPORT_EXCERPT_BYTES.
  return { hdc, deps: testDeps(testConfig(azurite.connectionString, { ERROR_REPORT_MAX_BYTES: "16384", ...overrides }), hdc) };
}

describe("copyErrorReport", () => {
  it("copies a 200 KB report whole, byte-identical, beside the manifest; the status poll keeps only an excerpt", async () => {
    const { hdc, deps } = setup();
    const report = bigReport();
    const { productId, submissionId } = await failedSubmission(hdc, await microsoftBlob(`errorReport-${Date.now()}.txt`, report));
    const input: CopyErrorReportInput = { instanceId: "drv-report", productId, submissionId, package: pkg };

    const copied = await copyErrorReport(input, deps);

    const folder = manifestBlobName(pkg, "drv-report").replace(/\/manifest\.json$/, "");
    expect(copied).toEqual({ errorReport: { container: "signed-drivers", blobName: `${folder}/errorReport_${submissionId}.txt`, contentLength: report.length } });
    const stored = await service.getContainerClient("signed-drivers").getBlobClient(copied.errorReport!.blobName).downloadToBuffer();
    expect(stored.length).toBe(204_800);
    expect(sha256(stored)).toBe(sha256(report));
    expectNoSecrets(JSON.stringify(copied));

    // What the orchestrator records: the excerpt, bounded, flagged, without the tail.
    const status = await getSubmissionStatus({ productId, submissionId }, deps);
    expect(status).toMatchObject({ progress: "failed", hasErrorReport: true });
    expect(status.errorReportText).toMatch(/^HLK: DevFund test 42 failed/);
    expect(status.errorReportText).toMatch(/\[truncated\]$/);
    expect(Buffer.byteLength(status.errorReportText!)).toBeLessThanOrEqual(ERROR_REPORT_EXCERPT_BYTES + "\n[truncated]".length);
    expect(status.errorReportText).not.toContain(TAIL);
    expect(JSON.stringify(status).length).toBeLessThan(3000);

    // Again (a retried activity): the same location, nothing copied twice.
    expect(await copyErrorReport(input, deps)).toEqual(copied);
  });

  it("refuses a report on a host outside HDC_ALLOWED_URL_HOST_SUFFIXES, terminally, and writes nothing", async () => {
    const { hdc, deps } = setup();
    const { productId, submissionId } = await failedSubmission(hdc, "https://evil.example/r/report.txt?sv=1&sig=SECRETSIG");
    const input: CopyErrorReportInput = { instanceId: "drv-report-evil", productId, submissionId, package: pkg };

    const failure = (await copyErrorReport(input, deps).then(
      () => new Error("no failure"),
      (error: unknown) => error as Error,
    ));

    expect(isTerminalFailure(failure)).toBe(true);
    expect(failure.message).toMatch(/error report URL on https:\/\/evil\.example/);
    expect(failure.message).not.toContain("SECRETSIG");
    const written: string[] = [];
    for await (const blob of service.getContainerClient("signed-drivers").listBlobsFlat({ prefix: `${pkg.blobName}/drv-report-evil/` })) written.push(blob.name);
    expect(written).toEqual([]);
  });

  it("gets a fresh SAS from Hardware Dev Center when Microsoft's is refused", async () => {
    const { hdc, deps } = setup();
    const report = bigReport(4096);
    const name = `errorReport-refresh-${Date.now()}.txt`;
    // Expired an hour ago: storage answers 403 to it.
    const { productId, submissionId, stored } = await failedSubmission(hdc, await microsoftBlob(name, report, -3600_000));
    const fresh = await microsoftBlob(name, report);
    let gets = 0;
    const original = hdc.getSubmission.bind(hdc);
    hdc.getSubmission = async (p: string, s: string) => {
      gets += 1;
      if (gets === 2) stored.workflowStatus = { ...stored.workflowStatus!, errorReport: fresh };
      return original(p, s);
    };

    const copied = await copyErrorReport({ instanceId: "drv-report-refresh", productId, submissionId, package: pkg }, deps);

    expect(gets).toBe(2);
    expect(copied.errorReport?.contentLength).toBe(4096);
    const copy = await service.getContainerClient("signed-drivers").getBlobClient(copied.errorReport!.blobName).downloadToBuffer();
    expect(sha256(copy)).toBe(sha256(report));
  });

  it("says so and copies nothing when the submission no longer offers a report", async () => {
    const { hdc, deps } = setup();
    const { productId, submissionId } = await failedSubmission(hdc);
    expect(await copyErrorReport({ instanceId: "drv-report-none", productId, submissionId, package: pkg }, deps)).toEqual({});
  });
});
