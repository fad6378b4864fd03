/**
 * Issue 37 on the local runtime (Azurite, the Hardware Dev Center emulator, the real durable engine):
 * a dropped .cab that breaks the package rules is rejected by the preflight step within seconds, with
 * its findings in the status, the listing and a "rejected" manifest, and the emulator (asked through
 * its control API) shows no product created; a good .cab signs as before and its status shows the
 * hardware ids read from its INF; a Zip64 .hlkx is rejected the same way with its PKG017 finding.
 * CABs are written at test time with src/preflight's CAB writer, HLKX packages by bsdtar.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { APP_CONTAINERS } from "../../local/stack";
import { writeCab } from "../../src/preflight/cabWriter";
import type { ResultManifest } from "../../src/domain/types";
import { expectNothingSecret, isTerminal, startTestStack, waitForEnd, type TestStack } from "../support/stack";
import { bsdtarZip, scratch, SIGNED_HLKX_PARTS, toolIt, writeTree } from "../unit/preflight/fixtures";

jest.setTimeout(120_000);

const HARDWARE_ID = "USB\\VID_1234&PID_5678";
// The INF parser reports hardware ids lowercased (they compare case-insensitively).

function inf(catalog: string): Buffer {
  return Buffer.from(
    [
      "[Version]",
      'Signature="$WINDOWS NT$"',
      "Class=USBDevice",
      "ClassGuid={88BAE032-5A81-49f0-BC3D-A4FF138216D6}",
      "Provider=%Contoso%",
      `CatalogFile=${catalog}`,
      "DriverVer=01/01/2024,1.0.0.0",
      "",
      "[Manufacturer]",
      "%Contoso%=Contoso,NTamd64",
      "",
      "[Contoso.NTamd64]",
      `%Device%=Install,${HARDWARE_ID}`,
      "",
      "[Install]",
      "",
      "[Strings]",
      'Contoso="Contoso Ltd."',
      'Device="Contoso USB device"',
      "",
    ].join("\r\n"),
  );
}

/** Files at the root of the cabinet: Microsoft's "There are files at the root of the cabinet." */
const badCab = (): Buffer =>
  Buffer.from(
    writeCab([
      { path: "contoso.inf", data: inf("contoso.cat") },
      { path: "contoso.sys", data: Buffer.from("MZ placeholder") },
      { path: "contoso.cat", data: Buffer.from("placeholder catalog") },
    ]),
  );
const goodCab = (): Buffer =>
  Buffer.from(
    writeCab([
      { path: "usb/contoso.inf", data: inf("contoso.cat") },
      { path: "usb/contoso.sys", data: Buffer.from("MZ placeholder") },
      { path: "usb/contoso.cat", data: Buffer.from("placeholder catalog") },
    ]),
  );

/**
 * Orchestration (virtual clock) seconds from the run's first stage to its last: the engine's clock
 * jumps to each durable timer, so the polling of Microsoft's workflow counts as the minutes it would
 * take in production, while the test itself takes seconds.
 */
function orchestrationSeconds(view: { raw: Record<string, unknown> }): number {
  const times = (view.raw.stageHistory as { stage: string; at: string }[]).map((t) => Date.parse(t.at));
  return (Math.max(...times) - Math.min(...times)) / 1000;
}

describe("preflight before anything is created at Hardware Dev Center", () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** The emulator's own account of what exists, through its HTTP control API. */
  async function emulatorState(): Promise<{ products: { id: string; submissions: unknown[] }[] }> {
    const response = await fetch(`${stack.emulators.controlUrl}state`);
    expect(response.status).toBe(200);
    return (await response.json()) as { products: { id: string; submissions: unknown[] }[] };
  }

  async function drop(blobName: string, bytes: Buffer): Promise<void> {
    await stack.blobService.getContainerClient(APP_CONTAINERS.drops).getBlockBlobClient(blobName).uploadData(bytes);
  }

  it("a .cab with files at its root is rejected within seconds with its findings; no product is created", async () => {
    const productsBefore = (await emulatorState()).products.length;
    const blobName = "preflight-bad-1.0.0.cab";
    const droppedAt = Date.now();
    await drop(blobName, badCab());
    const id = await stack.submissions.findByBlob(blobName, 20_000);
    const final = await waitForEnd(stack, id, 30_000);
    const seconds = (Date.now() - droppedAt) / 1000;

    expect(final.runtimeStatus).toBe("Completed");
    expect(final.stage).toBe("rejected");
    expect(final.raw.outcome).toBe("rejected");
    expect(seconds).toBeLessThan(20);
    // Also in orchestration time: no durable timer (no polling of Microsoft) before the refusal.
    expect(orchestrationSeconds(final)).toBeLessThan(5);
    expect(String(final.raw.reason)).toMatch(/preflight: .*PKG001.*nothing was created at Microsoft/);
    const messages = final.raw.messages as string[];
    expect(messages.some((m) => m.startsWith("PKG001 error:") && m.includes("contoso.inf"))).toBe(true);
    const preflight = final.raw.preflight as { verdict: string; findings: { code: string; severity: string; file: string | null }[]; hardwareIds: string[] };
    expect(preflight.verdict).toBe("refused");
    expect(preflight.findings.filter((f) => f.code === "PKG001").map((f) => f.file).sort()).toEqual(["contoso.cat", "contoso.inf", "contoso.sys"]);
    // An INF at the root belongs to no driver folder: its ids are not offered as the package's.
    expect(preflight.hardwareIds).toEqual([]);

    // Listed with the rejected drops.
    const listed = (await stack.submissions.list()).find((view) => view.id === id);
    expect(listed?.stage).toBe("rejected");

    // The rejected manifest holds every finding.
    const manifestAt = final.custom.manifest!;
    const manifest = JSON.parse(
      (await stack.blobService.getContainerClient(manifestAt.container).getBlobClient(manifestAt.blobName).downloadToBuffer()).toString("utf8"),
    ) as ResultManifest;
    expect(manifest.outcome).toBe("rejected");
    expect(manifest.preflight?.findings.map((f) => f.code)).toEqual(preflight.findings.map((f) => f.code));

    // Nothing at Hardware Dev Center: no product, not even a token asked for a call.
    expect((await emulatorState()).products.length).toBe(productsBefore);
    expect(stack.emulators.requests().entries.filter((e) => e.kind === "createProduct")).toEqual([]);
    expectNothingSecret(stack, JSON.stringify(final.raw));
  });

  toolIt("a Zip64 .hlkx is rejected within seconds with its PKG017 finding; nothing is created at the emulator", async () => {
    const dir = scratch("preflight-e2e-hlkx-");
    try {
      writeTree(dir, SIGNED_HLKX_PARTS);
      const file = bsdtarZip(dir, path.join(dir, "zip64.hlkx"), Object.keys(SIGNED_HLKX_PARTS).sort(), { zip64: true });
      const productsBefore = (await emulatorState()).products.length;
      const blobName = "preflight-zip64-1.0.0.hlkx";
      const droppedAt = Date.now();
      await drop(blobName, fs.readFileSync(file));
      const id = await stack.submissions.findByBlob(blobName, 20_000);
      const final = await waitForEnd(stack, id, 30_000);

      expect(final.runtimeStatus).toBe("Completed");
      expect(final.stage).toBe("rejected");
      expect((Date.now() - droppedAt) / 1000).toBeLessThan(20);
      expect(String(final.raw.reason)).toMatch(/preflight: .*PKG017.*nothing was created at Microsoft/);
      const preflight = final.raw.preflight as { verdict: string; findings: { code: string; message: string }[]; hardwareIds: string[] };
      expect(preflight.verdict).toBe("refused");
      expect(new Set(preflight.findings.map((f) => f.code))).toEqual(new Set(["PKG017"]));
      expect(preflight.findings[0].message).toContain("File is using Zip64");
      expect((await emulatorState()).products.length).toBe(productsBefore);
      expect(stack.emulators.requests().entries.filter((e) => e.kind === "createProduct")).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a drop with a dry-run publish policy shows the label it would produce in its status within seconds, from the INF", async () => {
    const blobName = "preflight-preview-1.0.0.cab";
    const drops = stack.blobService.getContainerClient(APP_CONTAINERS.drops);
    const sidecar = JSON.stringify({ publish: { destination: "anotherPartner", receiverPublisherId: "12345", dryRun: true } });
    await drops.getBlockBlobClient(`${blobName}.json`).upload(sidecar, Buffer.byteLength(sidecar));
    const droppedAt = Date.now();
    await drop(blobName, goodCab());
    const id = await stack.submissions.findByBlob(blobName, 20_000);
    const shown = await stack.submissions.waitFor(id, (view) => view.raw.labelPreview !== undefined || isTerminal(view), { timeoutMs: 20_000 });
    expect((Date.now() - droppedAt) / 1000).toBeLessThan(20);
    expect(shown.raw.labelPreview).toEqual({
      basis: "packageInfs",
      name: "preflight-preview-1.0.0 1.0.0.0",
      destination: "anotherPartner",
      hardwareIdCount: 1,
      hardwareIds: [`contoso.inf | WINDOWS_v100_X64_RS5_FULL | ${HARDWARE_ID.toLowerCase()}`],
      operatingSystemCodes: ["WINDOWS_v100_X64_RS5_FULL"],
      chidCount: 0,
      problems: [],
    });
    // The real dry run still follows Microsoft's metadata after signing.
    const final = await waitForEnd(stack, id);
    expect(final.stage).toBe("succeeded");
    expect(final.raw.labelPreview).toEqual(shown.raw.labelPreview);
    expectNothingSecret(stack, JSON.stringify(final.raw));
  });

  it("a good .cab signs as before, with its hardware ids in the status", async () => {
    const productsBefore = (await emulatorState()).products.length;
    const blobName = "preflight-good-1.0.0.cab";
    await drop(blobName, goodCab());
    const id = await stack.submissions.findByBlob(blobName, 20_000);
    const final = await waitForEnd(stack, id);

    expect(final.runtimeStatus).toBe("Completed");
    expect(final.stage).toBe("succeeded");
    expect(final.custom.signedPackage?.container).toBe(APP_CONTAINERS.signed);
    expect(final.raw.preflight).toEqual({ verdict: "clean", findings: [], hardwareIds: [HARDWARE_ID.toLowerCase()] });
    expect((await emulatorState()).products.length).toBe(productsBefore + 1);
  });
});

describe("with PREFLIGHT=off the same bad package fails at Microsoft's commit, in Microsoft's terse text", () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({ appSettings: { PREFLIGHT: "off" } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("a .cab with files at its root gets a product and a submission, then fails at commit", async () => {
    const blobName = "preflight-off-bad-1.0.0.cab";
    await stack.blobService.getContainerClient(APP_CONTAINERS.drops).getBlockBlobClient(blobName).uploadData(badCab());
    const id = await stack.submissions.findByBlob(blobName, 20_000);
    const final = await waitForEnd(stack, id);

    expect(final.runtimeStatus).toBe("Failed");
    expect(final.stage).toBe("failed");
    expect(final.custom.failureKind).toBe("microsoft");
    expect(final.custom.commitStatus).toMatch(/commitFailed/i);
    expect(JSON.stringify(final.raw)).toContain("There are files at the root of the cabinet.");
    expect(final.raw.preflight).toBeUndefined();
    // Created at Microsoft before the refusal: what the preflight step saves.
    expect(final.custom.productId).toMatch(/^\d+$/);
    // Later in orchestration (virtual-clock) time: Microsoft's workflow was polled (a minute or more) before it failed.
    expect(final.raw.pollCount).toBeGreaterThanOrEqual(1);
    expect(orchestrationSeconds(final)).toBeGreaterThanOrEqual(60);
    expect(stack.emulators.requests().entries.filter((e) => e.kind === "createProduct" && e.status < 300)).toHaveLength(1);
  });

  toolIt("a Zip64 .hlkx gets a product and a submission, then fails at commit with Microsoft's Zip64 text", async () => {
    const dir = scratch("preflight-off-hlkx-");
    try {
      writeTree(dir, SIGNED_HLKX_PARTS);
      const file = bsdtarZip(dir, path.join(dir, "zip64.hlkx"), Object.keys(SIGNED_HLKX_PARTS).sort(), { zip64: true });
      const created = stack.emulators.requests().entries.filter((e) => e.kind === "createProduct" && e.status < 300).length;
      const blobName = "preflight-off-zip64-1.0.0.hlkx";
      await stack.blobService.getContainerClient(APP_CONTAINERS.drops).getBlockBlobClient(blobName).uploadData(fs.readFileSync(file));
      const id = await stack.submissions.findByBlob(blobName, 20_000);
      const final = await waitForEnd(stack, id);

      expect(final.runtimeStatus).toBe("Failed");
      expect(final.custom.failureKind).toBe("microsoft");
      expect(final.custom.commitStatus).toMatch(/commitFailed/i);
      expect(JSON.stringify(final.raw)).toContain("File is using Zip64(4gb+file Size)");
      expect(final.raw.preflight).toBeUndefined();
      expect(final.custom.productId).toMatch(/^\d+$/);
      expect(orchestrationSeconds(final)).toBeGreaterThanOrEqual(60);
      expect(stack.emulators.requests().entries.filter((e) => e.kind === "createProduct" && e.status < 300)).toHaveLength(created + 1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
