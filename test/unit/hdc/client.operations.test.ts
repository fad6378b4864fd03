/** HdcClient against a scripted HTTP server on 127.0.0.1: paths, bodies, headers, lossless ids, paging. */
import type { TokenCredential } from "@azure/identity";
import { HdcClient, createHdcClientFromConfig } from "../../../src/hdc/client";
import { parseConfig } from "../../../src/config";
import { CountingCredential, ScriptedServer } from "./scriptedServer";

const PRODUCT_ID = "14631253285588838";
const SUBMISSION_ID = "1152921504621465124";
const SHARED_PRODUCT_ID = "1152921504607010608";

const server = new ScriptedServer();
const { script, requests } = server;
let baseUrl: string;

beforeAll(async () => {
  baseUrl = await server.start();
});

afterAll(() => server.close());

beforeEach(() => server.reset());

function makeClient(overrides: { baseUrl?: string; credential?: TokenCredential } = {}): HdcClient {
  return new HdcClient({
    baseUrl: overrides.baseUrl ?? baseUrl,
    credential: overrides.credential ?? new CountingCredential(),
    scope: "https://manage.devcenter.microsoft.com/.default",
    timeoutMs: 5000,
    maxRetries: 2,
    retryDelayMs: 10,
    correlationId: "corr-1",
  });
}

const productJson = `{"id":${PRODUCT_ID},"sharedProductId":${SHARED_PRODUCT_ID},"productName":"Contoso","testHarness":"attestation","sourceProductId":0,"links":[]}`;
const submissionJson = `{"id":${SUBMISSION_ID},"productId":${PRODUCT_ID},"name":"n","type":"initial","commitStatus":"commitPending",
  "downloads":{"items":[{"type":"initialPackage","url":"https://ingest.blob.core.windows.net/i/x?sv=1&sig=abc"}],"messages":[]}}`;

describe("HdcClient operations", () => {
  it("createProduct posts the fields and returns 64-bit ids exactly", async () => {
    script.push({ status: 201, body: productJson });
    const product = await makeClient().createProduct({
      productName: "Contoso",
      testHarness: "attestation",
      requestedSignatures: ["WINDOWS_v100_X64_RS5_FULL"],
    });
    expect(product.id).toBe(PRODUCT_ID);
    expect(product.sharedProductId).toBe(SHARED_PRODUCT_ID);
    expect(product.sourceProductId).toBe("0");
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: "POST", url: "/v2.0/my/hardware/products" });
    expect(requests[0]!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(requests[0]!.body)).toEqual({
      productName: "Contoso",
      testHarness: "attestation",
      requestedSignatures: ["WINDOWS_v100_X64_RS5_FULL"],
    });
  });

  it("createSubmission and getSubmission keep ids exactly and put them verbatim into paths", async () => {
    script.push({ status: 201, body: submissionJson }, { status: 200, body: submissionJson });
    const client = makeClient();
    const created = await client.createSubmission(PRODUCT_ID, { name: "n", type: "initial" });
    const fetched = await client.getSubmission(created.productId, created.id);
    for (const sub of [created, fetched]) {
      expect(sub.id).toBe(SUBMISSION_ID);
      expect(sub.productId).toBe(PRODUCT_ID);
    }
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      `POST /v2.0/my/hardware/products/${PRODUCT_ID}/submissions`,
      `GET /v2.0/my/hardware/products/${PRODUCT_ID}/submissions/${SUBMISSION_ID}`,
    ]);
    expect(JSON.parse(requests[0]!.body)).toEqual({ name: "n", type: "initial" });
  });

  it("getSubmission fills ids the response leaves out from the request path", async () => {
    script.push({ status: 200, body: '{"commitStatus":"commitComplete","workflowStatus":{"currentStep":2,"state":"started"}}' });
    const sub = await makeClient().getSubmission(PRODUCT_ID, SUBMISSION_ID);
    expect(sub).toMatchObject({ id: SUBMISSION_ID, productId: PRODUCT_ID, workflowStatus: { currentStep: "2" } });
  });

  it("commitSubmission resolves on 202 with an empty body and sends the headers HDC support asks for", async () => {
    script.push({ status: 202, headers: { "Content-Type": "text/plain" }, body: "" });
    const credential = new CountingCredential();
    await expect(makeClient({ credential }).commitSubmission(PRODUCT_ID, SUBMISSION_ID)).resolves.toBeUndefined();
    const [commit] = requests;
    expect(commit).toMatchObject({ method: "POST", url: `/v2.0/my/hardware/products/${PRODUCT_ID}/submissions/${SUBMISSION_ID}/commit`, body: "{}" });
    expect(commit!.headers["content-type"]).toBe("application/json");
    expect(commit!.headers["ms-correlationid"]).toBe("corr-1");
    expect(commit!.headers["ms-requestid"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(commit!.headers["accept"]).toBe("application/json");
    expect(commit!.headers["authorization"]).toBe("Bearer token-1");
  });

  it("uses a new MS-RequestId per request and one token for many requests", async () => {
    script.push({ status: 200, body: productJson }, { status: 200, body: productJson });
    const credential = new CountingCredential();
    const client = makeClient({ credential });
    await client.getProduct(PRODUCT_ID);
    await client.getProduct(PRODUCT_ID);
    expect(credential.calls).toBe(1);
    expect(requests[0]!.headers["ms-requestid"]).not.toBe(requests[1]!.headers["ms-requestid"]);
    expect(requests.every((r) => r.headers["ms-correlationid"] === "corr-1")).toBe(true);
  });

  it("accepts a base URL without a trailing slash", async () => {
    script.push({ status: 200, body: productJson });
    await makeClient({ baseUrl: baseUrl.replace(/\/$/, "") }).getProduct(PRODUCT_ID);
    expect(requests[0]!.url).toBe(`/v2.0/my/hardware/products/${PRODUCT_ID}`);
  });

  it("listProducts follows next_link pages whatever host/version the link names", async () => {
    script.push(
      {
        status: 200,
        body: `{"value":[${productJson}],"links":[{"rel":"next_link","method":"GET","href":"https:// manage.devcenter.microsoft.com/api/v2.0/hardware/products?continuationToken=p2"}]}`,
      },
      { status: 200, body: `{"value":[{"id":1}],"links":[{"rel":"self","href":"x"}]}` },
    );
    const products = await makeClient().listProducts();
    expect(products.map((p) => p.id)).toEqual([PRODUCT_ID, "1"]);
    expect(requests.map((r) => r.url)).toEqual(["/v2.0/my/hardware/products", "/v2.0/my/hardware/products?continuationToken=p2"]);
  });

  it("listProducts({ top }) asks for one page only", async () => {
    script.push({ status: 200, body: `{"value":[${productJson}],"links":[{"rel":"next_link","href":"hardware/products?skip=1"}]}` });
    const products = await makeClient().listProducts({ top: 1 });
    expect(products).toHaveLength(1);
    expect(requests.map((r) => r.url)).toEqual(["/v2.0/my/hardware/products?top=1"]);
  });

  it("a next link it cannot follow is an error, not the end of the list (reconciling by name must not miss a page)", async () => {
    script.push({ status: 200, body: `{"value":[${productJson}],"links":[{"rel":"next_link","href":"https://elsewhere.example/v1/things?page=2"}]}` });
    await expect(makeClient().listProducts()).rejects.toMatchObject({ code: "invalidResponse" });
    expect(requests).toHaveLength(1);
  });

  it("listSubmissions stops when a next link repeats itself", async () => {
    const page = `{"value":[{"id":${SUBMISSION_ID},"productId":${PRODUCT_ID}}],"nextLink":"hardware/products/${PRODUCT_ID}/submissions?page=2"}`;
    script.push({ status: 200, body: page }, { status: 200, body: page });
    const subs = await makeClient().listSubmissions(PRODUCT_ID);
    expect(subs.map((s) => s.id)).toEqual([SUBMISSION_ID, SUBMISSION_ID]);
    expect(requests).toHaveLength(2);
  });

  it("rejects an id that is not a decimal string before sending anything", async () => {
    await expect(makeClient().getProduct("1.4631253285588838e16")).rejects.toThrow(TypeError);
    expect(requests).toHaveLength(0);
  });

  it("createHdcClientFromConfig maps the settings onto a working client", async () => {
    script.push({ status: 200, body: productJson });
    const config = parseConfig({
      AzureWebJobsStorage: "UseDevelopmentStorage=true",
      HDC_TENANT_ID: "t",
      HDC_CLIENT_ID: "c",
      HDC_CLIENT_SECRET: "s",
      HDC_API_BASE_URL: baseUrl,
    });
    const credential = new CountingCredential();
    const scopes: string[] = [];
    const client = createHdcClientFromConfig(config, {
      getToken: async (scope) => {
        scopes.push(...(Array.isArray(scope) ? scope : [scope]));
        return credential.getToken();
      },
    });
    await client.getProduct(PRODUCT_ID);
    expect(scopes).toEqual(["https://manage.devcenter.microsoft.com/.default"]);
    expect(requests[0]!.url).toBe(`/v2.0/my/hardware/products/${PRODUCT_ID}`);
  });
});
