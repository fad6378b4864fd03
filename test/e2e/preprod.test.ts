/**
 * Issue 40 on the local runtime: preproduction signing from the same entry points, against the
 * Hardware Dev Center emulator's preprod endpoints (section f of the API notes).
 *  - a drop whose sidecar says "signing": "preproduction" → the package streamed to PUT
 *    .../preprod/packages/, signingStatus followed on durable timers, the SignedFilesZip in
 *    signed-drivers with its SHA-256 equal to Microsoft's contentHash; status/manifest say preprod;
 *  - a Failed package: Microsoft's whole 100 KB message beside the manifest, only an excerpt in status;
 *  - `signing` with another value: 400 naming the field, nothing started;
 *  - kill -9 of the runtime right after the PUT went out: exactly one preprod package at the emulator.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SIZED_REPORT_END_MARKER } from "../../local/emulators/hdcBehaviour";
import { samplePackage } from "../../local/samplePackage";
import { APP_CONTAINERS } from "../../local/stack";
import { expectNothingSecret, startTestStack, waitForEnd, type TestStack } from "../support/stack";

jest.setTimeout(180_000);

const HTTP_CONTAINER = "e2e-preprod-http";
const CLI = path.resolve(__dirname, "../../dist/cli/driverSign.js");

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
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
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe("preproduction signing end to end", () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({ appSettings: { SUBMISSION_CONTAINERS: `${APP_CONTAINERS.drops},${HTTP_CONTAINER}` } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const blob = (container: string, name: string) => stack.blobService.getContainerClient(container).getBlockBlobClient(name);
  const preprodPackages = () => stack.emulators.state().preprodPackages;
  const puts = () => stack.emulators.requests().entries.filter((entry) => entry.kind === "createPreprodPackage").length;

  async function uploadOutsideDrops(name: string, bytes: Buffer): Promise<void> {
    await stack.blobService.getContainerClient(HTTP_CONTAINER).createIfNotExists();
    await blob(HTTP_CONTAINER, name).uploadData(bytes);
  }

  it("a drop with signing: preproduction ends with the SignedFilesZip stored and its hash verified", async () => {
    stack.emulators.configure({ preprod: { notStartedSeconds: 20, processingSeconds: 120, outcome: "succeeded", contentHashEncoding: "hex" } });
    const productsBefore = stack.emulators.state().products.length;
    const packagesBefore = preprodPackages().length;
    const pkg = samplePackage({ folder: "e2e-preprod-drop" });
    await blob(APP_CONTAINERS.drops, `${pkg.fileName}.json`).uploadData(Buffer.from(JSON.stringify({ signing: "preproduction" })));
    await blob(APP_CONTAINERS.drops, pkg.fileName).uploadData(pkg.bytes);

    const id = await stack.submissions.findByBlob(pkg.fileName, 20_000);
    const final = await waitForEnd(stack, id, 90_000);
    expect(final.runtimeStatus).toBe("Completed");
    const view = final.raw as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(view).toMatchObject({ stage: "succeeded", signing: "preproduction", signingStatus: "Succeeded" });
    expect(view.stageHistory.map((s: { stage: string }) => s.stage)).toEqual(
      expect.arrayContaining(["authenticating", "uploading", "waitingForMicrosoft", "downloadingSignedPackage", "succeeded"]),
    );
    expect(view.pollCount).toBeGreaterThanOrEqual(2); // NotStarted/Processing were waited through on timers

    // The emulator got the package byte for byte, once; no product or submission was created.
    const created = preprodPackages().slice(packagesBefore);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ id: view.preprodPackageId, signingStatus: "Succeeded", upload: { length: pkg.bytes.length, sha256: sha256(pkg.bytes) } });
    expect(stack.emulators.state().products.length).toBe(productsBefore);

    // The stored zip is exactly what the emulator signed, and its hash is the contentHash it listed.
    const signed = view.signedPackage as { container: string; blobName: string; contentLength: number };
    expect(signed.container).toBe(APP_CONTAINERS.signed);
    expect(signed.blobName).toBe(`${pkg.fileName}/${id}/PreprodSigned_${view.preprodPackageId}.zip`);
    const stored = await blob(signed.container, signed.blobName).downloadToBuffer();
    expect(stored.length).toBe(signed.contentLength);
    expect(sha256(stored)).toBe(created[0]!.signedZip!.sha256);

    const manifestLocation = view.manifest as { container: string; blobName: string };
    const manifest = JSON.parse((await blob(manifestLocation.container, manifestLocation.blobName).downloadToBuffer()).toString("utf8"));
    expect(manifest).toMatchObject({ outcome: "succeeded", signing: "preproduction", preprodPackageId: view.preprodPackageId, signingStatus: "Succeeded" });
    expect(String(manifest.contentHash).toLowerCase()).toBe(sha256(stored));
    expectNothingSecret(stack, JSON.stringify(view));
  });

  it("POST with signing: preproduction; Failed keeps Microsoft's whole message beside the manifest", async () => {
    const MESSAGE_BYTES = 100_000;
    const HEAD = "E2E-PREPROD-FAILURE: the EV signature on contoso.cat is not trusted";
    stack.emulators.configure({ preprod: { notStartedSeconds: 5, processingSeconds: 30, outcome: "failed", failureMessage: HEAD, failureMessageBytes: MESSAGE_BYTES } });
    const pkg = samplePackage({ folder: "e2e-preprod-failed" });
    await uploadOutsideDrops(pkg.fileName, pkg.bytes);
    const started = await stack.submissions.start({ package: `${HTTP_CONTAINER}/${pkg.fileName}`, signing: "preproduction" });
    expect(started.httpStatus).toBe(202);
    expect(started.raw.signing).toBe("preproduction");
    const final = await waitForEnd(stack, started.id!, 90_000);
    expect(final.runtimeStatus).toBe("Failed");
    const view = final.raw as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(view).toMatchObject({ stage: "failed", signing: "preproduction", signingStatus: "Failed", failureKind: "microsoft" });
    expect(view.errorReport).toContain(HEAD);
    expect(view.errorReport.length).toBeLessThanOrEqual(2001);
    expect(JSON.stringify(view)).not.toContain(SIZED_REPORT_END_MARKER);

    const location = view.errorReportBlob as { container: string; blobName: string; contentLength: number };
    expect(location.blobName).toBe(`${pkg.fileName}/${started.id}/preprodError_${view.preprodPackageId}.txt`);
    const whole = (await blob(location.container, location.blobName).downloadToBuffer()).toString("utf8");
    expect(Buffer.byteLength(whole)).toBe(MESSAGE_BYTES);
    expect(whole.startsWith(HEAD)).toBe(true);
    expect(whole.trimEnd().endsWith(SIZED_REPORT_END_MARKER)).toBe(true);

    const manifestLocation = view.manifest as { container: string; blobName: string };
    const manifest = JSON.parse((await blob(manifestLocation.container, manifestLocation.blobName).downloadToBuffer()).toString("utf8"));
    expect(manifest).toMatchObject({ outcome: "failed", signing: "preproduction", errorReportBlob: { blobName: location.blobName } });
  });

  it("waits through statuses in any case and undocumented ones, and keeps no zip whose SHA-256 is not the contentHash", async () => {
    stack.emulators.configure({
      preprod: { notStartedSeconds: 10, processingSeconds: 60, outcome: "succeeded", statusCase: "upper", processingStatusText: "Validating", corruptContentHash: true, failureMessageBytes: undefined },
    });
    const pkg = samplePackage({ folder: "e2e-preprod-badhash" });
    await uploadOutsideDrops(pkg.fileName, pkg.bytes);
    const started = await stack.submissions.start({ package: `${HTTP_CONTAINER}/${pkg.fileName}`, signing: "preproduction" });
    const final = await waitForEnd(stack, started.id!, 90_000);
    const view = final.raw as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(final.runtimeStatus).toBe("Failed");
    expect(view.stage).toBe("failed");
    // It got past NOTSTARTED and the unknown VALIDATING to SUCCEEDED, then refused the download.
    expect(view.signingStatus).toBe("SUCCEEDED");
    expect(view.error).toMatch(/downloadingSignedPackage: .*has SHA-256 [0-9a-f]{64}, not Microsoft's contentHash/);
    const stored: string[] = [];
    for await (const item of stack.blobService.getContainerClient(APP_CONTAINERS.signed).listBlobsFlat({ prefix: `${pkg.fileName}/` })) stored.push(item.name);
    expect(stored.filter((name) => name.includes("PreprodSigned_"))).toEqual([]);
    stack.emulators.configure({ preprod: { statusCase: "pascal", processingStatusText: undefined, corruptContentHash: false } });
  });

  it("driver-sign submit --preproduction --out starts a preprod run, waits and downloads the verified zip", async () => {
    stack.emulators.configure({ preprod: { notStartedSeconds: 5, processingSeconds: 10, outcome: "succeeded" } });
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "preprod-cli-"));
    try {
      const pkg = samplePackage({ folder: "e2e-preprod-cli" });
      const file = path.join(work, pkg.fileName);
      fs.writeFileSync(file, pkg.bytes);
      const packagesBefore = preprodPackages().length;
      const out = path.join(work, "out");
      const run = await runCli(["submit", file, "--preproduction", "--out", out, "--poll", "200ms", "--timeout", "120s", "--json", "--url", stack.apiUrl, "--key", stack.functionKey]);
      const doc = JSON.parse(run.stdout) as { id: string; exitCode: number; files: { kind: string; path: string }[] };
      expect(run.code).toBe(0);
      const view = (await stack.submissions.get(doc.id)).raw;
      expect(view).toMatchObject({ runtimeStatus: "Completed", signing: "preproduction" });
      const created = preprodPackages().slice(packagesBefore);
      expect(created).toHaveLength(1);
      // --out fetched the verified SignedFilesZip and the manifest (no driver metadata for preprod).
      const zip = doc.files.find((f) => f.kind === "signedPackage")!;
      expect(sha256(fs.readFileSync(zip.path))).toBe(created[0]!.signedZip!.sha256);
      expect(doc.files.map((f) => f.kind).sort()).toEqual(["manifest", "signedPackage"]);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it("refuses another signing value with a 400 naming signing, and starts nothing", async () => {
    const pkg = samplePackage({ folder: "e2e-preprod-bad" });
    await uploadOutsideDrops(pkg.fileName, pkg.bytes);
    const before = puts();
    const refused = await stack.submissions.start({ package: `${HTTP_CONTAINER}/${pkg.fileName}`, signing: "Preprod" });
    expect(refused.httpStatus).toBe(400);
    expect(JSON.stringify(refused.raw)).toMatch(/signing/);
    const combined = await stack.submissions.start({ package: `${HTTP_CONTAINER}/${pkg.fileName}`, signing: "preproduction", productId: "14631253285588838" });
    expect(combined.httpStatus).toBe(400);
    expect(JSON.stringify(combined.raw)).toMatch(/"field":"signing"/);
    expect(puts()).toBe(before);
  });

  it("Microsoft refusing the PUT (400) fails the run at once with its message; the package is sent once", async () => {
    const MESSAGE = "E2E-PREPROD-REFUSED: the package must be EV-signed (catalog contoso.cat has no EV signature)";
    stack.emulators.configure({ faults: [{ method: "PUT", pathRegex: "/preprod/packages/?$", status: 400, message: MESSAGE, times: 10 }] });
    const packagesBefore = preprodPackages().length;
    const putsBefore = puts();
    const pkg = samplePackage({ folder: "e2e-preprod-refused" });
    await uploadOutsideDrops(pkg.fileName, pkg.bytes);
    const started = await stack.submissions.start({ package: `${HTTP_CONTAINER}/${pkg.fileName}`, signing: "preproduction" });
    expect(started.httpStatus).toBe(202);
    const final = await waitForEnd(stack, started.id!, 60_000);
    stack.emulators.configure({ faults: [] });
    expect(final.runtimeStatus).toBe("Failed");
    const view = final.raw as Record<string, unknown>;
    expect(view).toMatchObject({ stage: "failed", signing: "preproduction", failureKind: "activity" });
    expect(String(view.error)).toContain(MESSAGE);
    expect(String(view.error)).toMatch(/^uploading: uploadPreprodPackage failed: /);
    // Not retried: one PUT, no package.
    expect(puts()).toBe(putsBefore + 1);
    expect(preprodPackages().length).toBe(packagesBefore);
  });

  it("a preprod run and a product run of one package version are two runs: neither answers for nor replaces the other", async () => {
    stack.emulators.configure({ preprod: { notStartedSeconds: 5, processingSeconds: 5, outcome: "succeeded", failureMessageBytes: undefined } });
    const productsBefore = stack.emulators.state().products.length;
    // A drop asks for preproduction; the same version then goes for product signing over HTTP.
    const pkg = samplePackage({ folder: "e2e-preprod-both-kinds" });
    await blob(APP_CONTAINERS.drops, `${pkg.fileName}.json`).uploadData(Buffer.from(JSON.stringify({ signing: "preproduction" })));
    await blob(APP_CONTAINERS.drops, pkg.fileName).uploadData(pkg.bytes);
    const preprodId = await stack.submissions.findByBlob(pkg.fileName, 20_000);
    expect((await waitForEnd(stack, preprodId, 90_000)).runtimeStatus).toBe("Completed");

    const ref = `${APP_CONTAINERS.drops}/${pkg.fileName}`;
    const product = await stack.submissions.start({ package: ref });
    expect(product.httpStatus).toBe(202); // not the preprod run's "alreadySigned"
    expect(product.id).toMatch(/^drv-[0-9a-f]{32}$/);
    expect(product.id).not.toBe(preprodId);
    expect(product.raw.signing).toBeUndefined();
    const productFinal = await waitForEnd(stack, product.id!, 90_000);
    expect(productFinal.runtimeStatus).toBe("Completed");
    expect((productFinal.raw as Record<string, unknown>).signing).toBeUndefined();
    expect(stack.emulators.state().products.length).toBe(productsBefore + 1);

    // Each kind still finds its own run (the drop and HTTP share the preprod id), and neither was replaced.
    const preprodAgain = await stack.submissions.start({ package: ref, signing: "preproduction" });
    expect(preprodAgain.httpStatus).toBe(200);
    expect(preprodAgain.raw).toMatchObject({ id: preprodId, alreadySigned: true });
    const productAgain = await stack.submissions.start({ package: ref });
    expect(productAgain.httpStatus).toBe(200);
    expect(productAgain.raw).toMatchObject({ id: product.id, alreadySigned: true });
    expect((await stack.submissions.get(preprodId)).raw).toMatchObject({ runtimeStatus: "Completed", signing: "preproduction" });
    expect(preprodPackages().filter((p) => p.upload.sha256 === sha256(pkg.bytes))).toHaveLength(1);
    expect(preprodId).toMatch(/^pre-[0-9a-f]{32}$/); // the kind shows in the id
  });

  it("a product run first, then preproduction of the same version over HTTP: a preprod run of its own starts", async () => {
    stack.emulators.configure({ preprod: { notStartedSeconds: 5, processingSeconds: 5, outcome: "succeeded", failureMessageBytes: undefined } });
    const pkg = samplePackage({ folder: "e2e-product-then-preprod" });
    await uploadOutsideDrops(pkg.fileName, pkg.bytes);
    const ref = `${HTTP_CONTAINER}/${pkg.fileName}`;
    const product = await stack.submissions.start({ package: ref });
    expect(product.httpStatus).toBe(202);
    // Asked while the product run is still going: not its "already in progress", a run of its own.
    const preprod = await stack.submissions.start({ package: ref, signing: "preproduction" });
    expect(preprod.httpStatus).toBe(202);
    expect(preprod.raw.signing).toBe("preproduction");
    expect(preprod.id).toMatch(/^pre-/);
    const [productFinal, preprodFinal] = await Promise.all([waitForEnd(stack, product.id!, 90_000), waitForEnd(stack, preprod.id!, 90_000)]);
    expect(productFinal.runtimeStatus).toBe("Completed");
    expect((productFinal.raw as Record<string, unknown>).signing).toBeUndefined();
    expect(preprodFinal.runtimeStatus).toBe("Completed");
    expect((preprodFinal.raw as Record<string, unknown>).signing).toBe("preproduction");
  });

  it("kill -9 right after the PUT went out: still exactly one preprod package at the emulator", async () => {
    stack.emulators.configure({
      preprod: { notStartedSeconds: 5, processingSeconds: 5, outcome: "succeeded", failureMessageBytes: undefined },
      // Hold the PUT's answer: the runtime dies with the request sent; the emulator creates the package afterwards.
      faults: [{ method: "PUT", pathRegex: "/preprod/packages/?$", delayMs: 2000, times: 1 }],
    });
    const packagesBefore = preprodPackages().length;
    const putsBefore = puts();
    const pkg = samplePackage({ folder: "e2e-preprod-crash" });
    await uploadOutsideDrops(pkg.fileName, pkg.bytes);
    const started = await stack.submissions.start({ package: `${HTTP_CONTAINER}/${pkg.fileName}`, signing: "preproduction" });
    expect(started.httpStatus).toBe(202);
    await stack.submissions.waitFor(started.id!, (v) => v.stage === "uploading", { timeoutMs: 30_000, intervalMs: 25 });
    await new Promise((resolve) => setTimeout(resolve, 600)); // the PUT is now in flight

    await stack.runtime.kill("SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 2500)); // the held PUT lands at the emulator
    expect(preprodPackages().length).toBe(packagesBefore + 1);
    await stack.runtime.restart();

    const final = await waitForEnd(stack, started.id!, 90_000);
    // The answer was lost with the process: the run does not send a second package, and says why.
    expect(final.runtimeStatus).toBe("Failed");
    expect(String((final.raw as Record<string, unknown>).error)).toMatch(/answer was lost.*a second package is not sent/);
    expect(preprodPackages().length).toBe(packagesBefore + 1);
    expect(puts()).toBe(putsBefore + 1);
    stack.emulators.configure({ faults: [] });
  });

  it("kill -9 after the package id was recorded: the restarted run signs with that one package", async () => {
    stack.emulators.configure({ latencyMs: 150, preprod: { notStartedSeconds: 30, processingSeconds: 60, outcome: "succeeded" } });
    const packagesBefore = preprodPackages().length;
    const pkg = samplePackage({ folder: "e2e-preprod-crash-wait" });
    await uploadOutsideDrops(pkg.fileName, pkg.bytes);
    const started = await stack.submissions.start({ package: `${HTTP_CONTAINER}/${pkg.fileName}`, signing: "preproduction" });
    await stack.submissions.waitFor(started.id!, (v) => v.stage === "waitingForMicrosoft", { timeoutMs: 30_000, intervalMs: 25 });

    await stack.runtime.kill("SIGKILL");
    stack.emulators.configure({ latencyMs: 0 });
    await stack.runtime.restart();

    const final = await waitForEnd(stack, started.id!, 90_000);
    expect(final.runtimeStatus).toBe("Completed");
    expect(preprodPackages().length).toBe(packagesBefore + 1);
  });
});
