/**
 * The check of Microsoft's signed package before a run is called a success (issue 36). The signed
 * package is a zip: each driver folder (a folder holding an INF) with its files and a catalog
 * Microsoft signed. Verified here:
 *  - every driver folder has a catalog, and every catalog in it passes verifyCatalog (signature over
 *    its content, WHQL EKU on the signer, chain to a trusted root);
 *  - every INF is listed in (covered by) one of its folder's catalogs;
 *  - every INF is byte-identical (SHA-256) to the INF of the same path in the submitted CAB, and
 *    every submitted INF came back.
 * Both packages are read through RangeReaders within the limits in limits.ts; nothing is guessed:
 * what cannot be read is a failure with the reason.
 */
import { createHash, type X509Certificate } from "node:crypto";
import type { SignedPackageCheck, SignedPackageVerification } from "../domain/types";
import { type CabFile, DecodeBudget, readCabListing, readFolderFiles } from "./cab";
import { CatalogError, verifyCatalog, type VerifiedCatalog } from "./catalog";
import { readHlkxListing, readPart, type ZipEntry, ZipFormatError } from "./hlkx";
import { MAX_CATALOG_BYTES, MAX_DECOMPRESSED_BYTES, MAX_INF_BYTES } from "./limits";
import { isInf } from "./package";
import type { RangeReader } from "./rangeReader";

/** Entries kept in each list of the result (it lands in history and status); the counts say how many in all. */
export const MAX_LISTED = 50;

export interface VerifyOptions {
  trustedRoots: readonly X509Certificate[];
  /** When the certificates must be valid (the time of the check, right after Microsoft signed). */
  at: Date;
}

type Failure = SignedPackageVerification["failures"][number];

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const folderOf = (path: string) => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "");
const lower = (path: string) => path.toLowerCase();

export async function verifySignedPackage(signed: RangeReader, submitted: RangeReader, options: VerifyOptions): Promise<SignedPackageVerification> {
  const failures: Failure[] = [];
  const fail = (file: string, check: SignedPackageCheck, reason: string) => failures.push({ file, check, reason });
  const submittedInfs = await readSubmittedInfs(submitted);

  let entries: ZipEntry[];
  try {
    // Only the INFs and catalogs are opened: no ranged read per other file's local header.
    entries = (await readHlkxListing(signed, { localHeaders: false })).entries.filter((entry) => !entry.name.endsWith("/"));
  } catch (error) {
    if (!(error instanceof ZipFormatError)) throw error;
    return finish([], [], 0, 0, [{ file: "(signed package)", check: "archive", reason: `the signed package is not a readable zip: ${error.message}` }]);
  }
  const infEntries = entries.filter((entry) => lower(entry.name).endsWith(".inf"));
  const catalogEntries = entries.filter((entry) => lower(entry.name).endsWith(".cat"));
  if (infEntries.length === 0) fail("(signed package)", "infMissing", `the signed package holds no INF (${entries.length} files)`);

  // Catalogs are verified once each, by folder.
  const verifiedByPath = new Map<string, VerifiedCatalog>();
  const catalogs: SignedPackageVerification["catalogs"] = [];
  const folders = [...new Set(infEntries.map((entry) => lower(folderOf(entry.name))))].sort();
  for (const folder of folders) {
    const inFolder = catalogEntries.filter((entry) => lower(folderOf(entry.name)) === folder);
    if (inFolder.length === 0) {
      fail(folder || "(root)", "catalogPresent", `the driver folder ${JSON.stringify(folder || "(root)")} has no catalog (.cat)`);
      continue;
    }
    for (const entry of inFolder) {
      const bytes = await readEntry(signed, entry, MAX_CATALOG_BYTES, fail);
      if (!bytes) continue;
      try {
        const verified = verifyCatalog(bytes, options.trustedRoots, options.at);
        verifiedByPath.set(entry.name, verified);
        catalogs.push({
          path: entry.name,
          signer: verified.signer.subject,
          signerThumbprintSha256: verified.signer.thumbprintSha256,
          root: verified.root.subject,
          rootThumbprintSha256: verified.root.thumbprintSha256,
          members: verified.members,
        });
      } catch (error) {
        if (!(error instanceof CatalogError)) throw error;
        fail(entry.name, error.check, error.message);
      }
    }
  }

  const infs: SignedPackageVerification["infs"] = [];
  const returned = new Set<string>();
  for (const entry of infEntries) {
    const bytes = await readEntry(signed, entry, MAX_INF_BYTES, fail);
    if (!bytes) continue;
    const hash = sha256(bytes);
    const folder = lower(folderOf(entry.name));
    const folderCatalogs = catalogEntries.filter((cat) => lower(folderOf(cat.name)) === folder).map((cat) => verifiedByPath.get(cat.name));
    // Only judged when every catalog of the folder verified (a failed one is reported already).
    if (folderCatalogs.length > 0 && folderCatalogs.every(Boolean)) {
      const sha1 = createHash("sha1").update(bytes).digest("hex");
      if (!folderCatalogs.some((catalog) => catalog!.memberDigests.has(hash) || catalog!.memberDigests.has(sha1))) {
        fail(entry.name, "catalogCoversInf", `no catalog of its folder lists this INF's hash (SHA-256 ${hash})`);
      }
    }
    const match = matchSubmitted(entry.name, [...submittedInfs.keys()]);
    if (match.kind !== "one") {
      fail(entry.name, "infMissing", match.kind === "none" ? "the signed package holds an INF the submitted package does not" : `the INF matches ${match.count} submitted INFs`);
      continue;
    }
    returned.add(match.path);
    const submittedInf = submittedInfs.get(match.path)!;
    if (submittedInf.kind === "unreadable") {
      fail(entry.name, "infIdentical", `the submitted ${match.path} could not be read to compare: ${submittedInf.reason}`);
      continue;
    }
    if (submittedInf.sha256 !== hash) {
      fail(entry.name, "infIdentical", `the INF differs from the submitted ${match.path} (SHA-256 ${hash}, submitted ${submittedInf.sha256})`);
      continue;
    }
    infs.push({ path: entry.name, submittedPath: match.path, sha256: hash });
  }
  for (const path of submittedInfs.keys()) {
    if (!returned.has(path)) fail(path, "infMissing", "the submitted INF is not in the signed package");
  }
  return finish(catalogs, infs, catalogEntries.length, infEntries.length, failures);
}

function finish(
  catalogs: SignedPackageVerification["catalogs"],
  infs: SignedPackageVerification["infs"],
  catalogCount: number,
  infCount: number,
  failures: Failure[],
): SignedPackageVerification {
  const first = failures[0];
  return {
    verdict: failures.length === 0 ? "verified" : "failed",
    ...(first ? { reason: `${first.check}: ${first.file}: ${first.reason}${failures.length > 1 ? ` (and ${failures.length - 1} more)` : ""}` } : {}),
    catalogCount,
    infCount,
    catalogs: catalogs.slice(0, MAX_LISTED),
    infs: infs.slice(0, MAX_LISTED),
    failures: failures.slice(0, MAX_LISTED),
  };
}

async function readEntry(reader: RangeReader, entry: ZipEntry, max: number, fail: (file: string, check: SignedPackageCheck, reason: string) => void): Promise<Uint8Array | undefined> {
  try {
    return await readPart(reader, entry, max);
  } catch (error) {
    if (!(error instanceof ZipFormatError)) throw error;
    fail(entry.name, "archive", `cannot be read from the signed package: ${error.message}`);
    return undefined;
  }
}

type SubmittedInf = { kind: "read"; sha256: string } | { kind: "unreadable"; reason: string };

/** The submitted CAB's INFs by path, each hashed (or why it could not be read). Throws CabFormatError for a non-cabinet. */
async function readSubmittedInfs(reader: RangeReader): Promise<Map<string, SubmittedInf>> {
  const listing = await readCabListing(reader);
  const result = new Map<string, SubmittedInf>();
  const budget = new DecodeBudget(MAX_DECOMPRESSED_BYTES);
  const byFolder = new Map<number, CabFile[]>();
  for (const file of listing.files.filter(isInf)) {
    if (file.size > MAX_INF_BYTES) result.set(file.path, { kind: "unreadable", reason: `it is ${file.size} bytes, over the ${MAX_INF_BYTES}-byte limit for an INF` });
    else if (!listing.folders[file.folderIndex]) result.set(file.path, { kind: "unreadable", reason: "its data is continued from or to another cabinet" });
    else byFolder.set(file.folderIndex, [...(byFolder.get(file.folderIndex) ?? []), file]);
  }
  for (const [index, files] of byFolder) {
    const content = await readFolderFiles(reader, listing, listing.folders[index], files, budget);
    for (const file of files) {
      result.set(file.path, content.kind === "read" ? { kind: "read", sha256: sha256(content.files.get(file)!) } : { kind: "unreadable", reason: content.reason });
    }
  }
  return result;
}

/** The submitted INF a signed one is: the same path, or the signed path ends with "/" + it (Microsoft may add a top folder). */
function matchSubmitted(signedPath: string, submittedPaths: string[]): { kind: "one"; path: string } | { kind: "none" } | { kind: "many"; count: number } {
  const signed = lower(signedPath);
  const exact = submittedPaths.filter((path) => lower(path) === signed);
  const candidates = exact.length > 0 ? exact : submittedPaths.filter((path) => signed.endsWith(`/${lower(path)}`));
  if (candidates.length === 1) return { kind: "one", path: candidates[0] };
  return candidates.length === 0 ? { kind: "none" } : { kind: "many", count: candidates.length };
}
