/**
 * Links the API hands out (statusUrl, cancelUrl, Location). They are built on PUBLIC_BASE_URL, never
 * on the request's URL: that comes from the Host header, which the caller chooses (`Host:
 * attacker.example` would send the client's next request, function key and all, elsewhere). Without
 * the setting the links are relative ("/api/..."), which a client resolves against the URL it called.
 */
import type { AppConfig } from "../config";

export function apiLink(config: AppConfig, path: string): string {
  const origin = config.settings.PUBLIC_BASE_URL;
  return origin ? new URL(path, origin).href : path;
}
