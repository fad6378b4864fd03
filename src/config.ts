/**
 * The one place app settings are read. Validated once; a missing or malformed setting fails with
 * a message naming it. Every setting here has a line in local.settings.sample.json and the README.
 */
import { z } from "zod";
import { isLoopbackUrl } from "./shared/loopback";
import { containerNameProblem, isHostContainer } from "./shared/packageRules";
import type { ActivityRetryPolicy, DeviceType, PollingPolicy, TestHarness } from "./domain/types";

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
const containerName = z.string().superRefine((value, ctx) => {
  const problem = containerNameProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const schema = z
  .object({
    AzureWebJobsStorage: z.string().min(1).optional(),
    AzureWebJobsStorage__blobServiceUri: z.string().url().optional(),
    DROPS_CONTAINER: containerName.default("driver-drops"),
    SIGNED_CONTAINER: containerName.default("signed-drivers"),
    STATE_CONTAINER: containerName.default("signing-state"),

    HDC_API_BASE_URL: httpsOrLoopbackUrl.default("https://manage.devcenter.microsoft.com/v2.0/my/"),
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

    POLL_INITIAL_SECONDS: positiveInt(60),
    POLL_MAX_SECONDS: positiveInt(900),
    POLL_BACKOFF_FACTOR: positiveNumber(1.5),
    POLLS_PER_GENERATION: positiveInt(20),
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
    // Below host.json's functionTimeout (30 min), so our own deadline and abort run, not the host's kill.
    COPY_TIMEOUT_MINUTES: positiveInt(25),
    COPY_POLL_MS: positiveInt(1000),
    STREAM_BLOCK_MIB: positiveInt(8),
    STREAM_CONCURRENCY: positiveInt(2),
    ERROR_REPORT_MAX_BYTES: positiveInt(16384),

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
    RETENTION_DAYS: positiveInt(90),
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
    if (!env.AzureWebJobsStorage && !env.AzureWebJobsStorage__blobServiceUri) {
      ctx.addIssue({ code: "custom", path: ["AzureWebJobsStorage"], message: "is required (or AzureWebJobsStorage__blobServiceUri for managed identity)" });
    }
    if (env.HDC_AUTH_MODE === "clientSecret") need("HDC_CLIENT_SECRET", "when HDC_AUTH_MODE=clientSecret");
    if (env.HDC_AUTH_MODE === "keyVaultSecret") {
      need("HDC_KEYVAULT_URL", "when HDC_AUTH_MODE=keyVaultSecret");
      need("HDC_KEYVAULT_SECRET_NAME", "when HDC_AUTH_MODE=keyVaultSecret");
    }
    if (env.HDC_AUTH_MODE === "certificate") need("HDC_CERTIFICATE_PATH", "when HDC_AUTH_MODE=certificate");
    if (env.HDC_AUTH_MODE === "managedIdentity") need("HDC_MANAGED_IDENTITY_CLIENT_ID", "when HDC_AUTH_MODE=managedIdentity");
    for (const reserved of [env.STATE_CONTAINER, env.SIGNED_CONTAINER]) {
      if (env.SUBMISSION_CONTAINERS?.includes(reserved)) {
        ctx.addIssue({ code: "custom", path: ["SUBMISSION_CONTAINERS"], message: `must not include ${reserved} (the app's own state or results)` });
      }
    }
    if (env.SOURCE_SAS_MINUTES <= env.COPY_TIMEOUT_MINUTES) {
      ctx.addIssue({ code: "custom", path: ["SOURCE_SAS_MINUTES"], message: "must be greater than COPY_TIMEOUT_MINUTES (the copy reads the source until it finishes)" });
    }
  });

export type Settings = z.infer<typeof schema>;

export interface AppConfig {
  settings: Settings;
  polling(testHarness: TestHarness): PollingPolicy;
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
