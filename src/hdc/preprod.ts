/**
 * Preproduction signing (reference/hdc-api.md section f, E1-E5) on top of HdcClient: same pipeline
 * (token, retries, MS-CorrelationId/MS-RequestId), same lossless parsing, same HdcError.
 *
 * The package goes up as the raw body of PUT .../preprod/packages/ (no SAS): the caller hands a
 * stream factory, opened anew by every attempt. The PUT creates a package, so it is never re-sent
 * after a 5xx, a timeout or a dropped connection (a second package could result): the caller
 * records its intent first and reconciles (reference f.2 lists no way to find a package by name).
 */
import type { HttpMethods } from "@azure/core-rest-pipeline";
import { isSignedFilesZip } from "../domain/preprod";
import { HdcError, isRecord } from "./errors";
import type { StreamedBody } from "./types";

/** The requests the preprod operations need; HdcClient has them all. */
export interface PreprodRequester {
  requestJson(method: HttpMethods, path: string, expected: number[], body?: unknown, options?: { creates?: boolean }): Promise<unknown>;
  requestJsonWithBody(method: HttpMethods, path: string, expected: number[], body: StreamedBody, options?: { creates?: boolean; timeoutMs?: number }): Promise<unknown>;
  requestStream(path: string, expected: number[], options?: { timeoutMs?: number }): Promise<NodeJS.ReadableStream>;
}

export interface PreprodAsset {
  id: string;
  packageId: string;
  /** "SignedFilesZip" is the only documented value. */
  assetType?: string;
  createdDate?: string;
  /** SHA-256 of the content; hex or base64 is undocumented (contentHashMatches accepts both). */
  contentHash?: string;
  [field: string]: unknown;
}

export interface PreprodPackage {
  id: string;
  etag?: string;
  lastModified?: string;
  /** NotStarted, Processing, Succeeded, Failed (any case; read it with preprodPhase). */
  signingStatus?: string;
  error?: { message?: string; [field: string]: unknown } | null;
  assets?: PreprodAsset[];
  assetsContinuationToken?: string | null;
  [field: string]: unknown;
}

const PACKAGES = "hardware/preprod/packages";

/**
 * The id format is undocumented (unlike products, it may not be decimal): any plain path segment,
 * never something that could climb out of the path or add a query.
 */
function segment(name: string, value: string): string {
  if (typeof value !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$/.test(value)) {
    throw new TypeError(`${name} must be a plain id, got ${typeof value === "string" ? JSON.stringify(value) : typeof value}`);
  }
  return value;
}

const idText = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? value : typeof value === "number" || typeof value === "bigint" ? String(value) : undefined;

function invalid(method: string, path: string, why: string): HdcError {
  return new HdcError({ method, path: `/${path}`, code: "invalidResponse", summary: `invalid response: ${why}`, retryable: method === "GET" });
}

function asAsset(value: unknown, method: string, path: string, packageId: string, assetId?: string): PreprodAsset {
  if (!isRecord(value)) throw invalid(method, path, "expected an asset object");
  const id = idText(value.id) ?? assetId;
  if (id === undefined) throw invalid(method, path, "the asset has no id");
  // The docs' table spells it packageID, their JSON packageId (f.4): either, else the path's.
  return { ...value, id, packageId: idText(value.packageId) ?? idText(value.packageID) ?? packageId } as PreprodAsset;
}

function asPackage(value: unknown, method: string, path: string, packageId?: string): PreprodPackage {
  if (!isRecord(value)) throw invalid(method, path, "expected a package object");
  const id = idText(value.id) ?? packageId;
  if (id === undefined) throw invalid(method, path, "the package has no id");
  const error = isRecord(value.error) ? { ...value.error, ...(typeof value.error.message === "string" ? {} : { message: undefined }) } : null;
  const assets = Array.isArray(value.assets) ? value.assets.map((asset) => asAsset(asset, method, path, id)) : undefined;
  return {
    ...value,
    id,
    signingStatus: typeof value.signingStatus === "string" ? value.signingStatus : undefined,
    error,
    ...(assets ? { assets } : {}),
  } as PreprodPackage;
}

/** E1: PUT .../preprod/packages/ with the package as the whole body. Status undocumented: any 2xx with an id. */
export async function createPreprodPackage(
  client: PreprodRequester,
  body: { open: () => NodeJS.ReadableStream; contentLength?: number },
  options: { timeoutMs?: number } = {},
): Promise<PreprodPackage> {
  const path = `${PACKAGES}/`;
  const answer = await client.requestJsonWithBody(
    "PUT",
    path,
    [200, 201, 202],
    { open: body.open, contentLength: body.contentLength, contentType: "application/octet-stream" },
    { creates: true, ...options },
  );
  return asPackage(answer, "PUT", path);
}

/** E2: the package with its signingStatus, error and (once signed) assets. */
export async function getPreprodPackage(client: PreprodRequester, packageId: string): Promise<PreprodPackage> {
  const path = `${PACKAGES}/${segment("packageId", packageId)}`;
  return asPackage(await client.requestJson("GET", path, [200]), "GET", path, packageId);
}

/** E3: a bare JSON array (f.4.1), not {value: [...]}; the wrapped form is read too, in case that changes. */
export async function listPreprodAssets(client: PreprodRequester, packageId: string): Promise<PreprodAsset[]> {
  const path = `${PACKAGES}/${segment("packageId", packageId)}/assets`;
  const body = await client.requestJson("GET", path, [200]);
  const list = Array.isArray(body) ? body : isRecord(body) && Array.isArray(body.value) ? body.value : undefined;
  if (!list) throw invalid("GET", path, "expected a JSON array of assets");
  return list.map((item) => asAsset(item, "GET", path, packageId));
}

/** E4: one asset, a plain object. */
export async function getPreprodAsset(client: PreprodRequester, packageId: string, assetId: string): Promise<PreprodAsset> {
  const path = `${PACKAGES}/${segment("packageId", packageId)}/assets/${segment("assetId", assetId)}`;
  return asAsset(await client.requestJson("GET", path, [200]), "GET", path, packageId, assetId);
}

/** E5: the asset's bytes (a zip of the signed files), streamed; served by the API itself, not a SAS. */
export async function downloadPreprodAsset(
  client: PreprodRequester,
  packageId: string,
  assetId: string,
  options: { timeoutMs?: number } = {},
): Promise<NodeJS.ReadableStream> {
  const path = `${PACKAGES}/${segment("packageId", packageId)}/assets/${segment("assetId", assetId)}/download`;
  return client.requestStream(path, [200], options);
}

/** The first SignedFilesZip among the assets (sdcm's Preprod.ps1 takes the first too). */
export function findSignedFilesZip(assets: readonly PreprodAsset[]): PreprodAsset | undefined {
  return assets.find((asset) => isSignedFilesZip(asset.assetType));
}

/** Failed's error.message, whole (never cut here: the caller decides where it is kept). */
export function preprodFailureMessage(pkg: PreprodPackage): string | undefined {
  const message = pkg.error?.message;
  return typeof message === "string" && message.trim() !== "" ? message : undefined;
}
