/**
 * The preflight step (issue 37): reads a .cab package through ranged downloads of the blob, each
 * pinned to the run's ETag, and applies the package rules (src/preflight/rules.ts) before anything
 * is created at Hardware Dev Center. Only the CAB header, its file table and the compressed folders
 * holding INFs are read, in small ranges, within a memory cap; a multi-GiB package is never pulled
 * through the function. A blob replaced since the run started is the "package changed" terminal
 * failure, as in copyPackage. .hlkx/.hckx (HLK archives: an OPC zip) get the HLKX rules (PKG017-PKG019:
 * Zip64, the OPC parts, the package signature) through the same reader: only the zip's end records,
 * its central directory, each entry's local header and the two small .rels parts are read, never the
 * entries' data.
 */
import type { BlockBlobClient } from "@azure/storage-blob";
import { normalizeEtag } from "../domain/instanceId";
import { packageExtension } from "../domain/packageRules";
import type { PreflightFinding, PreflightInf } from "../domain/types";
import type { RangeReader } from "../preflight/rangeReader";
import { checkHlkx, checkPackage, RULES } from "../preflight/rules";
import type { PreflightPackageInput, PreflightPackageOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { TerminalActivityError } from "./errors";

/** The largest single ranged read: CAB tables and CFDATA blocks are small (a block is ≤ 32 KiB + header). */
export const MAX_RANGE_BYTES = 4 * 1024 * 1024;
/** Bytes of the package one preflight may read in total (tables plus the folders holding INFs). */
export const MAX_PREFLIGHT_READ_BYTES = 512 * 1024 * 1024;
/**
 * A read the caps above do not allow: the package is left uninspected (a warning, PKG009) rather than the run
 * failed, as the reader does for content it cannot decode. A package this large in its tables is unusual, not bad;
 * Microsoft still checks it.
 */
class PreflightBudgetExceeded extends Error {}

/** Findings returned (and so kept in history): the rest are counted in one more finding. */
export const MAX_FINDINGS = 50;
export const MAX_HARDWARE_IDS = 200;
/** INFs listed per INF in the output (for the label preview): history stays small. */
export const MAX_INFS = 100;

export async function preflightPackage(input: PreflightPackageInput, deps: ActivityDeps): Promise<PreflightPackageOutput> {
  const { container, blobName } = input.package;
  const extension = packageExtension(blobName);
  if (extension === undefined) return { verdict: "notApplicable", findings: [], hardwareIds: [], bytesRead: 0 };

  const client = deps.blobService.getContainerClient(container).getBlockBlobClient(blobName);
  const pinned = input.package.etag;
  let properties;
  try {
    properties = await client.getProperties(pinned ? { conditions: { ifMatch: pinned } } : {});
  } catch (error) {
    throw pinnedReadError(error, input);
  }
  if (pinned && properties.etag && normalizeEtag(pinned) !== normalizeEtag(properties.etag)) throw await packageChanged(input, client);
  const reader = blobRangeReader(client, properties.contentLength ?? 0, properties.etag ?? pinned, input);
  // Signature rules (PKG010-PKG017) apply to a signed CAB; an unsigned one is not refused here
  // (attestation intent is not asserted: the emulator and existing flows sign unsigned test CABs).
  const options = { maxPackageBytes: deps.config.settings.MAX_PACKAGE_BYTES };
  // HLK archives carry no INFs the rules read (the driver is inside the HLK results): no hardware ids.
  let report;
  try {
    report = extension === ".cab" ? await checkPackage(reader, options) : await checkHlkx(reader, options);
  } catch (error) {
    if (!(error instanceof PreflightBudgetExceeded)) throw error;
    deps.log(`Preflight of ${container}/${blobName}: not inspected (${error.message}), ${reader.bytesRead} of ${reader.size} bytes read`);
    const message = `Not inspected: ${error.message}. The package goes to Microsoft without these checks (driver-sign check reads it whole)`;
    return { verdict: "warnings", findings: [{ code: RULES.notInspected.code, severity: "warning", message, file: null, line: null }], hardwareIds: [], bytesRead: reader.bytesRead, infs: [] };
  }

  const hardwareIds = [...new Set(report.drivers.flatMap((driver) => driver.infs.flatMap((inf) => inf.hardwareIds)))];
  // Per INF for the label preview, within the same bound on hardware ids in all.
  const infs: PreflightInf[] = [];
  let idsLeft = MAX_HARDWARE_IDS;
  for (const inf of report.drivers.flatMap((driver) => driver.infs).slice(0, MAX_INFS)) {
    const ids = inf.hardwareIds.slice(0, idsLeft);
    idsLeft -= ids.length;
    const driverVersion = inf.driverVer?.split(",")[1]?.trim();
    infs.push({ path: inf.path, architectures: inf.architectures, hardwareIds: ids, ...(driverVersion ? { driverVersion } : {}) });
  }
  deps.log(`Preflight of ${container}/${blobName}: ${report.verdict}, ${report.findings.length} findings, ${hardwareIds.length} hardware ids, ${reader.bytesRead} of ${reader.size} bytes read`);
  return {
    verdict: report.verdict,
    findings: boundedFindings(report.findings),
    hardwareIds: hardwareIds.slice(0, MAX_HARDWARE_IDS),
    bytesRead: reader.bytesRead,
    infs,
  };
}

function boundedFindings(findings: PreflightFinding[]): PreflightFinding[] {
  if (findings.length <= MAX_FINDINGS) return findings;
  const kept = findings.slice(0, MAX_FINDINGS);
  const rest = findings.slice(MAX_FINDINGS);
  const errors = rest.filter((f) => f.severity === "error").length;
  return [...kept, { code: "PKG-MORE", severity: errors > 0 ? "error" : "warning", message: `${rest.length} more findings (${errors} errors) not listed: run driver-sign check on the package`, file: null, line: null }];
}

/**
 * A small read fetches this much (clipped to the blob) and later reads inside it are served from it:
 * an HLKX entry's local header, its extra field and the next small entry's header cost one GET, not
 * one each (a package of thousands of parts would otherwise be thousands of round trips).
 */
export const READ_AHEAD_BYTES = 16 * 1024;

/** A range reader over the blob: every GET conditional on the ETag, each range bounded, a total budget. */
function blobRangeReader(client: BlockBlobClient, size: number, etag: string | undefined, input: PreflightPackageInput): RangeReader & { bytesRead: number } {
  let window: { offset: number; bytes: Uint8Array } | undefined;
  const reader = {
    size,
    bytesRead: 0,
    read: async (offset: number, length: number): Promise<Uint8Array> => {
      if (offset < 0 || length < 0 || offset + length > size) throw new RangeError(`read ${offset}+${length} is outside 0..${size}`);
      if (length === 0) return new Uint8Array(0);
      if (window && offset >= window.offset && offset + length <= window.offset + window.bytes.length) {
        return window.bytes.subarray(offset - window.offset, offset - window.offset + length);
      }
      if (length > MAX_RANGE_BYTES) throw new PreflightBudgetExceeded(`it would read ${length} bytes at once (a table over the ${MAX_RANGE_BYTES}-byte cap of one read)`);
      const fetchLength = length < READ_AHEAD_BYTES ? Math.min(READ_AHEAD_BYTES, size - offset) : length;
      if (reader.bytesRead + fetchLength > MAX_PREFLIGHT_READ_BYTES) {
        throw new PreflightBudgetExceeded(`it would read over ${MAX_PREFLIGHT_READ_BYTES} bytes of the package (the cap of one preflight)`);
      }
      let buffer: Buffer;
      try {
        buffer = await client.downloadToBuffer(offset, fetchLength, { conditions: etag ? { ifMatch: etag } : {}, concurrency: 1, blockSize: fetchLength });
      } catch (error) {
        throw pinnedReadError(error, input);
      }
      reader.bytesRead += buffer.length;
      const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
      if (fetchLength > length) window = { offset, bytes };
      return bytes.subarray(0, length);
    },
  };
  return reader;
}

function pinnedReadError(error: unknown, input: PreflightPackageInput): Error {
  const status = (error as { statusCode?: number }).statusCode;
  if (status === 412) return new TerminalActivityError(changedText(input, undefined));
  if (status === 404) return new TerminalActivityError(`Package ${input.package.container}/${input.package.blobName} does not exist (any more); nothing was created at Microsoft`);
  return error as Error;
}

async function packageChanged(input: PreflightPackageInput, client: BlockBlobClient): Promise<TerminalActivityError> {
  const now = await client.getProperties().then((p) => p.etag, () => undefined);
  return new TerminalActivityError(changedText(input, now));
}

function changedText(input: PreflightPackageInput, nowEtag: string | undefined): string {
  const { container, blobName } = input.package;
  return (
    `Package ${container}/${blobName} changed since the run started (pinned ETag ${input.package.etag ?? "(unknown)"}, now ${nowEtag ?? "a different version"}); ` +
    "nothing was created at Microsoft. Drop it again to sign the new version"
  );
}
