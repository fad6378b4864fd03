/**
 * Which upload this machine made for a file, so a re-run of the same command can tell the service
 * "I hold upload <id>": the service answers "already uploaded" only to the holder of the upload's
 * id, and only for the version it pinned. One small JSON file per (API, file name, SHA-256, size).
 * An id is not a write credential (no SAS is kept here); a lost or unreadable cache only costs an upload.
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

export function rememberedUploadId(dir: string, key: UploadKey): string | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(entryPath(dir, key), "utf8")) as { uploadId?: unknown };
    return typeof value.uploadId === "string" && /^[0-9a-f]{32}$/.test(value.uploadId) ? value.uploadId : undefined;
  } catch {
    return undefined;
  }
}

/** Best effort: returns why it could not remember, or undefined. */
export function rememberUploadId(dir: string, key: UploadKey, uploadId: string): string | undefined {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(entryPath(dir, key), JSON.stringify({ uploadId, fileName: key.fileName, sha256: key.sha256 }), { mode: 0o600 });
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}
