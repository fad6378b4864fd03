/**
 * The local runtime's app settings: the stack's defaults, then the user's settings (environment and
 * local.settings.json, see cli/localSettings.ts), then what the stack must set itself. Every user
 * setting the stack replaces gets one line naming it and why; values are never printed (they may be
 * secrets), except HDC_API_BASE_URL. Hardware Dev Center is the local emulator unless the user set
 * HDC_API_BASE_URL: then the user's HDC_* settings are used as they are and the emulators are unused.
 */
import type { UserSetting } from "./localSettings";

export interface ForcedSetting {
  value: string;
  /** Why the stack sets it, for the terminal line. */
  reason: string;
}

export interface SettingsInput {
  user: Record<string, UserSetting>;
  /** Used where the user set nothing. */
  defaults: Record<string, string>;
  /** Always set; a different user value is replaced (and said). */
  forced: Record<string, ForcedSetting>;
  /** Hardware Dev Center, Entra ID and Key Vault settings pointing at the emulators ("" = unset). */
  emulatorHdc: Record<string, string>;
}

export interface ComposedSettings {
  env: Record<string, string>;
  /** One line per replaced setting, plus where Hardware Dev Center calls go. */
  notices: string[];
  hdcTarget: "emulator" | "user";
}

export function composeSettings(input: SettingsInput): ComposedSettings {
  const env: Record<string, string> = { ...input.defaults };
  const notices: string[] = [];
  for (const [name, setting] of Object.entries(input.user)) env[name] = setting.value;
  const replace = (name: string, value: string, reason: string) => {
    const user = input.user[name];
    if (user && user.value !== value) notices.push(`${name}: ${value === "" ? "ignoring" : "replacing"} the value from ${user.source}: ${reason}`);
    env[name] = value;
  };

  const userHdc = input.user.HDC_API_BASE_URL;
  const hdcTarget = userHdc ? "user" : "emulator";
  if (userHdc) {
    notices.push(
      `HDC_API_BASE_URL=${userHdc.value} (from ${userHdc.source}): Hardware Dev Center calls go there with your HDC_* settings; ` +
        "the local Hardware Dev Center, Entra ID and Key Vault emulators are running but unused for HDC",
    );
  } else {
    for (const [name, value] of Object.entries(input.emulatorHdc)) {
      replace(name, value, "HDC_API_BASE_URL is not set, so Hardware Dev Center is the local emulator, signed in with the emulator's app registration");
    }
  }
  for (const [name, forced] of Object.entries(input.forced)) replace(name, forced.value, forced.reason);
  return { env, notices, hdcTarget };
}
