/**
 * Wires the pieces of the local runtime together: app host, durable engine, HTTP front and the
 * Event Grid watcher. main.ts is the process around it. The caller must have imported
 * ../functionsHost/installCoreStandIn before anything imported @azure/functions.
 */
import * as path from "node:path";
import { DurableEngine } from "../durable/engine";
import { createDurableHttpHandler } from "../durable/httpApi";
import { durableClientBindingData, RPC_PATH, WEBHOOK_PATH } from "../durable/clientBinding";
import { EmulatorControlClient } from "../emulators/controlApi";
import { AppHost, DEFAULT_APP_ENTRY } from "./appHost";
import { createEventGridWebhook } from "./eventGridWebhook";
import { EventGridWatcher, type EventGridEvent } from "./eventGridWatcher";
import { closeServer, createHttpFront, listen, sendUnauthorized, type RawHandler } from "./httpFront";
import { readHostSettings } from "./hostJson";
import { authorizedForSystem, loadOrCreateHostKeys, presentedKey, type HostKeys } from "./keys";
import { createLocalEndpoints } from "./localEndpoints";
import { LOCAL_DATA_DIR } from "./paths";
import { LocalIssuer, readIssuerMetadata, type IssuerMetadata } from "../identity/issuer";
import { createLocalTenant, TENANT_AUTHORIZE_PATH } from "../identity/localTenant";
import { registeredTimers, TimerTriggers } from "./timerTriggers";
import { createExtensionProxy } from "./extensionProxy";
import { EXTENSION_RPC_BASE_URL, launchRealEngine, type LaunchedEngine } from "../realEngine/launch";

export interface RunningRuntime {
  baseUrl: string;
  port: number;
  keysFile: string;
  stop(): Promise<void>;
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

export async function startRuntime(env: NodeJS.ProcessEnv): Promise<RunningRuntime> {
  const host = readHostSettings();
  const storage = env.AzureWebJobsStorage;
  if (!storage) throw new Error("AzureWebJobsStorage must be set (the Azurite connection string)");
  const hubName = env.LOCAL_HUB || host.hubName;
  const requestedPort = env.LOCAL_PORT === undefined || env.LOCAL_PORT === "" ? 7071 : Number(env.LOCAL_PORT);
  const virtualClock = env.LOCAL_VIRTUAL_CLOCK === "1" || env.LOCAL_VIRTUAL_CLOCK === "true";
  // "real": Microsoft's Durable Task extension runs the orchestrations and activities (a .NET host and a Node
  // worker, started below); the HTTP, Event Grid and timer triggers stay in this process, as in the Functions host.
  const realEngine = env.LOCAL_ENGINE === "real";
  if (env.LOCAL_ENGINE && env.LOCAL_ENGINE !== "real" && env.LOCAL_ENGINE !== "local") throw new Error(`LOCAL_ENGINE: "${env.LOCAL_ENGINE}" must be local or real`);
  if (realEngine && virtualClock) throw new Error("LOCAL_ENGINE=real runs on the real clock only (LOCAL_VIRTUAL_CLOCK must be off)");
  const controlUrl = env.LOCAL_EMULATOR_CONTROL_URL;
  const keysFile = path.resolve(env.LOCAL_KEYS_FILE || path.join(LOCAL_DATA_DIR, "run", "keys.json"));
  const { keys, created } = loadOrCreateHostKeys(keysFile);
  // Where the keys are, never what they are.
  log(`local runtime: host keys ${created ? "created in" : "read from"} ${keysFile} (master, function "default", system durabletask_extension and eventgrid_extension)`);

  // Entra mode: Easy Auth in front, validating tokens of the local issuer (identity/issuer.json).
  let easyAuthMetadata: IssuerMetadata | undefined;
  const tenantHandlers: RawHandler[] = [];
  if (env.AUTH_MODE === "entra") {
    const metadataFile = env.LOCAL_ISSUER_METADATA_FILE;
    if (!metadataFile) throw new Error("AUTH_MODE=entra needs LOCAL_ISSUER_METADATA_FILE (the local issuer's issuer.json; the stack sets it with --auth entra)");
    easyAuthMetadata = readIssuerMetadata(metadataFile);
    log(`local runtime: Easy Auth on (issuer ${easyAuthMetadata.issuer}, audiences ${easyAuthMetadata.audiences.join(", ")})`);
    // The browser sign-in's tenant: the issuer of the same data folder (<dataDir>/identity/issuer.json).
    const tenant = LocalIssuer.load(path.dirname(path.dirname(path.resolve(metadataFile))));
    if (tenant.metadata.issuer !== easyAuthMetadata.issuer) throw new Error(`${metadataFile}: its issuer is not the one of the key beside it; restart the stack with --fresh`);
    tenantHandlers.push(createLocalTenant(tenant));
    log(`local runtime: browser sign-in at /.auth/login/aad (local test tenant at ${TENANT_AUTHORIZE_PATH})`);
  }

  let baseUrl = "";
  const systemKey = keys.systemKeys.durabletask_extension;
  // On the real engine the clients talk to the extension's own HTTP API, as every client does in Azure.
  const clientData = () => ({ ...durableClientBindingData(baseUrl, hubName, systemKey), ...(realEngine ? { rpcBaseUrl: EXTENSION_RPC_BASE_URL } : {}) });
  const app = AppHost.load(env.LOCAL_APP_ENTRY || DEFAULT_APP_ENTRY, { durableClientData: clientData, log });
  log(`local runtime: loaded ${app.names().length} functions: ${app.names().join(", ")}`);

  const engine = realEngine ? undefined : new DurableEngine({
    tableConnectionString: storage,
    hubName,
    invokeOrchestrator: (name: string, payload: unknown) => app.invoke(name, payload),
    invokeActivity: (name: string, input: unknown) => app.invoke(name, input),
    virtualClock,
    isOrchestrator: (name: string) => app.has(name) && app.triggerType(name) === "orchestrationTrigger",
    activityConcurrency: Number(env.LOCAL_ACTIVITY_CONCURRENCY) || host.maxConcurrentActivityFunctions,
    onClockAdvance: virtualClock && controlUrl ? clockPusher(controlUrl) : undefined,
    log,
  });

  const eventGridFunctions = app.functionsWithTrigger("eventGridTrigger");
  const deliverEvent = async (event: EventGridEvent) => {
    for (const name of eventGridFunctions) await app.invoke(name, event, {});
  };
  const watcher = new EventGridWatcher({
    connectionString: storage,
    container: env.DROPS_CONTAINER || "driver-drops",
    deliver: deliverEvent,
    pollIntervalMs: Number(env.LOCAL_EVENTGRID_POLL_MS) || 100,
    log,
  });

  const eventGridAuthorized = (req: { headers: Record<string, string | string[] | undefined> }, url: URL) =>
    authorizedForSystem("eventgrid_extension", presentedKey(url, req.headers), keys);
  const server = createHttpFront({
    app,
    routePrefix: host.routePrefix,
    keys,
    easyAuth: easyAuthMetadata ? { metadata: easyAuthMetadata, authorizePath: TENANT_AUTHORIZE_PATH } : undefined,
    handlers: [
      ...tenantHandlers,
      createLocalEndpoints({ functions: () => app.names(), deliverEvent, deliveries: () => watcher.deliveries(), eventGridAuthorized }),
      createEventGridWebhook({
        functions: () => eventGridFunctions,
        deliverTo: async (name, event) => void (await app.invoke(name, event, {})),
        authorized: eventGridAuthorized,
        log,
      }),
      requireDurableSystemKey(keys, engine ? createDurableHttpHandler(engine, { taskHub: hubName, systemKey }) : createExtensionProxy(EXTENSION_RPC_BASE_URL)),
    ],
    log,
  });

  await engine?.start();
  const timers = new TimerTriggers({ timers: registeredTimers(app.names()), now: () => engine?.now() ?? new Date(), invoke: (name, info) => app.invoke(name, info), log });
  const port = await listen(server, requestedPort);
  baseUrl = `http://127.0.0.1:${port}`;
  // df.getClient() rewrites management URLs to this origin (it defaults to localhost:7071).
  process.env.WEBSITE_HOSTNAME ??= `127.0.0.1:${port}`;
  // Started without the stack: the API's links point at this front (src/functions/publicUrls.ts).
  process.env.PUBLIC_BASE_URL ??= baseUrl;
  let launched: LaunchedEngine | undefined;
  if (realEngine) {
    try {
      launched = await launchRealEngine({
        connectionString: storage,
        hubName,
        appOnly: true,
        // The worker's activities get the same client binding (the system key rides in its webhook links, as in Azure).
        env: { REAL_ENGINE_DURABLE_CLIENT: JSON.stringify(clientData()) },
        localRpc: { webhookBase: `${baseUrl}${WEBHOOK_PATH}?code=${encodeURIComponent(systemKey)}` },
        log: (line) => log(`real engine ${line}`),
      });
    } catch (error) {
      await closeServer(server);
      throw error;
    }
    log(`local runtime: Microsoft's Durable Task extension runs the orchestrations (real engine, started in ${launched.startMs} ms; host pid ${launched.pids.host}, worker pid ${launched.pids.worker}; its HTTP API at ${EXTENSION_RPC_BASE_URL})`);
  }
  timers.start();
  if (eventGridFunctions.length > 0) await watcher.start();
  else log("local runtime: the app has no eventGrid trigger; not watching the drops container");

  return {
    baseUrl,
    port,
    keysFile,
    stop: async () => {
      timers.stop();
      await watcher.stop();
      await closeServer(server);
      await engine?.stop();
      await launched?.stop();
    },
  };
}

/**
 * Both Durable route families need the durabletask_extension system key or the master key: the
 * webhooks (/runtime/webhooks/durabletask/...) as in Azure (x-functions-key or ?code=), and the RPC
 * routes (/durabletask/...) too, because here they share the public port (in Azure the extension
 * serves them on loopback only). On the RPC routes the key may also come as the password of Basic
 * credentials, which is how the app's durable client presents it (clientBinding.ts).
 */
function requireDurableSystemKey(keys: HostKeys, durable: RawHandler): RawHandler {
  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const webhook = url.pathname === WEBHOOK_PATH || url.pathname.startsWith(`${WEBHOOK_PATH}/`);
    const rpc = url.pathname.startsWith(RPC_PATH);
    if (!webhook && !rpc) return false;
    const presented = presentedKey(url, req.headers) ?? (rpc ? basicPassword(req.headers.authorization) : undefined);
    if (!authorizedForSystem("durabletask_extension", presented, keys)) {
      sendUnauthorized(res);
      return true;
    }
    return durable(req, res);
  };
}

/** The password of `Authorization: Basic base64(user:password)`, or undefined. */
function basicPassword(header: string | undefined): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/** Moves the emulators' clock with the engine's virtual clock, so Microsoft's workflow advances too. */
function clockPusher(controlUrl: string): (now: Date) => Promise<void> {
  const control = new EmulatorControlClient(controlUrl);
  return async (now) => {
    try {
      await control.setClock(now.toISOString());
    } catch (error) {
      // The emulator clock only moves forward; a refused push must not stop the engine.
      log(`local runtime: could not move the emulator clock to ${now.toISOString()}: ${(error as Error).message}`);
    }
  };
}
