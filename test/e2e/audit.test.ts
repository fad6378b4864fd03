/**
 * The audit trail end to end (issue 33) on the local runtime in entra mode, with tokens from the
 * stack's local issuer: alice (Sign.Submit, Sign.Publish) asks for an upload URL and drops through it,
 * starts a submission and publishes a label; olga (Sign.Operate) cancels; bob (Sign.Submit only) is
 * refused for his role (403) and for alice's submission (404). Each of those actions leaves exactly
 * one record with the right principal, read back through GET /api/audit (JSON and JSON Lines); a
 * record cannot be overwritten through the app's writer; no record holds a secret.
 */
jest.mock("@azure/functions-core", () => jest.requireActual("../../local/functionsHost/coreStandIn"), { virtual: true });

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BlockBlobClient } from "@azure/storage-blob";
import { chromium } from "playwright-core";
import { LocalIssuer } from "../../local/identity/issuer";
import { samplePackage } from "../../local/samplePackage";
import { APP_CONTAINERS } from "../../local/stack";
import { AuditOverwriteRefused, createAuditBlob } from "../../src/audit/store";
import { type AuditRecord, looksSecret } from "../../src/domain/audit";
import { eventGridKeyHeaders, expectNothingSecret, startTestStack, type TestStack } from "../support/stack";

jest.setTimeout(240_000);

const CLI = path.resolve(__dirname, "../../dist/cli/driverSign.js");
const CHROMIUM = "/usr/bin/chromium";
const browserIt = fs.existsSync(CHROMIUM) || process.env.CI === "true" ? it : it.skip;

function runCli(args: string[], tokenFile: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !name.startsWith("DRIVER_SIGN_")) env[name] = value;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...env, DRIVER_SIGN_TOKEN_FILE: tokenFile }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const HTTP_CONTAINER = "e2e-audit-packages";
const AUDIT_CONTAINER = "signing-audit";
const TERMINAL = ["Completed", "Failed", "Terminated"];
type Json = Record<string, unknown>;

describe("the audit trail (entra mode)", () => {
  let stack: TestStack;
  let dataDir: string;
  let issuer: LocalIssuer;
  let token: { alice: string; bob: string; olga: string; nora: string };
  let oid: { alice: string; bob: string; olga: string; nora: string };

  async function call(who: keyof typeof token, method: string, route: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(`${stack.apiUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${token[who]}`, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const json = response.headers.get("content-type")?.includes("application/json") && text ? (JSON.parse(text) as Json) : {};
    return { status: response.status, json, text, headers: response.headers };
  }

  async function waitUntilEnded(id: string): Promise<Json> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const { status, json } = await call("olga", "GET", `/submissions/${id}`);
      if (status === 200 && TERMINAL.includes(String(json.runtimeStatus))) return json;
      if (Date.now() > deadline) throw new Error(`submission ${id} did not end: ${JSON.stringify(json)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Every record, through GET /api/audit page by page (small pages, so paging is exercised). */
  async function allRecords(query = ""): Promise<AuditRecord[]> {
    const records: AuditRecord[] = [];
    let next: string | undefined;
    do {
      const route = `/audit?pageSize=3${query ? `&${query}` : ""}${next ? `&continuationToken=${encodeURIComponent(next)}` : ""}`;
      const page = await call("olga", "GET", route);
      expect(page.status).toBe(200);
      records.push(...(page.json.items as AuditRecord[]));
      next = page.json.continuationToken as string | undefined;
    } while (next);
    return records;
  }

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-audit-"));
    issuer = LocalIssuer.loadOrCreate(dataDir);
    token = {
      alice: issuer.issue({ user: "alice", roles: ["Sign.Submit", "Sign.Publish"] }),
      bob: issuer.issue({ user: "bob", roles: ["Sign.Submit"] }),
      olga: issuer.issue({ user: "olga", roles: ["Sign.Operate"] }),
      nora: issuer.issue({ user: "nora", roles: [] }),
    };
    const oidOf = (t: string) => (JSON.parse(Buffer.from(t.split(".")[1], "base64url").toString("utf8")) as { oid: string }).oid;
    oid = { alice: oidOf(token.alice), bob: oidOf(token.bob), olga: oidOf(token.olga), nora: oidOf(token.nora) };
    stack = await startTestStack({ auth: "entra", dataDir, appSettings: { SUBMISSION_CONTAINERS: `${APP_CONTAINERS.drops},${HTTP_CONTAINER}` } });
  });
  afterAll(async () => {
    await stack?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  let uploadPackage: string;
  let dropId: string;
  let aliceId: string;
  let cancelStatus: number;
  let labelRun: string;
  let labelId: string;
  let changeStatus: number;
  let labelCancelStatus: number;
  let microsoftIds: { productId: string; submissionId: string };

  it("an end-to-end run and the refusals, each answered", async () => {
    // 1. alice asks for an upload URL and drops the package through it (the drop is hers).
    const dropped = samplePackage({ folder: "audit-upload", extension: ".cab" });
    const issued = await call("alice", "POST", "/uploads", { fileName: dropped.fileName, size: dropped.bytes.length, sha256: createHash("sha256").update(dropped.bytes).digest("hex") });
    expect(issued.status).toBe(200);
    uploadPackage = String(issued.json.package);
    await new BlockBlobClient(String(issued.json.uploadUrl)).uploadData(dropped.bytes);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { json } = await call("olga", "GET", `/submissions?package=${encodeURIComponent(uploadPackage)}`);
      const items = json.items as { id: string }[];
      if (items.length > 0) {
        dropId = items[0].id;
        break;
      }
      if (Date.now() > deadline) throw new Error("no submission for the uploaded package");
      await new Promise((r) => setTimeout(r, 200));
    }
    // The drop's record is written by the trigger once the run is started; wait for it so the order below is fixed.
    while ((await allRecords("action=drop")).length === 0) {
      if (Date.now() > deadline) throw new Error("no audit record of the drop");
      await new Promise((r) => setTimeout(r, 200));
    }
    // Event Grid delivers at least once: the same BlobCreated again (twice) finds the run and adds no record.
    const blobName = uploadPackage.slice(`${APP_CONTAINERS.drops}/`.length);
    const etag = (await stack.blobService.getContainerClient(APP_CONTAINERS.drops).getBlobClient(blobName).getProperties()).etag!;
    const redelivery = {
      id: "redelivered-1",
      topic: "/subscriptions/local/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
      subject: `/blobServices/default/containers/${APP_CONTAINERS.drops}/blobs/${blobName}`,
      eventType: "Microsoft.Storage.BlobCreated",
      eventTime: new Date().toISOString(),
      data: { api: "PutBlob", eTag: etag, contentLength: dropped.bytes.length, blobType: "BlockBlob" },
      dataVersion: "",
      metadataVersion: "1",
    };
    for (let i = 0; i < 2; i++) {
      const delivered = await fetch(`${stack.baseUrl}/runtime/webhooks/eventgrid?functionName=packageDropped`, {
        method: "POST",
        headers: { "content-type": "application/json", "aeg-event-type": "Notification", ...eventGridKeyHeaders(stack) },
        body: JSON.stringify([redelivery]),
      });
      await delivered.text();
      expect(delivered.status).toBe(202);
    }
    // Accepted, then handled: wait until the runtime log shows both redeliveries decided.
    const decided = () => (fs.readFileSync(stack.runtimeLogFile, "utf8").match(/packageDropped: alreadyStarted/g) ?? []).length;
    const redeliveryDeadline = Date.now() + 30_000;
    while (decided() < 2) {
      if (Date.now() > redeliveryDeadline) throw new Error("the redelivered events were not handled");
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await allRecords("action=drop")).length).toBe(1);
    // 2. olga cancels it (202 while it runs, 409 if it already ended: one record either way).
    cancelStatus = (await call("olga", "POST", `/submissions/${dropId}/cancel`)).status;
    expect([202, 409]).toContain(cancelStatus);

    // 3. alice starts a package over HTTP and publishes a (dry-run) label once it is signed.
    const pkg = samplePackage({ folder: "audit-http", extension: ".cab" });
    const container = stack.blobService.getContainerClient(HTTP_CONTAINER);
    await container.createIfNotExists();
    await container.getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
    const started = await call("alice", "POST", "/submissions", { package: `${HTTP_CONTAINER}/${pkg.fileName}` });
    expect(started.status).toBe(202);
    aliceId = String(started.json.id);
    const ended = await waitUntilEnded(aliceId);
    if (ended.stage !== "succeeded") throw new Error(`run: ${JSON.stringify(ended)}`);
    microsoftIds = { productId: String(ended.productId), submissionId: String(ended.submissionId) };
    const label = await call("alice", "POST", `/submissions/${aliceId}/labels`, { destination: "windowsUpdate", dryRun: true });
    if (label.status !== 202) throw new Error(`label: ${label.status} ${label.text}`);
    labelRun = String(label.json.labelRun);
    // Once the dry run has ended: a targeting change and a cancel of its label (answered as the label allows).
    const labelDeadline = Date.now() + 60_000;
    for (;;) {
      const listed = await call("alice", "GET", `/submissions/${aliceId}/labels`);
      const runs = (listed.json.items ?? []) as { runtimeStatus: string; label?: { labelId?: string } }[];
      if (runs.length > 0 && runs.every((run) => TERMINAL.includes(run.runtimeStatus))) {
        // A dry run creates no label at Microsoft: the change and the cancel name one that is not there (refused, recorded).
        labelId = runs[0].label?.labelId ?? "1";
        break;
      }
      if (Date.now() > labelDeadline) throw new Error(`the label run did not end: ${listed.text}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    changeStatus = (await call("alice", "PATCH", `/submissions/${aliceId}/labels/${labelId}`, { targeting: { audiences: [] } })).status;
    labelCancelStatus = (await call("alice", "POST", `/submissions/${aliceId}/labels/${labelId}/cancel`)).status;

    // 4. Refusals: bob's role does not allow labels (403); alice's submission is not bob's (404);
    // nora (no role) and bob may not read the audit trail (403).
    expect((await call("bob", "POST", `/submissions/${aliceId}/labels`, { destination: "windowsUpdate", dryRun: true })).status).toBe(403);
    expect((await call("bob", "POST", `/submissions/${aliceId}/cancel`)).status).toBe(404);
    expect((await call("bob", "GET", `/submissions/${aliceId}`)).status).toBe(404);
    expect((await call("nora", "GET", "/audit")).status).toBe(403);
    expect((await call("bob", "GET", "/audit")).status).toBe(403);
    await waitUntilEnded(dropId);
  });

  it("exactly one record per action, each with the right principal, target and outcome", async () => {
    const records = await allRecords();
    const summary = records.map((r) => ({ action: r.action, by: r.principal.objectId, instance: r.target.instance, result: r.outcome.result, refusal: r.outcome.refusal }));
    expect(summary).toEqual([
      { action: "upload.create", by: oid.alice, instance: undefined, result: "ok", refusal: undefined },
      { action: "drop", by: oid.alice, instance: dropId, result: "ok", refusal: undefined },
      { action: "submission.cancel", by: oid.olga, instance: dropId, result: cancelStatus === 202 ? "ok" : "refused", refusal: undefined },
      { action: "submission.start", by: oid.alice, instance: aliceId, result: "ok", refusal: undefined },
      { action: "label.create", by: oid.alice, instance: aliceId, result: "ok", refusal: undefined },
      { action: "label.change", by: oid.alice, instance: aliceId, result: changeStatus < 400 ? "ok" : "refused", refusal: undefined },
      { action: "label.cancel", by: oid.alice, instance: aliceId, result: labelCancelStatus < 400 ? "ok" : "refused", refusal: undefined },
      { action: "label.create", by: oid.bob, instance: aliceId, result: "refused", refusal: "role" },
      { action: "submission.cancel", by: oid.bob, instance: aliceId, result: "refused", refusal: "owner" },
      { action: "submission.status", by: oid.bob, instance: aliceId, result: "refused", refusal: "owner" },
      { action: "audit.read", by: oid.nora, instance: undefined, result: "refused", refusal: "role" },
      { action: "audit.read", by: oid.bob, instance: undefined, result: "refused", refusal: "role" },
    ]);
    const upload = records[0];
    expect(upload.target.package).toBe(uploadPackage);
    expect(upload.principal).toEqual({ objectId: oid.alice, name: "alice", clientAppId: issuer.metadata.userClientAppId, roles: ["Sign.Submit", "Sign.Publish"] });
    expect(records[1].target.package).toBe(uploadPackage);
    expect(records[3].target.package).toMatch(new RegExp(`^${HTTP_CONTAINER}/`));
    expect(records[4].outcome.reason).toBe("202");
    // Actions on a submission name Microsoft's ids too (strings), and the label its id.
    for (const record of records.slice(4, 7)) expect(record.target).toMatchObject({ instance: aliceId, product: microsoftIds.productId, submission: microsoftIds.submissionId });
    expect(records[5].target.label).toBe(labelId);
    expect(records[5].outcome.reason).toMatch(new RegExp(`^${changeStatus}`));
    expect(records[6].target.label).toBe(labelId);
    // Every request's record names the address the (local) front end saw, not one a client claimed.
    for (const record of records.filter((r) => r.action !== "drop")) expect({ action: record.action, clientAddress: record.clientAddress }).toEqual({ action: record.action, clientAddress: "127.0.0.1" });
    for (const record of records) {
      expect(record.requestId).toEqual(expect.any(String));
      expect(Date.parse(record.time)).not.toBeNaN();
    }
    // Times increase: the blob names sort by time and the API reads oldest first.
    expect(records.map((r) => r.time)).toEqual([...records.map((r) => r.time)].sort());
    expect(labelRun).toBeTruthy();
  });

  it("filters (submission, principal, action, time range) and JSON Lines export", async () => {
    const all = await allRecords();
    expect((await allRecords(`submission=${aliceId}`)).map((r) => r.action)).toEqual(["submission.start", "label.create", "label.change", "label.cancel", "label.create", "submission.cancel", "submission.status"]);
    // By Microsoft's submission id: the records made once it was known (bob's 403 came before any instance was read).
    expect((await allRecords(`submission=${microsoftIds.submissionId}`)).map((r) => r.action)).toEqual(["label.create", "label.change", "label.cancel", "submission.cancel", "submission.status"]);
    expect((await allRecords(`principal=${oid.bob}`)).map((r) => r.action)).toEqual(["label.create", "submission.cancel", "submission.status", "audit.read"]);
    expect((await allRecords("action=drop")).map((r) => r.principal.objectId)).toEqual([oid.alice]);
    const from = all[3].time;
    const to = all[6].time;
    expect((await allRecords(`from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`)).map((r) => r.time)).toEqual([all[3].time, all[4].time, all[5].time]);
    const bad = await call("olga", "GET", "/audit?from=yesterday&pageSize=0");
    expect(bad.status).toBe(400);
    expect((bad.json.fields as { field: string }[]).map((f) => f.field)).toEqual(["from", "pageSize"]);

    for (const [route, headers] of [["/audit", { accept: "application/x-ndjson" }], ["/audit?format=jsonl", {}]] as const) {
      const exported = await call("olga", "GET", route, undefined, headers);
      expect(exported.status).toBe(200);
      expect(exported.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
      const lines = exported.text.trimEnd().split("\n").map((line) => JSON.parse(line) as AuditRecord);
      // Reading the trail is not an action: the export holds the same records as before.
      expect(lines).toEqual(all);
    }
  });

  it("driver-sign audit exports the same records as JSON Lines (stdout or --out), for Sign.Operate only", async () => {
    const expected = await allRecords(`submission=${aliceId}`);
    const olgaFile = path.join(dataDir, "olga.token");
    const bobFile = path.join(dataDir, "bob.token");
    fs.writeFileSync(olgaFile, token.olga, { mode: 0o600 });
    fs.writeFileSync(bobFile, token.bob, { mode: 0o600 });
    const toStdout = await runCli(["--url", stack.apiUrl, "audit", "--submission", aliceId], olgaFile);
    expect({ code: toStdout.code, stderr: toStdout.stderr }).toEqual({ code: 0, stderr: `${expected.length} audit records\n` });
    expect(toStdout.stdout.trimEnd().split("\n").map((line) => JSON.parse(line))).toEqual(expected);

    const out = path.join(dataDir, "audit.jsonl");
    const toFile = await runCli(["--url", stack.apiUrl, "--json", "audit", "--action", "drop", "--out", out], olgaFile);
    expect(toFile.code).toBe(0);
    expect(JSON.parse(toFile.stdout)).toMatchObject({ command: "audit", exitCode: 0, outcome: "listed", message: `1 audit records written to ${out}` });
    expect(fs.readFileSync(out, "utf8").trimEnd().split("\n").map((line) => JSON.parse(line))).toEqual(await allRecords("action=drop"));

    const refused = await runCli(["--url", stack.apiUrl, "audit"], bobFile);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("GET /api/audit answered HTTP 403");
    expect(refused.stdout).toBe("");
    const bad = await runCli(["--url", stack.apiUrl, "audit", "--from", "yesterday"], olgaFile);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("from must be an ISO 8601");
    for (const run of [toStdout, toFile, refused, bad]) expectNothingSecret(stack, run.stdout + run.stderr);
  });

  it("a record cannot be overwritten through the app's writer, and keeps its content", async () => {
    const container = stack.blobService.getContainerClient(AUDIT_CONTAINER);
    const names: string[] = [];
    for await (const item of container.listBlobsFlat()) names.push(item.name);
    expect(names.length).toBeGreaterThanOrEqual(10);
    const before = (await container.getBlobClient(names[0]).downloadToBuffer()).toString("utf8");
    await expect(createAuditBlob(container, names[0], JSON.stringify({ forged: true }), {})).rejects.toBeInstanceOf(AuditOverwriteRefused);
    expect((await container.getBlobClient(names[0]).downloadToBuffer()).toString("utf8")).toBe(before);
  });

  it("no record holds a secret (bearer tokens, SAS signatures, keys): every stored blob scanned", async () => {
    const container = stack.blobService.getContainerClient(AUDIT_CONTAINER);
    let scanned = 0;
    for await (const item of container.listBlobsFlat({ includeMetadata: true })) {
      const text = (await container.getBlobClient(item.name).downloadToBuffer()).toString("utf8");
      expect({ name: item.name, secret: looksSecret(text) || looksSecret(JSON.stringify(item.metadata ?? {})) }).toEqual({ name: item.name, secret: false });
      expectNothingSecret(stack, text);
      for (const t of Object.values(token)) expect(text).not.toContain(t.split(".")[2]);
      scanned++;
    }
    expect(scanned).toBeGreaterThanOrEqual(10);
  });

  browserIt("the page's audit panel: an operator signed in sees the records and can filter them; a submitter's page has no panel", async () => {
    const records = await allRecords();
    const origin = new URL(stack.apiUrl).origin;
    const browser = await chromium.launch({ executablePath: CHROMIUM });
    try {
      const signIn = async (user: string, roles: string[]) => {
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(`${origin}/.auth/login/aad?post_login_redirect_uri=/api/dashboard`);
        await page.waitForURL((url) => url.pathname === "/_local/tenant/oauth2/v2.0/authorize");
        await page.fill('input[name="user"]', user);
        for (const role of roles) await page.check(`input[name="role"][value="${role}"]`);
        await Promise.all([page.waitForURL(`${origin}/api/dashboard`), page.click('button[type="submit"]')]);
        return page;
      };
      const operator = await signIn("olga", ["Sign.Operate"]);
      const rows = operator.locator("#audit-rows tr");
      await rows.nth(records.length - 1).waitFor();
      expect(await rows.count()).toBe(records.length);
      expect(await rows.nth(0).locator("td").nth(2).textContent()).toBe("upload.create");
      expect(await rows.nth(0).locator("td").nth(1).textContent()).toBe(`alice (${oid.alice})`);
      const refusal = operator.locator('#audit-rows tr[data-audit-action="audit.read"]').first();
      expect(await refusal.locator("td").nth(4).textContent()).toMatch(/^refused \(role\): 403 /);
      await operator.fill("#a-principal", oid.bob);
      await operator.click('#audit-filters button[type="submit"]');
      // (The page's CSP forbids evaluating strings, so the wait polls from here.)
      const bobs = records.filter((r) => r.principal.objectId === oid.bob).length;
      const deadline = Date.now() + 10_000;
      while ((await rows.count()) !== bobs && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await operator.locator("#audit-rows tr td:nth-child(2)").allTextContents()).toEqual(records.filter((r) => r.principal.objectId === oid.bob).map(() => `bob (${oid.bob})`));
      expectNothingSecret(stack, await operator.content());

      const submitter = await signIn("sam", ["Sign.Submit"]);
      await submitter.locator("#access").waitFor();
      expect(await submitter.locator("#audit-view").count()).toBe(0);
    } finally {
      await browser.close();
    }
  });
});
