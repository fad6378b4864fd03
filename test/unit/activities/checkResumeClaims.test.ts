/**
 * checkResumeClaims against real Azurite: a resume is let through only for ids this service created
 * (claimed by createProduct/createSubmission) for the same package version (instance id, any round);
 * anything else fails terminally with a reason naming the field.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import type { AzuriteHandle } from "../../../local/azurite";
import { checkResumeClaims } from "../../../src/activities/checkResumeClaims";
import { createProduct } from "../../../src/activities/createProduct";
import { createSubmission } from "../../../src/activities/createSubmission";
import { isTerminalFailure } from "../../../src/activities/errors";
import { instanceIdForPackage, roundKey } from "../../../src/domain/instanceId";
import { FakeHdc, startStorage, testConfig, testDeps } from "./support";

let azurite: AzuriteHandle;
beforeAll(async () => {
  azurite = await startStorage();
});
afterAll(async () => {
  await azurite?.stop();
});

function setup() {
  const config = testConfig(azurite.connectionString);
  const hdc = new FakeHdc(BlobServiceClient.fromConnectionString(azurite.connectionString));
  return { config, hdc, deps: testDeps(config, hdc) };
}

/** Product and submission created (and claimed) by `key`, as the orchestration does. */
async function createdBy(deps: ReturnType<typeof setup>["deps"], key: string, name: string) {
  const { productId } = await createProduct({ instanceId: key, product: { productName: name, testHarness: "hlk", requestedSignatures: [] } }, deps);
  const { submissionId } = await createSubmission({ instanceId: key, productId, name, type: "initial" }, deps);
  return { productId, submissionId };
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  expect(isTerminalFailure(error)).toBe(true);
  return (error as Error).message;
}

describe("checkResumeClaims", () => {
  const packageA = instanceIdForPackage("driver-drops", "a.hlkx", '"0x8DA"');
  const packageB = instanceIdForPackage("driver-drops", "b.hlkx", '"0x8DB"');
  // The same name with another ETag is another package version.
  const packageAv2 = instanceIdForPackage("driver-drops", "a.hlkx", '"0x8DA2"');

  it("lets the same package version resume its own product and submission (round 1 and later rounds)", async () => {
    const { deps } = setup();
    const ids = await createdBy(deps, packageA, "Resume Own");
    await expect(checkResumeClaims({ instanceId: packageA, ...ids }, deps)).resolves.toEqual({ ...ids, owner: packageA });
    await expect(checkResumeClaims({ instanceId: packageA, productId: ids.productId }, deps)).resolves.toEqual({ productId: ids.productId, owner: packageA });

    const round2 = await createdBy(deps, roundKey(packageA, 2), "Resume Own r2");
    await expect(checkResumeClaims({ instanceId: packageA, ...round2 }, deps)).resolves.toMatchObject(round2);
  });

  it("refuses another package version's ids, naming productId and submissionId and the owner", async () => {
    const { deps, hdc } = setup();
    const ids = await createdBy(deps, packageA, "Resume Foreign");
    const calls = JSON.stringify(hdc.calls);
    for (const other of [packageB, packageAv2]) {
      const message = await refusal(checkResumeClaims({ instanceId: other, ...ids }, deps));
      expect(message).toContain(`productId: product ${ids.productId} was created for another package version (instance ${packageA})`);
      expect(message).toContain(`submissionId: submission ${ids.submissionId} was created for another package version (instance ${packageA})`);
    }
    // Only product-id: still someone else's product.
    expect(await refusal(checkResumeClaims({ instanceId: packageB, productId: ids.productId }, deps))).toMatch(/^.*resume refused: productId: product \d+ was created for another package version/);
    // Reading claims never calls Hardware Dev Center.
    expect(JSON.stringify(hdc.calls)).toBe(calls);
    // Own product, someone else's submission: the submission is named alone.
    const own = await createdBy(deps, packageB, "Resume Mixed");
    const mixed = await refusal(checkResumeClaims({ instanceId: packageB, productId: own.productId, submissionId: ids.submissionId }, deps));
    expect(mixed).toContain(`submissionId: submission ${ids.submissionId}`);
    expect(mixed).not.toContain("productId:");
  });

  it("refuses ids no claim is recorded for (created elsewhere, e.g. in the portal), and look-alike round keys", async () => {
    const { deps } = setup();
    const message = await refusal(checkResumeClaims({ instanceId: packageA, productId: "14631253285599999", submissionId: "1152921504621499999" }, deps));
    expect(message).toContain("productId: product 14631253285599999 was not created by this service (no claim is recorded for it)");
    expect(message).toContain("submissionId: submission 1152921504621499999 was not created by this service");

    for (const lookAlike of [`${packageA}x`, `${packageA}-r`, `${packageA}-r0`, `${packageA}-r2x`, `${packageA}-label-1`]) {
      const ids = await createdBy(deps, lookAlike, `Look-alike ${lookAlike}`);
      expect(await refusal(checkResumeClaims({ instanceId: packageA, ...ids }, deps))).toContain(`(instance ${lookAlike})`);
    }
  });
});
