/**
 * The Entra ID and Key Vault emulators against the real @azure/identity and
 * @azure/keyvault-secrets clients (HTTPS trusted through NODE_EXTRA_CA_CERTS).
 */
import { ClientAssertionCredential, ClientCertificateCredential, ClientSecretCredential, ManagedIdentityCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { type EmulatorsHandle } from "../../../local/emulators";
import { ensureLocalCa, issueClientCertificate } from "../../../local/tls";
import { type EmulatorFixture, startEmulatorFixture, TLS_DIR } from "../../support/emulatorFixture";

const TENANT = "11111111-1111-1111-1111-111111111111";
const SECRET_APP = "22222222-2222-2222-2222-222222222222";
const CERT_APP = "33333333-3333-3333-3333-333333333333";
const FEDERATED_APP = "44444444-4444-4444-4444-444444444444";
const HDC_SCOPE = "https://manage.devcenter.microsoft.com/.default";
const clientSecret = "emulator-test-secret";
const clientCertificate = issueClientCertificate(ensureLocalCa(TLS_DIR), "driver-signing-test-client");

let fixture: EmulatorFixture;
let emulators: EmulatorsHandle;

beforeAll(async () => {
  fixture = await startEmulatorFixture({
    apps: [
      { tenantId: TENANT, clientId: SECRET_APP, clientSecret },
      { tenantId: TENANT, clientId: CERT_APP, certificatePem: clientCertificate.certPem },
      { tenantId: TENANT, clientId: FEDERATED_APP },
    ],
    secrets: { "hdc-client-secret": clientSecret },
  });
  ({ emulators } = fixture);
});

afterAll(async () => {
  await fixture?.stop();
});

const options = () => ({ authorityHost: emulators.authorityHost, disableInstanceDiscovery: true });

describe("Entra ID emulator", () => {
  it("issues a token to ClientSecretCredential with the configured lifetime", async () => {
    const credential = new ClientSecretCredential(TENANT, SECRET_APP, clientSecret, options());
    const token = await credential.getToken(HDC_SCOPE);
    expect(token.token.split(".")).toHaveLength(3);
    const lifetimeSeconds = (token.expiresOnTimestamp - Date.now()) / 1000;
    expect(lifetimeSeconds).toBeGreaterThan(3500);
    expect(lifetimeSeconds).toBeLessThanOrEqual(3601); // expires_in has whole-second granularity
    expect(emulators.requests().counts.token).toBeGreaterThanOrEqual(1);
  });

  it("rejects a wrong client secret with invalid_client (AADSTS7000215)", async () => {
    const credential = new ClientSecretCredential(TENANT, SECRET_APP, "not-the-secret", options());
    await expect(credential.getToken(HDC_SCOPE)).rejects.toThrow(/invalid_client|AADSTS7000215/);
    const failed = emulators.requests().entries.filter((entry) => entry.kind === "tokenError");
    expect(failed.some((entry) => entry.status === 401)).toBe(true);
  });

  it("rejects an unknown tenant", async () => {
    const credential = new ClientSecretCredential("99999999-9999-9999-9999-999999999999", SECRET_APP, clientSecret, options());
    await expect(credential.getToken(HDC_SCOPE)).rejects.toThrow();
    expect(emulators.requests().entries.some((entry) => entry.service === "entra" && entry.status === 400)).toBe(true);
  });

  it("issues a token to ClientCertificateCredential signing with the registered certificate", async () => {
    const credential = new ClientCertificateCredential(TENANT, CERT_APP, { certificate: clientCertificate.pem }, options());
    const token = await credential.getToken(HDC_SCOPE);
    expect(token.token.length).toBeGreaterThan(100);
  });

  it("refuses a certificate that is not registered on the app", async () => {
    const stranger = issueClientCertificate(ensureLocalCa(TLS_DIR), "someone-else");
    const credential = new ClientCertificateCredential(TENANT, CERT_APP, { certificate: stranger.pem }, options());
    await expect(credential.getToken(HDC_SCOPE)).rejects.toThrow(/AADSTS700027|invalid_client/);
  });

  it("accepts a managed-identity token as a federated client assertion", async () => {
    process.env.IDENTITY_ENDPOINT = emulators.managedIdentity.endpoint;
    process.env.IDENTITY_HEADER = emulators.managedIdentity.header;
    try {
      const managedIdentity = new ManagedIdentityCredential({ clientId: "mi-client" });
      const credential = new ClientAssertionCredential(
        TENANT,
        FEDERATED_APP,
        async () => (await managedIdentity.getToken("api://AzureADTokenExchange/.default")).token,
        options(),
      );
      const token = await credential.getToken(HDC_SCOPE);
      expect(token.token.split(".")).toHaveLength(3);
      expect(emulators.requests().counts.managedIdentityToken).toBeGreaterThanOrEqual(1);
    } finally {
      delete process.env.IDENTITY_ENDPOINT;
      delete process.env.IDENTITY_HEADER;
    }
  });
});

describe("Key Vault emulator", () => {
  it("serves a secret to SecretClient through the challenge flow", async () => {
    const credential = new ClientSecretCredential(TENANT, SECRET_APP, clientSecret, options());
    const client = new SecretClient(emulators.keyVaultUrl, credential, { disableChallengeResourceVerification: true });
    const secret = await client.getSecret("hdc-client-secret");
    expect(secret.value).toBe(clientSecret);
    expect(secret.properties.id).toMatch(new RegExp(`^${emulators.keyVaultUrl}/secrets/hdc-client-secret/[0-9a-f]{32}$`));
    const vaultRequests = emulators.requests().entries.filter((entry) => entry.service === "keyvault");
    // First the unauthenticated probe (401 challenge), then the authorised read.
    expect(vaultRequests.map((entry) => entry.status)).toEqual(expect.arrayContaining([401, 200]));
  });

  it("answers 404 SecretNotFound for an unknown secret", async () => {
    const credential = new ClientSecretCredential(TENANT, SECRET_APP, clientSecret, options());
    const client = new SecretClient(emulators.keyVaultUrl, credential, { disableChallengeResourceVerification: true });
    await expect(client.getSecret("no-such-secret")).rejects.toMatchObject({ statusCode: 404, code: "SecretNotFound" });
  });

  it("rejects a Hardware Dev Center token (wrong resource) with a challenge", async () => {
    const credential = new ClientSecretCredential(TENANT, SECRET_APP, clientSecret, options());
    const { token } = await credential.getToken(HDC_SCOPE);
    const response = await fetch(`${emulators.keyVaultUrl}/secrets/hdc-client-secret?api-version=7.5`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(`Bearer authorization="${emulators.authorityHost}/${TENANT}", resource="https://vault.azure.net"`);
  });
});
