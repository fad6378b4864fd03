/**
 * The package rules Microsoft applies to a driver submission, checked offline before the upload.
 * Each rule has a stable code, a severity (error: Microsoft would refuse the package; warning: it
 * may, or this check could not tell) and its source; docs/package-rules.md is the table users read
 * (test/unit/preflight/rules.test.ts keeps the two in step).
 */
import { type CabSignature, OID, readCabSignature, type SignatureRead } from "./authenticode";
import { CabFormatError } from "./cab";
import { readHlkxListing, readPart, relationships, resolveTarget, SIGNATURE, SIGNATURE_ORIGIN, ZipFormatError } from "./hlkx";
import { DEFAULT_READ_LIMITS, isInf, type PackageContents, type ReadLimits, readPackage } from "./package";
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
const EV_RULE = "code-signing-attestation.md; windows-driver-docs #2289; microsoft/SDCM #42, via reference/hdc-api.md (e)";
const SUBMISSION = "hardware-submission-create.md (MicrosoftDocs/windows-driver-docs), via reference/hdc-api.md (e)";

export const RULES = {
  notCabinet: { code: "PKG000", severity: "error", title: "The package is not a readable single cabinet (or, for .hlkx/.hckx, zip)", source: "Microsoft Cabinet Format (MS-CAB) specification; ZIP APPNOTE" },
  rootFile: { code: "PKG001", severity: "error", title: "A file at the root of the cabinet", source: `${SUBMISSION}; Microsoft's text: "There are files at the root of the cabinet."` },
  folderWithoutInf: { code: "PKG002", severity: "error", title: "A driver folder without an INF", source: `${SUBMISSION}; Microsoft's text: "No .inf files found in driver directory/directories: X"` },
  folderNameTooLong: { code: "PKG003", severity: "error", title: "A folder name of 40 characters or more", source: `${ATTESTATION} ("folder names under 40 characters")` },
  folderNameCharacters: { code: "PKG004", severity: "error", title: "A folder name with special characters", source: `${ATTESTATION} ("no special characters, no UNC paths")` },
  catalogMissing: { code: "PKG005", severity: "error", title: "An INF's CatalogFile is not in its folder", source: `${ATTESTATION} (a .cat is present and each INF's CatalogFile names a file in the package)` },
  noCatalogFile: { code: "PKG006", severity: "warning", title: "An INF names no CatalogFile", source: `${ATTESTATION}; users disagree whether the .cat is strictly required (windows-driver-docs #1319)` },
  architecturesDiffer: { code: "PKG007", severity: "error", title: "Driver folders support different architectures", source: `${ATTESTATION} ("every driver folder supports the same architectures")` },
  tooLarge: { code: "PKG008", severity: "error", title: "The package is over the size limit", source: "MS-CAB specification: a cabinet is at most 0x7FFFFFFF bytes (cbCabinet)" },
  notInspected: { code: "PKG009", severity: "warning", title: "Content not inspected", source: "this reader's limits (src/preflight/limits.ts): LZX/Quantum folders, size budgets" },
  unsigned: { code: "PKG010", severity: "error", title: "The CAB has no Authenticode signature (attestation requested)", source: `${EV_RULE}; Microsoft: SignatureValidationFailed` },
  notEv: { code: "PKG011", severity: "error", title: "The CAB's signer is not an EV code-signing certificate", source: `${EV_RULE}; EV policy OID 2.23.140.1.3 (CA/Browser Forum EV Code Signing Guidelines)` },
  signerNotValid: { code: "PKG012", severity: "error", title: "The signer certificate is expired or not yet valid", source: `${EV_RULE}; Microsoft: 412 evCertificateNotFound "EV Certificate expired or not present"` },
  weakDigest: { code: "PKG013", severity: "error", title: "The CAB is signed with SHA-1 (or MD5), not SHA-256", source: `${EV_RULE} ("signtool /fd sha256")` },
  unregistered: { code: "PKG014", severity: "warning", title: "The signer certificate is not one registered for the account", source: `${EV_RULE}; Microsoft: SignatureValidationFailed, "Cab Signature validation failed with error: 0x80090008"` },
  shortLived: { code: "PKG015", severity: "warning", title: "The signer certificate lives only days: it must be registered again for each new one", source: "reference/identity-and-audit.md 3 (Azure Artifact Signing's short-lived certificates); hdc-api.md (e)" },
  signatureUnreadable: { code: "PKG016", severity: "error", title: "The CAB's signature cannot be read", source: "Authenticode (PKCS#7 SignedData, RFC 2315) as signtool and osslsigncode embed it in a CAB" },
  zip64: { code: "PKG017", severity: "error", title: "The HLKX/HCKX uses Zip64", source: `${SUBMISSION}; Microsoft's text: "File is using Zip64(4gb+file Size)"` },
  hlkxParts: { code: "PKG018", severity: "error", title: "The HLKX/HCKX lacks a package part", source: "ECMA-376 Part 2 (OPC): [Content_Types].xml and _rels/.rels; hdc-api.md (e)" },
  hlkxUnsigned: { code: "PKG019", severity: "error", title: "The HLKX/HCKX has no package signature", source: "ECMA-376 Part 2 (OPC) digital signatures, as HLK Studio signs a package; hdc-api.md (e)" },
  attestationOs: { code: "PKG020", severity: "error", title: "Attestation requested for Windows Server or an OS before Windows 10", source: "code-signing-attestation.md; windows-driver-docs #1555, via reference/hdc-api.md (e)" },
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
  /** The CAB's Authenticode signer, when it is signed and readable. */
  signature: SignatureSummary | null;
}

/** What the package is for, when `check` is told: the signature rules that depend on it. */
export interface SigningIntent {
  /** The CAB goes to attestation signing: it must carry an EV signature (PKG010), and PKG020 applies to osCodes. */
  attestation?: boolean;
  /** The requested OS codes (requestedSignatures), e.g. "WINDOWS_v100_X64_CO_FULL". */
  osCodes?: readonly string[];
  /** Thumbprints (SHA-1 or SHA-256 hex) of the certificates registered for the account; unset: not compared. */
  registeredThumbprints?: readonly string[];
  /** The check time (validity); defaults to now. */
  now?: Date;
}

export interface CheckOptions extends Partial<ReadLimits>, SigningIntent {
  maxPackageBytes?: number;
}

/** A signer certificate valid for less than this in total is "short-lived" (PKG015): Azure Artifact Signing's live 3 days. */
export const SHORT_LIVED_MS = 7 * 24 * 3600 * 1000;
/** Digest algorithms Microsoft refuses (it requires SHA-2). */
const WEAK_DIGESTS = new Set(["sha1", "md5"]);

export interface SignatureSummary {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  ev: boolean;
  digestAlgorithm: string;
  fileDigestAlgorithm: string;
  thumbprintSha1: string;
  thumbprintSha256: string;
  /** Whether it is among the registered thumbprints; null when none are configured. */
  registered: boolean | null;
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
  const findings: Finding[] = [...osFindings(options)];
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
  const signatureRead = await readCabSignature(reader, contents.listing);
  const signature = signatureRead.kind === "signed" ? summarise(signatureRead.signature, options) : null;
  findings.push(...signatureFindings(signatureRead, options));
  const drivers = driverSummaries(contents);
  return report(reader.size, contents.listing.files.length, [...new Set(contents.listing.folders.map((f) => f.compression))], drivers, findings, signature);
}

const normaliseThumbprint = (value: string) => value.replace(/[\s:]/g, "").toUpperCase();

function summarise(signature: CabSignature, options: SigningIntent): SignatureSummary {
  const { signer } = signature;
  const registered = options.registeredThumbprints?.length ? options.registeredThumbprints.map(normaliseThumbprint).some((t) => t === signer.thumbprintSha1 || t === signer.thumbprintSha256) : null;
  return {
    subject: signer.subject,
    issuer: signer.issuer,
    serialNumber: signer.serialNumber,
    notBefore: signer.notBefore.toISOString(),
    notAfter: signer.notAfter.toISOString(),
    ev: signer.policies.includes(OID.evCodeSigning),
    digestAlgorithm: signature.digestAlgorithm,
    fileDigestAlgorithm: signature.fileDigestAlgorithm,
    thumbprintSha1: signer.thumbprintSha1,
    thumbprintSha256: signer.thumbprintSha256,
    registered,
  };
}

/** The signature rules on a CAB. An unsigned CAB is only an error when attestation is requested (pack makes unsigned CABs to be signed next). */
export function signatureFindings(read: SignatureRead, options: SigningIntent): Finding[] {
  if (read.kind === "unsigned") {
    return options.attestation ? [finding(RULES.unsigned, "The CAB has no Authenticode signature; Microsoft accepts only CABs signed with the account's EV code-signing certificate (otherwise SignatureValidationFailed): sign it with signtool sign /fd sha256 (or osslsigncode -h sha256)")] : [];
  }
  if (read.kind === "unreadable") return [finding(RULES.signatureUnreadable, `The CAB's Authenticode signature cannot be read: ${read.reason}. Sign the CAB again with signtool or osslsigncode`)];
  const { signature } = read;
  const summary = summarise(signature, options);
  const who = `The signer certificate "${summary.subject}" (SHA-1 ${summary.thumbprintSha1})`;
  const findings: Finding[] = [];
  if (!summary.ev) {
    findings.push(finding(RULES.notEv, `${who} is not an EV code-signing certificate (no policy ${OID.evCodeSigning} in its certificate policies): Microsoft accepts only EV-signed CABs; sign with the EV certificate registered for the account`));
  }
  const now = options.now ?? new Date();
  if (now < signature.signer.notBefore || now > signature.signer.notAfter) {
    const state = now > signature.signer.notAfter ? `expired on ${summary.notAfter}` : `is not valid before ${summary.notBefore}`;
    findings.push(finding(RULES.signerNotValid, `${who} ${state} (checked at ${now.toISOString()}): Microsoft refuses it ("EV Certificate expired or not present"); sign with a current certificate`));
  }
  const weak = [["file digest", summary.fileDigestAlgorithm], ["signer's digest", summary.digestAlgorithm]].filter(([, algorithm]) => WEAK_DIGESTS.has(algorithm));
  if (weak.length > 0) {
    findings.push(finding(RULES.weakDigest, `The signature's ${weak.map(([what, algorithm]) => `${what} is ${algorithm.toUpperCase()}`).join(" and ")}; Microsoft requires SHA-256: sign with signtool sign /fd sha256 (osslsigncode -h sha256)`));
  }
  if (summary.registered === false) {
    findings.push(finding(RULES.unregistered, `${who} is not among the registered certificates (SHA-256 ${summary.thumbprintSha256}): Microsoft will answer SignatureValidationFailed unless it is registered for the account in Partner Center`));
  }
  if (signature.signer.notAfter.getTime() - signature.signer.notBefore.getTime() < SHORT_LIVED_MS) {
    findings.push(finding(RULES.shortLived, `${who} is valid only from ${summary.notBefore} to ${summary.notAfter}: a short-lived certificate (as Azure Artifact Signing issues) must be registered in Partner Center again for each new certificate, or Microsoft answers SignatureValidationFailed`));
  }
  return findings;
}

/** PKG020: attestation signs client Windows 10 and later only. OS codes look like WINDOWS_v100_X64_..., WINDOWS_v63_... (8.1). */
export function osFindings(options: SigningIntent): Finding[] {
  if (!options.attestation) return [];
  const findings: Finding[] = [];
  for (const code of options.osCodes ?? []) {
    const version = /^WINDOWS_v(\d+)/i.exec(code);
    if (/SERVER/i.test(code)) {
      findings.push(finding(RULES.attestationOs, `${code} is a Windows Server OS: attestation signing covers client Windows 10 and later only (Microsoft accepts the submission, then fails it); use HLK certification for Server`));
    } else if (version && Number(version[1]) < 100) {
      findings.push(finding(RULES.attestationOs, `${code} is before Windows 10: attestation signing covers Windows 10 and later only; use HLK/HCK certification for older Windows`));
    }
  }
  return findings;
}

/** The parts every OPC package has. */
export const HLKX_REQUIRED_PARTS = ["[Content_Types].xml", "_rels/.rels"] as const;

/** Checks an HLKX/HCKX (HLK/HCK Studio's signed OPC zip). Never throws for a bad package. */
export async function checkHlkx(reader: RangeReader, options: CheckOptions = {}): Promise<PreflightReport> {
  const maxPackageBytes = options.maxPackageBytes ?? MAX_PACKAGE_BYTES;
  const findings: Finding[] = [];
  if (reader.size > maxPackageBytes) findings.push(finding(RULES.tooLarge, `The package is ${reader.size} bytes, over the ${maxPackageBytes}-byte limit`));
  try {
    const listing = await readHlkxListing(reader);
    for (const place of listing.zip64) {
      findings.push(finding(RULES.zip64, `The package uses Zip64 (${place}); Microsoft refuses it ("File is using Zip64(4gb+file Size)"): export it again from HLK Studio without Zip64, under 4 GB`));
    }
    const byName = new Map(listing.entries.map((e) => [e.name, e]));
    const byLowerName = new Map(listing.entries.map((e) => [e.name.toLowerCase(), e]));
    for (const part of HLKX_REQUIRED_PARTS) {
      if (!byName.has(part)) findings.push(finding(RULES.hlkxParts, `The package has no ${part} part: it is not an OPC package as HLK Studio writes it; create it again with HLK Studio's "Create Package"`, part));
    }
    const rels = byName.get("_rels/.rels");
    if (rels) {
      const origin = relationships(Buffer.from(await readPart(reader, rels)).toString("utf8")).find((r) => r.type === SIGNATURE_ORIGIN);
      const originPart = origin ? resolveTarget("", origin.target) : undefined;
      let signed = false;
      if (originPart && byLowerName.has(originPart.toLowerCase())) {
        const originRelsName = `${originPart.split("/").slice(0, -1).concat("_rels", `${originPart.split("/").pop()}.rels`).join("/")}`;
        const originRels = byLowerName.get(originRelsName.toLowerCase());
        if (originRels) {
          const signatures = relationships(Buffer.from(await readPart(reader, originRels)).toString("utf8")).filter((r) => r.type === SIGNATURE);
          signed = signatures.some((r) => byLowerName.has(resolveTarget(originPart, r.target).toLowerCase()));
        }
      }
      if (!signed) findings.push(finding(RULES.hlkxUnsigned, "The package carries no package signature (no digital-signature origin in _rels/.rels with a signature part): sign it in HLK Studio (\"Create Package\" with your certificate) before submitting"));
    }
    return report(reader.size, listing.entries.length, [], [], findings);
  } catch (error) {
    if (!(error instanceof ZipFormatError)) throw error;
    findings.push(finding(RULES.notCabinet, `The package is not a readable zip (HLKX/HCKX): ${error.message}`));
    return report(reader.size, 0, [], [], findings);
  }
}

function definedLimits(options: CheckOptions): Partial<ReadLimits> {
  const limits: Partial<ReadLimits> = {};
  if (options.maxInfBytes !== undefined) limits.maxInfBytes = options.maxInfBytes;
  if (options.maxDecompressedBytes !== undefined) limits.maxDecompressedBytes = options.maxDecompressedBytes;
  return limits;
}

function report(size: number, fileCount: number, compression: string[], drivers: DriverSummary[], findings: Finding[], signature: SignatureSummary | null = null): PreflightReport {
  const verdict: Verdict = findings.some((f) => f.severity === "error") ? "refused" : findings.length > 0 ? "warnings" : "clean";
  return { verdict, size, fileCount, compression, drivers, findings, signature };
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
    const hasInf = listing.files.some((f) => topFolderOf(f.path) === folder && isInf(f));
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
