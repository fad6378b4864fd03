/**
 * The one place app settings are read. Validated once; a missing or malformed setting fails with
 * a message naming it. Every setting here has a line in local.settings.sample.json and the README.
 */
import { z } from "zod";
import { isLoopbackUrl } from "./domain/loopback";
import { containerNameProblem, isHostContainer } from "./domain/packageRules";
import { splitWebhookEntry, webhookSubscriptions } from "./domain/webhookReceivers";
import { parseDropOwners } from "./domain/dropOwners";
import { type ApprovalSettings, DEFAULT_APPROVAL_DEADLINE_HOURS, MAX_APPROVAL_DEADLINE_HOURS, MIN_APPROVAL_DEADLINE_HOURS, parseApprovalPartners } from "./domain/approval";
import type { ActivityRetryPolicy, DeviceType, LabelPollingPolicy, PollingPolicy, TestHarness } from "./domain/types";
import type { AuthMode } from "./domain/principal";

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const positiveNumber = (fallback: number) => z.coerce.number().positive().default(fallback);
const csv = z
  .string()
  .transform((value) => value.split(",").map((s) => s.trim()).filter(Boolean));
const jsonRecord = z.string().transform((value, ctx) => {
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      const entries = Object.entries(parsed as Record<string, unknown>);
      if (entries.every(([, v]) => typeof v === "string")) return Object.fromEntries(entries) as Record<string, string>;
    }
  } catch {
    /* reported below */
  }
  ctx.addIssue({ code: "custom", message: "must be a JSON object of string values" });
  return z.NEVER;
});
const httpsOrLoopbackUrl = z
  .string()
  .url()
  .refine((value) => value.startsWith("https://") || (value.startsWith("http://") && isLoopbackUrl(value)), {
    message: "must be an https:// URL (http:// is allowed only for 127.0.0.1/localhost)",
  });
/** "https://host[:port]" with nothing after it but an optional "/". */
function isBareOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return url.pathname === "/" && url.search === "" && url.hash === "" && url.username === "" && url.password === "" && !/[?#]/.test(value);
  } catch {
    return false;
  }
}
/** NOTIFY_WEBHOOK_URLS: `[<id>=]<url>` entries; each receiver gets a stable id (src/domain/webhookReceivers.ts). */
const webhookList = csv
  .transform((entries) => entries.map(splitWebhookEntry))
  .pipe(z.array(z.object({ id: z.string().optional(), url: httpsOrLoopbackUrl })).max(10, "must name at most 10 URLs"))
  .transform((entries, ctx) => {
    const subscriptions = webhookSubscriptions(entries);
    if (subscriptions.ok) return subscriptions.value;
    ctx.addIssue({ code: "custom", message: subscriptions.problem });
    return z.NEVER;
  });
const hostSuffixes = csv.pipe(
  z.array(z.string().regex(/^\.?[a-z0-9.-]+$/i, "must be host names or suffixes like .blob.core.windows.net")).min(1, "must name at least one host suffix"),
);
const httpsUrl = z
  .string()
  .url()
  .refine((value) => value.startsWith("https://"), { message: "must be an https:// URL (a bearer token never travels in clear)" });
const containerName = z.string().superRefine((value, ctx) => {
  const problem = containerNameProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const schema = z
  .object({
    AzureWebJobsStorage: z.string().min(1).optional(),
    // Identity-based connection (https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity).
    AzureWebJobsStorage__accountName: z.string().regex(/^[a-z0-9]{3,24}$/, "must be a storage account name (3-24 lowercase letters and digits)").optional(),
    AzureWebJobsStorage__blobServiceUri: httpsOrLoopbackUrl.optional(),
    AzureWebJobsStorage__queueServiceUri: httpsOrLoopbackUrl.optional(),
    AzureWebJobsStorage__tableServiceUri: httpsOrLoopbackUrl.optional(),
    AzureWebJobsStorage__credential: z
      .string()
      .refine((value) => value.toLowerCase() === "managedidentity", { message: "must be managedidentity (the only identity credential this app supports)" })
      .optional(),
    AzureWebJobsStorage__clientId: z.string().min(1).optional(),
    DROPS_CONTAINER: containerName.default("driver-drops"),
    SIGNED_CONTAINER: containerName.default("signed-drivers"),
    STATE_CONTAINER: containerName.default("signing-state"),
    // Issue 33: the audit trail (one blob per record, never overwritten; immutable in Azure by policy).
    AUDIT_CONTAINER: containerName.default("signing-audit"),

    // Who may call the HTTP API: "keys" (function keys; every key-holder holds every role) or "entra"
    // (App Service Authentication in front; the app checks the injected principal's roles).
    AUTH_MODE: z.enum(["keys", "entra"]).default("keys"),

    HDC_API_BASE_URL: httpsUrl.default("https://manage.devcenter.microsoft.com/v2.0/my/"),
    HDC_SCOPE: z.string().min(1).default("https://manage.devcenter.microsoft.com/.default"),
    HDC_AUTHORITY_HOST: httpsOrLoopbackUrl.default("https://login.microsoftonline.com"),
    HDC_TENANT_ID: z.string().min(1),
    HDC_CLIENT_ID: z.string().min(1),
    HDC_AUTH_MODE: z.enum(["clientSecret", "keyVaultSecret", "certificate", "managedIdentity"]).default("clientSecret"),
    HDC_CLIENT_SECRET: z.string().min(1).optional(),
    HDC_KEYVAULT_URL: httpsOrLoopbackUrl.optional(),
    HDC_KEYVAULT_SECRET_NAME: z.string().min(1).optional(),
    HDC_CERTIFICATE_PATH: z.string().min(1).optional(),
    HDC_MANAGED_IDENTITY_CLIENT_ID: z.string().min(1).optional(),
    HDC_FEDERATED_AUDIENCE: z.string().min(1).default("api://AzureADTokenExchange"),
    HDC_HTTP_TIMEOUT_SECONDS: positiveInt(120),
    HDC_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(4),
    HDC_RETRY_DELAY_MS: positiveInt(1000),
    /** Hosts the URLs Hardware Dev Center hands out (upload SAS, downloads, error report) must be on. */
    HDC_ALLOWED_URL_HOST_SUFFIXES: hostSuffixes.default([".blob.core.windows.net"]),

    POLL_INITIAL_SECONDS: positiveInt(60),
    POLL_MAX_SECONDS: positiveInt(900),
    POLL_BACKOFF_FACTOR: positiveNumber(1.5),
    POLLS_PER_GENERATION: positiveInt(20),
    // Shipping labels (issue 11): how long a created label is followed, its poll schedule, and how
    // long to wait for the submission's driverMetadata before giving up on creating one.
    LABEL_DEADLINE_DAYS: positiveInt(30),
    LABEL_POLL_INITIAL_SECONDS: positiveInt(300),
    LABEL_POLL_MAX_SECONDS: positiveInt(6 * 3600),
    LABEL_METADATA_WAIT_MINUTES: positiveInt(240),
    // Issue 34: a second person approves a label before it is created (Windows Update always; partner
    // shares listed here: "<publisherId>[=<name>],..." or "*" for all), within this many hours.
    APPROVAL_PARTNERS: z
      .string()
      .transform((value, ctx) => {
        const parsed = parseApprovalPartners(value);
        if (parsed.ok) return parsed.partners;
        for (const problem of parsed.problems) ctx.addIssue({ code: "custom", message: problem });
        return z.NEVER;
      })
      .default([]),
    APPROVAL_DEADLINE_HOURS: z.coerce
      .number()
      .int()
      .min(MIN_APPROVAL_DEADLINE_HOURS, `must be at least ${MIN_APPROVAL_DEADLINE_HOURS} hour`)
      .max(MAX_APPROVAL_DEADLINE_HOURS, `must be at most ${MAX_APPROVAL_DEADLINE_HOURS} hours (30 days)`)
      .default(DEFAULT_APPROVAL_DEADLINE_HOURS),
    DEADLINE_ATTESTATION_MINUTES: positiveInt(6 * 60),
    DEADLINE_HLK_MINUTES: positiveInt(7 * 24 * 60),
    ACTIVITY_RETRY_FIRST_SECONDS: positiveInt(5),
    ACTIVITY_RETRY_MAX_ATTEMPTS: positiveInt(5),
    ACTIVITY_RETRY_BACKOFF: positiveNumber(2),
    ACTIVITY_RETRY_MAX_SECONDS: positiveInt(300),

    DEFAULT_REQUESTED_SIGNATURES: csv.default(["WINDOWS_v100_X64_RS5_FULL"]),
    DEFAULT_SELECTED_PRODUCT_TYPES: jsonRecord.default({ windows_v100_RS5: "Unclassified" }),
    DEFAULT_DEVICE_TYPE: z.enum(["internal", "external", "internalExternal", "notSet"]).default("external"),
    DEFAULT_FIRMWARE_VERSION: z.string().default("0"),

    SOURCE_SAS_MINUTES: positiveInt(60),
    // The largest package POST /api/uploads issues a URL for and a drop or start accepts. Default: a
    // cabinet's own ceiling (MS-CAB cbCabinet, 0x7FFFFFFF bytes); Microsoft documents no smaller upload limit.
    MAX_PACKAGE_BYTES: positiveInt(0x7fffffff),
    // The one budget of every activity invocation (copies included); below host.json's functionTimeout,
    // so our own abort and error run, not the host's kill.
    ACTIVITY_DEADLINE_MINUTES: positiveNumber(25),
    COPY_POLL_MS: positiveInt(1000),
    STREAM_BLOCK_MIB: positiveInt(8),
    STREAM_CONCURRENCY: positiveInt(2),
    ERROR_REPORT_MAX_BYTES: positiveInt(16384),
    // Issue 37: check a .cab package's rules before anything is created at Microsoft (off: Microsoft's own checks only).
    PREFLIGHT: z.enum(["on", "off"]).default("on"),
    // Issue 36: check Microsoft's signed package (catalogs, root, INFs) before a run is a success.
    VERIFY_SIGNED_PACKAGE: z.enum(["on", "off"]).default("on"),
    // Local runs only: a PEM file of extra roots the signed packages' catalogs may chain to (the
    // emulator's test root). Refused unless Hardware Dev Center is the local emulator (below).
    SIGNED_PACKAGE_TRUSTED_ROOTS: z.string().min(1).optional(),

    // HTTP API and retention (helper C). SUBMISSION_CONTAINERS: containers POST /api/submissions may
    // start packages from (default: DROPS_CONTAINER only); the host's own containers are refused anyway.
    SUBMISSION_CONTAINERS: z
      .string()
      .transform((value) => value.split(",").map((s) => s.trim()).filter(Boolean))
      .superRefine((names, ctx) => {
        for (const name of names) {
          const problem = containerNameProblem(name) ?? (isHostContainer(name) ? "is one of the Functions host's own containers" : undefined);
          if (problem) ctx.addIssue({ code: "custom", message: `"${name.slice(0, 70)}" ${problem}` });
        }
      })
      .optional(),
    // Issue 32: who owns a package dropped into storage without an upload URL (<container>/<prefix>=<objectId>[:<name>];...).
    // Unmatched drops belong to operators only (Sign.Operate).
    DROP_OWNERS: z
      .string()
      .transform((value, ctx) => {
        const parsed = parseDropOwners(value);
        if (parsed.ok) return parsed.entries;
        for (const problem of parsed.problems) ctx.addIssue({ code: "custom", message: problem });
        return z.NEVER;
      })
      .default([]),
    RETENTION_DAYS: positiveInt(90),
    // The origin clients reach the API at: statusUrl, cancelUrl and Location are built on it, never on
    // the request's Host header (which the caller chooses). Unset: those links are relative (/api/...).
    PUBLIC_BASE_URL: httpsOrLoopbackUrl
      .refine((value) => isBareOrigin(value), { message: "must be an origin only, e.g. https://my-app.azurewebsites.net (no path, query, fragment or user info)" })
      .transform((value) => new URL(value).origin)
      .optional(),
    // Notifications (src/notifications): CloudEvents POSTed to these URLs at a terminal state, signed
    // with NOTIFY_WEBHOOK_SECRET; retried on durable timers, never blocking a submission. Deliveries
    // are keyed by each receiver's id (configured as <id>=<url>, or derived from the URL), never by position.
    NOTIFY_WEBHOOK_URLS: webhookList.default([]),
    NOTIFY_WEBHOOK_SECRET: z.string().min(16, "must be at least 16 characters (it is the HMAC-SHA256 key)").optional(),
    NOTIFY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
    NOTIFY_RETRY_FIRST_SECONDS: positiveNumber(30),
    NOTIFY_RETRY_MAX_SECONDS: positiveNumber(3600),
    NOTIFY_TIMEOUT_SECONDS: positiveNumber(10),
    // NCRONTAB with seconds: "{second} {minute} {hour} {day} {month} {day-of-week}".
    RETENTION_SCHEDULE: z
      .string()
      .regex(/^\S+( \S+){5}$/, "must be a 6-field NCRONTAB expression, e.g. \"0 30 3 * * *\"")
      .default("0 30 3 * * *"),
  })
  .superRefine((env, ctx) => {
    const need = (key: keyof typeof env, why: string) => {
      if (!env[key]) ctx.addIssue({ code: "custom", path: [key], message: `is required ${why}` });
    };
    checkStorageConnection(env, ctx);
    if (env.HDC_AUTH_MODE === "clientSecret") need("HDC_CLIENT_SECRET", "when HDC_AUTH_MODE=clientSecret");
    if (env.HDC_AUTH_MODE === "keyVaultSecret") {
      need("HDC_KEYVAULT_URL", "when HDC_AUTH_MODE=keyVaultSecret");
      need("HDC_KEYVAULT_SECRET_NAME", "when HDC_AUTH_MODE=keyVaultSecret");
    }
    if (env.HDC_AUTH_MODE === "certificate") need("HDC_CERTIFICATE_PATH", "when HDC_AUTH_MODE=certificate");
    if (env.HDC_AUTH_MODE === "managedIdentity") need("HDC_MANAGED_IDENTITY_CLIENT_ID", "when HDC_AUTH_MODE=managedIdentity");
    // The audit trail shares its container with nothing: whatever else the app writes or deletes there cannot reach it.
    for (const other of ["DROPS_CONTAINER", "SIGNED_CONTAINER", "STATE_CONTAINER"] as const) {
      if (env[other] === env.AUDIT_CONTAINER) ctx.addIssue({ code: "custom", path: ["AUDIT_CONTAINER"], message: `must differ from ${other} (the audit trail has a container of its own)` });
    }
    for (const reserved of [env.STATE_CONTAINER, env.SIGNED_CONTAINER, env.AUDIT_CONTAINER]) {
      if (env.SUBMISSION_CONTAINERS?.includes(reserved)) {
        ctx.addIssue({ code: "custom", path: ["SUBMISSION_CONTAINERS"], message: `must not include ${reserved} (the app's own state or results)` });
      }
    }
    if (env.SIGNED_PACKAGE_TRUSTED_ROOTS && !isLoopbackUrl(env.HDC_API_BASE_URL)) {
      ctx.addIssue({
        code: "custom",
        path: ["SIGNED_PACKAGE_TRUSTED_ROOTS"],
        message: "is for local runs only: it is allowed only while HDC_API_BASE_URL is the local emulator (a loopback URL); signed packages from Microsoft must chain to Microsoft's root",
      });
    }
    if (env.NOTIFY_WEBHOOK_URLS.length > 0) need("NOTIFY_WEBHOOK_SECRET", "when NOTIFY_WEBHOOK_URLS is set (every notification is signed)");
    if (env.ACTIVITY_DEADLINE_MINUTES >= FUNCTION_TIMEOUT_MINUTES) {
      ctx.addIssue({
        code: "custom",
        path: ["ACTIVITY_DEADLINE_MINUTES"],
        message: `must be below host.json's functionTimeout (${FUNCTION_TIMEOUT_MINUTES} minutes), so the activity ends itself before the host kills it`,
      });
    }
    if (env.SOURCE_SAS_MINUTES <= env.ACTIVITY_DEADLINE_MINUTES) {
      ctx.addIssue({ code: "custom", path: ["SOURCE_SAS_MINUTES"], message: "must be greater than ACTIVITY_DEADLINE_MINUTES (the copy reads the source until it finishes)" });
    }
  });

/**
 * Every app setting the app reads (all through this schema). test/infra/deployedSettings.test.ts
 * fails a template that sets a setting neither this list nor the Functions host reads.
 */
export const APP_SETTING_NAMES: readonly string[] = Object.keys(schema.shape);

/**
 * host.json's functionTimeout ("00:30:00", the Flex Consumption default), in minutes. A unit test
 * checks it against host.json, so the two cannot drift apart.
 */
export const FUNCTION_TIMEOUT_MINUTES = 30;

const IDENTITY_STORAGE_SETTINGS = [
  "AzureWebJobsStorage__accountName",
  "AzureWebJobsStorage__blobServiceUri",
  "AzureWebJobsStorage__queueServiceUri",
  "AzureWebJobsStorage__tableServiceUri",
  "AzureWebJobsStorage__credential",
  "AzureWebJobsStorage__clientId",
] as const;

/** A connection string, or an identity-based connection as the Functions host reads it; never a mix. */
function checkStorageConnection(env: Record<string, unknown> & { AzureWebJobsStorage?: string }, ctx: z.RefinementCtx): void {
  const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
  const identitySettings = IDENTITY_STORAGE_SETTINGS.filter((name) => env[name] !== undefined);
  if (env.AzureWebJobsStorage) {
    for (const name of identitySettings) issue(name, "cannot be combined with AzureWebJobsStorage (a connection string); use one or the other");
    return;
  }
  const accountName = env.AzureWebJobsStorage__accountName;
  const blobServiceUri = env.AzureWebJobsStorage__blobServiceUri;
  if (accountName === undefined && blobServiceUri === undefined) {
    issue("AzureWebJobsStorage", "is required (or AzureWebJobsStorage__accountName / AzureWebJobsStorage__blobServiceUri for an identity-based connection)");
    return;
  }
  if (accountName !== undefined && blobServiceUri !== undefined) {
    issue("AzureWebJobsStorage__blobServiceUri", "conflicts with AzureWebJobsStorage__accountName; set one of them");
  }
  if (accountName !== undefined) {
    for (const name of ["AzureWebJobsStorage__queueServiceUri", "AzureWebJobsStorage__tableServiceUri"] as const) {
      if (env[name] !== undefined) issue(name, "conflicts with AzureWebJobsStorage__accountName (which implies the public-cloud endpoints); use the three service URIs instead");
    }
  }
  if (env.AzureWebJobsStorage__clientId !== undefined && env.AzureWebJobsStorage__credential === undefined) {
    issue("AzureWebJobsStorage__credential", "must be managedidentity when AzureWebJobsStorage__clientId names a user-assigned identity");
  }
}

export type Settings = z.infer<typeof schema>;

export interface AppConfig {
  settings: Settings;
  polling(testHarness: TestHarness): PollingPolicy;
  labelPolling: LabelPollingPolicy;
  /** Which labels wait for a second person, and how long (issue 34). */
  approval: ApprovalSettings;
  retry: ActivityRetryPolicy;
  productDefaults: {
    requestedSignatures: string[];
    selectedProductTypes: Record<string, string>;
    deviceType: DeviceType;
    firmwareVersion: string;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

/** Parses settings from an environment; throws ConfigError naming every bad setting. */
export function parseConfig(env: NodeJS.ProcessEnv): AppConfig {
  // Empty strings in app settings mean "unset".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join(".") || "(settings)"} ${issue.message}`));
  }
  const settings = result.data;
  return {
    settings,
    polling: (testHarness) => ({
      initialIntervalSeconds: settings.POLL_INITIAL_SECONDS,
      maxIntervalSeconds: settings.POLL_MAX_SECONDS,
      backoffFactor: settings.POLL_BACKOFF_FACTOR,
      deadlineMinutes:
        testHarness === "attestation" || testHarness === "notset"
          ? settings.DEADLINE_ATTESTATION_MINUTES
          : settings.DEADLINE_HLK_MINUTES,
      pollsPerGeneration: settings.POLLS_PER_GENERATION,
    }),
    labelPolling: {
      initialIntervalSeconds: settings.LABEL_POLL_INITIAL_SECONDS,
      maxIntervalSeconds: settings.LABEL_POLL_MAX_SECONDS,
      backoffFactor: settings.POLL_BACKOFF_FACTOR,
      deadlineDays: settings.LABEL_DEADLINE_DAYS,
      metadataWaitMinutes: settings.LABEL_METADATA_WAIT_MINUTES,
      pollsPerGeneration: settings.POLLS_PER_GENERATION,
    },
    approval: { partners: settings.APPROVAL_PARTNERS, deadlineHours: settings.APPROVAL_DEADLINE_HOURS },
    retry: {
      firstRetryIntervalSeconds: settings.ACTIVITY_RETRY_FIRST_SECONDS,
      maxAttempts: settings.ACTIVITY_RETRY_MAX_ATTEMPTS,
      backoffCoefficient: settings.ACTIVITY_RETRY_BACKOFF,
      maxRetryIntervalSeconds: settings.ACTIVITY_RETRY_MAX_SECONDS,
    },
    productDefaults: {
      requestedSignatures: settings.DEFAULT_REQUESTED_SIGNATURES,
      selectedProductTypes: settings.DEFAULT_SELECTED_PRODUCT_TYPES,
      deviceType: settings.DEFAULT_DEVICE_TYPE,
      firmwareVersion: settings.DEFAULT_FIRMWARE_VERSION,
    },
  };
}

/**
 * AUTH_MODE as the HTTP triggers' registrations need it, before (and without) the full settings:
 * only an exact "entra" opens the triggers to callers without a function key.
 */
export function registeredAuthMode(env: NodeJS.ProcessEnv = process.env): AuthMode {
  return env.AUTH_MODE === "entra" ? "entra" : "keys";
}

/** AUTH_MODE alone (the caller gate reads it on every request without the rest of the settings). */
export function readAuthMode(env: NodeJS.ProcessEnv = process.env): AuthMode {
  const value = env.AUTH_MODE;
  if (value === undefined || value === "" || value === "keys") return "keys";
  if (value === "entra") return "entra";
  throw new ConfigError([`AUTH_MODE must be "keys" or "entra" (got ${JSON.stringify(value.slice(0, 40))})`]);
}

let cached: AppConfig | undefined;
/** The process's config, read once from process.env. */
export function getConfig(): AppConfig {
  cached ??= parseConfig(process.env);
  return cached;
}
/** For tests and the local runtime, which change process.env between runs. */
export function resetConfigCache(): void {
  cached = undefined;
}
