import { BlobServiceClient } from "@azure/storage-blob";
import type { AzuriteHandle } from "../../../local/azurite";
import type { ProductFields } from "../../../src/domain/types";
import { createProduct } from "../../../src/activities/createProduct";
import { createSubmission } from "../../../src/activities/createSubmission";
import { isTerminalFailure } from "../../../src/activities/errors";
import { claimant, readCheckpoint } from "../../../src/storage/checkpoints";
import { FakeHdc, expectNoSecrets, hdcError, startStorage, testConfig, testDeps } from "./support";

let azurite: AzuriteHandle;
beforeAll(async () => {
  azurite = await startStorage();
});
afterAll(async () => {
  await azurite?.stop();
});

function product(productName: string): ProductFields {
  return { productName, testHarness: "attestation", requestedSignatures: ["WINDOWS_v100_X64_RS5_FULL"] };
}

function setup() {
  const config = testConfig(azurite.connectionString);
  const hdc = new FakeHdc(BlobServiceClient.fromConnectionString(azurite.connectionString));
  return { config, hdc, deps: testDeps(config, hdc) };
}

describe("createProduct", () => {
  it("creates the product once and records it in the checkpoint", async () => {
    const { hdc, deps, config } = setup();
    const result = await createProduct({ instanceId: "drv-create-once", product: product("Contoso A") }, deps);
    expect(result).toEqual({ productId: hdc.products[0]!.id, sharedProductId: hdc.products[0]!.sharedProductId, reused: false });
    expect((await readCheckpoint(deps.blobService, config, "drv-create-once")).product?.productId).toBe(result.productId);
    expect(await claimant(deps.blobService, config, "products", result.productId)).toBe("drv-create-once");

    const again = await createProduct({ instanceId: "drv-create-once", product: product("Contoso A") }, deps);
    expect(again).toEqual({ ...result, reused: true });
    expect(hdc.calls.createProduct).toBe(1);
  });

  it("after a crash between the POST and the checkpoint, the retry adopts the product instead of creating another", async () => {
    const { hdc, deps } = setup();
    const input = { instanceId: "drv-crash-after-post", product: product("Contoso Crash") };
    // The POST takes effect but its response is lost: exactly what a crash after the POST looks like.
    hdc.failNext("createProduct", new Error("socket hang up"), true);
    await expect(createProduct(input, deps)).rejects.toThrow("socket hang up");
    expect(hdc.products).toHaveLength(1);

    const retried = await createProduct(input, deps);
    expect(retried).toEqual({ productId: hdc.products[0]!.id, sharedProductId: hdc.products[0]!.sharedProductId, reused: true });
    expect(hdc.products).toHaveLength(1);
    expect(hdc.calls.createProduct).toBe(1);
    expect(hdc.calls.listProducts).toBe(1);
  });

  it("does not adopt a same-named product that another instance created", async () => {
    const { hdc, deps } = setup();
    const first = await createProduct({ instanceId: "drv-first", product: product("Shared Name") }, deps);

    // The second instance crashed after recording its request but before its own POST.
    hdc.failNext("createProduct", new Error("ECONNRESET"), false);
    await expect(createProduct({ instanceId: "drv-second", product: product("Shared Name") }, deps)).rejects.toThrow("ECONNRESET");
    const second = await createProduct({ instanceId: "drv-second", product: product("Shared Name") }, deps);

    expect(second.productId).not.toBe(first.productId);
    expect(second.reused).toBe(false);
    expect(hdc.products.filter((p) => p.productName === "Shared Name")).toHaveLength(2);
  });

  it("turns a 422 validation failure into a terminal error naming the field", async () => {
    const { hdc, deps } = setup();
    hdc.failNext(
      "createProduct",
      hdcError("POST", 422, "invalidInput", "Validation failed", { validationErrors: [{ target: "requestedSignatures", message: "WINDOWS_XP is not allowed" }] }),
    );
    const failure = await createProduct({ instanceId: "drv-invalid", product: product("Bad") }, deps).catch((e: unknown) => e);
    expect(isTerminalFailure(failure)).toBe(true);
    expect((failure as Error).message).toContain("requestedSignatures: WINDOWS_XP is not allowed");
  });

  it("leaves a 503 retryable", async () => {
    const { hdc, deps } = setup();
    hdc.failNext("createProduct", hdcError("POST", 503, undefined, "Service Unavailable"));
    const failure = await createProduct({ instanceId: "drv-503", product: product("Busy") }, deps).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Error);
    expect(isTerminalFailure(failure)).toBe(false);
  });
});

describe("createSubmission", () => {
  async function withProduct(instanceId: string) {
    const ctx = setup();
    const { productId } = await createProduct({ instanceId, product: product(`P ${instanceId}`) }, ctx.deps);
    return { ...ctx, productId };
  }

  it("creates once, returns no upload URL, and reuses on retry", async () => {
    const { hdc, deps, productId } = await withProduct("drv-sub-once");
    const input = { instanceId: "drv-sub-once", productId, name: "initial", type: "initial" as const };
    const created = await createSubmission(input, deps);
    expect(created).toEqual({ submissionId: hdc.submissions[0]!.id, commitStatus: "commitPending", reused: false });
    expectNoSecrets(JSON.stringify(created));

    expect(await createSubmission(input, deps)).toEqual({ ...created, reused: true });
    expect(hdc.calls.createSubmission).toBe(1);
  });

  it("after a lost POST response, adopts the submission via 'Initial submission already exists' or listing", async () => {
    const { hdc, deps, productId } = await withProduct("drv-sub-crash");
    const input = { instanceId: "drv-sub-crash", productId, name: "initial", type: "initial" as const };
    hdc.failNext("createSubmission", hdcError("POST", 504, undefined, "Gateway Timeout"), true);
    await expect(createSubmission(input, deps)).rejects.toThrow("504");

    const retried = await createSubmission(input, deps);
    expect(retried.reused).toBe(true);
    expect(retried.submissionId).toBe(hdc.submissions[0]!.id);
    expect(hdc.submissions).toHaveLength(1);
  });

  it("refuses (terminally) to take over an initial submission claimed by another instance", async () => {
    const { hdc, deps, productId } = await withProduct("drv-sub-owner");
    await createSubmission({ instanceId: "drv-sub-owner", productId, name: "initial", type: "initial" }, deps);

    const failure = await createSubmission({ instanceId: "drv-sub-intruder", productId, name: "initial", type: "initial" }, deps).catch((e: unknown) => e);
    expect(isTerminalFailure(failure)).toBe(true);
    expect(hdc.submissions).toHaveLength(1);
  });
});
