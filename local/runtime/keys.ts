/**
 * Host keys, as the Functions host manages them: a master key, a default host function key and
 * the system keys of the extensions the app uses (durabletask_extension, eventgrid_extension).
 * Created once, random and URL-safe, in a JSON file of the runtime's data folder (mode 0600), and
 * reused on every restart. Callers present a key in the `x-functions-key` header or the `code`
 * query parameter; the values are never logged, only the file's path.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";

export const SYSTEM_KEY_NAMES = ["durabletask_extension", "eventgrid_extension"] as const;
export type SystemKeyName = (typeof SYSTEM_KEY_NAMES)[number];

const keyValue = z.string().regex(/^[A-Za-z0-9_-]{32,}$/, "must be a URL-safe key of at least 32 characters");
const hostKeysSchema = z.object({
  masterKey: keyValue,
  functionKeys: z.object({ default: keyValue }).catchall(keyValue),
  systemKeys: z.object({ durabletask_extension: keyValue, eventgrid_extension: keyValue }).catchall(keyValue),
});

export type HostKeys = z.infer<typeof hostKeysSchema>;

/** The authorization levels of @azure/functions' HTTP triggers, plus the extensions' system level. */
export type AuthLevel = "anonymous" | "function" | "admin";

const newKey = () => randomBytes(40).toString("base64url");

function createKeys(): HostKeys {
  return {
    masterKey: newKey(),
    functionKeys: { default: newKey() },
    systemKeys: { durabletask_extension: newKey(), eventgrid_extension: newKey() },
  };
}

/** Reads the keys file, or creates it (exclusively, mode 0600) when it does not exist yet. */
export function loadOrCreateHostKeys(file: string): { keys: HostKeys; created: boolean } {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  try {
    const keys = createKeys();
    fs.writeFileSync(file, JSON.stringify(keys, null, 2) + "\n", { mode: 0o600, flag: "wx" });
    return { keys, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`The host keys file ${file} is not valid JSON (${(error as Error).message}); delete it to create new keys`);
  }
  const checked = hostKeysSchema.safeParse(parsed);
  if (!checked.success) {
    const problems = checked.error.issues.map((issue) => `${issue.path.join(".") || "(root)"} ${issue.message}`).join("; ");
    throw new Error(`The host keys file ${file} is not valid: ${problems}; delete it to create new keys`);
  }
  return { keys: checked.data, created: false };
}

/** The key a request presents: the `x-functions-key` header wins over the `code` query parameter, as in the host. */
export function presentedKey(url: URL, headers: Record<string, string | string[] | undefined>): string | undefined {
  const header = headers["x-functions-key"];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  if (fromHeader) return fromHeader;
  return url.searchParams.get("code") ?? undefined;
}

/** Constant-time comparison (hashing first makes the lengths equal, so the length does not leak either). */
export function sameKey(presented: string, expected: string): boolean {
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function matchesAny(presented: string | undefined, candidates: string[]): boolean {
  if (!presented) return false;
  // Compare with every candidate (no early exit) so the time does not tell which one matched.
  let matched = false;
  for (const candidate of candidates) matched = sameKey(presented, candidate) || matched;
  return matched;
}

/** Whether `presented` opens an HTTP trigger of `level`: function keys and the master key for "function", only the master key for "admin". */
export function authorizedFor(level: AuthLevel, presented: string | undefined, keys: HostKeys): boolean {
  if (level === "anonymous") return true;
  if (level === "admin") return matchesAny(presented, [keys.masterKey]);
  return matchesAny(presented, [keys.masterKey, ...Object.values(keys.functionKeys)]);
}

/** Whether `presented` opens an extension's webhook: that extension's system key or the master key. */
export function authorizedForSystem(name: SystemKeyName, presented: string | undefined, keys: HostKeys): boolean {
  return matchesAny(presented, [keys.masterKey, keys.systemKeys[name]]);
}

/** Every key value, for leak scans. */
export function allKeyValues(keys: HostKeys): { name: string; value: string }[] {
  return [
    { name: "master key", value: keys.masterKey },
    ...Object.entries(keys.functionKeys).map(([name, value]) => ({ name: `function key ${name}`, value })),
    ...Object.entries(keys.systemKeys).map(([name, value]) => ({ name: `system key ${name}`, value })),
  ];
}
