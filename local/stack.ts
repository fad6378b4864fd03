/**
 * Starts the whole local stack for `npm run local`, the demo, e2e tests and benchmarks:
 * Azurite (child process), the Hardware Dev Center / Entra ID / Key Vault emulators (in this
 * process, so they outlive a killed runtime), the local CA, the app's containers, an app
 * registration with a per-run secret (never printed), and the runtime as a child process.
 */
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { freePort, startAzurite, type AzuriteHandle } from "./azurite";
import { startEmulators } from "./emulators";
import { readHostSettings } from "./runtime/hostJson";
import { LOCAL_DATA_DIR } from "./runtime/paths";
import { startRuntimeProcess, type RuntimeProcess } from "./runtime/runtimeProcess";
import { ensureLocalCa } from "./tls";

type EmulatorOptions = Parameters<typeof startEmulators>[0];
export type Emulators = Awaited<ReturnType<typeof startEmulators>>;
export type EmulatorBehaviour = EmulatorOptions["behaviour"];

export const APP_CONTAINERS = { drops: "driver-drops", signed: "signed-drivers", state: "signing-state" } as const;

export interface StackOptions {
  /** Azurite data, runtime log. A fresh temp folder (removed on stop) when omitted. */
  dataDir?: string;
  /** Timers fire at once and the emulators' clock follows (default true). */
  virtualClock?: boolean;
  behaviour?: EmulatorBehaviour;
  /** Extra or overriding app settings for the runtime. */
  appSettings?: Record<string, string>;
  /** Runtime HTTP port; any free port when omitted. */
  port?: number;
  /** Reuse a running Azurite (not stopped by stop()). */
  azurite?: AzuriteHandle;
  inMemoryAzurite?: boolean;
  /** Folder of the local CA; must match NODE_EXTRA_CA_CERTS of processes that call the emulators. */
  tlsDir?: string;
  /** Copy runtime log lines here as well as to <dataDir>/runtime.log. */
  echoRuntimeLog?: (line: string) => void;
}

export interface Stack {
  /** The runtime's origin, e.g. http://127.0.0.1:7071. */
  baseUrl: string;
  /** `${baseUrl}/api` */
  apiUrl: string;
  azurite: AzuriteHandle;
  emulators: Emulators;
  blobService: BlobServiceClient;
  runtime: RuntimeProcess;
  /** The runtime's environment (app settings included, so it holds the client secret: never print it). */
  env: Record<string, string>;
  dataDir: string;
  runtimeLogFile: string;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "signing-stack-"));
  fs.mkdirSync(dataDir, { recursive: true });
  const virtualClock = options.virtualClock ?? true;
  const tlsDir = options.tlsDir ?? path.join(LOCAL_DATA_DIR, "tls");
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    cleanups.length = 0;
    if (ownsDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    const ca = ensureLocalCa(tlsDir);
    const azurite = options.azurite ?? (await startAzurite({ dataDir: path.join(dataDir, "azurite"), inMemory: options.inMemoryAzurite }));
    if (!options.azurite) cleanups.push(() => azurite.stop());

    const blobService = BlobServiceClient.fromConnectionString(azurite.connectionString);
    for (const container of Object.values(APP_CONTAINERS)) await blobService.getContainerClient(container).createIfNotExists();

    const registration = { tenantId: randomUUID(), clientId: randomUUID(), clientSecret: randomBytes(24).toString("base64url") };
    const emulators = await startEmulators({
      azuriteConnectionString: azurite.connectionString,
      tlsDir,
      apps: [registration],
      behaviour: options.behaviour,
    });
    cleanups.push(() => emulators.stop());

    const port = options.port ?? (await freePort());
    const env: Record<string, string> = {
      FUNCTIONS_WORKER_RUNTIME: "node",
      AzureWebJobsStorage: azurite.connectionString,
      DROPS_CONTAINER: APP_CONTAINERS.drops,
      SIGNED_CONTAINER: APP_CONTAINERS.signed,
      STATE_CONTAINER: APP_CONTAINERS.state,
      HDC_API_BASE_URL: emulators.hdcBaseUrl,
      HDC_AUTHORITY_HOST: emulators.authorityHost,
      HDC_KEYVAULT_URL: emulators.keyVaultUrl,
      HDC_TENANT_ID: registration.tenantId,
      HDC_CLIENT_ID: registration.clientId,
      HDC_CLIENT_SECRET: registration.clientSecret,
      HDC_AUTH_MODE: "clientSecret",
      HDC_RETRY_DELAY_MS: "100",
      // The emulators hand out Azurite's http://127.0.0.1:<port> SAS URLs.
      HDC_ALLOWED_URL_HOST_SUFFIXES: "127.0.0.1",
      // Under the virtual clock waits cost nothing; on the real clock keep a local run short.
      POLL_INITIAL_SECONDS: virtualClock ? "60" : "5",
      POLL_MAX_SECONDS: virtualClock ? "900" : "30",
      ACTIVITY_RETRY_FIRST_SECONDS: virtualClock ? "5" : "1",
      ACTIVITY_RETRY_MAX_SECONDS: virtualClock ? "300" : "10",
      COPY_POLL_MS: "200",
      LOCAL_PORT: String(port),
      LOCAL_HUB: readHostSettings().hubName,
      LOCAL_VIRTUAL_CLOCK: virtualClock ? "1" : "0",
      LOCAL_EMULATOR_CONTROL_URL: emulators.controlUrl,
      NODE_EXTRA_CA_CERTS: ca.caCertPath,
      // durable-functions' client uses axios, which honours HTTP(S)_PROXY: keep loopback direct.
      NO_PROXY: "127.0.0.1,localhost",
      no_proxy: "127.0.0.1,localhost",
      ...options.appSettings,
    };

    const runtimeLogFile = path.join(dataDir, "runtime.log");
    const runtime = await startRuntimeProcess({ env, logFile: runtimeLogFile, echo: options.echoRuntimeLog });
    cleanups.push(() => runtime.stop());

    return {
      baseUrl: runtime.baseUrl,
      apiUrl: `${runtime.baseUrl}/api`,
      azurite,
      emulators,
      blobService,
      runtime,
      env,
      dataDir,
      runtimeLogFile,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
