/**
 * The signature rules (PKG010–PKG020) on fixtures made here: certificates from openssl (EV policy
 * 2.23.140.1.3 or not, expired via `openssl ca` with past dates, a 3-day one), CABs from gcab signed
 * by osslsigncode with SHA-256 or SHA-1, HLKX packages zipped by bsdtar (plain and Zip64, signed
 * or not). Each rule has a failing and a passing case; thumbprints are compared with openssl's.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { readCabSignature } from "../../../src/preflight/authenticode";
import { readCabListing } from "../../../src/preflight/cab";
import { children, DerError, oidOf, readNode } from "../../../src/preflight/der";
import { readHlkxListing } from "../../../src/preflight/hlkx";
import { MAX_SIGNATURE_BYTES } from "../../../src/preflight/limits";
import { bytesReader } from "../../../src/preflight/rangeReader";
import { checkHlkx, checkPackage, type CheckOptions, type PreflightReport } from "../../../src/preflight/rules";
import { ansi, gcab, HAVE_CAB_TOOLS, sampleInf, scratch, SIGNED_HLKX_PARTS, TOOLS, writeTree } from "./fixtures";

jest.setTimeout(60_000);

const SIGNING = { openssl: "/usr/bin/openssl", osslsigncode: "/usr/bin/osslsigncode" };
const missing = Object.values(SIGNING).filter((tool) => !fs.existsSync(tool));
if (missing.length > 0) console.warn(`preflight signature tests: ${missing.join(", ")} not found (apt-get install openssl osslsigncode); ${process.env.CI === "true" ? "CI=true: they fail" : "skipped"}`);
const signIt = (HAVE_CAB_TOOLS && missing.length === 0) || process.env.CI === "true" ? it : it.skip;

const work = scratch("preflight-signatures-");
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
const run = (tool: string, args: string[], cwd = work) => execFileSync(tool, args, { cwd, stdio: "pipe", encoding: "utf8" });

const CA_CONFIG = `[ca]
default_ca = d
[d]
database = index.txt
new_certs_dir = issued
serial = serial
default_md = sha256
policy = p
unique_subject = no
copy_extensions = copy
[p]
commonName = supplied
[ev]
certificatePolicies = 2.23.140.1.3
extendedKeyUsage = codeSigning
`;

interface Cert {
  cert: string;
  key: string;
}

let keyFile = "";
function key(): string {
  if (!keyFile) {
    keyFile = path.join(work, "key.pem");
    run(SIGNING.openssl, ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyFile]);
  }
  return keyFile;
}

/** A self-signed code-signing certificate valid from now for `days`, with or without the EV policy. */
function certificate(name: string, options: { ev: boolean; days: number }): Cert {
  const cert = path.join(work, `${name}.pem`);
  const extensions = ["-addext", "extendedKeyUsage=codeSigning", ...(options.ev ? ["-addext", "certificatePolicies=2.23.140.1.3"] : [])];
  run(SIGNING.openssl, ["req", "-x509", "-key", key(), "-out", cert, "-days", String(options.days), "-subj", `/CN=${name}`, ...extensions]);
  return { cert, key: key() };
}

/** An EV certificate valid only in January 2020 (openssl ca takes explicit start and end dates). */
function expiredCertificate(): Cert {
  const dir = path.join(work, "ca");
  fs.mkdirSync(path.join(dir, "issued"), { recursive: true });
  fs.writeFileSync(path.join(dir, "ca.cnf"), CA_CONFIG);
  fs.writeFileSync(path.join(dir, "index.txt"), "");
  fs.writeFileSync(path.join(dir, "serial"), "01\n");
  run(SIGNING.openssl, ["req", "-new", "-key", key(), "-out", "expired.csr", "-subj", "/CN=Expired EV"], dir);
  run(SIGNING.openssl, ["ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", key(), "-in", "expired.csr", "-out", "expired.pem", "-notext", "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-extensions", "ev"], dir);
  return { cert: path.join(dir, "expired.pem"), key: key() };
}

let cabCounter = 0;
/** A good two-driver CAB from gcab (unsigned). */
function unsignedCab(): string {
  const dir = path.join(work, `cab-${++cabCounter}`);
  const files = {
    "usb/contoso.inf": ansi(sampleInf({ architectures: ["amd64"] })),
    "usb/contoso.cat": "catalog",
    "usb/contoso.sys": "MZ driver",
  };
  writeTree(dir, files);
  gcab(dir, "unsigned.cab", Object.keys(files).sort(), true);
  return path.join(dir, "unsigned.cab");
}

function signedCab(signer: Cert, digest: "sha256" | "sha1"): Buffer {
  const input = unsignedCab();
  const out = input.replace(/unsigned\.cab$/, `signed-${digest}.cab`);
  run(SIGNING.osslsigncode, ["sign", "-h", digest, "-certs", signer.cert, "-key", signer.key, "-in", input, "-out", out]);
  return fs.readFileSync(out);
}

const fingerprint = (cert: string, digest: "sha1" | "sha256") => run(SIGNING.openssl, ["x509", "-in", cert, "-noout", "-fingerprint", `-${digest}`]).trim().replace(/^.*=/, "").replace(/:/g, "");
const check = (bytes: Uint8Array, options: CheckOptions = {}) => checkPackage(bytesReader(bytes), options);
const codes = (report: PreflightReport) => report.findings.map((f) => f.code);

describe("CAB Authenticode signature", () => {
  let ev: Cert;
  let plain: Cert;
  let evCab: Buffer;
  beforeAll(() => {
    if (missing.length > 0 && process.env.CI !== "true") return;
    ev = certificate("Contoso EV", { ev: true, days: 365 });
    plain = certificate("Contoso OV", { ev: false, days: 365 });
    evCab = signedCab(ev, "sha256");
  });

  signIt("reads the signer as osslsigncode wrote it: subject, EV policy, SHA-256, validity and the thumbprints openssl computes", async () => {
    const listing = await readCabListing(bytesReader(evCab));
    const read = await readCabSignature(bytesReader(evCab), listing);
    expect(read.kind).toBe("signed");
    if (read.kind !== "signed") return;
    expect(read.signature.offset).toBe(listing.declaredSize);
    expect(read.signature.offset + read.signature.length).toBe(evCab.length);
    expect(read.signature).toMatchObject({ digestAlgorithm: "sha256", fileDigestAlgorithm: "sha256", certificateCount: 1 });
    expect(read.signature.signer).toMatchObject({ subject: "CN=Contoso EV", policies: ["2.23.140.1.3"], extendedKeyUsages: ["1.3.6.1.5.5.7.3.3"] });
    expect(read.signature.signer.thumbprintSha1).toBe(fingerprint(ev.cert, "sha1"));
    expect(read.signature.signer.thumbprintSha256).toBe(fingerprint(ev.cert, "sha256"));
    const endDate = run(SIGNING.openssl, ["x509", "-in", ev.cert, "-noout", "-enddate"]).trim().replace(/^notAfter=/, "");
    expect(read.signature.signer.notAfter.getTime()).toBe(new Date(endDate).getTime());
  });

  signIt("an EV, SHA-256, current signature is clean, also for attestation with a Windows 10+ client OS and its registered thumbprint", async () => {
    const report = await check(evCab, { attestation: true, osCodes: ["WINDOWS_v100_X64_CO_FULL"], registeredThumbprints: [fingerprint(ev.cert, "sha256").toLowerCase()] });
    expect(report.findings).toEqual([]);
    expect(report.signature).toMatchObject({ subject: "CN=Contoso EV", ev: true, digestAlgorithm: "sha256", registered: true });
  });

  signIt("PKG010: an unsigned CAB is refused for attestation, and is no finding otherwise (pack makes CABs to be signed next)", async () => {
    const unsigned = fs.readFileSync(unsignedCab());
    const forAttestation = await check(unsigned, { attestation: true });
    expect(forAttestation.findings).toEqual([{ code: "PKG010", severity: "error", message: expect.stringContaining("no Authenticode signature"), file: null, line: null }]);
    expect(forAttestation.signature).toBeNull();
    expect((await check(unsigned)).findings).toEqual([]);
  });

  signIt("PKG011: a signer without the EV policy is refused; the EV one is not", async () => {
    const report = await check(signedCab(plain, "sha256"));
    expect(report.findings).toEqual([{ code: "PKG011", severity: "error", message: expect.stringContaining('"CN=Contoso OV"'), file: null, line: null }]);
    expect(report.signature).toMatchObject({ ev: false });
    expect(codes(await check(evCab))).not.toContain("PKG011");
  });

  signIt("PKG012: a signer that expired in 2020 is refused; checked at a time inside its validity it passes", async () => {
    const expired = signedCab(expiredCertificate(), "sha256");
    const report = await check(expired);
    expect(report.findings).toEqual([{ code: "PKG012", severity: "error", message: expect.stringContaining("expired on 2020-02-01T00:00:00.000Z"), file: null, line: null }]);
    expect((await check(expired, { now: new Date("2020-01-15T00:00:00Z") })).findings).toEqual([]);
    // Before its start it is "not yet valid".
    expect((await check(expired, { now: new Date("2019-12-31T00:00:00Z") })).findings[0].message).toContain("not valid before 2020-01-01");
  });

  signIt("PKG013: a SHA-1 signature is refused, naming both digests; SHA-256 passes", async () => {
    const report = await check(signedCab(ev, "sha1"));
    expect(report.findings).toEqual([{ code: "PKG013", severity: "error", message: expect.stringContaining("file digest is SHA1 and signer's digest is SHA1"), file: null, line: null }]);
    expect(codes(await check(evCab))).not.toContain("PKG013");
  });

  signIt("PKG014: a signer not among the registered thumbprints warns SignatureValidationFailed; SHA-1 thumbprints (with colons) match too; none configured: not compared", async () => {
    const other = await check(evCab, { registeredThumbprints: ["00".repeat(32)] });
    expect(other.findings).toEqual([{ code: "PKG014", severity: "warning", message: expect.stringContaining("SignatureValidationFailed"), file: null, line: null }]);
    expect(other.signature?.registered).toBe(false);
    const colons = fingerprint(ev.cert, "sha1").match(/../g)!.join(":");
    expect((await check(evCab, { registeredThumbprints: [colons] })).findings).toEqual([]);
    expect((await check(evCab)).signature?.registered).toBeNull();
  });

  signIt("PKG015: a certificate valid 3 days warns it must be registered again; 7 days does not", async () => {
    const short = await check(signedCab(certificate("Short EV", { ev: true, days: 3 }), "sha256"));
    expect(short.findings).toEqual([{ code: "PKG015", severity: "warning", message: expect.stringContaining("registered in Partner Center again"), file: null, line: null }]);
    expect((await check(signedCab(certificate("Week EV", { ev: true, days: 7 }), "sha256"))).findings).toEqual([]);
  });

  signIt("PKG016: a signature whose bytes are damaged, or that the header places outside the file, is refused (not thrown)", async () => {
    const damaged = Buffer.from(evCab);
    const listing = await readCabListing(bytesReader(damaged));
    damaged[listing.declaredSize] = 0x31; // a SET where the ContentInfo SEQUENCE starts
    expect((await check(damaged)).findings).toEqual([{ code: "PKG016", severity: "error", message: expect.stringContaining("ContentInfo"), file: null, line: null }]);
    const outside = Buffer.from(evCab);
    outside.writeUInt32LE(evCab.length, 36 + 4 + 8); // the signature's length: past the end
    expect((await check(outside)).findings[0]).toMatchObject({ code: "PKG016", message: expect.stringContaining("outside the") });
    expect(codes(await check(evCab))).not.toContain("PKG016");
  });

  signIt("PKG016: a signature length over MAX_SIGNATURE_BYTES is refused without reading it", async () => {
    const huge = Buffer.from(evCab);
    huge.writeUInt32LE(MAX_SIGNATURE_BYTES + 1, 36 + 4 + 8);
    const reads: number[] = [];
    const reader = bytesReader(huge);
    const counting = { size: reader.size, read: (offset: number, length: number) => (reads.push(length), reader.read(offset, length)) };
    const report = await checkPackage(counting);
    expect(report.findings).toEqual([{ code: "PKG016", severity: "error", message: expect.stringContaining(`over the ${MAX_SIGNATURE_BYTES}-byte limit`), file: null, line: null }]);
    expect(Math.max(...reads)).toBeLessThan(MAX_SIGNATURE_BYTES);
  });

  it("the DER reader refuses indefinite lengths, lengths past the data and 5-byte lengths (DerError, no allocation)", () => {
    expect(() => readNode(Uint8Array.from([0x30, 0x80, 0x00, 0x00]))).toThrow(DerError);
    expect(() => readNode(Uint8Array.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x00]))).toThrow(/claims 2147483647 bytes/);
    expect(() => readNode(Uint8Array.from([0x30, 0x85, 1, 0, 0, 0, 0]))).toThrow(/5 bytes/);
    expect(() => children(readNode(Uint8Array.from([0x30, 0x03, 0x02, 0x05, 0x00])))).toThrow(DerError);
    expect(oidOf(readNode(Uint8Array.from([0x06, 0x05, 0x67, 0x81, 0x0c, 0x01, 0x03])))).toBe("2.23.140.1.3");
  });

  it("PKG020: attestation for a Server OS or an OS before Windows 10 is refused; a Windows 10+ client OS, or no attestation, passes", async () => {
    const notCab = Buffer.alloc(40);
    const report = await check(notCab, { attestation: true, osCodes: ["WINDOWS_v100_SERVER_X64_RS5_FULL", "WINDOWS_v63_X64", "WINDOWS_v100_X64_NI_FULL"] });
    expect(report.findings.filter((f) => f.code === "PKG020").map((f) => f.message.split(" ")[0])).toEqual(["WINDOWS_v100_SERVER_X64_RS5_FULL", "WINDOWS_v63_X64"]);
    expect(codes(await check(notCab, { attestation: true, osCodes: ["WINDOWS_v100_X64_NI_FULL"] }))).not.toContain("PKG020");
    expect(codes(await check(notCab, { osCodes: ["WINDOWS_v100_SERVER_X64_RS5_FULL"] }))).not.toContain("PKG020");
  });
});

describe("HLKX / HCKX", () => {
  const hlkxIt = HAVE_CAB_TOOLS || process.env.CI === "true" ? it : it.skip;
  let counter = 0;
  const SIGNED_PARTS: Record<string, string> = { ...SIGNED_HLKX_PARTS };

  /** bsdtar --format zip (optionally forcing Zip64) over the given parts. */
  function hlkx(parts: Record<string, string>, zip64 = false): Buffer {
    const dir = path.join(work, `hlkx-${++counter}`);
    writeTree(dir, parts);
    const out = path.join(work, `package-${counter}.hlkx`);
    run(TOOLS.bsdtar, ["-c", "--format", "zip", ...(zip64 ? ["--options", "zip:zip64"] : []), "-f", out, ...Object.keys(parts).sort()], dir);
    return fs.readFileSync(out);
  }
  const without = (name: string) => Object.fromEntries(Object.entries(SIGNED_PARTS).filter(([key]) => key !== name));

  hlkxIt("a plain, signed OPC package is clean", async () => {
    const report = await checkHlkx(bytesReader(hlkx(SIGNED_PARTS)));
    expect(report.findings).toEqual([]);
    expect(report.fileCount).toBe(Object.keys(SIGNED_PARTS).length);
  });

  hlkxIt("PKG017: a Zip64 package is refused with Microsoft's text, naming where Zip64 is used", async () => {
    const report = await checkHlkx(bytesReader(hlkx(SIGNED_PARTS, true)));
    expect(new Set(codes(report))).toEqual(new Set(["PKG017"]));
    expect(report.findings[0].message).toContain("File is using Zip64");
    expect(report.findings.map((f) => /uses Zip64 \((.*)\);/.exec(f.message)?.[1])).toEqual(["the Zip64 end-of-central-directory locator", ...Object.keys(SIGNED_PARTS).sort().flatMap((name) => [`${name}: version needed to extract 4.5 (Zip64)`, `${name}: a Zip64 extra field in the local header`])]);
  });

  hlkxIt("PKG017: each Zip64 marker alone is found (version needed 4.5 in the central directory; a Zip64 extra field in a local header only, as Python's force_zip64 writes)", async () => {
    const plain = hlkx(SIGNED_PARTS);
    expect((await readHlkxListing(bytesReader(plain))).zip64).toEqual([]);
    const central = plain.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    const versionNeeded = Buffer.from(plain);
    versionNeeded.writeUInt16LE(45, central + 6);
    expect((await readHlkxListing(bytesReader(versionNeeded))).zip64).toEqual(["[Content_Types].xml: version needed to extract 4.5 (Zip64)"]);
    // bsdtar's first local header has an extra field ("UT"); renaming its id to 0x0001 makes it a Zip64 one.
    const localExtra = Buffer.from(plain);
    const extraAt = 30 + localExtra.readUInt16LE(26);
    expect(localExtra.readUInt16LE(28)).toBeGreaterThan(0);
    localExtra.writeUInt16LE(0x0001, extraAt);
    expect((await readHlkxListing(bytesReader(localExtra))).zip64).toEqual(["[Content_Types].xml: a Zip64 extra field in the local header"]);
    expect(codes(await checkHlkx(bytesReader(localExtra)))).toEqual(["PKG017"]);
  });

  hlkxIt("PKG018: a package without [Content_Types].xml or _rels/.rels is refused", async () => {
    const report = await checkHlkx(bytesReader(hlkx(without("[Content_Types].xml"))));
    expect(report.findings).toEqual([{ code: "PKG018", severity: "error", message: expect.stringContaining("[Content_Types].xml"), file: "[Content_Types].xml", line: null }]);
    expect(codes(await checkHlkx(bytesReader(hlkx(without("_rels/.rels")))))).toEqual(["PKG018"]);
  });

  hlkxIt("PKG019: no signature origin, or an origin without its signature part, is refused", async () => {
    const noOrigin = { ...SIGNED_PARTS, "_rels/.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>' };
    expect(codes(await checkHlkx(bytesReader(hlkx(noOrigin))))).toEqual(["PKG019"]);
    expect(codes(await checkHlkx(bytesReader(hlkx(without("package/services/digital-signature/xml-signature/a1.psdsxs")))))).toEqual(["PKG019"]);
  });

  it("PKG000: a file that is not a zip is refused, not thrown", async () => {
    const report = await checkHlkx(bytesReader(Buffer.from("MSCF a cabinet, not a zip, long enough to hold an end record")));
    expect(report.findings).toEqual([{ code: "PKG000", severity: "error", message: expect.stringContaining("not a readable zip"), file: null, line: null }]);
  });
});
