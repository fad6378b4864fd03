/**
 * The check of Microsoft's signed package (issue 36) on packages made here: a submitted CAB
 * (cabWriter), a signed zip with a catalog per driver folder written by the emulator's catalog
 * writer and signed by a chain openssl makes (signingChain.ts): a test root, a publisher leaf with
 * the WHQL EKU, a second root nobody trusts, a leaf without the EKU. osslsigncode verifies the
 * catalog on its own as a cross-check of the format; openssl computes the thumbprints compared.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, type X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { catalogSigner } from "../../../local/emulators/signedPackage";
import { type CatalogFile, writeCatalog } from "../../../local/emulators/catalogWriter";
import { loadOrCreateSigningChain, type SigningChain } from "../../../local/emulators/signingChain";
import { zipStore } from "../../../local/samplePackage";
import { CatalogError, verifyCatalog } from "../../../src/preflight/catalog";
import { writeCab } from "../../../src/preflight/cabWriter";
import { bytesReader } from "../../../src/preflight/rangeReader";
import { verifySignedPackage } from "../../../src/preflight/signedPackage";
import { certificatesFromPem, MICROSOFT_ROOT_2010, microsoftRoots } from "../../../src/preflight/trustedRoots";
import { scratch } from "./fixtures";

jest.setTimeout(60_000);

const work = scratch("signed-package-");
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const INF = Buffer.from('[Version]\r\nSignature="$WINDOWS NT$"\r\nClass=System\r\nCatalogFile=contoso.cat\r\nDriverVer=01/01/2024,1.0.0.0\r\n', "latin1");
const SYS = Buffer.from("MZ placeholder driver binary\n");
const SECOND_INF = Buffer.from('[Version]\r\nSignature="$WINDOWS NT$"\r\nClass=Net\r\nCatalogFile=fabrikam.cat\r\n', "latin1");

let chain: SigningChain;
let trusted: X509Certificate[];
beforeAll(() => {
  chain = loadOrCreateSigningChain(path.join(work, "chain"));
  trusted = certificatesFromPem(chain.rootPem, "the test root");
});

const submittedCab = (files: Record<string, Buffer> = { "usb/contoso.inf": INF, "usb/contoso.sys": SYS, "net/fabrikam.inf": SECOND_INF }) =>
  Buffer.from(writeCab(Object.entries(files).map(([p, data]) => ({ path: p, data }))));

interface SignedFolder {
  files: Record<string, Buffer>;
  /** Which chain member signs its catalog (default: the publisher). */
  signer?: "publisher" | "untrusted" | "noWhqlEku" | "attested";
  /** Files the catalog lists (default: every file of the folder). */
  listed?: string[];
  tamper?: boolean;
  noCatalog?: boolean;
}

/** A signed zip: each folder's files plus <folder>/<name>.cat over them. */
function signedZip(folders: Record<string, SignedFolder>): Buffer {
  const entries: { name: string; data: Buffer }[] = [];
  for (const [folder, spec] of Object.entries(folders)) {
    for (const [name, data] of Object.entries(spec.files)) entries.push({ name: `${folder}/${name}`, data });
    if (spec.noCatalog) continue;
    const listed: CatalogFile[] = Object.entries(spec.files)
      .filter(([name]) => !spec.listed || spec.listed.includes(name))
      .map(([name, data]) => ({ name, data }));
    const catalog = writeCatalog(listed, catalogSigner(chain, spec.signer ?? "publisher"), { tamper: spec.tamper });
    entries.push({ name: `${folder}/${path.basename(folder)}.cat`, data: catalog });
  }
  return zipStore(entries);
}

const goodFolders = (): Record<string, SignedFolder> => ({
  usb: { files: { "contoso.inf": INF, "contoso.sys": SYS } },
  net: { files: { "fabrikam.inf": SECOND_INF } },
});

const verify = (signed: Buffer, submitted = submittedCab(), roots = trusted) => verifySignedPackage(bytesReader(signed), bytesReader(submitted), { trustedRoots: roots, at: new Date() });
const fingerprint = (pem: string) => {
  const file = path.join(work, `fp-${Math.random().toString(36).slice(2)}.pem`);
  fs.writeFileSync(file, pem);
  return execFileSync("openssl", ["x509", "-in", file, "-noout", "-fingerprint", "-sha256"], { encoding: "utf8" }).trim().replace(/^.*=/, "").replace(/:/g, "");
};

describe("verifySignedPackage", () => {
  it("verifies a package whose catalogs chain to the trusted root with the WHQL EKU and whose INFs are the submitted ones", async () => {
    const result = await verify(signedZip(goodFolders()));
    expect(result.failures).toEqual([]);
    expect(result.verdict).toBe("verified");
    expect(result).toMatchObject({ catalogCount: 2, infCount: 2 });
    expect(result.catalogs.map((c) => c.path).sort()).toEqual(["net/net.cat", "usb/usb.cat"]);
    const root = fingerprint(chain.rootPem);
    for (const catalog of result.catalogs) {
      expect(catalog.root).toContain("HDC Emulator Test Root");
      expect(catalog.rootThumbprintSha256).toBe(root);
      expect(catalog.signer).toContain("Windows Hardware Compatibility Publisher");
      expect(catalog.signerThumbprintSha256).toBe(fingerprint(chain.publisher.certificatePem));
    }
    expect(result.infs).toEqual(
      expect.arrayContaining([
        { path: "usb/contoso.inf", submittedPath: "usb/contoso.inf", sha256: createHash("sha256").update(INF).digest("hex") },
        expect.objectContaining({ path: "net/fabrikam.inf", submittedPath: "net/fabrikam.inf" }),
      ]),
    );
  });

  it("accepts a top folder Microsoft adds above the driver folders", async () => {
    const folders = goodFolders();
    const result = await verify(signedZip({ "drivers/usb": folders.usb, "drivers/net": folders.net }));
    expect(result.failures).toEqual([]);
    expect(result.infs.map((i) => [i.path, i.submittedPath]).sort()).toEqual([
      ["drivers/net/fabrikam.inf", "net/fabrikam.inf"],
      ["drivers/usb/contoso.inf", "usb/contoso.inf"],
    ]);
  });

  it("fails an INF changed from the submitted one (even when the catalog lists the changed INF), naming the file and the check", async () => {
    const changed = Buffer.concat([INF, Buffer.from("; changed\r\n")]);
    const result = await verify(signedZip({ ...goodFolders(), usb: { files: { "contoso.inf": changed, "contoso.sys": SYS } } }));
    expect(result.verdict).toBe("failed");
    expect(result.failures).toEqual([{ file: "usb/contoso.inf", check: "infIdentical", reason: expect.stringContaining("differs from the submitted usb/contoso.inf") }]);
    expect(result.reason).toMatch(/^infIdentical: usb\/contoso\.inf: /);
  });

  it("fails a catalog signed under a root that is not trusted (same names, another key)", async () => {
    const result = await verify(signedZip({ ...goodFolders(), usb: { ...goodFolders().usb, signer: "untrusted" } }));
    expect(result.verdict).toBe("failed");
    expect(result.failures).toEqual([{ file: "usb/usb.cat", check: "catalogChain", reason: expect.stringMatching(/self-signed .*HDC Emulator Test Root.*not a trusted root/) }]);
  });

  it("fails a catalog signed through the trusted root by a certificate without the WHQL EKU", async () => {
    const result = await verify(signedZip({ ...goodFolders(), net: { ...goodFolders().net, signer: "noWhqlEku" } }));
    expect(result.failures).toEqual([{ file: "net/net.cat", check: "whqlEku", reason: expect.stringContaining("1.3.6.1.4.1.311.10.3.5") }]);
  });

  it("verifies an attestation-signed catalog whose signer carries only the attested-verification EKU", async () => {
    const result = await verify(signedZip({ ...goodFolders(), net: { ...goodFolders().net, signer: "attested" } }));
    expect(result.failures).toEqual([]);
    expect(result.verdict).toBe("verified");
  });

  it("fails a catalog whose list was changed after signing", async () => {
    const result = await verify(signedZip({ ...goodFolders(), usb: { ...goodFolders().usb, tamper: true } }));
    expect(result.failures).toEqual([{ file: "usb/usb.cat", check: "catalogSignature", reason: expect.stringContaining("does not match the message digest") }]);
  });

  it("fails a driver folder without a catalog, an INF its catalog does not list, and a submitted INF that did not come back", async () => {
    const noCatalog = await verify(signedZip({ ...goodFolders(), net: { ...goodFolders().net, noCatalog: true } }));
    expect(noCatalog.failures).toEqual([{ file: "net", check: "catalogPresent", reason: expect.any(String) }]);

    const unlisted = await verify(signedZip({ ...goodFolders(), usb: { ...goodFolders().usb, listed: ["contoso.sys"] } }));
    expect(unlisted.failures).toEqual([{ file: "usb/contoso.inf", check: "catalogCoversInf", reason: expect.any(String) }]);

    const dropped = await verify(signedZip({ usb: goodFolders().usb }));
    expect(dropped.failures).toEqual([{ file: "net/fabrikam.inf", check: "infMissing", reason: "the submitted INF is not in the signed package" }]);
  });

  it("opens only the INFs and catalogs: a driver folder of 300 more files costs no read per file", async () => {
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, n) => [`firmware-${n}.bin`, Buffer.from(`blob ${n}`)]));
    const zip = signedZip({ ...goodFolders(), usb: { files: { "contoso.inf": INF, "contoso.sys": SYS, ...many }, listed: ["contoso.inf"] } });
    const inner = bytesReader(zip);
    let reads = 0;
    const counting = { size: inner.size, read: (offset: number, length: number) => (reads++, inner.read(offset, length)) };
    const result = await verifySignedPackage(counting, bytesReader(submittedCab()), { trustedRoots: trusted, at: new Date() });
    expect(result.failures).toEqual([]);
    // End record, central directory, then a local header and the data for each of 2 INFs and 2 catalogs.
    expect(reads).toBeLessThanOrEqual(4 + 4 * 2);
  });

  it("fails a package that is not a zip", async () => {
    const result = await verify(Buffer.from("not a zip at all, just text padding it past twenty-two bytes"));
    expect(result.failures).toEqual([{ file: "(signed package)", check: "archive", reason: expect.stringContaining("not a readable zip") }]);
  });

  it("trusts only Microsoft's root in production: the test-signed package fails there", async () => {
    const result = await verify(signedZip(goodFolders()), submittedCab(), microsoftRoots());
    expect(result.verdict).toBe("failed");
    expect(result.failures.map((f) => f.check)).toEqual(["catalogChain", "catalogChain"]);
  });
});

describe("the Microsoft root fact", () => {
  it("is the self-signed Microsoft Root Certificate Authority 2010 with the thumbprints written beside it", () => {
    const [root] = microsoftRoots();
    expect(root.subject).toContain("CN=Microsoft Root Certificate Authority 2010");
    expect(root.verify(root.publicKey)).toBe(true);
    expect(root.ca).toBe(true);
    expect(fingerprint(MICROSOFT_ROOT_2010.pem.trim())).toBe(MICROSOFT_ROOT_2010.thumbprintSha256);
    expect(root.fingerprint.replace(/:/g, "")).toBe(MICROSOFT_ROOT_2010.thumbprintSha1);
    expect(new Date(root.validTo).toISOString()).toBe(new Date(MICROSOFT_ROOT_2010.notAfter).toISOString());
  });
});

describe("the emulator's catalog", () => {
  it("is a catalog osslsigncode verifies against the test root, and refuses against another", () => {
    const file = path.join(work, "contoso.cat");
    fs.writeFileSync(file, writeCatalog([{ name: "contoso.inf", data: INF }], catalogSigner(chain, "publisher")));
    const ok = execFileSync("osslsigncode", ["verify", "-in", file, "-CAfile", chain.rootFile], { encoding: "utf8", stdio: "pipe" });
    expect(ok).toMatch(/Signature verification: ok/);
    const other = path.join(work, "other-root.pem");
    fs.writeFileSync(other, chain.untrusted.extraCertificatesPem[0]);
    expect(() => execFileSync("osslsigncode", ["verify", "-in", file, "-CAfile", other], { stdio: "pipe" })).toThrow();
    // A list changed after signing: osslsigncode's digest check refuses it as verifyCatalog does.
    const tampered = path.join(work, "tampered.cat");
    fs.writeFileSync(tampered, writeCatalog([{ name: "contoso.inf", data: INF }], catalogSigner(chain, "publisher"), { tamper: true }));
    const refused = spawnSync("osslsigncode", ["verify", "-in", tampered, "-CAfile", chain.rootFile], { encoding: "utf8" });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/digest failure/);
  });

  it("verifyCatalog names the check for bytes that are no catalog", () => {
    expect(() => verifyCatalog(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]), trusted, new Date())).toThrow(CatalogError);
  });
});
