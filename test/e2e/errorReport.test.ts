/**
 * Issue 29 end to end on the local runtime: the Hardware Dev Center emulator fails a submission with
 * a 200 KB error report; the service copies it whole beside the manifest (byte-identical to what the
 * emulator served), names it in the status and the manifest, serves it through
 * GET /api/submissions/{id}/error-report, and the driver-sign CLI (compiled, as a child process)
 * says where it is and downloads it. The instance's history (Durable HTTP API with inputs and
 * outputs, and the raw rows in Azurite's table) and its custom status hold only the excerpt.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TableClient } from "@azure/data-tables";
import { resultDocumentSchema, type ResultDocument } from "../../cli/output";
import { SIZED_REPORT_END_MARKER } from "../../local/emulators/hdcBehaviour";
import { readHostSettings } from "../../local/runtime/hostJson";
import { samplePackage } from "../../local/samplePackage";
import { MAX_CUSTOM_STATUS_CHARS } from "../../src/orchestrators/customStatus";
import { durableKeyHeaders, expectNothingSecret, startTestStack, type TestStack } from "../support/stack";

jest.setTimeout(240_000);

const CLI = path.resolve(__dirname, "../../dist/cli/driverSign.js");
const REPORT_BYTES = 200 * 1024;
const REPORT_HEAD = "E2E-REPORT-HEAD: HLK DevFund test 42 failed on contoso.inf line 12";
/** What may land in history: an excerpt of at most 2,000 bytes (plus the "[truncated]" note). */
const EXCERPT_BOUND = 2000 + "\n[truncated]".length;

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[]): Promise<CliRun> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !name.startsWith("DRIVER_SIGN_")) env[name] = value;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function documentOf(run: CliRun): ResultDocument {
  const parsed = resultDocumentSchema.safeParse(JSON.parse(run.stdout));
  if (!parsed.success) throw new Error(`--json output does not match the schema: ${parsed.error.message}\n${run.stdout}`);
  expect(parsed.data.exitCode).toBe(run.code);
  return parsed.data;
}

describe("Microsoft's 200 KB error report, end to end", () => {
  let stack: TestStack;
  let work: string;
  const printed: string[] = [];
  const cli = async (...args: string[]) => {
    const run = await runCli([...args, "--url", stack.apiUrl, "--key", stack.functionKey]);
    printed.push(run.stdout, run.stderr);
    return run;
  };

  beforeAll(async () => {
    stack = await startTestStack();
    work = fs.mkdtempSync(path.join(os.tmpdir(), "error-report-e2e-"));
  });
  afterAll(async () => {
    await stack?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("copies the report whole, serves it to the CLI, and keeps only an excerpt in history and custom status", async () => {
    stack.emulators.configure({
      workflow: { failAtStep: "validation", failMessages: ["Driver failed HLK validation."], errorReportText: REPORT_HEAD, errorReportBytes: REPORT_BYTES },
    });
    const pkg = samplePackage({ folder: "e2e-big-report" });
    const packageFile = path.join(work, pkg.fileName);
    fs.writeFileSync(packageFile, pkg.bytes);
    const outSubmit = path.join(work, "out-submit");

    // submit --wait --out: Microsoft rejects (exit 7); the CLI says where the whole report is and fetches it.
    const run = await cli("submit", packageFile, "--wait", "--out", outSubmit, "--poll", "200ms", "--timeout", "150s", "--json");
    expect(run.stderr).not.toMatch(/driver-sign: /);
    expect(run.code).toBe(7);
    const doc = documentOf(run);
    const id = doc.id!;
    expect(doc.outcome).toBe("rejected");
    const submission = doc.submission!;
    expect(submission.errorReport).toEqual({ blob: expect.stringMatching(/^signed-drivers\/.+\/errorReport_\d+\.txt$/), bytes: REPORT_BYTES });
    expect(submission.errorReportContent).toContain(REPORT_HEAD);
    expect(submission.errorReportContent!.length).toBeLessThanOrEqual(EXCERPT_BOUND);
    expect(submission.errorReportContent).not.toContain(SIZED_REPORT_END_MARKER);
    expect(doc.message).toContain(`The whole error report (${REPORT_BYTES} bytes) is ${submission.errorReport!.blob}`);
    const submitReport = doc.files.find((file) => file.kind === "errorReport")!;
    expect(doc.message).toContain(`The whole error report was downloaded to ${submitReport.path}`);

    // What the emulator served (its report blob) = the copy beside the manifest = both CLI downloads.
    const emulated = stack.emulators
      .state()
      .products.flatMap((product) => product.submissions)
      .find((s) => s.id === submission.submissionId)!.errorReport!;
    const served = await stack.blobService.getContainerClient(emulated.container).getBlobClient(emulated.blob).downloadToBuffer();
    expect(served.length).toBe(REPORT_BYTES);
    expect(served.toString("utf8")).toContain(REPORT_HEAD);
    expect(served.toString("utf8").trimEnd().endsWith(SIZED_REPORT_END_MARKER)).toBe(true);
    const [container, ...rest] = submission.errorReport!.blob.split("/");
    const copy = await stack.blobService.getContainerClient(container).getBlobClient(rest.join("/")).downloadToBuffer();
    expect(sha256(copy)).toBe(sha256(served));
    expect(submitReport).toMatchObject({ bytes: REPORT_BYTES, sha256: sha256(served) });
    expect(submitReport.verified).toEqual(expect.arrayContaining(["contentLength", "manifestSize"]));
    expect(sha256(fs.readFileSync(submitReport.path))).toBe(sha256(served));

    // `download` of the failed submission fetches manifest and report (exit 7 stays: it was rejected).
    const outDownload = path.join(work, "out-download");
    const download = await cli("download", id, "--out", outDownload, "--json");
    expect(download.code).toBe(7);
    const downloaded = documentOf(download);
    expect(downloaded.files.map((file) => file.kind).sort()).toEqual(["errorReport", "manifest"]);
    const report = downloaded.files.find((file) => file.kind === "errorReport")!;
    expect(sha256(fs.readFileSync(report.path))).toBe(sha256(served));
    const manifestText = fs.readFileSync(downloaded.files.find((file) => file.kind === "manifest")!.path, "utf8");
    const manifest = JSON.parse(manifestText) as { outcome: string; errorReportBlob: unknown; errorReportText: string };
    expect(manifest.outcome).toBe("failed");
    expect(manifest.errorReportBlob).toEqual({ container, blobName: rest.join("/"), contentLength: REPORT_BYTES });
    expect(manifest.errorReportText.length).toBeLessThanOrEqual(EXCERPT_BOUND);
    expect(manifestText).not.toContain(SIZED_REPORT_END_MARKER);

    // The status view names the blob (a location, no URL); without --json the CLI says where it is.
    const view = await stack.submissions.get(id);
    expect(view.httpStatus).toBe(200);
    expect(JSON.stringify(view.raw)).not.toContain(SIZED_REPORT_END_MARKER);
    expect(view.raw.errorReportBlob).toEqual({ container, blobName: rest.join("/"), contentLength: REPORT_BYTES });
    const status = await cli("status", id);
    expect(status.code).toBe(7);
    expect(status.stdout).toContain(`driver-sign download ${id} --out <dir>`);

    // The files route answers with a 302 to a short-lived read SAS of that blob.
    const link = await fetch(`${stack.apiUrl}/submissions/${id}/error-report`, { headers: { "x-functions-key": stack.functionKey }, redirect: "manual" });
    expect(link.status).toBe(302);
    const viaRoute = Buffer.from(await (await fetch(link.headers.get("location")!)).arrayBuffer());
    expect(sha256(viaRoute)).toBe(sha256(served));

    // History (every input and output, as the Durable HTTP API shows it) and custom status: the excerpt only.
    const durable = await fetch(`${stack.baseUrl}/runtime/webhooks/durabletask/instances/${id}?showHistory=true&showHistoryOutput=true&showInput=true`, {
      headers: durableKeyHeaders(stack),
    });
    const durableJson = (await durable.json()) as { customStatus: { errorReportText?: string; errorReportBlob?: unknown }; historyEvents: Array<{ FunctionName?: string }> };
    const durableText = JSON.stringify(durableJson);
    expect(durableJson.historyEvents.map((e) => e.FunctionName)).toEqual(expect.arrayContaining(["copyErrorReport", "writeResultManifest"]));
    expect(durableText).toContain(REPORT_HEAD.slice(0, 40));
    expect(durableText).not.toContain(SIZED_REPORT_END_MARKER);
    expect(durableText.length).toBeLessThan(25_000); // 16,670 measured; 46,943 before issue 29 (16 KB of report three times)
    expect(JSON.stringify(durableJson.customStatus).length).toBeLessThanOrEqual(MAX_CUSTOM_STATUS_CHARS);
    expect(durableJson.customStatus.errorReportText!.length).toBeLessThanOrEqual(EXCERPT_BOUND);
    expect(durableJson.customStatus.errorReportBlob).toEqual({ container, blobName: rest.join("/"), contentLength: REPORT_BYTES });

    // The raw rows the local runtime stored for this instance in Azurite's table.
    const table = TableClient.fromConnectionString(stack.azurite.connectionString, `${readHostSettings().hubName}Durable`, { allowInsecureConnection: true });
    let rows = 0;
    let stored = "";
    for await (const entity of table.listEntities({ queryOptions: { filter: `PartitionKey eq '${id}'` } })) {
      rows += 1;
      stored += JSON.stringify(entity);
    }
    expect(rows).toBeGreaterThan(0);
    expect(stored).toContain(REPORT_HEAD.slice(0, 40));
    expect(stored).not.toContain(SIZED_REPORT_END_MARKER);
    expect(stored.length).toBeLessThan(50_000); // 31,640 measured

    for (const text of [...printed, durableText, stored, manifestText]) expectNothingSecret(stack, text);
  });
});
