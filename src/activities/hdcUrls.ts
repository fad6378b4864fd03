/**
 * URLs that Hardware Dev Center hands out (upload SAS, signed package, driver metadata, error
 * report) are followed only to hosts we expect: https on a suffix of HDC_ALLOWED_URL_HOST_SUFFIXES
 * (default .blob.core.windows.net). Plain http only to a loopback host that the list names exactly
 * (the local emulators hand out Azurite's http://127.0.0.1:<port> URLs). Anything else would send
 * our package, or a request with our identity, somewhere we did not choose: terminal.
 *
 * Errors name the host only: the URL carries a SAS.
 */
import { TerminalActivityError } from "./errors";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** Returns the URL unchanged when allowed; throws TerminalActivityError naming the host otherwise. */
export function allowedHdcUrl(url: string, what: string, allowedSuffixes: readonly string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TerminalActivityError(`Hardware Dev Center handed out a ${what} location that is not a valid URL; nothing was transferred`);
  }
  const host = parsed.hostname.toLowerCase();
  const suffixes = allowedSuffixes.map((suffix) => suffix.toLowerCase());
  const onAllowedHost = suffixes.some((suffix) => (suffix.startsWith(".") ? host.endsWith(suffix) : host === suffix || host.endsWith(`.${suffix}`)));
  const allowed =
    (parsed.protocol === "https:" && onAllowedHost) ||
    (parsed.protocol === "http:" && LOOPBACK_HOSTS.has(host) && suffixes.includes(host));
  if (!allowed) {
    throw new TerminalActivityError(
      `Hardware Dev Center handed out a ${what} URL on ${parsed.protocol}//${host}, which is not an allowed host ` +
        `(HDC_ALLOWED_URL_HOST_SUFFIXES: ${allowedSuffixes.join(", ")}; https only, http only for a loopback host named there); nothing was transferred`,
    );
  }
  return url;
}
