/**
 * Test support for the activity tests: real Azurite storage, and an in-memory Hardware Dev Center
 * whose download URLs are real SAS URLs on Azurite containers (standing in for Microsoft's
 * ingestion account), so copies exercise the real storage service.
 */
import * as fs from "node:fs";
import { randomUUID } from "node:crypto";
import { BlobSASPermissions, BlobServiceClient } from "@azure/storage-blob";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { startActivityBudget, type ActivityDeps } from "../../../src/activities/deps";
import { parseConfig, type AppConfig } from "../../../src/config";
import { HdcError } from "../../../src/hdc";
import type { HdcApi, HdcProduct, HdcSubmission, NewProduct, NewSubmission } from "../../../src/hdc/types";
import { startAzurite, type AzuriteHandle } from "../../../local/azurite";

export const TEST_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOi.test-token-value.signature";
export const TEST_CLIENT_SECRET = "client-secret-value-never-logged";

/** Azurite with its data in a temp folder that is removed on stop. */
export async function startStorage(): Promise<AzuriteHandle> {
  // startAzurite({ inMemory: true }) currently fails (it also passes --location, which Azurite rejects with in-memory mode).
  const handle = await startAzurite();
  return {
    ...handle,
    stop: async () => {
      await handle.stop();
      fs.rmSync(handle.dataDir, { recursive: true, force: true });
    },
  };
}

export function testConfig(connectionString: string, overrides: Record<string, string> = {}): AppConfig {
  return parseConfig({
    AzureWebJobsStorage: connectionString,
    HDC_TENANT_ID: "11111111-2222-3333-4444-555555555555",
    HDC_CLIENT_ID: "66666666-7777-8888-9999-000000000000",
    HDC_CLIENT_SECRET: TEST_CLIENT_SECRET,
    HDC_API_BASE_URL: "https://127.0.0.1:9/v2.0/my/",
    HDC_AUTHORITY_HOST: "http://127.0.0.1:9",
    COPY_POLL_MS: "50",
    ACTIVITY_DEADLINE_MINUTES: "2",
    // FakeHdc hands out Azurite's http://127.0.0.1:<port> SAS URLs.
    HDC_ALLOWED_URL_HOST_SUFFIXES: "127.0.0.1",
    STREAM_BLOCK_MIB: "1",
    STREAM_CONCURRENCY: "2",
    ERROR_REPORT_MAX_BYTES: "128",
    ...overrides,
  });
}

export class FakeCredential implements TokenCredential {
  calls = 0;
  constructor(private readonly failure?: Error) {}
  async getToken(): Promise<AccessToken> {
    this.calls++;
    if (this.failure) throw this.failure;
    return { token: TEST_TOKEN, expiresOnTimestamp: Date.now() + 3600_000 };
  }
}

export interface TestDeps extends ActivityDeps {
  logLines: string[];
}

export function testDeps(config: AppConfig, hdc: HdcApi, credential: TokenCredential = new FakeCredential()): TestDeps {
  const logLines: string[] = [];
  return {
    config,
    hdc,
    blobService: BlobServiceClient.fromConnectionString(config.settings.AzureWebJobsStorage ?? ""),
    identity: { kind: "clientSecret", tenantId: config.settings.HDC_TENANT_ID, clientId: config.settings.HDC_CLIENT_ID, credential },
    log: (message) => logLines.push(message),
    budget: startActivityBudget(config.settings.ACTIVITY_DEADLINE_MINUTES),
    logLines,
  };
}

/** A block of `size` pseudo-random bytes (deterministic), so MD5 mismatches would show. */
export function testBytes(size: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(size);
  let state = seed;
  for (let i = 0; i < size; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

type HdcMethod = Exclude<keyof HdcApi, "request" | "requestJson" | "requestJsonWithBody" | "requestStream">;

let lastIdOffset = BigInt(Date.now()) * 1000n;

/**
 * In-memory Hardware Dev Center. Ids are large decimal strings like the real ones. Each
 * submission gets an upload blob in `ingestion` (the service's storage) and an initialPackage SAS
 * on it; tests decide what the SAS looks like through `uploadSasExpiry`.
 */
export class FakeHdc implements HdcApi {
  readonly products: HdcProduct[] = [];
  readonly submissions: HdcSubmission[] = [];
  readonly calls: Record<HdcMethod, number> = {
    listProducts: 0, getProduct: 0, createProduct: 0, listSubmissions: 0, getSubmission: 0, createSubmission: 0, commitSubmission: 0,
  };
  /** One-shot failures: thrown by the next call of the method (after `effect` ran, if true). */
  private readonly failures = new Map<HdcMethod, { error: Error; afterEffect: boolean }[]>();
  /** Expiry of each upload SAS handed out, in order; the last one repeats. Default: one hour ahead. */
  private uploadSasExpiry: Array<() => Date> = [() => new Date(Date.now() + 3600_000)];
  private uploadSasHandedOut = 0;

  /** From now on, the n-th upload SAS handed out expires at expiries[n]() (the last repeats). */
  setUploadSasExpiries(...expiries: Array<() => Date>): void {
    this.uploadSasExpiry = expiries;
    this.uploadSasHandedOut = 0;
  }

  constructor(
    /** The storage account playing Microsoft's ingestion account. */
    readonly ingestion: BlobServiceClient,
    readonly ingestionContainer = "ingestion",
  ) {}

  /** The next call of `method` fails with `error`; with afterEffect the call takes effect first (a lost response). */
  failNext(method: HdcMethod, error: Error, afterEffect = false): void {
    const queue = this.failures.get(method) ?? [];
    queue.push({ error, afterEffect });
    this.failures.set(method, queue);
  }

  /** Shipping labels are proven against the emulator (test/e2e/publish.test.ts), not modelled here. */
  async requestJson(method: string, path: string): Promise<unknown> {
    throw new Error(`FakeHdc does not model ${method} ${path}`);
  }
  async request(method: string, path: string): Promise<void> {
    throw new Error(`FakeHdc does not model ${method} ${path}`);
  }
  /** Preprod signing is proven against the emulator (test/unit/hdc/preprod.test.ts, test/e2e/preprod.test.ts). */
  async requestJsonWithBody(method: string, path: string): Promise<unknown> {
    throw new Error(`FakeHdc does not model ${method} ${path}`);
  }
  async requestStream(path: string): Promise<NodeJS.ReadableStream> {
    throw new Error(`FakeHdc does not model GET ${path}`);
  }

  async listProducts(options?: { top?: number }): Promise<HdcProduct[]> {
    return this.run("listProducts", () => (options?.top ? this.products.slice(0, options.top) : [...this.products]).map(clone));
  }
  async getProduct(productId: string): Promise<HdcProduct> {
    return this.run("getProduct", () => clone(this.product(productId)));
  }
  async createProduct(product: NewProduct): Promise<HdcProduct> {
    return this.run("createProduct", () => {
      const created: HdcProduct = { ...product, id: this.newId(), sharedProductId: this.newId(), createdDateTime: new Date().toISOString(), isCommitted: false };
      this.products.push(created);
      return clone(created);
    });
  }
  async listSubmissions(productId: string): Promise<HdcSubmission[]> {
    return this.run("listSubmissions", () =>
      this.submissions.filter((s) => s.productId === productId).map(({ downloads: _d, workflowStatus: _w, ...listed }) => clone(listed as HdcSubmission)),
    );
  }
  async getSubmission(productId: string, submissionId: string): Promise<HdcSubmission> {
    return this.runAsync("getSubmission", async () => this.withFreshUploadSas(this.submission(productId, submissionId)));
  }
  async createSubmission(productId: string, submission: NewSubmission): Promise<HdcSubmission> {
    return this.runAsync("createSubmission", async () => {
      this.product(productId);
      if (submission.type === "initial" && this.submissions.some((s) => s.productId === productId && s.type === "initial")) {
        throw hdcError("POST", 400, "requestInvalidForCurrentState", "Initial submission already exists.");
      }
      const created: HdcSubmission = {
        id: this.newId(1152921504606846976n),
        productId,
        name: submission.name,
        type: submission.type,
        commitStatus: "commitPending",
        createdDateTime: new Date().toISOString(),
        uploadBlob: randomUUID(),
        downloads: { items: [], messages: [] },
      };
      this.submissions.push(created);
      return this.withFreshUploadSas(created);
    });
  }
  async commitSubmission(productId: string, submissionId: string): Promise<void> {
    return this.run("commitSubmission", () => {
      const submission = this.submission(productId, submissionId);
      if (!/^commitPending$/i.test(String(submission.commitStatus))) {
        throw hdcError("POST", 400, "requestInvalidForCurrentState", "Only pending submissions can be committed.");
      }
      submission.commitStatus = "commitReceived";
    });
  }

  submission(productId: string, submissionId: string): HdcSubmission {
    const found = this.submissions.find((s) => s.productId === productId && s.id === submissionId);
    if (!found) throw hdcError("GET", 404, "entityNotFound", "No submission found");
    return found;
  }

  /** Adds a download item (replacing one of the same type) to a submission. */
  setDownload(submission: HdcSubmission, type: string, url: string): void {
    const items = (submission.downloads ??= { items: [], messages: [] }).items ?? [];
    submission.downloads.items = [...items.filter((i) => i.type !== type), { type, url }];
  }

  uploadBlobClient(submission: HdcSubmission) {
    return this.ingestion.getContainerClient(this.ingestionContainer).getBlockBlobClient(String(submission.uploadBlob));
  }

  private async withFreshUploadSas(submission: HdcSubmission): Promise<HdcSubmission> {
    if (/^commitPending$/i.test(String(submission.commitStatus))) {
      const expiry = this.uploadSasExpiry[Math.min(this.uploadSasHandedOut++, this.uploadSasExpiry.length - 1)]!();
      const url = await this.uploadBlobClient(submission).generateSasUrl({
        permissions: BlobSASPermissions.parse("rcw"),
        startsOn: new Date(Math.min(Date.now(), expiry.getTime()) - 3600_000),
        expiresOn: expiry,
      });
      this.setDownload(submission, "initialPackage", url);
    }
    const { uploadBlob: _hidden, ...visible } = submission;
    return clone(visible as HdcSubmission);
  }

  private product(productId: string): HdcProduct {
    const found = this.products.find((p) => p.id === productId);
    if (!found) throw hdcError("GET", 404, "entityNotFound", "Product not found");
    return found;
  }

  /** Unique across fakes: claims live in the shared Azurite, like ids in the one real service. */
  private newId(base = 14631253285588838n): string {
    lastIdOffset += 1n;
    return String(base + lastIdOffset);
  }

  private async run<T>(method: HdcMethod, effect: () => T): Promise<T> {
    return this.runAsync(method, async () => effect());
  }

  private async runAsync<T>(method: HdcMethod, effect: () => Promise<T>): Promise<T> {
    this.calls[method]++;
    const failure = this.failures.get(method)?.shift();
    if (failure && !failure.afterEffect) throw failure.error;
    const result = await effect();
    if (failure) throw failure.error;
    return result;
  }
}

export function hdcError(method: string, statusCode: number, code?: string, serviceMessage?: string, extra: Partial<ConstructorParameters<typeof HdcError>[0]> = {}): HdcError {
  return new HdcError({
    method,
    path: "/hardware/products",
    statusCode,
    code,
    serviceMessage,
    retryable: [429, 500, 502, 503, 504].includes(statusCode),
    ...extra,
  });
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Everything an activity returned, as it would land in orchestration history. */
export function expectNoSecrets(serialized: string): void {
  // "sig=REDACTED" is what redaction leaves behind; any other signature value is a leak.
  expect(serialized).not.toMatch(/sig=(?!REDACTED)/i);
  expect(serialized).not.toContain(TEST_TOKEN);
  expect(serialized).not.toContain(TEST_CLIENT_SECRET);
}
