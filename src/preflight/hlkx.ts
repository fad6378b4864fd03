/**
 * A bounded reader of HLKX/HCKX packages (OPC: a zip): whether any Zip64 structure is used
 * (Microsoft refuses "File is using Zip64"), which parts are present, and whether the package
 * carries an OPC digital signature (the origin relationship from _rels/.rels, the origin part and a
 * signature part it relates to). Read through a RangeReader; every offset is checked.
 */
import { inflateRawSync } from "node:zlib";
import { MAX_ZIP_ENTRIES, MAX_ZIP_PART_BYTES } from "./limits";
import type { RangeReader } from "./rangeReader";

export class ZipFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ZipFormatError";
  }
}

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

export interface HlkxListing {
  entries: ZipEntry[];
  /** Each place Zip64 is used (empty: none). */
  zip64: string[];
}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const ZIP64_EXTRA = 0x0001;
/** "Version needed to extract" 4.5 is Zip64's. */
const ZIP64_VERSION = 45;

const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000;

async function readChecked(reader: RangeReader, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (offset < 0 || length < 0 || offset + length > reader.size) throw new ZipFormatError(`${what} (bytes ${offset}..${offset + length}) lies outside the ${reader.size}-byte file`);
  return reader.read(offset, length);
}

function hasZip64Extra(extra: Uint8Array): boolean {
  for (let at = 0; at + 4 <= extra.length; at += 4 + u16(extra, at + 2)) if (u16(extra, at) === ZIP64_EXTRA) return true;
  return false;
}

/**
 * The central directory, and every Zip64 marker in it, its end records and the local headers.
 * `localHeaders: false` skips the one ranged read per entry of its local header (a reader of a few
 * entries, like the signed-package check, reads those it opens through readPart anyway).
 */
export async function readHlkxListing(reader: RangeReader, options: { localHeaders?: boolean } = {}): Promise<HlkxListing> {
  const localHeaders = options.localHeaders ?? true;
  if (reader.size < 22) throw new ZipFormatError(`the file is ${reader.size} bytes, shorter than a zip's end record`);
  const head = await reader.read(0, 4);
  if (u32(head, 0) !== LOCAL) throw new ZipFormatError('the file does not start with a zip entry ("PK\\3\\4")');
  // The end record is in the last 22 + 65,535 (comment) bytes.
  const tailLength = Math.min(reader.size, 22 + 0xffff);
  const tail = await reader.read(reader.size - tailLength, tailLength);
  let eocd = -1;
  for (let at = tail.length - 22; at >= 0; at--) if (u32(tail, at) === EOCD && at + 22 + u16(tail, at + 20) === tail.length) { eocd = at; break; }
  if (eocd < 0) throw new ZipFormatError("no zip end-of-central-directory record");
  const zip64: string[] = [];
  const eocdOffset = reader.size - tailLength + eocd;
  if (eocdOffset >= 20 && u32(await reader.read(eocdOffset - 20, 4), 0) === EOCD64_LOCATOR) zip64.push("the Zip64 end-of-central-directory locator");
  const count = u16(tail, eocd + 10);
  const directorySize = u32(tail, eocd + 12);
  const directoryOffset = u32(tail, eocd + 16);
  if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) zip64.push("the end record's Zip64 placeholders");
  if (count > MAX_ZIP_ENTRIES) throw new ZipFormatError(`${count} entries, over ${MAX_ZIP_ENTRIES}`);
  if (directoryOffset + directorySize > eocdOffset) throw new ZipFormatError(`the central directory (bytes ${directoryOffset}..${directoryOffset + directorySize}) runs past the end record`);
  const directory = await readChecked(reader, directoryOffset, directorySize, "the central directory");
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > directory.length || u32(directory, at) !== CENTRAL) throw new ZipFormatError(`central directory entry ${i} is not where the directory says`);
    const nameLength = u16(directory, at + 28);
    const extraLength = u16(directory, at + 30);
    const commentLength = u16(directory, at + 32);
    if (at + 46 + nameLength + extraLength + commentLength > directory.length) throw new ZipFormatError(`central directory entry ${i} runs past the directory`);
    const name = Buffer.from(directory.subarray(at + 46, at + 46 + nameLength)).toString("utf8");
    const entry = { name, method: u16(directory, at + 10), compressedSize: u32(directory, at + 20), size: u32(directory, at + 24), localOffset: u32(directory, at + 42) };
    if ((directory[at + 6] ?? 0) >= ZIP64_VERSION) zip64.push(`${name}: version needed to extract 4.5 (Zip64)`);
    if (entry.compressedSize === 0xffffffff || entry.size === 0xffffffff || entry.localOffset === 0xffffffff) zip64.push(`${name}: Zip64 placeholders in the central directory`);
    if (hasZip64Extra(directory.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength))) zip64.push(`${name}: a Zip64 extra field in the central directory`);
    if (localHeaders) {
      const local = await readChecked(reader, entry.localOffset, 30, `the local header of ${name}`);
      if (u32(local, 0) !== LOCAL) throw new ZipFormatError(`the local header of ${name} is not at ${entry.localOffset}`);
      const localExtra = await readChecked(reader, entry.localOffset + 30 + u16(local, 26), u16(local, 28), `the local extra field of ${name}`);
      if (hasZip64Extra(localExtra)) zip64.push(`${name}: a Zip64 extra field in the local header`);
    }
    entries.push(entry);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return { entries, zip64 };
}

/** A part's content (stored or deflated), when it is at most `maxBytes` (MAX_ZIP_PART_BYTES for OPC parts). */
export async function readPart(reader: RangeReader, entry: ZipEntry, maxBytes = MAX_ZIP_PART_BYTES): Promise<Uint8Array> {
  if (entry.size > maxBytes || entry.compressedSize > maxBytes) throw new ZipFormatError(`${entry.name} is over the ${maxBytes}-byte limit for a part read`);
  const local = await readChecked(reader, entry.localOffset, 30, `the local header of ${entry.name}`);
  if (u32(local, 0) !== LOCAL) throw new ZipFormatError(`the local header of ${entry.name} is not at ${entry.localOffset}`);
  const data = await readChecked(reader, entry.localOffset + 30 + u16(local, 26) + u16(local, 28), entry.compressedSize, entry.name);
  if (entry.method === 0) return data;
  if (entry.method !== 8) throw new ZipFormatError(`${entry.name} uses compression method ${entry.method} (only stored and deflate are read)`);
  try {
    return inflateRawSync(data, { maxOutputLength: maxBytes });
  } catch (error) {
    throw new ZipFormatError(`${entry.name} does not inflate: ${(error as Error).message}`);
  }
}

export interface Relationship {
  type: string;
  target: string;
}

/** The Relationship elements of an OPC .rels part (attributes in either quote style, any order). */
export function relationships(xml: string): Relationship[] {
  const result: Relationship[] = [];
  for (const element of xml.matchAll(/<(?:\w+:)?Relationship\b([^>]*)>/g)) {
    const attribute = (name: string) => new RegExp(`\\b${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`).exec(element[1]);
    const type = attribute("Type");
    const target = attribute("Target");
    if (type && target) result.push({ type: type[1] ?? type[2], target: target[1] ?? target[2] });
  }
  return result;
}

/** A relationship target resolved against the part that holds the .rels, as a zip entry name. */
export function resolveTarget(sourcePart: string, target: string): string {
  const base = target.startsWith("/") ? [] : sourcePart.split("/").slice(0, -1);
  for (const segment of target.replace(/^\//, "").split("/")) {
    if (segment === "..") base.pop();
    else if (segment !== "." && segment !== "") base.push(segment);
  }
  return base.map((s) => decodeURIComponent(s)).join("/");
}

export const SIGNATURE_ORIGIN = "http://schemas.openxmlformats.org/package/2006/relationships/digital-signature/origin";
export const SIGNATURE = "http://schemas.openxmlformats.org/package/2006/relationships/digital-signature/signature";
