/**
 * The app settings as Azure hands them to the deployed app, for every HDC auth mode × durable
 * backend the template allows (read from the compiled template's allowedValues), loaded through
 * the app's own code: parseConfig (src/config.ts), createHdcCredential (src/hdc/credentials.ts)
 * and the blob connection (src/storage/blobService.ts). Managed identity, Entra ID and Key Vault
 * are loopback stand-ins shaped by the compiled template (test/infra/deployedAzure.ts): only the
 * site's identities get tokens, only a Key Vault Secrets User reads the secret. A setting the code
 * needs and the template lacks fails here, and so does one the template sets that nothing reads.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { APP_SETTING_NAMES, parseConfig } from "../../src/config";
import { createHdcCredential, resetCredentialCache } from "../../src/hdc/credentials";
import { blobConnectionFrom } from "../../src/storage/blobService";
import { RUNTIME_VALUES, resolve } from "./armExpression";
import { bicep, describeInfra, failWithoutBicepInCi, infra, one, roleAssignments, root, snapshot, type Snapshot } from "./bicep";
import { guardLoopbackOnly, startAzureStandIn, type AzureStandIn, type Deployment } from "./deployedAzure";

failWithoutBicepInCi();

const HDC_TENANT = "11111111-1111-4111-8111-111111111111";
const HDC_CLIENT = "22222222-2222-4222-8222-222222222222";
/** The value the operator stores in the vault (docs/deploy.md); only the vault stand-in holds it. */
const CLIENT_SECRET = "deployed-settings-test-client-secret";
const UAMI = RUNTIME_VALUES["Microsoft.ManagedIdentity/userAssignedIdentities"] as { clientId: string; principalId: string };
const KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6";

/**
 * Settings the Functions host or platform reads itself, not the app: only those the template sets,
 * each with the reason. Two families are checked by rule below instead of by name:
 * AzureFunctionsJobHost__<path> (the host reads it as host.json's <path>, which must exist there),
 * and the setting a storageProvider__connectionStringName override names (the Durable extension
 * reads that connection). AzureWebJobsStorage__* needs no entry: config.ts reads those too.
 */
const HOST_READ_SETTINGS: Record<string, string> = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: "the Functions host sends logs and metrics to this Application Insights component",
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "the host authenticates that telemetry with Entra ID (the component has local auth disabled)",
};
const HOST_OVERRIDE_PREFIX = "AzureFunctionsJobHost__";

/** The template's own parameter choices: every allowed auth mode × every allowed backend. */
const template = bicep.bin
  ? (JSON.parse(execFileSync(bicep.bin, ["build", path.join(infra, "main.bicep"), "--stdout"], { encoding: "utf8" })) as {
      parameters: Record<string, { allowedValues?: string[] }>;
    })
  : undefined;
const modes = template?.parameters.hdcAuthMode.allowedValues ?? [];
const backends = template?.parameters.durableBackend.allowedValues ?? [];
const combinations = modes.flatMap((mode) => backends.map((backend) => [mode, backend] as [string, string]));

const hostJson = JSON.parse(fs.readFileSync(path.join(root, "host.json"), "utf8")) as Record<string, unknown>;

/** host.json's value at an AzureFunctionsJobHost__a__b__c path, or undefined when host.json has no such key. */
function hostJsonAt(settingName: string): unknown {
  return settingName
    .slice(HOST_OVERRIDE_PREFIX.length)
    .split("__")
    .reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), hostJson);
}

/** A connection string's Key=Value pairs. */
function connectionString(value: string): Record<string, string> {
  return Object.fromEntries(value.split(";").filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]));
}

/** What the compiled site gives the app: its identities, who reads the vault, whom Entra trusts. */
function deploymentOf(snap: Snapshot): Deployment {
  const site = one(snap, "Microsoft.Web/sites");
  const uamiIds = Object.keys(site.identity?.userAssignedIdentities ?? {});
  // Every user-assigned identity the site names is one the template creates (placeholder runtime values).
  const uami = snap.resources.filter((r) => r.type === "Microsoft.ManagedIdentity/userAssignedIdentities");
  expect(uamiIds.every((id) => uami.some((r) => r.id === id))).toBe(true);
  const clientIdOfPrincipal = (principal: string) => (principal === UAMI.principalId ? UAMI.clientId : `principal:${principal}`);
  const vault = snap.resources.find((r) => r.type === "Microsoft.KeyVault/vaults");
  const secretReaders = vault
    ? roleAssignments(snap)
        .map((row) => row.split(" "))
        .filter(([, role, scope]) => role === KEY_VAULT_SECRETS_USER && scope === vault.id)
        .map(([principal]) => clientIdOfPrincipal(principal))
    : [];
  return {
    identities: { systemAssigned: /SystemAssigned/.test(site.identity?.type ?? ""), userAssignedClientIds: uamiIds.map(() => UAMI.clientId) },
    secretReaders,
    // docs/deploy.md: the federated credential trusts the template's user-assigned identity.
    federatedTrust: [UAMI.clientId],
  };
}

/**
 * The site's app settings as the app's process sees them: ARM expressions resolved (references to
 * other resources become placeholders; the vault's URI points at the loopback vault), and a Key
 * Vault reference resolved to a placeholder value only when the site's keyVaultReferenceIdentity
 * can read the vault; otherwise Azure hands the app the literal @Microsoft.KeyVault(...) string.
 */
function settingsAsDeployed(snap: Snapshot, azure: AzureStandIn, deployment: Deployment): Record<string, string> {
  const runtime = { ...RUNTIME_VALUES, "Microsoft.KeyVault/vaults": { vaultUri: azure.vaultUri } };
  const settings = resolve(one(snap, "Microsoft.Web/sites/config").properties, runtime) as Record<string, string>;
  const site = one(snap, "Microsoft.Web/sites");
  // Azure resolves references with keyVaultReferenceIdentity (default: the system-assigned identity).
  const referenceIdentity = resolve(site.properties?.keyVaultReferenceIdentity ?? "SystemAssigned", runtime) as string;
  const attached = Object.keys(site.identity?.userAssignedIdentities ?? {});
  const referenceReader = attached.includes(referenceIdentity) ? UAMI.clientId : undefined;
  const canResolveReferences = referenceReader !== undefined && deployment.secretReaders.includes(referenceReader);
  return Object.fromEntries(
    Object.entries(settings).map(([name, value]) => [
      name,
      /^@Microsoft\.KeyVault\(/.test(value) && canResolveReferences ? `placeholder-secret-of-${name}` : value,
    ]),
  );
}

describeInfra("deployed app settings, loaded through the app's own config and credential code", () => {
  let work: string;
  let azure: AzureStandIn;
  let current: Deployment;
  let guard: ReturnType<typeof guardLoopbackOnly>;
  const savedEnv = { ...process.env };
  const snapshots = new Map<string, Snapshot>();
  const identityRequestsSeen: string[] = [];

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "deployed-settings-"));
    for (const [mode, backend] of combinations) {
      snapshots.set(
        `${mode}/${backend}`,
        await snapshot(work, `${mode}-${backend}`, {
          environmentName: "sign",
          location: "eastus",
          hdcTenantId: HDC_TENANT,
          hdcClientId: HDC_CLIENT,
          hdcAuthMode: mode,
          durableBackend: backend,
        }),
      );
    }
    azure = await startAzureStandIn({
      deployment: () => current,
      secrets: { "hdc-client-secret": CLIENT_SECRET },
      apps: [{ tenantId: HDC_TENANT, clientId: HDC_CLIENT, clientSecret: CLIENT_SECRET }],
    });
    // What App Service and Functions give every process of an app with a managed identity.
    process.env.IDENTITY_ENDPOINT = azure.identityEndpoint;
    process.env.IDENTITY_HEADER = azure.identityHeader;
    guard = guardLoopbackOnly();
  }, 300_000);

  afterAll(async () => {
    guard?.restore();
    process.env = savedEnv;
    resetCredentialCache();
    await azure?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test("the template allows at least the two auth modes and two backends this file was written for", () => {
    expect(modes).toEqual(expect.arrayContaining(["managedIdentity", "keyVaultSecret"]));
    expect(backends).toEqual(expect.arrayContaining(["azureStorage", "durableTaskScheduler"]));
  });

  test.each(combinations)("HDC_AUTH_MODE=%s, backend %s: every setting is read, the config parses, the credential uses the user-assigned identity", async (mode, backend) => {
    const snap = snapshots.get(`${mode}/${backend}`)!;
    current = deploymentOf(snap);
    azure.clearRecords();
    resetCredentialCache();
    const settings = settingsAsDeployed(snap, azure, current);

    // 1. The app's own config accepts them as they are (no test values mixed in).
    const config = parseConfig(settings);
    const s = config.settings;
    expect(s).toMatchObject({ HDC_AUTH_MODE: mode, HDC_TENANT_ID: HDC_TENANT, HDC_CLIENT_ID: HDC_CLIENT });
    expect(settings.HDC_AUTHORITY_HOST).toBeUndefined(); // public Entra ID; redirected to the stand-in only below

    // 2. The app's own credential factory, with Entra ID redirected to loopback: its kind matches
    //    the mode, and every managed-identity use is the user-assigned identity's (the site has no other).
    const identity = await createHdcCredential(parseConfig({ ...settings, HDC_AUTHORITY_HOST: azure.authorityHost }));
    expect({ kind: identity.kind, tenantId: identity.tenantId, clientId: identity.clientId }).toEqual({ kind: mode, tenantId: HDC_TENANT, clientId: HDC_CLIENT });
    const token = await identity.credential.getToken(s.HDC_SCOPE);
    identityRequestsSeen.push(...azure.identityRequests.map((r) => r.clientId ?? "(system-assigned)"));
    expect(token?.token).toBeTruthy();
    expect(azure.identityRequests.filter((r) => r.clientId !== UAMI.clientId || r.status !== 200)).toEqual([]);
    if (mode === "keyVaultSecret") {
      expect(azure.vaultReads).toEqual([{ clientId: UAMI.clientId, status: 200 }]);
    } else if (mode === "managedIdentity") {
      expect(azure.federatedAssertions.length).toBeGreaterThan(0);
      expect(azure.federatedAssertions.every((a) => a.clientId === UAMI.clientId && a.status === 200)).toBe(true);
    } else {
      throw new Error(`the template allows HDC_AUTH_MODE=${mode}, which this test does not know how to check yet`);
    }
    expect(s.HDC_MANAGED_IDENTITY_CLIENT_ID).toBe(UAMI.clientId);

    // 3. Storage: the app's blob client and the host reach the account with the same identity.
    const account = snap.outputs.AZURE_STORAGE_ACCOUNT_NAME as string;
    expect(blobConnectionFrom(s)).toEqual({ kind: "identity", blobServiceUrl: `https://${account}.blob.core.windows.net`, clientId: UAMI.clientId });
    expect(s.AzureWebJobsStorage__credential).toBe("managedidentity");

    // 4. What the durable backend needs.
    const provider = (name: string) => settings[`${HOST_OVERRIDE_PREFIX}extensions__durableTask__${name}`] ?? hostJsonAt(`${HOST_OVERRIDE_PREFIX}extensions__durableTask__${name}`);
    if (backend === "azureStorage") {
      // host.json's provider on the host storage connection, which needs queues and tables too.
      expect(provider("storageProvider__type")).toBe("AzureStorage");
      expect(provider("storageProvider__connectionStringName")).toBe("AzureWebJobsStorage");
      expect(s.AzureWebJobsStorage__queueServiceUri).toBe(`https://${account}.queue.core.windows.net`);
      expect(s.AzureWebJobsStorage__tableServiceUri).toBe(`https://${account}.table.core.windows.net`);
      expect(Object.keys(settings).filter((name) => name.includes("durableTask") || name.startsWith("DURABLE_TASK"))).toEqual([]);
    } else if (backend === "durableTaskScheduler") {
      expect(provider("storageProvider__type")).toBe("azureManaged");
      const connection = settings[provider("storageProvider__connectionStringName") as string];
      expect(connection).toBeDefined();
      expect(connectionString(connection)).toEqual({
        Endpoint: RUNTIME_VALUES["Microsoft.DurableTask/schedulers"].endpoint,
        Authentication: "ManagedIdentity",
        ClientID: UAMI.clientId,
      });
      expect(provider("hubName")).toBe(one(snap, "Microsoft.DurableTask/schedulers/taskHubs").id.split("/").pop());
    } else {
      throw new Error(`the template allows durableBackend=${backend}, which this test does not know how to check yet`);
    }

    // 5. Nothing the template sets goes unread: the app's schema, or the host (allowlist and rules).
    const connectionNames = Object.entries(settings)
      .filter(([name]) => name.startsWith(HOST_OVERRIDE_PREFIX) && name.endsWith("__connectionStringName"))
      .map(([, value]) => value);
    const unread = Object.keys(settings).filter((name) => {
      if (APP_SETTING_NAMES.includes(name) || name in HOST_READ_SETTINGS || connectionNames.includes(name)) return false;
      return !(name.startsWith(HOST_OVERRIDE_PREFIX) && hostJsonAt(name) !== undefined);
    });
    expect({ mode, backend, unread }).toEqual({ mode, backend, unread: [] });

    // 6. And nothing reached a host that is not loopback.
    expect(guard.refused).toEqual([]);
  });

  test("the allowlist of host-read settings names only settings the template sets", () => {
    const set = new Set(
      [...snapshots.values()].flatMap((snap) => Object.keys(resolve(one(snap, "Microsoft.Web/sites/config").properties) as Record<string, string>)),
    );
    expect(Object.keys(HOST_READ_SETTINGS).filter((name) => !set.has(name))).toEqual([]);
  });

  test("the stand-ins saw the traffic: the site's identity was asked for tokens, and the guard watched loopback connections", () => {
    // MSAL caches managed-identity tokens per process, so not every combination asks again.
    expect(guard.seen.length).toBeGreaterThan(0);
    expect(guard.seen.every((destination) => destination.startsWith("127.0.0.1:"))).toBe(true);
    expect(identityRequestsSeen.length).toBeGreaterThan(0);
    expect(new Set(identityRequestsSeen)).toEqual(new Set([UAMI.clientId]));
  });

  test("the guard refuses a connection to a host that is not loopback (so the check above can fail)", async () => {
    const before = guard.refused.length;
    const outcome = await new Promise<string>((done) => {
      try {
        https.get("https://login.microsoftonline.com/", () => done("connected")).on("error", (error) => done(error.message));
      } catch (error) {
        done((error as Error).message);
      }
    });
    expect(outcome).toMatch(/test guard: refused a connection to login\.microsoftonline\.com:443/);
    expect(guard.refused.slice(before)).toEqual(["login.microsoftonline.com:443"]);
    guard.refused.length = before;
  });
});
