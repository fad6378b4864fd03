/**
 * What the Hardware Dev Center emulator returns as the signed package of a CAB submission, shaped
 * like Microsoft's (reference/hdc-api.md a.11): a zip with each driver folder (a top folder of the
 * cabinet), its INF(s) and files, and a catalog over them signed by the local test chain (the
 * folder's submitted .cat is replaced, as Microsoft regenerates it). Behaviour switches make the
 * failing cases: an INF changed after submission, a catalog signed under an untrusted root, or by
 * a certificate without the WHQL EKU.
 */
import { DecodeBudget, readCabListing, readFolderFiles, type CabFile } from "../../src/preflight/cab";
import { bytesReader } from "../../src/preflight/rangeReader";
import { zipStore } from "../samplePackage";
import { type CatalogSigner, writeCatalog } from "./catalogWriter";
import type { SignedPackageMode } from "./hdcBehaviour";
import type { SigningChain } from "./signingChain";


/** The line the "infChanged" mode appends to the first INF. */
export const CHANGED_INF_LINE = "; changed by the HDC emulator after submission\r\n";

export function catalogSigner(chain: SigningChain, which: "publisher" | "untrusted" | "noWhqlEku" | "attested"): CatalogSigner {
  return chain[which];
}

const lower = (name: string) => name.toLowerCase();

/** The signed zip for a cabinet upload; undefined when the upload is no cabinet the emulator can read (then it is copied as before). */
export async function signedZipFromCab(cab: Uint8Array, chain: SigningChain, mode: SignedPackageMode, now = new Date()): Promise<Buffer | undefined> {
  const reader = bytesReader(cab);
  let files: Map<CabFile, Uint8Array>;
  try {
    const listing = await readCabListing(reader);
    files = new Map();
    const budget = new DecodeBudget(Number.MAX_SAFE_INTEGER);
    for (const folder of listing.folders) {
      const content = await readFolderFiles(reader, listing, folder, listing.files.filter((f) => f.folderIndex === folder.index), budget);
      if (content.kind !== "read") return undefined;
      for (const [file, bytes] of content.files) files.set(file, bytes);
    }
  } catch {
    return undefined;
  }
  const byFolder = new Map<string, { name: string; data: Buffer }[]>();
  for (const [file, bytes] of [...files].sort(([a], [b]) => (a.path < b.path ? -1 : 1))) {
    const slash = file.path.indexOf("/");
    const folder = slash < 0 ? "" : file.path.slice(0, slash);
    byFolder.set(folder, [...(byFolder.get(folder) ?? []), { name: file.path.slice(slash + 1), data: Buffer.from(bytes) }]);
  }
  const signer = catalogSigner(chain, mode === "untrustedRoot" ? "untrusted" : mode === "noWhqlEku" ? "noWhqlEku" : "publisher");
  let changed = mode !== "infChanged";
  const entries: { name: string; data: Buffer }[] = [];
  for (const [folder, folderFiles] of byFolder) {
    const prefix = folder ? `${folder}/` : "";
    const submittedCatalog = folderFiles.find((f) => lower(f.name).endsWith(".cat") && !f.name.includes("/"));
    const content = folderFiles
      .filter((f) => f !== submittedCatalog)
      .map((f) => {
        if (changed || !lower(f.name).endsWith(".inf")) return f;
        changed = true;
        return { name: f.name, data: Buffer.concat([f.data, Buffer.from(CHANGED_INF_LINE, "latin1")]) };
      });
    const firstInf = content.find((f) => lower(f.name).endsWith(".inf"));
    for (const f of content) entries.push({ name: `${prefix}${f.name}`, data: f.data });
    if (!firstInf) continue;
    const catalogName = submittedCatalog?.name ?? `${firstInf.name.replace(/\.inf$/i, "")}.cat`;
    entries.push({ name: `${prefix}${catalogName}`, data: writeCatalog(content, signer, { now }) });
  }
  return zipStore(entries, now);
}
