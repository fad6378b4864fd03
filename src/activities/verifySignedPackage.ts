/**
 * The check of Microsoft's signed package before the run is a success (issue 36): the signed zip
 * downloadSignedPackage stored and the submitted CAB (pinned to the run's ETag) are read through
 * ranged GETs, and src/preflight/signedPackage.ts verifies every driver folder's catalog (signature,
 * WHQL EKU, chain to a trusted root) and every INF against the submitted one. Trusted roots:
 * Microsoft's (src/preflight/trustedRoots.ts), plus SIGNED_PACKAGE_TRUSTED_ROOTS in local runs.
 * A failed verdict is returned for the orchestrator to fail the run with; only a package that
 * cannot be read at all (changed, gone) is a terminal error here.
 */
import * as fs from "node:fs";
import type { BlockBlobClient } from "@azure/storage-blob";
import { normalizeEtag } from "../domain/instanceId";
import { packageExtension } from "../domain/packageRules";
import { CabFormatError } from "../preflight/cab";
import type { RangeReader } from "../preflight/rangeReader";
import { verifySignedPackage as verifyPackages } from "../preflight/signedPackage";
import { certificatesFromPem, microsoftRoots } from "../preflight/trustedRoots";
import type { VerifySignedPackageInput, VerifySignedPackageOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { TerminalActivityError } from "./errors";

/** The largest single ranged read (a catalog, an INF, the zip's central directory). */
export const MAX_VERIFY_RANGE_BYTES = 64 * 1024 * 1024;
/** Bytes both packages may have read in total for one check. */
export const MAX_VERIFY_READ_BYTES = 1024 * 1024 * 1024;

export async function verifySignedPackage(input: VerifySignedPackageInput, deps: ActivityDeps): Promise<VerifySignedPackageOutput> {
  if (packageExtension(input.package.blobName) !== ".cab") {
    return {
      verdict: "notApplicable",
      reason: "the submitted package is an HLK archive (.hlkx/.hckx), not a CAB: its INFs are not compared and its catalogs not checked here",
      catalogCount: 0,
      infCount: 0,
      catalogs: [],
      infs: [],
      failures: [],
    };
  }
  const budget = { read: 0 };
  const signedClient = deps.blobService.getContainerClient(input.signedPackage.container).getBlockBlobClient(input.signedPackage.blobName);
  const submittedClient = deps.blobService.getContainerClient(input.package.container).getBlockBlobClient(input.package.blobName);
  const signed = await pinnedReader(signedClient, undefined, `signed package ${input.signedPackage.container}/${input.signedPackage.blobName}`, budget);
  const submitted = await pinnedReader(submittedClient, input.package.etag, `package ${input.package.container}/${input.package.blobName}`, budget);

  let result: VerifySignedPackageOutput;
  try {
    result = await verifyPackages(signed, submitted, { trustedRoots: trustedRoots(deps), at: new Date() });
  } catch (error) {
    if (error instanceof CabFormatError) throw new TerminalActivityError(`The submitted package ${input.package.blobName} is not a readable cabinet, so its INFs cannot be compared: ${error.message}`);
    throw error;
  }
  const roots = [...new Set(result.catalogs.map((c) => c.rootThumbprintSha256))].join(", ") || "(none)";
  deps.log(
    `Signed package of ${input.instanceId}: ${result.verdict}; ${result.catalogCount} catalogs (roots ${roots}), ${result.infs.length} of ${result.infCount} INFs identical, ` +
      `${result.failures.length} failures, ${budget.read} bytes read`,
  );
  return result;
}

/** Microsoft's roots, plus the local test roots when configured (config.ts allows that only against the emulator). */
function trustedRoots(deps: ActivityDeps) {
  const extra = deps.config.settings.SIGNED_PACKAGE_TRUSTED_ROOTS;
  if (!extra) return microsoftRoots();
  let text: string;
  try {
    text = fs.readFileSync(extra, "utf8");
  } catch (error) {
    throw new TerminalActivityError(`SIGNED_PACKAGE_TRUSTED_ROOTS names ${extra}, which cannot be read: ${(error as Error).message}`);
  }
  return [...microsoftRoots(), ...certificatesFromPem(text, "SIGNED_PACKAGE_TRUSTED_ROOTS")];
}

/** A range reader over a blob, every GET conditional on the ETag it had when the check began (or `etag`). */
async function pinnedReader(client: BlockBlobClient, etag: string | undefined, what: string, budget: { read: number }): Promise<RangeReader> {
  let properties;
  try {
    properties = await client.getProperties(etag ? { conditions: { ifMatch: etag } } : {});
  } catch (error) {
    throw readError(error, what, etag);
  }
  if (etag && properties.etag && normalizeEtag(etag) !== normalizeEtag(properties.etag)) throw readError({ statusCode: 412 }, what, etag);
  const pinned = properties.etag ?? etag;
  const size = properties.contentLength ?? 0;
  return {
    size,
    read: async (offset, length) => {
      if (offset < 0 || length < 0 || offset + length > size) throw new RangeError(`read ${offset}+${length} is outside 0..${size}`);
      if (length === 0) return new Uint8Array(0);
      if (length > MAX_VERIFY_RANGE_BYTES) throw new TerminalActivityError(`Checking the ${what} would read ${length} bytes at once, over the ${MAX_VERIFY_RANGE_BYTES}-byte cap`);
      if (budget.read + length > MAX_VERIFY_READ_BYTES) throw new TerminalActivityError(`Checking the signed package would read over ${MAX_VERIFY_READ_BYTES} bytes; set VERIFY_SIGNED_PACKAGE=off for this package`);
      let bytes: Buffer;
      try {
        bytes = await client.downloadToBuffer(offset, length, { conditions: pinned ? { ifMatch: pinned } : {}, concurrency: 1, blockSize: length });
      } catch (error) {
        throw readError(error, what, pinned);
      }
      budget.read += bytes.length;
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    },
  };
}

function readError(error: unknown, what: string, etag: string | undefined): Error {
  const status = (error as { statusCode?: number }).statusCode;
  if (status === 412) return new TerminalActivityError(`The ${what} changed while it was being checked (pinned ETag ${etag ?? "(unknown)"}); its INFs cannot be compared with the signed package`);
  if (status === 404) return new TerminalActivityError(`The ${what} does not exist (any more); the signed package cannot be checked against it`);
  return error as Error;
}
