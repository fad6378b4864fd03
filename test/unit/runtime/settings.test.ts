/** `npm run local`'s settings: local.settings.json merged like func (environment first), and what the stack replaces, said aloud. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { mergeLikeFunc, readLocalSettings } from "../../../local/localSettings";
import { composeSettings } from "../../../local/stackSettings";

function settingsFile(content: unknown): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "settings-")), "local.settings.json");
  fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

describe("local.settings.json", () => {
  it("reads Values (as strings, nulls dropped) and Host.LocalHttpPort", () => {
    const file = settingsFile({ IsEncrypted: false, Values: { A: "x", N: 5, B: true, Z: null }, Host: { LocalHttpPort: 7199, CORS: "*" } });
    expect(readLocalSettings(file)).toEqual({ file, values: { A: "x", N: "5", B: "true" }, localHttpPort: 7199 });
  });

  it("refuses encrypted, malformed and missing files, naming the file and field", () => {
    expect(() => readLocalSettings(settingsFile({ IsEncrypted: true, Values: {} }))).toThrow(/IsEncrypted is true/);
    expect(() => readLocalSettings(settingsFile({ Values: { A: { nested: 1 } } }))).toThrow(/Values\.A/);
    expect(() => readLocalSettings(settingsFile({ Host: { LocalHttpPort: "many" } }))).toThrow(/Host\.LocalHttpPort/);
    expect(() => readLocalSettings(settingsFile("{oops"))).toThrow(/not valid JSON/);
    expect(() => readLocalSettings("/nonexistent/local.settings.json")).toThrow(/not found/);
  });

  it("applies a Value only when the environment does not define it (func's rule); empty values count as unset", () => {
    const merged = mergeLikeFunc({ FROM_ENV: "env", BOTH: "env wins", EMPTY_ENV: "" }, { BOTH: "file", ONLY_FILE: "file", EMPTY_FILE: "", EMPTY_ENV: "file" });
    expect(merged.settings).toEqual({
      FROM_ENV: { value: "env", source: "environment" },
      BOTH: { value: "env wins", source: "environment" },
      ONLY_FILE: { value: "file", source: "local.settings.json" },
    });
    expect(merged.skipped.sort()).toEqual(["BOTH", "EMPTY_ENV"]);
  });
});

describe("the stack's settings", () => {
  const emulatorHdc = { HDC_API_BASE_URL: "https://127.0.0.1:1/v2.0/my/", HDC_TENANT_ID: "emulated-tenant", HDC_CERTIFICATE_PATH: "" };
  const forced = { AzureWebJobsStorage: { value: "azurite", reason: "Azurite is the storage" } };

  it("points HDC at the emulator when HDC_API_BASE_URL is not set, naming every user setting it replaces", () => {
    const composed = composeSettings({
      user: {
        HDC_TENANT_ID: { value: "mine", source: "local.settings.json" },
        HDC_CERTIFICATE_PATH: { value: "/my.pem", source: "environment" },
        AzureWebJobsStorage: { value: "UseDevelopmentStorage=true", source: "local.settings.json" },
        POLL_INITIAL_SECONDS: { value: "7", source: "local.settings.json" },
      },
      defaults: { POLL_INITIAL_SECONDS: "60", COPY_POLL_MS: "200" },
      forced,
      emulatorHdc,
    });
    expect(composed.hdcTarget).toBe("emulator");
    expect(composed.env).toMatchObject({ ...emulatorHdc, AzureWebJobsStorage: "azurite", POLL_INITIAL_SECONDS: "7", COPY_POLL_MS: "200" });
    expect(composed.notices).toEqual([
      expect.stringMatching(/^HDC_TENANT_ID: replacing the value from local\.settings\.json: HDC_API_BASE_URL is not set/),
      expect.stringMatching(/^HDC_CERTIFICATE_PATH: ignoring the value from environment: /),
      "AzureWebJobsStorage: replacing the value from local.settings.json: Azurite is the storage",
    ]);
    // Values are never printed (they may be secrets).
    expect(composed.notices.join("\n")).not.toMatch(/mine|my\.pem|UseDevelopmentStorage/);
  });

  it("keeps the user's Hardware Dev Center when HDC_API_BASE_URL is set, and says the emulators are unused for it", () => {
    const composed = composeSettings({
      user: {
        HDC_API_BASE_URL: { value: "https://hdc.example.test/v2.0/my/", source: "environment" },
        HDC_TENANT_ID: { value: "mine", source: "local.settings.json" },
      },
      defaults: {},
      forced,
      emulatorHdc,
    });
    expect(composed.hdcTarget).toBe("user");
    expect(composed.env).toMatchObject({ HDC_API_BASE_URL: "https://hdc.example.test/v2.0/my/", HDC_TENANT_ID: "mine" });
    expect(composed.env.HDC_CERTIFICATE_PATH).toBeUndefined();
    expect(composed.notices).toEqual([expect.stringMatching(/^HDC_API_BASE_URL=https:\/\/hdc\.example\.test\/v2\.0\/my\/ \(from environment\): .*emulators are running but unused for HDC$/)]);
  });

  it("says nothing when the user's value is the one the stack sets anyway", () => {
    const composed = composeSettings({ user: { AzureWebJobsStorage: { value: "azurite", source: "environment" } }, defaults: {}, forced, emulatorHdc: {} });
    expect(composed.notices).toEqual([]);
  });
});
