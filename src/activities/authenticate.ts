/**
 * Proves the configured identity can get a Hardware Dev Center token and reach the API, before
 * anything is created. Bad credentials fail the run at once (terminal); a network blip is retried.
 * The token itself never leaves this function.
 */
import { redactSecrets } from "../domain/redact";
import type { AuthenticateInput, AuthenticateOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { TerminalActivityError } from "./errors";
import { hdcStatusCode } from "./hdcFailures";

export async function authenticate(input: AuthenticateInput, deps: ActivityDeps): Promise<AuthenticateOutput> {
  const { identity, config, hdc, log } = deps;
  const who = `${identity.kind} credential (tenant ${identity.tenantId}, client ${identity.clientId})`;

  let expiresOnTimestamp: number;
  try {
    const token = await identity.credential.getToken(config.settings.HDC_SCOPE);
    if (!token) throw new Error("the credential returned no token");
    expiresOnTimestamp = token.expiresOnTimestamp;
  } catch (error) {
    const reason = describeTokenFailure(error);
    if (isCredentialRejected(error)) throw new TerminalActivityError(`Could not authenticate to Hardware Dev Center with the ${who}: ${reason}`);
    throw new Error(`Token request for Hardware Dev Center failed (will retry): ${reason}`);
  }

  try {
    // The cheapest call that needs the Partner Center role (a.2): 200 vs 401/403.
    await hdc.listProducts({ top: 1 });
  } catch (error) {
    const status = hdcStatusCode(error);
    if (status === 401 || status === 403) {
      throw new TerminalActivityError(
        `Hardware Dev Center refused the ${who} (HTTP ${status}); check that the app is added to Partner Center with the Manager role and Hardware permissions`,
      );
    }
    throw error;
  }

  log(`[${input.instanceId}] authenticated to Hardware Dev Center with the ${who}`);
  return {
    tenantId: identity.tenantId,
    clientId: identity.clientId,
    credentialKind: identity.kind,
    expiresOn: new Date(expiresOnTimestamp).toISOString(),
    apiReachable: true,
  };
}

/** Transport trouble (no answer from Entra) is worth a retry; an answer that says no is not. */
const TRANSIENT_TOKEN_FAILURE = /network|ECONN|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|socket hang up|timed? ?out|endpoints_resolution|\b5\d\d\b/i;

function isCredentialRejected(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === "number") return status >= 400 && status < 500 && status !== 408 && status !== 429;
  if (TRANSIENT_TOKEN_FAILURE.test(error.message)) return false;
  return ["AuthenticationError", "CredentialUnavailableError", "AuthenticationRequiredError", "ClientConfigurationError"].includes(error.name);
}

/** Entra's own description (e.g. "AADSTS7000215: Invalid client secret provided.") when there is one, on one line. */
function describeTokenFailure(error: unknown): string {
  const description = (error as { errorResponse?: { errorDescription?: unknown } } | null)?.errorResponse?.errorDescription;
  const message = typeof description === "string" && description ? description : error instanceof Error ? error.message : String(error);
  return redactSecrets(message.replace(/\s+/g, " ").trim()).slice(0, 400);
}
