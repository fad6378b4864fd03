/**
 * Writes a cabinet (MS-CAB) the way Microsoft expects a driver submission: one MSZIP folder, files
 * under their driver's top folder. Deterministic: the same files give the same bytes (files sorted
 * by path, a fixed date, time and attributes, no set id), so a package's hash says what is in it.
 */
import { deflateRawSync } from "node:zlib";
import { MAX_BLOCK_UNCOMPRESSED } from "./limits";

export interface CabEntry {
  /** Path inside the cabinet, "/"-separated, e.g. "usb/contoso.inf". */
  path: string;
  data: Uint8Array;
}

/** MS-CAB: a folder holds at most 0x7FFF8000 uncompressed bytes; a cabinet at most 65,535 files. */
export const MAX_FOLDER_BYTES = 0x7fff8000;
export const MAX_CAB_FILES = 0xffff;
/** CFFILE date 1980-01-01 (MS-DOS format: ((year-1980)<<9)|(month<<5)|day) and time 00:00:00. */
const FIXED_DATE = (1 << 5) | 1;
const FIXED_TIME = 0;
const ATTR_ARCHIVE = 0x20;
const ATTR_NAME_IS_UTF = 0x80;

export class CabWriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CabWriteError";
  }
}

/** The CFDATA checksum (MS-CAB 2.5): XOR of little-endian 32-bit words, the tail folded in high-first. */
export function cabChecksum(bytes: Uint8Array, seed: number): number {
  let sum = seed >>> 0;
  const words = bytes.length >>> 2;
  for (let i = 0; i < words; i++) {
    const at = i * 4;
    sum = (sum ^ (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24))) >>> 0;
  }
  let tail = 0;
  let at = words * 4;
  for (let shift = ((bytes.length & 3) - 1) * 8; shift >= 0; shift -= 8) tail |= bytes[at++] << shift;
  return (sum ^ tail) >>> 0;
}

/** A cabinet holding `entries` in one MSZIP folder. Throws CabWriteError past the format's limits. */
export function writeCab(entries: readonly CabEntry[]): Uint8Array {
  if (entries.length > MAX_CAB_FILES) throw new CabWriteError(`${entries.length} files: a cabinet holds at most ${MAX_CAB_FILES}`);
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const names = sorted.map((entry) => {
    if (entry.path === "" || entry.path.startsWith("/") || entry.path.split("/").some((s) => s === "" || s === "." || s === "..")) {
      throw new CabWriteError(`"${entry.path}" is not a plain relative path`);
    }
    const ascii = /^[\x20-\x7e]*$/.test(entry.path);
    const name = Buffer.from(entry.path.replace(/\//g, "\\"), ascii ? "latin1" : "utf8");
    if (name.length > 255) throw new CabWriteError(`"${entry.path}" is ${name.length} bytes; a cabinet name is at most 255`);
    return { name, utf: !ascii };
  });
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].path.toLowerCase() === sorted[i - 1].path.toLowerCase()) throw new CabWriteError(`"${sorted[i].path}" is in the list twice (names are case-insensitive on Windows)`);
  }
  const total = sorted.reduce((sum, entry) => sum + entry.data.length, 0);
  if (total > MAX_FOLDER_BYTES) throw new CabWriteError(`${total} bytes of files: a cabinet folder holds at most ${MAX_FOLDER_BYTES}`);

  // MSZIP: 32 KiB of input per block, "CK" + a complete raw deflate stream whose dictionary is the
  // previous block's input (what an MSZIP decoder keeps as its history).
  const stream = Buffer.concat(sorted.map((entry) => entry.data), total);
  const blocks: Buffer[] = [];
  let previous: Buffer | undefined;
  for (let offset = 0; offset < stream.length; offset += MAX_BLOCK_UNCOMPRESSED) {
    const plain = stream.subarray(offset, Math.min(stream.length, offset + MAX_BLOCK_UNCOMPRESSED));
    const deflated = deflateRawSync(plain, { level: 9, ...(previous ? { dictionary: previous } : {}) });
    const payload = Buffer.concat([Buffer.from("CK", "latin1"), deflated]);
    const block = Buffer.alloc(8 + payload.length);
    block.writeUInt16LE(payload.length, 4);
    block.writeUInt16LE(plain.length, 6);
    payload.copy(block, 8);
    block.writeUInt32LE(cabChecksum(block.subarray(4, 8), cabChecksum(payload, 0)), 0);
    blocks.push(block);
    previous = plain;
  }

  const headerBytes = 36;
  const folderBytes = 8;
  const fileTableBytes = names.reduce((sum, { name }) => sum + 16 + name.length + 1, 0);
  const dataStart = headerBytes + folderBytes + fileTableBytes;
  const size = dataStart + blocks.reduce((sum, block) => sum + block.length, 0);

  const head = Buffer.alloc(dataStart);
  head.write("MSCF", 0, "latin1");
  head.writeUInt32LE(size, 8);
  head.writeUInt32LE(headerBytes + folderBytes, 16); // coffFiles
  head[24] = 3; // version 1.3
  head[25] = 1;
  head.writeUInt16LE(1, 26); // one folder
  head.writeUInt16LE(sorted.length, 28);
  head.writeUInt32LE(dataStart, 36); // CFFOLDER.coffCabStart
  head.writeUInt16LE(blocks.length, 40);
  head.writeUInt16LE(1, 42); // MSZIP
  let at = headerBytes + folderBytes;
  let folderOffset = 0;
  sorted.forEach((entry, i) => {
    head.writeUInt32LE(entry.data.length, at);
    head.writeUInt32LE(folderOffset, at + 4);
    head.writeUInt16LE(0, at + 8);
    head.writeUInt16LE(FIXED_DATE, at + 10);
    head.writeUInt16LE(FIXED_TIME, at + 12);
    head.writeUInt16LE(ATTR_ARCHIVE | (names[i].utf ? ATTR_NAME_IS_UTF : 0), at + 14);
    names[i].name.copy(head, at + 16);
    at += 16 + names[i].name.length + 1;
    folderOffset += entry.data.length;
  });
  return Buffer.concat([head, ...blocks], size);
}
