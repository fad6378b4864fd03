/**
 * Every request any emulator answered, for tests and benchmarks ("how many token requests?",
 * "did the client honour Retry-After?"). Never holds secrets: no headers are kept, and SAS
 * signatures in query strings are redacted.
 */
export type EmulatorService = "hdc" | "entra" | "keyvault" | "control";

export interface RequestLogEntry {
  seq: number;
  /** Emulator clock, ISO. */
  at: string;
  /** Real time (Date.now()) when the answer was recorded: the emulator clock jumps under the virtual clock, real waits do not. */
  realAtMs: number;
  service: EmulatorService;
  method: string;
  path: string;
  status: number;
  /** What the request was, e.g. "token", "createProduct", "getSubmission", "commit", "fault". */
  kind: string;
  /** The query string (without "?"), secrets redacted; "" when none. */
  query: string;
}

export interface RequestLogSnapshot {
  entries: RequestLogEntry[];
  /** Number of entries per kind. */
  counts: Record<string, number>;
}

const SECRET_QUERY_PARAMS = /(^|&)(sig|client_secret|client_assertion|code|access_token)=[^&]*/gi;

export function redactQuery(query: string): string {
  return query.replace(SECRET_QUERY_PARAMS, (_match, lead: string, name: string) => `${lead}${name}=REDACTED`);
}

/** Redacts `sig=` in any URL or text (used before a SAS URL could reach a log line). */
export function redactSas(text: string): string {
  return text.replace(/([?&]sig=)[^&\s"]*/gi, "$1REDACTED");
}

export class RequestLog {
  private entries: RequestLogEntry[] = [];
  private seq = 0;

  record(entry: Omit<RequestLogEntry, "seq" | "query" | "realAtMs"> & { query: string }): RequestLogEntry {
    const recorded = { ...entry, seq: ++this.seq, realAtMs: Date.now(), query: redactQuery(entry.query) };
    this.entries.push(recorded);
    return recorded;
  }

  snapshot(): RequestLogSnapshot {
    const counts: Record<string, number> = {};
    for (const entry of this.entries) counts[entry.kind] = (counts[entry.kind] ?? 0) + 1;
    return { entries: this.entries.map((entry) => ({ ...entry })), counts };
  }

  clear(): void {
    this.entries = [];
  }
}
