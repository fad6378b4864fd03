/**
 * Offline checks of the Azure deployment (azure.yaml, infra/, infra/hooks): the Bicep CLI
 * (restored from NuGet by scripts/restore-bicep.sh) compiles and lints every file, and
 * `bicep snapshot` expands the subscription-scoped template with its modules into the resources
 * a deployment would create, with parameters, names and conditions resolved. The tests read
 * that and check settings (through the app's own parseConfig), secrets, roles and the Event Grid
 * hook. Nothing here talks to Azure.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseConfig } from "../../src/config";
import { RUNTIME_VALUES, resolve } from "./armExpression";
import { all, bicep, describeInfra, failWithoutBicepInCi, infra, one, roleAssignments, root, run, snapshot, type Snapshot } from "./bicep";

const OPERATOR = "00000000-0000-4000-8000-00000000cccc";
const HDC_TENANT = "11111111-1111-4111-8111-111111111111";
const HDC_CLIENT = "22222222-2222-4222-8222-222222222222";
const UAMI = RUNTIME_VALUES["Microsoft.ManagedIdentity/userAssignedIdentities"] as { clientId: string; principalId: string };
const TOPIC_PRINCIPAL = (RUNTIME_VALUES["Microsoft.EventGrid/systemTopics"].identity as { principalId: string }).principalId;

const ROLE = {
  storageBlobDataContributor: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  storageBlobDataReader: "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
  storageQueueDataContributor: "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
  storageTableDataContributor: "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
  monitoringMetricsPublisher: "3913510d-42f4-4e42-8a64-420c390055eb",
  keyVaultSecretsUser: "4633458b-17de-408a-b874-0445c86b69e6",
  keyVaultSecretsOfficer: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
  durableTaskDataContributor: "0ad04412-c4d5-4796-b79c-f76d14c8d402",
};

// App settings Flex Consumption rejects or ignores (Learn, "App settings reference": Flex
// Consumption plan deprecations); the runtime comes from functionAppConfig instead.
const FLEX_FORBIDDEN = [
  "FUNCTIONS_EXTENSION_VERSION",
  "FUNCTIONS_WORKER_RUNTIME",
  "FUNCTIONS_WORKER_RUNTIME_VERSION",
  "FUNCTIONS_MAX_HTTP_CONCURRENCY",
  "FUNCTIONS_WORKER_PROCESS_COUNT",
  "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED",
  "SCM_DO_BUILD_DURING_DEPLOYMENT",
  "ENABLE_ORYX_BUILD",
  "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
  "WEBSITE_CONTENTOVERVNET",
  "WEBSITE_CONTENTSHARE",
  "WEBSITE_DNS_SERVER",
  "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
  "WEBSITE_NODE_DEFAULT_VERSION",
  "WEBSITE_RUN_FROM_PACKAGE",
  "WEBSITE_SKIP_CONTENTSHARE_VALIDATION",
  "WEBSITE_VNET_ROUTE_ALL",
];

failWithoutBicepInCi();

function bicepFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".bicep")) out.push(full);
    }
  };
  walk(infra);
  return out.sort();
}

const appSettings = (snap: Snapshot) => resolve(one(snap, "Microsoft.Web/sites/config").properties) as Record<string, string>;

/** Runs a hook script with a recording `az` (and an instant `sleep`) first on PATH. */
function runHook(env: Record<string, string>, keyAfterAttempts = 1, shell: "sh" | "pwsh" = "sh") {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), "fake-az-"));
  const calls = path.join(bin, "calls.log");
  const counter = path.join(bin, "keys-calls");
  const resolvedLog = path.join(bin, "resolved.log");
  fs.writeFileSync(
    path.join(bin, "az"),
    [
      "#!/bin/sh",
      `printf '%s\\n' "$@" '--end--' >> '${calls}'`,
      // An `@path` argument's value is the file's content, as the Azure CLI loads it.
      'for arg in "$@"; do',
      "  case \"$arg\" in @*) v=''; IFS= read -r v < \"${arg#@}\" || true; printf '%s\\n' \"$arg\" \"$v\" >> '" + resolvedLog + "' ;; esac",
      "done",
      'case "$1 $2" in',
      "  'functionapp show') echo 'func-example.azurewebsites.net' ;;",
      "  'functionapp keys')",
      `    n=$(( $(cat '${counter}' 2>/dev/null || echo 0) + 1 )); echo $n > '${counter}'`,
      `    [ "$n" -ge ${keyAfterAttempts} ] && echo 'FAKE-EVENTGRID-SYSTEM-KEY' ;;`,
      "esac",
      "exit 0",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(bin, "sleep"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  const script = shell === "sh" ? ["sh", path.join(infra, "hooks/postdeploy.sh")] : ["pwsh", "-NoProfile", "-File", path.join(infra, "hooks/postdeploy.ps1")];
  const result = spawnSync(script[0], script.slice(1), {
    encoding: "utf8",
    env: { PATH: `${bin}:${process.env.PATH}`, HOME: os.tmpdir(), ...env },
  });
  const log = fs.existsSync(calls) ? fs.readFileSync(calls, "utf8") : "";
  const invocations = log.split("--end--\n").filter(Boolean).map((block) => block.trimEnd().split("\n"));
  // What az read from each @file argument, and whether that file still exists after the hook.
  const lines = fs.existsSync(resolvedLog) ? fs.readFileSync(resolvedLog, "utf8").split("\n") : [];
  const fromFile: Record<string, { value: string; left: boolean }> = {};
  for (let i = 0; i + 1 < lines.length; i += 2) fromFile[lines[i]] = { value: lines[i + 1], left: fs.existsSync(lines[i].slice(1)) };
  fs.rmSync(bin, { recursive: true, force: true });
  return { ...result, invocations, fromFile };
}

const argAfter = (args: string[], flag: string) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};

describeInfra("Azure deployment (infra/, azure.yaml, hooks) checked offline", () => {
  let work: string;
  let compiled: Record<string, string>;
  let lintOutput: string;
  // Default deployment: secretless HDC auth, Azure Storage backend, an operator principal, and an
  // extra setting that tries to replace a computed one.
  let byDefault: Snapshot;
  // Key Vault secret mode, Durable Task Scheduler, another drops container, other scale values.
  let alternative: Snapshot;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "infra-test-"));
    const outdir = path.join(work, "arm");
    const pattern = "infra/**/*.bicep";
    const [, lint, snapA, snapB] = await Promise.all([
      run(bicep.bin!, ["build", "--pattern", pattern, "--outdir", outdir], { cwd: root }).then((r) => {
        if (r.stderr.trim()) throw new Error(`bicep build: ${r.stderr}`);
      }),
      run(bicep.bin!, ["lint", "--pattern", pattern], { cwd: root }).catch((error: { stdout?: string; stderr?: string }) => ({
        stdout: error.stdout ?? "",
        stderr: `${error.stderr ?? ""} (exit non-zero)`,
      })),
      snapshot(work, "default", {
        environmentName: "sign",
        location: "eastus",
        principalId: OPERATOR,
        hdcTenantId: HDC_TENANT,
        hdcClientId: HDC_CLIENT,
        extraAppSettings: { HDC_AUTH_MODE: "clientSecret", POLL_MAX_SECONDS: "600" },
      }),
      snapshot(work, "alternative", {
        environmentName: "sign",
        location: "eastus",
        hdcTenantId: HDC_TENANT,
        hdcClientId: HDC_CLIENT,
        hdcAuthMode: "keyVaultSecret",
        durableBackend: "durableTaskScheduler",
        dropsContainer: "incoming-drivers",
        deleteRetentionDays: 7,
        auditContainer: "trail",
        auditRetentionDays: 2555,
        instanceMemoryMB: 4096,
        maximumInstanceCount: 7,
      }),
    ]);
    lintOutput = `${lint.stdout}${lint.stderr}`.trim();
    byDefault = snapA;
    alternative = snapB;
    compiled = {};
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else compiled[path.relative(outdir, full)] = fs.readFileSync(full, "utf8");
      }
    };
    walk(outdir);
  }, 300_000);

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test("every .bicep file compiles, and bicep lint reports nothing", () => {
    const expected = bicepFiles().map((f) => path.relative(infra, f).replace(/\.bicep$/, ".json"));
    expect(Object.keys(compiled).sort()).toEqual(expected);
    expect(lintOutput).toBe("");
  });

  test("only local modules: no registry (br:) or template-spec (ts:) references", () => {
    for (const file of bicepFiles()) {
      const text = fs.readFileSync(file, "utf8");
      expect({ file, refs: text.match(/module\s+\w+\s+'(?!\.{1,2}\/)[^']*'/g) ?? [] }).toEqual({ file, refs: [] });
    }
  });

  test("no storage key, connection string with a key, or SAS anywhere in the templates or the settings", () => {
    const texts = [...Object.values(compiled), JSON.stringify(byDefault), JSON.stringify(alternative), JSON.stringify(appSettings(byDefault))];
    for (const text of texts) {
      expect(text).not.toMatch(/listKeys\s*\(/i);
      expect(text).not.toMatch(/listAccountSas|listServiceSas/i);
      expect(text).not.toMatch(/AccountKey=/i);
      expect(text).not.toMatch(/DefaultEndpointsProtocol=/i);
      expect(text).not.toMatch(/SharedAccessSignature=|[?&]sig=/i);
    }
    for (const settings of [appSettings(byDefault), appSettings(alternative)]) {
      expect(settings.AzureWebJobsStorage).toBeUndefined();
      expect(settings.HDC_CLIENT_SECRET).toBeUndefined();
    }
  });

  test("src/config.ts accepts the deployed app settings, in both auth modes and both backends", () => {
    const a = parseConfig(appSettings(byDefault)).settings;
    expect(a.HDC_AUTH_MODE).toBe("managedIdentity");
    expect(a.HDC_MANAGED_IDENTITY_CLIENT_ID).toBe(UAMI.clientId);
    expect(a.HDC_TENANT_ID).toBe(HDC_TENANT);
    expect(a.HDC_CLIENT_ID).toBe(HDC_CLIENT);
    expect(a.AzureWebJobsStorage__blobServiceUri).toBe(`https://${byDefault.outputs.AZURE_STORAGE_ACCOUNT_NAME}.blob.core.windows.net`);
    expect([a.DROPS_CONTAINER, a.SIGNED_CONTAINER, a.STATE_CONTAINER]).toEqual(["driver-drops", "signed-drivers", "signing-state"]);
    // extraAppSettings adds settings but cannot replace computed ones.
    expect(a.POLL_MAX_SECONDS).toBe(600);
    // The API's links are on the site's own https host name, never on a request's Host header.
    expect(a.PUBLIC_BASE_URL).toBe(`https://${RUNTIME_VALUES["Microsoft.Web/sites"].defaultHostName}`);

    const b = parseConfig(appSettings(alternative)).settings;
    expect(b.HDC_AUTH_MODE).toBe("keyVaultSecret");
    expect(b.HDC_KEYVAULT_URL).toBe(RUNTIME_VALUES["Microsoft.KeyVault/vaults"].vaultUri);
    expect(b.HDC_KEYVAULT_SECRET_NAME).toBe("hdc-client-secret");
    expect(b.DROPS_CONTAINER).toBe("incoming-drivers");
  });

  test("each setting the config requires is really provided by the template (dropping one fails parseConfig)", () => {
    const required: Array<[Snapshot, string]> = [
      [byDefault, "HDC_TENANT_ID"],
      [byDefault, "HDC_CLIENT_ID"],
      [byDefault, "AzureWebJobsStorage__blobServiceUri"],
      [byDefault, "HDC_MANAGED_IDENTITY_CLIENT_ID"],
      [alternative, "HDC_KEYVAULT_URL"],
      [alternative, "HDC_KEYVAULT_SECRET_NAME"],
    ];
    for (const [snap, name] of required) {
      const settings = appSettings(snap);
      expect(settings[name]).toBeTruthy();
      const { [name]: _dropped, ...rest } = settings;
      expect(() => parseConfig(rest)).toThrow();
    }
  });

  test("identity-based host storage, telemetry and the app's own identity (HDC_MANAGED_IDENTITY_CLIENT_ID) all use the one user-assigned identity", () => {
    const s = appSettings(byDefault);
    const account = byDefault.outputs.AZURE_STORAGE_ACCOUNT_NAME as string;
    expect(s).toMatchObject({
      AzureWebJobsStorage__credential: "managedidentity",
      AzureWebJobsStorage__clientId: UAMI.clientId,
      AzureWebJobsStorage__queueServiceUri: `https://${account}.queue.core.windows.net`,
      AzureWebJobsStorage__tableServiceUri: `https://${account}.table.core.windows.net`,
      HDC_MANAGED_IDENTITY_CLIENT_ID: UAMI.clientId,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `ClientId=${UAMI.clientId};Authorization=AAD`,
    });
    expect(s.APPLICATIONINSIGHTS_CONNECTION_STRING).toMatch(/^InstrumentationKey=/);
    for (const name of FLEX_FORBIDDEN) {
      expect({ name, a: s[name], b: appSettings(alternative)[name] }).toEqual({ name, a: undefined, b: undefined });
    }
  });

  test("storage account: no shared keys, no public blob access, TLS 1.2, private containers for the app, deployment and dead letters", () => {
    const account = one(byDefault, "Microsoft.Storage/storageAccounts");
    expect(account.properties).toMatchObject({
      allowSharedKeyAccess: false,
      allowBlobPublicAccess: false,
      minimumTlsVersion: "TLS1_2",
      supportsHttpsTrafficOnly: true,
    });
    const containers = all(byDefault, "Microsoft.Storage/storageAccounts/blobServices/containers");
    const names = containers.map((c) => c.id.split("/").pop());
    expect(names).toEqual(expect.arrayContaining(["driver-drops", "signed-drivers", "signing-state", "eventgrid-deadletter"]));
    for (const c of containers) expect(c.properties).toEqual({ publicAccess: "None" });
    const app = one(byDefault, "Microsoft.Web/sites");
    const deployment = (app.properties!.functionAppConfig as { deployment: { storage: { value: string } } }).deployment.storage;
    const deploymentContainer = String(resolve(deployment.value)).split("/").pop();
    expect(names).toContain(deploymentContainer);
    expect(all(alternative, "Microsoft.Storage/storageAccounts/blobServices/containers").map((c) => c.id.split("/").pop())).toContain("incoming-drivers");
  });

  test("the drops container's account keeps every blob version, with blob and container soft delete (retention a parameter, default 30 days)", () => {
    // Issue 28: an overwritten package stays readable as a previous version; a deleted one can be restored.
    const retention = (days: number) => ({
      isVersioningEnabled: true,
      deleteRetentionPolicy: { enabled: true, days },
      containerDeleteRetentionPolicy: { enabled: true, days },
    });
    for (const [snap, days] of [[byDefault, 30], [alternative, 7]] as const) {
      const blobService = one(snap, "Microsoft.Storage/storageAccounts/blobServices");
      expect(blobService.properties).toEqual(retention(days));
      // The same account holds the drops container.
      const account = one(snap, "Microsoft.Storage/storageAccounts");
      expect(blobService.id.startsWith(`${account.id}/`)).toBe(true);
      const drops = snap === byDefault ? "driver-drops" : "incoming-drivers";
      expect(all(snap, "Microsoft.Storage/storageAccounts/blobServices/containers").map((c) => c.id)).toContain(`${blobService.id}/containers/${drops}`);
    }
  });

  test("the audit container has a time-based immutability policy (period a parameter, default 365 days, no protected appends) and the app is told its name", () => {
    // Issue 33: records can be neither overwritten nor deleted while the policy holds, by anyone.
    for (const [snap, container, days] of [[byDefault, "signing-audit", 365], [alternative, "trail", 2555]] as const) {
      const blobService = one(snap, "Microsoft.Storage/storageAccounts/blobServices");
      const audit = all(snap, "Microsoft.Storage/storageAccounts/blobServices/containers").find((c) => c.id === `${blobService.id}/containers/${container}`);
      expect(audit?.properties).toEqual({ publicAccess: "None" });
      const policies = all(snap, "Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies");
      expect(policies.map((p) => p.id)).toEqual([`${audit!.id}/immutabilityPolicies/default`]);
      expect(policies[0].properties).toEqual({ immutabilityPeriodSinceCreationInDays: days, allowProtectedAppendWrites: false });
      expect(appSettings(snap).AUDIT_CONTAINER).toBe(container);
    }
    // The one policy (checked above) is the audit container's: drops must stay overwritable (new package versions).
  });

  test("Flex Consumption (FC1, Linux), Node 22, user-assigned identity, scale parameters, deployment storage by identity", () => {
    expect(one(byDefault, "Microsoft.Web/serverfarms")).toMatchObject({
      sku: { name: "FC1", tier: "FlexConsumption" },
      properties: { reserved: true },
    });
    const app = one(byDefault, "Microsoft.Web/sites");
    const uamiId = one(byDefault, "Microsoft.ManagedIdentity/userAssignedIdentities").id;
    expect(app.kind).toBe("functionapp,linux");
    expect(app.tags).toMatchObject({ "azd-service-name": "api" });
    expect(app.identity).toEqual({ type: "UserAssigned", userAssignedIdentities: { [uamiId]: {} } });
    expect(app.properties).toMatchObject({
      httpsOnly: true,
      functionAppConfig: {
        runtime: { name: "node", version: "22" },
        scaleAndConcurrency: { instanceMemoryMB: 2048, maximumInstanceCount: 40 },
        deployment: { storage: { type: "blobContainer", authentication: { type: "UserAssignedIdentity", userAssignedIdentityResourceId: uamiId } } },
      },
    });
    expect(one(alternative, "Microsoft.Web/sites").properties).toMatchObject({
      functionAppConfig: { scaleAndConcurrency: { instanceMemoryMB: 4096, maximumInstanceCount: 7 } },
    });
    for (const policy of all(byDefault, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")) {
      expect(policy.properties).toEqual({ allow: false });
    }
  });

  test("Application Insights takes Entra ID only; Key Vault and the scheduler exist only when chosen", () => {
    expect(one(byDefault, "Microsoft.Insights/components").properties).toMatchObject({ DisableLocalAuth: true });
    expect(all(byDefault, "Microsoft.KeyVault/vaults")).toHaveLength(0);
    expect(all(byDefault, "Microsoft.DurableTask/schedulers")).toHaveLength(0);

    const vault = one(alternative, "Microsoft.KeyVault/vaults");
    expect(vault.properties).toMatchObject({ enableRbacAuthorization: true, accessPolicies: [] });

    one(alternative, "Microsoft.DurableTask/schedulers");
    const hub = one(alternative, "Microsoft.DurableTask/schedulers/taskHubs");
    const s = appSettings(alternative);
    expect(s).toMatchObject({
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: "azureManaged",
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: "DURABLE_TASK_SCHEDULER_CONNECTION_STRING",
      AzureFunctionsJobHost__extensions__durableTask__hubName: hub.id.split("/").pop(),
      DURABLE_TASK_SCHEDULER_CONNECTION_STRING: `Endpoint=${RUNTIME_VALUES["Microsoft.DurableTask/schedulers"].endpoint};Authentication=ManagedIdentity;ClientID=${UAMI.clientId}`,
    });
    expect(Object.keys(appSettings(byDefault)).filter((k) => k.includes("durableTask") || k.startsWith("DURABLE_TASK"))).toEqual([]);
  });

  test("role assignments: exactly one per operation the app, the host, Event Grid and the operator perform, on the narrowest scope", () => {
    const table = (snap: Snapshot, mode: { keyVault: boolean; dts: boolean; operator: boolean; drops: string }) => {
      const account = snap.outputs.AZURE_STORAGE_ACCOUNT_ID as string;
      const container = (name: string) => `${account}/blobServices/default/containers/${name}`;
      const id = (type: string) => one(snap, type).id;
      const rows: Array<[operation: string, principal: string, role: string, scope: string]> = [
        ["app: read drops, write signed/state, create containers, user-delegation key for the copy SAS; host leases; Flex package", UAMI.principalId, ROLE.storageBlobDataContributor, account],
        ["app: send telemetry with Entra ID", UAMI.principalId, ROLE.monitoringMetricsPublisher, id("Microsoft.Insights/components")],
        ["Event Grid: write dead letters", TOPIC_PRINCIPAL, ROLE.storageBlobDataContributor, container("eventgrid-deadletter")],
      ];
      if (!mode.dts) {
        rows.push(["Durable (Azure Storage): control and work-item queues", UAMI.principalId, ROLE.storageQueueDataContributor, account]);
        rows.push(["Durable (Azure Storage): history and instances tables", UAMI.principalId, ROLE.storageTableDataContributor, account]);
      } else {
        rows.push(["Durable (scheduler): orchestration state", UAMI.principalId, ROLE.durableTaskDataContributor, id("Microsoft.DurableTask/schedulers/taskHubs")]);
      }
      if (mode.keyVault) rows.push(["app: read the HDC client secret", UAMI.principalId, ROLE.keyVaultSecretsUser, id("Microsoft.KeyVault/vaults")]);
      if (mode.operator) {
        rows.push(["operator: upload packages and sidecars", OPERATOR, ROLE.storageBlobDataContributor, container(mode.drops)]);
        rows.push(["operator: download signed packages and manifests", OPERATOR, ROLE.storageBlobDataReader, container("signed-drivers")]);
        if (mode.keyVault) rows.push(["operator: set the client secret", OPERATOR, ROLE.keyVaultSecretsOfficer, id("Microsoft.KeyVault/vaults")]);
      }
      return rows.map(([, principal, role, scope]) => `${principal} ${role} ${scope}`).sort();
    };
    expect(roleAssignments(byDefault).sort()).toEqual(table(byDefault, { keyVault: false, dts: false, operator: true, drops: "driver-drops" }));
    expect(roleAssignments(alternative).sort()).toEqual(table(alternative, { keyVault: true, dts: true, operator: false, drops: "incoming-drivers" }));
  });

  test("Event Grid system topic on the storage account, with its own identity for dead letters", () => {
    const topic = one(byDefault, "Microsoft.EventGrid/systemTopics");
    expect(topic.identity).toEqual({ type: "SystemAssigned" });
    expect(topic.properties).toEqual({ source: byDefault.outputs.AZURE_STORAGE_ACCOUNT_ID, topicType: "Microsoft.Storage.StorageAccounts" });
    expect(byDefault.outputs.EVENTGRID_SYSTEM_TOPIC_NAME).toBe(topic.name);
  });

  test.each([
    ["default", () => byDefault],
    ["alternative", () => alternative],
  ])("postdeploy.sh subscribes packageDropped to BlobCreated in the DROPS_CONTAINER setting (%s) and never prints the key", (_, snap) => {
    const outputs = snap().outputs;
    const env = Object.fromEntries(Object.entries(outputs).filter(([, v]) => typeof v === "string")) as Record<string, string>;
    const result = runHook(env, 3);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(`${result.stdout}${result.stderr}`).not.toContain("FAKE-EVENTGRID-SYSTEM-KEY");

    const create = result.invocations.find((args) => args.slice(0, 4).join(" ") === "eventgrid system-topic event-subscription create");
    expect(create).toBeDefined();
    const args = create!;
    const drops = appSettings(snap()).DROPS_CONTAINER;
    const registered = /app\.eventGrid\("(\w+)"/.exec(fs.readFileSync(path.join(root, "src/functions/packageDropped.ts"), "utf8"))![1];
    expect(argAfter(args, "--subject-begins-with")).toBe(`/blobServices/default/containers/${drops}/`);
    expect(argAfter(args, "--included-event-types")).toBe("Microsoft.Storage.BlobCreated");
    expect(argAfter(args, "--event-delivery-schema")).toBe("eventgridschema");
    expect(argAfter(args, "--endpoint-type")).toBe("webhook");
    // The endpoint (it carries the key) reaches az in a file, never on a command line; the file is removed.
    expect(result.invocations.flat().filter((a) => a.includes("FAKE-EVENTGRID-SYSTEM-KEY"))).toEqual([]);
    expect(result.fromFile[argAfter(args, "--endpoint")!]).toEqual({
      value: `https://func-example.azurewebsites.net/runtime/webhooks/eventgrid?functionName=${registered}&code=FAKE-EVENTGRID-SYSTEM-KEY`,
      left: false,
    });
    expect(argAfter(args, "--system-topic-name")).toBe(outputs.EVENTGRID_SYSTEM_TOPIC_NAME);
    expect(argAfter(args, "--resource-group")).toBe(outputs.AZURE_RESOURCE_GROUP);
    expect(Number(argAfter(args, "--max-delivery-attempts"))).toBeGreaterThan(1);
    expect(Number(argAfter(args, "--event-ttl"))).toBeGreaterThan(0);
    expect(argAfter(args, "--deadletter-identity")).toBe("systemassigned");
    expect(argAfter(args, "--deadletter-identity-endpoint")).toBe(
      `${outputs.AZURE_STORAGE_ACCOUNT_ID}/blobServices/default/containers/${outputs.EVENTGRID_DEADLETTER_CONTAINER}`,
    );
    // It waited for the key (two empty answers) instead of subscribing with none.
    expect(result.invocations.filter((a) => a[0] === "functionapp" && a[1] === "keys")).toHaveLength(3);
  });

  test("postdeploy.sh fails, naming the cause, when the function app never gets an eventgrid_extension key", () => {
    const env = Object.fromEntries(Object.entries(byDefault.outputs).filter(([, v]) => typeof v === "string")) as Record<string, string>;
    const result = runHook(env, 1000);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/no eventgrid_extension system key/);
    expect(result.invocations.some((a) => a[0] === "eventgrid")).toBe(false);
  });

  test("hook scripts parse: sh -n, and PowerShell's parser where pwsh exists; the .ps1 uses the same filter and function", () => {
    execFileSync("sh", ["-n", path.join(infra, "hooks/postdeploy.sh")]);
    const ps1 = fs.readFileSync(path.join(infra, "hooks/postdeploy.ps1"), "utf8");
    expect(ps1).toContain('--subject-begins-with "/blobServices/default/containers/$($env:DROPS_CONTAINER)/"');
    expect(ps1).toContain("--included-event-types Microsoft.Storage.BlobCreated");
    expect(ps1).toContain("runtime/webhooks/eventgrid?functionName=$functionName&code=$key");
    expect(ps1).toContain('--endpoint "@$endpointFile"');
    expect(ps1).toContain("'packageDropped'");
    expect(ps1).toContain("--deadletter-identity systemassigned");
    expect(ps1).not.toMatch(/Write-(Host|Output)[^\n]*\$key/);
    const pwsh = spawnSync("pwsh", ["-NoProfile", "-Command", "$PSVersionTable.PSVersion.ToString()"], { encoding: "utf8" });
    if (pwsh.error) {
      console.warn("postdeploy.ps1 not parsed: pwsh is not installed here (the text checks above still ran)");
      return;
    }
    const parse = spawnSync(
      "pwsh",
      ["-NoProfile", "-Command", `$e=$null; [System.Management.Automation.Language.Parser]::ParseFile('${path.join(infra, "hooks/postdeploy.ps1")}', [ref]$null, [ref]$e) | Out-Null; if ($e.Count) { $e | ForEach-Object { $_.ToString() }; exit 1 }`],
      { encoding: "utf8" },
    );
    expect(parse.stdout + parse.stderr).toBe("");
    expect(parse.status).toBe(0);
    // And it does what postdeploy.sh does (its endpoint reaches az in a file, never on the command line).
    const env = Object.fromEntries(Object.entries(alternative.outputs).filter(([, v]) => typeof v === "string")) as Record<string, string>;
    const ran = runHook(env, 1, "pwsh");
    expect(ran.status).toBe(0);
    expect(`${ran.stdout}${ran.stderr}`).not.toContain("FAKE-EVENTGRID-SYSTEM-KEY");
    expect(ran.invocations.flat().filter((a) => a.includes("FAKE-EVENTGRID-SYSTEM-KEY"))).toEqual([]);
    const create = ran.invocations.find((args) => args[0] === "eventgrid")!;
    expect(argAfter(create, "--subject-begins-with")).toBe(`/blobServices/default/containers/${appSettings(alternative).DROPS_CONTAINER}/`);
    expect(ran.fromFile[argAfter(create, "--endpoint")!]).toEqual({
      value: "https://func-example.azurewebsites.net/runtime/webhooks/eventgrid?functionName=packageDropped&code=FAKE-EVENTGRID-SYSTEM-KEY",
      left: false,
    });
    expect(argAfter(create, "--deadletter-identity")).toBe("systemassigned");
  });

  test("azure.yaml: one function service built locally from build/deploy, with package and postdeploy hooks", () => {
    const yaml = fs.readFileSync(path.join(root, "azure.yaml"), "utf8");
    expect(yaml).toMatch(/\n  api:\n    #[^\n]*\n    #[^\n]*\n    project: \.\/build\/deploy\n    language: js\n    host: function\n    remoteBuild: false\n/);
    for (const hook of ["prepackage", "predeploy"]) {
      expect(yaml).toMatch(
        new RegExp(`\\n  ${hook}:\\n    posix:\\n      shell: sh\\n      run: npm run package\\n`),
      );
    }
    expect(yaml).toContain("run: ./infra/hooks/postdeploy.sh");
    expect(yaml).toContain("run: ./infra/hooks/postdeploy.ps1");
    expect(fs.statSync(path.join(infra, "hooks/postdeploy.sh")).mode & 0o111).not.toBe(0);
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.package).toBeDefined();
  });

  test("main.parameters.json maps only real parameters, and its ${VAR=default} defaults equal the Bicep defaults", () => {
    const params = JSON.parse(fs.readFileSync(path.join(infra, "main.parameters.json"), "utf8")).parameters as Record<string, { value: string }>;
    const declared = JSON.parse(compiled["main.json"]).parameters as Record<string, { defaultValue?: unknown }>;
    for (const [name, { value }] of Object.entries(params)) {
      expect({ name, declared: name in declared }).toEqual({ name, declared: true });
      const fallback = /^\$\{[A-Z_]+=(.*)\}$/.exec(value)?.[1];
      if (fallback !== undefined) expect({ name, fallback }).toEqual({ name, fallback: String(declared[name].defaultValue) });
    }
    for (const required of ["environmentName", "location", "hdcTenantId", "hdcClientId"]) expect(params[required]).toBeDefined();
  });

  test("host.json functionTimeout fits Flex (at most 30 min here) and exceeds the activity deadline", () => {
    const host = JSON.parse(fs.readFileSync(path.join(root, "host.json"), "utf8")) as { functionTimeout: string };
    const [h, m, s] = host.functionTimeout.split(":").map(Number);
    const timeoutMinutes = h * 60 + m + s / 60;
    expect(timeoutMinutes).toBeLessThanOrEqual(30);
    const settings = parseConfig(appSettings(byDefault)).settings as unknown as Record<string, number>;
    // ACTIVITY_DEADLINE_MINUTES where the config has it; the copy timeout bounds the longest activity otherwise.
    const deadline = settings.ACTIVITY_DEADLINE_MINUTES ?? settings.COPY_TIMEOUT_MINUTES;
    expect(deadline).toBeGreaterThan(0);
    expect(timeoutMinutes).toBeGreaterThan(deadline);
  });
});
