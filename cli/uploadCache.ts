/**
 * Which upload this machine made for a file, so a re-run of the same command can tell the service
 * "I hold upload <id>, here is its key": the service answers "already uploaded" only to the holder
 * of the upload's key, and only for the version it pinned. One small JSON file (0600) per (API, file
 * name, SHA-256, size). The key is not a write credential (no SAS is kept here), but it is kept
 * private; a lost or unreadable cache only costs an upload.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export function defaultUploadCacheDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), ".cache");
  return path.join(base, "driver-sign", "uploads");
}

export interface UploadKey {
  apiBase: string;
  fileName: string;
  sha256: string;
  size: number;
}

function entryPath(dir: string, key: UploadKey): string {
  const digest = createHash("sha256").update(JSON.stringify([key.apiBase, key.fileName, key.sha256, key.size])).digest("hex");
  return path.join(dir, `${digest}.json`);
}

export interface RememberedUpload {
  uploadId: string;
  uploadKey: string;
}

export function rememberedUpload(dir: string, key: UploadKey): RememberedUpload | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(entryPath(dir, key), "utf8")) as { uploadId?: unknown; uploadKey?: unknown };
    if (typeof value.uploadId !== "string" || !/^[0-9a-f]{32}$/.test(value.uploadId)) return undefined;
    if (typeof value.uploadKey !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(value.uploadKey)) return undefined;
    return { uploadId: value.uploadId, uploadKey: value.uploadKey };
  } catch {
    return undefined;
  }
}

/** Best effort: returns why it could not remember, or undefined. */
export function rememberUpload(dir: string, key: UploadKey, upload: RememberedUpload): string | undefined {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(entryPath(dir, key), JSON.stringify({ ...upload, fileName: key.fileName, sha256: key.sha256 }), { mode: 0o600 });
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}
