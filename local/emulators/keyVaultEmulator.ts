/**
 * Key Vault secrets emulator: GET /secrets/{name}[/{version}]. Speaks the challenge flow the
 * SecretClient expects: an unauthenticated (or badly authenticated) request gets 401 with a
 * WWW-Authenticate challenge naming the authority and the vault resource; the client then fetches
 * a token for https://vault.azure.net/.default and retries.
 */
import * as crypto from "node:crypto";
import { EmulatorClock } from "./clock";
import { EmulatorHandler, jsonResponse } from "./httpServer";
import { TokenRegistry } from "./tokenRegistry";

export const KEY_VAULT_RESOURCE = "https://vault.azure.net";

interface StoredSecret {
  value: string;
  version: string;
  createdSeconds: number;
}

export interface KeyVaultEmulatorOptions {
  registry: TokenRegistry;
  clock: EmulatorClock;
  /** https://127.0.0.1:<port>, known once the server listens. */
  vaultUrl: () => string;
  /** Authority (with tenant) named in the challenge, e.g. https://127.0.0.1:<entra>/<tenant>. */
  challengeAuthority: () => string;
}

export interface KeyVaultEmulator {
  handler: EmulatorHandler;
  setSecrets(secrets: Record<string, string>): void;
}

export function createKeyVaultEmulator(options: KeyVaultEmulatorOptions): KeyVaultEmulator {
  const secrets = new Map<string, StoredSecret>();

  const challenge = () =>
    jsonResponse(
      401,
      "unauthorized",
      { error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." } },
      { "www-authenticate": `Bearer authorization="${options.challengeAuthority()}", resource="${KEY_VAULT_RESOURCE}"` },
    );

  const handler: EmulatorHandler = async (request) => {
    const match = /^\/secrets\/([^/]+)(?:\/([^/]*))?\/?$/.exec(request.path);
    if (request.method !== "GET" || !match) {
      return jsonResponse(405, "unsupported", { error: { code: "BadParameter", message: `The emulator serves only GET /secrets/{name}[/{version}], not ${request.method} ${request.path}.` } });
    }
    if (!options.registry.check(request.headers.authorization, KEY_VAULT_RESOURCE).ok) return challenge();
    const [, name, version] = match;
    const secret = secrets.get(name);
    if (!secret || (version && version !== secret.version)) {
      return jsonResponse(404, "secretNotFound", {
        error: { code: "SecretNotFound", message: `A secret with (name/id) ${name}${version ? `/${version}` : ""} was not found in this key vault.` },
      });
    }
    return jsonResponse(200, "getSecret", {
      value: secret.value,
      id: `${options.vaultUrl()}/secrets/${name}/${secret.version}`,
      attributes: {
        enabled: true,
        created: secret.createdSeconds,
        updated: secret.createdSeconds,
        recoveryLevel: "Recoverable+Purgeable",
        recoverableDays: 90,
      },
      tags: {},
    });
  };

  return {
    handler,
    setSecrets(values) {
      for (const [name, value] of Object.entries(values)) {
        if (secrets.get(name)?.value === value) continue;
        secrets.set(name, { value, version: crypto.randomBytes(16).toString("hex"), createdSeconds: Math.floor(options.clock.nowMs() / 1000) });
      }
    },
  };
}
