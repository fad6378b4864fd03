/** HdcClient failure handling against a scripted HTTP server on 127.0.0.1: retries, auth refresh, errors, redaction. */
import type { TokenCredential } from "@azure/identity";
import { HdcClient, type HdcClientOptions } from "../../../src/hdc/client";
import { HdcError } from "../../../src/hdc/errors";
import { freePort } from "../../../local/azurite";
import { CountingCredential, ScriptedServer } from "./scriptedServer";

const PRODUCT_ID = "14631253285588838";
const SUBMISSION_ID = "1152921504621465124";
const productJson = `{"id":${PRODUCT_ID},"productName":"Contoso"}`;
const SAS = "https://ingestionpackagesprod1.blob.core.windows.net/ingestion/abc?sv=2018-03-28&sr=b&sig=TOPSECRETsig%2B%3D&se=2025-11-21T14:31:15Z&sp=rwl";

const server = new ScriptedServer();
const { script, requests } = server;
let baseUrl: string;

beforeAll(async () => {
  baseUrl = await server.start();
});

afterAll(() => server.close());

beforeEach(() => server.reset());

function makeClient(overrides: Partial<HdcClientOptions> = {}): HdcClient {
  return new HdcClient({
    baseUrl,
    credential: new CountingCredential(),
    scope: "https://manage.devcenter.microsoft.com/.default",
    timeoutMs: 5000,
    maxRetries: 3,
    retryDelayMs: 10,
    correlationId: "corr-1",
    ...overrides,
  });
}

async function failureOf(promise: Promise<unknown>): Promise<HdcError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(HdcError);
    return error as HdcError;
  }
  throw new Error("expected the call to fail");
}

describe("HdcClient retries", () => {
  it("honours Retry-After on 429 and then succeeds", async () => {
    script.push({ status: 429, headers: { "Retry-After": "1" }, body: "" }, { status: 200, body: productJson });
    const started = Date.now();
    const product = await makeClient().getProduct(PRODUCT_ID);
    expect(product.id).toBe(PRODUCT_ID);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(950);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("retries a 429 without Retry-After after our backoff (the library alone would return it)", async () => {
    script.push({ status: 429 }, { status: 200, body: productJson });
    const product = await makeClient({ retryDelayMs: 50 }).getProduct(PRODUCT_ID);
    expect(product.id).toBe(PRODUCT_ID);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(20);
  });

  it("sends requests through the library's default pipeline (its User-Agent, our prefix first)", async () => {
    script.push({ status: 200, body: productJson });
    await makeClient().getProduct(PRODUCT_ID);
    expect(requests[0]!.headers["user-agent"]).toMatch(/^driver-signing-functions .*core-rest-pipeline/);
  });

  it("caps a long Retry-After at maxRetryDelayMs", async () => {
    script.push({ status: 429, headers: { "Retry-After": "3600" } }, { status: 200, body: productJson });
    const started = Date.now();
    await makeClient({ maxRetryDelayMs: 50 }).getProduct(PRODUCT_ID);
    expect(requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("retries a 503 and returns the following 200", async () => {
    script.push({ status: 503, body: "Service Unavailable" }, { status: 200, body: productJson });
    const product = await makeClient().getProduct(PRODUCT_ID);
    expect(product.productName).toBe("Contoso");
    expect(requests).toHaveLength(2);
    expect(requests[0]!.headers["ms-requestid"]).not.toBe(requests[1]!.headers["ms-requestid"]);
  });

  it("gives up after maxRetries on a burst of 500s with a retryable HdcError", async () => {
    for (let i = 0; i < 6; i++) script.push({ status: 500, body: '{"error":{"code":"internalError","message":"boom"}}' });
    const error = await failureOf(makeClient({ maxRetries: 3 }).getSubmission(PRODUCT_ID, SUBMISSION_ID));
    expect(requests).toHaveLength(4);
    expect(error).toMatchObject({ statusCode: 500, code: "internalError", retryable: true, isTimeout: false, method: "GET" });
    expect(error.path).toBe(`/hardware/products/${PRODUCT_ID}/submissions/${SUBMISSION_ID}`);
    expect(error.message).toBe(`HDC GET ${error.path} failed: 500 internalError: boom`);
  });

  it.each([400, 404, 422])("never retries %i", async (status) => {
    script.push({
      status,
      headers: { "MS-RequestId": "server-req-9", "MS-CorrelationId": "server-corr-9" },
      body: JSON.stringify({
        error: {
          code: "invalidInput",
          message: "The request is invalid.",
          validationErrors: [{ target: "requestedSignatures", message: "unsupported" }],
          httpErrorCode: status,
        },
      }),
    });
    const error = await failureOf(makeClient().createProduct({ productName: "p", testHarness: "hlk", requestedSignatures: ["X"] }));
    expect(requests).toHaveLength(1);
    expect(error).toMatchObject({
      statusCode: status,
      code: "invalidInput",
      serviceMessage: "The request is invalid.",
      validationErrors: [{ target: "requestedSignatures", message: "unsupported" }],
      requestId: "server-req-9",
      correlationId: "server-corr-9",
      retryable: false,
      method: "POST",
      path: "/hardware/products",
    });
    expect(error.message).toBe(
      `HDC POST /hardware/products failed: ${status} invalidInput: The request is invalid.; requestedSignatures: unsupported`,
    );
  });

  it("falls back to the ids it sent when the error response carries none", async () => {
    script.push({ status: 409, body: '{"error":{"code":"requestInvalidForCurrentState","message":"Only pending submissions can be committed."}}' });
    const error = await failureOf(makeClient().commitSubmission(PRODUCT_ID, SUBMISSION_ID));
    expect(requests).toHaveLength(1);
    expect(error.requestId).toBe(requests[0]!.headers["ms-requestid"]);
    expect(error.correlationId).toBe("corr-1");
    expect(error.code).toBe("requestInvalidForCurrentState");
  });

  it("reports a non-JSON error body as text, cut to 500 characters", async () => {
    script.push({ status: 502, headers: { "Content-Type": "text/html" }, body: `<html>Bad Gateway${"x".repeat(2000)}</html>` });
    const error = await failureOf(makeClient({ maxRetries: 0 }).getProduct(PRODUCT_ID));
    expect(error).toMatchObject({ statusCode: 502, code: undefined, retryable: true });
    expect(error.serviceMessage).toBe(`<html>Bad Gateway${"x".repeat(2000)}`.slice(0, 500));
    expect(error.message.startsWith(`HDC GET /hardware/products/${PRODUCT_ID} failed: 502: <html>Bad Gateway`)).toBe(true);
  });

  it("times out a server that never answers, retries, then throws isTimeout", async () => {
    script.push("hang", "hang", "hang");
    const started = Date.now();
    const error = await failureOf(makeClient({ timeoutMs: 200, maxRetries: 1 }).getProduct(PRODUCT_ID));
    expect(requests).toHaveLength(2);
    expect(error).toMatchObject({ isTimeout: true, retryable: true, statusCode: undefined });
    expect(error.message).toContain("timed out after 2 attempt(s)");
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });

  it("ends at the activity's deadline (withAbortSignal), before its own timeout and without further retries", async () => {
    script.push("hang", "hang");
    const started = Date.now();
    const client = makeClient({ timeoutMs: 10_000, maxRetries: 3 }).withAbortSignal(AbortSignal.timeout(300));
    const error = await failureOf(client.getProduct(PRODUCT_ID));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(requests).toHaveLength(1);
    expect(error).toMatchObject({ retryable: true, isTimeout: true });
    expect(error.message).toContain("aborted at the activity's deadline");
  });

  it("retries a refused connection and reports it as a retryable transport failure", async () => {
    const port = await freePort(); // free: nothing listens there
    const lines: string[] = [];
    const client = makeClient({ baseUrl: `https://127.0.0.1:${port}/v2.0/my/`, maxRetries: 2, log: (line) => lines.push(line) });
    const error = await failureOf(client.getProduct(PRODUCT_ID));
    expect(error).toMatchObject({ retryable: true, isTimeout: false, statusCode: undefined });
    expect(error.message).toContain("ECONNREFUSED");
    expect(lines.filter((line) => line.includes("retry"))).toHaveLength(2);
  });
});

describe("HdcClient retries of requests that create something", () => {
  const newProduct = { productName: "p", testHarness: "attestation" as const, requestedSignatures: ["X"] };

  it("does not repeat createProduct after a 503 (the product may exist) but reports it retryable", async () => {
    script.push({ status: 503, body: "busy" }, { status: 201, body: productJson });
    const error = await failureOf(makeClient().createProduct(newProduct));
    expect(requests).toHaveLength(1);
    expect(error).toMatchObject({ statusCode: 503, retryable: true });
  });

  it("does not repeat createSubmission after a timeout", async () => {
    script.push("hang", { status: 201, body: "{}" });
    const error = await failureOf(makeClient({ timeoutMs: 200 }).createSubmission(PRODUCT_ID, { name: "n", type: "initial" }));
    expect(requests).toHaveLength(1);
    expect(error).toMatchObject({ isTimeout: true, retryable: true });
  });

  it("does repeat createProduct after a 429, which the service did not act on", async () => {
    script.push({ status: 429, headers: { "Retry-After": "0" } }, { status: 201, body: productJson });
    const product = await makeClient().createProduct(newProduct);
    expect(product.id).toBe(PRODUCT_ID);
    expect(requests).toHaveLength(2);
  });
});

describe("HdcClient authentication", () => {
  it("on 401 asks the credential again and retries with the new token", async () => {
    script.push({ status: 401, body: "" }, { status: 200, body: productJson });
    const credential = new CountingCredential();
    const product = await makeClient({ credential }).getProduct(PRODUCT_ID);
    expect(product.id).toBe(PRODUCT_ID);
    expect(credential.calls).toBe(2);
    expect(requests.map((r) => r.headers.authorization)).toEqual(["Bearer token-1", "Bearer token-2"]);
  });

  it("keeps using the renewed token afterwards", async () => {
    script.push({ status: 401 }, { status: 200, body: productJson }, { status: 200, body: productJson });
    const credential = new CountingCredential();
    const client = makeClient({ credential });
    await client.getProduct(PRODUCT_ID);
    await client.getProduct(PRODUCT_ID);
    expect(credential.calls).toBe(2);
    expect(requests[2]!.headers.authorization).toBe("Bearer token-2");
  });

  it("treats a second 401 as final", async () => {
    script.push({ status: 401 }, { status: 401, body: '{"error":{"code":"unauthorized","message":"token rejected"}}' });
    const error = await failureOf(makeClient().getProduct(PRODUCT_ID));
    expect(requests).toHaveLength(2);
    expect(error).toMatchObject({ statusCode: 401, retryable: false, code: "unauthorized" });
  });

  it("turns a credential failure into an HdcError without sending a request", async () => {
    const broken: TokenCredential = {
      getToken: async () => {
        throw Object.assign(new Error("AADSTS7000215: Invalid client secret provided. client_secret=hunter2"), { statusCode: 401 });
      },
    };
    const error = await failureOf(makeClient({ credential: broken }).getProduct(PRODUCT_ID));
    expect(requests).toHaveLength(0);
    expect(error).toMatchObject({ code: "tokenAcquisitionFailed", retryable: false });
    expect(error.message).not.toContain("hunter2");
  });
});

describe("HdcClient secrecy", () => {
  it("never lets a SAS signature or token into errors or log lines", async () => {
    const echo = JSON.stringify({
      error: {
        code: "invalidInput",
        message: `Could not read ${SAS} with Bearer token-1`,
        validationErrors: [{ target: SAS, message: `bad url ${SAS}` }],
      },
    });
    script.push({ status: 400, body: echo }, { status: 503, body: `upstream failed for ${SAS}` }, { status: 503, body: `upstream failed for ${SAS}` });
    const lines: string[] = [];
    const client = makeClient({ maxRetries: 1, log: (line) => lines.push(line) });
    const errors = [
      await failureOf(client.createSubmission(PRODUCT_ID, { name: "n", type: "initial" })),
      await failureOf(client.getSubmission(PRODUCT_ID, SUBMISSION_ID)),
    ];
    for (const error of errors) {
      const everything = JSON.stringify({ ...error, message: error.message });
      expect(everything).not.toContain("TOPSECRET");
      expect(everything).not.toContain("token-1");
      expect(everything).toContain("sig=REDACTED");
    }
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join("\n")).not.toMatch(/TOPSECRET|token-\d|sig=/);
  });
});
