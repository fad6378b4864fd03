/**
 * The local runtime's own parts, checked without the app: route templates, the Event Grid watcher
 * and its delivery ledger against a real Azurite, and the hand-written ZIP of the sample package.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { startAzurite, type AzuriteHandle } from "../../local/azurite";
import { EventGridWatcher, type BlobCreatedData, type EventGridEvent } from "../../local/runtime/eventGridWatcher";
import { pathSegmentsOf, RouteTemplate } from "../../local/runtime/routes";
import { crc32, samplePackage } from "../../local/samplePackage";

describe("route templates", () => {
  const match = (template: string, pathname: string) => new RouteTemplate(template).match(pathSegmentsOf(pathname))?.params;

  it("matches literals and {params}, case-insensitively on literals", () => {
    expect(match("submissions", "/Submissions")).toEqual({});
    expect(match("submissions/{id}", "/submissions/abc%20d")).toEqual({ id: "abc d" });
    expect(match("submissions/{id}/cancel", "/submissions/x/cancel")).toEqual({ id: "x" });
    expect(match("submissions/{id}", "/submissions")).toBeUndefined();
    expect(match("submissions/{id}", "/submissions/x/cancel")).toBeUndefined();
  });

  it("supports optional, constrained and catch-all parameters", () => {
    expect(match("items/{id:int?}", "/items")).toEqual({});
    expect(match("items/{id:int?}", "/items/3")).toEqual({ id: "3" });
    expect(match("files/{*rest}", "/files/a/b/c")).toEqual({ rest: "a/b/c" });
  });

  it("ranks literal segments above parameters", () => {
    expect(new RouteTemplate("submissions/{id}/cancel").specificity).toBeGreaterThan(new RouteTemplate("submissions/{id}/{x}").specificity);
  });
});

describe("sample package", () => {
  it("computes the standard CRC-32 check value", () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
  });

  it("is a ZIP that an independent reader (Python's zipfile) accepts, with the three placeholder files", () => {
    const pkg = samplePackage({ folder: "contoso-demo", version: "1.0.0" });
    expect(pkg.fileName).toBe("contoso-demo-1.0.0.hlkx");
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "zip-")), pkg.fileName);
    fs.writeFileSync(file, pkg.bytes);
    // python3 is on every machine of this project's kind; testzip() checks every entry's CRC.
    const check = "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print('bad entry:', z.testzip()); print(chr(10).join(z.namelist()))";
    const listing = execFileSync("python3", ["-c", check, file], { encoding: "utf8" });
    expect(listing).toContain("bad entry: None");
    for (const name of ["contoso.inf", "contoso.sys", "contoso.cat"]) expect(listing).toContain(`contoso-demo/${name}`);
  });
});

describe("Event Grid watcher", () => {
  let azurite: AzuriteHandle;
  let blobs: BlobServiceClient;
  const container = "drops-under-test";

  beforeAll(async () => {
    azurite = await startAzurite();
    blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
    await blobs.getContainerClient(container).createIfNotExists();
  });
  afterAll(async () => {
    await azurite?.stop();
    if (azurite) fs.rmSync(azurite.dataDir, { recursive: true, force: true });
  });

  const upload = (name: string, text: string) =>
    blobs.getContainerClient(container).getBlockBlobClient(name).upload(text, Buffer.byteLength(text));

  function watcher(deliver: (event: EventGridEvent<BlobCreatedData>) => Promise<void>, ledgerTable: string) {
    return new EventGridWatcher({
      connectionString: azurite.connectionString,
      container,
      deliver,
      ledgerTable,
      pollIntervalMs: 50,
      retryDelayMs: () => 0,
      maxAttempts: 3,
    });
  }

  it("delivers BlobCreated once per ETag, in the Event Grid schema, and not again after a restart", async () => {
    const seen: EventGridEvent<BlobCreatedData>[] = [];
    const first = watcher(async (event) => void seen.push(event), "LedgerOnce");
    const uploaded = await upload("a/pkg-1.hlkx", "one");
    await first.start();
    await first.pollOnce();
    await first.stop();
    expect(seen).toHaveLength(1);
    const [event] = seen;
    expect(event).toMatchObject({
      eventType: "Microsoft.Storage.BlobCreated",
      subject: `/blobServices/default/containers/${container}/blobs/a/pkg-1.hlkx`,
      topic: "/subscriptions/local/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
      dataVersion: "",
      metadataVersion: "1",
      data: { api: "PutBlob", blobType: "BlockBlob", contentLength: 3, eTag: uploaded.etag },
    });
    expect(event.data.url).toMatch(new RegExp(`/${container}/a/pkg-1\\.hlkx$`));

    // A restart reads the ledger: nothing re-delivered. A new ETag on the same name is a new event.
    const second = watcher(async (e) => void seen.push(e), "LedgerOnce");
    await second.start();
    expect(seen).toHaveLength(1);
    await upload("a/pkg-1.hlkx", "two!");
    await second.pollOnce();
    await second.stop();
    expect(seen).toHaveLength(2);
    expect(seen[1].data.eTag).not.toBe(seen[0].data.eTag);
    expect(seen[1].id).not.toBe(seen[0].id);
  });

  it("retries failed deliveries, bounded, and re-delivers what a crash left pending", async () => {
    await blobs.getContainerClient(container).deleteBlob("a/pkg-1.hlkx");
    await upload("b/flaky.hlkx", "x");
    let calls = 0;
    const flaky = watcher(async () => {
      calls++;
      throw new Error("handler down");
    }, "LedgerRetry");
    await flaky.start();
    for (let i = 0; i < 5; i++) await flaky.pollOnce();
    await flaky.stop();
    expect(calls).toBe(3); // maxAttempts
    expect(flaky.deliveries()).toEqual([expect.objectContaining({ blobName: "b/flaky.hlkx", state: "failed", attempts: 3 })]);

    // "Crash" mid-delivery: the handler never returns, the row stays pending; a new watcher re-delivers.
    await upload("c/crash.hlkx", "y");
    const hanging = watcher(() => new Promise<void>(() => undefined), "LedgerCrash");
    void hanging.start();
    await new Promise((r) => setTimeout(r, 500));
    const redelivered: string[] = [];
    const restarted = watcher(async (event) => void redelivered.push(event.subject), "LedgerCrash");
    await restarted.start();
    await restarted.stop();
    expect(redelivered).toEqual(expect.arrayContaining([expect.stringMatching(/c\/crash\.hlkx$/)]));
    expect(restarted.deliveries().find((d) => d.blobName === "c/crash.hlkx")?.state).toBe("delivered");
  });
});
