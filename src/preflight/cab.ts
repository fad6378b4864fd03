/**
 * A bounded reader of Microsoft cabinet files (MS-CAB): the header, the folder table and the file
 * table, and the content of chosen files from stored (uncompressed) and MSZIP folders. LZX and
 * Quantum folders are listed but their content is not decoded. Everything is read through a
 * RangeReader; every count in the header is checked against the file's size before it is used.
 */
import { inflateRawSync } from "node:zlib";
import { MAX_BLOCK_UNCOMPRESSED, MAX_CAB_NAME_BYTES, MAX_HEADER_RESERVE } from "./limits";
import type { RangeReader } from "./rangeReader";

export type Compression = "none" | "mszip" | "quantum" | "lzx" | "unknown";

export interface CabFolder {
  index: number;
  /** Where its first CFDATA block starts. */
  dataOffset: number;
  blockCount: number;
  compression: Compression;
}

export interface CabFile {
  /** The name with "/" as separator (CABs store "\"). */
  path: string;
  size: number;
  /** Offset of the file's first byte in its folder's uncompressed data. */
  folderOffset: number;
  folderIndex: number;
  attributes: number;
}

export interface CabListing {
  size: number;
  /** cbCabinet from the header (the file may be longer, e.g. an Authenticode signature appended). */
  declaredSize: number;
  version: string;
  /** This cabinet continues another one or is continued by another: a spanned set. */
  spanned: boolean;
  folders: CabFolder[];
  files: CabFile[];
  dataReserve: number;
  /** The header's reserve area (abReserve; at most MAX_HEADER_RESERVE bytes): where a signed CAB says where its signature is. */
  headerReserve: Uint8Array;
}

/** The file is not a cabinet, or its tables do not fit inside it. */
export class CabFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CabFormatError";
  }
}

const HEADER_FIXED = 36;
const FOLDER_FIXED = 8;
const FILE_FIXED = 16;
const DATA_FIXED = 8;
const FLAG_PREV = 0x1;
const FLAG_NEXT = 0x2;
const FLAG_RESERVE = 0x4;
const ATTR_NAME_IS_UTF = 0x80;
/** iFolder values that mean "continued from/to another cabinet". */
const CONTINUED_FOLDER = 0xfffd;

const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000;

function compressionOf(typeCompress: number): Compression {
  switch (typeCompress & 0x000f) {
    case 0:
      return "none";
    case 1:
      return "mszip";
    case 2:
      return "quantum";
    case 3:
      return "lzx";
    default:
      return "unknown";
  }
}

async function readChecked(reader: RangeReader, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (offset < 0 || length < 0 || offset + length > reader.size) {
    throw new CabFormatError(`${what} (bytes ${offset}..${offset + length}) lies outside the ${reader.size}-byte file`);
  }
  return reader.read(offset, length);
}

/** Reads a NUL-terminated string of at most `max` bytes starting at `offset` of `bytes`. */
function cString(bytes: Uint8Array, offset: number, max: number, what: string): { text: Uint8Array; next: number } {
  const end = Math.min(bytes.length, offset + max);
  for (let i = offset; i < end; i++) if (bytes[i] === 0) return { text: bytes.subarray(offset, i), next: i + 1 };
  throw new CabFormatError(`${what} is not NUL-terminated within ${max} bytes`);
}

/** The header, folders and files of a cabinet. Throws CabFormatError for anything that is not one. */
export async function readCabListing(reader: RangeReader): Promise<CabListing> {
  if (reader.size < HEADER_FIXED) throw new CabFormatError(`the file is ${reader.size} bytes, shorter than a cabinet header (${HEADER_FIXED})`);
  const head = await reader.read(0, Math.min(reader.size, HEADER_FIXED + 4));
  if (head[0] !== 0x4d || head[1] !== 0x53 || head[2] !== 0x43 || head[3] !== 0x46) throw new CabFormatError("the file does not start with the cabinet signature \"MSCF\"");
  const declaredSize = u32(head, 8);
  const coffFiles = u32(head, 16);
  const versionMinor = head[24];
  const versionMajor = head[25];
  const folderCount = u16(head, 26);
  const fileCount = u16(head, 28);
  const flags = u16(head, 30);
  if (versionMajor !== 1) throw new CabFormatError(`cabinet format version ${versionMajor}.${versionMinor} is not 1.x`);
  if (declaredSize > reader.size) throw new CabFormatError(`the header says the cabinet is ${declaredSize} bytes but the file has ${reader.size} (truncated)`);
  // Counts are checked against the space they need before any array is sized from them.
  if (folderCount * FOLDER_FIXED > reader.size) throw new CabFormatError(`the header claims ${folderCount} folders, more than fit in ${reader.size} bytes`);
  if (fileCount * (FILE_FIXED + 2) > reader.size) throw new CabFormatError(`the header claims ${fileCount} files, more than fit in ${reader.size} bytes`);

  let offset = HEADER_FIXED;
  let headerReserve = 0;
  let folderReserve = 0;
  let dataReserve = 0;
  let headerReserveBytes: Uint8Array = new Uint8Array(0);
  if (flags & FLAG_RESERVE) {
    const reserve = await readChecked(reader, offset, 4, "the reserve sizes");
    headerReserve = u16(reserve, 0);
    folderReserve = reserve[2];
    dataReserve = reserve[3];
    if (headerReserve > MAX_HEADER_RESERVE) throw new CabFormatError(`the header reserve is ${headerReserve} bytes (MS-CAB allows ${MAX_HEADER_RESERVE})`);
    headerReserveBytes = await readChecked(reader, offset + 4, headerReserve, "the header reserve");
    offset += 4 + headerReserve;
  }
  const spanned = (flags & (FLAG_PREV | FLAG_NEXT)) !== 0;
  for (const flag of [FLAG_PREV, FLAG_NEXT]) {
    if (!(flags & flag)) continue;
    // Two NUL-terminated names (cabinet, disk) of at most 256 bytes each.
    const names = await readChecked(reader, offset, Math.min(2 * MAX_CAB_NAME_BYTES, reader.size - offset), "the spanned cabinet names");
    const first = cString(names, 0, MAX_CAB_NAME_BYTES, "a spanned cabinet name");
    const second = cString(names, first.next, MAX_CAB_NAME_BYTES, "a spanned disk name");
    offset += second.next;
  }

  const folderEntry = FOLDER_FIXED + folderReserve;
  const folderTable = await readChecked(reader, offset, folderCount * folderEntry, "the folder table");
  const folders: CabFolder[] = [];
  for (let i = 0; i < folderCount; i++) {
    const at = i * folderEntry;
    const dataOffset = u32(folderTable, at);
    const blockCount = u16(folderTable, at + 4);
    if (dataOffset > reader.size || blockCount * DATA_FIXED > reader.size - dataOffset) {
      throw new CabFormatError(`folder ${i} claims ${blockCount} data blocks at offset ${dataOffset}, outside the file`);
    }
    folders.push({ index: i, dataOffset, blockCount, compression: compressionOf(u16(folderTable, at + 6)) });
  }

  if (coffFiles < offset || coffFiles > reader.size) throw new CabFormatError(`the file table offset ${coffFiles} is outside the file`);
  const tableLength = Math.min(reader.size - coffFiles, fileCount * (FILE_FIXED + MAX_CAB_NAME_BYTES));
  const fileTable = await readChecked(reader, coffFiles, tableLength, "the file table");
  const files: CabFile[] = [];
  let at = 0;
  for (let i = 0; i < fileCount; i++) {
    if (at + FILE_FIXED > fileTable.length) throw new CabFormatError(`file entry ${i} lies outside the file`);
    const size = u32(fileTable, at);
    const folderOffset = u32(fileTable, at + 4);
    const folderIndex = u16(fileTable, at + 8);
    const attributes = u16(fileTable, at + 14);
    const name = cString(fileTable, at + FILE_FIXED, MAX_CAB_NAME_BYTES, `the name of file entry ${i}`);
    const decoded = Buffer.from(name.text).toString(attributes & ATTR_NAME_IS_UTF ? "utf8" : "latin1");
    if (folderIndex < CONTINUED_FOLDER && folderIndex >= folderCount) throw new CabFormatError(`file ${JSON.stringify(decoded)} names folder ${folderIndex}, but there are ${folderCount}`);
    files.push({ path: decoded.replace(/\\/g, "/"), size, folderOffset, folderIndex, attributes });
    at = name.next;
  }
  return { size: reader.size, declaredSize, version: `${versionMajor}.${versionMinor}`, spanned, folders, files, dataReserve, headerReserve: headerReserveBytes };
}

/** A budget shared by every decode of one package; `take` refuses once it would be exceeded. */
export class DecodeBudget {
  private used = 0;
  constructor(readonly limit: number) {}
  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }
  get spent(): number {
    return this.used;
  }
}

export type FolderContent =
  | { kind: "read"; files: Map<CabFile, Uint8Array> }
  | { kind: "notInspected"; reason: string };

/**
 * The content of `wanted` files (all in `folder`), decoding the folder's blocks from its start only
 * as far as the last wanted byte. Stored and MSZIP folders only; MSZIP blocks are "CK" + a raw
 * deflate stream whose dictionary is the previous block's output (MS-MCI).
 */
export async function readFolderFiles(reader: RangeReader, listing: CabListing, folder: CabFolder, wanted: readonly CabFile[], budget: DecodeBudget): Promise<FolderContent> {
  if (folder.compression !== "none" && folder.compression !== "mszip") {
    return { kind: "notInspected", reason: `folder ${folder.index} is ${folder.compression.toUpperCase()}-compressed; this reader decodes only MSZIP and stored folders` };
  }
  if (wanted.length === 0) return { kind: "read", files: new Map() };
  const end = Math.max(...wanted.map((file) => file.folderOffset + file.size));
  if (!budget.take(end)) {
    return { kind: "notInspected", reason: `reaching byte ${end} of folder ${folder.index} would pass the ${budget.limit}-byte decompression budget` };
  }
  // Only the wanted files are kept; the rest of the folder streams through (memory stays per INF).
  const outputs = new Map(wanted.map((file) => [file, new Uint8Array(file.size)]));
  let produced = 0;
  let offset = folder.dataOffset;
  let previous: Uint8Array | undefined;
  for (let block = 0; block < folder.blockCount && produced < end; block++) {
    const head = await readChecked(reader, offset, DATA_FIXED, `data block ${block} of folder ${folder.index}`);
    const compressedSize = u16(head, 4);
    const uncompressedSize = u16(head, 6);
    if (uncompressedSize > MAX_BLOCK_UNCOMPRESSED) throw new CabFormatError(`data block ${block} of folder ${folder.index} claims ${uncompressedSize} bytes (at most ${MAX_BLOCK_UNCOMPRESSED})`);
    offset += DATA_FIXED + listing.dataReserve;
    const data = await readChecked(reader, offset, compressedSize, `data block ${block} of folder ${folder.index}`);
    offset += compressedSize;
    let plain: Uint8Array;
    if (folder.compression === "none") {
      if (compressedSize !== uncompressedSize) throw new CabFormatError(`stored block ${block} of folder ${folder.index} has ${compressedSize} bytes but claims ${uncompressedSize}`);
      plain = data;
    } else {
      if (data.length < 2 || data[0] !== 0x43 || data[1] !== 0x4b) throw new CabFormatError(`MSZIP block ${block} of folder ${folder.index} does not start with "CK"`);
      try {
        plain = inflateRawSync(data.subarray(2), { maxOutputLength: MAX_BLOCK_UNCOMPRESSED, ...(previous ? { dictionary: previous } : {}) });
      } catch (error) {
        throw new CabFormatError(`MSZIP block ${block} of folder ${folder.index} does not inflate: ${(error as Error).message}`);
      }
      if (plain.length !== uncompressedSize) throw new CabFormatError(`MSZIP block ${block} of folder ${folder.index} inflates to ${plain.length} bytes but claims ${uncompressedSize}`);
    }
    previous = plain;
    for (const [file, bytes] of outputs) {
      const from = Math.max(file.folderOffset, produced);
      const to = Math.min(file.folderOffset + file.size, produced + plain.length);
      if (from < to) bytes.set(plain.subarray(from - produced, to - produced), from - file.folderOffset);
    }
    produced += plain.length;
  }
  if (produced < end) throw new CabFormatError(`folder ${folder.index} holds ${produced} bytes, but its files need ${end}`);
  return { kind: "read", files: outputs };
}
