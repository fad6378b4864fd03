/**
 * The package reader (src/preflight): CABs made by an independent tool (gcab, with and without
 * MSZIP) are listed and their INFs read byte for byte; INFs in UTF-16 and ANSI are parsed with their
 * decorations, hardware ids and substitutions; malformed or hostile CABs are refused before any
 * allocation sized by their header, LZX folders and budgets are reported as "not inspected".
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CabFormatError, DecodeBudget, readCabListing, readFolderFiles } from "../../../src/preflight/cab";
import { parseInf } from "../../../src/preflight/inf";
import { readPackage } from "../../../src/preflight/package";
import { bytesReader, type RangeReader } from "../../../src/preflight/rangeReader";
import { ansi, gcab, sampleInf, scratch, toolIt, utf16, writeTree } from "./fixtures";

/** Compressible but not trivially so: several 32 KiB blocks, each referring back into the previous one. */
function bigDriverBinary(bytes: number): Buffer {
  const words = ["IoCreateDevice", "WdfDriverCreate", "KeInitializeSpinLock", "ExAllocatePool2", "RtlCopyMemory"];
  let text = "";
  for (let i = 0; text.length < bytes; i++) text += `${words[(i * 7) % words.length]}:${(i * 2654435761) % 9973};`;
  return Buffer.from(text.slice(0, bytes), "latin1");
}

/** Counts the reads a reader serves, to show the reader touches ranges, not the whole file. */
function countingReader(bytes: Uint8Array): RangeReader & { bytesRead: number } {
  const inner = bytesReader(bytes);
  const counter = {
    size: inner.size,
    bytesRead: 0,
    read: async (offset: number, length: number) => {
      counter.bytesRead += length;
      return inner.read(offset, length);
    },
  };
  return counter;
}

describe("CAB reader on CABs made by gcab", () => {
  let dir: string;
  const utf16Inf = utf16(sampleInf({ architectures: ["amd64", "arm64"] }));
  const ansiInf = ansi(sampleInf({ catalog: "fabrikam.cat" }).replace("Contoso, Ltd.", "Contoso Société"));
  const big = bigDriverBinary(200_000);

  beforeAll(() => {
    dir = scratch();
    writeTree(dir, {
      "usb/big.sys": big,
      "usb/contoso.inf": utf16Inf,
      "usb/contoso.cat": "catalog",
      "filter/filter.inf": ansiInf,
      "filter/fabrikam.cat": "catalog",
    });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const compress of [true, false]) {
    toolIt(`lists files and reads INFs byte for byte (${compress ? "MSZIP, gcab -z" : "uncompressed, gcab"})`, async () => {
      const files = ["usb/big.sys", "usb/contoso.inf", "usb/contoso.cat", "filter/filter.inf", "filter/fabrikam.cat"];
      const cab = gcab(dir, compress ? "z.cab" : "n.cab", files, compress);
      const reader = countingReader(cab);
      const listing = await readCabListing(reader);
      expect(listing.version).toBe("1.3");
      expect(listing.spanned).toBe(false);
      expect(listing.folders.map((f) => f.compression)).toEqual([compress ? "mszip" : "none"]);
      expect(listing.files.map((f) => [f.path, f.size])).toEqual(files.map((f) => [f, fs.statSync(path.join(dir, f)).size]));
      // The listing reads the tables only: the header, one folder entry, at most 16 + 256 bytes per file entry.
      expect(reader.bytesRead).toBeLessThanOrEqual(40 + 8 + files.length * (16 + 256));

      // The INF comes after 200 kB in the same folder: the blocks before it are decoded in order.
      const folder = listing.folders[0];
      const infs = listing.files.filter((f) => f.path.endsWith(".inf"));
      const content = await readFolderFiles(reader, listing, folder, infs, new DecodeBudget(10_000_000));
      if (content.kind !== "read") throw new Error(content.reason);
      expect(Buffer.from(content.files.get(infs[0])!)).toEqual(utf16Inf);
      expect(Buffer.from(content.files.get(infs[1])!)).toEqual(ansiInf);

      const pkg = await readPackage(bytesReader(cab));
      expect(pkg.notInspected).toEqual([]);
      expect(pkg.infs.map((inf) => [inf.path, inf.document.encoding])).toEqual([
        ["filter/filter.inf", "ansi"],
        ["usb/contoso.inf", "utf-16le"],
      ]);
      expect(pkg.infs[0].document.provider?.value).toBe("Contoso Société");
      expect(pkg.infs[1].document.architectures).toEqual(["amd64", "arm64"]);
    });
  }

  toolIt("reports an LZX folder as not inspected (a warning), listing its files all the same", async () => {
    const cab = Buffer.from(gcab(dir, "lzx.cab", ["usb/contoso.inf"], false));
    // typeCompress of folder 0 (header 36 bytes, then coffCabStart u32, cCFData u16, typeCompress u16).
    cab.writeUInt16LE(0x1503, 36 + 6); // LZX, window 2^21
    const pkg = await readPackage(bytesReader(cab));
    expect(pkg.listing.folders[0].compression).toBe("lzx");
    expect(pkg.listing.files.map((f) => f.path)).toEqual(["usb/contoso.inf"]);
    expect(pkg.infs).toEqual([]);
    expect(pkg.notInspected).toEqual([{ path: "usb/contoso.inf", reason: expect.stringContaining("LZX-compressed") }]);
  });

  toolIt("stops at the decompression budget and at the per-INF limit", async () => {
    const cab = gcab(dir, "budget.cab", ["usb/big.sys", "usb/contoso.inf"], true);
    const overBudget = await readPackage(bytesReader(cab), { maxInfBytes: 1_000_000, maxDecompressedBytes: 100_000 });
    expect(overBudget.infs).toEqual([]);
    expect(overBudget.notInspected[0].reason).toMatch(/100000-byte decompression budget/);
    const overInf = await readPackage(bytesReader(cab), { maxInfBytes: 100, maxDecompressedBytes: 10_000_000 });
    expect(overInf.notInspected).toEqual([{ path: "usb/contoso.inf", reason: expect.stringMatching(/over the 100-byte limit/) }]);
  });

  toolIt("refuses a corrupted MSZIP block and a truncated cabinet", async () => {
    const cab = Buffer.from(gcab(dir, "corrupt.cab", ["usb/contoso.inf"], true));
    const listing = await readCabListing(bytesReader(cab));
    const dataStart = listing.folders[0].dataOffset + 8;
    const corrupt = Buffer.from(cab);
    corrupt[dataStart] = 0x58; // "CK" → "XK"
    await expect(readPackage(bytesReader(corrupt))).rejects.toThrow(/does not start with "CK"/);
    await expect(readPackage(bytesReader(cab.subarray(0, cab.length - 10)))).rejects.toThrow(CabFormatError);
  });
});

describe("CAB reader on hostile headers", () => {
  function header(fields: { files?: number; folders?: number; size?: number; coffFiles?: number; flags?: number }): Buffer {
    const bytes = Buffer.alloc(fields.size ?? 64);
    bytes.write("MSCF", 0, "latin1");
    bytes.writeUInt32LE(bytes.length, 8);
    bytes.writeUInt32LE(fields.coffFiles ?? 44, 16);
    bytes[24] = 3;
    bytes[25] = 1;
    bytes.writeUInt16LE(fields.folders ?? 1, 26);
    bytes.writeUInt16LE(fields.files ?? 0, 28);
    bytes.writeUInt16LE(fields.flags ?? 0, 30);
    return bytes;
  }

  it("refuses counts that cannot fit in the file before reading any table", async () => {
    const reader = countingReader(header({ files: 65535 }));
    await expect(readCabListing(reader)).rejects.toThrow(/claims 65535 files, more than fit in 64 bytes/);
    expect(reader.bytesRead).toBeLessThanOrEqual(40);
    await expect(readCabListing(bytesReader(header({ folders: 65535 })))).rejects.toThrow(/claims 65535 folders/);
  });

  it("refuses a non-cabinet, a wrong version, a truncated file and an oversized header reserve", async () => {
    await expect(readCabListing(bytesReader(Buffer.from("PK\u0003\u0004 not a cabinet at all, a zip perhaps")))).rejects.toThrow(/signature "MSCF"/);
    const v2 = header({});
    v2[25] = 2;
    await expect(readCabListing(bytesReader(v2))).rejects.toThrow(/version 2.3/);
    const truncated = header({});
    truncated.writeUInt32LE(1_000_000, 8);
    await expect(readCabListing(bytesReader(truncated))).rejects.toThrow(/truncated/);
    const reserve = header({ flags: 4, size: 100 });
    reserve.writeUInt16LE(60_001, 36);
    await expect(readCabListing(bytesReader(reserve))).rejects.toThrow(/header reserve is 60001 bytes/);
  });

  it("refuses a folder whose data blocks lie outside the file and a name without its NUL", async () => {
    const folder = header({ files: 1, size: 80 });
    folder.writeUInt32LE(70, 36);
    folder.writeUInt16LE(5, 40); // 5 blocks × 8 bytes from offset 70 > 80 bytes
    await expect(readCabListing(bytesReader(folder))).rejects.toThrow(/folder 0 claims 5 data blocks at offset 70/);
    const name = header({ files: 1, size: 80 });
    name.writeUInt32LE(60, 36);
    name.fill(0x41, 44 + 16); // name runs to the end of the file
    await expect(readCabListing(bytesReader(name))).rejects.toThrow(/not NUL-terminated/);
  });
});

describe("INF parser", () => {
  it("reads [Version], decorated CatalogFile entries, manufacturers, models sections and hardware ids (UTF-16 LE)", () => {
    const doc = parseInf(utf16(sampleInf({ architectures: ["amd64", "arm64"] })));
    expect(doc.encoding).toBe("utf-16le");
    expect(doc.signature).toEqual({ value: "$WINDOWS NT$", line: 3 });
    expect(doc.class?.value).toBe("USBDevice");
    expect(doc.classGuid?.value).toBe("{88BAE032-5A81-49f0-BC3D-A4FF138216D6}");
    expect(doc.provider).toEqual({ value: "Contoso, Ltd.", line: 6 });
    expect(doc.driverVer?.value).toBe("03/14/2026,2.3.1.0");
    expect(doc.catalogFiles).toEqual([
      { decoration: "", file: "contoso.cat", line: 8 },
      { decoration: "NTamd64", file: "contoso.cat", line: 9 },
      { decoration: "NTarm64", file: "contoso.cat", line: 10 },
    ]);
    // Mfg from [Strings]; Mfg2 only in the localized [Strings.0407].
    expect(doc.manufacturers.map((m) => [m.name, m.modelsSection, m.decorations, m.line])).toEqual([
      ["Contoso", "Contoso", ["NTamd64.10.0...16299", "NTarm64.10.0...16299"], 14],
      ["Fabrikam GmbH", "Fabrikam", ["NTamd64.10.0...16299", "NTarm64.10.0...16299"], 15],
    ]);
    expect(doc.modelsSections.map((s) => [s.name, s.architecture, s.present, s.models.length])).toEqual([
      ["Contoso.NTamd64.10.0...16299", "amd64", true, 2],
      ["Contoso.NTarm64.10.0...16299", "arm64", true, 2],
      ["Fabrikam.NTamd64.10.0...16299", "amd64", true, 1],
      ["Fabrikam.NTarm64.10.0...16299", "arm64", true, 1],
    ]);
    const first = doc.modelsSections[0].models[0];
    // The continued line (trailing backslash) carries the compatible id; the line is the first one.
    expect(first).toEqual({ description: "Contoso USB Widget", installSection: "Dev_Install", hardwareId: "USB\\VID_1234&PID_0001", compatibleIds: ["USB\\Class_FF"], line: 18 });
    // A ';' inside quotes is not a comment.
    expect(doc.modelsSections[2].models[0].description).toBe("Fabrikam; Widget");
    expect(doc.hardwareIds).toEqual(["usb\\vid_1234&pid_0001", "usb\\class_ff", "usb\\vid_1234&pid_0002&rev_0100", "usb\\vid_5678&pid_0003"]);
    expect(doc.architectures).toEqual(["amd64", "arm64"]);
    expect(doc.problems).toEqual([]);
  });

  it("reads ANSI (Latin-1) text, undecorated and NT-only models, and names what is missing", () => {
    const text = [
      "[version]",
      "signature=$Chicago$",
      "provider=%Missing%",
      "[MANUFACTURER]",
      "%M%=Plain",
      "Other=Gone,NTx86",
      "[plain]",
      "%D% = Inst, PCI\\VEN_8086&DEV_1234 ; ünïcode-ish comment",
      "[strings]",
      "M=Müller",
      "D=\"Gerät\"",
    ].join("\r\n");
    const doc = parseInf(ansi(text));
    expect(doc.encoding).toBe("ansi");
    expect(doc.signature?.value).toBe("$Chicago$");
    expect(doc.manufacturers.map((m) => m.name)).toEqual(["Müller", "Other"]);
    expect(doc.modelsSections.map((s) => [s.name, s.architecture, s.present])).toEqual([
      ["Plain", undefined, true],
      ["Gone.NTx86", "x86", false],
    ]);
    expect(doc.modelsSections[0].models[0]).toMatchObject({ description: "Gerät", hardwareId: "PCI\\VEN_8086&DEV_1234", line: 8 });
    expect(doc.problems).toEqual([
      { line: 3, message: "%Missing% has no entry in [Strings]" },
      { line: 6, message: "[Manufacturer] names models section [Gone.NTx86], which the INF does not have" },
    ]);
    expect(doc.catalogFiles).toEqual([]);
  });
});
