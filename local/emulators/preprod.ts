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
import { preprodBehaviourProblems, sizedErrorReport, type PreprodBehaviour } from "./hdcBehaviour";
import { EmulatorRequest, EmulatorResponse, jsonResponse } from "./httpServer";
import { zipStore } from "../samplePackage";

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

/** The settings a new package gets: the defaults under what was set (checked when set, by hdcBehaviour). */
export function resolvePreprodBehaviour(patch: unknown): PreprodBehaviour {
  const problems = patch === undefined ? [] : preprodBehaviourProblems(patch);
  if (problems.length > 0) throw new Error(`Invalid emulator behaviour: ${problems.join("; ")}`);
  const set = Object.fromEntries(Object.entries((patch ?? {}) as object).filter(([, value]) => value !== undefined && value !== null));
  return { ...DEFAULT_PREPROD_BEHAVIOUR, ...set } as PreprodBehaviour;
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
      // A fixed date, so the same upload gives the same bytes.
      const zip = zipStore(
        [
          { name: "package/driver-package.bin", data: request.body },
          { name: "PreprodSignature.txt", data: Buffer.from(`Preproduction-signed by the HDC emulator for package ${id} (sha256 ${record.upload.sha256}).\n`) },
        ],
        new Date(Date.UTC(2025, 0, 1)),
      );
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
