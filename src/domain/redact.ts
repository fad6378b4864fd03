/**
 * Masks secrets before text reaches a log line, an error message or orchestration history.
 * SAS URLs grant write access to Microsoft's ingestion blob and bearer tokens grant API access,
 * so anything that may echo a URL or a header goes through here first.
 */

const REDACTED = "REDACTED";

const secretPatterns: ReadonlyArray<[RegExp, string]> = [
  // SAS signature in a URL query: sig=... up to the next parameter, whitespace or quote.
  // A letter must not precede it; a digit may ("%26sig=" is an encoded "&sig=").
  [/(?<![a-z])sig=[^&\s"'<>]*/gi, `sig=${REDACTED}`],
  // The same inside a URL-encoded URL (e.g. a SAS nested in another query string).
  [/(?<![a-z])sig%3D(?:(?!%26)[^&\s"'<>])*/gi, `sig%3D${REDACTED}`],
  [/\bBearer\s+[A-Za-z0-9\-._~+/]+=*/gi, `Bearer ${REDACTED}`],
  // The password of a URL with credentials (the local runtime's durable RPC base carries its system key so).
  [/(\bhttps?:\/\/[^\s:/?#@]*:)[^\s/?#@]+@/gi, `$1${REDACTED}@`],
  // JSON token responses and JSON-encoded credentials.
  [/("(?:access_token|refresh_token|id_token|client_secret|client_assertion)"\s*:\s*")(?:[^"\\]|\\.)*"/gi, `$1${REDACTED}"`],
  // Form-encoded credentials (token requests).
  [/\b(access_token|refresh_token|client_secret|client_assertion)=[^&\s"'<>]*/gi, `$1=${REDACTED}`],
];

export function redactSecrets(text: string): string {
  let result = text;
  for (const [pattern, replacement] of secretPatterns) result = result.replace(pattern, replacement);
  return result;
}
