/**
 * How driver-sign proves who it is: a function key (x-functions-key) or an Entra ID bearer token
 * (issue 31). Token sources: a token file (read again on every request, so a refreshed file is
 * picked up), DRIVER_SIGN_TOKEN, or @azure/identity for `<audience>/.default` through an explicit
 * chain (workload identity / GitHub OIDC, Azure CLI after azure/login, managed identity). Tokens
 * are only ever handed to ApiClient, which sends them to the service's own origin.
 */
import * as fs from "node:fs";
import {
  AzureCliCredential,
  ChainedTokenCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
  type AccessToken,
  type TokenCredential,
} from "@azure/identity";
import { isLoopbackUrl } from "../src/domain/loopback";
import { CliError, ExitCode } from "./exitCodes";

export interface TokenSource {
  /** Names the auth mode in messages (never the token). */
  readonly describe: string;
  token(): Promise<string>;
  /** Every token handed out so far, to be masked in anything printed. */
  readonly handedOut: string[];
}

export interface AuthChoice {
  key?: string;
  tokenFile?: string;
  token?: string;
  audience?: string;
}

/**
 * A loopback AZURE_AUTHORITY_HOST is the local Entra emulator: MSAL would otherwise ask
 * login.microsoftonline.com to vouch for it (instance discovery) and refuse it offline.
 */
function authorityOptions(env: NodeJS.ProcessEnv): { authorityHost?: string; disableInstanceDiscovery?: boolean } {
  const host = env.AZURE_AUTHORITY_HOST;
  return host && isLoopbackUrl(host) ? { authorityHost: host, disableInstanceDiscovery: true } : {};
}

/** The credentials the chain tries, in order, built from the documented environment (no network). */
export function credentialChainSources(env: NodeJS.ProcessEnv): TokenCredential[] {
  const sources: TokenCredential[] = [];
  const { AZURE_CLIENT_ID: clientId, AZURE_TENANT_ID: tenantId, AZURE_FEDERATED_TOKEN_FILE: tokenFilePath, AZURE_CLIENT_SECRET: secret } = env;
  // GitHub OIDC through a federated credential (the workload identity environment).
  if (clientId && tenantId && tokenFilePath) sources.push(new WorkloadIdentityCredential({ clientId, tenantId, tokenFilePath, ...authorityOptions(env) }));
  // azure/login's service-principal environment with a secret (discouraged, still supported).
  else if (clientId && tenantId && secret) sources.push(new ClientSecretCredential(tenantId, clientId, secret));
  // After azure/login (OIDC or otherwise) the Azure CLI holds the session.
  sources.push(new AzureCliCredential(tenantId ? { tenantId } : {}));
  // Azure-hosted agents (a VM or scale set with an identity); a user-assigned one by its client id.
  sources.push(new ManagedIdentityCredential(env.DRIVER_SIGN_MANAGED_IDENTITY_CLIENT_ID ? { clientId: env.DRIVER_SIGN_MANAGED_IDENTITY_CLIENT_ID } : {}));
  return sources;
}

/** The scope for an API audience: api://<clientId> → api://<clientId>/.default. */
export function scopeFor(audience: string): string {
  const trimmed = audience.trim().replace(/\/+$/, "");
  if (!/^(api:\/\/|https:\/\/)[^\s]+$/.test(trimmed) && !/^[0-9a-f-]{36}$/i.test(trimmed)) {
    throw new CliError(ExitCode.BadArguments, `--audience ${JSON.stringify(audience)} is not an API audience (e.g. api://<clientId>)`);
  }
  return `${trimmed.replace(/\/\.default$/, "")}/.default`;
}

class FileToken implements TokenSource {
  readonly handedOut: string[] = [];
  readonly describe: string;
  constructor(private readonly file: string) {
    this.describe = `bearer token from the token file ${file} (--token-file / DRIVER_SIGN_TOKEN_FILE)`;
  }
  async token(): Promise<string> {
    let text: string;
    try {
      text = fs.readFileSync(this.file, "utf8").trim();
    } catch (error) {
      throw new CliError(ExitCode.Authentication, `cannot read the token file ${this.file}: ${(error as NodeJS.ErrnoException).code ?? "unreadable"} (auth: ${this.describe})`);
    }
    if (!text) throw new CliError(ExitCode.Authentication, `the token file ${this.file} is empty (auth: ${this.describe})`);
    if (/\s/.test(text)) throw new CliError(ExitCode.Authentication, `the token file ${this.file} does not hold one token (auth: ${this.describe})`);
    if (!this.handedOut.includes(text)) this.handedOut.push(text);
    return text;
  }
}

class FixedToken implements TokenSource {
  readonly handedOut: string[];
  readonly describe = "bearer token from DRIVER_SIGN_TOKEN";
  constructor(private readonly value: string) {
    this.handedOut = [value];
  }
  async token(): Promise<string> {
    return this.value;
  }
}

/**
 * Why the chain failed, one line per credential it tried: the chain's own message only says that it
 * failed, while Entra's answer (e.g. AADSTS700213, a federated credential's subject mismatch) is in
 * the workload identity credential's error.
 */
export function failureReason(error: unknown): string {
  const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split("\n").map((line) => line.trim()).find(Boolean) ?? "unknown error";
  const inner = (error as { errors?: unknown[] }).errors;
  if (!Array.isArray(inner) || inner.length === 0) return firstLine(error).slice(0, 400);
  return inner.map((e) => firstLine(e).slice(0, 400)).join("; ");
}

class IdentityToken implements TokenSource {
  readonly handedOut: string[] = [];
  readonly describe: string;
  private current?: AccessToken;
  private readonly credential: TokenCredential;
  constructor(
    private readonly scope: string,
    env: NodeJS.ProcessEnv,
  ) {
    this.describe = `Entra ID token for ${scope} (--audience / DRIVER_SIGN_AUDIENCE: workload identity, Azure CLI, managed identity)`;
    this.credential = new ChainedTokenCredential(...credentialChainSources(env));
  }
  async token(): Promise<string> {
    // Reuse a token until two minutes before it expires (the Azure CLI is a process per call).
    if (this.current && this.current.expiresOnTimestamp - Date.now() > 120_000) return this.current.token;
    let got: AccessToken | null;
    try {
      got = await this.credential.getToken(this.scope);
    } catch (error) {
      const reason = failureReason(error);
      throw new CliError(ExitCode.Authentication, `could not get a token (auth: ${this.describe}): ${reason}`);
    }
    if (!got) throw new CliError(ExitCode.Authentication, `could not get a token (auth: ${this.describe})`);
    this.current = got;
    this.handedOut.push(got.token);
    return got.token;
  }
}

/** One way to authenticate, or an error naming the options that clash. Undefined: no credential. */
export function tokenSource(choice: AuthChoice, env: NodeJS.ProcessEnv): TokenSource | undefined {
  const given = [choice.tokenFile && "--token-file", choice.token && "DRIVER_SIGN_TOKEN", choice.audience && "--audience"].filter(Boolean) as string[];
  if (given.length > 1) throw new CliError(ExitCode.BadArguments, `use one token source, not ${given.join(" and ")}`);
  if (given.length === 1 && choice.key) throw new CliError(ExitCode.BadArguments, `use either --key (DRIVER_SIGN_KEY) or a bearer token (${given[0]}), not both`);
  if (choice.tokenFile) return new FileToken(choice.tokenFile);
  if (choice.token) return new FixedToken(choice.token.trim());
  if (choice.audience) return new IdentityToken(scopeFor(choice.audience), env);
  return undefined;
}
