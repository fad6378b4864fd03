/**
 * The CAB writer (src/preflight/cabWriter.ts), checked by independent readers: cabextract tests
 * and extracts every file byte for byte, bsdtar and gcab list it, our reader reads its INFs; its
 * MSZIP blocks really use the previous block as dictionary; its CFDATA checksum equals the one
 * gcab writes; the same files in any order give the same bytes; bad paths are refused.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { inflateRawSync } from "node:zlib";
import { readCabListing } from "../../../src/preflight/cab";
import { cabChecksum, CabWriteError, writeCab } from "../../../src/preflight/cabWriter";
import { readPackage } from "../../../src/preflight/package";
import { bytesReader } from "../../../src/preflight/rangeReader";
import { ansi, cabextractList, gcab, sampleInf, scratch, TOOLS, toolIt, utf16, writeTree } from "./fixtures";

const work = scratch("preflight-writer-");
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** 100 kB of text with long repeats across 32 KiB boundaries, so later blocks refer back into earlier ones. */
const repetitive = Buffer.from(Array.from({ length: 5000 }, (_, i) => `line ${i % 97} of the driver's resource table;\n`).join(""), "latin1");
const random = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 2654435761) >>> 24));
const entries = [
  { path: "usb/contoso.inf", data: utf16(sampleInf()) },
  { path: "usb/contoso.cat", data: Buffer.from("catalog") },
  { path: "usb/x64/contoso.sys", data: repetitive },
  { path: "usb/empty.txt", data: Buffer.alloc(0) },
  { path: "filter/filter.inf", data: ansi(sampleInf({ catalog: "filter.cat" })) },
  { path: "filter/filter.cat", data: Buffer.from("catalog") },
  { path: "filter/blob.bin", data: random },
  { path: "filter/Gerät.txt", data: Buffer.from("umlaut in the name") },
];

describe("CAB writer", () => {
  const cab = writeCab(entries);
  const cabFile = path.join(work, "written.cab");
  beforeAll(() => fs.writeFileSync(cabFile, cab));

  toolIt("cabextract tests and extracts every file byte for byte; bsdtar and gcab list them", () => {
    const test = execFileSync(TOOLS.cabextract, ["-t", cabFile], { encoding: "utf8" });
    expect(test).toContain("All done, no errors.");
    const out = path.join(work, "extracted");
    execFileSync(TOOLS.cabextract, ["-q", "-d", out, cabFile]);
    for (const entry of entries) expect(fs.readFileSync(path.join(out, entry.path))).toEqual(Buffer.from(entry.data));
    const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : 1));
    expect(cabextractList(cabFile)).toEqual(sorted.map((e) => ({ name: e.path, size: e.data.length })));
    const tar = execFileSync(TOOLS.bsdtar, ["-tf", cabFile], { encoding: "utf8" }).trim().split("\n");
    expect(tar).toEqual(sorted.map((e) => e.path));
    const gcabList = execFileSync(TOOLS.gcab, ["-l", cabFile], { encoding: "utf8" });
    // Fixed date, time and attributes (0x20 archive; 0xA0 adds "name is UTF-8").
    expect(gcabList).toContain("usb\\contoso.inf");
    expect(gcabList).toMatch(/filter\\Gerät\.txt 18 1980-01-01 00:00:00 0xA0/);
    expect(gcabList).toMatch(/usb\\x64\\contoso\.sys \d+ 1980-01-01 00:00:00 0x20/);
  });

  it("our reader lists it and reads its INFs", async () => {
    const pkg = await readPackage(bytesReader(cab));
    expect(pkg.listing.folders.map((f) => f.compression)).toEqual(["mszip"]);
    expect(pkg.infs.map((i) => [i.path, i.document.encoding, i.document.provider?.value])).toEqual([
      ["filter/filter.inf", "ansi", "Contoso, Ltd."],
      ["usb/contoso.inf", "utf-16le", "Contoso, Ltd."],
    ]);
  });

  it("each MSZIP block after the first needs the previous block's output as its dictionary", async () => {
    const listing = await readCabListing(bytesReader(cab));
    const folder = listing.folders[0];
    expect(folder.blockCount).toBeGreaterThan(3);
    let offset = folder.dataOffset;
    const blocks: Buffer[] = [];
    for (let i = 0; i < folder.blockCount; i++) {
      const size = Buffer.from(cab).readUInt16LE(offset + 4);
      blocks.push(Buffer.from(cab.subarray(offset + 8, offset + 8 + size)));
      offset += 8 + size;
    }
    let previous: Buffer | undefined;
    let neededDictionary = 0;
    for (const block of blocks) {
      expect(block.subarray(0, 2).toString("latin1")).toBe("CK");
      const plain = inflateRawSync(block.subarray(2), previous ? { dictionary: previous } : {});
      if (previous) {
        try {
          if (!inflateRawSync(block.subarray(2)).equals(plain)) neededDictionary++;
        } catch {
          neededDictionary++;
        }
      }
      previous = plain;
    }
    expect(neededDictionary).toBeGreaterThan(0);
  });

  toolIt("its CFDATA checksum is the one gcab writes (checked on every block of a gcab -z CAB)", async () => {
    const dir = path.join(work, "gcab-sums");
    writeTree(dir, { "d/a.bin": random, "d/b.txt": repetitive, "d/c.txt": Buffer.from("odd length!") });
    const made = gcab(dir, "sums.cab", ["d/a.bin", "d/b.txt", "d/c.txt"], true);
    const listing = await readCabListing(bytesReader(made));
    let offset = listing.folders[0].dataOffset;
    let checked = 0;
    for (let i = 0; i < listing.folders[0].blockCount; i++) {
      const stored = made.readUInt32LE(offset);
      const size = made.readUInt16LE(offset + 4);
      expect(stored).not.toBe(0);
      expect(cabChecksum(made.subarray(offset + 4, offset + 8), cabChecksum(made.subarray(offset + 8, offset + 8 + size), 0))).toBe(stored);
      offset += 8 + size;
      checked++;
    }
    expect(checked).toBeGreaterThan(3);
  });

  it("is deterministic: the same files in another order give identical bytes; other content gives other bytes", () => {
    expect(Buffer.from(writeCab([...entries].reverse())).equals(Buffer.from(cab))).toBe(true);
    const changed = entries.map((e) => (e.path === "usb/contoso.cat" ? { ...e, data: Buffer.from("catalog2") } : e));
    expect(Buffer.from(writeCab(changed)).equals(Buffer.from(cab))).toBe(false);
  });

  it("refuses paths a cabinet cannot hold or that climb out", () => {
    const data = Buffer.from("x");
    expect(() => writeCab([{ path: "a/../b", data }])).toThrow(CabWriteError);
    expect(() => writeCab([{ path: "/abs", data }])).toThrow(/not a plain relative path/);
    expect(() => writeCab([{ path: "a/X.inf", data }, { path: "a/x.INF", data }])).toThrow(/twice/);
    expect(() => writeCab([{ path: `a/${"n".repeat(260)}`, data }])).toThrow(/at most 255/);
  });
});
