/**
 * Preproduction signing (reference/hdc-api.md section f): the signing kinds a run may ask for,
 * how a package's signingStatus reads, and the check of a downloaded asset's contentHash.
 */

/** What a run asks Microsoft for: "product" is today's submission; "preproduction" the preprod package API. */
export type SigningKind = "product" | "preproduction";

/** signingStatus as the app acts on it; anything unrecognised is "unknown" and keeps the wait going. */
export type PreprodPhase = "notStarted" | "processing" | "succeeded" | "failed" | "unknown";

const PHASES: Record<string, PreprodPhase> = {
  notstarted: "notStarted",
  processing: "processing",
  succeeded: "succeeded",
  failed: "failed",
};

/** Compared without case (the service mixes camelCase and PascalCase elsewhere; sdcm ignores case too). */
export function preprodPhase(signingStatus: unknown): PreprodPhase {
  if (typeof signingStatus !== "string") return "unknown";
  return PHASES[signingStatus.trim().toLowerCase()] ?? "unknown";
}

/** The only documented asset type: a zip of the signed driver files. */
export const SIGNED_FILES_ZIP = "SignedFilesZip";

export function isSignedFilesZip(assetType: unknown): boolean {
  return typeof assetType === "string" && assetType.trim().toLowerCase() === SIGNED_FILES_ZIP.toLowerCase();
}

/**
 * Whether `contentHash` names the SHA-256 `digest`. The docs say SHA-256 without the encoding, so
 * hex (any case) and base64 are both accepted; anything else (empty, another length) is not a match.
 */
export function contentHashMatches(contentHash: unknown, digest: Uint8Array): boolean {
  if (typeof contentHash !== "string") return false;
  const given = contentHash.trim();
  const bytes = Buffer.from(digest);
  if (bytes.length !== 32 || given === "") return false;
  if (/^[0-9a-f]{64}$/i.test(given)) return given.toLowerCase() === bytes.toString("hex");
  return given.replace(/=+$/, "") === bytes.toString("base64").replace(/=+$/, "");
}
