/**
 * fast-check generators of bad input for the proof suite (test/proof/badInput.test.ts). Every case
 * carries the field a correct answer must name, so a test can check "400 listing that field" or
 * "rejection manifest whose reason names it".
 */
import fc from "fast-check";

export interface BadCase<T> {
  /** What kind of badness (for the failure message). */
  kind: string;
  input: T;
  /** A field name the answer must mention (prefix match: "package" accepts "package.blobName"). */
  field: string;
}

const KNOWN_BODY_FIELDS = new Set(["package", "product", "submissionName", "submissionType", "productId", "submissionId"]);
const KNOWN_PRODUCT_FIELDS = new Set([
  "productName",
  "testHarness",
  "announcementDate",
  "deviceMetadataIds",
  "firmwareVersion",
  "deviceType",
  "isTestSign",
  "isFlightSign",
  "marketingNames",
  "selectedProductTypes",
  "requestedSignatures",
  "additionalAttributes",
]);
const KNOWN_SIDECAR_FIELDS = new Set([...KNOWN_PRODUCT_FIELDS, "submissionName", "submissionType"]);

const EXTENSION = fc.constantFrom(".hlkx", ".hckx", ".cab");
const SAFE_SEGMENT = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,15}$/);
const CONTROL = fc.integer({ min: 0, max: 0x1f }).chain((c) => fc.constantFrom(String.fromCharCode(c), "\u007f"));

/** Not a string (for fields that must be strings). */
export const notAString = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
);

/** A huge string: 1,100 to 200,000 characters of varied content. */
export const hugeString = fc
  .tuple(fc.string({ minLength: 1, maxLength: 8, unit: "grapheme" }), fc.integer({ min: 1_100, max: 200_000 }))
  .map(([seed, length]) => seed.repeat(Math.ceil(length / seed.length)).slice(0, length))
  .filter((s) => s.trim().length > 1_024);

/** Blob names that must never be acted on: traversal, absolute paths, control characters, over 1024 characters. */
export const unsafeBlobName: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.array(SAFE_SEGMENT, { maxLength: 2 }), fc.constantFrom("../", "..\\", "%2e%2e/", "%2E%2E%2F", "..%2f", "%2e%2e%5c", ".%2e/"), SAFE_SEGMENT, EXTENSION).map(
    ([before, dots, name, ext]) => `${before.map((s) => `${s}/`).join("")}${dots}${name}${ext}`,
  ),
  SAFE_SEGMENT.map((name) => `${name}/..`),
  fc.tuple(fc.constantFrom("/", "\\", "C:\\", "c:/", "\\\\server\\share\\", "//"), SAFE_SEGMENT, EXTENSION).map(([root, name, ext]) => `${root}${name}${ext}`),
  fc.tuple(SAFE_SEGMENT, CONTROL, SAFE_SEGMENT, EXTENSION).map(([a, c, b, ext]) => `${a}${c}${b}${ext}`),
  fc.tuple(fc.integer({ min: 1_025, max: 5_000 }), EXTENSION).map(([length, ext]) => `${"a".repeat(length - ext.length)}${ext}`),
);

export const badContainer = fc.oneof(
  fc.stringMatching(/^[A-Z][A-Za-z0-9]{2,10}$/),
  fc.constantFrom("", "a", "ab", "a--b", "-abc", "abc-", "..", "../driver-drops", "driver_drops", "Driver-Drops", "drops%2f..", "a b c", "x".repeat(64)),
  fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(s) && !s.includes("/")),
);

const invalidDecimalId = fc.oneof(
  fc.stringMatching(/^[0-9]{0,5}[a-zA-Z .+e][0-9]{0,5}$/),
  fc.bigInt({ min: 10n ** 20n, max: 10n ** 40n }).map(String),
  fc.bigInt({ min: -(10n ** 19n), max: -1n }).map(String),
  fc.constantFrom("", " 1", "1 ", "0x10", "1e5", "-0", "+1", "１２３"),
  notAString,
);

const invalidInstanceId = fc.oneof(
  fc.constantFrom("", "-abc", "_abc", "a b", "../x", "a/b", "a\\b", "a%2fb", "é", "a.b"),
  fc.string({ minLength: 101, maxLength: 300 }).map((s) => `a${s.replace(/[^A-Za-z0-9_-]/g, "x")}`),
  fc.tuple(SAFE_SEGMENT, fc.constantFrom(" ", "/", "?", "#", "%", ".", ":", "\u0000")).map(([a, c]) => `${a}${c}`),
  notAString,
);

/** One wrong product field (type, length, enum or unknown key). */
const productEntry = (huge: fc.Arbitrary<string>): fc.Arbitrary<[string, unknown]> => fc.oneof(
  fc.tuple(fc.constantFrom("productName", "firmwareVersion"), fc.oneof(notAString, huge, fc.constant("   "), CONTROL.map((c) => `x${c}y`))),
  fc.tuple(fc.constantFrom("testHarness", "deviceType"), fc.oneof(notAString, fc.string({ maxLength: 10 }).filter((s) => !["hlk", "hck", "attestation", "notset", "internal", "external", "internalExternal", "notSet"].includes(s)))),
  fc.tuple(fc.constant("announcementDate"), fc.oneof(notAString, fc.constantFrom("tomorrow", "2025-13-01T00:00:00Z", "2025-01-01", ""))),
  fc.tuple(fc.constantFrom("isTestSign", "isFlightSign"), fc.oneof(fc.constantFrom("true", "false", 0, 1, null), fc.string({ maxLength: 4 }))),
  fc.tuple(fc.constantFrom("deviceMetadataIds", "marketingNames", "requestedSignatures"), fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.array(fc.oneof(fc.integer(), fc.constant(null)), { minLength: 1, maxLength: 3 }))),
  fc.tuple(fc.constant("requestedSignatures"), fc.constant([])),
  fc.tuple(fc.constantFrom("selectedProductTypes", "additionalAttributes"), fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.array(fc.integer(), { maxLength: 2 }))),
  fc.tuple(fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !KNOWN_SIDECAR_FIELDS.has(k) && k !== "__proto__"), fc.jsonValue({ maxDepth: 1 })),
);
/** HTTP bodies stay under the 64 KiB body limit (≤ 8,000 UTF-16 units, ≤ 6 bytes each once JSON-escaped): the field, not the size, is what is bad. */
const httpHugeString = hugeString.map((s) => s.slice(0, 8_000)).filter((s) => s.trim().length > 1_024);
const badProductEntry = productEntry(httpHugeString);
/** Sidecars over 64 KiB are refused whole; field-level cases stay well under that. */
const badSidecarEntry = productEntry(hugeString.map((s) => s.slice(0, 4_000)).filter((s) => s.trim().length > 1_024));

const fieldOf = (key: string, prefix: string) => (prefix ? `${prefix}.${key}` : key);

/** A request body that names no blob that exists; bad cases add exactly one defect. */
const baseBody = (blobName: string) => ({ package: `driver-drops/proof-missing-${blobName}.hlkx` });

/** Raw POST /api/submissions bodies (text, so malformed JSON is possible). */
export const badSubmissionBody: fc.Arbitrary<BadCase<string>> = fc.oneof(
  // JSON that is not an object.
  fc.oneof(fc.integer(), fc.string({ maxLength: 30 }), fc.boolean(), fc.constant(null), fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 })).map((value) => ({
    kind: "not an object",
    input: JSON.stringify(value),
    field: "body",
  })),
  // Malformed JSON.
  fc
    .oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom("{", "{\"package\":", "{'package':'a/b.hlkx'}", "{\"package\":\"a/b.hlkx\",}", "\u0000", "NaN", "{\"a\":undefined}"),
      fc.jsonValue().map((v) => JSON.stringify({ package: v }).slice(0, -1)),
    )
    .filter((text) => {
      try {
        JSON.parse(text);
        return false;
      } catch {
        return true;
      }
    })
    .map((text) => ({ kind: "malformed JSON", input: text, field: "body" })),
  // Missing package.
  fc.record({ submissionName: fc.string({ minLength: 1, maxLength: 10 }).filter((s) => s.trim().length > 0 && !/[\u0000-\u001f\u007f]/.test(s)) }, { requiredKeys: [] }).map((body) => ({
    kind: "missing package",
    input: JSON.stringify(body),
    field: "package",
  })),
  // Package of the wrong type or shape.
  fc.tuple(SAFE_SEGMENT, fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.record({ container: notAString, blobName: fc.string() }), fc.record({ container: fc.constant("driver-drops"), blobName: notAString }), fc.record({ container: fc.constant("driver-drops") }), fc.record({ container: fc.constant("driver-drops"), blobName: fc.constant("x.hlkx"), extra: fc.integer() }))).map(([_, pkg]) => ({
    kind: "package wrong type",
    input: JSON.stringify({ package: pkg }),
    field: "package",
  })),
  // Unsafe blob names, as "container/name" and as an object.
  fc.tuple(unsafeBlobName, fc.boolean()).map(([blobName, asObject]) => ({
    kind: "unsafe blob name",
    input: JSON.stringify({ package: asObject ? { container: "driver-drops", blobName } : `driver-drops/${blobName}` }),
    field: asObject ? "package.blobName" : "package",
  })),
  // Wrong extension.
  fc.tuple(SAFE_SEGMENT, fc.constantFrom(".zip", ".exe", ".hlk", ".cab.txt", "", ".HLKX.bak", ".sys")).map(([name, ext]) => ({
    kind: "wrong extension",
    input: JSON.stringify({ package: { container: "driver-drops", blobName: `${name}${ext}` } }),
    field: "package.blobName",
  })),
  // Invalid containers.
  fc.tuple(badContainer, fc.boolean()).map(([container, asObject]) => ({
    kind: "invalid container",
    input: JSON.stringify({ package: asObject ? { container, blobName: "x.hlkx" } : `${container}/x.hlkx` }),
    field: "package",
  })),
  // Unknown top-level fields.
  fc.tuple(fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !KNOWN_BODY_FIELDS.has(k) && k !== "__proto__"), fc.jsonValue({ maxDepth: 2 }), SAFE_SEGMENT).map(([key, value, name]) => ({
    kind: "unknown field",
    input: JSON.stringify({ ...baseBody(name), [key]: value }),
    field: key,
  })),
  // Wrong types / huge strings for the scalar fields.
  fc.tuple(fc.constantFrom("submissionName", "submissionType"), fc.oneof(notAString, httpHugeString, fc.constant("other")), SAFE_SEGMENT).map(([key, value, name]) => ({
    kind: `bad ${key}`,
    input: JSON.stringify({ ...baseBody(name), [key]: key === "submissionName" && value === "other" ? "" : value }),
    field: key,
  })),
  fc.tuple(invalidInstanceId, SAFE_SEGMENT).map(([value, name]) => ({ kind: "bad instanceId", input: JSON.stringify({ ...baseBody(name), instanceId: value }), field: "instanceId" })),
  fc.tuple(fc.constantFrom("productId", "submissionId"), invalidDecimalId, SAFE_SEGMENT).map(([key, value, name]) => ({
    kind: `bad ${key}`,
    input: JSON.stringify({ ...baseBody(name), productId: "123", [key]: value }),
    field: key,
  })),
  // A bad product field, or a product that is not an object.
  fc.tuple(badProductEntry, SAFE_SEGMENT).map(([[key, value], name]) => ({
    kind: "bad product field",
    input: JSON.stringify({ ...baseBody(name), product: { [key]: value } }),
    field: fieldOf(key, "product"),
  })),
  // The app's and the host's containers, and containers not configured for submissions.
  fc.tuple(fc.constantFrom("signed-drivers", "signing-state", "azure-webjobs-secrets", "azure-webjobs-hosts", "driversigninghub-leases", "driversigninghub-largemessages", "other-drops"), SAFE_SEGMENT, fc.boolean()).map(([container, name, asObject]) => ({
    kind: "container not for submissions",
    input: JSON.stringify({ package: asObject ? { container, blobName: `${name}.hlkx` } : `${container}/${name}.hlkx` }),
    field: "package",
  })),
  // Lists and objects over their bounds.
  fc.tuple(fc.constantFrom("requestedSignatures", "marketingNames", "deviceMetadataIds"), fc.integer({ min: 65, max: 400 }), SAFE_SEGMENT).map(([key, count, name]) => ({
    kind: "too many items",
    input: JSON.stringify({ ...baseBody(name), product: { [key]: Array.from({ length: count }, (_, i) => `item-${i}`) } }),
    field: `product.${key}`,
  })),
  fc.tuple(fc.constantFrom("selectedProductTypes", "additionalAttributes"), fc.integer({ min: 65, max: 300 }), SAFE_SEGMENT).map(([key, count, name]) => ({
    kind: "too many entries",
    input: JSON.stringify({ ...baseBody(name), product: { [key]: Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, "Unclassified"])) } }),
    field: `product.${key}`,
  })),
  fc.tuple(fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.array(fc.integer(), { maxLength: 2 }), fc.constant(null)), SAFE_SEGMENT).map(([product, name]) => ({
    kind: "product not an object",
    input: JSON.stringify({ ...baseBody(name), product }),
    field: "product",
  })),
);

/** Sidecar documents (`<package>.json` content) that must reject the package. */
export const badSidecar: fc.Arbitrary<BadCase<string>> = fc.oneof(
  { weight: 6, arbitrary: badSidecarEntry.map(([key, value]) => ({ kind: "bad sidecar field", input: JSON.stringify({ [key]: value }), field: key })) },
  fc.tuple(fc.constantFrom("submissionName", "submissionType"), fc.oneof(notAString, fc.constant(""), hugeString.map((s) => s.slice(0, 5_000)))).map(([key, value]) => ({
    kind: "bad sidecar field",
    input: JSON.stringify({ [key]: value }),
    field: key,
  })),
  fc
    .oneof(fc.string({ maxLength: 40 }), fc.constantFrom("{", "{\"productName\":", "", "\u0000{}", "{productName: 'x'}"))
    .filter((text) => {
      try {
        JSON.parse(text);
        return false;
      } catch {
        return true;
      }
    })
    .map((text) => ({ kind: "malformed sidecar", input: text, field: "sidecar" })),
  fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.boolean()).map((value) => ({
    kind: "sidecar not an object",
    input: JSON.stringify(value),
    field: "sidecar",
  })),
  fc.integer({ min: 64 * 1024 + 1, max: 200_000 }).map((size) => ({
    kind: "oversized sidecar",
    input: JSON.stringify({ productName: "x".repeat(size) }),
    field: "sidecar",
  })),
);

export interface EventCase extends BadCase<string> {
  /**
   * "envelope": the replay endpoint must answer 400 naming the field; "rejected": a rejection manifest
   * for `blobName`; "ignored": not for this app; "unverified": the event does not match a blob in
   * storage (none there, or no usable eTag), so nothing is started or written for it.
   */
  expect: "envelope" | "rejected" | "ignored" | "unverified";
  blobName?: string;
  /** Upload these bytes as `blobName` first and send the event with the blob's real ETag (issue 21: only real blobs are acted on). */
  upload?: Buffer;
}

const DROPS_SUBJECT = (blobName: string) => `/blobServices/default/containers/driver-drops/blobs/${blobName}`;

export function blobCreatedEvent(id: string, blobName: string, data: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    topic: "/subscriptions/local/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
    subject: DROPS_SUBJECT(blobName),
    eventType: "Microsoft.Storage.BlobCreated",
    eventTime: "2025-01-01T00:00:00.000Z",
    dataVersion: "",
    metadataVersion: "1",
    data: {
      api: "PutBlob",
      eTag: `"0x8D${id.replace(/[^0-9A-F]/gi, "").slice(0, 10).toUpperCase() || "1"}"`,
      contentType: "application/octet-stream",
      contentLength: 4096,
      blobType: "BlockBlob",
      url: `http://127.0.0.1/devstoreaccount1/driver-drops/${encodeURIComponent(blobName)}`,
      ...data,
    },
  };
}

const ENVELOPE_FIELDS = ["id", "subject", "eventType", "eventTime", "data"] as const;

/** Malformed or unwanted Event Grid deliveries for POST /_local/eventgrid; `n` keeps ids and names distinct. */
export const badEvent: fc.Arbitrary<(n: number) => EventCase> = fc.oneof(
  // Malformed JSON body.
  fc
    .oneof(fc.string({ maxLength: 30 }), fc.constantFrom("{", "[{]", "{\"id\":", "[1,", "\u0000"))
    .filter((text) => {
      try {
        JSON.parse(text);
        return false;
      } catch {
        return true;
      }
    })
    .map((text) => () => ({ kind: "malformed JSON", input: text, field: "body", expect: "envelope" as const })),
  // Events that are not objects.
  fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null), fc.boolean(), fc.constant([[]])).map((value) => () => ({
    kind: "event not an object",
    input: JSON.stringify(value),
    field: "event",
    expect: "envelope" as const,
  })),
  // A required envelope field missing or of the wrong type.
  fc.tuple(fc.constantFrom(...ENVELOPE_FIELDS), fc.option(notAString, { nil: undefined }), SAFE_SEGMENT).map(([field, value, name]) => (n: number) => {
    const event = blobCreatedEvent(`evt-envelope-${n}`, `proof-eg-${n}-${name}.hlkx`);
    if (value === undefined) delete event[field];
    else event[field] = field === "data" && value !== null && typeof value === "object" && !Array.isArray(value) ? 5 : value;
    return { kind: value === undefined ? `missing ${field}` : `wrong type ${field}`, input: JSON.stringify(event), field, expect: "envelope" as const };
  }),
  // Wrong event type or a subject outside the drops container: not for this app.
  fc.tuple(fc.oneof(fc.constantFrom("Microsoft.Storage.BlobDeleted", "Microsoft.Storage.BlobRenamed", "microsoft.storage.blobcreated"), fc.string({ minLength: 1, maxLength: 20 }).filter((t) => t !== "Microsoft.Storage.BlobCreated")), SAFE_SEGMENT).map(([eventType, name]) => (n: number) => ({
    kind: "wrong eventType",
    input: JSON.stringify({ ...blobCreatedEvent(`evt-type-${n}`, `proof-eg-${n}-${name}.hlkx`), eventType }),
    field: "eventType",
    expect: "ignored" as const,
  })),
  fc.tuple(fc.oneof(badContainer, fc.constantFrom("signed-drivers", "signing-state", "other-drops")), SAFE_SEGMENT, fc.boolean()).map(([container, name, odd]) => (n: number) => ({
    kind: "subject outside drops",
    input: JSON.stringify({
      ...blobCreatedEvent(`evt-subject-${n}`, `proof-eg-${n}-${name}.hlkx`),
      subject: odd ? `/blobServices/default/containers/driver-drops/../${container}/blobs/${name}.hlkx` : `/blobServices/default/containers/${container}/blobs/${name}.hlkx`,
    }),
    field: "subject",
    expect: "ignored" as const,
  })),
  // Drops-container events with data of the wrong types.
  fc.tuple(fc.constantFrom("eTag", "contentLength"), notAString, SAFE_SEGMENT).map(([key, value, name]) => (n: number) => {
    const blobName = `proof-eg-${n}-${name}.hlkx`;
    const bad = key === "contentLength" ? (typeof value === "number" ? String(value) : value) : typeof value === "string" ? 5 : value;
    // No such blob: the event is not trusted with anything (issue 21), whatever its data says.
    return { kind: `data.${key} wrong type`, input: JSON.stringify(blobCreatedEvent(`evt-data-${n}`, blobName, { [key]: bad })), field: `data.${key}`, expect: "unverified" as const, blobName };
  }),
  fc.tuple(fc.oneof(fc.integer({ min: -1_000_000, max: -1 }), fc.constantFrom(0, 1.5, -0.5)), SAFE_SEGMENT).map(([contentLength, name]) => (n: number) => {
    const blobName = `proof-eg-${n}-${name}.hlkx`;
    return { kind: "data.contentLength not a size", input: JSON.stringify(blobCreatedEvent(`evt-len-${n}`, blobName, { contentLength })), field: "contentLength", expect: "unverified" as const, blobName };
  }),
  // Huge or odd blob names in the drops container.
  unsafeBlobName.map((unsafe) => (n: number) => {
    // Storage holds no blob under such a name (it cannot be created as written): nothing may be written for it.
    return { kind: "unsafe blob name", input: JSON.stringify(blobCreatedEvent(`evt-name-${n}`, unsafe)), field: "blobName", expect: "unverified" as const, blobName: unsafe };
  }),
  fc.tuple(SAFE_SEGMENT, fc.constantFrom(".zip", ".exe", ".txt", "", ".hlkx.part")).map(([name, ext]) => (n: number) => {
    const blobName = `proof-eg-${n}-${name}${ext}`;
    // A real blob of that name: the event carries its real ETag (patched in by the test after the upload).
    return { kind: "wrong extension", input: JSON.stringify(blobCreatedEvent(`evt-ext-${n}`, blobName)), field: "blobName", expect: "rejected" as const, blobName, upload: Buffer.from(`not a package ${n}`) };
  }),
);

/** Bodies over the 64 KiB limit: sizes from just over it to 2 MiB, sent with a Content-Length or chunked. */
export const oversizedBody = fc.tuple(fc.integer({ min: 64 * 1024 + 1, max: 2 * 1024 * 1024 }), fc.boolean()).map(([size, chunked]) => ({
  size,
  chunked,
  text: JSON.stringify({ package: "driver-drops/x.hlkx", submissionName: "x".repeat(size) }).slice(0, size),
}));
