/**
 * The package rules (src/preflight/rules.ts) on CABs made by gcab: each rule has a package that
 * breaks it (the finding's code, severity, file and INF line checked) and one that keeps it (no
 * such finding), and docs/package-rules.md lists exactly the rules the code has.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { bytesReader, type RangeReader } from "../../../src/preflight/rangeReader";
import { checkPackage, type Finding, MAX_PACKAGE_BYTES, type PreflightReport, RULES } from "../../../src/preflight/rules";
import { ansi, gcab, sampleInf, scratch, toolIt, utf16, writeTree } from "./fixtures";

const work = scratch("preflight-rules-");
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
let counter = 0;

/** A CAB made by gcab -z from the given files (sorted, so the order does not depend on the object). */
function cabOf(files: Record<string, string | Uint8Array>): Buffer {
  const dir = path.join(work, `case-${++counter}`);
  writeTree(dir, files);
  return gcab(dir, "../out-" + counter + ".cab", Object.keys(files).sort(), true);
}

/** Two drivers that keep every rule. */
function goodDrivers(overrides: Record<string, string | Uint8Array | null> = {}): Record<string, string | Uint8Array> {
  const files: Record<string, string | Uint8Array | null> = {
    "usb/contoso.inf": utf16(sampleInf({ architectures: ["amd64", "arm64"] })),
    "usb/contoso.cat": "catalog",
    "usb/contoso.sys": "MZ driver",
    "filter/filter.inf": ansi(sampleInf({ catalog: "filter.cat", architectures: ["amd64", "arm64"] })),
    "filter/filter.cat": "catalog",
    "filter/filter.sys": "MZ filter",
    ...overrides,
  };
  return Object.fromEntries(Object.entries(files).filter((entry): entry is [string, string | Uint8Array] => entry[1] !== null));
}

async function check(files: Record<string, string | Uint8Array>): Promise<PreflightReport> {
  return checkPackage(bytesReader(cabOf(files)));
}

const codes = (report: PreflightReport) => report.findings.map((f) => f.code);
const only = (report: PreflightReport, code: string): Finding[] => report.findings.filter((f) => f.code === code);

describe("package rules", () => {
  toolIt("a package that keeps every rule is clean, with its drivers summarised", async () => {
    const report = await check(goodDrivers());
    expect(report.findings).toEqual([]);
    expect(report.verdict).toBe("clean");
    expect(report.compression).toEqual(["mszip"]);
    expect(report.drivers.map((d) => [d.folder, d.architectures, d.infs.map((i) => [i.path, i.encoding, i.provider, i.catalogFiles])])).toEqual([
      ["filter", ["amd64", "arm64"], [["filter/filter.inf", "ansi", "Contoso, Ltd.", ["filter.cat"]]]],
      ["usb", ["amd64", "arm64"], [["usb/contoso.inf", "utf-16le", "Contoso, Ltd.", ["contoso.cat"]]]],
    ]);
    expect(report.drivers[1].infs[0].hardwareIds).toContain("usb\\vid_1234&pid_0001");
  });

  it("PKG000: a file that is not a cabinet is refused, not thrown", async () => {
    const report = await checkPackage(bytesReader(Buffer.from("PK\u0003\u0004 a zip, not a cabinet, long enough for a header")));
    expect(report.findings).toEqual([{ code: "PKG000", severity: "error", message: expect.stringContaining('signature "MSCF"'), file: null, line: null }]);
    expect(report.verdict).toBe("refused");
  });

  toolIt("PKG001: a file at the root of the cabinet", async () => {
    const report = await check(goodDrivers({ "readme.txt": "hello" }));
    expect(report.findings).toEqual([{ code: "PKG001", severity: "error", message: expect.stringContaining("There are files at the root of the cabinet."), file: "readme.txt", line: null }]);
    expect(report.verdict).toBe("refused");
  });

  toolIt("PKG002: a driver folder without an INF (and not one that has its INF in a subfolder)", async () => {
    const report = await check(goodDrivers({ "docs/readme.txt": "hello", "nested/x64/nested.inf": ansi(sampleInf({ catalog: null })) }));
    expect(only(report, "PKG002")).toEqual([{ code: "PKG002", severity: "error", message: expect.stringContaining("No .inf files found in driver directory/directories: docs"), file: "docs/", line: null }]);
  });

  toolIt("PKG003: folder names of 40 characters are refused, 39 are not", async () => {
    const forty = "a".repeat(40);
    const thirtyNine = "b".repeat(39);
    const report = await check(goodDrivers({ [`${forty}/d.inf`]: ansi(sampleInf({ catalog: "d.cat", architectures: ["amd64", "arm64"] })), [`${forty}/d.cat`]: "c", [`${thirtyNine}/e.inf`]: ansi(sampleInf({ catalog: "e.cat", architectures: ["amd64", "arm64"] })), [`${thirtyNine}/e.cat`]: "c" }));
    expect(report.findings).toEqual([{ code: "PKG003", severity: "error", message: expect.stringMatching(/has 40 characters.*at most 39/), file: `${forty}/`, line: null }]);
  });

  toolIt("PKG004: folder names with special characters (in any folder of the path); letters, digits, '.', '_', '-' pass", async () => {
    const inf = (cat: string) => ansi(sampleInf({ catalog: cat, architectures: ["amd64", "arm64"] }));
    const report = await check(goodDrivers({ "my driver/d.inf": inf("d.cat"), "my driver/d.cat": "c", "ok-2.3_x/sub&co/e.inf": inf("e.cat"), "ok-2.3_x/sub&co/e.cat": "c", "ok-2.3_x/readme.txt": "r" }));
    expect(only(report, "PKG004")).toEqual([
      { code: "PKG004", severity: "error", message: 'Folder name "my driver" has special characters (" "): use only letters, digits, \'.\', \'_\' and \'-\'', file: "my driver/", line: null },
      { code: "PKG004", severity: "error", message: expect.stringContaining('"sub&co" has special characters ("&")'), file: "ok-2.3_x/sub&co/", line: null },
    ]);
    expect(codes(report)).toEqual(["PKG004", "PKG004"]);
  });

  toolIt("PKG005: a CatalogFile (plain or decorated) missing from its folder names the INF line; a name differing only in case passes", async () => {
    const missing = await check(goodDrivers({ "usb/contoso.cat": null }));
    expect(only(missing, "PKG005")).toEqual([
      { code: "PKG005", severity: "error", message: expect.stringMatching(/^CatalogFile = contoso.cat, but folder "usb" has no such file/), file: "usb/contoso.inf", line: 8 },
      { code: "PKG005", severity: "error", message: expect.stringMatching(/^CatalogFile.NTamd64 = contoso.cat/), file: "usb/contoso.inf", line: 9 },
      { code: "PKG005", severity: "error", message: expect.stringMatching(/^CatalogFile.NTarm64 = contoso.cat/), file: "usb/contoso.inf", line: 10 },
    ]);
    // The catalog in another driver's folder does not count.
    const elsewhere = await check(goodDrivers({ "usb/contoso.cat": null, "filter/contoso.cat": "c" }));
    expect(only(elsewhere, "PKG005")).toHaveLength(3);
    const caseOnly = await check(goodDrivers({ "usb/contoso.inf": utf16(sampleInf({ catalog: "Contoso.Cat", architectures: ["amd64", "arm64"] })), "usb/contoso.cat": null, "usb/CONTOSO.CAT": "c" }));
    expect(caseOnly.findings).toEqual([]);
  });

  toolIt("PKG006: an INF naming no CatalogFile is a warning (verdict: warnings)", async () => {
    const report = await check(goodDrivers({ "filter/filter.inf": ansi(sampleInf({ catalog: null, architectures: ["amd64", "arm64"] })) }));
    expect(report.findings).toEqual([{ code: "PKG006", severity: "warning", message: expect.stringContaining("names no CatalogFile"), file: "filter/filter.inf", line: 2 }]);
    expect(report.verdict).toBe("warnings");
  });

  toolIt("PKG007: driver folders whose models sections are decorated for different architectures", async () => {
    const report = await check(goodDrivers({ "filter/filter.inf": ansi(sampleInf({ catalog: "filter.cat", architectures: ["amd64"] })) }));
    expect(report.findings).toEqual([
      { code: "PKG007", severity: "error", message: expect.stringMatching(/^Driver folder "usb" supports amd64, arm64 but "filter" supports amd64/), file: "usb/contoso.inf", line: 14 },
    ]);
  });

  toolIt("PKG008: a package over MAX_PACKAGE_BYTES (a sparse reader: the real CAB, then zeros); exactly the limit passes", async () => {
    const cab = cabOf(goodDrivers());
    const padded = (size: number): RangeReader => ({
      size,
      read: async (offset, length) => {
        const out = new Uint8Array(length);
        if (offset < cab.length) out.set(cab.subarray(offset, Math.min(cab.length, offset + length)));
        return out;
      },
    });
    const over = await checkPackage(padded(MAX_PACKAGE_BYTES + 1));
    expect(over.findings).toEqual([{ code: "PKG008", severity: "error", message: expect.stringContaining(`${MAX_PACKAGE_BYTES + 1} bytes, over the ${MAX_PACKAGE_BYTES}-byte limit`), file: null, line: null }]);
    expect((await checkPackage(padded(MAX_PACKAGE_BYTES))).findings).toEqual([]);
  });

  toolIt("PKG009: an LZX folder is a warning naming each INF not inspected", async () => {
    const dir = path.join(work, "lzx");
    writeTree(dir, goodDrivers());
    const cab = Buffer.from(gcab(dir, "lzx.cab", Object.keys(goodDrivers()).sort(), false));
    cab.writeUInt16LE(0x1503, 36 + 6);
    const report = await checkPackage(bytesReader(cab));
    expect(report.findings.map((f) => [f.code, f.severity, f.file])).toEqual([
      ["PKG009", "warning", "filter/filter.inf"],
      ["PKG009", "warning", "usb/contoso.inf"],
    ]);
    expect(report.verdict).toBe("warnings");
  });
});

describe("docs/package-rules.md", () => {
  it("lists every rule the code has, with its severity, and no other", () => {
    const doc = fs.readFileSync(path.resolve(__dirname, "../../../docs/package-rules.md"), "utf8");
    const rows = [...doc.matchAll(/^\| `(PKG\d{3})` \| (error|warning) \|/gm)].map((m) => [m[1], m[2]]);
    expect(rows).toEqual(Object.values(RULES).map((rule) => [rule.code, rule.severity]));
  });
});
