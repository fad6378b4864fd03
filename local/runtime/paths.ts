/** Paths of the repository, valid both from TypeScript sources (ts-jest) and from dist/. */
import * as fs from "node:fs";
import * as path from "node:path";

function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(path.join(dir, "host.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`No repository root (package.json + host.json) above ${start}`);
  }
}

export const REPO_ROOT = findRepoRoot(__dirname);
export const DIST_DIR = path.join(REPO_ROOT, "dist");
export const RUNTIME_MAIN = path.join(DIST_DIR, "local", "runtime", "main.js");
export const APP_ENTRY = path.join(DIST_DIR, "src", "index.js");
export const LOCAL_DATA_DIR = path.join(REPO_ROOT, ".local-data");
export const HOST_JSON = path.join(REPO_ROOT, "host.json");
