/** Host keys of the local runtime: created once (mode 0600, URL-safe, distinct), reused, validated; who they open. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { authorizedFor, authorizedForSystem, loadOrCreateHostKeys, presentedKey, allKeyValues } from "../../../local/runtime/keys";

const tempFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "host-keys-")), "nested", "keys.json");

describe("host keys file", () => {
  it("creates random URL-safe keys once, mode 0600, and reads the same keys back", () => {
    const file = tempFile();
    const first = loadOrCreateHostKeys(file);
    expect(first.created).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const values = allKeyValues(first.keys).map((k) => k.value);
    expect(values).toHaveLength(4);
    expect(new Set(values).size).toBe(4);
    for (const value of values) expect(value).toMatch(/^[A-Za-z0-9_-]{50,}$/);
    expect(Object.keys(first.keys.systemKeys).sort()).toEqual(["durabletask_extension", "eventgrid_extension"]);

    const again = loadOrCreateHostKeys(file);
    expect(again).toEqual({ keys: first.keys, created: false });
    // Another folder gets other keys.
    expect(loadOrCreateHostKeys(tempFile()).keys.masterKey).not.toBe(first.keys.masterKey);
  });

  it("refuses a damaged file with a message naming it and the bad field", () => {
    const file = tempFile();
    loadOrCreateHostKeys(file);
    const keys = JSON.parse(fs.readFileSync(file, "utf8"));
    fs.writeFileSync(file, JSON.stringify({ ...keys, masterKey: "short" }));
    expect(() => loadOrCreateHostKeys(file)).toThrow(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} is not valid: masterKey must be a URL-safe key`));
    fs.writeFileSync(file, "{nope");
    expect(() => loadOrCreateHostKeys(file)).toThrow(/is not valid JSON/);
  });
});

describe("key checks", () => {
  const { keys } = loadOrCreateHostKeys(tempFile());
  const fn = keys.functionKeys.default;

  it("takes the x-functions-key header before ?code=", () => {
    expect(presentedKey(new URL("http://h/api/x?code=fromQuery"), { "x-functions-key": "fromHeader" })).toBe("fromHeader");
    expect(presentedKey(new URL("http://h/api/x?code=fromQuery"), {})).toBe("fromQuery");
    expect(presentedKey(new URL("http://h/api/x"), {})).toBeUndefined();
  });

  it("function level: function or master key; admin: master only; anonymous: nothing", () => {
    expect(authorizedFor("anonymous", undefined, keys)).toBe(true);
    expect(authorizedFor("function", undefined, keys)).toBe(false);
    expect(authorizedFor("function", "", keys)).toBe(false);
    expect(authorizedFor("function", fn, keys)).toBe(true);
    expect(authorizedFor("function", keys.masterKey, keys)).toBe(true);
    expect(authorizedFor("function", fn.slice(0, -1), keys)).toBe(false);
    expect(authorizedFor("function", `${fn}a`, keys)).toBe(false);
    expect(authorizedFor("function", keys.systemKeys.durabletask_extension, keys)).toBe(false);
    expect(authorizedFor("admin", fn, keys)).toBe(false);
    expect(authorizedFor("admin", keys.masterKey, keys)).toBe(true);
  });

  it("system level: that extension's key or the master key", () => {
    expect(authorizedForSystem("durabletask_extension", keys.systemKeys.durabletask_extension, keys)).toBe(true);
    expect(authorizedForSystem("durabletask_extension", keys.masterKey, keys)).toBe(true);
    expect(authorizedForSystem("durabletask_extension", keys.systemKeys.eventgrid_extension, keys)).toBe(false);
    expect(authorizedForSystem("durabletask_extension", fn, keys)).toBe(false);
    expect(authorizedForSystem("eventgrid_extension", keys.systemKeys.eventgrid_extension, keys)).toBe(true);
    expect(authorizedForSystem("eventgrid_extension", undefined, keys)).toBe(false);
  });
});
