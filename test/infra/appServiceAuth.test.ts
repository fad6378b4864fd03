/**
 * App Service Authentication (Easy Auth v2) in the compiled template (infra/app/auth.bicep): with
 * an API client id, the site gets authsettingsV2 that requires authentication, answers 401, trusts
 * only the API's Entra registration (v2 issuer of its tenant, its client id and app id URI as
 * audiences), restricts client applications when a list is given, and exempts only the Event Grid
 * webhook (Event Grid posts there with the system key and no bearer token). Without a client id
 * there is no authsettingsV2 (function keys, local demo); asking for auth without one fails.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseConfig } from "../../src/config";
import { resolve } from "./armExpression";
import { describeInfra, failWithoutBicepInCi, TENANT, snapshot, type Resource, type Snapshot } from "./bicep";

failWithoutBicepInCi();

const HDC_TENANT = "11111111-1111-4111-8111-111111111111";
const HDC_CLIENT = "22222222-2222-4222-8222-222222222222";
const API_CLIENT = "33333333-3333-4333-8333-333333333333";
const OTHER_TENANT = "44444444-4444-4444-8444-444444444444";
const CI_CLIENT = "55555555-5555-4555-8555-555555555555";
const AZURE_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const BASE = { environmentName: "sign", location: "eastus", hdcTenantId: HDC_TENANT, hdcClientId: HDC_CLIENT };

interface AuthSettings {
  platform: { enabled: boolean };
  globalValidation: { requireAuthentication: boolean; unauthenticatedClientAction: string; excludedPaths: string[] };
  httpSettings: { requireHttps: boolean };
  identityProviders: {
    azureActiveDirectory: {
      enabled: boolean;
      registration: { clientId: string; openIdIssuer: string; clientSecretSettingName?: string };
      validation: {
        allowedAudiences: string[];
        jwtClaimChecks: { allowedClientApplications?: string[] };
        defaultAuthorizationPolicy: { allowedApplications?: string[] };
      };
    };
  };
  login: { tokenStore: { enabled: boolean } };
}

const authOf = (snap: Snapshot): Resource[] => snap.resources.filter((r) => r.type === "Microsoft.Web/sites/config" && r.id.endsWith("/config/authsettingsV2"));
const settingsOf = (snap: Snapshot) => {
  const found = authOf(snap);
  expect(found).toHaveLength(1);
  return resolve(found[0].properties) as AuthSettings;
};

describeInfra("App Service Authentication in the compiled template", () => {
  let work: string;
  let withAuth: Snapshot;
  let restricted: Snapshot;
  let withoutAuth: Snapshot;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "auth-infra-"));
    [withAuth, restricted, withoutAuth] = await Promise.all([
      snapshot(work, "auth", { ...BASE, apiClientId: API_CLIENT }),
      snapshot(work, "restricted", { ...BASE, apiClientId: API_CLIENT, apiTenantId: OTHER_TENANT, apiAllowedClientApplications: [CI_CLIENT, AZURE_CLI] }),
      snapshot(work, "keys", { ...BASE, extraAppSettings: { AUTH_MODE: "entra" } }),
    ]);
  }, 300_000);
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  test("a client id turns Easy Auth on for the function app: authentication required, 401 for the unauthenticated", () => {
    const [auth] = authOf(withAuth);
    const site = withAuth.resources.find((r) => r.type === "Microsoft.Web/sites")!;
    expect(auth.id.startsWith(`${site.id}/`)).toBe(true);
    const settings = settingsOf(withAuth);
    expect(settings.platform.enabled).toBe(true);
    expect(settings.globalValidation.requireAuthentication).toBe(true);
    expect(settings.globalValidation.unauthenticatedClientAction).toBe("Return401");
    expect(settings.httpSettings.requireHttps).toBe(true);
    // The platform keeps no tokens of callers; the app reads only the principal header.
    expect(settings.login.tokenStore.enabled).toBe(false);
  });

  test("the Entra provider trusts the API registration: v2 issuer of its tenant, client id and app id URI as audiences, no secret", () => {
    const aad = settingsOf(withAuth).identityProviders.azureActiveDirectory;
    expect(aad.enabled).toBe(true);
    expect(aad.registration.clientId).toBe(API_CLIENT);
    // apiTenantId defaults to the deployment's tenant.
    expect(aad.registration.openIdIssuer).toBe(`https://login.microsoftonline.com/${TENANT}/v2.0`);
    expect(aad.registration.clientSecretSettingName).toBeUndefined();
    expect([...aad.validation.allowedAudiences].sort()).toEqual([API_CLIENT, `api://${API_CLIENT}`].sort());
    // No list given: no client-application restriction (the app's role check still applies).
    expect(aad.validation.jwtClaimChecks.allowedClientApplications).toBeUndefined();
    expect(aad.validation.defaultAuthorizationPolicy.allowedApplications).toBeUndefined();

    const other = settingsOf(restricted).identityProviders.azureActiveDirectory;
    expect(other.registration.openIdIssuer).toBe(`https://login.microsoftonline.com/${OTHER_TENANT}/v2.0`);
    expect(other.validation.jwtClaimChecks.allowedClientApplications).toEqual([CI_CLIENT, AZURE_CLI]);
    expect(other.validation.defaultAuthorizationPolicy.allowedApplications).toEqual([CI_CLIENT, AZURE_CLI]);
  });

  test("only the Event Grid webhook is left to the host's key check; no /api/ route and not the Durable webhooks", () => {
    const excluded = settingsOf(withAuth).globalValidation.excludedPaths;
    expect(excluded).toContain("/runtime/webhooks/eventgrid");
    expect(excluded.filter((p) => p === "/" || p.startsWith("/api"))).toEqual([]);
    expect(excluded.filter((p) => p.startsWith("/runtime/webhooks/durabletask"))).toEqual([]);
    expect(excluded).toEqual(["/runtime/webhooks/eventgrid"]);
  });

  test("the page's address goes through sign-in when Easy Auth is on", () => {
    expect(resolve(withAuth.outputs.DASHBOARD_SIGN_IN_URL)).toBe("https://func-example.azurewebsites.net/.auth/login/aad?post_login_redirect_uri=/api/dashboard");
    expect(resolve(withoutAuth.outputs.DASHBOARD_SIGN_IN_URL)).toBe("https://func-example.azurewebsites.net/api/dashboard");
  });

  test("the app's AUTH_MODE follows Easy Auth: entra exactly when authsettingsV2 is there, keys otherwise, and extraAppSettings cannot flip it", () => {
    const appSettings = (snap: Snapshot) =>
      resolve(snap.resources.find((r) => r.type === "Microsoft.Web/sites/config" && r.id.endsWith("/config/appsettings"))!.properties) as Record<string, string>;
    expect(appSettings(withAuth).AUTH_MODE).toBe("entra");
    expect(appSettings(restricted).AUTH_MODE).toBe("entra");
    // The keys deployment asked for entra through extraAppSettings: without Easy Auth in front that
    // would trust a principal header anyone can send, so the computed value wins.
    expect(appSettings(withoutAuth).AUTH_MODE).toBe("keys");
    // The app reads it as such (the same parse the deployed app does).
    expect(parseConfig(appSettings(withAuth)).settings.AUTH_MODE).toBe("entra");
    expect(parseConfig(appSettings(withoutAuth)).settings.AUTH_MODE).toBe("keys");
  });

  test("without a client id there is no Easy Auth (function keys, local demo); asking for it without one fails with the parameter named", async () => {
    expect(authOf(withoutAuth)).toEqual([]);
    expect(withoutAuth.resources.filter((r) => r.type === "Microsoft.Web/sites/config").map((r) => r.id.split("/").pop())).toEqual(["appsettings"]);
    await expect(snapshot(work, "no-client", { ...BASE, appServiceAuth: true })).rejects.toThrow(/apiClientId: required when appServiceAuth is true/);
  });
});
