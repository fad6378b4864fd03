/**
 * The replay-fixture recorder (local/conformance/recordReplayFixtures.ts) rewrites per-run values to fixed ones the
 * same everywhere (inside JSON-encoded history payloads too), and refuses to write a fixture holding a secret.
 */
import { assertNothingSecret, fixtureNormaliser } from "../../../local/conformance/fixtureNormaliser";
import type { EngineStatus, OrchestratorPayload } from "../../../local/conformance/engines";

const env = { HDC_TENANT_ID: "b33932a1-c090-440e-ab7d-ed3767798950", HDC_CLIENT_ID: "a5037c15-b608-4be8-8cff-c96bbb4cb6e4", HDC_CLIENT_SECRET: "s3cr3t-value-of-the-emulator" };

function run(): { status: EngineStatus; payload: OrchestratorPayload } {
  const result = JSON.stringify({ productId: "14631253285588838", submissionId: "1152921504621465124", tenantId: env.HDC_TENANT_ID });
  return {
    status: {
      name: "submitDriver", instanceId: "replay-x", runtimeStatus: "Completed", createdTime: "", lastUpdatedTime: "", customStatus: null,
      input: { package: { etag: "\"0x2713FB9704D40E0\"" } },
      output: { productId: "14631253285588838", blobName: "a/Signed_1152921504621465124.zip" },
    },
    payload: {
      instanceId: "replay-x",
      history: [
        { EventType: 0, OrchestrationInstance: { InstanceId: "replay-x", ExecutionId: "6c53b75ccdee4bad9fc3cfaa4b911107" }, Input: "{\"package\":{\"etag\":\"\\\"0x2713FB9704D40E0\\\"\"}}" },
        { EventType: 5, TaskScheduledId: 2, Result: result },
      ],
    },
  };
}

test("the emulator's ids, execution ids, the ETag and the Entra ids become fixed values, also inside encoded payloads", () => {
  const original = run();
  const normalised = fixtureNormaliser([original], env)(original) as ReturnType<typeof run>;
  const text = JSON.stringify(normalised);
  for (const perRun of ["14631253285588838", "1152921504621465124", "6c53b75ccdee4bad9fc3cfaa4b911107", "0x2713FB9704D40E0", env.HDC_TENANT_ID]) {
    expect(text).not.toContain(perRun);
  }
  expect(normalised.status.output).toEqual({ productId: "1000000000000001", blobName: "a/Signed_1000000000000002.zip" });
  expect(JSON.parse(normalised.payload.history[1].Result as string)).toEqual({
    productId: "1000000000000001", submissionId: "1000000000000002", tenantId: "00000000-0000-4000-8000-00000000a11d",
  });
  expect(normalised.payload.history[0]).toMatchObject({ OrchestrationInstance: { InstanceId: "replay-x", ExecutionId: "00000000000000000000000000000001" } });
  expect(JSON.parse(normalised.payload.history[0].Input as string)).toEqual({ package: { etag: "\"0x8DC0FFEE00000003\"" } });
});

test("a fixture holding a secret app setting, a SAS signature or a token is refused", () => {
  expect(() => assertNothingSecret("f.json", `{"x":"${env.HDC_CLIENT_SECRET}"}`, env)).toThrow(/f.json holds the value of the app setting HDC_CLIENT_SECRET/);
  expect(() => assertNothingSecret("f.json", '{"url":"https://a.blob/x?sv=2024&sig=abc"}', env)).toThrow(/SAS signature/);
  expect(() => assertNothingSecret("f.json", '{"h":"Bearer eyJhbGciOi"}', env)).toThrow(/token/);
  expect(() => assertNothingSecret("f.json", JSON.stringify(run()), env)).not.toThrow();
});
