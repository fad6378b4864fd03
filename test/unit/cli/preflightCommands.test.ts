/**
 * `driver-sign check` and `driver-sign pack`: the compiled CLI (dist/cli/driverSign.js) as a child
 * process, no service needed. pack makes the CAB Microsoft expects (one top folder per driver,
 * MSZIP) with identical bytes on every run, cabextract lists it, and pack checks it; check tells
 * refused (11) from warnings (10) from clean (0), in words and in --json (checked against the
 * schema), reads a gcab CAB with and without compression, and a sparse 2 GiB file (PKG008).
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { resultDocumentSchema, type ResultDocument } from "../../../cli/output";
import { MAX_PACKAGE_BYTES } from "../../../src/preflight/rules";
import { ansi, cabextractList, gcab, sampleInf, scratch, toolIt, utf16, writeTree } from "../preflight/fixtures";

jest.setTimeout(60_000);

/** The README's osslsigncode step; .ci/run installs it, elsewhere its test is skipped with a message. */
const SIGNING_TOOLS = ["/usr/bin/osslsigncode", "/usr/bin/openssl"];
const HAVE_SIGNING_TOOLS = SIGNING_TOOLS.every((tool) => fs.existsSync(tool));
if (!HAVE_SIGNING_TOOLS) console.warn(`signed-CAB test: ${SIGNING_TOOLS.join(", ")} not all found (apt-get install osslsigncode openssl); ${process.env.CI === "true" ? "CI=true: it fails" : "skipped"}`);
const signIt = HAVE_SIGNING_TOOLS || process.env.CI === "true" ? it : it.skip;
const CLI = path.resolve(__dirname, "../../../dist/cli/driverSign.js");

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

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

describe("driver-sign check and pack", () => {
  const work = scratch("preflight-cli-");
  const usb = path.join(work, "src", "usb");
  const filter = path.join(work, "src", "filter");
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  beforeAll(() => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    writeTree(usb, {
      "contoso.inf": utf16(sampleInf({ architectures: ["amd64", "arm64"] })),
      "contoso.cat": "catalog",
      "contoso.sys": Buffer.alloc(100_000, "driver code "),
      "contoso.pdb": "symbols",
    });
    writeTree(filter, {
      "filter.inf": ansi(sampleInf({ catalog: "filter.cat", architectures: ["amd64", "arm64"] })),
      "filter.cat": "catalog",
      "x64/filter.sys": "MZ filter",
    });
  });

  toolIt("pack: the same bytes on every run (whatever the files' times), listed by cabextract, checked clean (exit 0)", async () => {
    const first = path.join(work, "first.cab");
    const second = path.join(work, "second.cab");
    const run1 = await runCli(["pack", usb, filter, "--out", first, "--json"]);
    const doc = documentOf(run1);
    expect(run1.code).toBe(0);
    expect(doc).toMatchObject({ command: "pack", outcome: "clean", package: first });
    expect(doc.preflight?.findings).toEqual([]);
    expect(doc.preflight?.drivers.map((d) => d.folder)).toEqual(["filter", "usb"]);
    expect(doc.files).toEqual([{ kind: "package", path: first, bytes: fs.statSync(first).size, sha256: sha256(first), verified: [] }]);

    // New modification times and a different argument order: still the same bytes.
    const later = new Date(Date.now() + 3_600_000);
    for (const file of ["contoso.inf", "contoso.sys"]) fs.utimesSync(path.join(usb, file), later, later);
    const run2 = await runCli(["pack", filter, usb, "--out", second]);
    expect(run2.code).toBe(0);
    expect(run2.stdout).toMatch(/^Packed 7 files from 2 driver folders into .*second\.cab; no problems found/);
    expect(run2.stdout).toContain(`package: ${second} (${fs.statSync(second).size} bytes, sha256 ${sha256(second)})`);
    expect(sha256(second)).toBe(sha256(first));

    expect(cabextractList(first).map((e) => e.name)).toEqual([
      "filter/filter.cat",
      "filter/filter.inf",
      "filter/x64/filter.sys",
      "usb/contoso.cat",
      "usb/contoso.inf",
      "usb/contoso.pdb",
      "usb/contoso.sys",
    ]);
  });

  toolIt("pack: a folder without an INF is packed and refused (exit 11, PKG002); bad arguments exit 1, a missing folder 8", async () => {
    const docs = path.join(work, "src", "docs");
    writeTree(docs, { "readme.txt": "hello" });
    const out = path.join(work, "refused.cab");
    const run = await runCli(["pack", usb, docs, "--out", out]);
    expect(run.code).toBe(11);
    expect(run.stdout).toContain('error   PKG002 docs/: Driver folder "docs" has no .inf');
    expect(fs.existsSync(out)).toBe(true);

    const notFolder = await runCli(["pack", path.join(usb, "contoso.inf"), "--out", out, "--json"]);
    expect(documentOf(notFolder)).toMatchObject({ command: "pack", exitCode: 1, outcome: "error", message: expect.stringContaining("is not a folder") });
    const clash = await runCli(["pack", usb, path.join(work, "src", "..", "src", "usb"), "--out", out]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/would both be "usb"/);
    const missing = await runCli(["pack", path.join(work, "nope"), "--out", out]);
    expect(missing.code).toBe(8);
    const noOut = await runCli(["pack", usb]);
    expect(noOut.code).toBe(1);
    expect(noOut.stderr).toMatch(/--out/);
  });

  toolIt("check: refused (11) names code, file and INF line, in words and in --json", async () => {
    const dir = path.join(work, "bad");
    writeTree(dir, {
      "readme.txt": "at the root",
      "usb/contoso.inf": utf16(sampleInf({ catalog: "missing.cat", architectures: ["amd64"] })),
      "usb/contoso.sys": "MZ",
    });
    const cab = path.join(work, "bad.cab");
    gcab(dir, cab, ["readme.txt", "usb/contoso.inf", "usb/contoso.sys"], true);
    const human = await runCli(["check", cab]);
    expect(human.code).toBe(11);
    expect(human.stdout).toContain(`${cab}: Microsoft would refuse it: 3 errors, 0 warnings`);
    expect(human.stdout).toContain('error   PKG001 readme.txt: "readme.txt" is at the root of the cabinet');
    expect(human.stdout).toContain("error   PKG005 usb/contoso.inf:8: CatalogFile = missing.cat, but folder \"usb\" has no such file");
    expect(human.stdout).toContain("usb/contoso.inf: USBDevice, Contoso, Ltd., 03/14/2026,2.3.1.0; 4 hardware ids");
    const json = documentOf(await runCli(["check", cab, "--json"]));
    expect(json).toMatchObject({ command: "check", exitCode: 11, outcome: "refused", package: cab });
    expect(json.preflight?.findings.map((f) => [f.code, f.severity, f.file, f.line])).toEqual([
      ["PKG001", "error", "readme.txt", null],
      ["PKG005", "error", "usb/contoso.inf", 8],
      ["PKG005", "error", "usb/contoso.inf", 9],
    ]);
    expect(json.preflight).toMatchObject({ verdict: "refused", errors: 3, warnings: 0 });
  });

  toolIt("check: warnings only (10) and clean (0), on gcab CABs with and without MSZIP", async () => {
    const dir = path.join(work, "warn");
    writeTree(dir, { "drv/d.inf": ansi(sampleInf({ catalog: null })), "drv/d.sys": "MZ" });
    const warn = path.join(work, "warn.cab");
    gcab(dir, warn, ["drv/d.inf", "drv/d.sys"], false);
    const warned = documentOf(await runCli(["check", warn, "--json"]));
    expect(warned).toMatchObject({ exitCode: 10, outcome: "warnings", preflight: { verdict: "warnings", errors: 0, warnings: 1, compression: ["none"] } });
    expect(warned.preflight?.findings[0]).toMatchObject({ code: "PKG006", file: "drv/d.inf", line: 2 });

    const good = path.join(work, "good.cab");
    gcab(path.join(work, "src"), good, ["usb/contoso.inf", "usb/contoso.cat", "filter/filter.inf", "filter/filter.cat"], false);
    const clean = await runCli(["check", good]);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain(`${good}: no problems found`);
  });

  toolIt("check: a sparse file over the size limit is refused with PKG008 (only the tables are read)", async () => {
    const big = path.join(work, "big.cab");
    const packed = path.join(work, "small.cab");
    expect((await runCli(["pack", usb, "--out", packed])).code).toBe(0);
    fs.copyFileSync(packed, big);
    fs.truncateSync(big, MAX_PACKAGE_BYTES + 1);
    const doc = documentOf(await runCli(["check", big, "--json"]));
    expect(doc.preflight?.findings.map((f) => f.code)).toEqual(["PKG008"]);
    expect(doc.exitCode).toBe(11);
  });

  signIt("check: a CAB signed with osslsigncode as the README shows (header reserve, signature appended) still reads its drivers; a 1-day non-EV signer is refused (PKG011) and warned short-lived (PKG015), with the signer shown", async () => {
    const packed = path.join(work, "to-sign.cab");
    const signed = path.join(work, "signed.cab");
    expect((await runCli(["pack", usb, filter, "--out", packed])).code).toBe(0);
    const key = path.join(work, "key.pem");
    const cert = path.join(work, "cert.pem");
    execFileSync("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=Preflight Test Signer"], { stdio: "pipe" });
    execFileSync("/usr/bin/osslsigncode", ["sign", "-h", "sha256", "-certs", cert, "-key", key, "-in", packed, "-out", signed], { stdio: "pipe" });
    const header = fs.readFileSync(signed).subarray(0, 40);
    expect(header.readUInt16LE(30) & 4).toBe(4); // the reserve osslsigncode adds for the signature's location
    expect(fs.statSync(signed).size).toBeGreaterThan(fs.statSync(packed).size);
    const doc = documentOf(await runCli(["check", signed, "--json"]));
    expect(doc).toMatchObject({ exitCode: 11, outcome: "refused", preflight: { signature: { subject: "CN=Preflight Test Signer", ev: false, fileDigestAlgorithm: "sha256", registered: null } } });
    expect(doc.preflight?.findings.map((f) => [f.code, f.severity])).toEqual([["PKG011", "error"], ["PKG015", "warning"]]);
    expect(doc.preflight?.drivers.map((d) => d.infs.map((i) => i.path))).toEqual([["filter/filter.inf"], ["usb/contoso.inf"]]);
    // In words: the signer and both thumbprints; the registered list from the environment is compared (PKG014).
    const sha1 = execFileSync("/usr/bin/openssl", ["x509", "-in", cert, "-noout", "-fingerprint", "-sha1"], { encoding: "utf8" }).trim().replace(/^.*=/, "").replace(/:/g, "");
    const words = await runCli(["check", signed, "--registered-certs", "11".repeat(20)]);
    expect(words.code).toBe(11);
    expect(words.stdout).toContain(`signed by CN=Preflight Test Signer (issuer CN=Preflight Test Signer; not EV; SHA256;`);
    expect(words.stdout).toContain(`thumbprint SHA-1 ${sha1}, SHA-256 `);
    expect(words.stdout).toMatch(/warning PKG014 .*not among the registered certificates/);
    const registered = documentOf(await runCli(["check", signed, "--json", "--registered-certs", `${"22".repeat(20)},${sha1.toLowerCase()}`]));
    expect(registered.preflight?.signature?.registered).toBe(true);
    expect(registered.preflight?.findings.map((f) => f.code)).toEqual(["PKG011", "PKG015"]);
  });

  toolIt("check --attestation: an unsigned CAB is refused (PKG010) and a Server OS too (PKG020); bad --os / --registered-certs values exit 1 naming the option", async () => {
    const packed = path.join(work, "attest.cab");
    expect((await runCli(["pack", usb, filter, "--out", packed])).code).toBe(0);
    expect((await runCli(["check", packed])).code).toBe(0);
    const doc = documentOf(await runCli(["check", packed, "--json", "--attestation", "--os", "WINDOWS_v100_X64_CO_FULL,WINDOWS_v100_SERVER_X64_RS5_FULL"]));
    expect(doc.preflight?.findings.map((f) => f.code)).toEqual(["PKG020", "PKG010"]);
    expect(doc.exitCode).toBe(11);
    const badOs = await runCli(["check", packed, "--attestation", "--os", "windows 10"]);
    expect([badOs.code, badOs.stderr]).toEqual([1, expect.stringContaining("--os")]);
    const noAttestation = await runCli(["check", packed, "--os", "WINDOWS_v100_X64_CO_FULL"]);
    expect([noAttestation.code, noAttestation.stderr]).toEqual([1, expect.stringContaining("add --attestation")]);
    const badThumbprint = await runCli(["check", packed, "--registered-certs", "abc"]);
    expect([badThumbprint.code, badThumbprint.stderr]).toEqual([1, expect.stringContaining("--registered-certs")]);
  });

  toolIt("check: an .hlkx is read as a zip: a Zip64 one is refused with PKG017", async () => {
    const dir = path.join(work, "hlkx");
    writeTree(dir, { "[Content_Types].xml": "<Types/>", "_rels/.rels": "<Relationships/>" });
    const out = path.join(work, "z64.hlkx");
    execFileSync("/usr/bin/bsdtar", ["-c", "--format", "zip", "--options", "zip:zip64", "-f", out, "[Content_Types].xml", "_rels/.rels"], { cwd: dir });
    const doc = documentOf(await runCli(["check", out, "--json"]));
    expect(new Set(doc.preflight?.findings.map((f) => f.code))).toEqual(new Set(["PKG017", "PKG019"]));
  });

  it("check: a missing file exits 8, a folder 1, a non-cabinet 11 (PKG000)", async () => {
    expect((await runCli(["check", path.join(work, "absent.cab")])).code).toBe(8);
    expect((await runCli(["check", work])).code).toBe(1);
    const zip = path.join(work, "not.cab");
    fs.writeFileSync(zip, "PK\u0003\u0004 this is a zip file, not a cabinet file at all");
    const doc = documentOf(await runCli(["check", zip, "--json"]));
    expect(doc).toMatchObject({ exitCode: 11, outcome: "refused", preflight: { findings: [{ code: "PKG000", severity: "error" }] } });
  });
});
