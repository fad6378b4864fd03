/**
 * `npm run local` (the compiled CLI) reads local.settings.json like `func start`: Values apply only
 * where the environment has no value, Host.LocalHttpPort is the port, and every setting the stack
 * replaces is named on the terminal. A user's HDC_API_BASE_URL is kept (here: a second set of
 * emulators standing in for another Hardware Dev Center), and the stack says its own emulators are
 * then unused for HDC. The runtime's effective settings are observed through what they change:
 * which Hardware Dev Center gets the product, and the orchestration input's product defaults.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import { BlobServiceClient } from "@azure/storage-blob";
import { freePort } from "../../local/azurite";
import { samplePackage } from "../../local/samplePackage";
import { DIST_DIR } from "../../local/runtime/paths";
import { loadOrCreateHostKeys } from "../../local/runtime/keys";
import { SubmissionsClient, isTerminal } from "../../local/cli/submissionsClient";
import { startEmulatorFixture, TLS_DIR, type EmulatorFixture } from "../support/emulatorFixture";

jest.setTimeout(150_000);

interface Cli {
  child: ChildProcess;
  output: () => string;
  stop(): Promise<number | null>;
}

async function startCli(args: string[], env: Record<string, string>): Promise<Cli> {
  const child = spawn(process.execPath, [path.join(DIST_DIR, "local", "cli", "local.js"), ...args], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: path.join(TLS_DIR, "ca.pem"), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk) => (stdout += String(chunk)));
  child.stderr!.on("data", (chunk) => (stderr += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!stdout.includes("Local runtime ready.")) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm run local did not get ready:\n${stdout}\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    output: () => stdout,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGINT");
      return exited;
    },
  };
}

function writeSettings(dir: string, content: unknown): string {
  const file = path.join(dir, "local.settings.json");
  fs.writeFileSync(file, JSON.stringify(content, null, 2));
  return file;
}

/** Drops a sample package through the stack's Azurite and follows it through the API with the host function key. */
async function dropAndFinish(dataDir: string, apiUrl: string, folder: string) {
  const connection = fs.readFileSync(path.join(dataDir, "storage-connection-string.txt"), "utf8").trim();
  const pkg = samplePackage({ folder });
  await BlobServiceClient.fromConnectionString(connection).getContainerClient("driver-drops").getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
  const { keys } = loadOrCreateHostKeys(path.join(dataDir, "keys.json"));
  const client = new SubmissionsClient(apiUrl, keys.functionKeys.default);
  const id = await client.findByBlob(pkg.fileName, 20_000);
  const final = await client.waitFor(id, isTerminal, { timeoutMs: 60_000 });
  return { id, final, keys, pkg };
}

describe("npm run local with local.settings.json", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "local-cli-"));
  let other: EmulatorFixture | undefined;
  const clis: Cli[] = [];

  afterAll(async () => {
    for (const cli of clis) await cli.stop();
    await other?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("keeps the user's Hardware Dev Center, lets the environment win over Values, and names what it replaces", async () => {
    const registration = { tenantId: randomUUID(), clientId: randomUUID(), clientSecret: randomBytes(24).toString("base64url") };
    // Another Hardware Dev Center (and Entra ID) than the stack's own emulators; its review finishes at once.
    other = await startEmulatorFixture({ apps: [registration], behaviour: { workflow: { stepSeconds: 0, commitSeconds: 0 } } });
    const port = await freePort();
    const dataDir = path.join(work, "user-hdc");
    const settings = writeSettings(work, {
      IsEncrypted: false,
      Values: {
        FUNCTIONS_WORKER_RUNTIME: "node",
        AzureWebJobsStorage: "UseDevelopmentStorage=true",
        AzureWebJobsStorage__blobServiceUri: "",
        HDC_API_BASE_URL: other.emulators.hdcBaseUrl,
        HDC_AUTHORITY_HOST: other.emulators.authorityHost,
        // That Hardware Dev Center (an emulator too) hands out Azurite's loopback URLs.
        HDC_ALLOWED_URL_HOST_SUFFIXES: "127.0.0.1",
        HDC_TENANT_ID: registration.tenantId,
        HDC_CLIENT_ID: registration.clientId,
        HDC_CLIENT_SECRET: registration.clientSecret,
        HDC_AUTH_MODE: "clientSecret",
        DEFAULT_DEVICE_TYPE: "external",
        DEFAULT_FIRMWARE_VERSION: "7.7",
      },
      Host: { LocalHttpPort: port },
    });
    const cli = await startCli(["--settings", settings, "--data-dir", dataDir, "--virtual-clock"], { DEFAULT_DEVICE_TYPE: "internal" });
    clis.push(cli);
    const out = cli.output();
    expect(out).toContain("DEFAULT_DEVICE_TYPE: skipping the value from local.settings.json, it is already set in the environment");
    expect(out).toMatch(/AzureWebJobsStorage: replacing the value from local\.settings\.json: the local runtime keeps durable state.* in the stack's Azurite/);
    expect(out).toContain(`HDC_API_BASE_URL=${other.emulators.hdcBaseUrl} (from local.settings.json): `);
    expect(out).toContain("emulators are running but unused for HDC");
    expect(out).not.toMatch(/HDC_TENANT_ID: |HDC_CLIENT_SECRET: |HDC_AUTHORITY_HOST: /);
    expect(out).not.toContain(registration.clientSecret);
    expect(out).toContain(`Keys:     ${path.relative(process.cwd(), path.join(dataDir, "keys.json"))}`);
    const apiUrl = `http://127.0.0.1:${port}/api`;
    expect(out).toContain(`POST ${apiUrl}/submissions`);

    const { id, final, keys, pkg } = await dropAndFinish(dataDir, apiUrl, "cli-user-hdc");
    for (const { value } of [{ value: keys.masterKey }, { value: keys.functionKeys.default }]) expect(cli.output()).not.toContain(value);
    expect(final.runtimeStatus).toBe("Completed");
    // The product went to the user's Hardware Dev Center.
    const products = other.emulators.state().products;
    expect(products.map((p) => p.productName)).toEqual([pkg.fileName.replace(/\.hlkx$/, "")]);
    expect(final.custom.productId).toBe(products[0].id);
    // The orchestration's input shows the effective defaults: the environment's device type, the file's firmware version.
    const history = await fetch(`http://127.0.0.1:${port}/runtime/webhooks/durabletask/instances/${encodeURIComponent(id)}?showInput=true`, {
      headers: { "x-functions-key": keys.systemKeys.durabletask_extension },
    });
    const input = ((await history.json()) as { input: { product: Record<string, unknown> } }).input;
    expect(input.product).toMatchObject({ deviceType: "internal", firmwareVersion: "7.7" });
    expect(await cli.stop()).toBe(0);
  });

  it("uses its emulators when HDC_API_BASE_URL is not set, saying which of the user's settings it replaces", async () => {
    const dataDir = path.join(work, "emulated-hdc");
    const settings = writeSettings(work, {
      Values: {
        HDC_TENANT_ID: "00000000-0000-0000-0000-000000000000",
        HDC_CLIENT_SECRET: "user-secret-that-must-not-be-printed",
        HDC_CERTIFICATE_PATH: "/path/to/app-registration-cert-with-key.pem",
        AzureWebJobsStorage__blobServiceUri: "https://account.blob.core.windows.net",
      },
    });
    const cli = await startCli(["--settings", settings, "--data-dir", dataDir, "--virtual-clock", "--port", "0"], {});
    clis.push(cli);
    const out = cli.output();
    expect(out).toMatch(/HDC_TENANT_ID: replacing the value from local\.settings\.json: HDC_API_BASE_URL is not set, so Hardware Dev Center is the local emulator/);
    expect(out).toMatch(/HDC_CLIENT_SECRET: replacing the value from local\.settings\.json: /);
    expect(out).toMatch(/HDC_CERTIFICATE_PATH: ignoring the value from local\.settings\.json: /);
    expect(out).toMatch(/AzureWebJobsStorage__blobServiceUri: ignoring the value from local\.settings\.json: .*Azurite connection string/);
    expect(out).not.toContain("user-secret-that-must-not-be-printed");
    expect(out).toContain("HDC:      the local emulator");
    const apiUrl = /POST (http:\/\/127\.0\.0\.1:\d+\/api)\/submissions/.exec(out)![1];
    // The user's tenant would be unknown to the emulator's Entra ID: completing shows it was replaced.
    const { final } = await dropAndFinish(dataDir, apiUrl, "cli-emulated-hdc");
    expect([final.runtimeStatus, final.stage]).toEqual(["Completed", "succeeded"]);
    expect(await cli.stop()).toBe(0);
  });

  it("refuses unknown options and bad ports with the usage", async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; err: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(DIST_DIR, "local", "cli", "local.js"), ...args], { stdio: ["ignore", "ignore", "pipe"] });
        let err = "";
        child.stderr.on("data", (chunk) => (err += String(chunk)));
        child.once("exit", (code) => resolve({ code, err }));
      });
    expect(await run(["--bogus"])).toEqual({ code: 2, err: expect.stringContaining("--bogus") });
    expect(await run(["--port", "seventy"])).toEqual({ code: 2, err: expect.stringContaining('--port: "seventy" is not a port number') });
  });
});
