/**
 * What `npm run record:replay-fixtures` (./recordReplayFixtures) does to a run before it becomes a fixture: per-run
 * values replaced with fixed ones of the same shape, and a refusal to write anything that looks secret.
 */
import type { EngineStatus, OrchestratorPayload } from "./engines";

/** Fixed stand-ins for per-run values, each distinguishable and of the same shape as the original. */
export function fixtureNormaliser(runs: { status: EngineStatus; payload: OrchestratorPayload }[], env: Record<string, string>): (value: unknown) => unknown {
  const ids = new Map<string, string>();
  const text = JSON.stringify(runs);
  // The emulator's numeric ids (also inside JSON-encoded results, where the quotes are escaped).
  let n = 0;
  for (const match of text.matchAll(/(productId|submissionId|sharedProductId|labelId)\\*":\\*"(\d+)/g)) {
    if (!ids.has(match[2])) ids.set(match[2], String(1000000000000000 + ++n));
  }
  // DTFx execution ids (32 hex digits).
  let e = 0;
  for (const match of text.matchAll(/"ExecutionId\\*":\\*"([0-9a-f]{32})/g)) {
    if (!ids.has(match[1])) ids.set(match[1], (++e).toString(16).padStart(32, "0"));
  }
  for (const run of runs) {
    const etag = (run.status.input as { package?: { etag?: unknown } } | null)?.package?.etag;
    if (typeof etag === "string" && etag.replace(/"/g, "") && !ids.has(etag.replace(/"/g, ""))) ids.set(etag.replace(/"/g, ""), `0x8DC0FFEE${String(ids.size).padStart(8, "0")}`);
  }
  if (env.HDC_TENANT_ID) ids.set(env.HDC_TENANT_ID, "00000000-0000-4000-8000-00000000a11d");
  if (env.HDC_CLIENT_ID) ids.set(env.HDC_CLIENT_ID, "00000000-0000-4000-8000-0000000c11e7");
  const replace = (s: string) => {
    let out = s;
    for (const [from, to] of ids) out = out.split(from).join(to);
    return out;
  };
  const walk = (value: unknown): unknown => {
    if (typeof value === "string") return replace(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  return walk;
}

/** Refuses a fixture holding a secret app setting's value, a SAS signature or a bearer token. */
export function assertNothingSecret(name: string, text: string, env: Record<string, string>): void {
  for (const [key, value] of Object.entries(env)) {
    if (/SECRET|KEY|PASSWORD|TOKEN|CONNECTION|SAS/i.test(key) && value.length >= 8 && text.includes(value)) {
      throw new Error(`record-replay-fixtures: ${name} holds the value of the app setting ${key}; not written`);
    }
  }
  if (/[?&]sig=|Bearer\s+ey|AccountKey=/i.test(text)) throw new Error(`record-replay-fixtures: ${name} holds a SAS signature, token or account key; not written`);
}
