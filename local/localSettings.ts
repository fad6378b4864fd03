/**
 * local.settings.json as `func start` reads it: `Values` become environment variables for the app,
 * but only where the variable is NOT already set in the environment (func prints "Skipping '<name>'
 * from local settings as it's already defined in current environment variables" and keeps the
 * environment's value); an empty value counts as unset, as setting an empty environment variable
 * does in .NET. `Host.LocalHttpPort` is the default HTTP port. `IsEncrypted: true` files can only
 * be decrypted by func on the machine that encrypted them, so they are refused here.
 */
import * as fs from "node:fs";
import { z } from "zod";

export const LOCAL_SETTINGS_FILE = "local.settings.json";

/** Where a user setting came from, for the terminal lines that name it. */
export type SettingSource = "environment" | "local.settings.json";

export interface UserSetting {
  value: string;
  source: SettingSource;
}

export interface LocalSettings {
  file: string;
  values: Record<string, string>;
  localHttpPort?: number;
}

const schema = z.object({
  IsEncrypted: z.boolean().optional(),
  Values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  Host: z
    .object({ LocalHttpPort: z.coerce.number().int().min(0).max(65535).optional() })
    .passthrough()
    .optional(),
}).passthrough();

/** Reads and checks a local.settings.json; errors name the file and the field. */
export function readLocalSettings(file: string): LocalSettings {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`${file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : `not valid JSON (${(error as Error).message})`}`);
  }
  const checked = schema.safeParse(parsed);
  if (!checked.success) {
    const problems = checked.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ");
    throw new Error(`${file}: ${problems}`);
  }
  if (checked.data.IsEncrypted) throw new Error(`${file}: IsEncrypted is true; decrypt it with \`func settings decrypt\` first`);
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(checked.data.Values ?? {})) {
    if (value !== null) values[name] = String(value);
  }
  return { file, values, localHttpPort: checked.data.Host?.LocalHttpPort };
}

/**
 * The app's settings as func would give them: local.settings.json Values applied only where the
 * environment does not already define the variable. Returns the settings with their source (only
 * the file's names and the environment variables among them; the rest of the environment is
 * passed through untouched by the runtime) and the names the environment won.
 */
export function mergeLikeFunc(env: NodeJS.ProcessEnv, fileValues: Record<string, string>): { settings: Record<string, UserSetting>; skipped: string[] } {
  const settings: Record<string, UserSetting> = {};
  const skipped: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value !== "") settings[name] = { value, source: "environment" };
  }
  for (const [name, value] of Object.entries(fileValues)) {
    if (env[name] !== undefined) {
      skipped.push(name);
      continue;
    }
    if (value !== "") settings[name] = { value, source: "local.settings.json" };
  }
  return { settings, skipped };
}
