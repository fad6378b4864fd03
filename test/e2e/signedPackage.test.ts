/**
 * Issue 36 on the local runtime (Azurite, the Hardware Dev Center emulator, the real durable engine):
 * the emulator returns what Microsoft returns for a CAB (a zip of the driver folder with a catalog
 * signed by the local test chain), and the run verifies it before it is a success. A good drop signs
 * with the verification in the status and the manifest (catalogs checked, INFs compared, the root);
 * the emulator's failing cases (an INF changed, a catalog signed under an untrusted root) fail the
 * run with the reason naming the file and the check. The catalog the app accepted is verified again
 * by osslsigncode against the same test root.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { APP_CONTAINERS } from "../../local/stack";
import type { ResultManifest, SignedPackageVerification } from "../../src/domain/types";
import { writeCab } from "../../src/preflight/cabWriter";
import { readHlkxListing, readPart } from "../../src/preflight/hlkx";
import { bytesReader } from "../../src/preflight/rangeReader";
import { expectNothingSecret, startTestStack, waitForEnd, type TestStack } from "../support/stack";

jest.setTimeout(180_000);

const INF = Buffer.from(
  ['[Version]', 'Signature="$WINDOWS NT$"', "Class=System", "Provider=Contoso", "CatalogFile=contoso.cat", "DriverVer=01/01/2024,1.0.0.0", ""].join("\r\n"),
  "latin1",
);
const cab = (): Buffer =>
  Buffer.from(
    writeCab([
      { path: "usb/contoso.inf", data: INF },
      { path: "usb/contoso.sys", data: Buffer.from("MZ placeholder") },
      { path: "usb/contoso.cat", data: Buffer.from("the vendor's catalog") },
    ]),
  );

describe("the signed package is verified before the run is a success", () => {
  let stack: TestStack;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-signed-"));

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function behave(signedPackage: string): Promise<void> {
    const response = await fetch(`${stack.emulators.controlUrl}behaviour`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ signedPackage }) });
    expect(response.status).toBe(200);
  }
  async function dropAndWait(blobName: string) {
    await stack.blobService.getContainerClient(APP_CONTAINERS.drops).getBlockBlobClient(blobName).uploadData(cab());
    const id = await stack.submissions.findByBlob(blobName, 20_000);
    return waitForEnd(stack, id);
  }
  async function manifestOf(location: { container: string; blobName: string }): Promise<ResultManifest> {
    const bytes = await stack.blobService.getContainerClient(location.container).getBlobClient(location.blobName).downloadToBuffer();
    return JSON.parse(bytes.toString("utf8")) as ResultManifest;
  }

  it("a drop signs: the status and the manifest show the catalog checked against the test root and the INF compared", async () => {
    await behave("valid");
    const final = await dropAndWait("signed-check-good-1.0.0.cab");
    expect(final.runtimeStatus).toBe("Completed");
    expect(final.stage).toBe("succeeded");

    const shown = final.raw.signedPackageVerification as SignedPackageVerification;
    expect(shown).toMatchObject({ verdict: "verified", catalogCount: 1, infCount: 1, failures: [] });
    expect(shown.catalogs[0]).toMatchObject({ path: "usb/contoso.cat", signer: expect.stringContaining("Windows Hardware Compatibility Publisher"), root: expect.stringContaining("HDC Emulator Test Root") });
    const manifest = await manifestOf(final.custom.manifest!);
    expect(manifest.outcome).toBe("succeeded");
    expect(manifest.signedPackageVerification).toEqual(shown);
    expect(manifest.signedPackageVerification?.infs).toEqual([expect.objectContaining({ path: "usb/contoso.inf", submittedPath: "usb/contoso.inf" })]);

    // What the app stored is Microsoft-shaped: a zip with the INF, the binary and a regenerated catalog
    // that osslsigncode verifies against the same test root on its own.
    const signed = await stack.blobService.getContainerClient(final.custom.signedPackage!.container).getBlobClient(final.custom.signedPackage!.blobName).downloadToBuffer();
    const listing = await readHlkxListing(bytesReader(signed));
    expect(listing.entries.map((e) => e.name).sort()).toEqual(["usb/contoso.cat", "usb/contoso.inf", "usb/contoso.sys"]);
    const catalog = path.join(work, "contoso.cat");
    fs.writeFileSync(catalog, await readPart(bytesReader(signed), listing.entries.find((e) => e.name === "usb/contoso.cat")!, 1 << 20));
    const verified = spawnSync("osslsigncode", ["verify", "-in", catalog, "-CAfile", stack.emulators.signingRootFile], { encoding: "utf8" });
    expect(verified.stdout).toMatch(/Signature verification: ok/);
    expect(shown.catalogs[0].rootThumbprintSha256).toBe(
      spawnSync("openssl", ["x509", "-in", stack.emulators.signingRootFile, "-noout", "-fingerprint", "-sha256"], { encoding: "utf8" }).stdout.trim().replace(/^.*=/, "").replace(/:/g, ""),
    );
    expectNothingSecret(stack, JSON.stringify(final.raw));
  });

  it("an INF Microsoft changed fails the run, naming the INF and the check", async () => {
    await behave("infChanged");
    const final = await dropAndWait("signed-check-inf-1.0.0.cab");
    expect(final.runtimeStatus).toBe("Failed");
    expect(final.stage).toBe("failed");
    expect(String(final.raw.error)).toMatch(/downloadingSignedPackage: the signed package Microsoft returned failed verification: infIdentical: usb\/contoso\.inf: the INF differs/);
    const manifest = await manifestOf(final.custom.manifest!);
    expect(manifest.outcome).toBe("failed");
    expect(manifest.signedPackageVerification?.failures).toEqual([{ file: "usb/contoso.inf", check: "infIdentical", reason: expect.stringContaining("differs from the submitted usb/contoso.inf") }]);
    expect(manifest.signedPackage?.blobName).toMatch(/Signed_\d+\.zip$/);
  });

  it("a catalog signed under an untrusted root fails the run, naming the catalog and the check", async () => {
    await behave("untrustedRoot");
    const final = await dropAndWait("signed-check-root-1.0.0.cab");
    expect(final.runtimeStatus).toBe("Failed");
    expect(String(final.raw.error)).toMatch(/catalogChain: usb\/contoso\.cat: the chain ends at the self-signed .*HDC Emulator Test Root.*not a trusted root/);
    const manifest = await manifestOf(final.custom.manifest!);
    expect(manifest.signedPackageVerification?.failures.map((f) => [f.file, f.check])).toEqual([["usb/contoso.cat", "catalogChain"]]);
    await behave("valid");
  });
});
