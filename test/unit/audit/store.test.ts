/**
 * The audit store against real Azurite (issue 33): one blob per record named by time, created with
 * If-None-Match: * so an existing record is never overwritten; no delete path; nothing secret kept;
 * the reader filters and pages.
 */
import { createHash } from "node:crypto";
import { BlobServiceClient } from "@azure/storage-blob";
import type { AzuriteHandle } from "../../../local/azurite";
import * as store from "../../../src/audit/store";
import { AuditOverwriteRefused, createAuditBlob, keyedRecordExists, readAuditPage, writeAuditRecord } from "../../../src/audit/store";
import { auditBlobName, auditPrefixFor, auditQueryProblems, looksSecret, type AuditRecord } from "../../../src/domain/audit";
import { startStorage, testConfig } from "../activities/support";

let azurite: AzuriteHandle;
let service: BlobServiceClient;
beforeAll(async () => {
  azurite = await startStorage();
  service = BlobServiceClient.fromConnectionString(azurite.connectionString);
});
afterAll(async () => {
  await azurite?.stop();
});

const alice = { objectId: "aaaaaaaa-0000-4000-8000-000000000001", name: "Alice", clientAppId: "cli-app", roles: ["Sign.Submit"] };
const bob = { objectId: "bbbbbbbb-0000-4000-8000-000000000002", name: "Bob", roles: ["Sign.Operate"] };

function record(overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    time: "2026-12-07T06:15:00.000Z",
    principal: alice,
    action: "submission.start",
    target: { instance: "drv-0123456789abcdef0123456789abcdef", package: "driver-drops/pkg.zip" },
    outcome: { result: "ok", reason: "202 started" },
    requestId: "inv-1",
    clientAddress: "10.0.0.5",
    ...overrides,
  };
}

async function allBlobs(container: string): Promise<string[]> {
  const names: string[] = [];
  for await (const item of service.getContainerClient(container).listBlobsFlat()) names.push(item.name);
  return names;
}

test("a record is one blob in AUDIT_CONTAINER named yyyy/mm/dd/hh/<time>-<random>.json, holding the record", async () => {
  const config = testConfig(azurite.connectionString, { AUDIT_CONTAINER: "audit-one" });
  const name = await writeAuditRecord(service, config, record());
  expect(name).toMatch(/^2026\/12\/07\/06\/20261207T061500000Z-[0-9a-f]{16}\.json$/);
  expect(await allBlobs("audit-one")).toEqual([name]);
  const stored = JSON.parse((await service.getContainerClient("audit-one").getBlobClient(name).downloadToBuffer()).toString("utf8"));
  expect(stored).toEqual(record());
});

test("an existing record is never overwritten: the app's only write path refuses (If-None-Match: *) and the blob keeps its content", async () => {
  const config = testConfig(azurite.connectionString, { AUDIT_CONTAINER: "audit-overwrite" });
  const name = await writeAuditRecord(service, config, record());
  const container = service.getContainerClient("audit-overwrite");
  const before = await container.getBlobClient(name).downloadToBuffer();
  await expect(createAuditBlob(container, name, JSON.stringify(record({ action: "submission.cancel" })), {})).rejects.toBeInstanceOf(AuditOverwriteRefused);
  expect((await container.getBlobClient(name).downloadToBuffer()).equals(before)).toBe(true);
});

test("a keyed record (an action a trigger may run twice for) is found by its key only, and a second writer finds the first's record", async () => {
  const config = testConfig(azurite.connectionString, { AUDIT_CONTAINER: "audit-keyed" });
  expect(await keyedRecordExists(service, config, "drop:drv-1")).toBe(false);
  const name = await writeAuditRecord(service, config, record({ action: "drop", time: "2026-12-07T07:59:00.000Z" }), { key: "drop:drv-1" });
  expect(name).toMatch(/^2026\/12\/07\/07\/20261207T075900000Z-[0-9a-f]{16}\.json$/);
  expect(await keyedRecordExists(service, config, "drop:drv-1")).toBe(true);
  expect(await keyedRecordExists(service, config, "drop:drv-2")).toBe(false);
  // Another delivery of the same action, later: it lands on the first record's name, which stays as written.
  const first = (await service.getContainerClient("audit-keyed").getBlobClient(name).downloadToBuffer()).toString();
  await expect(writeAuditRecord(service, config, record({ action: "drop", time: "2026-12-07T08:30:00.000Z", requestId: "inv-2" }), { key: "drop:drv-1" })).resolves.toBe(name);
  const blobs = await allBlobs("audit-keyed");
  expect(blobs.filter((b) => !b.startsWith("keys/"))).toEqual([name]);
  expect((await service.getContainerClient("audit-keyed").getBlobClient(name).downloadToBuffer()).toString()).toBe(first);
  // The key's index is no record: the reader skips it.
  expect((await readAuditPage(service, config, {})).records).toHaveLength(1);
});

test("writers of one keyed action at once (different clocks) leave exactly one record", async () => {
  const config = testConfig(azurite.connectionString, { AUDIT_CONTAINER: "audit-keyed-race" });
  const times = ["2026-12-07T09:00:00.000Z", "2026-12-07T09:00:00.250Z", "2026-12-07T09:00:01.999Z", "2026-12-07T09:00:02.500Z"];
  const names = await Promise.all(times.map((time, n) => writeAuditRecord(service, config, record({ action: "drop", time, requestId: `inv-${n}` }), { key: "drop:drv-race" })));
  expect(new Set(names).size).toBe(1);
  expect((await allBlobs("audit-keyed-race")).filter((b) => !b.startsWith("keys/"))).toEqual([names[0]]);
  expect((await readAuditPage(service, config, {})).records).toHaveLength(1);
});

test("a writer that stopped between the key's index and its record: the next one writes the record under the indexed name", async () => {
  const config = testConfig(azurite.connectionString, { AUDIT_CONTAINER: "audit-keyed-gap" });
  const container = service.getContainerClient("audit-keyed-gap");
  await container.createIfNotExists();
  const indexed = "2026/12/07/10/20261207T100000000Z-0123456789abcdef.json";
  // What a first writer leaves when it dies after claiming the key.
  await createAuditBlob(container, `keys/${createHash("sha256").update("drop:drv-gap").digest("hex").slice(0, 16)}.json`, JSON.stringify({ record: indexed }), {});
  expect(await allBlobs("audit-keyed-gap")).toEqual([expect.stringMatching(/^keys\/[0-9a-f]{16}\.json$/)]);
  expect(await keyedRecordExists(service, config, "drop:drv-gap")).toBe(false);
  const name = await writeAuditRecord(service, config, record({ action: "drop", time: "2026-12-07T10:05:00.000Z" }), { key: "drop:drv-gap" });
  expect(name).toBe(indexed);
  expect(await keyedRecordExists(service, config, "drop:drv-gap")).toBe(true);
});

test("the audit module has no delete and no overwrite: its exports are the writer, the reader and the refusal", () => {
  expect(Object.keys(store).sort()).toEqual(["AuditOverwriteRefused", "MAX_AUDIT_PAGE", "auditStoreReady", "createAuditBlob", "keyedRecordExists", "readAuditPage", "writeAuditRecord"]);
});

test("nothing secret is stored: tokens, SAS signatures, function keys and account keys are masked, URLs lose their query", async () => {
  const config = testConfig(azurite.connectionString, { AUDIT_CONTAINER: "audit-secrets" });
  const jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJvaWQiOiJ4In0.c2lnbmF0dXJl";
  await writeAuditRecord(
    service,
    config,
    record({
      principal: { ...alice, name: `Bearer ${jwt}` },
      target: { package: "https://acct.blob.core.windows.net/drops/p.zip?sv=2024&sig=abcDEF%2B123&se=2027" },
      outcome: { result: "failed", reason: `storage said AccountKey=c2VjcmV0a2V5; DefaultEndpointsProtocol=https, code https://app/api/x?code=funckey123 token ${jwt}` },
      clientAddress: "1.2.3.4",
    }),
  );
  const [name] = await allBlobs("audit-secrets");
  const text = (await service.getContainerClient("audit-secrets").getBlobClient(name).downloadToBuffer()).toString("utf8");
  expect(looksSecret(text)).toBe(false);
  for (const secret of [jwt, "abcDEF", "c2VjcmV0a2V5", "funckey123", "sig="]) expect(text).not.toContain(secret);
  expect(text).toContain("https://acct.blob.core.windows.net/drops/p.zip");
});

test("the secret scan itself finds each kind of secret (so a clean scan means something)", () => {
  for (const leak of ["Authorization: Bearer abc.def", "x?sv=1&sig=abc", "AccountKey=abc==", "eyJhbGciOi.eyJvaWQiOiJ4.sig", "https://a/api?code=k", '{"access_token":"x"}']) {
    expect(looksSecret(leak)).toBe(true);
  }
});

test("the reader filters by submission, principal, action and time range, oldest first, and pages with a continuation token", async () => {
  const config = testConfig(azurite.connectionString, { AUDIT_CONTAINER: "audit-read" });
  const times = ["2026-12-06T23:59:59.000Z", "2026-12-07T06:00:00.000Z", "2026-12-07T06:30:00.000Z", "2026-12-07T07:00:00.000Z", "2026-12-08T00:00:00.000Z"];
  for (const [i, time] of times.entries()) {
    await writeAuditRecord(
      service,
      config,
      record({ time, principal: i % 2 ? bob : alice, action: i === 2 ? "submission.cancel" : "submission.start", target: { instance: `drv-${i}`, submission: `sub-${i}` } }),
    );
  }
  const read = async (query: Parameters<typeof readAuditPage>[2]) => (await readAuditPage(service, config, query, 100)).records.map((r) => r.time);
  expect(await read({})).toEqual(times);
  expect(await read({ principal: bob.objectId })).toEqual([times[1], times[3]]);
  expect(await read({ action: "submission.cancel" })).toEqual([times[2]]);
  expect(await read({ submission: "drv-3" })).toEqual([times[3]]);
  expect(await read({ submission: "sub-4" })).toEqual([times[4]]);
  expect(await read({ from: "2026-12-07", to: "2026-12-08" })).toEqual([times[1], times[2], times[3]]);
  expect(await read({ from: "2026-12-07T07:30:00+01:00", to: "2026-12-07T07:00:00Z" })).toEqual([times[2]]);

  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await readAuditPage(service, config, {}, 2, token);
    expect(page.records.length).toBeLessThanOrEqual(2);
    seen.push(...page.records.map((r) => r.time));
    token = page.continuationToken;
    pages++;
  } while (token);
  expect(seen).toEqual(times);
  expect(pages).toBe(3);
});

test("a container that does not exist yet reads as no records", async () => {
  const config = testConfig(azurite.connectionString, { AUDIT_CONTAINER: "audit-none" });
  expect(await readAuditPage(service, config, {})).toEqual({ records: [] });
});

test("names sort by time and a range narrows the listing to its shared prefix", () => {
  expect(auditBlobName("2026-01-02T03:04:05.678Z", "abcdef12")).toBe("2026/01/02/03/20260102T030405678Z-abcdef12.json");
  expect(auditPrefixFor("2026-12-07T06:00:00Z", "2026-12-07T07:00:00Z")).toBe("2026/12/07/06/");
  expect(auditPrefixFor("2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z")).toBe("2026/12/07/");
  expect(auditPrefixFor("2026-11-30T00:00:00Z", "2026-12-08T00:00:00Z")).toBe("2026/");
  expect(auditPrefixFor(undefined, "2026-12-08T00:00:00Z")).toBe("");
});

test("bad filters are refused naming the field", () => {
  expect(auditQueryProblems({ from: "yesterday", principal: "a b", to: "2026-12-07" })).toEqual([
    { field: "from", reason: expect.stringContaining("ISO 8601") },
    { field: "principal", reason: expect.stringContaining("letters, digits") },
  ]);
  expect(auditQueryProblems({ from: "2026-12-08", to: "2026-12-07" })).toEqual([{ field: "to", reason: "must be after from" }]);
});

test("AUDIT_CONTAINER shares its container with nothing and is never a submission container", () => {
  expect(testConfig("UseDevelopmentStorage=true").settings.AUDIT_CONTAINER).toBe("signing-audit");
  expect(() => testConfig("UseDevelopmentStorage=true", { AUDIT_CONTAINER: "signing-state" })).toThrow(/AUDIT_CONTAINER.*must differ from STATE_CONTAINER/);
  expect(() => testConfig("UseDevelopmentStorage=true", { AUDIT_CONTAINER: "driver-drops" })).toThrow(/AUDIT_CONTAINER.*must differ from DROPS_CONTAINER/);
  expect(() => testConfig("UseDevelopmentStorage=true", { SUBMISSION_CONTAINERS: "driver-drops,signing-audit" })).toThrow(/SUBMISSION_CONTAINERS.*signing-audit/);
});
