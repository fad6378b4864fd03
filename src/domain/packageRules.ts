/**
 * What counts as a driver package, and how its name maps to product defaults. Pure functions shared
 * by the Event Grid trigger and the HTTP trigger so both reach the same decision for the same blob.
 */
import type { TestHarness } from "./types";

export const PACKAGE_EXTENSIONS = [".hlkx", ".hckx", ".cab"] as const;
export type PackageExtension = (typeof PACKAGE_EXTENSIONS)[number];

const HARNESS_BY_EXTENSION: Record<PackageExtension, TestHarness> = {
  ".hlkx": "hlk",
  ".hckx": "hck",
  ".cab": "attestation",
};

export const SIDECAR_SUFFIX = ".json";
/** A sidecar is read into memory; anything bigger is not a product description. */
export const MAX_SIDECAR_BYTES = 64 * 1024;
export const MAX_BLOB_NAME_LENGTH = 1024;

/** The package extension of a blob name (case-insensitive), or undefined if it is not a package. */
export function packageExtension(blobName: string): PackageExtension | undefined {
  const lower = blobName.toLowerCase();
  return PACKAGE_EXTENSIONS.find((extension) => lower.endsWith(extension) && lower.length > extension.length);
}

/** .hlkx → hlk, .hckx → hck, .cab → attestation. */
export function harnessForExtension(extension: PackageExtension): TestHarness {
  return HARNESS_BY_EXTENSION[extension];
}

export function isSidecarName(blobName: string): boolean {
  return blobName.toLowerCase().endsWith(SIDECAR_SUFFIX);
}

/** `<package>.json`, the optional product description dropped next to a package. */
export function sidecarNameFor(packageBlobName: string): string {
  return `${packageBlobName}${SIDECAR_SUFFIX}`;
}

/** "folder/contoso-usb-2.3.1.hlkx" → "contoso-usb-2.3.1": the default product name. */
export function packageBaseName(blobName: string): string {
  const fileName = blobName.slice(blobName.lastIndexOf("/") + 1);
  const extension = packageExtension(fileName);
  return extension ? fileName.slice(0, fileName.length - extension.length) : fileName;
}

// eslint-disable-next-line no-control-regex
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** Why a blob name is unsafe to act on, or undefined when it is fine. */
export function blobNameProblem(blobName: string): string | undefined {
  if (blobName.length === 0) return "must not be empty";
  if (blobName.length > MAX_BLOB_NAME_LENGTH) return `must be at most ${MAX_BLOB_NAME_LENGTH} characters`;
  if (blobName.startsWith("/")) return "must not start with '/'";
  if (CONTROL_CHARACTERS.test(blobName)) return "must not contain control characters";
  // Backslashes are path separators to Windows tools and to URL parsers ("..\\" climbs like "../"),
  // and a percent-encoded name may be decoded once on its way to storage: check every reading.
  for (const reading of [blobName, percentDecoded(blobName)]) {
    if (/^[\\/]/.test(reading) || /^[A-Za-z]:/.test(reading)) return "must be a relative path (no leading '/', '\\' or drive letter)";
    const segments = reading.split(/[\\/]/);
    if (segments.includes("..")) return "must not contain '..' segments";
    // Storage URLs drop "." segments ("a/./b" is stored as "a/b"), and Azure's naming rules say no
    // segment may end in "."; an empty segment ("a//b", a trailing "/") is as ambiguous. Refused, not
    // normalised: the name a caller or event gives must be the blob storage holds, or the instance id
    // (derived from the name) would differ from that of the same blob under its real name.
    if (segments.some((segment) => segment.endsWith("."))) return "must not contain '.' segments or segments ending in '.'";
    if (segments.includes("")) return "must not contain empty segments ('//' or a trailing '/')";
    if (CONTROL_CHARACTERS.test(reading)) return "must not contain control characters";
  }
  return undefined;
}

function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const CONTAINER_NAME = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/;

export function containerNameProblem(container: string): string | undefined {
  return CONTAINER_NAME.test(container)
    ? undefined
    : "must be a valid storage container name (3-63 lowercase letters, digits and single dashes)";
}

/**
 * Containers the Functions host and the Durable extension keep for themselves: azure-webjobs-hosts,
 * azure-webjobs-secrets (function keys), and the task hub's "<hub>-leases" / "<hub>-largemessages".
 * Packages are never read from them, whatever the settings say.
 */
export function isHostContainer(container: string, taskHubName?: string): boolean {
  if (container.startsWith("azure-webjobs-")) return true;
  if (/-(leases|largemessages|applease)$/.test(container)) return true;
  return taskHubName !== undefined && taskHubName !== "" && container.startsWith(`${taskHubName.toLowerCase()}-`);
}

/** Why a blob cannot be a package (extension or size), or undefined when it can. */
export function packageProblem(blobName: string, contentLength: number | undefined): string | undefined {
  if (!packageExtension(blobName)) return `must end in ${PACKAGE_EXTENSIONS.join(", ")}`;
  if (contentLength === 0) return "is empty (0 bytes)";
  return undefined;
}

/** Event Grid blob subjects look like "/blobServices/default/containers/<container>/blobs/<name>". */
export function parseBlobSubject(subject: string): { container: string; blobName: string } | undefined {
  const match = /^\/blobServices\/default\/containers\/([^/]+)\/blobs\/(.+)$/.exec(subject);
  if (!match) return undefined;
  return { container: match[1], blobName: match[2] };
}
