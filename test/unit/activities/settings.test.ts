/**
 * Settings this helper's code depends on, without network: the identity-based storage connection
 * (as the Functions host reads AzureWebJobsStorage__*), the activity deadline against host.json,
 * and the allowed URL hosts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ManagedIdentityCredential } from "@azure/identity";
import { StorageSharedKeyCredential } from "@azure/storage-blob";
import { setTimeout as sleep } from "node:timers/promises";
import { startActivityBudget } from "../../../src/activities/deps";
import { ConfigError, FUNCTION_TIMEOUT_MINUTES, parseConfig } from "../../../src/config";
import { blobConnectionFrom, createBlobServiceClient } from "../../../src/storage/blobService";

const base = {
  HDC_TENANT_ID: "11111111-2222-3333-4444-555555555555",
  HDC_CLIENT_ID: "66666666-7777-8888-9999-000000000000",
  HDC_CLIENT_SECRET: "not-used",
};
const ROOT = path.resolve(__dirname, "../../..");

function problems(env: Record<string, string>): string[] {
  try {
    parseConfig({ ...base, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

function clientFor(env: Record<string, string>) {
  return createBlobServiceClient(blobConnectionFrom(parseConfig({ ...base, ...env }).settings));
}

describe("identity-based AzureWebJobsStorage", () => {
  it("accountName: the account's public blob endpoint with the system-assigned managed identity", () => {
    const client = clientFor({ AzureWebJobsStorage__accountName: "contosodrivers", AzureWebJobsStorage__credential: "managedidentity" });
    expect(client.url).toBe("https://contosodrivers.blob.core.windows.net/");
    expect(client.credential).toBeInstanceOf(ManagedIdentityCredential);
    expect((client.credential as unknown as { clientId?: string }).clientId).toBeUndefined();
  });

  it("blobServiceUri + clientId: that endpoint with the user-assigned identity, by its client id", () => {
    const client = clientFor({
      AzureWebJobsStorage__blobServiceUri: "https://contosodrivers.blob.core.windows.net",
      AzureWebJobsStorage__queueServiceUri: "https://contosodrivers.queue.core.windows.net",
      AzureWebJobsStorage__tableServiceUri: "https://contosodrivers.table.core.windows.net",
      AzureWebJobsStorage__credential: "managedidentity",
      AzureWebJobsStorage__clientId: "0a1b2c3d-0000-1111-2222-333344445555",
    });
    expect(client.url).toBe("https://contosodrivers.blob.core.windows.net/");
    expect(client.credential).toBeInstanceOf(ManagedIdentityCredential);
    expect((client.credential as unknown as { clientId?: string }).clientId).toBe("0a1b2c3d-0000-1111-2222-333344445555");
  });

  it("a connection string keeps the account key (source SAS signed with it)", () => {
    const client = clientFor({ AzureWebJobsStorage: "UseDevelopmentStorage=true" });
    expect(client.credential).toBeInstanceOf(StorageSharedKeyCredential);
  });

  it.each([
    [{ AzureWebJobsStorage__accountName: "acct", AzureWebJobsStorage__blobServiceUri: "https://acct.blob.core.windows.net" }, /AzureWebJobsStorage__blobServiceUri conflicts with AzureWebJobsStorage__accountName/],
    [{ AzureWebJobsStorage__accountName: "acct", AzureWebJobsStorage__credential: "clientsecret" }, /AzureWebJobsStorage__credential must be managedidentity/],
    [{ AzureWebJobsStorage__accountName: "acct", AzureWebJobsStorage__clientId: "id" }, /AzureWebJobsStorage__credential must be managedidentity when AzureWebJobsStorage__clientId/],
    [{ AzureWebJobsStorage: "UseDevelopmentStorage=true", AzureWebJobsStorage__accountName: "acct" }, /AzureWebJobsStorage__accountName cannot be combined with AzureWebJobsStorage/],
    [{ AzureWebJobsStorage__blobServiceUri: "http://acct.blob.core.windows.net" }, /AzureWebJobsStorage__blobServiceUri must be an https/],
    [{ AzureWebJobsStorage__blobServiceUri: "https://acct.blob.core.windows.net", AzureWebJobsStorage__tableServiceUri: "not a url" }, /AzureWebJobsStorage__tableServiceUri/],
    [{ AzureWebJobsStorage__accountName: "acct", AzureWebJobsStorage__queueServiceUri: "https://acct.queue.core.windows.net" }, /AzureWebJobsStorage__queueServiceUri conflicts/],
    [{ AzureWebJobsStorage__accountName: "Not_An_Account" }, /AzureWebJobsStorage__accountName must be a storage account name/],
    [{}, /AzureWebJobsStorage is required/],
  ])("names the bad setting: %j", (env, expected) => {
    expect(problems(env).join("; ")).toMatch(expected);
  });

  it("no production code path uses DefaultAzureCredential", () => {
    // Constructed or imported (a comment may still explain why not).
    const USES_DEFAULT_CREDENTIAL = /new\s+DefaultAzureCredential|import[^;]*\bDefaultAzureCredential\b[^;]*from/;
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith(".ts") && USES_DEFAULT_CREDENTIAL.test(fs.readFileSync(full, "utf8"))) offenders.push(full);
      }
    };
    walk(path.join(ROOT, "src"));
    expect(offenders).toEqual([]);
  });
});

describe("ACTIVITY_DEADLINE_MINUTES", () => {
  it("FUNCTION_TIMEOUT_MINUTES is host.json's functionTimeout", () => {
    const hostJson = JSON.parse(fs.readFileSync(path.join(ROOT, "host.json"), "utf8")) as { functionTimeout: string };
    const [hours, minutes, seconds] = hostJson.functionTimeout.split(":").map(Number);
    expect(hours! * 60 + minutes! + seconds! / 60).toBe(FUNCTION_TIMEOUT_MINUTES);
  });

  it("defaults below functionTimeout, and must stay below it and below SOURCE_SAS_MINUTES", () => {
    const defaults = parseConfig({ ...base, AzureWebJobsStorage: "UseDevelopmentStorage=true" }).settings;
    expect(defaults.ACTIVITY_DEADLINE_MINUTES).toBe(25);
    expect(defaults.ACTIVITY_DEADLINE_MINUTES).toBeLessThan(FUNCTION_TIMEOUT_MINUTES);
    expect(problems({ AzureWebJobsStorage: "UseDevelopmentStorage=true", ACTIVITY_DEADLINE_MINUTES: "30" }).join("; ")).toMatch(
      /ACTIVITY_DEADLINE_MINUTES must be below host.json's functionTimeout \(30 minutes\)/,
    );
    expect(problems({ AzureWebJobsStorage: "UseDevelopmentStorage=true", ACTIVITY_DEADLINE_MINUTES: "20", SOURCE_SAS_MINUTES: "15" }).join("; ")).toMatch(
      /SOURCE_SAS_MINUTES must be greater than ACTIVITY_DEADLINE_MINUTES/,
    );
  });
});

describe("startActivityBudget", () => {
  it("aborts its signal at the deadline it reports", async () => {
    const started = Date.now();
    const budget = startActivityBudget(0.003); // 180 ms
    expect(budget.deadlineMs - started).toBeGreaterThanOrEqual(180);
    expect(budget.deadlineMs - started).toBeLessThan(250);
    expect(budget.signal.aborted).toBe(false);
    await sleep(500);
    expect(budget.signal.aborted).toBe(true);
  });
});

describe("HDC_ALLOWED_URL_HOST_SUFFIXES", () => {
  it("defaults to Azure blob storage and rejects an empty or malformed list", () => {
    expect(parseConfig({ ...base, AzureWebJobsStorage: "UseDevelopmentStorage=true" }).settings.HDC_ALLOWED_URL_HOST_SUFFIXES).toEqual([".blob.core.windows.net"]);
    expect(problems({ AzureWebJobsStorage: "UseDevelopmentStorage=true", HDC_ALLOWED_URL_HOST_SUFFIXES: " , " }).join("; ")).toMatch(/HDC_ALLOWED_URL_HOST_SUFFIXES/);
    expect(problems({ AzureWebJobsStorage: "UseDevelopmentStorage=true", HDC_ALLOWED_URL_HOST_SUFFIXES: "https://x/" }).join("; ")).toMatch(/HDC_ALLOWED_URL_HOST_SUFFIXES/);
  });
});

describe("LABEL_* settings (publishing after signing)", () => {
  it("defaults to a 30-day label deadline and reaches the orchestration as labelPolling", () => {
    const config = parseConfig({ ...base, AzureWebJobsStorage: "UseDevelopmentStorage=true" });
    expect(config.labelPolling).toEqual({
      initialIntervalSeconds: 300,
      maxIntervalSeconds: 21600,
      backoffFactor: config.settings.POLL_BACKOFF_FACTOR,
      deadlineDays: 30,
      metadataWaitMinutes: 240,
      pollsPerGeneration: config.settings.POLLS_PER_GENERATION,
    });
  });
  it.each(["LABEL_DEADLINE_DAYS", "LABEL_POLL_INITIAL_SECONDS", "LABEL_POLL_MAX_SECONDS", "LABEL_METADATA_WAIT_MINUTES"])("%s must be a positive integer; the error names it", (name) => {
    expect(problems({ AzureWebJobsStorage: "UseDevelopmentStorage=true", [name]: "0" }).join("; ")).toMatch(new RegExp(`^${name} `, "m"));
    expect(problems({ AzureWebJobsStorage: "UseDevelopmentStorage=true", [name]: "soon" }).join("; ")).toMatch(new RegExp(name));
  });
});
