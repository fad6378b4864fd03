/**
 * Configurable Hardware Dev Center behaviour (failures, throttling, scripted faults, wire quirks),
 * the control API from "another process" (EmulatorControlClient over plain HTTP) and the request log.
 */
import * as crypto from "node:crypto";
import { ClientSecretCredential } from "@azure/identity";
import { BlobClient, BlockBlobClient } from "@azure/storage-blob";
import { parse as parseLossless, isLosslessNumber } from "lossless-json";
import { EmulatorControlClient, type EmulatorsHandle } from "../../../local/emulators";
import { SIZED_REPORT_END_MARKER, sizedErrorReport } from "../../../local/emulators/hdcBehaviour";
import { type EmulatorFixture, startEmulatorFixture } from "../../support/emulatorFixture";

const TENANT = "tenant-hdc-behaviour";
const CLIENT = "client-hdc-behaviour";
const SECRET = "hdc-behaviour-secret";

let fixture: EmulatorFixture;
let emulators: EmulatorsHandle;
let control: EmulatorControlClient;
let credential: ClientSecretCredential;

beforeAll(async () => {
  fixture = await startEmulatorFixture({
    apps: [{ tenantId: TENANT, clientId: CLIENT, clientSecret: SECRET }],
    behaviour: { workflow: { stepSeconds: 30, commitSeconds: 5 } },
  });
  ({ emulators } = fixture);
  control = new EmulatorControlClient(emulators.controlUrl);
  credential = new ClientSecretCredential(TENANT, CLIENT, SECRET, { authorityHost: emulators.authorityHost, disableInstanceDiscovery: true });
});

afterAll(async () => {
  await fixture?.stop();
});

beforeEach(async () => {
  await control.reset();
});

async function hdc(method: string, route: string, body?: unknown) {
  const { token } = await credential.getToken("https://manage.devcenter.microsoft.com/.default");
  const response = await fetch(new URL(route, emulators.hdcBaseUrl), {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const json: any = text ? parseLossless(text, undefined, (value) => (isLosslessNumber(value) ? value.toString() : value)) : undefined;
  return { status: response.status, headers: response.headers, text, json };
}

const newProduct = { productName: "Fabrikam Filter", testHarness: "attestation", requestedSignatures: ["WINDOWS_v100_X64_RS5_FULL"] };

/** Product + initial submission + uploaded package + commit; returns the submission's route. */
async function committedSubmission(): Promise<string> {
  const product = await hdc("POST", "hardware/products", newProduct);
  const submission = await hdc("POST", `hardware/products/${product.json.id}/submissions`, { name: "initial", type: "initial" });
  const uploadUrl = submission.json.downloads.items[0].url as string;
  const bytes = crypto.randomBytes(4096);
  await new BlockBlobClient(uploadUrl).upload(bytes, bytes.length);
  const route = `hardware/products/${product.json.id}/submissions/${submission.json.id}`;
  expect((await hdc("POST", `${route}/commit`)).status).toBe(202);
  return route;
}

test("sizedErrorReport is exact for sizes around a line boundary", () => {
  for (const bytes of [64, 100, 101, 1000, 4096, 204_800]) expect(Buffer.byteLength(sizedErrorReport("head", bytes))).toBe(bytes);
});

describe("workflow behaviour", () => {
  it("serves a report of exactly workflow.errorReportBytes (issue 29), set over the control API, the end marker last", async () => {
    await control.configure({ workflow: { failAtStep: "validation", failMessages: ["Big report"], errorReportText: "HEAD-OF-BIG-REPORT", errorReportBytes: 204_800 } });
    try {
      const route = await committedSubmission();
      await control.advanceClock(5 + 30 * 3 + 20);
      const failed = await hdc("GET", route);
      const report = await new BlobClient(failed.json.workflowStatus.errorReport).downloadToBuffer();
      expect(report.length).toBe(204_800);
      expect(report.toString("utf8").startsWith("HEAD-OF-BIG-REPORT\n")).toBe(true);
      expect(report.toString("utf8").endsWith(`\n${SIZED_REPORT_END_MARKER}\n`)).toBe(true);
      await expect(control.configure({ workflow: { errorReportBytes: 10 } })).rejects.toThrow(/workflow\.errorReportBytes must be an integer from 64/);
    } finally {
      // JSON drops undefined: null clears a field over the control API.
      const cleared = null as unknown as undefined;
      await control.configure({ workflow: { failAtStep: cleared, failMessages: cleared, errorReportText: cleared, errorReportBytes: cleared } });
    }
  });

  it("refuses invalid preprod settings when they are set, naming the field, and keeps the valid ones", async () => {
    await control.configure({ preprod: { statusCase: "upper", notStartedSeconds: 3 } });
    const refusals: Array<[unknown, RegExp]> = [
      [{ outcome: "maybe" }, /preprod\.outcome must be succeeded or failed/],
      [{ notStartedSeconds: -1 }, /preprod\.notStartedSeconds must be a number >= 0/],
      [{ processingSeconds: "60" }, /preprod\.processingSeconds must be a number >= 0/],
      [{ statusCase: "lower" }, /preprod\.statusCase must be pascal, camel or upper/],
      [{ contentHashEncoding: "sha256" }, /preprod\.contentHashEncoding must be hex or base64/],
      [{ corruptContentHash: "yes" }, /preprod\.corruptContentHash must be true or false/],
      [{ failureMessageBytes: 10 }, /preprod\.failureMessageBytes must be an integer from 64 to 16777216/],
      [{ failureMessage: 42 }, /preprod\.failureMessage must be a string/],
      [{ processingStatusText: "" }, /preprod\.processingStatusText must be a non-empty string/],
      [{ outcom: "failed" }, /preprod\.outcom is not a preprod setting/],
      ["fast", /preprod must be an object/],
    ];
    for (const [preprod, message] of refusals) {
      await expect(control.configure({ preprod } as never)).rejects.toThrow(message);
    }
    // Nothing refused was applied; null puts a field back to its default.
    expect((await control.state()).behaviour.preprod).toEqual({ statusCase: "upper", notStartedSeconds: 3 });
    const cleared = null as unknown as undefined;
    await control.configure({ preprod: { statusCase: cleared } });
    const { token } = await credential.getToken("https://manage.devcenter.microsoft.com/.default");
    const put = await fetch(new URL("hardware/preprod/packages/", emulators.hdcBaseUrl), {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: crypto.randomBytes(1024),
    });
    expect(put.status).toBeLessThan(300);
    expect(((await put.json()) as { signingStatus: string }).signingStatus).toBe("NotStarted");
  });

  it("fails at the configured step with messages and a readable error report", async () => {
    await control.configure({ workflow: { failAtStep: "validation", failMessages: ["Driver failed validation"], errorReportText: "INF has no [Manufacturer] section" } });
    const route = await committedSubmission();
    await control.advanceClock(5 + 30 * 3 + 20); // inside validation, past notStarted
    const failed = await hdc("GET", route);
    expect(failed.json.commitStatus).toBe("commitComplete");
    expect(failed.json.workflowStatus).toMatchObject({ currentStep: "validation", state: "failed", messages: ["Driver failed validation"] });
    const report = await new BlobClient(failed.json.workflowStatus.errorReport).downloadToBuffer();
    expect(report.toString("utf8")).toBe("INF has no [Manufacturer] section");
    await control.advanceClock(3600);
    const later = await hdc("GET", route);
    expect(later.json.workflowStatus.state).toBe("failed");
    expect(later.json.downloads.items.some((item: { type: string }) => item.type === "signedPackage")).toBe(false);
  });

  it("answers commitFailed when the commit outcome is scripted to fail", async () => {
    await control.configure({ commitOutcome: "failed" });
    const route = await committedSubmission();
    await control.advanceClock(6);
    expect((await hdc("GET", route)).json.commitStatus).toBe("commitFailed");
  });

  it("speaks PascalCase enums and numeric steps when asked", async () => {
    await control.configure({ enumCase: "pascal", numericCurrentStep: true });
    const route = await committedSubmission();
    await control.advanceClock(5 + 30 + 15); // preparation, started
    const reply = await hdc("GET", route);
    expect(reply.json.commitStatus).toBe("CommitComplete");
    expect(reply.text).toContain('"currentStep":1');
    expect(reply.json.workflowStatus.state).toBe("Started");
  });

  it("omits workflowStatus when asked", async () => {
    await control.configure({ omitWorkflowStatus: true });
    const route = await committedSubmission();
    await control.advanceClock(60);
    const reply = await hdc("GET", route);
    expect(reply.json.commitStatus).toBe("commitComplete");
    expect("workflowStatus" in reply.json).toBe(false);
  });
});

describe("traffic behaviour", () => {
  it("throttles beyond the rate limit with 429 and Retry-After", async () => {
    await control.configure({ rateLimit: { requestsPerSecond: 3 } });
    const replies = await Promise.all(Array.from({ length: 6 }, () => hdc("GET", "hardware/products")));
    const throttled = replies.filter((reply) => reply.status === 429);
    expect(throttled.length).toBeGreaterThanOrEqual(3);
    expect(Number(throttled[0].headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await control.configure({ rateLimit: null });
    expect((await hdc("GET", "hardware/products")).status).toBe(200);
  });

  it("answers a scripted 503 exactly `times` times, then normally", async () => {
    await control.configure({ faults: [{ method: "GET", pathRegex: "/hardware/products$", status: 503, times: 2, retryAfterSeconds: 7 }] });
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 3; attempt++) statuses.push((await hdc("GET", "hardware/products")).status);
    expect(statuses).toEqual([503, 503, 200]);
    const log = await control.requests();
    expect(log.entries.filter((entry) => entry.kind === "listProducts").map((entry) => entry.status)).toEqual([503, 503, 200]);
    expect((await control.state()).faults[0].remaining).toBe(0);
  });

  it("can apply a commit and still answer 502", async () => {
    await control.configure({ faults: [{ method: "POST", pathRegex: "/commit$", status: 502, times: 1, afterApplying: true }] });
    const product = await hdc("POST", "hardware/products", newProduct);
    const submission = await hdc("POST", `hardware/products/${product.json.id}/submissions`, { name: "initial", type: "initial" });
    const route = `hardware/products/${product.json.id}/submissions/${submission.json.id}`;
    expect((await hdc("POST", `${route}/commit`)).status).toBe(502);
    expect((await hdc("GET", route)).json.commitStatus).toBe("commitReceived");
    const retry = await hdc("POST", `${route}/commit`);
    expect(retry.json.error.message).toBe("Only pending submissions can be committed.");
  });

  it("hands out blob URLs on another origin when downloadUrlOrigin is set, and rejects a non-origin", async () => {
    const product = await hdc("POST", "hardware/products", newProduct);
    const submission = await hdc("POST", `hardware/products/${product.json.id}/submissions`, { name: "initial", type: "initial" });
    const route = `hardware/products/${product.json.id}/submissions/${submission.json.id}`;
    await control.configure({ downloadUrlOrigin: "https://evil.example.com:8443" });
    const upload = (await hdc("GET", route)).json.downloads.items.find((item: { type: string }) => item.type === "initialPackage").url as string;
    expect(new URL(upload).origin).toBe("https://evil.example.com:8443");
    expect(new URL(upload).searchParams.get("sig")).toBeTruthy();
    await expect(control.configure({ downloadUrlOrigin: "not a url" })).rejects.toThrow(/downloadUrlOrigin/);
    await control.configure({ downloadUrlOrigin: null });
    const again = (await hdc("GET", route)).json.downloads.items.find((item: { type: string }) => item.type === "initialPackage").url as string;
    expect(new URL(again).hostname).toBe("127.0.0.1");
  });

  it("holds a response for delayMs", async () => {
    await control.configure({ faults: [{ method: "GET", pathRegex: "/hardware/products$", delayMs: 400, times: 1 }] });
    const started = Date.now();
    expect((await hdc("GET", "hardware/products")).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
  });
});

describe("tokens, clock and request log", () => {
  it("expires tokens on the emulator clock when asked", async () => {
    await control.configure({ tokenExpiryClock: "emulator", tokenLifetimeSeconds: 600 });
    const fresh = new ClientSecretCredential(TENANT, CLIENT, SECRET, { authorityHost: emulators.authorityHost, disableInstanceDiscovery: true });
    const { token, expiresOnTimestamp } = await fresh.getToken("https://manage.devcenter.microsoft.com/.default");
    expect(Math.round((expiresOnTimestamp - Date.now()) / 1000)).toBeLessThanOrEqual(600);
    const get = () => fetch(new URL("hardware/products", emulators.hdcBaseUrl), { headers: { authorization: `Bearer ${token}` } });
    expect((await get()).status).toBe(200);
    await control.advanceClock(601);
    expect((await get()).status).toBe(401);
  });

  it("moves the clock forward only", async () => {
    const now = Date.parse((await control.state()).now);
    const moved = await control.setClock(new Date(now - 3600_000).toISOString());
    expect(Date.parse(moved)).toBeGreaterThanOrEqual(now);
  });

  it("logs requests by kind with SAS signatures and secrets redacted", async () => {
    const route = await committedSubmission();
    await hdc("GET", route);
    // A client that puts a SAS-like query on an API call must not get the signature into the log.
    await hdc("GET", `${route}?sig=super-secret-signature&se=2030-01-01`);
    const log = await control.requests();
    expect(log.counts).toMatchObject({ createProduct: 1, createSubmission: 1, commit: 1, getSubmission: 2 });
    expect(log.counts.token).toBeUndefined(); // token requests happened before the reset (cached credential)
    const serialized = JSON.stringify(log);
    expect(serialized).not.toContain("super-secret-signature");
    expect(serialized).toContain("sig=REDACTED");
    expect(serialized.toLowerCase()).not.toContain("bearer");
  });

  it("reports products, upload hashes and the signed package in the state", async () => {
    const route = await committedSubmission();
    await control.advanceClock(3600);
    await hdc("GET", route);
    const [product] = (await control.state()).products;
    expect(product.submissions[0]).toMatchObject({ commitStatus: "commitComplete", currentStep: "finalizeIngestion", state: "completed" });
    expect(product.submissions[0].upload?.length).toBe(4096);
    expect(product.submissions[0].signedPackage?.container).toBe("hdc-signed");
  });
});
