/**
 * The package rules Microsoft applies to a driver submission, checked offline before the upload.
 * Each rule has a stable code, a severity (error: Microsoft would refuse the package; warning: it
 * may, or this check could not tell) and its source; docs/package-rules.md is the table users read
 * (test/unit/preflight/rules.test.ts keeps the two in step).
 */
import { CabFormatError } from "./cab";
import { DEFAULT_READ_LIMITS, type PackageContents, type ReadLimits, readPackage } from "./package";
import type { RangeReader } from "./rangeReader";

export type Severity = "error" | "warning";

export interface RuleDefinition {
  code: string;
  severity: Severity;
  title: string;
  /** Where the rule comes from (document and section, or the format specification). */
  source: string;
}

const ATTESTATION = "code-signing-attestation.md (MicrosoftDocs/windows-driver-docs), via reference/hdc-api.md (e)";
const SUBMISSION = "hardware-submission-create.md (MicrosoftDocs/windows-driver-docs), via reference/hdc-api.md (e)";

export const RULES = {
  notCabinet: { code: "PKG000", severity: "error", title: "The package is not a readable single cabinet", source: "Microsoft Cabinet Format (MS-CAB) specification" },
  rootFile: { code: "PKG001", severity: "error", title: "A file at the root of the cabinet", source: `${SUBMISSION}; Microsoft's text: "There are files at the root of the cabinet."` },
  folderWithoutInf: { code: "PKG002", severity: "error", title: "A driver folder without an INF", source: `${SUBMISSION}; Microsoft's text: "No .inf files found in driver directory/directories: X"` },
  folderNameTooLong: { code: "PKG003", severity: "error", title: "A folder name of 40 characters or more", source: `${ATTESTATION} ("folder names under 40 characters")` },
  folderNameCharacters: { code: "PKG004", severity: "error", title: "A folder name with special characters", source: `${ATTESTATION} ("no special characters, no UNC paths")` },
  catalogMissing: { code: "PKG005", severity: "error", title: "An INF's CatalogFile is not in its folder", source: `${ATTESTATION} (a .cat is present and each INF's CatalogFile names a file in the package)` },
  noCatalogFile: { code: "PKG006", severity: "warning", title: "An INF names no CatalogFile", source: `${ATTESTATION}; users disagree whether the .cat is strictly required (windows-driver-docs #1319)` },
  architecturesDiffer: { code: "PKG007", severity: "error", title: "Driver folders support different architectures", source: `${ATTESTATION} ("every driver folder supports the same architectures")` },
  tooLarge: { code: "PKG008", severity: "error", title: "The package is over the size limit", source: "MS-CAB specification: a cabinet is at most 0x7FFFFFFF bytes (cbCabinet)" },
  notInspected: { code: "PKG009", severity: "warning", title: "Content not inspected", source: "this reader's limits (src/preflight/limits.ts): LZX/Quantum folders, size budgets" },
} as const satisfies Record<string, RuleDefinition>;

/** The largest package: MS-CAB's own limit on a cabinet (0x7FFFFFFF bytes); hdc-api.md (e) names no smaller upload limit. */
export const MAX_PACKAGE_BYTES = 0x7fffffff;
/** "Folder names under 40 characters" (code-signing-attestation.md). */
export const MAX_FOLDER_NAME_CHARS = 39;
/**
 * Characters a folder name may use. Microsoft says only "no special characters"; this reads it
 * strictly (letters, digits, '.', '_', '-'), so a space or '&' is reported rather than risked.
 */
export const FOLDER_NAME_CHARACTERS = /^[A-Za-z0-9._-]+$/;

export interface Finding {
  code: string;
  severity: Severity;
  /** What is wrong and what to change. */
  message: string;
  /** The file or folder in the package it is about ("/" separators), or null for the whole package. */
  file: string | null;
  /** The INF line it is about, when it is about one. */
  line: number | null;
}

export interface DriverSummary {
  folder: string;
  infs: {
    path: string;
    encoding: string;
    class: string | null;
    provider: string | null;
    driverVer: string | null;
    catalogFiles: string[];
    architectures: string[];
    hardwareIds: string[];
  }[];
  architectures: string[];
}

export type Verdict = "refused" | "warnings" | "clean";

export interface PreflightReport {
  verdict: Verdict;
  size: number;
  fileCount: number;
  compression: string[];
  drivers: DriverSummary[];
  findings: Finding[];
}

export interface CheckOptions extends Partial<ReadLimits> {
  maxPackageBytes?: number;
}

function finding(rule: RuleDefinition, message: string, file: string | null = null, line: number | null = null): Finding {
  return { code: rule.code, severity: rule.severity, message, file, line };
}

const topFolderOf = (path: string): string | undefined => (path.includes("/") ? path.slice(0, path.indexOf("/")) : undefined);
const file0 = (folderPath: string): string => folderPath || "/";
const dirOf = (path: string): string => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "");

/** Checks a package. Never throws for a bad package: an unreadable one is finding PKG000. */
export async function checkPackage(reader: RangeReader, options: CheckOptions = {}): Promise<PreflightReport> {
  const maxPackageBytes = options.maxPackageBytes ?? MAX_PACKAGE_BYTES;
  const findings: Finding[] = [];
  if (reader.size > maxPackageBytes) {
    findings.push(finding(RULES.tooLarge, `The package is ${reader.size} bytes, over the ${maxPackageBytes}-byte limit of a cabinet: split the drivers into several submissions`));
  }
  let contents: PackageContents;
  try {
    contents = await readPackage(reader, { ...DEFAULT_READ_LIMITS, ...definedLimits(options) });
  } catch (error) {
    if (!(error instanceof CabFormatError)) throw error;
    findings.push(finding(RULES.notCabinet, `The package is not a readable cabinet: ${error.message}. Make it with makecab, gcab or driver-sign pack`));
    return report(reader.size, 0, [], [], findings);
  }
  findings.push(...packageFindings(contents));
  const drivers = driverSummaries(contents);
  return report(reader.size, contents.listing.files.length, [...new Set(contents.listing.folders.map((f) => f.compression))], drivers, findings);
}

function definedLimits(options: CheckOptions): Partial<ReadLimits> {
  const limits: Partial<ReadLimits> = {};
  if (options.maxInfBytes !== undefined) limits.maxInfBytes = options.maxInfBytes;
  if (options.maxDecompressedBytes !== undefined) limits.maxDecompressedBytes = options.maxDecompressedBytes;
  return limits;
}

function report(size: number, fileCount: number, compression: string[], drivers: DriverSummary[], findings: Finding[]): PreflightReport {
  const verdict: Verdict = findings.some((f) => f.severity === "error") ? "refused" : findings.length > 0 ? "warnings" : "clean";
  return { verdict, size, fileCount, compression, drivers, findings };
}

/** The rules over a package that could be read. Pure: same contents, same findings, same order. */
export function packageFindings(contents: PackageContents): Finding[] {
  const findings: Finding[] = [];
  const { listing } = contents;
  if (listing.spanned) {
    findings.push(finding(RULES.notCabinet, "The cabinet is part of a spanned set (it continues or is continued by another cabinet): submit one self-contained cabinet"));
  }

  const lowerPaths = new Set(listing.files.map((f) => f.path.toLowerCase()));
  const topFolders = [...new Set(listing.files.map((f) => topFolderOf(f.path)).filter((f): f is string => f !== undefined))].sort();

  for (const file of listing.files) {
    if (topFolderOf(file.path) === undefined) {
      findings.push(finding(RULES.rootFile, `"${file.path}" is at the root of the cabinet (Microsoft: "There are files at the root of the cabinet."): move it into its driver's folder, one top folder per driver`, file.path));
    }
  }

  for (const folder of topFolders) {
    const hasInf = listing.files.some((f) => topFolderOf(f.path) === folder && f.path.toLowerCase().endsWith(".inf"));
    if (!hasInf) {
      findings.push(finding(RULES.folderWithoutInf, `Driver folder "${folder}" has no .inf (Microsoft: "No .inf files found in driver directory/directories: ${folder}"): add its INF or move its files into the folder of the driver they belong to`, `${folder}/`));
    }
  }

  const folderPaths = new Set<string>();
  for (const file of listing.files) {
    const segments = file.path.split("/").slice(0, -1);
    for (let i = 0; i < segments.length; i++) folderPaths.add(segments.slice(0, i + 1).join("/"));
  }
  for (const folderPath of [...folderPaths].sort()) {
    const name = folderPath.slice(folderPath.lastIndexOf("/") + 1);
    if (name.length > MAX_FOLDER_NAME_CHARS) {
      findings.push(finding(RULES.folderNameTooLong, `Folder name "${name}" has ${name.length} characters; Microsoft accepts folder names under 40: shorten it to at most ${MAX_FOLDER_NAME_CHARS}`, `${folderPath}/`));
    }
    if (name === "") {
      findings.push(finding(RULES.folderNameCharacters, `"${file0(folderPath)}" has an empty folder name (a UNC path or "//"): store plain relative paths such as "driver/driver.inf"`, `${folderPath}/`));
    } else if (!FOLDER_NAME_CHARACTERS.test(name) || /^\.+$/.test(name)) {
      const bad = [...new Set(name.replace(/[A-Za-z0-9._-]/g, ""))].map((c) => JSON.stringify(c)).join(" ");
      findings.push(finding(RULES.folderNameCharacters, `Folder name "${name}" has special characters${bad ? ` (${bad})` : ""}: use only letters, digits, '.', '_' and '-'`, `${folderPath}/`));
    }
  }

  for (const inf of contents.infs) {
    const dir = dirOf(inf.path);
    if (inf.document.catalogFiles.length === 0) {
      findings.push(finding(RULES.noCatalogFile, `${inf.path} names no CatalogFile in [Version]: add "CatalogFile = <name>.cat" (Microsoft replaces the catalog when it signs, but checks that one is named)`, inf.path, inf.document.sections.get("version")?.line ?? null));
    }
    for (const catalog of inf.document.catalogFiles) {
      const expected = dir ? `${dir}/${catalog.file}` : catalog.file;
      if (catalog.file === "" || !lowerPaths.has(expected.toLowerCase())) {
        const key = catalog.decoration ? `CatalogFile.${catalog.decoration}` : "CatalogFile";
        findings.push(finding(RULES.catalogMissing, `${key} = ${catalog.file || "(empty)"}, but ${dir ? `folder "${dir}"` : "the cabinet's root"} has no such file: add the catalog (Inf2Cat makes it) or correct the name`, inf.path, catalog.line));
      }
    }
  }

  // Architectures per driver folder, from the models sections' decorations (NTamd64, NTarm64, ...).
  const archByFolder = new Map<string, { archs: string[]; inf: string; line: number | null }>();
  for (const folder of topFolders) {
    const infs = contents.infs.filter((inf) => topFolderOf(inf.path) === folder);
    const archs = [...new Set(infs.flatMap((inf) => inf.document.architectures))].sort();
    if (archs.length === 0) continue; // undecorated or unread: nothing to compare
    const first = infs.find((inf) => inf.document.architectures.length > 0)!;
    archByFolder.set(folder, { archs, inf: first.path, line: first.document.manufacturers[0]?.line ?? null });
  }
  const entries = [...archByFolder];
  if (entries.length > 1) {
    const [referenceFolder, reference] = entries[0];
    for (const [folder, entry] of entries.slice(1)) {
      if (entry.archs.join(",") === reference.archs.join(",")) continue;
      findings.push(finding(RULES.architecturesDiffer, `Driver folder "${folder}" supports ${entry.archs.join(", ")} but "${referenceFolder}" supports ${reference.archs.join(", ")}: every driver folder in one submission must support the same architectures; decorate every models section for the same set or submit them separately`, entry.inf, entry.line));
    }
  }

  for (const skipped of contents.notInspected) {
    findings.push(finding(RULES.notInspected, `${skipped.path} was not inspected: ${skipped.reason}. The rules that need its content were not checked for it`, skipped.path));
  }
  return findings;
}

function driverSummaries(contents: PackageContents): DriverSummary[] {
  const folders = [...new Set(contents.listing.files.map((f) => topFolderOf(f.path)).filter((f): f is string => f !== undefined))].sort();
  return folders.map((folder) => {
    const infs = contents.infs
      .filter((inf) => topFolderOf(inf.path) === folder)
      .map(({ path, document }) => ({
        path,
        encoding: document.encoding,
        class: document.class?.value ?? null,
        provider: document.provider?.value ?? null,
        driverVer: document.driverVer?.value ?? null,
        catalogFiles: [...new Set(document.catalogFiles.map((c) => c.file))],
        architectures: document.architectures,
        hardwareIds: document.hardwareIds,
      }));
    return { folder, infs, architectures: [...new Set(infs.flatMap((inf) => inf.architectures))].sort() };
  });
}
