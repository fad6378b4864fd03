/** The request and sidecar schemas: every bad field is named, with a reason. */
import { parseStatusFilter } from "../../../src/functions/validation/listQuery";
import { nestingTooDeep, PRODUCT_LIMITS, sidecarSchema } from "../../../src/functions/validation/productFields";
import { buildSubmitDriverInput } from "../../../src/functions/submissionInput";
import { parseConfig } from "../../../src/config";
import { parseStartSubmission } from "../../../src/functions/validation/startSubmission";
import { problemsFromZod } from "../../../src/functions/validation/fieldProblems";

const fieldsOf = (body: unknown) => {
  const result = parseStartSubmission(body);
  return result.ok ? [] : result.problems.map((problem) => problem.field).sort();
};

describe("POST /api/submissions body", () => {
  test("minimal and full valid bodies", () => {
    const minimal = parseStartSubmission({ package: "driver-drops/contoso.hlkx" });
    expect(minimal).toEqual({ ok: true, value: expect.objectContaining({ package: { container: "driver-drops", blobName: "contoso.hlkx" } }) });

    const full = parseStartSubmission({
      package: { container: "other-drops", blobName: "team/contoso.cab" },
      product: { productName: "Contoso USB", testHarness: "attestation", requestedSignatures: ["WINDOWS_v100_X64_RS5_FULL"], isTestSign: false },
      submissionName: "run 1",
    });
    expect(full.ok).toBe(true);

    const resume = parseStartSubmission({ package: "driver-drops/a.hlkx", productId: "14461751976964156", submissionId: "1152921505699924012" });
    expect(resume).toEqual({
      ok: true,
      value: expect.objectContaining({ resume: { productId: "14461751976964156", submissionId: "1152921505699924012" } }),
    });
  });

  test.each<[string, unknown, string[]]>([
    ["not an object", "driver-drops/a.hlkx", ["body"]],
    ["array", [], ["body"]],
    ["missing package", {}, ["package"]],
    ["package without slash", { package: "a.hlkx" }, ["package"]],
    ["wrong extension", { package: "driver-drops/readme.txt" }, ["package"]],
    ["dot-dot segment", { package: { container: "driver-drops", blobName: "a/../b.hlkx" } }, ["package.blobName"]],
    ["leading slash", { package: { container: "driver-drops", blobName: "/b.hlkx" } }, ["package.blobName"]],
    ["control character", { package: "driver-drops/b\u0001.hlkx" }, ["package"]],
    ["too long", { package: `driver-drops/${"x".repeat(1025)}.cab` }, ["package"]],
    ["bad container", { package: { container: "Bad_Container", blobName: "a.cab" } }, ["package.container"]],
    ["unknown top-level field", { package: "driver-drops/a.cab", colour: "red" }, ["colour"]],
    ["unknown package field", { package: { container: "driver-drops", blobName: "a.cab", sas: "x" } }, ["package.sas"]],
    ["unknown product field", { package: "driver-drops/a.cab", product: { name: "x" } }, ["product.name"]],
    ["numeric productId", { package: "driver-drops/a.cab", productId: 14461751976964156 }, ["productId"]],
    ["non-digit submissionId", { package: "driver-drops/a.cab", productId: "1", submissionId: "12a" }, ["submissionId"]],
    ["submissionId without productId", { package: "driver-drops/a.cab", submissionId: "12" }, ["submissionId"]],
    ["product with productId", { package: "driver-drops/a.cab", productId: "12", product: { productName: "x" } }, ["product"]],
    ["caller-chosen instanceId (always derived from the blob version)", { package: "driver-drops/a.cab", instanceId: "my-run" }, ["instanceId"]],
    ["bad harness and empty signatures", { package: "driver-drops/a.cab", product: { testHarness: "whql", requestedSignatures: [] } }, ["product.requestedSignatures", "product.testHarness"]],
    ["bad date", { package: "driver-drops/a.cab", product: { announcementDate: "tomorrow" } }, ["product.announcementDate"]],
    [
      "several problems at once",
      { package: "driver-drops/a.txt", productId: "x", submissionName: "", extra: 1 },
      ["extra", "package", "productId", "submissionName"],
    ],
  ])("%s → %j", (_label, body, fields) => {
    expect(fieldsOf(body)).toEqual([...fields].sort());
  });

  test("reasons explain the rule", () => {
    const result = parseStartSubmission({ productId: 12, package: "driver-drops/a.txt", extra: true });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const reasons = Object.fromEntries(result.problems.map((problem) => [problem.field, problem.reason]));
    expect(reasons.productId).toMatch(/decimal digit string/);
    expect(reasons.package).toMatch(/\.hlkx, \.hckx, \.cab/);
    expect(reasons.extra).toMatch(/not a recognized field/);
    expect(fieldsOf({ package: "driver-drops/a.cab" })).toEqual([]);
    const missing = parseStartSubmission({});
    expect(missing.ok ? [] : missing.problems).toEqual([{ field: "package", reason: "is required" }]);
  });
});

describe("sidecar schema", () => {
  test("accepts product fields plus submissionName at the top level", () => {
    const parsed = sidecarSchema.safeParse({ productName: "Contoso", deviceType: "internal", submissionName: "nightly", marketingNames: ["USB"] });
    expect(parsed.success).toBe(true);
  });

  test("names each bad field", () => {
    const parsed = sidecarSchema.safeParse({ productName: 5, deviceType: "usb", sas: "x" });
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    expect(problemsFromZod(parsed.error).map((problem) => problem.field).sort()).toEqual(["deviceType", "productName", "sas"]);
  });
});

describe("?status= filter", () => {
  test("case-insensitive known names, de-duplicated", () => {
    expect(parseStatusFilter("running, Completed,RUNNING")).toEqual({ ok: true, value: ["Running", "Completed"] });
    expect(parseStatusFilter(null)).toEqual({ ok: true, value: [] });
  });

  test("unknown names are reported under status", () => {
    expect(parseStatusFilter("Running,Done")).toEqual({ ok: false, problems: [{ field: "status", reason: expect.stringMatching(/"Done" is not one of/) }] });
  });
});

describe("bounds on product fields (HTTP body and sidecar)", () => {
  const product = (fields: Record<string, unknown>) => fieldsOf({ package: "driver-drops/a.hlkx", product: fields });
  const many = (n: number, length = 8) => Array.from({ length: n }, (_, i) => `${i}`.padStart(length, "x"));

  test.each<[string, Record<string, unknown>, string]>([
    ["65 requested signatures", { requestedSignatures: many(65) }, "product.requestedSignatures"],
    ["a 129-character signature", { requestedSignatures: ["s".repeat(129)] }, "product.requestedSignatures.0"],
    ["65 marketing names", { marketingNames: many(65) }, "product.marketingNames"],
    ["a 257-character marketing name", { marketingNames: ["m".repeat(257)] }, "product.marketingNames.0"],
    ["65 device metadata ids", { deviceMetadataIds: many(65) }, "product.deviceMetadataIds"],
    ["65 selected product types", { selectedProductTypes: Object.fromEntries(many(65).map((k) => [k, "Unclassified"])) }, "product.selectedProductTypes"],
    ["33 additional attributes", { additionalAttributes: Object.fromEntries(many(33).map((k) => [k, 1])) }, "product.additionalAttributes"],
    ["additional attributes over 4 KiB", { additionalAttributes: { blob: "a".repeat(4096) } }, "product.additionalAttributes"],
    [
      "every field within its bound but 8 KiB together",
      { marketingNames: many(40, 250), requestedSignatures: many(40, 120) },
      "product",
    ],
  ])("%s is refused naming %s", (_label, fields, field) => {
    expect(product(fields)).toEqual([field]);
  });

  /** `depth` arrays inside each other around `inner`: nested(2, 1) is [[1]]. */
  const nested = (depth: number, inner: unknown = 1): unknown => JSON.parse(`${"[".repeat(depth)}${JSON.stringify(inner)}${"]".repeat(depth)}`);

  test("free-form values nested beyond the bound are refused naming the attribute, without a RangeError", () => {
    // About 60 KB: what gave a 500 (JSON.stringify recursing in the byte count).
    const deep = { package: "driver-drops/a.hlkx", product: { additionalAttributes: { a: nested(30_000) } } };
    const parsed = parseStartSubmission(deep);
    expect(parsed).toEqual({ ok: false, problems: [{ field: "product.additionalAttributes.a", reason: "must nest at most 32 arrays/objects deep" }] });
    const sidecar = sidecarSchema.safeParse({ additionalAttributes: { ok: 1, a: { b: nested(30_000) } } });
    expect(sidecar.success).toBe(false);
    if (sidecar.success) return;
    expect(problemsFromZod(sidecar.error)).toEqual([{ field: "additionalAttributes.a", reason: "must nest at most 32 arrays/objects deep" }]);
  });

  test("32 levels are allowed, 33 are not; objects count like arrays", () => {
    const ok = PRODUCT_LIMITS.maxAdditionalAttributeDepth;
    expect(product({ additionalAttributes: { a: nested(ok) } })).toEqual([]);
    expect(product({ additionalAttributes: { a: nested(ok + 1) } })).toEqual(["product.additionalAttributes.a"]);
    const objects = (depth: number): unknown => (depth === 0 ? 1 : { x: objects(depth - 1) });
    expect(product({ additionalAttributes: { a: objects(ok) } })).toEqual([]);
    expect(product({ additionalAttributes: { a: objects(ok + 1) } })).toEqual(["product.additionalAttributes.a"]);
  });

  test("nestingTooDeep is iterative and stops at the bound", () => {
    expect(nestingTooDeep(nested(1_000_000), 3)).toEqual([0, 0, 0]);
    expect(nestingTooDeep({ a: [1, { b: 2 }] }, 3)).toBeUndefined();
    expect(nestingTooDeep({ a: [1, { b: [] }] }, 3)).toEqual(["a", 1, "b"]);
    expect(nestingTooDeep("text", 0)).toBeUndefined();
  });

  test("a sidecar gets the same bounds", () => {
    const parsed = sidecarSchema.safeParse({ marketingNames: many(65) });
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    expect(problemsFromZod(parsed.error)).toEqual([expect.objectContaining({ field: "marketingNames" })]);
  });

  test("the largest valid request keeps the orchestration input under 16 KB", () => {
    // Every field at (or near) its bound, the total just under the product limit, the longest blob name.
    const blobName = `${"n".repeat(1019)}.hlkx`;
    const body = {
      package: { container: "driver-drops", blobName },
      submissionName: "s".repeat(256),
      product: {
        productName: "p".repeat(256),
        firmwareVersion: "f".repeat(64),
        announcementDate: "2025-01-01T00:00:00Z",
        deviceType: "internalExternal",
        isTestSign: false,
        isFlightSign: false,
        testHarness: "hlk",
        requestedSignatures: many(20, 120),
        marketingNames: many(10, 250),
        additionalAttributes: { note: "a".repeat(2100) },
      },
    };
    const parsed = parseStartSubmission(body);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const totalProduct = Buffer.byteLength(JSON.stringify(parsed.value.product));
    expect(totalProduct).toBeGreaterThan(PRODUCT_LIMITS.maxProductBytes - 600); // near the product limit
    const config = parseConfig({ AzureWebJobsStorage: "UseDevelopmentStorage=true", HDC_TENANT_ID: "t", HDC_CLIENT_ID: "c", HDC_CLIENT_SECRET: "s" });
    const input = buildSubmitDriverInput(
      { ...parsed.value, package: { ...parsed.value.package, etag: '"0x8DC0FFEE00000000"', contentLength: 10 ** 9 }, requestedBy: "http" },
      config,
    );
    const serialized = JSON.stringify(input);
    expect(serialized.length).toBeLessThan(16 * 1024);
    expect(Buffer.byteLength(serialized)).toBeLessThan(16 * 1024);
  });
});

describe("settings of the HTTP API and retention", () => {
  const base = { AzureWebJobsStorage: "UseDevelopmentStorage=true", HDC_TENANT_ID: "t", HDC_CLIENT_ID: "c", HDC_CLIENT_SECRET: "s" };

  test("defaults: submissions from the drops container only, 90 days, 03:30 UTC daily", () => {
    const { settings } = parseConfig(base);
    expect(settings.SUBMISSION_CONTAINERS).toBeUndefined(); // the trigger falls back to DROPS_CONTAINER
    expect(settings.RETENTION_DAYS).toBe(90);
    expect(settings.RETENTION_SCHEDULE).toBe("0 30 3 * * *");
    // A cabinet's own ceiling (MS-CAB cbCabinet): a 5 GiB package is refused by default.
    expect(settings.MAX_PACKAGE_BYTES).toBe(0x7fffffff);
    expect(settings.MAX_PACKAGE_BYTES).toBeLessThan(5 * 1024 ** 3);
    expect(parseConfig({ ...base, SUBMISSION_CONTAINERS: " driver-drops , partner-uploads " }).settings.SUBMISSION_CONTAINERS).toEqual(["driver-drops", "partner-uploads"]);
  });

  test.each([
    ["RETENTION_DAYS", "0"],
    ["MAX_PACKAGE_BYTES", "0"],
    ["MAX_PACKAGE_BYTES", "2GB"],
    ["RETENTION_DAYS", "ninety"],
    ["RETENTION_SCHEDULE", "0 30 3 * *"],
    ["RETENTION_SCHEDULE", "daily"],
    ["SUBMISSION_CONTAINERS", "signed-drivers"],
    ["PUBLIC_BASE_URL", "http://signing.example.net"],
    ["PUBLIC_BASE_URL", "https://signing.example.net/api"],
    ["PUBLIC_BASE_URL", "https://signing.example.net/?x=1"],
    ["PUBLIC_BASE_URL", "https://user:pw@signing.example.net"],
    ["PUBLIC_BASE_URL", "signing.example.net"],
    ["PUBLIC_BASE_URL", "https://a b"],
  ])("%s=%s is refused, naming the setting", (name, value) => {
    expect(() => parseConfig({ ...base, [name]: value })).toThrow(new RegExp(name));
  });

  test("PUBLIC_BASE_URL: an https origin (http only on loopback), kept as the bare origin; unset by default", () => {
    expect(parseConfig(base).settings.PUBLIC_BASE_URL).toBeUndefined();
    expect(parseConfig({ ...base, PUBLIC_BASE_URL: "https://Func-X.azurewebsites.net/" }).settings.PUBLIC_BASE_URL).toBe("https://func-x.azurewebsites.net");
    expect(parseConfig({ ...base, PUBLIC_BASE_URL: "http://127.0.0.1:7071" }).settings.PUBLIC_BASE_URL).toBe("http://127.0.0.1:7071");
  });
});

describe("PREFLIGHT (issue 37)", () => {
  const base = { AzureWebJobsStorage: "UseDevelopmentStorage=true", HDC_TENANT_ID: "t", HDC_CLIENT_ID: "c", HDC_CLIENT_SECRET: "s" };
  const request = { package: { container: "driver-drops", blobName: "contoso-1.0.0.cab" }, requestedBy: "eventGrid" as const };

  test("on by default: new inputs ask for the preflight step; off leaves the field out", () => {
    expect(buildSubmitDriverInput(request, parseConfig(base)).preflight).toBe(true);
    expect(buildSubmitDriverInput(request, parseConfig({ ...base, PREFLIGHT: "on" })).preflight).toBe(true);
    expect("preflight" in buildSubmitDriverInput(request, parseConfig({ ...base, PREFLIGHT: "off" }))).toBe(false);
  });

  test("anything but on/off is refused, naming the setting", () => {
    expect(() => parseConfig({ ...base, PREFLIGHT: "yes" })).toThrow(/PREFLIGHT/);
  });

  test("labelPreview is asked for only with a dry-run publish policy and preflight on", () => {
    const dryRun = { ...request, publish: { destination: "anotherPartner" as const, receiverPublisherId: "1", dryRun: true } };
    expect(buildSubmitDriverInput(dryRun, parseConfig(base)).labelPreview).toBe(true);
    expect("labelPreview" in buildSubmitDriverInput(dryRun, parseConfig({ ...base, PREFLIGHT: "off" }))).toBe(false);
    expect("labelPreview" in buildSubmitDriverInput({ ...dryRun, publish: { ...dryRun.publish, dryRun: false } }, parseConfig(base))).toBe(false);
    expect("labelPreview" in buildSubmitDriverInput(request, parseConfig(base))).toBe(false);
  });
});
