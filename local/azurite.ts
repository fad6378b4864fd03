/**
 * Starts Azurite (the npm storage emulator) as a child process on 127.0.0.1 and stops it.
 * Used by `npm run local`, the demo, tests and benchmarks; never deployed.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { exitWithParentArgs, PARENT_LINK_STDIN } from "./parentLink";

/** Azurite's published development account; a well-known public value, not a secret. */
export const DEV_ACCOUNT = "devstoreaccount1";
export const DEV_ACCOUNT_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteHandle {
  /** The Azurite process (it exits by itself when this process dies). */
  pid: number | undefined;
  blobEndpoint: string;
  tableEndpoint: string;
  connectionString: string;
  dataDir: string;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /** Folder for Azurite's data; a fresh temp folder when omitted. */
  dataDir?: string;
  blobPort?: number;
  tablePort?: number;
  queuePort?: number;
  /** Keep data in memory only (fast; lost when Azurite stops). */
  inMemory?: boolean;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

export function connectionStringFor(blobEndpoint: string, tableEndpoint: string, queueEndpoint?: string): string {
  return [
    "DefaultEndpointsProtocol=http",
    `AccountName=${DEV_ACCOUNT}`,
    `AccountKey=${DEV_ACCOUNT_KEY}`,
    `BlobEndpoint=${blobEndpoint}`,
    `TableEndpoint=${tableEndpoint}`,
    ...(queueEndpoint ? [`QueueEndpoint=${queueEndpoint}`] : []),
  ].join(";") + ";";
}

async function waitForPort(port: number, deadlineMs: number): Promise<void> {
  const started = Date.now();
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => { socket.destroy(); resolve(true); });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() - started > deadlineMs) throw new Error(`Azurite did not open port ${port} within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteHandle> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "azurite-"));
  fs.mkdirSync(dataDir, { recursive: true });
  // A free port can be taken by another process between freePort() and Azurite's listen (parallel
  // test workers): then Azurite exits with EADDRINUSE and we try again on new ports.
  const fixedPorts = options.blobPort !== undefined || options.tablePort !== undefined || options.queuePort !== undefined;
  for (let attempt = 1; ; attempt++) {
    const blobPort = options.blobPort ?? (await freePort());
    const tablePort = options.tablePort ?? (await freePort());
    const queuePort = options.queuePort ?? (await freePort());
    try {
      const child = await spawnAzurite(options, dataDir, blobPort, tablePort, queuePort);
      return handleFor(child, dataDir, blobPort, tablePort, queuePort);
    } catch (error) {
      if (fixedPorts || attempt >= 3 || !/EADDRINUSE/.test((error as Error).message)) throw error;
    }
  }
}

async function spawnAzurite(options: AzuriteOptions, dataDir: string, blobPort: number, tablePort: number, queuePort: number): Promise<ChildProcess> {
  const azuriteMain = require.resolve("azurite/dist/src/azurite.js");
  const args = [
    ...exitWithParentArgs(),
    azuriteMain,
    "--silent",
    "--skipApiVersionCheck",
    "--loose",
    "--disableProductStyleUrl",
    "--blobHost", "127.0.0.1", "--blobPort", String(blobPort),
    "--tableHost", "127.0.0.1", "--tablePort", String(tablePort),
    "--queueHost", "127.0.0.1", "--queuePort", String(queuePort),
  ];
  // Azurite refuses --location together with --inMemoryPersistence.
  args.push(...(options.inMemory ? ["--inMemoryPersistence"] : ["--location", dataDir]));
  const child: ChildProcess = spawn(process.execPath, args, { stdio: [PARENT_LINK_STDIN, "ignore", "pipe"] });
  let stderr = "";
  const exited = new Promise<never>((_, reject) => {
    child.once("exit", (code) => reject(new Error(`Azurite exited (code ${code}) before it opened its ports`)));
    // Azurite reports a taken port and may linger instead of exiting: give up on these ports at once.
    child.stderr?.on("data", (chunk) => {
      stderr += String(chunk);
      if (stderr.includes("EADDRINUSE")) reject(new Error("Azurite could not listen: EADDRINUSE"));
    });
  });
  try {
    await Promise.race([Promise.all([waitForPort(blobPort, 30000), waitForPort(tablePort, 30000)]), exited]);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`${(error as Error).message}\n${stderr}`);
  }
  exited.catch(() => undefined); // a later exit (stop) is not an error
  return child;
}

function handleFor(child: ChildProcess, dataDir: string, blobPort: number, tablePort: number, queuePort: number): AzuriteHandle {
  const blobEndpoint = `http://127.0.0.1:${blobPort}/${DEV_ACCOUNT}`;
  const tableEndpoint = `http://127.0.0.1:${tablePort}/${DEV_ACCOUNT}`;
  const queueEndpoint = `http://127.0.0.1:${queuePort}/${DEV_ACCOUNT}`;
  return {
    pid: child.pid,
    blobEndpoint,
    tableEndpoint,
    connectionString: connectionStringFor(blobEndpoint, tableEndpoint, queueEndpoint),
    dataDir,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 3000).unref();
      }),
  };
}
