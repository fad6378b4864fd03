/**
 * Starts the Hardware Dev Center, Entra ID and Key Vault emulators (HTTPS on 127.0.0.1, with a
 * server certificate issued at start by the local CA in `tlsDir`) around one shared clock, token
 * registry and request log. The app's real SDK clients talk to them unchanged; the process that
 * runs the SDKs must trust <tlsDir>/ca.pem through NODE_EXTRA_CA_CERTS.
 */
import * as crypto from "node:crypto";
import * as path from "node:path";
import { ensureLocalCa, issueServerCertificate } from "../tls";
import { EmulatorClock } from "./clock";
import { CONTROL_PATH, EmulatorControl, EmulatorsState, createControlHandler } from "./controlApi";
import { FederatedTenant, RegisteredApp, createEntraHandler } from "./entraEmulator";
import { DEFAULT_BEHAVIOUR, HdcBehaviourPatch, mergeBehaviour } from "./hdcBehaviour";
import { HdcBlobs, type IssuedSas } from "./hdcBlobs";
import { HDC_BASE_PATH, createHdcEmulator } from "./hdcEmulator";
import { EmulatorServer, startEmulatorServer } from "./httpServer";
import { createKeyVaultEmulator } from "./keyVaultEmulator";
import { RequestLog } from "./requestLog";
import { loadOrCreateSigningChain } from "./signingChain";
import { TokenRegistry } from "./tokenRegistry";
import { FaultInjector } from "./trafficShaping";

export { EmulatorControlClient } from "./controlApi";
export type { EmulatorControl, EmulatorsState } from "./controlApi";
export type { RegisteredApp } from "./entraEmulator";
export type { HdcBehaviour, HdcBehaviourPatch, PreprodBehaviour, ScriptedFault, WorkflowBehaviour } from "./hdcBehaviour";
export { DEFAULT_PREPROD_BEHAVIOUR, PREPROD_CONTAINER, type PreprodSummary } from "./preprod";
export type { RequestLogEntry, RequestLogSnapshot } from "./requestLog";
export { SUBMISSION_STEPS } from "./workflow";
export { INGESTION_CONTAINER, SIGNED_CONTAINER, REPORTS_CONTAINER } from "./hdcBlobs";
export type { IssuedSas } from "./hdcBlobs";

export interface StartEmulatorsOptions {
  azuriteConnectionString: string;
  /** Folder of the local CA (ca.pem, ca-key.pem); created when missing. */
  tlsDir: string;
  /** App registrations the Entra emulator knows. The first app's tenant is the one Key Vault's challenge names. */
  apps: RegisteredApp[];
  /** Key Vault secrets, name → value. */
  secrets?: Record<string, string>;
  behaviour?: HdcBehaviourPatch;
  ports?: { hdc?: number; entra?: number; keyVault?: number };
  /** The API's tenant taking workload identity federation assertions (entra stacks; local/identity/federation.ts). */
  federation?: FederatedTenant;
  /** X-IDENTITY-HEADER value for the managed-identity endpoint; random when omitted. */
  managedIdentityHeader?: string;
  /**
   * Keep Hardware Dev Center's products, submissions, workflow progress, upload refs, id counters
   * and the emulator clock in this file, so a restarted stack continues where it stopped.
   */
  stateFile?: string;
  /**
   * Where the local signing chain of the signed packages lives (signingChain.ts), made once; default
   * hdc-signing beside tlsDir. Its root.pem is what local runs trust (SIGNED_PACKAGE_TRUSTED_ROOTS).
   */
  signingDir?: string;
}

export interface EmulatorsHandle extends EmulatorControl {
  /** https://127.0.0.1:<port>/v2.0/my/ */
  hdcBaseUrl: string;
  /** https://127.0.0.1:<port> (pass as authorityHost; also set disableInstanceDiscovery: true). */
  authorityHost: string;
  /** https://127.0.0.1:<port> */
  keyVaultUrl: string;
  /** http://127.0.0.1:<hdc port>/_emulator/ */
  controlUrl: string;
  /** The test root the signed packages' catalogs chain to: the value of SIGNED_PACKAGE_TRUSTED_ROOTS for the app. */
  signingRootFile: string;
  caCertPath: string;
  /** For ManagedIdentityCredential (App Service style): set IDENTITY_ENDPOINT / IDENTITY_HEADER to these. */
  managedIdentity: { endpoint: string; header: string };
  setSecrets(secrets: Record<string, string>): void;
  /**
   * Test-only, in-process only: the app registration's client secret from now on (a rotation in
   * Entra; pair it with setSecrets to rotate the copy in Key Vault). Never print the value.
   */
  setAppSecret(clientId: string, clientSecret: string): void;
  /**
   * Test-only, in-process only (never on the control API): the secrets the emulators handed out,
   * so leak scans can look for exact values. Never print them.
   */
  issuedSecrets(): { accessTokens: string[]; sas: IssuedSas[] };
  stop(): Promise<void>;
}

export async function startEmulators(options: StartEmulatorsOptions): Promise<EmulatorsHandle> {
  const ca = ensureLocalCa(options.tlsDir);
  const tls = issueServerCertificate(ca);
  const clock = new EmulatorClock();
  const log = new RequestLog();
  const startBehaviour = mergeBehaviour(DEFAULT_BEHAVIOUR, options.behaviour);
  let behaviour = startBehaviour;
  const faults = new FaultInjector();
  faults.arm(behaviour.faults);
  const signing = loadOrCreateSigningChain(options.signingDir ?? path.join(path.dirname(options.tlsDir), "hdc-signing"));
  const blobs = new HdcBlobs(options.azuriteConnectionString, signing);
  await blobs.ensureContainers();

  const urls = { entra: "", keyVault: "" };
  const registry = new TokenRegistry(clock, () => urls.entra, () => behaviour.tokenExpiryClock);
  const managedIdentityHeader = options.managedIdentityHeader ?? crypto.randomBytes(16).toString("hex");
  const apps = options.apps.map((app) => ({ ...app }));

  const servers: EmulatorServer[] = [];
  const started = async (server: Promise<EmulatorServer>) => {
    const running = await server;
    servers.push(running);
    return running;
  };
  try {
    const entra = await started(
      startEmulatorServer({
        service: "entra",
        tls,
        port: options.ports?.entra,
        log,
        clock,
        handler: createEntraHandler({
          apps: () => apps,
          registry,
          tokenLifetimeSeconds: () => behaviour.tokenLifetimeSeconds,
          baseUrl: () => urls.entra,
          managedIdentityHeader,
          federation: options.federation,
        }),
      }),
    );
    urls.entra = `https://127.0.0.1:${entra.port}`;

    const keyVault = createKeyVaultEmulator({
      registry,
      clock,
      vaultUrl: () => urls.keyVault,
      challengeAuthority: () => `${urls.entra}/${apps[0]?.tenantId ?? "common"}`,
    });
    keyVault.setSecrets(options.secrets ?? {});
    const keyVaultServer = await started(startEmulatorServer({ service: "keyvault", tls, port: options.ports?.keyVault, log, clock, handler: keyVault.handler }));
    urls.keyVault = `https://127.0.0.1:${keyVaultServer.port}`;

    const hdc = createHdcEmulator({
      registry,
      clock,
      blobs,
      behaviour: () => behaviour,
      faults,
      stateFile: options.stateFile,
      azuriteConnectionString: options.azuriteConnectionString,
    });

    const controlTarget: EmulatorControl = {
      requests: () => log.snapshot(),
      state: (): EmulatorsState => ({ now: clock.iso(), behaviour, faults: faults.snapshot(), products: hdc.summary(), preprodPackages: hdc.preprodSummary() }),
      behaviour: () => behaviour,
      configure: (patch) => {
        behaviour = mergeBehaviour(behaviour, patch);
        if (patch.faults) faults.arm(behaviour.faults);
        return behaviour;
      },
      setClock: (iso) => clock.setClock(iso),
      advanceClock: (seconds) => clock.advanceSeconds(seconds),
      revokeAllTokens: () => registry.revokeAll(),
      reset: async () => {
        hdc.reset();
        await blobs.clear();
        behaviour = startBehaviour;
        faults.arm(behaviour.faults);
        log.clear();
      },
    };
    const controlHandler = createControlHandler(controlTarget);
    const hdcServer = await started(
      startEmulatorServer({
        service: "hdc",
        tls,
        port: options.ports?.hdc,
        log,
        clock,
        handler: (request) => (request.path.startsWith(CONTROL_PATH) ? controlHandler(request) : hdc.handler(request)),
        plainHandler: async (request) =>
          request.path.startsWith(CONTROL_PATH)
            ? controlHandler(request)
            : { status: 400, kind: "plainHttp", unlogged: true, body: "The Hardware Dev Center emulator speaks HTTPS; only /_emulator/ answers plain HTTP." },
      }),
    );

    return {
      ...controlTarget,
      hdcBaseUrl: `https://127.0.0.1:${hdcServer.port}${HDC_BASE_PATH}`,
      authorityHost: urls.entra,
      keyVaultUrl: urls.keyVault,
      controlUrl: `http://127.0.0.1:${hdcServer.port}${CONTROL_PATH}`,
      signingRootFile: signing.rootFile,
      caCertPath: ca.caCertPath,
      managedIdentity: { endpoint: `${urls.entra}/msi/token`, header: managedIdentityHeader },
      setSecrets: (secrets) => keyVault.setSecrets(secrets),
      setAppSecret: (clientId, clientSecret) => {
        const app = apps.find((candidate) => candidate.clientId === clientId);
        if (!app) throw new Error(`No registered app ${clientId}`);
        app.clientSecret = clientSecret;
      },
      issuedSecrets: () => ({ accessTokens: registry.issuedAccessTokens(), sas: blobs.issuedSas() }),
      stop: async () => {
        await Promise.all(servers.map((server) => server.close()));
      },
    };
  } catch (error) {
    await Promise.all(servers.map((server) => server.close()));
    throw error;
  }
}

