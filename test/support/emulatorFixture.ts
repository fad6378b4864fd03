/**
 * Azurite plus the Entra ID, Key Vault and Hardware Dev Center emulators for one test file, with
 * Azurite's data folder removed on stop. The CA under TLS_DIR is the one `npm test` trusts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { AzuriteHandle, startAzurite } from "../../local/azurite";
import { EmulatorsHandle, startEmulators, type StartEmulatorsOptions } from "../../local/emulators";

export const TLS_DIR = path.resolve(__dirname, "../../.local-data/tls");

export interface EmulatorFixture {
  azurite: AzuriteHandle;
  emulators: EmulatorsHandle;
  stop(): Promise<void>;
}

export async function startEmulatorFixture(options: Omit<StartEmulatorsOptions, "azuriteConnectionString" | "tlsDir">): Promise<EmulatorFixture> {
  const azurite = await startAzurite();
  const stopAzurite = async () => {
    await azurite.stop();
    fs.rmSync(azurite.dataDir, { recursive: true, force: true });
  };
  try {
    const emulators = await startEmulators({ ...options, azuriteConnectionString: azurite.connectionString, tlsDir: TLS_DIR });
    return {
      azurite,
      emulators,
      stop: async () => {
        await emulators.stop();
        await stopAzurite();
      },
    };
  } catch (error) {
    await stopAzurite();
    throw error;
  }
}
