/**
 * Preproduction signing in the Hardware Dev Center emulator (reference/hdc-api.md section f):
 * PUT /hardware/preprod/packages/ with the raw package as the body, GET of the package with its
 * signingStatus (NotStarted, then Processing, then Succeeded or Failed on the emulator clock), the
 * asset list as a bare JSON array (f.4.1), one asset as a plain object, and the download of the
 * SignedFilesZip whose contentHash is the SHA-256 of exactly the bytes served. A failed package
 * carries error.message (sized when asked, to prove a long message survives whole).
 *
 * Configuration rides on the emulator behaviour under the key `preprod`; a package keeps the
 * settings it was uploaded with. Packages live in memory (signed zips in Azurite).
 */
import * as crypto from "node:crypto";
import { BlobServiceClient } from "@azure/storage-blob";
import type { EmulatorClock } from "./clock";
import { sizedErrorReport, type PreprodBehaviour } from "./hdcBehaviour";
import { EmulatorRequest, EmulatorResponse, jsonResponse } from "./httpServer";

export const PREPROD_CONTAINER = "hdc-preprod";

export const DEFAULT_PREPROD_BEHAVIOUR: PreprodBehaviour = {
  notStartedSeconds: 10,
  processingSeconds: 60,
  outcome: "succeeded",
  failureMessage: "Preproduction signing failed: the package signature could not be validated (scripted by the emulator).",
  statusCase: "pascal",
  contentHashEncoding: "hex",
  corruptContentHash: false,
};

export function resolvePreprodBehaviour(patch: unknown): PreprodBehaviour {
  const merged = { ...DEFAULT_PREPROD_BEHAVIOUR, ...(patch && typeof patch === "object" ? patch : {}) } as PreprodBehaviour;
  const problems: string[] = [];
  for (const key of ["notStartedSeconds", "processingSeconds"] as const) {
    if (!Number.isFinite(merged[key]) || merged[key] < 0) problems.push(`preprod.${key} must be a number >= 0`);
  }
  if (!["succeeded", "failed"].includes(merged.outcome)) problems.push("preprod.outcome must be succeeded or failed");
  if (!["pascal", "camel", "upper"].includes(merged.statusCase)) problems.push("preprod.statusCase must be pascal, camel or upper");
  if (!["hex", "base64"].includes(merged.contentHashEncoding)) problems.push("preprod.contentHashEncoding must be hex or base64");
  if (typeof merged.failureMessage !== "string") problems.push("preprod.failureMessage must be a string");
  const bytes = merged.failureMessageBytes;
  if (bytes !== undefined && bytes !== null && !(Number.isInteger(bytes) && bytes >= 64 && bytes <= 16 * 1024 * 1024)) {
    problems.push("preprod.failureMessageBytes must be an integer from 64 to 16777216");
  }
  if (problems.length > 0) throw new Error(`Invalid emulator behaviour: ${problems.join("; ")}`);
  return merged;
}

interface PreprodRecord {
  id: string;
  etag: string;
  createdMs: number;
  createdIso: string;
  upload: { length: number; sha256: string };
  settings: PreprodBehaviour;
  signed?: { assetId: string; blob: string; sha256: Buffer; length: number; createdIso: string };
  signing?: Promise<void>;
}

export interface PreprodSummary {
  id: string;
  signingStatus: string;
  upload: { length: number; sha256: string };
  signedZip?: { container: string; blob: string; length: number; sha256: string };
}

export interface PreprodRoutes {
  route(request: EmulatorRequest): { kind: string; run(): Promise<EmulatorResponse> } | undefined;
  summary(): PreprodSummary[];
  reset(): void;
}

type Phase = "NotStarted" | "Processing" | "Succeeded" | "Failed";

function spelled(phase: Phase, settings: PreprodBehaviour): string {
  const text = phase === "Processing" && settings.processingStatusText ? settings.processingStatusText : phase;
  if (settings.statusCase === "camel") return text.charAt(0).toLowerCase() + text.slice(1);
  if (settings.statusCase === "upper") return text.toUpperCase();
  return text;
}

// ---- A stored zip (no compression), enough for "a zip of the signed driver files" ----------------

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A zip with the given files stored as they are (method 0); a fixed date so the same input gives the same bytes. */
export function storedZip(files: { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const file of files) {
    const name = Buffer.from(file.name, "utf8");
    const crc = crc32(file.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x5a21, 12); // 2025-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(file.data.length, 18);
    local.writeUInt32LE(file.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x5a21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(file.data.length, 20);
    central.writeUInt32LE(file.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, file.data);
    centrals.push(central, name);
    offset += local.length + name.length + file.data.length;
  }
  const centralSize = centrals.reduce((sum, part) => sum + part.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

// ------------------------------------------------------------------------------------------

export function createPreprodRoutes(options: {
  clock: EmulatorClock;
  azuriteConnectionString: string;
  behaviour: () => Partial<PreprodBehaviour> | undefined;
  basePath: string;
}): PreprodRoutes {
  const { clock } = options;
  const packages = new Map<string, PreprodRecord>();
  const container = BlobServiceClient.fromConnectionString(options.azuriteConnectionString).getContainerClient(PREPROD_CONTAINER);
  let containerReady: Promise<unknown> | undefined;
  // Decimal 64-bit ids as strings (the docs type id as a string).
  let counter = 0n;
  const nextId = () => (2305843009213693951n + ++counter).toString();

  const error = (status: number, kind: string, code: string, message: string) =>
    jsonResponse(status, kind, { error: { code, message, httpErrorCode: status } });

  function phaseOf(record: PreprodRecord): Phase {
    const elapsed = (clock.nowMs() - record.createdMs) / 1000;
    if (elapsed < record.settings.notStartedSeconds) return "NotStarted";
    if (elapsed < record.settings.notStartedSeconds + record.settings.processingSeconds) return "Processing";
    return record.settings.outcome === "succeeded" ? "Succeeded" : "Failed";
  }

  function failureMessage(record: PreprodRecord): string {
    const { failureMessage: head, failureMessageBytes } = record.settings;
    return failureMessageBytes ? sizedErrorReport(head, failureMessageBytes) : head;
  }

  function contentHash(record: PreprodRecord): string | undefined {
    if (!record.signed) return undefined;
    const digest = Buffer.from(record.signed.sha256);
    if (record.settings.corruptContentHash) digest[0] = digest[0]! ^ 0xff;
    return record.settings.contentHashEncoding === "base64" ? digest.toString("base64") : digest.toString("hex").toUpperCase();
  }

  function assetJson(record: PreprodRecord) {
    if (!record.signed) return [];
    return [{ id: record.signed.assetId, packageId: record.id, assetType: "SignedFilesZip", createdDate: record.signed.createdIso, contentHash: contentHash(record) }];
  }

  function packageJson(record: PreprodRecord) {
    const phase = phaseOf(record);
    return {
      id: record.id,
      etag: record.etag,
      lastModified: phase === "NotStarted" ? record.createdIso : clock.iso(),
      signingStatus: spelled(phase, record.settings),
      error: phase === "Failed" ? { message: failureMessage(record) } : null,
      assets: phase === "Succeeded" ? assetJson(record) : [],
      assetsContinuationToken: null,
    };
  }

  async function put(request: EmulatorRequest): Promise<EmulatorResponse> {
    const kind = "createPreprodPackage";
    if (request.body.length === 0) return error(400, kind, "invalidInput", "The request body must be the package (an EV-signed cab or zip); it was empty.");
    const contentType = String(request.headers["content-type"] ?? "application/octet-stream").split(";")[0]!.trim().toLowerCase();
    if (contentType !== "application/octet-stream") return error(415, kind, "unsupportedMediaType", `Content-Type must be application/octet-stream, not ${contentType}.`);
    const id = nextId();
    const settings = resolvePreprodBehaviour(options.behaviour());
    const record: PreprodRecord = {
      id,
      etag: `"${crypto.randomUUID()}"`,
      createdMs: clock.nowMs(),
      createdIso: clock.iso(),
      upload: { length: request.body.length, sha256: crypto.createHash("sha256").update(request.body).digest("hex") },
      settings,
    };
    packages.set(id, record);
    if (settings.outcome === "succeeded") {
      // "Signing": the uploaded package plus a signature note, in a zip kept in Azurite.
      const zip = storedZip([
        { name: "package/driver-package.bin", data: request.body },
        { name: "PreprodSignature.txt", data: Buffer.from(`Preproduction-signed by the HDC emulator for package ${id} (sha256 ${record.upload.sha256}).\n`) },
      ]);
      const blob = `${id}/SignedFilesZip.zip`;
      record.signing = (async () => {
        containerReady ??= container.createIfNotExists();
        await containerReady;
        await container.getBlockBlobClient(blob).uploadData(zip, { blobHTTPHeaders: { blobContentType: "application/zip" } });
        record.signed = { assetId: `${id}1`, blob, sha256: crypto.createHash("sha256").update(zip).digest(), length: zip.length, createdIso: clock.iso() };
      })();
      await record.signing;
    }
    return jsonResponse(200, kind, packageJson(record));
  }

  function route(request: EmulatorRequest): { kind: string; run(): Promise<EmulatorResponse> } | undefined {
    const relative = request.path.slice(options.basePath.length);
    const parts = relative.replace(/\/+$/, "").split("/");
    if (parts[0] !== "hardware" || parts[1] !== "preprod" || parts[2] !== "packages") return undefined;
    const [, , , packageId, assetsSegment, assetId, action] = parts;
    const method = request.method;
    if (packageId === undefined) return method === "PUT" ? { kind: "createPreprodPackage", run: () => put(request) } : undefined;
    const withPackage = (kind: string, then: (record: PreprodRecord) => Promise<EmulatorResponse> | EmulatorResponse) => ({
      kind,
      run: async () => {
        const record = packages.get(packageId);
        return record ? then(record) : error(404, kind, "entityNotFound", "Package not found");
      },
    });
    if (method !== "GET") return undefined;
    if (assetsSegment === undefined) return withPackage("getPreprodPackage", (record) => jsonResponse(200, "getPreprodPackage", packageJson(record)));
    if (assetsSegment !== "assets") return undefined;
    const succeededAssets = (record: PreprodRecord) => (phaseOf(record) === "Succeeded" ? assetJson(record) : []);
    // The quirk: a bare array, not {value: [...]}.
    if (assetId === undefined) return withPackage("listPreprodAssets", (record) => jsonResponse(200, "listPreprodAssets", succeededAssets(record)));
    const withAsset = (kind: string, then: (record: PreprodRecord) => Promise<EmulatorResponse> | EmulatorResponse) =>
      withPackage(kind, (record) => (succeededAssets(record).some((asset) => asset.id === assetId) ? then(record) : error(404, kind, "entityNotFound", "Asset not found")));
    if (action === undefined) return withAsset("getPreprodAsset", (record) => jsonResponse(200, "getPreprodAsset", succeededAssets(record)[0]));
    if (action === "download") {
      return withAsset("downloadPreprodAsset", async (record) => {
        const body = await container.getBlockBlobClient(record.signed!.blob).downloadToBuffer();
        return { status: 200, kind: "downloadPreprodAsset", headers: { "content-type": "application/zip" }, body };
      });
    }
    return undefined;
  }

  return {
    route,
    summary: () =>
      [...packages.values()].map((record) => ({
        id: record.id,
        signingStatus: phaseOf(record),
        upload: { ...record.upload },
        ...(record.signed ? { signedZip: { container: PREPROD_CONTAINER, blob: record.signed.blob, length: record.signed.length, sha256: record.signed.sha256.toString("hex") } } : {}),
      })),
    reset: () => packages.clear(),
  };
}
