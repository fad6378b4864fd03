/**
 * The driver-sign CLI end to end: the compiled client (node dist/cli/driverSign.js) as a child
 * process against the whole local stack (runtime, Azurite, Hardware Dev Center emulator). Proves
 * one-command signing with verified downloads, Microsoft's rejection (exit 7 and its message), a
 * client timeout and a resumed wait on the same submission (9 then 0, one product), exit codes for
 * a wrong key, an unknown id and malformed arguments, and every --json document against the schema.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { resultDocumentSchema, type ResultDocument } from "../../cli/output";
import { samplePackage } from "../../local/samplePackage";
import { expectNothingSecret, startTestStack, type TestStack } from "../support/stack";

jest.setTimeout(180_000);

const CLI = path.resolve(__dirname, "../../dist/cli/driverSign.js");

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const childEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !name.startsWith("DRIVER_SIGN_")) childEnv[name] = value;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...childEnv, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The one JSON document on stdout, checked against the documented schema. */
function documentOf(run: CliRun): ResultDocument {
  const parsed = resultDocumentSchema.safeParse(JSON.parse(run.stdout));
  if (!parsed.success) throw new Error(`--json output does not match the schema: ${parsed.error.message}\n${run.stdout}`);
  expect(parsed.data.exitCode).toBe(run.code);
  return parsed.data;
}

const sha256Of = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe("driver-sign CLI against the local stack", () => {
  let stack: TestStack;
  let work: string;
  let common: string[];
  /** Everything the CLI printed, checked for the key and SAS URLs at the end. */
  const printed: string[] = [];

  const cli = async (...args: string[]): Promise<CliRun> => {
    const run = await runCli([...args, ...common], { DRIVER_SIGN_UPLOAD_CACHE: path.join(work, "upload-cache") });
    printed.push(run.stdout, run.stderr);
    return run;
  };

  function writePackage(folder: string): string {
    const pkg = samplePackage({ folder });
    const file = path.join(work, pkg.fileName);
    fs.writeFileSync(file, pkg.bytes);
    return file;
  }

  function productsNamed(name: string): number {
    return stack.emulators.state().products.filter((product) => product.productName === name).length;
  }

  beforeAll(async () => {
    stack = await startTestStack();
    work = fs.mkdtempSync(path.join(os.tmpdir(), "driver-sign-e2e-"));
    common = ["--url", stack.apiUrl, "--key", stack.functionKey];
  });
  afterAll(async () => {
    await stack?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("signs a package in one command and downloads verified results", async () => {
    const packageFile = writePackage("cli-signed");
    const productFile = path.join(work, "product.json");
    fs.writeFileSync(productFile, JSON.stringify({ productName: "CLI Signed 1.0", requestedSignatures: ["WINDOWS_v100_X64_RS5_FULL"] }));
    const out = path.join(work, "out-signed");

    const run = await cli("submit", packageFile, "--product", productFile, "--wait", "--out", out, "--poll", "200ms", "--timeout", "90s", "--json");
    expect(run.stderr).not.toMatch(/driver-sign: /);
    expect(run.code).toBe(0);
    const doc = documentOf(run);
    expect(doc).toMatchObject({ command: "submit", outcome: "signed", uploaded: true });
    // A blob of this upload's own (a random upload id), never one derived from the hash another caller could ask for.
    expect(doc.package).toMatch(/^driver-drops\/ci\/[0-9a-f]{32}\/cli-signed-1\.0\.0\.hlkx$/);
    expect(doc.package).not.toContain(sha256Of(fs.readFileSync(packageFile)).slice(0, 16));
    const submission = doc.submission!;
    expect(submission).toMatchObject({ id: doc.id, runtimeStatus: "Completed", stage: "succeeded", progress: "completed", hasSignedPackage: true });
    expect(submission.productId).toMatch(/^\d+$/);
    expect(submission.step).toEqual({ index: 8, count: 8, name: "finalizeIngestion" });
    expect(submission.elapsedSeconds).toEqual(expect.any(Number));
    // One entry per stage change, in order, ending at succeeded.
    const stages = submission.stageHistory.map((entry) => entry.stage);
    expect(stages[0]).toBe("queued");
    expect(stages[stages.length - 1]).toBe("succeeded");
    expect(stages).toEqual(expect.arrayContaining(["authenticating", "creatingProduct", "uploading", "committing", "waitingForMicrosoft", "downloadingSignedPackage"]));
    expect(new Set(stages).size).toBe(stages.length);

    // The product fields reached Hardware Dev Center (sidecar / POST body), once.
    expect(productsNamed("CLI Signed 1.0")).toBe(1);

    // Files on disk match what the service stored, and the checks say what was verified.
    const kinds = doc.files.map((file) => file.kind).sort();
    expect(kinds).toEqual(["driverMetadata", "manifest", "signedPackage"]);
    const manifestFile = doc.files.find((file) => file.kind === "manifest")!;
    const manifest = JSON.parse(fs.readFileSync(manifestFile.path, "utf8")) as {
      outcome: string;
      signedPackage: { container: string; blobName: string; contentLength: number };
      package: { sha256?: string };
      packageVersion?: { sha256?: string };
    };
    expect(manifest.outcome).toBe("succeeded");
    // The caller's full sha256, from the service's upload record, names the package that was signed.
    const callerSha256 = sha256Of(fs.readFileSync(packageFile));
    expect(manifest.package.sha256).toBe(callerSha256);
    expect(manifest.packageVersion?.sha256).toBe(callerSha256);
    const signed = doc.files.find((file) => file.kind === "signedPackage")!;
    const stored = await stack.blobService.getContainerClient(manifest.signedPackage.container).getBlobClient(manifest.signedPackage.blobName).downloadToBuffer();
    expect(fs.readFileSync(signed.path)).toEqual(stored);
    expect(signed).toMatchObject({ bytes: stored.length, sha256: sha256Of(stored) });
    expect(path.basename(signed.path)).toBe(path.basename(manifest.signedPackage.blobName));
    expect(signed.verified).toEqual(expect.arrayContaining(["contentLength", "manifestSize"]));
    // Storage keeps a Content-MD5 for the copied package when the source had one: then it was checked too.
    const storedMd5 = (await stack.blobService.getContainerClient(manifest.signedPackage.container).getBlobClient(manifest.signedPackage.blobName).getProperties()).contentMD5;
    expect(signed.verified.includes("contentMd5")).toBe(storedMd5 !== undefined);
    for (const file of doc.files) expect(fs.statSync(file.path).size).toBe(file.bytes);
    expect(fs.readdirSync(out).filter((name) => name.endsWith(".partial"))).toEqual([]);

    // The result link is a redirect to a short read-only SAS on that blob.
    const link = await fetch(`${stack.apiUrl}/submissions/${doc.id}/signed-package`, { redirect: "manual", headers: { "x-functions-key": stack.functionKey } });
    expect(link.status).toBe(302);
    const location = new URL(link.headers.get("location")!);
    expect(location.pathname.endsWith(`/${manifest.signedPackage.container}/${manifest.signedPackage.blobName}`)).toBe(true);
    expect(location.searchParams.get("sp")).toBe("r");
    expect(Date.parse(location.searchParams.get("se")!) - Date.now()).toBeLessThanOrEqual(15 * 60 * 1000 + 5000);

    // Running the same command again (this machine remembers its upload id) lands on the same blob and
    // submission: the service says the pinned blob is unchanged, so no upload and no new product.
    const again = await cli("submit", packageFile, "--product", productFile, "--json");
    expect(again.code).toBe(0);
    const againDoc = documentOf(again);
    expect(againDoc).toMatchObject({ id: doc.id, package: doc.package, uploaded: false, outcome: "signed" });
    expect(productsNamed("CLI Signed 1.0")).toBe(1);

    // status / list / download in plain and JSON form.
    const status = await cli("status", doc.id!, "--json");
    expect(documentOf(status)).toMatchObject({ command: "status", outcome: "signed", exitCode: 0 });
    const list = await cli("list", "--status", "Completed", "--json");
    expect(list.code).toBe(0);
    expect(documentOf(list).submissions!.map((s) => s.id)).toContain(doc.id);
    const again2 = path.join(work, "out-download");
    const download = await cli("download", doc.id!, "--out", again2);
    expect(download.code).toBe(0);
    expect(download.stdout).toContain("signedPackage:");
    expect(fs.readFileSync(path.join(again2, path.basename(signed.path)))).toEqual(stored);
    // Cancel of a finished submission is an invalid state.
    const cancel = await cli("cancel", doc.id!, "--json");
    expect(cancel.code).toBe(5);
    documentOf(cancel);
  });

  it("exits 7 and prints Microsoft's message when Microsoft rejects the submission", async () => {
    const failMessages = ["Driver package failed HLK validation: test CLI-42.", "INF section [Foo] is invalid."];
    stack.emulators.configure({ workflow: { failAtStep: "validation", failMessages, errorReportText: "CLI-ERROR-REPORT: bad INF line 12" } });
    try {
      const packageFile = writePackage("cli-rejected");
      const run = await cli("submit", packageFile, "--wait", "--poll", "200ms", "--timeout", "90s", "--json");
      expect(run.code).toBe(7);
      const doc = documentOf(run);
      expect(doc.outcome).toBe("rejected");
      expect(doc.submission).toMatchObject({ runtimeStatus: "Failed", progress: "failed", state: "failed", currentStep: "validation" });
      expect(doc.submission!.step).toEqual({ index: 4, count: 8, name: "validation" });
      for (const message of failMessages) expect(doc.message).toContain(message);
      expect(doc.message).toContain("CLI-ERROR-REPORT");

      // Without --json the message is printed for people, and `status` keeps the exit code.
      const status = await cli("status", doc.id!);
      expect(status.code).toBe(7);
      expect(status.stdout).toContain(failMessages[0]);
      // Nothing to download from a rejected submission.
      const download = await cli("download", doc.id!, "--out", path.join(work, "out-rejected"), "--json");
      expect(download.code).toBe(7);
    } finally {
      stack.emulators.configure({ workflow: { failAtStep: undefined, failMessages: undefined, errorReportText: undefined } });
    }
  });

  it("stops waiting with exit 9 and a re-run resumes the same submission (exit 0, one product)", async () => {
    const packageFile = writePackage("cli-timeout");
    const productFile = path.join(work, "product-timeout.json");
    fs.writeFileSync(productFile, JSON.stringify({ productName: "CLI Timeout 1.0" }));
    // Every Hardware Dev Center answer takes a while: the submission outlives the client's wait.
    stack.emulators.configure({ latencyMs: 1500 });
    let firstId: string;
    try {
      const first = await cli("submit", packageFile, "--product", productFile, "--wait", "--poll", "200ms", "--timeout", "2s", "--json");
      expect(first.code).toBe(9);
      const doc = documentOf(first);
      expect(doc.outcome).toBe("timeout");
      expect(doc.message).toMatch(/Run the same command again/);
      expect(doc.submission!.runtimeStatus).not.toMatch(/Completed|Failed/);
      firstId = doc.id!;

      // While it runs, the result links say why there is nothing yet (409 naming the stage).
      const key = stack.functionKey;
      const link = await fetch(`${stack.apiUrl}/submissions/${firstId}/signed-package`, { redirect: "manual", headers: { "x-functions-key": key } });
      expect(link.status).toBe(409);
      expect(((await link.json()) as { stage: string }).stage).toEqual(expect.any(String));
    } finally {
      stack.emulators.configure({ latencyMs: 0 });
    }

    const second = await cli("submit", packageFile, "--product", productFile, "--wait", "--poll", "200ms", "--timeout", "90s", "--json");
    expect(second.code).toBe(0);
    const doc = documentOf(second);
    expect(doc).toMatchObject({ id: firstId, uploaded: false, outcome: "signed" });
    expect(productsNamed("CLI Timeout 1.0")).toBe(1);
  });

  it("POST /api/uploads: bad fields by name; without its upload id a re-run uploads to a blob of its own", async () => {
    const bad = await fetch(`${stack.apiUrl}/uploads`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-functions-key": stack.functionKey },
      body: JSON.stringify({ fileName: "../x.txt", sha256: "nope", size: 0, uploadId: "x" }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { fields: { field: string }[] }).fields.map((f) => f.field).sort()).toEqual(["fileName", "sha256", "size", "uploadId", "uploadKey"]);

    const packageFile = writePackage("cli-fresh-cache");
    const first = documentOf(await cli("submit", packageFile, "--wait", "--poll", "200ms", "--timeout", "90s", "--json"));
    expect(first).toMatchObject({ uploaded: true, outcome: "signed" });
    // Another machine (an empty upload cache) holds no upload id: "already uploaded" is not said to it.
    const elsewhere = await runCli(["submit", packageFile, "--json", ...common], { DRIVER_SIGN_UPLOAD_CACHE: path.join(work, "other-machine-cache") });
    printed.push(elsewhere.stdout, elsewhere.stderr);
    const second = documentOf(elsewhere);
    expect(second.uploaded).toBe(true);
    expect(second.package).not.toBe(first.package);
    expect(second.package).toMatch(/^driver-drops\/ci\/[0-9a-f]{32}\/cli-fresh-cache-1\.0\.0\.hlkx$/);
  });

  it("exits 4 for an unknown id, with 404 from the result links", async () => {
    const status = await cli("status", "no-such-submission", "--json");
    expect(status.code).toBe(4);
    expect(documentOf(status)).toMatchObject({ outcome: "error", error: { httpStatus: 404 } });
    expect((await cli("wait", "no-such-submission", "--timeout", "5s")).code).toBe(4);
    expect((await cli("download", "no-such-submission", "--out", path.join(work, "none"))).code).toBe(4);
    expect((await cli("cancel", "no-such-submission")).code).toBe(4);
    const link = await fetch(`${stack.apiUrl}/submissions/no-such-submission/manifest`, { redirect: "manual", headers: { "x-functions-key": stack.functionKey } });
    expect(link.status).toBe(404);
  });

  it("exits 1 for malformed arguments, naming the problem", async () => {
    const packageFile = writePackage("cli-args");
    const cases: { args: string[]; mentions: RegExp }[] = [
      { args: ["submit"], mentions: /package/ },
      { args: ["submit", packageFile, "--timeout", "banana"], mentions: /--timeout/ },
      { args: ["submit", packageFile, "--poll", "0s"], mentions: /--poll/ },
      { args: ["submit", path.join(work, "notes.txt")], mentions: /\.hlkx/ },
      { args: ["status"], mentions: /id/ },
      { args: ["frobnicate"], mentions: /frobnicate/ },
      { args: ["download", "some-id"], mentions: /--out/ },
    ];
    for (const { args, mentions } of cases) {
      const run = await cli(...args, "--json");
      expect({ args, code: run.code }).toEqual({ args, code: 1 });
      expect(documentOf(run).message).toMatch(mentions);
    }
    // No --url at all.
    const noUrl = await runCli(["status", "x"]);
    expect(noUrl.code).toBe(1);
    expect(noUrl.stderr).toContain("--url");
    // The service's own validation of product fields is a bad argument too, naming the field.
    const badProduct = path.join(work, "bad-product.json");
    fs.writeFileSync(badProduct, JSON.stringify({ deviceType: "toaster" }));
    const rejected = await cli("submit", packageFile, "--product", badProduct, "--json");
    expect(rejected.code).toBe(1);
    expect(documentOf(rejected).message).toContain("product.deviceType");
    // A package that cannot be read is an I/O error.
    expect((await cli("submit", path.join(work, "missing.hlkx"))).code).toBe(8);
  });

  it("exits 2 for a wrong or missing key", async () => {
    const wrong = await runCli(["status", "anything", "--url", stack.apiUrl, "--key", "wrong-key-123", "--json"]);
    printed.push(wrong.stdout, wrong.stderr);
    expect(wrong.code).toBe(2);
    expect(wrong.stdout).not.toContain("wrong-key-123");
    const missing = await runCli(["list", "--url", stack.apiUrl]);
    expect(missing.code).toBe(2);
  });

  it("never printed the key or a SAS URL, and the service never logged one", () => {
    const key = stack.functionKey;
    for (const text of printed) {
      expectNothingSecret(stack, text);
      expect(text).not.toContain(key);
    }
    expect(fs.readFileSync(stack.runtimeLogFile, "utf8")).not.toMatch(/[?&]sig=/i);
  });
});
