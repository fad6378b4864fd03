/**
 * The app scenarios' comparison rules (local/conformance/appScenarios.ts, knownDifferences.ts), without dotnet:
 * what is normalised between the two engines' runs, and that the one listed difference for the app's blobs
 * accepts only the sizes and MD5s of blobs that hold per-run ids, never the signed package's.
 */
import { normaliseAppRun } from "../../../local/conformance/appScenarios";
import { knownDifferenceFor } from "../../../local/conformance/knownDifferences";
import type { EngineStatus } from "../../../local/conformance/engines";

function run(engine: "real" | "local", ids: { productId: string; submissionId: string; shared: string; etag: string }) {
  const instanceId = `conformance-appSubmitDriver-x1-${engine}`;
  const pkg = { container: "driver-drops", blobName: `conformance-${engine}-app.hlkx`, etag: `"${ids.etag}"` };
  const status = {
    name: "submitDriver",
    instanceId,
    runtimeStatus: "Completed",
    input: { package: pkg },
    output: { outcome: "succeeded", instanceId, productId: ids.productId, submissionId: ids.submissionId, finishedAt: "2026-12-07T04:40:01.123Z" },
    customStatus: { stage: "succeeded", updatedAt: "2026-12-07T04:40:01Z" },
    createdTime: "2026-12-07T04:40:00Z",
    lastUpdatedTime: "2026-12-07T04:40:01Z",
    history: [{ EventType: "ExecutionStarted", Timestamp: "2026-12-07T04:40:00.5Z", Input: JSON.stringify({ package: pkg }) }],
  } as EngineStatus;
  const payload = {
    history: [{ EventType: 5, Result: JSON.stringify({ productId: ids.productId, sharedProductId: ids.shared, reused: false }) }],
  };
  return normaliseAppRun({ status, payload }, instanceId, engine);
}

test("per-run ids, the drop's name and ETag and ISO instants become placeholders; wall-clock fields stay for compare.ts", () => {
  const real = run("real", { productId: "14631253285588838", submissionId: "1152921504621465124", shared: "1152921504607010611", etag: "0x20F761660CC2E40" });
  const local = run("local", { productId: "14631253285588839", submissionId: "1152921504621465999", shared: "1152921504607010608", etag: "0x26E9DFB309A4F40" });
  expect(real.status).toEqual({ ...local.status });
  expect(real.payload).toEqual(local.payload);
  expect(real.status?.output).toEqual({ outcome: "succeeded", instanceId: "<instanceId>", productId: "<productId>", submissionId: "<submissionId>", finishedAt: "<instant>" });
  expect(JSON.parse((real.status?.history?.[0] as { Input: string }).Input).package).toEqual({ container: "driver-drops", blobName: "conformance-<engine>-app.hlkx", etag: '"<etag>"' });
  expect(JSON.parse(String(real.payload?.history[0].Result))).toEqual({ productId: "<productId>", sharedProductId: "<sharedProductId>", reused: false });
  expect((real.status?.history?.[0] as { Timestamp: string }).Timestamp).toBe("2026-12-07T04:40:00.5Z");
});

test("a difference in anything but the ids is still seen", () => {
  const ids = { productId: "1", submissionId: "2", shared: "3", etag: "0xA" };
  const real = run("real", { ...ids, productId: "11111111111111111" });
  const local = run("local", { ...ids, productId: "11111111111111111" });
  (local.status!.output as Record<string, unknown>).outcome = "failed";
  expect(real.status?.output).not.toEqual(local.status?.output);
});

describe("app-blobs-hold-run-ids", () => {
  const known = (field: string, real: unknown, local: unknown) => knownDifferenceFor("appSubmitDriver", { field, real, local })?.id;
  const result = (manifestLength: number, signedMd5: string) =>
    JSON.stringify({
      signedPackage: { container: "signed-drivers", blobName: "p/<instanceId>/Signed_<submissionId>.zip", contentLength: 784, contentMd5: signedMd5 },
      driverMetadata: { container: "signed-drivers", blobName: "p/<instanceId>/driverMetadata.json", contentLength: manifestLength, contentMd5: `${"a".repeat(20)}${manifestLength % 10}==`.padStart(24, "b") },
    });

  test("the manifest's and driver metadata's sizes and MD5s are accepted", () => {
    expect(known("status.output.manifest.contentLength", 1325, 1332)).toBe("app-blobs-hold-run-ids");
    expect(known("status.output.driverMetadata.contentMd5", "lqLclkCXqndGDenqVr5U3Q==", "lqNxWM6NBFpf7Kv9PvV1dg==")).toBe("app-blobs-hold-run-ids");
    expect(known("payload.history[37].Result", '{"container":"signed-drivers","blobName":"p/<instanceId>/manifest.json","contentLength":1325}', '{"container":"signed-drivers","blobName":"p/<instanceId>/manifest.json","contentLength":1332}')).toBe("app-blobs-hold-run-ids");
    expect(known("payload.history[33].Result", result(100, "Oelsa0vqm0VGDDg88kHnZw=="), result(107, "Oelsa0vqm0VGDDg88kHnZw=="))).toBe("app-blobs-hold-run-ids");
  });

  test("the signed package's size or MD5, other results and other scenarios are not", () => {
    expect(known("payload.history[33].Result", result(100, "Oelsa0vqm0VGDDg88kHnZw=="), result(100, "itwXujFMuH87ydcY8jcpPA=="))).toBeUndefined();
    expect(known("status.output.signedPackage.contentLength", 784, 792)).toBeUndefined();
    expect(known("payload.history[29].Result", '{"currentStep":"scanning"}', '{"currentStep":"preparation"}')).toBeUndefined();
    expect(knownDifferenceFor("activitySequence", { field: "status.output.manifest.contentLength", real: 1, local: 2 })).toBeUndefined();
  });
});
