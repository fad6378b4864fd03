import { ClientAssertionCredential, ClientCertificateCredential, ClientSecretCredential } from "@azure/identity";
import { createHdcCredential, resetCredentialCache } from "../../../src/hdc/credentials";
import { isLoopbackUrl } from "../../../src/domain/loopback";
import { parseConfig } from "../../../src/config";
import { sasExpiresBefore } from "../../../src/storage/sas";

// Only constructs credentials: token acquisition is tested against the Entra emulator elsewhere,
// and nothing here may contact a non-loopback host.
const base = {
  AzureWebJobsStorage: "UseDevelopmentStorage=true",
  HDC_TENANT_ID: "11111111-2222-3333-4444-555555555555",
  HDC_CLIENT_ID: "66666666-7777-8888-9999-000000000000",
  HDC_AUTHORITY_HOST: "https://127.0.0.1:8443",
};

afterEach(() => resetCredentialCache());

describe("createHdcCredential", () => {
  it("clientSecret: a ClientSecretCredential with the configured tenant and client, cached per process", async () => {
    const config = parseConfig({ ...base, HDC_AUTH_MODE: "clientSecret", HDC_CLIENT_SECRET: "s3cret" });
    const identity = await createHdcCredential(config);
    expect(identity).toMatchObject({ kind: "clientSecret", tenantId: base.HDC_TENANT_ID, clientId: base.HDC_CLIENT_ID });
    expect(identity.credential).toBeInstanceOf(ClientSecretCredential);
    expect(await createHdcCredential(config)).toBe(identity);
    expect(JSON.stringify({ kind: identity.kind, tenantId: identity.tenantId, clientId: identity.clientId })).not.toContain("s3cret");
  });

  it("certificate and managedIdentity build the matching credential types", async () => {
    const certificate = await createHdcCredential(parseConfig({ ...base, HDC_AUTH_MODE: "certificate", HDC_CERTIFICATE_PATH: "/nonexistent/cert.pem" }));
    expect(certificate.kind).toBe("certificate");
    expect(certificate.credential).toBeInstanceOf(ClientCertificateCredential);

    const managed = await createHdcCredential(parseConfig({ ...base, HDC_AUTH_MODE: "managedIdentity", HDC_MANAGED_IDENTITY_CLIENT_ID: "mi-client" }));
    expect(managed.kind).toBe("managedIdentity");
    expect(managed.credential).toBeInstanceOf(ClientAssertionCredential);
  });

  it("a different configuration gets a different credential", async () => {
    const first = await createHdcCredential(parseConfig({ ...base, HDC_CLIENT_SECRET: "one" }));
    const second = await createHdcCredential(parseConfig({ ...base, HDC_CLIENT_ID: "other-client", HDC_CLIENT_SECRET: "one" }));
    expect(second).not.toBe(first);
    expect(second.clientId).toBe("other-client");
  });
});

describe("helpers", () => {
  it("isLoopbackUrl recognises the local emulators only", () => {
    expect(isLoopbackUrl("https://127.0.0.1:8443/")).toBe(true);
    expect(isLoopbackUrl("https://localhost/")).toBe(true);
    expect(isLoopbackUrl("https://contoso.vault.azure.net/")).toBe(false);
  });

  it("sasExpiresBefore compares se with a moment", () => {
    const deadline = new Date("2025-01-01T00:25:00Z");
    expect(sasExpiresBefore("https://a/b?sv=1&se=2025-01-01T00%3A24%3A00Z&sig=x", deadline)).toBe(true);
    expect(sasExpiresBefore("https://a/b?sv=1&se=2025-01-01T00%3A26%3A00Z&sig=x", deadline)).toBe(false);
    expect(sasExpiresBefore("https://a/b?sv=1&sig=x", deadline)).toBe(false);
  });
});
