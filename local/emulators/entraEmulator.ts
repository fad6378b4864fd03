/**
 * Entra ID (login.microsoftonline.com) emulator: what @azure/identity 4.x / MSAL asks an authority
 * host for with ClientSecretCredential, ClientCertificateCredential, ClientAssertionCredential
 * (federated) and an App Service style ManagedIdentityCredential (IDENTITY_ENDPOINT/IDENTITY_HEADER).
 * Note: MSAL sends instance discovery to login.microsoftonline.com itself unless the credential
 * is built with `disableInstanceDiscovery: true`; the route here serves clients that ask us.
 */
import * as crypto from "node:crypto";
import { checkCertificateAssertion } from "./clientAssertion";
import { EmulatorHandler, EmulatorRequest, EmulatorResponse, jsonResponse } from "./httpServer";
import { TokenRegistry, resourceOf } from "./tokenRegistry";

export interface RegisteredApp {
  tenantId: string;
  clientId: string;
  clientSecret?: string;
  /** Public certificate (PEM) whose key signs client assertions. */
  certificatePem?: string;
}

export interface EntraEmulatorOptions {
  apps: () => RegisteredApp[];
  registry: TokenRegistry;
  tokenLifetimeSeconds: () => number;
  /** https://127.0.0.1:<port>, known once the server listens. */
  baseUrl: () => string;
  /** Value ManagedIdentityCredential must send as X-IDENTITY-HEADER. */
  managedIdentityHeader: string;
  /** The API's tenant (local issuer), whose token endpoint takes federated (workload identity) assertions. */
  federation?: FederatedTenant;
}

/** A tenant whose client-credentials requests with a client assertion are decided by `exchange` (local/identity/federation.ts). */
export interface FederatedTenant {
  tenantId: string;
  exchange(request: { clientId: string; scope: string; assertion: string }):
    | { ok: true; accessToken: string; expiresIn: number }
    | { ok: false; status: number; error: string; code: number; description: string };
}

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const FEDERATION_RESOURCE = "api://AzureADTokenExchange";
const PASS_THROUGH_TENANTS = new Set(["common", "organizations", "consumers"]);

function oauthError(status: number, error: string, code: number, description: string): EmulatorResponse {
  return jsonResponse(status, "tokenError", {
    error,
    error_description: `${description}\r\nTrace ID: ${crypto.randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
    error_codes: [code],
    timestamp: new Date().toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z"),
    trace_id: crypto.randomUUID(),
    correlation_id: crypto.randomUUID(),
  });
}

export function createEntraHandler(options: EntraEmulatorOptions): EmulatorHandler {
  const tenantKnown = (tenant: string) => options.apps().some((app) => app.tenantId === tenant) || options.federation?.tenantId === tenant;
  const unknownTenant = (tenant: string) =>
    oauthError(400, "invalid_tenant", 90002, `AADSTS90002: Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);

  function discovery(): EmulatorResponse {
    const base = options.baseUrl();
    const host = new URL(base).host;
    return jsonResponse(200, "instanceDiscovery", {
      tenant_discovery_endpoint: `${base}/{tenant}/v2.0/.well-known/openid-configuration`,
      "api-version": "1.1",
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
  }

  function openIdConfiguration(tenant: string, v2: boolean): EmulatorResponse {
    if (!tenantKnown(tenant) && !PASS_THROUGH_TENANTS.has(tenant)) return unknownTenant(tenant);
    const base = `${options.baseUrl()}/${tenant}`;
    const oauth = v2 ? `${base}/oauth2/v2.0` : `${base}/oauth2`;
    return jsonResponse(200, "openidConfiguration", {
      issuer: v2 ? `${base}/v2.0` : base,
      token_endpoint: `${oauth}/token`,
      authorization_endpoint: `${oauth}/authorize`,
      device_authorization_endpoint: `${oauth}/devicecode`,
      end_session_endpoint: `${oauth}/logout`,
      jwks_uri: `${base}/discovery/${v2 ? "v2.0/" : ""}keys`,
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      scopes_supported: ["openid", "profile", "email", "offline_access"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      tenant_region_scope: "EU",
      cloud_instance_name: "microsoftonline.com",
    });
  }

  function issue(scope: string, app: RegisteredApp): EmulatorResponse {
    const lifetime = options.tokenLifetimeSeconds();
    const { accessToken } = options.registry.issue(scope, app.tenantId, app.clientId, lifetime);
    return jsonResponse(200, "token", { token_type: "Bearer", expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken });
  }

  /** Authenticates the client by secret, certificate assertion, or federated (managed identity) assertion. */
  function authenticate(form: URLSearchParams, app: RegisteredApp, tokenEndpoint: string): EmulatorResponse | undefined {
    const secret = form.get("client_secret");
    const assertion = form.get("client_assertion");
    if (secret !== null) {
      if (!app.clientSecret || secret !== app.clientSecret) {
        return oauthError(401, "invalid_client", 7000215, "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + app.clientId + "'.");
      }
      return undefined;
    }
    if (assertion !== null) {
      if (form.get("client_assertion_type") !== JWT_BEARER) {
        return oauthError(400, "invalid_request", 50027, "AADSTS50027: client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.");
      }
      // A token from our managed-identity endpoint for api://AzureADTokenExchange is a federated credential.
      if (options.registry.check(assertion, FEDERATION_RESOURCE).ok) return undefined;
      if (!app.certificatePem) {
        return oauthError(401, "invalid_client", 700027, "AADSTS700027: Client assertion failed signature validation: no certificate is registered on the application.");
      }
      const check = checkCertificateAssertion(assertion, { certificatePem: app.certificatePem, clientId: app.clientId, tokenEndpoint });
      return check.ok ? undefined : oauthError(401, "invalid_client", check.code, check.description);
    }
    return oauthError(401, "invalid_client", 7000218, "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
  }

  function token(request: EmulatorRequest, tenant: string, v2: boolean): EmulatorResponse {
    if (!tenantKnown(tenant)) return unknownTenant(tenant);
    const form = new URLSearchParams(request.body.toString("utf8"));
    const grantType = form.get("grant_type");
    if (grantType !== "client_credentials") {
      return oauthError(400, "unsupported_grant_type", 70003, `AADSTS70003: The app requested an unsupported grant type '${grantType ?? ""}'.`);
    }
    const clientId = form.get("client_id") ?? "";
    if (options.federation && tenant === options.federation.tenantId) return federatedToken(form, clientId, v2);
    const app = options.apps().find((candidate) => candidate.tenantId === tenant && candidate.clientId === clientId);
    if (!app) {
      return oauthError(400, "unauthorized_client", 700016, `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${tenant}'.`);
    }
    const rawScope = v2 ? form.get("scope") : form.get("resource");
    // MSAL adds openid/profile/offline_access to any request; the resource scope is the one ending in /.default.
    const scope = v2 ? rawScope?.split(" ").find((part) => part.endsWith("/.default")) : rawScope ? `${resourceOf(rawScope)}/.default` : undefined;
    if (!scope) {
      return oauthError(400, "invalid_scope", 1002012, `AADSTS1002012: The provided value for scope '${rawScope ?? ""}' is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`);
    }
    const tokenEndpoint = `${options.baseUrl()}/${tenant}/oauth2/${v2 ? "v2.0/" : ""}token`;
    return authenticate(form, app, tokenEndpoint) ?? issue(scope, app);
  }

  /** Workload identity federation at the API's tenant: only client assertions (no secrets), decided by the federation. */
  function federatedToken(form: URLSearchParams, clientId: string, v2: boolean): EmulatorResponse {
    const federation = options.federation!;
    const assertion = form.get("client_assertion");
    if (assertion === null) {
      return oauthError(401, "invalid_client", 7000218, "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    }
    if (form.get("client_assertion_type") !== JWT_BEARER) {
      return oauthError(400, "invalid_request", 50027, "AADSTS50027: client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.");
    }
    const rawScope = v2 ? form.get("scope") : form.get("resource");
    const scope = v2 ? rawScope?.split(" ").find((part) => part.endsWith("/.default")) : rawScope ? `${resourceOf(rawScope)}/.default` : undefined;
    if (!scope) {
      return oauthError(400, "invalid_scope", 1002012, `AADSTS1002012: The provided value for scope '${rawScope ?? ""}' is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`);
    }
    const result = federation.exchange({ clientId, scope, assertion });
    if (!result.ok) return oauthError(result.status, result.error, result.code, result.description);
    return jsonResponse(200, "token", { token_type: "Bearer", expires_in: result.expiresIn, ext_expires_in: result.expiresIn, access_token: result.accessToken });
  }

  /** App Service managed identity: GET <IDENTITY_ENDPOINT>?resource=...&api-version=2019-08-01 with X-IDENTITY-HEADER. */
  function managedIdentityToken(request: EmulatorRequest): EmulatorResponse {
    if (request.headers["x-identity-header"] !== options.managedIdentityHeader) {
      return jsonResponse(401, "managedIdentityError", { statusCode: 401, message: "The X-IDENTITY-HEADER is missing or wrong." });
    }
    const resource = request.query.get("resource");
    if (!resource) return jsonResponse(400, "managedIdentityError", { statusCode: 400, message: "resource is required" });
    const clientId = request.query.get("client_id") ?? request.query.get("mi_res_id") ?? "system-assigned";
    const tenantId = options.apps()[0]?.tenantId ?? "managed-identity-tenant";
    const lifetime = options.tokenLifetimeSeconds();
    const { accessToken } = options.registry.issue(`${resourceOf(resource)}/.default`, tenantId, clientId, lifetime);
    return jsonResponse(200, "managedIdentityToken", {
      access_token: accessToken,
      // MSAL compares expires_on with real time.
      expires_on: String(Math.floor(Date.now() / 1000) + lifetime),
      resource,
      token_type: "Bearer",
      client_id: clientId,
    });
  }

  return async (request) => {
    const segments = request.path.split("/").filter(Boolean);
    const [tenant, ...rest] = segments;
    const route = rest.join("/");
    if (request.method === "GET" && segments.join("/") === "msi/token") return managedIdentityToken(request);
    if (request.method === "GET" && route === "discovery/instance") return discovery();
    if (request.method === "GET" && route === "v2.0/.well-known/openid-configuration") return openIdConfiguration(tenant, true);
    if (request.method === "GET" && route === ".well-known/openid-configuration") return openIdConfiguration(tenant, false);
    if (request.method === "GET" && /^discovery\/(v2\.0\/)?keys$/.test(route)) return jsonResponse(200, "jwks", { keys: [] });
    if (request.method === "POST" && route === "oauth2/v2.0/token") return token(request, tenant, true);
    if (request.method === "POST" && route === "oauth2/token") return token(request, tenant, false);
    return jsonResponse(404, "notFound", { error: "not_found", error_description: `No such endpoint: ${request.method} ${request.path}` });
  };
}
