/**
 * The authenticate activity in every credential mode, against the Entra ID, Key Vault and Hardware
 * Dev Center emulators with the real @azure/identity and @azure/keyvault-secrets clients.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { authenticate } from "../../../src/activities/authenticate";
import { startActivityBudget, type ActivityDeps } from "../../../src/activities/deps";
import { parseConfig } from "../../../src/config";
import { createHdcCredential, resetCredentialCache } from "../../../src/credentials";
import { createHdcClientFromConfig } from "../../../src/hdc";
import { getBlobServiceClient } from "../../../src/storage/blobService";
import type { AzuriteHandle } from "../../../local/azurite";
import { type EmulatorsHandle } from "../../../local/emulators";
import { ensureLocalCa, issueClientCertificate } from "../../../local/tls";
import { type EmulatorFixture, startEmulatorFixture, TLS_DIR } from "../../support/emulatorFixture";

const TENANT = "aaaaaaaa-1111-2222-3333-444444444444";
const SECRET_APP = "bbbbbbbb-1111-2222-3333-444444444444";
const CERT_APP = "cccccccc-1111-2222-3333-444444444444";
const FEDERATED_APP = "dddddddd-1111-2222-3333-444444444444";
const KEYVAULT_READER = "eeeeeeee-1111-2222-3333-444444444444";
const clientSecret = "authenticate-modes-secret-value";
const keyVaultReaderSecret = "key-vault-reader-secret-value";
const clientCertificate = issueClientCertificate(ensureLocalCa(TLS_DIR), "authenticate-modes-client");

let fixture: EmulatorFixture;
let azurite: AzuriteHandle;
let emulators: EmulatorsHandle;
let certificatePath: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  fixture = await startEmulatorFixture({
    apps: [
      { tenantId: TENANT, clientId: SECRET_APP, clientSecret },
      { tenantId: TENANT, clientId: CERT_APP, certificatePem: clientCertificate.certPem },
      { tenantId: TENANT, clientId: FEDERATED_APP },
      { tenantId: TENANT, clientId: KEYVAULT_READER, clientSecret: keyVaultReaderSecret },
    ],
    secrets: { "hdc-client-secret": clientSecret },
  });
  ({ azurite, emulators } = fixture);
  certificatePath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hdc-cert-")), "client.pem");
  fs.writeFileSync(certificatePath, clientCertificate.pem, { mode: 0o600 });
});

afterAll(async () => {
  process.env = savedEnv;
  await fixture?.stop();
});

afterEach(() => resetCredentialCache());

function settings(extra: Record<string, string>): Record<string, string> {
  return {
    AzureWebJobsStorage: azurite.connectionString,
    HDC_API_BASE_URL: emulators.hdcBaseUrl,
    HDC_AUTHORITY_HOST: emulators.authorityHost,
    HDC_TENANT_ID: TENANT,
    HDC_MAX_RETRIES: "0",
    ...extra,
  };
}

async function runAuthenticate(env: Record<string, string>) {
  const config = parseConfig(env);
  const identity = await createHdcCredential(config);
  const deps: ActivityDeps = {
    config,
    identity,
    hdc: createHdcClientFromConfig(config, identity.credential),
    blobService: getBlobServiceClient(config),
    log: () => undefined,
    budget: startActivityBudget(config.settings.ACTIVITY_DEADLINE_MINUTES),
  };
  return authenticate({ instanceId: "authenticate-modes" }, deps);
}

/** Successful token answers from the Entra emulator (the log keeps no bodies, so no client id). */
function tokensIssued(): number {
  return emulators.requests().entries.filter((e) => e.service === "entra" && e.status === 200 && /token/i.test(e.kind)).length;
}

describe("authenticate with each credential mode", () => {
  it("clientSecret: gets a token and reaches the API", async () => {
    const out = await runAuthenticate(settings({ HDC_CLIENT_ID: SECRET_APP, HDC_AUTH_MODE: "clientSecret", HDC_CLIENT_SECRET: clientSecret }));
    expect(out).toMatchObject({ tenantId: TENANT, clientId: SECRET_APP, credentialKind: "clientSecret", apiReachable: true });
    expect(new Date(out.expiresOn).getTime()).toBeGreaterThan(Date.now());
    expect(JSON.stringify(out)).not.toContain(clientSecret);
  });

  it("clientSecret: a wrong secret is a terminal failure that names the mode, not the secret", async () => {
    const wrong = "definitely-not-the-secret";
    const attempt = runAuthenticate(settings({ HDC_CLIENT_ID: SECRET_APP, HDC_AUTH_MODE: "clientSecret", HDC_CLIENT_SECRET: wrong }));
    await expect(attempt).rejects.toThrow(/\[terminal\].*clientSecret credential/);
    await attempt.catch((error: Error) => expect(error.message).not.toContain(wrong));
  });

  it("keyVaultSecret: reads the client secret from Key Vault with the app's own identity, then authenticates", async () => {
    // DefaultAzureCredential's environment credential is the app's identity for Key Vault here.
    process.env.AZURE_TENANT_ID = TENANT;
    process.env.AZURE_CLIENT_ID = KEYVAULT_READER;
    process.env.AZURE_CLIENT_SECRET = keyVaultReaderSecret;
    const before = emulators.requests().entries.filter((e) => e.service === "keyvault" && e.status === 200).length;
    const out = await runAuthenticate(
      settings({
        HDC_CLIENT_ID: SECRET_APP,
        HDC_AUTH_MODE: "keyVaultSecret",
        HDC_KEYVAULT_URL: emulators.keyVaultUrl,
        HDC_KEYVAULT_SECRET_NAME: "hdc-client-secret",
      }),
    );
    expect(out).toMatchObject({ clientId: SECRET_APP, credentialKind: "keyVaultSecret", apiReachable: true });
    const secretReads = emulators.requests().entries.filter((e) => e.service === "keyvault" && e.status === 200).length - before;
    expect(secretReads).toBe(1);
  });

  it("certificate: a client assertion signed by the registered certificate", async () => {
    const before = tokensIssued();
    const out = await runAuthenticate(settings({ HDC_CLIENT_ID: CERT_APP, HDC_AUTH_MODE: "certificate", HDC_CERTIFICATE_PATH: certificatePath }));
    expect(out).toMatchObject({ clientId: CERT_APP, credentialKind: "certificate", apiReachable: true });
    expect(tokensIssued() - before).toBe(1);
  });

  it("managedIdentity: the identity's token is the federated assertion for the app registration", async () => {
    process.env.IDENTITY_ENDPOINT = emulators.managedIdentity.endpoint;
    process.env.IDENTITY_HEADER = emulators.managedIdentity.header;
    const before = emulators.requests().entries.filter((e) => e.kind === "managedIdentityToken" && e.status === 200).length;
    const out = await runAuthenticate(
      settings({ HDC_CLIENT_ID: FEDERATED_APP, HDC_AUTH_MODE: "managedIdentity", HDC_MANAGED_IDENTITY_CLIENT_ID: "user-assigned-mi" }),
    );
    expect(out).toMatchObject({ clientId: FEDERATED_APP, credentialKind: "managedIdentity", apiReachable: true });
    const miTokens = emulators.requests().entries.filter((e) => e.kind === "managedIdentityToken" && e.status === 200).length - before;
    expect(miTokens).toBeGreaterThanOrEqual(1);
  });
});
