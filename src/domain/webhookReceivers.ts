/**
 * Webhook subscriptions with a stable id (issue 30). A delivery is keyed by its receiver's id, not
 * by the receiver's position in NOTIFY_WEBHOOK_URLS: a list edited while deliveries are in flight
 * (reordered, one inserted or removed) never sends an event to another receiver.
 *
 * An entry is `<id>=<url>` (an id chosen by the operator, survives a URL change such as a rotated
 * token) or a bare `<url>`, whose id is derived from the URL without its secret-prone parts (user
 * info, query, fragment): the same receiver keeps its id when a query key is rotated. The id is a
 * hash, never the URL, so it may enter orchestration history and instance ids.
 */
import { createHash } from "node:crypto";

export interface WebhookSubscription {
  /** Letters, digits, '-' and '_'; unique in the list. */
  id: string;
  url: string;
}

const CONFIGURED_ID = /^[A-Za-z0-9_-]{1,40}$/;
const DERIVED_PREFIX = "u";

/** scheme://host[:port]/path, lower-cased host, no trailing slash: what identifies a receiver. */
export function normalisedReceiverUrl(url: string): string {
  const parsed = new URL(url);
  const path = parsed.pathname.replace(/\/+$/, "");
  return `${parsed.protocol}//${parsed.host.toLowerCase()}${path}`;
}

/** "u" + 16 hex chars of sha256 of the normalised URL. */
export function derivedReceiverId(url: string): string {
  return DERIVED_PREFIX + createHash("sha256").update(normalisedReceiverUrl(url)).digest("hex").slice(0, 16);
}

/**
 * `id=url` or `url`. An entry whose text before the first '=' is not an id (it holds "://" or other
 * characters) is a bare URL, so a URL with '=' in its query parses as a URL.
 */
export function splitWebhookEntry(entry: string): { id?: string; url: string } {
  const equals = entry.indexOf("=");
  if (equals > 0) {
    const head = entry.slice(0, equals).trim();
    if (CONFIGURED_ID.test(head)) return { id: head, url: entry.slice(equals + 1).trim() };
  }
  return { url: entry.trim() };
}

export function isReceiverId(value: unknown): value is string {
  return typeof value === "string" && CONFIGURED_ID.test(value);
}

/** The subscriptions with their ids, or the first problem (duplicate ids) as a sentence. */
export function webhookSubscriptions(entries: ReadonlyArray<{ id?: string; url: string }>): { ok: true; value: WebhookSubscription[] } | { ok: false; problem: string } {
  const value = entries.map((entry) => ({ id: entry.id ?? derivedReceiverId(entry.url), url: entry.url }));
  const seen = new Map<string, number>();
  for (const [index, subscription] of value.entries()) {
    const first = seen.get(subscription.id);
    if (first !== undefined) {
      return {
        ok: false,
        problem: `entries ${first + 1} and ${index + 1} have the same receiver id ${subscription.id} (the same URL without its query, or the same configured id); give each its own id with <id>=<url>`,
      };
    }
    seen.set(subscription.id, index);
  }
  return { ok: true, value };
}
