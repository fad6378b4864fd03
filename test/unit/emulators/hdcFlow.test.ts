/**
 * The Hardware Dev Center emulator end to end, as the app will drive it: a real token from the
 * Entra emulator, plain fetch for the API, the real BlockBlobClient for the SAS upload/download,
 * and a real Azurite behind the SAS URLs.
 */
import * as crypto from "node:crypto";
import { ClientSecretCredential } from "@azure/identity";
import { BlobClient, BlockBlobClient } from "@azure/storage-blob";
import { parse as parseLossless, isLosslessNumber } from "lossless-json";
import { type EmulatorsHandle } from "../../../local/emulators";
import { type EmulatorFixture, startEmulatorFixture } from "../../support/emulatorFixture";

const TENANT = "tenant-hdc-flow";
const CLIENT = "client-hdc-flow";
const SECRET = "hdc-flow-secret";

let fixture: EmulatorFixture;
let emulators: EmulatorsHandle;
let credential: ClientSecretCredential;

beforeAll(async () => {
  fixture = await startEmulatorFixture({
    apps: [{ tenantId: TENANT, clientId: CLIENT, clientSecret: SECRET }],
  });
  ({ emulators } = fixture);
  credential = new ClientSecretCredential(TENANT, CLIENT, SECRET, { authorityHost: emulators.authorityHost, disableInstanceDiscovery: true });
});

afterAll(async () => {
  await fixture?.stop();
});

beforeEach(async () => {
  await emulators.reset();
});

interface Reply {
  status: number;
  text: string;
  /** Parsed losslessly: big ids stay strings. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function hdc(method: string, route: string, body?: unknown): Promise<Reply> {
  const { token } = await credential.getToken("https://manage.devcenter.microsoft.com/.default");
  const response = await fetch(new URL(route, emulators.hdcBaseUrl), {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text ? parseLossless(text, undefined, (value) => (isLosslessNumber(value) ? value.toString() : value)) : undefined;
  return { status: response.status, text, json };
}

const newProduct = {
  productName: "Contoso USB Filter 2.3.1.0",
  testHarness: "Attestation",
  announcementDate: "2025-11-20T00:00:00",
  deviceType: "external",
  selectedProductTypes: { windows_v100_RS5: "Unclassified" },
  requestedSignatures: ["WINDOWS_v100_X64_RS5_FULL"],
};

const downloadUrl = (submission: Reply["json"], type: string): string | undefined =>
  submission.downloads?.items?.find((item: { type: string }) => item.type === type)?.url;

async function createSubmission(): Promise<{ productId: string; submissionId: string; uploadUrl: string }> {
  const product = await hdc("POST", "hardware/products", newProduct);
  const submission = await hdc("POST", `hardware/products/${product.json.id}/submissions`, { name: "initial", type: "initial" });
  return { productId: product.json.id, submissionId: submission.json.id, uploadUrl: downloadUrl(submission.json, "initialPackage")! };
}

describe("Hardware Dev Center emulator: happy path", () => {
  it("creates a product with a 64-bit id written as a raw JSON number", async () => {
    const product = await hdc("POST", "hardware/products", newProduct);
    expect(product.status).toBe(201);
    expect(product.text).toContain('"id":14631253285588838');
    expect(product.text).toMatch(/"sharedProductId":\d{19}/);
    expect(product.json.testHarness).toBe("attestation");
    expect(typeof product.json.createdDateTime).toBe("string");
    const again = await hdc("GET", `hardware/products/${product.json.id}`);
    expect(again.json.productName).toBe(newProduct.productName);
  });

  it("rejects a product without name, harness or signatures, naming each field", async () => {
    const reply = await hdc("POST", "hardware/products", { deviceType: "external" });
    expect(reply.status).toBe(422);
    expect(reply.json.error.code).toBe("invalidInput");
    expect(reply.json.error.validationErrors.map((error: { target: string }) => error.target).sort()).toEqual(["productName", "requestedSignatures", "testHarness"]);
  });

  it("takes a package from upload to a downloadable signed package as the clock moves", async () => {
    const { productId, submissionId, uploadUrl } = await createSubmission();
    expect(submissionId).toMatch(/^115292150462146\d{4}$/);
    const sas = new URL(uploadUrl);
    expect(sas.searchParams.get("sr")).toBe("b");
    expect(sas.searchParams.get("sp")).toBe("rw");
    expect(Date.parse(sas.searchParams.get("se")!)).toBeGreaterThan(Date.now());

    const packageBytes = crypto.randomBytes(64 * 1024);
    await new BlockBlobClient(uploadUrl).upload(packageBytes, packageBytes.length);

    const route = `hardware/products/${productId}/submissions/${submissionId}`;
    const pending = await hdc("GET", route);
    expect(pending.json.commitStatus).toBe("commitPending");
    expect(pending.json.workflowStatus).toBeUndefined();
    expect(new URL(downloadUrl(pending.json, "initialPackage")!).searchParams.get("sp")).toBe("rw");

    const commit = await hdc("POST", `${route}/commit`);
    expect(commit.status).toBe(202);
    expect(commit.text).toBe("");
    const twice = await hdc("POST", `${route}/commit`);
    expect(twice.status).toBe(400);
    expect(twice.json.error).toMatchObject({ code: "requestInvalidForCurrentState", message: "Only pending submissions can be committed." });

    const received = await hdc("GET", route);
    expect(received.json.commitStatus).toBe("commitReceived");

    emulators.advanceClock(5 + 30 * 3 + 15); // commit done, three steps done, half-way through the fourth
    const midway = await hdc("GET", route);
    expect(midway.json.commitStatus).toBe("commitComplete");
    expect(midway.json.workflowStatus).toMatchObject({ currentStep: "validation", state: "started" });
    // Committed: the initial package is read-only now. Each GET signs a fresh SAS whose expiry counts in
    // real time (Azurite and the app check `se` against the real clock, not the pushed one).
    const initialAfterCommit = new URL(downloadUrl(midway.json, "initialPackage")!);
    expect(initialAfterCommit.searchParams.get("sp")).toBe("r");
    expect(Date.parse(initialAfterCommit.searchParams.get("se")!)).toBeGreaterThanOrEqual(Date.parse(sas.searchParams.get("se")!));
    expect(Date.parse(initialAfterCommit.searchParams.get("se")!)).toBeGreaterThan(Date.now());
    expect(downloadUrl(midway.json, "signedPackage")).toBeUndefined();

    emulators.setClock(new Date(Date.parse(emulators.state().now) + 3600_000).toISOString());
    const done = await hdc("GET", route);
    expect(done.json.workflowStatus).toMatchObject({ currentStep: "finalizeIngestion", state: "completed" });
    const signedUrl = downloadUrl(done.json, "signedPackage")!;
    expect(new URL(signedUrl).searchParams.get("sp")).toBe("r");
    const signed = new BlobClient(signedUrl);
    const downloaded = await signed.downloadToBuffer();
    expect(downloaded.equals(packageBytes)).toBe(true);
    const properties = await signed.getProperties();
    expect(properties.metadata).toMatchObject({ signedby: "hdc-emulator", sourcelength: String(packageBytes.length) });
    const metadata = JSON.parse((await new BlobClient(downloadUrl(done.json, "driverMetadata")!).downloadToBuffer()).toString("utf8"));
    expect(Object.keys(metadata.BundleInfoMap)).toHaveLength(1);

    const summary = emulators.state().products[0].submissions[0];
    expect(summary.upload).toEqual({
      length: packageBytes.length,
      md5: crypto.createHash("md5").update(packageBytes).digest("base64"),
      sha256: crypto.createHash("sha256").update(packageBytes).digest("hex"),
    });
    expect(summary.signedPackage?.blob).toBe(`Signed_${submissionId}.zip`);
  });

  it("refuses a second initial submission", async () => {
    const { productId } = await createSubmission();
    const second = await hdc("POST", `hardware/products/${productId}/submissions`, { name: "again", type: "initial" });
    expect(second.status).toBe(400);
    expect(second.json.error).toMatchObject({ code: "requestInvalidForCurrentState", message: "Initial submission already exists" });
  });

  it("lists submissions without workflowStatus or downloads", async () => {
    const { productId, submissionId } = await createSubmission();
    const list = await hdc("GET", `hardware/products/${productId}/submissions`);
    expect(list.json.value).toHaveLength(1);
    expect(list.json.value[0].id).toBe(submissionId);
    expect(list.json.value[0].downloads).toBeUndefined();
  });

  it("ends a commit without an upload in commitFailed with a message", async () => {
    const { productId, submissionId } = await createSubmission();
    const route = `hardware/products/${productId}/submissions/${submissionId}`;
    expect((await hdc("POST", `${route}/commit`)).status).toBe(202);
    emulators.advanceClock(10);
    const failed = await hdc("GET", route);
    expect(failed.json.commitStatus).toBe("commitFailed");
    expect(failed.json.workflowStatus.messages[0]).toMatch(/No package was uploaded/);
    expect(downloadUrl(failed.json, "signedPackage")).toBeUndefined();
  });
});

describe("Hardware Dev Center emulator: authentication", () => {
  it("answers 401 without a token, and after the tokens were revoked", async () => {
    const anonymous = await fetch(new URL("hardware/products", emulators.hdcBaseUrl));
    expect(anonymous.status).toBe(401);
    const { token } = await credential.getToken("https://manage.devcenter.microsoft.com/.default");
    const before = await fetch(new URL("hardware/products", emulators.hdcBaseUrl), { headers: { authorization: `Bearer ${token}` } });
    expect(before.status).toBe(200);
    emulators.revokeAllTokens();
    const after = await fetch(new URL("hardware/products", emulators.hdcBaseUrl), { headers: { authorization: `Bearer ${token}` } });
    expect(after.status).toBe(401);
  });

  it("rejects a token for another resource (Key Vault)", async () => {
    const { token } = await new ClientSecretCredential(TENANT, CLIENT, SECRET, { authorityHost: emulators.authorityHost, disableInstanceDiscovery: true }).getToken("https://vault.azure.net/.default");
    const response = await fetch(new URL("hardware/products", emulators.hdcBaseUrl), { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(401);
  });
});
