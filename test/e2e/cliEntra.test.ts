/**
 * driver-sign with an Entra ID bearer token against a stack in entra mode (issue 31): the
 * compiled CLI, as a child process, signs a package end to end with a token file from the local
 * issuer; a missing or expired token exits 2 naming the auth mode; the token is never printed and
 * goes only to the service's API origin (every request the child made is recorded through Node's
 * diagnostics channels: the block upload and the result downloads to storage carry no token).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { resultDocumentSchema } from "../../cli/output";
import { samplePackage } from "../../local/samplePackage";
import { expectNothingSecret, startTestStack, type TestStack } from "../support/stack";

jest.setTimeout(180_000);

const CLI = path.resolve(__dirname, "../../dist/cli/driverSign.js");
const RECORDER = path.resolve(__dirname, "fixtures/recordRequests.js");

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const childEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !name.startsWith("DRIVER_SIGN_")) childEnv[name] = value;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...childEnv, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("driver-sign with a bearer token (entra mode)", () => {
  let stack: TestStack;
  let work: string;
  const printed: string[] = [];
  const tokens: string[] = [];

  beforeAll(async () => {
    stack = await startTestStack({ auth: "entra" });
    work = fs.mkdtempSync(path.join(os.tmpdir(), "driver-sign-entra-"));
  });
  afterAll(async () => {
    await stack?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const cli = async (args: string[], env: Record<string, string>): Promise<CliRun> => {
    const run = await runCli([...args, "--url", stack.apiUrl], { DRIVER_SIGN_UPLOAD_CACHE: path.join(work, "upload-cache"), ...env });
    printed.push(run.stdout, run.stderr);
    return run;
  };

  it("signs a package end to end with a token file from the local issuer; the token reaches only the API", async () => {
    const token = stack.issuer!.issue({ user: "ci", roles: ["Sign.Submit"] });
    tokens.push(token);
    const tokenFile = path.join(work, "token");
    fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const pkg = samplePackage({ folder: "cli-entra" });
    const packageFile = path.join(work, pkg.fileName);
    fs.writeFileSync(packageFile, pkg.bytes);
    const requests = path.join(work, "requests.jsonl");
    const out = path.join(work, "out");

    const run = await cli(["submit", packageFile, "--wait", "--out", out, "--poll", "200ms", "--timeout", "90s", "--json", "--token-file", tokenFile], {
      NODE_OPTIONS: `--require ${RECORDER}`,
      RECORD_REQUESTS_FILE: requests,
    });
    expect(run.stderr).not.toMatch(/driver-sign: /);
    expect(run.code).toBe(0);
    const doc = resultDocumentSchema.parse(JSON.parse(run.stdout));
    expect(doc).toMatchObject({ command: "submit", outcome: "signed", uploaded: true });
    expect(doc.files.map((f) => f.kind)).toEqual(expect.arrayContaining(["signedPackage", "manifest"]));
    expect(fs.existsSync(doc.files.find((f) => f.kind === "signedPackage")!.path)).toBe(true);

    const seen = fs.readFileSync(requests, "utf8").trim().split("\n").map((line) => JSON.parse(line) as { url: string; headers: string });
    const api = seen.filter((r) => r.url.startsWith(`${stack.apiUrl}/`));
    const elsewhere = seen.filter((r) => !r.url.startsWith(`${stack.apiUrl}/`));
    expect(api.length).toBeGreaterThanOrEqual(4);
    for (const r of api) expect(r.headers).toContain(`Bearer ${token}`);
    // The block upload (storage SDK) and the result downloads went to storage, without the token.
    expect(elsewhere.filter((r) => r.url.includes("/devstoreaccount1/driver-drops/") && r.url.includes("sig="))).toHaveLength(1);
    expect(elsewhere.filter((r) => r.url.includes("/devstoreaccount1/signed-drivers/") && r.url.includes("sig=")).length).toBeGreaterThanOrEqual(2);
    for (const r of elsewhere) {
      expect(r.headers).not.toContain(token);
      expect(r.headers.toLowerCase()).not.toContain("bearer");
    }
  });

  it("a missing or expired token exits 2 with a message naming the auth mode", async () => {
    const missing = await cli(["list", "--json", "--token-file", path.join(work, "no-such-token")], {});
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout).message).toMatch(/cannot read the token file .*no-such-token: ENOENT \(auth: bearer token from the token file/);

    const expired = stack.issuer!.issue({ user: "ci", roles: ["Sign.Submit"], now: new Date(Date.now() - 2 * 3600_000), expiresInSeconds: 600 });
    tokens.push(expired);
    const expiredFile = path.join(work, "expired");
    fs.writeFileSync(expiredFile, expired);
    const viaFile = await cli(["list", "--token-file", expiredFile], {});
    expect(viaFile.code).toBe(2);
    expect(viaFile.stderr).toMatch(/HTTP 401.*auth: bearer token from the token file .*expired/);
    const viaEnv = await cli(["status", "anything", "--json"], { DRIVER_SIGN_TOKEN: expired });
    expect(viaEnv.code).toBe(2);
    expect(JSON.parse(viaEnv.stdout).message).toMatch(/HTTP 401.*auth: bearer token from DRIVER_SIGN_TOKEN/);
    // No credential at all is refused the same way.
    expect((await cli(["list"], {})).code).toBe(2);
  });

  it("never printed a token or a SAS URL", () => {
    expect(tokens).toHaveLength(2);
    for (const text of printed) {
      expectNothingSecret(stack, text);
      for (const token of tokens) {
        expect(text).not.toContain(token);
        expect(text).not.toContain(token.split(".")[2]);
      }
    }
  });
});
