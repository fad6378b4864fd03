/**
 * Issue 37 on the local runtime (Azurite, the Hardware Dev Center emulator, the real durable engine):
 * a dropped .cab that breaks the package rules is rejected by the preflight step within seconds, with
 * its findings in the status, the listing and a "rejected" manifest, and the emulator (asked through
 * its control API) shows no product created; a good .cab signs as before and its status shows the
 * hardware ids read from its INF. CABs are written at test time with src/preflight's CAB writer.
 */
import { APP_CONTAINERS } from "../../local/stack";
import { writeCab } from "../../src/preflight/cabWriter";
import type { ResultManifest } from "../../src/domain/types";
import { expectNothingSecret, startTestStack, waitForEnd, type TestStack } from "../support/stack";

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
    expect(stack.emulators.requests().entries.filter((e) => e.kind === "createProduct" && e.status < 300)).toHaveLength(1);
  });
});
