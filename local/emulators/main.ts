/**
 * The emulators as a standalone process:
 *   node dist/local/emulators/main.js <options.json>
 * (or EMULATOR_OPTIONS_FILE=<path>, or EMULATOR_OPTIONS='<json>'). Options are those of
 * startEmulators; without azuriteConnectionString an Azurite (temp folder) is started alongside, and
 * tlsDir defaults to .local-data/tls. Prints exactly one JSON line when ready, then runs until
 * SIGTERM/SIGINT.
 */
import * as fs from "node:fs";
import { AzuriteHandle, startAzurite } from "../azurite";
import { StartEmulatorsOptions, startEmulators } from "./index";

type MainOptions = Omit<StartEmulatorsOptions, "azuriteConnectionString" | "tlsDir"> & {
  azuriteConnectionString?: string;
  tlsDir?: string;
};

function readOptions(): MainOptions {
  const file = process.argv[2] ?? process.env.EMULATOR_OPTIONS_FILE;
  const text = file ? fs.readFileSync(file, "utf8") : process.env.EMULATOR_OPTIONS;
  if (!text) throw new Error("Pass an options JSON file path as the first argument (or EMULATOR_OPTIONS_FILE / EMULATOR_OPTIONS).");
  const options = JSON.parse(text) as MainOptions;
  if (!Array.isArray(options.apps) || options.apps.length === 0) throw new Error("options.apps must list at least one app registration.");
  return options;
}

async function main(): Promise<void> {
  const options = readOptions();
  let azurite: AzuriteHandle | undefined;
  if (!options.azuriteConnectionString) azurite = await startAzurite();
  const emulators = await startEmulators({
    ...options,
    azuriteConnectionString: options.azuriteConnectionString ?? azurite!.connectionString,
    tlsDir: options.tlsDir ?? ".local-data/tls",
  });
  process.stdout.write(
    JSON.stringify({
      ready: true,
      hdcBaseUrl: emulators.hdcBaseUrl,
      authorityHost: emulators.authorityHost,
      keyVaultUrl: emulators.keyVaultUrl,
      controlUrl: emulators.controlUrl,
      caCertPath: emulators.caCertPath,
      managedIdentityEndpoint: emulators.managedIdentity.endpoint,
      ...(azurite ? { azuriteConnectionString: azurite.connectionString } : {}),
    }) + "\n",
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await emulators.stop();
    await azurite?.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
}

main().catch((error: unknown) => {
  console.error(`emulators failed to start: ${(error as Error).message}`);
  process.exit(1);
});
