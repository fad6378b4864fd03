/**
 * driver-sign --audience through workload identity federation, as a GitHub Actions job does it
 * (issue 31): the compiled CLI, as a child process whose environment holds ONLY the workload
 * identity variables (AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID,
 * AZURE_AUTHORITY_HOST) and NODE_EXTRA_CA_CERTS, lets the real @azure/identity
 * WorkloadIdentityCredential exchange a "GitHub" OIDC JWT of the local provider at the Entra
 * emulator's token endpoint for an access token of the API, and signs a package end to end through
 * the local Easy Auth. Assertions whose subject, audience or issuer do not match the federated
 * credential, expired or unsigned ones, are refused with exit 2 (Authentication) naming Entra's
 * AADSTS code; nothing is uploaded or started. No token or assertion is printed or logged.
 */
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { resultDocumentSchema } from "../../cli/output";
import { DEFAULT_SUBJECT, LocalOidcProvider, TOKEN_EXCHANGE_AUDIENCE, loadFederatedApps } from "../../local/identity/federation";
import { signJwt } from "../../local/identity/issuer";
import { APP_CONTAINERS } from "../../local/stack";
import { samplePackage } from "../../local/samplePackage";
import { emulatorCounts, expectNothingSecret, startTestStack, type TestStack } from "../support/stack";

jest.setTimeout(180_000);

const CLI = path.resolve(__dirname, "../../dist/cli/driverSign.js");

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("driver-sign --audience with a federated (GitHub OIDC) credential", () => {
  let stack: TestStack;
  let work: string;
  let provider: LocalOidcProvider;
  let clientId: string;
  let audience: string;
  let packageFile: string;
  const printed: string[] = [];
  const secrets: string[] = [];

  beforeAll(async () => {
    stack = await startTestStack({ auth: "entra" });
    work = fs.mkdtempSync(path.join(os.tmpdir(), "driver-sign-federated-"));
    provider = LocalOidcProvider.loadOrCreate(stack.dataDir);
    const app = loadFederatedApps(stack.dataDir).find((candidate) => candidate.name === "ci-pipeline")!;
    clientId = stack.issuer!.appClientId(app.name);
    audience = stack.issuer!.metadata.audiences[0];
    const pkg = samplePackage({ folder: "cli-federated" });
    packageFile = path.join(work, pkg.fileName);
    fs.writeFileSync(packageFile, pkg.bytes);
  });
  afterAll(async () => {
    await stack?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  /** Runs driver-sign with the workload identity environment only; the assertion sits in a 0600 file. */
  async function cli(args: string[], assertion: string): Promise<CliRun> {
    secrets.push(assertion);
    const tokenFile = path.join(work, `assertion-${secrets.length}`);
    fs.writeFileSync(tokenFile, assertion, { mode: 0o600 });
    const env = {
      AZURE_FEDERATED_TOKEN_FILE: tokenFile,
      AZURE_CLIENT_ID: clientId,
      AZURE_TENANT_ID: stack.issuer!.metadata.tenantId,
      AZURE_AUTHORITY_HOST: stack.emulators.authorityHost,
      NODE_EXTRA_CA_CERTS: stack.emulators.caCertPath,
    };
    const run = await new Promise<CliRun>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args, "--url", stack.apiUrl, "--audience", audience, "--upload-cache", path.join(work, "upload-cache")], {
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
    printed.push(run.stdout, run.stderr);
    return run;
  }

  const drops = async () => {
    const names: string[] = [];
    for await (const blob of stack.blobService.getContainerClient(APP_CONTAINERS.drops).listBlobsFlat()) names.push(blob.name);
    return names;
  };

  it("refuses a wrong subject, a wrong audience, another issuer, an expired and an unsigned assertion: exit 2 with Entra's code, nothing started", async () => {
    const before = { drops: await drops(), counts: emulatorCounts(stack) };
    const submit = (assertion: string) => cli(["submit", packageFile, "--wait", "--json", "--poll", "200ms", "--timeout", "60s"], assertion);

    const cases: [string, string, RegExp][] = [
      ["wrong subject", provider.mint({ subject: "repo:contoso/drivers:environment:staging" }), /AADSTS700213: No matching federated identity record found for presented assertion subject 'repo:contoso\/drivers:environment:staging'/],
      ["wrong audience", provider.mint({ subject: DEFAULT_SUBJECT, audience: "api://SomethingElse" }), /AADSTS700212: No matching federated identity record found for presented assertion audience 'api:\/\/SomethingElse'/],
      ["expired", provider.mint({ subject: DEFAULT_SUBJECT, now: new Date(Date.now() - 3600_000), expiresInSeconds: 300 }), /AADSTS700024: Client assertion is not within its valid time range/],
    ];
    // An unsigned assertion (alg none) and one signed by a key the tenant does not trust, with the right claims.
    const claims = { iss: provider.issuer, sub: DEFAULT_SUBJECT, aud: TOKEN_EXCHANGE_AUDIENCE, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 300 };
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    cases.push(["unsigned", `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`, /AADSTS5002738: Invalid JWT token\. 'none' is not a supported signature algorithm/]);
    const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    cases.push(["signed by another key", signJwt({ alg: "RS256", typ: "JWT", kid: provider.jwk.kid }, claims, otherKey), /AADSTS700027: Client assertion failed signature validation/]);
    // GitHub's real issuer is not a federated credential of this app (only the local provider is).
    const github = { ...claims, iss: "https://token.actions.githubusercontent.com" };
    cases.push(["another issuer", signJwt({ alg: "RS256", typ: "JWT", kid: "github" }, github, otherKey), /AADSTS700211: No matching federated identity record found for presented assertion issuer 'https:\/\/token\.actions\.githubusercontent\.com'/]);

    for (const [name, assertion, reason] of cases) {
      const run = await submit(assertion);
      expect({ name, code: run.code }).toEqual({ name, code: 2 });
      const message = (JSON.parse(run.stdout) as { message: string }).message;
      expect(message).toMatch(/could not get a token \(auth: Entra ID token for api:\/\/.*\/\.default/);
      expect(message).toMatch(reason);
    }
    // Nothing was uploaded or started.
    expect(await drops()).toEqual(before.drops);
    expect(emulatorCounts(stack)).toEqual(before.counts);
  });

  it("signs a package end to end: the real WorkloadIdentityCredential exchanges the OIDC JWT for an API token", async () => {
    const out = path.join(work, "out");
    const run = await cli(["submit", packageFile, "--wait", "--out", out, "--poll", "200ms", "--timeout", "90s", "--json"], provider.mint({ subject: DEFAULT_SUBJECT }));
    expect(run.stderr).not.toMatch(/driver-sign: /);
    expect(run.code).toBe(0);
    const doc = resultDocumentSchema.parse(JSON.parse(run.stdout));
    expect(doc).toMatchObject({ command: "submit", outcome: "signed", uploaded: true });
    expect(fs.existsSync(doc.files.find((f) => f.kind === "signedPackage")!.path)).toBe(true);
    // The token came from the exchange at the API tenant's token endpoint (the env named nothing else).
    const exchanges = stack.emulators.requests().entries.filter((e) => e.service === "entra" && e.path === `/${stack.issuer!.metadata.tenantId}/oauth2/v2.0/token`);
    // Six refused assertions before (each asked more than once by the SDK), then exactly one exchange issued a token.
    expect(exchanges.filter((e) => e.status === 200)).toHaveLength(1);
    expect(exchanges[exchanges.length - 1].status).toBe(200);
    expect(exchanges.filter((e) => e.status >= 400).length).toBeGreaterThanOrEqual(6);
  });

  it("never printed or logged an assertion or a token", () => {
    expect(secrets).toHaveLength(7);
    const log = fs.readFileSync(stack.runtimeLogFile, "utf8");
    for (const text of [...printed, log]) {
      expectNothingSecret(stack, text);
      for (const secret of secrets) expect(text).not.toContain(secret.split(".")[1]);
    }
  });
});
