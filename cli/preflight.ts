/**
 * `driver-sign check` and `driver-sign pack`: the offline package preflight (src/preflight) on a
 * local file. Neither talks to the service. Exit 0 clean, 10 warnings only, 11 refused.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { packageExtension } from "../src/domain/packageRules";
import { CabWriteError, type CabEntry, writeCab } from "../src/preflight/cabWriter";
import type { RangeReader } from "../src/preflight/rangeReader";
import { checkHlkx, checkPackage, type PreflightReport, type SigningIntent } from "../src/preflight/rules";
import { CliError, ExitCode, type ExitCodeValue } from "./exitCodes";
import { emptyResult, type PreflightDocument, type ResultDocument } from "./output";

/** A RangeReader over an open file (positional reads; nothing else is buffered). */
export function fileRangeReader(fd: number, size: number): RangeReader {
  return {
    size,
    read: async (offset, length) => {
      const buffer = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const n = fs.readSync(fd, buffer, done, length - done, offset + done);
        if (n === 0) throw new CliError(ExitCode.Io, `the package ended at byte ${offset + done} while reading ${length} bytes at ${offset} (changed while being read?)`);
        done += n;
      }
      return buffer;
    },
  };
}

function toDocument(report: PreflightReport): PreflightDocument {
  return {
    verdict: report.verdict,
    errors: report.findings.filter((f) => f.severity === "error").length,
    warnings: report.findings.filter((f) => f.severity === "warning").length,
    size: report.size,
    fileCount: report.fileCount,
    compression: report.compression,
    findings: report.findings,
    drivers: report.drivers,
    signature: report.signature,
  };
}

const THUMBPRINT = /^(?:[0-9A-F]{40}|[0-9A-F]{64})$/;

/** `check`'s --attestation, --os and --registered-certs (or DRIVER_SIGN_REGISTERED_CERTS), validated. */
export function signingIntent(options: { attestation?: boolean; os?: string; registeredCerts?: string }): SigningIntent {
  const list = (value: string | undefined) => (value ?? "").split(",").map((item) => item.trim()).filter((item) => item !== "");
  const osCodes = list(options.os);
  for (const code of osCodes) {
    if (!/^[A-Za-z0-9_.-]+$/.test(code)) throw new CliError(ExitCode.BadArguments, `--os: ${JSON.stringify(code)} is not an OS code (letters, digits and '_', e.g. WINDOWS_v100_X64_CO_FULL)`);
  }
  const registeredThumbprints = list(options.registeredCerts).map((value) => value.replace(/[\s:]/g, "").toUpperCase());
  for (const thumbprint of registeredThumbprints) {
    if (!THUMBPRINT.test(thumbprint)) throw new CliError(ExitCode.BadArguments, `--registered-certs (or DRIVER_SIGN_REGISTERED_CERTS): ${JSON.stringify(thumbprint)} is not a SHA-1 (40 hex digits) or SHA-256 (64) thumbprint`);
  }
  if (osCodes.length > 0 && !options.attestation) throw new CliError(ExitCode.BadArguments, "--os is checked only for attestation: add --attestation");
  return { attestation: Boolean(options.attestation), osCodes, ...(registeredThumbprints.length > 0 ? { registeredThumbprints } : {}) };
}

/** HLKX and HCKX are OPC zips with checks of their own; everything else is read as a CAB. */
const isHlkx = (packagePath: string) => ["hlkx", "hckx"].includes(packageExtension(packagePath)?.slice(1) ?? "");

const EXIT_FOR: Record<PreflightReport["verdict"], ExitCodeValue> = {
  clean: ExitCode.Signed,
  warnings: ExitCode.PreflightWarnings,
  refused: ExitCode.PreflightRefused,
};

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** Runs the rules on a package file. */
export async function check(packagePath: string, command: "check" | "pack" = "check", intent: SigningIntent = {}): Promise<ResultDocument> {
  let fd: number;
  try {
    fd = fs.openSync(packagePath, "r");
  } catch (error) {
    throw new CliError(ExitCode.Io, `cannot read ${packagePath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new CliError(ExitCode.BadArguments, `${packagePath} is not a file`);
    const reader = fileRangeReader(fd, stat.size);
    const report = isHlkx(packagePath) ? await checkHlkx(reader, intent) : await checkPackage(reader, intent);
    const preflight = toDocument(report);
    const summary =
      report.verdict === "clean"
        ? "no problems found"
        : report.verdict === "warnings"
          ? `${plural(preflight.warnings, "warning")}, no errors`
          : `Microsoft would refuse it: ${plural(preflight.errors, "error")}, ${plural(preflight.warnings, "warning")}`;
    return { ...emptyResult(command), exitCode: EXIT_FOR[report.verdict], outcome: report.verdict, message: `${packagePath}: ${summary}`, package: packagePath, preflight };
  } finally {
    fs.closeSync(fd);
  }
}

/** Every regular file under `dir`, sorted, as "/"-separated paths relative to it. */
function filesUnder(dir: string, relative = ""): string[] {
  const result: string[] = [];
  const names = fs.readdirSync(path.join(dir, relative)).sort();
  for (const name of names) {
    const rel = relative ? `${relative}/${name}` : name;
    const stat = fs.statSync(path.join(dir, rel));
    if (stat.isDirectory()) result.push(...filesUnder(dir, rel));
    else if (stat.isFile()) result.push(rel);
    else throw new CliError(ExitCode.BadArguments, `${path.join(dir, rel)} is neither a file nor a folder`);
  }
  return result;
}

/** Packs driver folders into one CAB (each under its own folder name), then checks it. */
export async function pack(folders: string[], out: string): Promise<ResultDocument> {
  if (folders.length === 0) throw new CliError(ExitCode.BadArguments, "give at least one driver folder");
  const entries: CabEntry[] = [];
  const seen = new Map<string, string>();
  for (const folder of folders) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(folder);
    } catch (error) {
      throw new CliError(ExitCode.Io, `cannot read driver folder ${folder}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    if (!stat.isDirectory()) throw new CliError(ExitCode.BadArguments, `${folder} is not a folder (pack takes driver folders; each becomes a top folder of the CAB)`);
    const name = path.basename(path.resolve(folder));
    const clash = seen.get(name.toLowerCase());
    if (clash) throw new CliError(ExitCode.BadArguments, `${clash} and ${folder} would both be "${name}" in the CAB: rename one`);
    seen.set(name.toLowerCase(), folder);
    for (const rel of filesUnder(folder)) entries.push({ path: `${name}/${rel}`, data: fs.readFileSync(path.join(folder, rel)) });
  }
  let bytes: Uint8Array;
  try {
    bytes = writeCab(entries);
  } catch (error) {
    if (error instanceof CabWriteError) throw new CliError(ExitCode.BadArguments, error.message);
    throw error;
  }
  // Written beside the target and renamed, so a failed run never leaves half a package.
  const temporary = `${out}.${process.pid}.partial`;
  try {
    fs.writeFileSync(temporary, bytes);
    fs.renameSync(temporary, out);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw new CliError(ExitCode.Io, `cannot write ${out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const result = await check(out, "pack");
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  return {
    ...result,
    message: `Packed ${plural(entries.length, "file")} from ${plural(folders.length, "driver folder")} into ${out}; ${result.message.slice(out.length + 2)}`,
    files: [{ kind: "package", path: out, bytes: bytes.length, sha256, verified: [] }],
  };
}

/** The findings and drivers as lines for people. */
export function preflightLines(doc: PreflightDocument): string[] {
  const lines: string[] = [];
  for (const f of doc.findings) {
    const where = f.file ? `${f.file}${f.line !== null ? `:${f.line}` : ""}: ` : "";
    lines.push(`${f.severity === "error" ? "error  " : "warning"} ${f.code} ${where}${f.message}`);
  }
  const s = doc.signature;
  if (s) {
    lines.push(`signed by ${s.subject} (issuer ${s.issuer}; ${s.ev ? "EV" : "not EV"}; ${s.fileDigestAlgorithm.toUpperCase()}; valid ${s.notBefore} to ${s.notAfter}; ${s.registered === null ? "registration not checked" : s.registered ? "registered" : "NOT registered"})`);
    lines.push(`  thumbprint SHA-1 ${s.thumbprintSha1}, SHA-256 ${s.thumbprintSha256}`);
  }
  if (doc.drivers.length > 0) lines.push(`${doc.size} bytes, ${plural(doc.fileCount, "file")} (${doc.compression.join(", ") || "no folders"}); drivers:`);
  for (const driver of doc.drivers) {
    lines.push(`  ${driver.folder}/ (${driver.architectures.join(", ") || "no architecture decoration"})`);
    for (const inf of driver.infs) {
      lines.push(`    ${inf.path}: ${[inf.class, inf.provider, inf.driverVer].filter((v) => v).join(", ")}; ${plural(inf.hardwareIds.length, "hardware id")}`);
    }
  }
  return lines;
}
