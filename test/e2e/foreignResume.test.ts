/**
 * Issue 21: resume ids are honoured only for the package version they were created for. On the local
 * runtime: package B started with the product/submission ids of package A — signed, or left
 * uncommitted — is refused with 409 naming productId/submissionId and the reason, starts nothing,
 * copies nothing to signed-drivers for B and leaves A's submission at the emulator untouched. A's own
 * explicit resume of its uncommitted submission still goes through to signed.
 */
import { APP_CONTAINERS } from "../../local/stack";
import { samplePackage } from "../../local/samplePackage";
import { instanceIdForPackage } from "../../src/domain/instanceId";
import { createProductCalls, emulatorCounts, startTestStack, waitForEnd, type TestStack } from "../support/stack";

jest.setTimeout(180_000);

const HTTP_CONTAINER = "e2e-resume-uploads";

describe("foreign resume ids (issue 21)", () => {
  let stack: TestStack;

  beforeAll(async () => {
    // Packages come from a container Event Grid does not watch, so only the HTTP calls start anything.
    stack = await startTestStack({ appSettings: { SUBMISSION_CONTAINERS: `${APP_CONTAINERS.drops},${HTTP_CONTAINER}` } });
    await stack.blobService.getContainerClient(HTTP_CONTAINER).createIfNotExists();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** Uploads a generated package; returns its `container/name` and the instance id its version maps to. */
  async function upload(folder: string): Promise<{ ref: string; blobName: string; instanceId: string }> {
    const pkg = samplePackage({ folder });
    const uploaded = await stack.blobService.getContainerClient(HTTP_CONTAINER).getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
    return { ref: `${HTTP_CONTAINER}/${pkg.fileName}`, blobName: pkg.fileName, instanceId: instanceIdForPackage(HTTP_CONTAINER, pkg.fileName, uploaded.etag!) };
  }

  function emulatorSubmission(productId: string, submissionId: string) {
    const product = stack.emulators.state().products.find((p) => p.id === productId);
    return { product, submission: product?.submissions.find((s) => s.id === submissionId) };
  }

  async function signedBlobsUnder(prefix: string): Promise<string[]> {
    const names: string[] = [];
    for await (const blob of stack.blobService.getContainerClient(APP_CONTAINERS.signed).listBlobsFlat({ prefix })) names.push(blob.name);
    return names;
  }

  function expectRefusal(response: { httpStatus: number; raw: Record<string, unknown> }, owner: string, ids: { productId: string; submissionId: string }) {
    expect(response.httpStatus).toBe(409);
    expect(response.raw).toMatchObject({
      error: expect.stringMatching(/^resume refused/),
      fields: [
        { field: "productId", reason: expect.stringContaining(`product ${ids.productId} was created for another package version (instance ${owner})`) },
        { field: "submissionId", reason: expect.stringContaining(`submission ${ids.submissionId} was created for another package version (instance ${owner})`) },
      ],
    });
  }

  it("B with the ids of A's signed submission is refused: nothing started, nothing copied, A untouched", async () => {
    const a = await upload("resume-signed-a");
    const started = await stack.submissions.start({ package: a.ref });
    expect(started.httpStatus).toBe(202);
    const signedA = await waitForEnd(stack, a.instanceId);
    expect(signedA.stage).toBe("succeeded");
    const ids = { productId: signedA.custom.productId!, submissionId: signedA.custom.submissionId! };
    const aAtEmulator = JSON.stringify(emulatorSubmission(ids.productId, ids.submissionId));
    const counts = emulatorCounts(stack);
    const productCalls = createProductCalls(stack);
    const requestsBefore = stack.emulators.requests().entries.length;

    const b = await upload("resume-signed-b");
    const refused = await stack.submissions.start({ package: b.ref, ...ids });
    expectRefusal(refused, a.instanceId, ids);

    expect((await stack.submissions.get(b.instanceId)).httpStatus).toBe(404);
    expect(await signedBlobsUnder(`${b.blobName}/`)).toEqual([]);
    expect(JSON.stringify(emulatorSubmission(ids.productId, ids.submissionId))).toBe(aAtEmulator);
    expect(emulatorCounts(stack)).toEqual(counts);
    expect(createProductCalls(stack)).toBe(productCalls);
    // Refused before anything reached Hardware Dev Center.
    expect(stack.emulators.requests().entries.length).toBe(requestsBefore);
  });

  it("B with the ids of A's uncommitted submission is refused and nothing is uploaded into it; A's own resume signs it", async () => {
    const a = await upload("resume-open-a");
    // Every commit fails: A's run ends Failed with its submission created, uploaded, never committed.
    stack.emulators.configure({ faults: [{ method: "POST", pathRegex: "/commit$", status: 503, times: 1000 }] });
    let ids: { productId: string; submissionId: string };
    try {
      expect((await stack.submissions.start({ package: a.ref })).httpStatus).toBe(202);
      const failedA = await waitForEnd(stack, a.instanceId, 120_000);
      expect(failedA.runtimeStatus).toBe("Failed");
      ids = { productId: failedA.custom.productId!, submissionId: failedA.custom.submissionId! };
    } finally {
      stack.emulators.configure({ faults: [] });
    }
    const open = emulatorSubmission(ids.productId, ids.submissionId).submission!;
    expect(open.commitStatus).toMatch(/commitPending/i);
    const ingestion = stack.blobService.getContainerClient("hdc-ingestion").getBlobClient(open.uploadBlob);
    const uploadedByA = await ingestion.getProperties();
    const counts = emulatorCounts(stack);

    const b = await upload("resume-open-b");
    const refused = await stack.submissions.start({ package: b.ref, ...ids });
    expectRefusal(refused, a.instanceId, ids);
    expect((await stack.submissions.get(b.instanceId)).httpStatus).toBe(404);
    // A's submission holds A's upload, unchanged, and is still not committed.
    const after = await ingestion.getProperties();
    expect({ etag: after.etag, length: after.contentLength }).toEqual({ etag: uploadedByA.etag, length: uploadedByA.contentLength });
    expect(emulatorSubmission(ids.productId, ids.submissionId).submission!.commitStatus).toMatch(/commitPending/i);
    expect(emulatorCounts(stack)).toEqual(counts);
    expect(await signedBlobsUnder(`${b.blobName}/`)).toEqual([]);

    // The legitimate resume: the same package version names its own ids and finishes on them.
    const resumed = await stack.submissions.start({ package: a.ref, ...ids });
    expect(resumed.httpStatus).toBe(202);
    expect(resumed.id).toBe(a.instanceId);
    const signedA = await waitForEnd(stack, a.instanceId, 120_000);
    expect(signedA.stage).toBe("succeeded");
    expect({ productId: signedA.custom.productId, submissionId: signedA.custom.submissionId }).toEqual(ids);
    expect(emulatorCounts(stack)).toEqual(counts);
  });
});
