/**
 * The Azure a deployed function app talks to, on loopback, shaped by the compiled template: the
 * platform's managed-identity endpoint (IDENTITY_ENDPOINT/IDENTITY_HEADER, as App Service and
 * Functions provide it) answers only for the identities the site really has, and Key Vault hands a
 * secret only to an identity the template grants Key Vault Secrets User on the vault. Built from
 * the project's Entra ID and Key Vault emulators (real token registry, challenge flow), so the
 * app's real @azure/identity and @azure/keyvault-secrets clients run unchanged against it.
 *
 * Also a guard: every outgoing TCP connection of the test process is recorded, and one to a host
 * that is not loopback is refused before it leaves, so a test can prove nothing reached Azure.
 */
import * as crypto from "node:crypto";
import * as net from "node:net";
import * as path from "node:path";
import { EmulatorClock } from "../../local/emulators/clock";
import { createEntraHandler, type RegisteredApp } from "../../local/emulators/entraEmulator";
import { jsonResponse, startEmulatorServer, type EmulatorHandler, type EmulatorServer } from "../../local/emulators/httpServer";
import { KEY_VAULT_RESOURCE, createKeyVaultEmulator } from "../../local/emulators/keyVaultEmulator";
import { RequestLog } from "../../local/emulators/requestLog";
import { TokenRegistry } from "../../local/emulators/tokenRegistry";
import { ensureLocalCa, issueServerCertificate } from "../../local/tls";
import { isLoopbackUrl } from "../../src/domain/loopback";

/** The CA `npm test` trusts through NODE_EXTRA_CA_CERTS. */
const TLS_DIR = path.resolve(__dirname, "../../.local-data/tls");
/** The audience of a managed-identity token used as a federated credential. */
const FEDERATION_RESOURCE = "api://AzureADTokenExchange";

export interface DeployedIdentities {
  /** Whether the site has a system-assigned identity (identity.type contains SystemAssigned). */
  systemAssigned: boolean;
  /** Client ids of the user-assigned identities attached to the site. */
  userAssignedClientIds: string[];
}

/** What the deployment under test gives the app; read at each request, so one stand-in serves several. */
export interface Deployment {
  identities: DeployedIdentities;
  /** Client ids of the identities that hold Key Vault Secrets User on the vault. */
  secretReaders: string[];
  /** Client ids of the managed identities the app registration's federated credential trusts. */
  federatedTrust: string[];
}

export interface AzureStandInOptions {
  deployment: () => Deployment;
  secrets: Record<string, string>;
  /** App registrations Entra knows (tenant, client id, secret). */
  apps: RegisteredApp[];
}

/** One request to the managed-identity endpoint: which identity was asked for, and the answer. */
export interface IdentityRequest {
  /** The client_id query parameter; undefined = the system-assigned identity. */
  clientId?: string;
  resource: string;
  status: number;
}

export interface AzureStandIn {
  /** Values for the IDENTITY_ENDPOINT and IDENTITY_HEADER environment variables. */
  identityEndpoint: string;
  identityHeader: string;
  /** Loopback Entra authority (stands in for https://login.microsoftonline.com). */
  authorityHost: string;
  /** Loopback vault URI, with the trailing slash Azure's vaultUri has. */
  vaultUri: string;
  identityRequests: IdentityRequest[];
  /** Secret reads: the identity (client id) the bearer token was issued to, and the answer. */
  vaultReads: Array<{ clientId: string; status: number }>;
  /** Entra token requests authenticated by a managed-identity token: that identity, and the answer. */
  federatedAssertions: Array<{ clientId: string; status: number }>;
  /** Forgets the records above (tokens stay valid: MSAL caches managed-identity tokens per process). */
  clearRecords(): void;
  stop(): Promise<void>;
}

export async function startAzureStandIn(options: AzureStandInOptions): Promise<AzureStandIn> {
  const tls = issueServerCertificate(ensureLocalCa(TLS_DIR));
  const clock = new EmulatorClock();
  const log = new RequestLog();
  const urls = { entra: "", keyVault: "" };
  const registry = new TokenRegistry(clock, () => urls.entra);
  const identityHeader = crypto.randomBytes(16).toString("hex");
  const identityRequests: IdentityRequest[] = [];
  const vaultReads: Array<{ clientId: string; status: number }> = [];
  const federatedAssertions: Array<{ clientId: string; status: number }> = [];

  const entra = createEntraHandler({
    apps: () => options.apps,
    registry,
    tokenLifetimeSeconds: () => 3600,
    baseUrl: () => urls.entra,
    managedIdentityHeader: identityHeader,
  });
  const entraAsDeployed: EmulatorHandler = async (request) => {
    if (request.path.replace(/\/+$/, "") !== "/msi/token") return federatedToken(request);
    // The platform's managed-identity endpoint issues tokens only for an identity the site has: no
    // client_id means the system-assigned one, which a site without it cannot use.
    const { identities } = options.deployment();
    const clientId = request.query.get("client_id") ?? undefined;
    const resource = request.query.get("resource") ?? "";
    const known = clientId === undefined ? identities.systemAssigned : identities.userAssignedClientIds.includes(clientId);
    const response = known
      ? await entra(request)
      : jsonResponse(400, "managedIdentityError", {
          statusCode: 400,
          message: clientId === undefined ? "The site has no system-assigned managed identity." : `No user-assigned managed identity with client id ${clientId} is attached to the site.`,
        });
    identityRequests.push({ clientId, resource, status: response.status });
    return response;
  };
  // Entra accepts a managed-identity token as a client assertion only from an identity a federated
  // credential on the app registration trusts.
  async function federatedToken(request: Parameters<EmulatorHandler>[0]) {
    const assertion = request.method === "POST" ? new URLSearchParams(request.body.toString("utf8")).get("client_assertion") : null;
    const check = assertion ? registry.check(assertion, FEDERATION_RESOURCE) : undefined;
    if (!check?.ok) return entra(request);
    const clientId = check.token.clientId;
    const response = options.deployment().federatedTrust.includes(clientId)
      ? await entra(request)
      : jsonResponse(401, "tokenError", {
          error: "invalid_client",
          error_description: `AADSTS70021: No matching federated identity record found for the managed identity ${clientId}.`,
        });
    federatedAssertions.push({ clientId, status: response.status });
    return response;
  }

  const keyVault = createKeyVaultEmulator({
    registry,
    clock,
    vaultUrl: () => urls.keyVault,
    challengeAuthority: () => `${urls.entra}/${options.apps[0]?.tenantId ?? "common"}`,
  });
  keyVault.setSecrets(options.secrets);
  // Key Vault with RBAC: a valid token of an identity without a data-plane role gets 403.
  const vaultAsDeployed: EmulatorHandler = async (request) => {
    const check = registry.check(request.headers.authorization, KEY_VAULT_RESOURCE);
    if (!check.ok) return keyVault.handler(request); // the challenge
    const clientId = check.token.clientId;
    const response = options.deployment().secretReaders.includes(clientId)
      ? await keyVault.handler(request)
      : jsonResponse(403, "forbidden", {
          error: { code: "Forbidden", message: `Caller ${clientId} is not authorized to read secrets in this vault.`, innererror: { code: "ForbiddenByRbac" } },
        });
    vaultReads.push({ clientId, status: response.status });
    return response;
  };

  const servers: EmulatorServer[] = [];
  try {
    servers.push(await startEmulatorServer({ service: "entra", tls, log, clock, handler: entraAsDeployed }));
    urls.entra = `https://127.0.0.1:${servers[0].port}`;
    servers.push(await startEmulatorServer({ service: "keyvault", tls, log, clock, handler: vaultAsDeployed }));
    urls.keyVault = `https://127.0.0.1:${servers[1].port}`;
  } catch (error) {
    await Promise.all(servers.map((server) => server.close()));
    throw error;
  }
  return {
    identityEndpoint: `${urls.entra}/msi/token`,
    identityHeader,
    authorityHost: urls.entra,
    vaultUri: `${urls.keyVault}/`,
    identityRequests,
    vaultReads,
    federatedAssertions,
    clearRecords: () => {
      for (const list of [identityRequests, vaultReads, federatedAssertions] as unknown[][]) list.length = 0;
    },
    stop: async () => {
      await Promise.all(servers.map((server) => server.close()));
    },
  };
}

/**
 * Records the destination of every TCP connection this process opens and refuses (throws in
 * connect, before any DNS lookup) one to a host that is not loopback. Returns what it saw and
 * refused, and an undo.
 */
export function guardLoopbackOnly(): { seen: string[]; refused: string[]; restore(): void } {
  const seen: string[] = [];
  const refused: string[] = [];
  const original = net.Socket.prototype.connect;
  // net.connect passes its normalised arguments as one array; direct calls pass (options | port, host).
  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    const first = (Array.isArray(args[0]) ? args[0][0] : args[0]) as { host?: string; port?: number; path?: string } | number | string;
    const target =
      typeof first === "number"
        ? { host: typeof args[1] === "string" ? args[1] : "localhost", port: first }
        : typeof first === "object" && first !== null && (first.port !== undefined || first.host !== undefined)
          ? { host: first.host ?? "localhost", port: first.port }
          : undefined; // a Unix socket or pipe (options.path alone; an HTTPS request's options also carry its URL path)
    if (target) {
      const destination = `${target.host}:${target.port ?? ""}`;
      seen.push(destination);
      if (!isLoopbackUrl(`https://${target.host.includes(":") ? `[${target.host}]` : target.host}/`)) {
        refused.push(destination);
        throw new Error(`test guard: refused a connection to ${destination}, which is not loopback`);
      }
    }
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof original;
  return { seen, refused, restore: () => void (net.Socket.prototype.connect = original) };
}
