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
import { createHdcCredential, resetCredentialCache } from "../../../src/hdc/credentials";
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
const ROTATING_APP = "ffffffff-1111-2222-3333-444444444444";
const clientSecret = "authenticate-modes-secret-value";
const rotatingSecrets = ["rotating-secret-first-value", "rotating-secret-second-value"];
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
      { tenantId: TENANT, clientId: ROTATING_APP, clientSecret: rotatingSecrets[0] },
    ],
    secrets: { "hdc-client-secret": clientSecret, "rotating-secret": rotatingSecrets[0]! },
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

/** The Function's managed identity (App Service style endpoint of the Entra emulator). */
function useManagedIdentityEndpoint(): void {
  process.env.IDENTITY_ENDPOINT = emulators.managedIdentity.endpoint;
  process.env.IDENTITY_HEADER = emulators.managedIdentity.header;
}

function secretReads(): number {
  return emulators.requests().entries.filter((e) => e.service === "keyvault" && e.status === 200).length;
}

function invalidClientAnswers(): number {
  return emulators.requests().entries.filter((e) => e.service === "entra" && e.status === 401).length;
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

  it("keyVaultSecret: reads the client secret from Key Vault with the app's managed identity, then authenticates", async () => {
    useManagedIdentityEndpoint();
    const before = secretReads();
    const out = await runAuthenticate(
      settings({
        HDC_CLIENT_ID: SECRET_APP,
        HDC_AUTH_MODE: "keyVaultSecret",
        HDC_KEYVAULT_URL: emulators.keyVaultUrl,
        HDC_KEYVAULT_SECRET_NAME: "hdc-client-secret",
      }),
    );
    expect(out).toMatchObject({ clientId: SECRET_APP, credentialKind: "keyVaultSecret", apiReachable: true });
    expect(secretReads() - before).toBe(1);
    // The vault was read with the managed identity (ManagedIdentityCredential, not DefaultAzureCredential).
    expect(emulators.requests().entries.some((e) => e.kind === "managedIdentityToken" && e.status === 200)).toBe(true);
  });

  describe("keyVaultSecret: a secret rotated in Key Vault and Entra", () => {
    const rotatingSettings = () =>
      settings({
        HDC_CLIENT_ID: ROTATING_APP,
        HDC_AUTH_MODE: "keyVaultSecret",
        HDC_KEYVAULT_URL: emulators.keyVaultUrl,
        HDC_KEYVAULT_SECRET_NAME: "rotating-secret",
      });

    beforeEach(() => {
      useManagedIdentityEndpoint();
      // Tokens within MSAL's 5-minute renewal window are never served from its cache: every
      // authenticate asks Entra, as it would once an hour-long token has run out.
      emulators.configure({ tokenLifetimeSeconds: 60 });
    });
    afterEach(() => {
      emulators.configure({ tokenLifetimeSeconds: 3600 });
    });

    it("is picked up by the next authenticate without a restart: invalid_client → one re-read → success", async () => {
      const env = rotatingSettings();
      const identity = await createHdcCredential(parseConfig(env));
      expect((await runAuthenticate(env)).credentialKind).toBe("keyVaultSecret");

      // Rotate in both places mid-run; the process keeps its credential (no restart, no cache reset).
      emulators.setAppSecret(ROTATING_APP, rotatingSecrets[1]!);
      emulators.setSecrets({ "rotating-secret": rotatingSecrets[1]! });
      const readsBefore = secretReads();
      const refusedBefore = invalidClientAnswers();

      const out = await runAuthenticate(env);

      expect(out).toMatchObject({ clientId: ROTATING_APP, credentialKind: "keyVaultSecret", apiReachable: true });
      expect(await createHdcCredential(parseConfig(env))).toBe(identity);
      expect(secretReads() - readsBefore).toBe(1);
      expect(invalidClientAnswers() - refusedBefore).toBe(1);
    });

    it("a wrong secret in the vault stays a terminal error naming the mode, without the secret", async () => {
      const wrong = "wrong-secret-in-the-vault-value";
      emulators.setAppSecret(ROTATING_APP, rotatingSecrets[1]!);
      emulators.setSecrets({ "rotating-secret": wrong });
      const readsBefore = secretReads();

      const failure: Error = await runAuthenticate(rotatingSettings()).then(
        () => new Error("expected authenticate to fail"),
        (error: unknown) => error as Error,
      );

      expect(failure.message).toMatch(/\[terminal\].*keyVaultSecret credential/);
      expect(failure.message).toMatch(/AADSTS7000215/);
      expect(failure.message).not.toContain(wrong);
      expect(failure.message).not.toContain(rotatingSecrets[1]);
      // Read at the start, and once more after Entra refused it; then no further retry.
      expect(secretReads() - readsBefore).toBe(2);
    });
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
