/**
 * driver-sign --audience (issue 31): the @azure/identity chain is built from the documented
 * environment, in the documented order, without DefaultAzureCredential. Construct only: no token
 * is requested, so no network.
 */
import { AzureCliCredential, ChainedTokenCredential, ClientSecretCredential, ManagedIdentityCredential, WorkloadIdentityCredential } from "@azure/identity";
import { credentialChainSources, scopeFor, tokenSource } from "../../../cli/auth";

const GITHUB_OIDC = {
  AZURE_CLIENT_ID: "11111111-2222-3333-4444-555555555555",
  AZURE_TENANT_ID: "66666666-7777-8888-9999-000000000000",
  AZURE_FEDERATED_TOKEN_FILE: "/tmp/federated-token",
};

describe("the credential chain behind --audience", () => {
  test("GitHub OIDC (workload identity env) first, then the Azure CLI, then managed identity", () => {
    const sources = credentialChainSources(GITHUB_OIDC);
    expect(sources.map((s) => s.constructor)).toEqual([WorkloadIdentityCredential, AzureCliCredential, ManagedIdentityCredential]);
    // The workload credential reads the file the env names (not whatever the process env holds).
    expect((sources[0] as unknown as { federatedTokenFilePath: string }).federatedTokenFilePath).toBe("/tmp/federated-token");
  });

  test("azure/login's secret env is a client-secret credential; with no Azure env: CLI and managed identity", () => {
    const secret = credentialChainSources({ AZURE_CLIENT_ID: GITHUB_OIDC.AZURE_CLIENT_ID, AZURE_TENANT_ID: GITHUB_OIDC.AZURE_TENANT_ID, AZURE_CLIENT_SECRET: "s" });
    expect(secret.map((s) => s.constructor)).toEqual([ClientSecretCredential, AzureCliCredential, ManagedIdentityCredential]);
    expect(credentialChainSources({}).map((s) => s.constructor)).toEqual([AzureCliCredential, ManagedIdentityCredential]);
    // A partial federated env (no token file) does not make a workload credential that can only fail.
    expect(credentialChainSources({ AZURE_CLIENT_ID: "x", AZURE_TENANT_ID: "y" }).map((s) => s.constructor)).toEqual([AzureCliCredential, ManagedIdentityCredential]);
  });

  test("the scope is <audience>/.default; a bad audience is an argument error naming the option", () => {
    expect(scopeFor("api://11111111-2222-3333-4444-555555555555")).toBe("api://11111111-2222-3333-4444-555555555555/.default");
    expect(scopeFor("api://abc/")).toBe("api://abc/.default");
    expect(scopeFor("api://abc/.default")).toBe("api://abc/.default");
    expect(() => scopeFor("not an audience")).toThrow(/--audience "not an audience" is not an API audience/);
  });

  test("--audience gives a source backed by a ChainedTokenCredential; one credential at a time", () => {
    const source = tokenSource({ audience: "api://abc" }, GITHUB_OIDC)!;
    expect(source.describe).toMatch(/api:\/\/abc\/\.default/);
    expect((source as unknown as { credential: unknown }).credential).toBeInstanceOf(ChainedTokenCredential);
    expect(tokenSource({}, {})).toBeUndefined();
    expect(() => tokenSource({ audience: "api://abc", tokenFile: "/f" }, {})).toThrow(/one token source, not --token-file and --audience/);
    expect(() => tokenSource({ key: "k", token: "t" }, {})).toThrow(/either --key/);
  });
});
