/**
 * A driver package as the checks see it: the CAB's file list and its INFs parsed, within the
 * limits in limits.ts. What could not be read is listed with the reason, never guessed.
 */
import { type CabFile, type CabListing, DecodeBudget, readCabListing, readFolderFiles } from "./cab";
import { type InfDocument, parseInf } from "./inf";
import { MAX_DECOMPRESSED_BYTES, MAX_INF_BYTES } from "./limits";
import type { RangeReader } from "./rangeReader";

export interface PackageInf {
  path: string;
  document: InfDocument;
}

export interface NotInspected {
  /** The file (or folder index, for a whole compressed folder) whose content was not read. */
  path: string;
  reason: string;
}

export interface PackageContents {
  listing: CabListing;
  infs: PackageInf[];
  notInspected: NotInspected[];
}

export interface ReadLimits {
  maxInfBytes: number;
  maxDecompressedBytes: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = { maxInfBytes: MAX_INF_BYTES, maxDecompressedBytes: MAX_DECOMPRESSED_BYTES };

export const isInf = (file: CabFile) => file.path.toLowerCase().endsWith(".inf");

/** Reads the listing and every INF it can. Throws CabFormatError when the file is not a readable cabinet. */
export async function readPackage(reader: RangeReader, limits: ReadLimits = DEFAULT_READ_LIMITS): Promise<PackageContents> {
  const listing = await readCabListing(reader);
  const infs: PackageInf[] = [];
  const notInspected: NotInspected[] = [];
  const budget = new DecodeBudget(limits.maxDecompressedBytes);
  const byFolder = new Map<number, CabFile[]>();
  for (const file of listing.files.filter(isInf)) {
    if (file.size > limits.maxInfBytes) {
      notInspected.push({ path: file.path, reason: `the INF is ${file.size} bytes, over the ${limits.maxInfBytes}-byte limit for an INF` });
      continue;
    }
    const folder = listing.folders[file.folderIndex];
    if (!folder) {
      notInspected.push({ path: file.path, reason: "its data is continued from or to another cabinet" });
      continue;
    }
    byFolder.set(folder.index, [...(byFolder.get(folder.index) ?? []), file]);
  }
  for (const [index, files] of [...byFolder].sort(([a], [b]) => a - b)) {
    const content = await readFolderFiles(reader, listing, listing.folders[index], files, budget);
    if (content.kind === "notInspected") {
      for (const file of files) notInspected.push({ path: file.path, reason: content.reason });
      continue;
    }
    for (const file of files) infs.push({ path: file.path, document: parseInf(content.files.get(file)!) });
  }
  infs.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { listing, infs, notInspected };
}
