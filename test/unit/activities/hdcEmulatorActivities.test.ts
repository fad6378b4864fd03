/**
 * Activities against the Hardware Dev Center, Entra ID emulators and real Azurite, with the real
 * HdcClient: the host allow-list for the URLs Microsoft hands out, the upload SAS re-fetched only
 * when it would expire within the activity's budget, and at most one product/submission when two
 * attempts of one instance run at the same time.
 */
import { ClientSecretCredential } from "@azure/identity";
import { BlobServiceClient } from "@azure/storage-blob";
import { INGESTION_CONTAINER, SIGNED_CONTAINER as HDC_SIGNED_CONTAINER, type EmulatorsHandle } from "../../../local/emulators";
import type { AzuriteHandle } from "../../../local/azurite";
import { commitSubmission } from "../../../src/activities/commitSubmission";
import { copyPackage } from "../../../src/activities/copyPackage";
import { createProduct } from "../../../src/activities/createProduct";
import { createSubmission } from "../../../src/activities/createSubmission";
import { startActivityBudget, type ActivityDeps } from "../../../src/activities/deps";
import { downloadSignedPackage } from "../../../src/activities/downloadSignedPackage";
import { isTerminalFailure } from "../../../src/activities/errors";
import { getSubmissionStatus } from "../../../src/activities/getSubmissionStatus";
import { parseConfig } from "../../../src/config";
import type { ProductFields } from "../../../src/domain/types";
import { createHdcClientFromConfig } from "../../../src/hdc";
import { type EmulatorFixture, startEmulatorFixture } from "../../support/emulatorFixture";
import { testBytes } from "./support";

const TENANT = "abababab-1111-2222-3333-444444444444";
const CLIENT = "cdcdcdcd-1111-2222-3333-444444444444";
const SECRET = "hdc-emulator-activities-secret";
const DROPS = "driver-drops";
const PACKAGE = testBytes(256 * 1024 + 17, 3);

let fixture: EmulatorFixture;
let azurite: AzuriteHandle;
let emulators: EmulatorsHandle;
let storage: BlobServiceClient;
let runs = 0;

beforeAll(async () => {
  fixture = await startEmulatorFixture({ apps: [{ tenantId: TENANT, clientId: CLIENT, clientSecret: SECRET }] });
  ({ azurite, emulators } = fixture);
  storage = BlobServiceClient.fromConnectionString(azurite.connectionString);
  await storage.getContainerClient(DROPS).createIfNotExists();
  await storage.getContainerClient(DROPS).getBlockBlobClient("contoso.cab").upload(PACKAGE, PACKAGE.length);
}, 120_000);

afterAll(async () => {
  await fixture?.stop();
});

beforeEach(async () => {
  await emulators.reset();
  emulators.configure({ workflow: { stepSeconds: 0, commitSeconds: 0 } });
});

type Deps = ActivityDeps & { logLines: string[] };

function deps(settings: Record<string, string> = {}): Deps {
  const config = parseConfig({
    AzureWebJobsStorage: azurite.connectionString,
    HDC_API_BASE_URL: emulators.hdcBaseUrl,
    HDC_AUTHORITY_HOST: emulators.authorityHost,
    HDC_TENANT_ID: TENANT,
    HDC_CLIENT_ID: CLIENT,
    HDC_CLIENT_SECRET: SECRET,
    HDC_MAX_RETRIES: "0",
    HDC_HTTP_TIMEOUT_SECONDS: "60",
    COPY_POLL_MS: "50",
    // The emulator hands out Azurite's http://127.0.0.1:<port> URLs.
    HDC_ALLOWED_URL_HOST_SUFFIXES: "127.0.0.1",
    ...settings,
  });
  const credential = new ClientSecretCredential(TENANT, CLIENT, SECRET, { authorityHost: emulators.authorityHost, disableInstanceDiscovery: true });
  const logLines: string[] = [];
  return {
    config,
    hdc: createHdcClientFromConfig(config, credential),
    blobService: storage,
    identity: { kind: "clientSecret", tenantId: TENANT, clientId: CLIENT, credential },
    log: (line) => logLines.push(line),
    budget: startActivityBudget(config.settings.ACTIVITY_DEADLINE_MINUTES),
    logLines,
  };
}

function product(name: string): ProductFields {
  return { productName: name, testHarness: "attestation", requestedSignatures: ["WINDOWS_v100_X64_RS5_FULL"], selectedProductTypes: { windows_v100_RS5: "Unclassified" }, deviceType: "external" };
}

async function newSubmission(d: Deps) {
  const instanceId = `emu-${++runs}-${Date.now()}`;
  const { productId } = await createProduct({ instanceId, product: product(`Contoso ${instanceId}`) }, d);
  const { submissionId } = await createSubmission({ instanceId, productId, name: "initial", type: "initial" }, d);
  return { instanceId, productId, submissionId, package: { container: DROPS, blobName: "contoso.cab" } };
}

async function blobCount(container: string): Promise<number> {
  let count = 0;
  for await (const _blob of storage.getContainerClient(container).listBlobsFlat()) count++;
  return count;
}

const getSubmissionCalls = () => emulators.requests().entries.filter((e) => e.kind === "getSubmission").length;

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => new Error("expected a failure"),
    (error: unknown) => error as Error,
  );
}

describe("URLs from Hardware Dev Center are used only on allowed hosts", () => {
  it.each([
    // Reserved names and addresses (.invalid, TEST-NET-1): even a broken check could not reach anyone.
    ["an https URL on a foreign host", "https://evil.example.invalid", "evil.example.invalid", "127.0.0.1"],
    ["plain http to a non-loopback host", "http://192.0.2.10:10000", "192.0.2.10", "127.0.0.1,192.0.2.10"],
  ])("upload SAS: %s is a terminal error naming the host; nothing is uploaded", async (_case, origin, host, suffixes) => {
    const d = deps({ HDC_ALLOWED_URL_HOST_SUFFIXES: suffixes });
    const run = await newSubmission(d);
    emulators.configure({ downloadUrlOrigin: origin });

    const error = await failureOf(copyPackage(run, d));

    expect(isTerminalFailure(error)).toBe(true);
    expect(error.message).toContain(host);
    expect(error.message).toContain("not an allowed host");
    expect(error.message).not.toMatch(/sig=|\?|hdc-ingestion/);
    expect(await blobCount(INGESTION_CONTAINER)).toBe(0);
  });

  it("Azurite's own loopback http URL is refused unless the list names that loopback host", async () => {
    const d = deps({ HDC_ALLOWED_URL_HOST_SUFFIXES: ".blob.core.windows.net" });
    const run = await newSubmission(d);

    const error = await failureOf(copyPackage(run, d));

    expect(isTerminalFailure(error)).toBe(true);
    expect(error.message).toContain("http://127.0.0.1");
    expect(await blobCount(INGESTION_CONTAINER)).toBe(0);
    // Named: the same copy goes through.
    expect((await copyPackage(run, deps())).bytesCopied).toBe(PACKAGE.length);
  });

  it("signed package and error report: a foreign host is terminal and nothing is downloaded", async () => {
    const d = deps();
    const signedRun = await newSubmission(d);
    await copyPackage(signedRun, d);
    await commitSubmission(signedRun, d);
    expect((await getSubmissionStatus(signedRun, d)).progress).toBe("succeeded");
    expect(await blobCount(HDC_SIGNED_CONTAINER)).toBeGreaterThan(0); // published by Microsoft (the emulator)

    emulators.configure({ downloadUrlOrigin: "https://evil.example.invalid" });
    const download = await failureOf(downloadSignedPackage(signedRun, d));
    expect(isTerminalFailure(download)).toBe(true);
    expect(download.message).toMatch(/signedPackage download URL on https:\/\/evil\.example\.invalid/);
    expect(await blobCount(d.config.settings.SIGNED_CONTAINER).catch(() => 0)).toBe(0);

    emulators.configure({ downloadUrlOrigin: null, workflow: { failAtStep: "validation", errorReportText: "bad inf" } });
    const failedRun = await newSubmission(d);
    await copyPackage(failedRun, d);
    await commitSubmission(failedRun, d);
    emulators.configure({ downloadUrlOrigin: "https://reports.evil.example.invalid" });
    const report = await failureOf(getSubmissionStatus(failedRun, d));
    expect(isTerminalFailure(report)).toBe(true);
    expect(report.message).toContain("error report URL on https://reports.evil.example.invalid");
  });
});

describe("the upload SAS is fetched again only when it expires within the activity budget", () => {
  it("a SAS that outlives the budget is used as handed out (one GET)", async () => {
    emulators.configure({ sasTtlSeconds: 3600 });
    const d = deps({ ACTIVITY_DEADLINE_MINUTES: "25" });
    const run = await newSubmission(d);
    const before = getSubmissionCalls();

    await copyPackage(run, d);

    expect(getSubmissionCalls() - before).toBe(1);
    expect(d.logLines.join("\n")).not.toMatch(/fetching a fresh one/);
  });

  it("a SAS valid for 10 minutes is fresh enough for a 5-minute budget (no needless GET)", async () => {
    emulators.configure({ sasTtlSeconds: 600 });
    const d = deps({ ACTIVITY_DEADLINE_MINUTES: "5" });
    const run = await newSubmission(d);
    const before = getSubmissionCalls();

    await copyPackage(run, d);

    expect(getSubmissionCalls() - before).toBe(1);
  });

  it("a SAS valid for 10 minutes is refreshed before a copy that may take 25 (two GETs)", async () => {
    emulators.configure({ sasTtlSeconds: 600 });
    const d = deps({ ACTIVITY_DEADLINE_MINUTES: "25" });
    const run = await newSubmission(d);
    const before = getSubmissionCalls();

    const out = await copyPackage(run, d);

    expect(getSubmissionCalls() - before).toBe(2);
    expect(d.logLines.join("\n")).toMatch(/Upload SAS of submission \d+ expires within the activity budget/);
    expect(out.bytesCopied).toBe(PACKAGE.length);
  });
});

describe("two attempts of one instance at the same time create one product / one submission", () => {
  /** Holds the first matching POST at the emulator longer than a second attempt waits for the lock. */
  const holdFirst = (pathRegex: string) => emulators.configure({ faults: [{ method: "POST", pathRegex, delayMs: 23_000, times: 1 }] });

  it("createProduct: exactly one product; the other attempt gets a named terminal error", async () => {
    const d = deps();
    const input = { instanceId: `concurrent-product-${Date.now()}`, product: product("Contoso Concurrent") };
    holdFirst("/products$");

    const [first, second] = await Promise.allSettled([createProduct(input, d), createProduct(input, deps())]);

    const outcomes = [first, second];
    const fulfilled = outcomes.filter((o) => o.status === "fulfilled");
    const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    expect(isTerminalFailure(rejected[0]!.reason)).toBe(true);
    expect((rejected[0]!.reason as Error).message).toMatch(/Another attempt is creating the product for 'Contoso Concurrent'/);
    expect(emulators.state().products).toHaveLength(1);
    expect(emulators.requests().entries.filter((e) => e.kind === "createProduct")).toHaveLength(1);
  }, 60_000);

  it("createSubmission: exactly one submission; the other attempt gets a named terminal error", async () => {
    const d = deps();
    const instanceId = `concurrent-submission-${Date.now()}`;
    const { productId } = await createProduct({ instanceId, product: product("Contoso Concurrent Submission") }, d);
    holdFirst("/submissions$");
    const input = { instanceId, productId, name: "initial", type: "initial" as const };

    const outcomes = await Promise.allSettled([createSubmission(input, d), createSubmission(input, deps())]);

    const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    expect(isTerminalFailure(rejected[0]!.reason)).toBe(true);
    expect((rejected[0]!.reason as Error).message).toMatch(/Another attempt is creating the submission 'initial' for product \d+/);
    expect(emulators.requests().entries.filter((e) => e.kind === "createSubmission")).toHaveLength(1);
  }, 60_000);
});
