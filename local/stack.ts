/**
 * Starts the whole local stack for `npm run local`, the demo, e2e tests and benchmarks:
 * Azurite (child process), the Hardware Dev Center / Entra ID / Key Vault emulators (in this
 * process, so they outlive a killed runtime), the local CA, the app's containers, an app
 * registration with a secret (never printed), and the runtime as a supervised child process.
 *
 * Everything lives in the data folder, so a stack started again on the same folder continues
 * where the last one stopped: Azurite's data, the emulators' state (emulators/), the app
 * registration, and the host keys the runtime creates at its first start (keys.json, mode 0600).
 * Azurite and the runtime exit by themselves if this process dies (see parentLink.ts).
 */
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { freePort, startAzurite, type AzuriteHandle } from "./azurite";
import type { UserSetting } from "./localSettings";
import { startEmulators } from "./emulators";
import { readHostSettings } from "./runtime/hostJson";
import { loadOrCreateHostKeys, type HostKeys } from "./runtime/keys";
import { LOCAL_DATA_DIR } from "./runtime/paths";
import { startRuntimeProcess, type RuntimeProcess } from "./runtime/runtimeProcess";
import { composeSettings, type ForcedSetting } from "./stackSettings";
import { ensureLocalCa } from "./tls";
import { identityDir, ISSUER_FILE, LocalIssuer } from "./identity/issuer";
import { localFederation } from "./identity/federation";

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
  /** Extra or overriding app settings for the runtime (tests, benchmarks); applied last, silently. */
  appSettings?: Record<string, string>;
  /**
   * The user's settings (environment + local.settings.json, as `npm run local` reads them). They
   * override the stack's defaults; what the stack must replace anyway is listed in `notices`.
   */
  userSettings?: Record<string, UserSetting>;
  /** Runtime HTTP port; any free port when omitted. */
  port?: number;
  /** Reuse a running Azurite (not stopped by stop()). */
  azurite?: AzuriteHandle;
  inMemoryAzurite?: boolean;
  /** Folder of the local CA; must match NODE_EXTRA_CA_CERTS of processes that call the emulators. */
  tlsDir?: string;
  /**
   * "keys" (default): function keys, as before. "entra": the runtime plays App Service
   * Authentication with the local token issuer of the data folder (identity/), and the app checks
   * the injected principal (AUTH_MODE=entra).
   */
  auth?: "keys" | "entra";
  /** Copy runtime log lines here as well as to <dataDir>/runtime.log. */
  echoRuntimeLog?: (line: string) => void;
  /**
   * "local" (default): our engine (local/durable) in the runtime process. "real": Microsoft's Durable Task extension
   * (local/realEngine, needs scripts/restore-conformance.sh) runs the orchestrations and activities, on the real clock.
   */
  engine?: "local" | "real";
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
  /** The runtime's host keys file (keys.json in the data folder). Print its path, never its values. */
  keysFile: string;
  /** The default host function key: send it as `x-functions-key` or `?code=` to the function-level API. */
  functionKey: string;
  /** All host keys (master, function, system), for tests that need the master or a system key. */
  keys: HostKeys;
  /** One line per user setting the stack replaced or ignored, and where HDC calls go. */
  notices: string[];
  auth: "keys" | "entra";
  engine: "local" | "real";
  /** The local token issuer (entra mode only): mint tokens with issuer.issue({ user, roles }). */
  issuer?: LocalIssuer;
  /** "user" when the user's HDC_API_BASE_URL is used instead of the emulator. */
  hdcTarget: "emulator" | "user";
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "signing-stack-"));
  fs.mkdirSync(dataDir, { recursive: true });
  const engine = options.engine ?? "local";
  const virtualClock = options.virtualClock ?? engine === "local";
  // Microsoft's engine keeps its own time: its timers fire on the wall clock, which the emulators cannot follow.
  if (engine === "real" && virtualClock) throw new Error("engine real: runs on the real clock only (no virtual clock)");
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

    const auth = options.auth ?? "keys";
    const issuer = auth === "entra" ? LocalIssuer.loadOrCreate(dataDir) : undefined;
    // Entra stacks: the API's tenant exchanges the local "GitHub" OIDC provider's JWTs (workload identity federation).
    const federation = issuer ? localFederation(dataDir, issuer) : undefined;

    const registration = appRegistration(path.join(dataDir, "emulators", "app-registration.json"));
    const emulators = await startEmulators({
      azuriteConnectionString: azurite.connectionString,
      tlsDir,
      apps: [registration],
      behaviour: options.behaviour,
      stateFile: path.join(dataDir, "emulators", "hdc-state.jsonl"),
      federation,
    });
    cleanups.push(() => emulators.stop());

    // A fixed port (0 = any: pick one now), so a restarted runtime answers at the same address.
    const port = options.port || (await freePort());
    const user = options.userSettings ?? {};
    const composed = composeSettings({
      user,
      defaults: {
        DROPS_CONTAINER: APP_CONTAINERS.drops,
        SIGNED_CONTAINER: APP_CONTAINERS.signed,
        STATE_CONTAINER: APP_CONTAINERS.state,
        HDC_RETRY_DELAY_MS: "100",
        // Under the virtual clock waits cost nothing; on the real clock keep a local run short.
        POLL_INITIAL_SECONDS: virtualClock ? "60" : "5",
        POLL_MAX_SECONDS: virtualClock ? "900" : "30",
        ACTIVITY_RETRY_FIRST_SECONDS: virtualClock ? "5" : "1",
        ACTIVITY_RETRY_MAX_SECONDS: virtualClock ? "300" : "10",
        COPY_POLL_MS: "200",
      },
      emulatorHdc: {
        HDC_API_BASE_URL: emulators.hdcBaseUrl,
        HDC_AUTHORITY_HOST: emulators.authorityHost,
        HDC_KEYVAULT_URL: emulators.keyVaultUrl,
        HDC_TENANT_ID: registration.tenantId,
        HDC_CLIENT_ID: registration.clientId,
        HDC_CLIENT_SECRET: registration.clientSecret,
        HDC_AUTH_MODE: "clientSecret",
        // The emulators hand out Azurite's http://127.0.0.1:<port> SAS URLs.
        HDC_ALLOWED_URL_HOST_SUFFIXES: "127.0.0.1",
        // Only other sign-in modes read these; the emulator's registration signs in with its secret.
        HDC_KEYVAULT_SECRET_NAME: "",
        HDC_CERTIFICATE_PATH: "",
        HDC_MANAGED_IDENTITY_CLIENT_ID: "",
        // The emulator signs catalogs with a local test chain; only its root is added to Microsoft's.
        SIGNED_PACKAGE_TRUSTED_ROOTS: emulators.signingRootFile,
      },
      forced: forcedSettings({ user, azurite, port, virtualClock, emulators, caCertPath: ca.caCertPath, dataDir, auth, engine }),
    });
    const env: Record<string, string> = { ...composed.env, ...options.appSettings };
    // The links the API hands out point at the front's own origin (or the user's, e.g. a tunnel), never
    // at whatever Host a client sends.
    if (!env.PUBLIC_BASE_URL) env.PUBLIC_BASE_URL = `http://127.0.0.1:${port}`;

    for (const name of [env.DROPS_CONTAINER, env.SIGNED_CONTAINER, env.STATE_CONTAINER]) {
      await blobService.getContainerClient(name).createIfNotExists();
    }

    const runtimeLogFile = path.join(dataDir, "runtime.log");
    const runtime = await startRuntimeProcess({ env, logFile: runtimeLogFile, echo: options.echoRuntimeLog });
    cleanups.push(() => runtime.stop());
    // The runtime created (or reused) the keys; the stack only reads them.
    const { keys } = loadOrCreateHostKeys(runtime.keysFile || env.LOCAL_KEYS_FILE);

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
      keysFile: runtime.keysFile || env.LOCAL_KEYS_FILE,
      functionKey: keys.functionKeys.default,
      keys,
      notices: composed.notices,
      auth,
      engine,
      issuer,
      hdcTarget: composed.hdcTarget,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The emulator's app registration, kept in the data folder (mode 0600) so a restarted stack signs in as the same app. */
function appRegistration(file: string): { tenantId: string; clientId: string; clientSecret: string } {
  try {
    const saved = JSON.parse(fs.readFileSync(file, "utf8")) as { tenantId?: unknown; clientId?: unknown; clientSecret?: unknown };
    if (typeof saved.tenantId === "string" && typeof saved.clientId === "string" && typeof saved.clientSecret === "string") {
      return { tenantId: saved.tenantId, clientId: saved.clientId, clientSecret: saved.clientSecret };
    }
  } catch {
    /* first start (or an unreadable file): register a new app */
  }
  const registration = { tenantId: randomUUID(), clientId: randomUUID(), clientSecret: randomBytes(24).toString("base64url") };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(registration) + "\n", { mode: 0o600 });
  return registration;
}

/** What the local stack must set whatever the user's settings say, and why. */
function forcedSettings(context: {
  user: Record<string, UserSetting>;
  azurite: AzuriteHandle;
  port: number;
  virtualClock: boolean;
  emulators: Emulators;
  caCertPath: string;
  dataDir: string;
  auth: "keys" | "entra";
  engine: "local" | "real";
}): Record<string, ForcedSetting> {
  const { user, azurite } = context;
  const internal = "the local runtime's own setting";
  const forced: Record<string, ForcedSetting> = {
    FUNCTIONS_WORKER_RUNTIME: { value: "node", reason: "the local runtime runs the Node.js app" },
    AzureWebJobsStorage: {
      value: azurite.connectionString,
      reason: `the local runtime keeps durable state, packages and results in the stack's Azurite (${azurite.blobEndpoint})`,
    },
    LOCAL_PORT: { value: String(context.port), reason: internal },
    LOCAL_HUB: { value: readHostSettings().hubName, reason: internal },
    LOCAL_VIRTUAL_CLOCK: { value: context.virtualClock ? "1" : "0", reason: internal },
    LOCAL_ENGINE: { value: context.engine, reason: internal },
    LOCAL_EMULATOR_CONTROL_URL: { value: context.emulators.controlUrl, reason: internal },
    LOCAL_KEYS_FILE: { value: path.join(context.dataDir, "keys.json"), reason: internal },
    AUTH_MODE: {
      value: context.auth,
      reason: context.auth === "entra" ? "--auth entra: Easy Auth with the local token issuer is in front" : "the stack runs on function keys unless started with --auth entra",
    },
    LOCAL_ISSUER_METADATA_FILE: { value: context.auth === "entra" ? path.join(identityDir(context.dataDir), ISSUER_FILE) : "", reason: internal },
  };
  // Identity-based storage would send the app to a real account instead of Azurite.
  for (const name of Object.keys(user).filter((n) => n.startsWith("AzureWebJobsStorage__"))) {
    forced[name] = { value: "", reason: "locally the app reaches storage with the Azurite connection string, not an identity" };
  }
  // The emulators' certificates come from the local CA; a user's extra CA file is kept alongside it.
  const userCa = user.NODE_EXTRA_CA_CERTS?.value;
  let caFile = context.caCertPath;
  if (userCa && path.resolve(userCa) !== path.resolve(caFile)) {
    caFile = path.join(context.dataDir, "ca-bundle.pem");
    const theirs = fs.existsSync(userCa) ? fs.readFileSync(userCa, "utf8") : "";
    fs.writeFileSync(caFile, `${theirs.trimEnd()}
${fs.readFileSync(context.caCertPath, "utf8")}`);
  }
  forced.NODE_EXTRA_CA_CERTS = { value: caFile, reason: `your CA file is combined with the local CA of the emulators in ${caFile}` };
  // durable-functions' client uses axios, which honours HTTP(S)_PROXY: keep loopback direct.
  for (const name of ["NO_PROXY", "no_proxy"]) {
    const theirs = (user[name]?.value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const value = [...new Set([...theirs, "127.0.0.1", "localhost"])].join(",");
    forced[name] = { value, reason: "127.0.0.1 and localhost are added so the app's durable client reaches the runtime directly" };
  }
  return forced;
}
