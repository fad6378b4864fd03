/**
 * The one factory for the credential that obtains Hardware Dev Center tokens (reference/hdc-api.md a.3).
 *
 * The credential is built once per process and reused: @azure/identity caches tokens inside a
 * credential, so a fresh credential per activity would mean a fresh token request per activity.
 */
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
} from "@azure/identity";
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import type { CredentialKind } from "../domain/types";
import type { AppConfig, Settings } from "../config";
import { isLoopbackUrl } from "../domain/loopback";

export interface HdcIdentity {
  credential: TokenCredential;
  kind: CredentialKind;
  tenantId: string;
  clientId: string;
}

let cachedKey: string | undefined;
let cachedIdentity: Promise<HdcIdentity> | undefined;

/** Builds (once per process and configuration) the credential for the configured HDC_AUTH_MODE. */
export function createHdcCredential(config: AppConfig): Promise<HdcIdentity> {
  const key = identityCacheKey(config.settings);
  if (cachedIdentity && cachedKey === key) return cachedIdentity;
  cachedKey = key;
  cachedIdentity = buildIdentity(config.settings).catch((error: unknown) => {
    // A failed Key Vault read must not poison the process: the next activity attempt tries again.
    if (cachedKey === key) {
      cachedKey = undefined;
      cachedIdentity = undefined;
    }
    throw error;
  });
  return cachedIdentity;
}

/** For tests and the local runtime, which change settings between runs. */
export function resetCredentialCache(): void {
  cachedKey = undefined;
  cachedIdentity = undefined;
}

/** Everything that selects a different credential; deliberately excludes secret values. */
function identityCacheKey(s: Settings): string {
  return JSON.stringify([
    s.HDC_AUTH_MODE,
    s.HDC_TENANT_ID,
    s.HDC_CLIENT_ID,
    s.HDC_AUTHORITY_HOST,
    s.HDC_KEYVAULT_URL,
    s.HDC_KEYVAULT_SECRET_NAME,
    s.HDC_CERTIFICATE_PATH,
    s.HDC_MANAGED_IDENTITY_CLIENT_ID,
    s.HDC_FEDERATED_AUDIENCE,
  ]);
}

async function buildIdentity(s: Settings): Promise<HdcIdentity> {
  const tenantId = s.HDC_TENANT_ID;
  const clientId = s.HDC_CLIENT_ID;
  const authority = authorityOptions(s);
  const identity = (kind: CredentialKind, credential: TokenCredential): HdcIdentity => ({ credential, kind, tenantId, clientId });

  switch (s.HDC_AUTH_MODE) {
    case "clientSecret":
      return identity("clientSecret", new ClientSecretCredential(tenantId, clientId, required(s.HDC_CLIENT_SECRET, "HDC_CLIENT_SECRET"), authority));
    case "keyVaultSecret": {
      const readSecret = () => readClientSecretFromKeyVault(s);
      const secret = await readSecret();
      return identity("keyVaultSecret", new KeyVaultSecretCredential(secret, readSecret, (value) => new ClientSecretCredential(tenantId, clientId, value, authority)));
    }
    case "certificate":
      return identity(
        "certificate",
        new ClientCertificateCredential(tenantId, clientId, { certificatePath: required(s.HDC_CERTIFICATE_PATH, "HDC_CERTIFICATE_PATH") }, authority),
      );
    case "managedIdentity":
      return identity("managedIdentity", federatedManagedIdentityCredential(s));
  }
}

/**
 * Entra's answer to a client secret it does not accept: invalid_client, e.g. AADSTS7000215 (wrong
 * secret) or AADSTS7000222 (expired secret). @azure/identity surfaces it as an AuthenticationError
 * whose errorResponse carries the OAuth error.
 */
export function isInvalidClientSecret(error: unknown): boolean {
  const response = (error as { errorResponse?: { error?: unknown; errorDescription?: unknown } } | null)?.errorResponse;
  if (response?.error === "invalid_client") return true;
  const text = `${typeof response?.errorDescription === "string" ? response.errorDescription : ""} ${error instanceof Error ? error.message : ""}`;
  return /\binvalid_client\b|AADSTS7000215|AADSTS7000222/.test(text);
}

/**
 * The app registration's secret from Key Vault. A rotated secret shows up as invalid_client from
 * Entra: then the secret is read from the vault again (once per token request, shared by
 * concurrent requests) and the request repeated with it. A secret that is still refused after the
 * re-read is the answer; no restart is needed to pick up a rotation.
 */
export class KeyVaultSecretCredential implements TokenCredential {
  private current: { secret: string; credential: TokenCredential };
  private rereading?: Promise<{ secret: string; credential: TokenCredential }>;

  constructor(
    secret: string,
    private readonly readSecret: () => Promise<string>,
    private readonly credentialFor: (secret: string) => TokenCredential,
  ) {
    this.current = { secret, credential: credentialFor(secret) };
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const used = this.current;
    try {
      return await used.credential.getToken(scopes, options);
    } catch (error) {
      if (!isInvalidClientSecret(error)) throw error;
      const fresh = await this.reread(used);
      if (fresh.secret === used.secret) throw error; // the vault holds the refused secret: nothing to retry with
      return fresh.credential.getToken(scopes, options);
    }
  }

  private reread(refused: { secret: string }): Promise<{ secret: string; credential: TokenCredential }> {
    // Another request already replaced the refused secret: use that.
    if (this.current.secret !== refused.secret) return Promise.resolve(this.current);
    this.rereading ??= this.readSecret()
      .then((secret) => {
        if (secret !== this.current.secret) this.current = { secret, credential: this.credentialFor(secret) };
        return this.current;
      })
      .finally(() => (this.rereading = undefined));
    return this.rereading;
  }
}

/**
 * Reads the app registration's client secret from Key Vault with the Function's managed identity
 * (user-assigned by HDC_MANAGED_IDENTITY_CLIENT_ID when set, else system-assigned): at the first
 * use in a process, and again when Entra refuses the secret (rotation).
 */
async function readClientSecretFromKeyVault(s: Settings): Promise<string> {
  const vaultUrl = required(s.HDC_KEYVAULT_URL, "HDC_KEYVAULT_URL");
  const secretName = required(s.HDC_KEYVAULT_SECRET_NAME, "HDC_KEYVAULT_SECRET_NAME");
  const vaultIdentity = s.HDC_MANAGED_IDENTITY_CLIENT_ID
    ? new ManagedIdentityCredential({ clientId: s.HDC_MANAGED_IDENTITY_CLIENT_ID })
    : new ManagedIdentityCredential();
  const client = new SecretClient(vaultUrl, vaultIdentity, {
    // The local Key Vault emulator's challenge names a loopback resource, which the SDK would reject.
    disableChallengeResourceVerification: isLoopbackUrl(vaultUrl),
  });
  const secret = await client.getSecret(secretName);
  if (!secret.value) throw new Error(`Key Vault secret '${secretName}' has no value`);
  return secret.value;
}

/**
 * Secret-less: the Function's user-assigned managed identity gets a token for the federation
 * audience, which Entra accepts as the client assertion of the Partner Center app registration.
 */
function federatedManagedIdentityCredential(s: Settings): TokenCredential {
  const managedIdentity = new ManagedIdentityCredential({
    clientId: required(s.HDC_MANAGED_IDENTITY_CLIENT_ID, "HDC_MANAGED_IDENTITY_CLIENT_ID"),
  });
  const audienceScope = `${s.HDC_FEDERATED_AUDIENCE.replace(/\/+$/, "")}/.default`;
  const getAssertion = async (): Promise<string> => (await managedIdentity.getToken(audienceScope)).token;
  return new ClientAssertionCredential(s.HDC_TENANT_ID, s.HDC_CLIENT_ID, getAssertion, authorityOptions(s));
}

/**
 * MSAL resolves custom authorities through instance discovery at login.microsoftonline.com, which a
 * loopback authority (the local Entra emulator) cannot answer; the public cloud keeps discovery on.
 */
function authorityOptions(s: Settings): { authorityHost: string; disableInstanceDiscovery: boolean } {
  return { authorityHost: s.HDC_AUTHORITY_HOST, disableInstanceDiscovery: isLoopbackUrl(s.HDC_AUTHORITY_HOST) };
}

function required(value: string | undefined, setting: string): string {
  // config.ts already enforces these per mode; this keeps the types honest.
  if (!value) throw new Error(`${setting} is required for HDC_AUTH_MODE`);
  return value;
}

