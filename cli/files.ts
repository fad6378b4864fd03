/**
 * The CLI's file work: a streamed SHA-256 of the package, the block upload to the SAS URL the service
 * issued, and verified downloads of results. Memory stays bounded by block size × concurrency
 * whatever the package size.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BlockBlobClient } from "@azure/storage-blob";
import { safeText } from "./api";
import { CliError, ExitCode } from "./exitCodes";
import type { FileDocument } from "./output";

export const UPLOAD_BLOCK_BYTES = 8 * 1024 * 1024;
export const UPLOAD_CONCURRENCY = 4;

function ioError(what: string, error: unknown): CliError {
  const code = (error as NodeJS.ErrnoException).code;
  return new CliError(ExitCode.Io, `${what}: ${code ?? (error as Error).message}`);
}

/** SHA-256 (lower-case hex) and size of a file, read as a stream. */
export async function hashFile(filePath: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  try {
    for await (const chunk of fs.createReadStream(filePath, { highWaterMark: 1024 * 1024 })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (error) {
    throw ioError(`Reading ${filePath}`, error);
  }
  return { sha256: hash.digest("hex"), size };
}

export interface UploadOptions {
  metadata: Record<string, string>;
  blockBytes?: number;
  concurrency?: number;
  onProgress?: (uploadedBytes: number) => void;
}

/**
 * Uploads `filePath` to the write-only SAS URL in blocks of `blockBytes`, `concurrency` at a time,
 * each block read from disk as a stream; the metadata (the SHA-256) is set when the block list is
 * committed, so a blob with the metadata always holds all of its bytes.
 */
export async function uploadPackageFile(sasUrl: string, filePath: string, options: UploadOptions): Promise<void> {
  const blockBytes = options.blockBytes ?? UPLOAD_BLOCK_BYTES;
  const client = new BlockBlobClient(sasUrl);
  try {
    await client.uploadFile(filePath, {
      blockSize: blockBytes,
      concurrency: options.concurrency ?? UPLOAD_CONCURRENCY,
      // Anything above one block goes in blocks: a failed block is retried alone.
      maxSingleShotSize: blockBytes,
      metadata: options.metadata,
      blobHTTPHeaders: { blobContentType: "application/octet-stream" },
      onProgress: options.onProgress ? (progress) => options.onProgress?.(progress.loadedBytes) : undefined,
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code && !(error as { statusCode?: number }).statusCode) throw ioError(`Reading ${filePath}`, error);
    const status = (error as { statusCode?: number }).statusCode;
    // The SDK's message may quote the request URL: mask the signature.
    throw new CliError(ExitCode.ApiError, safeText(`Uploading the package failed${status ? ` (storage answered ${status})` : ""}: ${(error as Error).message}`));
  }
}

/** A result file name must be a plain name (it comes from a URL path). */
function safeFileName(name: string, fallback: string): string {
  const base = path.basename(name.replace(/\\/g, "/"));
  return base && base !== "." && base !== ".." ? base : fallback;
}

/**
 * Downloads a (read SAS) URL into `dir`, hashing as it streams, and checks what can be checked: the
 * byte count against Content-LENGTH, against the size the result manifest records (`expectedBytes`),
 * and the MD5 against the blob's Content-MD5 when storage has one. Written to a .partial file and
 * renamed only when every check passed.
 */
export async function downloadVerified(
  url: string,
  dir: string,
  kind: FileDocument["kind"],
  fallbackName: string,
  expectedBytes?: number,
): Promise<FileDocument> {
  let response: Response;
  try {
    // No key here: this URL is storage's, not our API's.
    response = await fetch(url, { signal: AbortSignal.timeout(30 * 60 * 1000) });
  } catch (error) {
    throw new CliError(ExitCode.ApiError, safeText(`Downloading the ${kind} failed: ${(error as Error).message}`));
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new CliError(ExitCode.ApiError, `Downloading the ${kind} failed: storage answered HTTP ${response.status}`);
  }
  const fileName = safeFileName(decodeURIComponent(new URL(url).pathname.split("/").pop() ?? ""), fallbackName);
  const target = path.join(dir, fileName);
  const partial = `${target}.partial`;
  const sha256 = createHash("sha256");
  const md5 = createHash("md5");
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sha256.update(chunk);
      md5.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  try {
    fs.mkdirSync(dir, { recursive: true });
    await pipeline(Readable.fromWeb(response.body as import("node:stream/web").ReadableStream), meter, fs.createWriteStream(partial));
  } catch (error) {
    fs.rmSync(partial, { force: true });
    throw ioError(`Writing ${target}`, error);
  }

  const verified: FileDocument["verified"] = [];
  const problems: string[] = [];
  const contentLength = response.headers.get("content-length");
  if (contentLength !== null) {
    if (Number(contentLength) === bytes) verified.push("contentLength");
    else problems.push(`received ${bytes} bytes, Content-Length said ${contentLength}`);
  }
  if (expectedBytes !== undefined) {
    if (expectedBytes === bytes) verified.push("manifestSize");
    else problems.push(`received ${bytes} bytes, the result manifest records ${expectedBytes}`);
  }
  const contentMd5 = response.headers.get("content-md5");
  if (contentMd5) {
    if (md5.digest("base64") === contentMd5) verified.push("contentMd5");
    else problems.push("the MD5 of the bytes differs from the blob's Content-MD5");
  }
  if (problems.length > 0) {
    fs.rmSync(partial, { force: true });
    throw new CliError(ExitCode.Io, `The downloaded ${kind} failed verification: ${problems.join("; ")}`);
  }
  try {
    fs.renameSync(partial, target);
  } catch (error) {
    throw ioError(`Writing ${target}`, error);
  }
  return { kind, path: target, bytes, sha256: sha256.digest("hex"), verified };
}
