/**
 * Owners end to end (issue 32) on the local runtime in entra mode, with tokens from the local issuer:
 * alice and bob both hold Sign.Submit and Sign.Publish, olga holds Sign.Operate. Alice's submission
 * records her as owner; bob cannot see it, find it in the list, cancel it, download its files, read,
 * create, change or cancel its labels, restart it or resume it with its ids: every one of those is a
 * 404, exactly as for an id that does not exist. Olga sees everybody's. Bob's upload URL makes the
 * dropped package his; a drop under a DROP_OWNERS prefix is its configured owner's; a drop no entry
 * matches is the operators' alone.
 */
jest.mock("@azure/functions-core", () => jest.requireActual("../../local/functionsHost/coreStandIn"), { virtual: true });

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BlockBlobClient } from "@azure/storage-blob";
import { LocalIssuer } from "../../local/identity/issuer";
import { samplePackage } from "../../local/samplePackage";
import { APP_CONTAINERS } from "../../local/stack";
import { expectNothingSecret, startTestStack, type TestStack } from "../support/stack";

jest.setTimeout(240_000);

const HTTP_CONTAINER = "e2e-owner-packages";
const TERMINAL = ["Completed", "Failed", "Terminated"];

type Json = Record<string, unknown>;

describe("each submission's owner (entra mode)", () => {
  let stack: TestStack;
  let dataDir: string;
  let issuer: LocalIssuer;
  let token: { alice: string; bob: string; olga: string };
  let oid: { alice: string; bob: string };
  const readBack: string[] = [];

  async function call(who: keyof typeof token, method: string, route: string, body?: unknown): Promise<{ status: number; json: Json; location: string | null }> {
    const response = await fetch(`${stack.apiUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${token[who]}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: "manual",
    });
    const text = await response.text();
    // Download links (?as=json) and upload URLs are SAS URLs by design: everything else is checked.
    if (!route.includes("as=json") && route !== "/uploads") readBack.push(text);
    return { status: response.status, json: text ? (JSON.parse(text) as Json) : {}, location: response.headers.get("location") };
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

  async function waitForInstanceOf(blobName: string): Promise<string> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { json } = await call("olga", "GET", `/submissions?package=${encodeURIComponent(`${APP_CONTAINERS.drops}/${blobName}`)}`);
      const items = json.items as { id: string }[];
      if (items.length > 0) return items[0].id;
      if (Date.now() > deadline) throw new Error(`no submission for drop ${blobName}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  const listedIds = async (who: keyof typeof token) => {
    const { status, json } = await call(who, "GET", "/submissions?top=100");
    expect(status).toBe(200);
    return (json.items as { id: string }[]).map((item) => item.id).sort();
  };

  beforeAll(async () => {
    // The issuer first, so DROP_OWNERS can name bob's object id before the app starts.
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-owners-"));
    issuer = LocalIssuer.loadOrCreate(dataDir);
    token = {
      alice: issuer.issue({ user: "alice", roles: ["Sign.Submit", "Sign.Publish"] }),
      bob: issuer.issue({ user: "bob", roles: ["Sign.Submit", "Sign.Publish"] }),
      olga: issuer.issue({ user: "olga", roles: ["Sign.Operate"] }),
    };
    const oidOf = (t: string) => (JSON.parse(Buffer.from(t.split(".")[1], "base64url").toString("utf8")) as { oid: string }).oid;
    oid = { alice: oidOf(token.alice), bob: oidOf(token.bob) };
    stack = await startTestStack({
      auth: "entra",
      dataDir,
      appSettings: {
        SUBMISSION_CONTAINERS: `${APP_CONTAINERS.drops},${HTTP_CONTAINER}`,
        DROP_OWNERS: `${APP_CONTAINERS.drops}/team-b/=${oid.bob}:team B`,
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  let aliceId: string;
  let alicePackage: string;
  let productId: string;
  let submissionId: string;
  let labelId: string;

  it("alice's submission records her as owner and she sees it, its files and its labels", async () => {
    const pkg = samplePackage({ folder: "owner-alice" });
    const container = stack.blobService.getContainerClient(HTTP_CONTAINER);
    await container.createIfNotExists();
    await container.getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
    alicePackage = `${HTTP_CONTAINER}/${pkg.fileName}`;
    const started = await call("alice", "POST", "/submissions", { package: alicePackage });
    expect(started.status).toBe(202);
    aliceId = String(started.json.id);
    const ended = await waitUntilEnded(aliceId);
    expect(ended).toMatchObject({ runtimeStatus: "Completed", stage: "succeeded", owner: { objectId: oid.alice, name: "alice", clientAppId: issuer.metadata.userClientAppId } });
    productId = String(ended.productId);
    submissionId = String(ended.submissionId);

    const mine = await call("alice", "GET", `/submissions/${aliceId}`);
    expect(mine.status).toBe(200);
    expect(await listedIds("alice")).toEqual([aliceId]);
    const file = await call("alice", "GET", `/submissions/${aliceId}/signed-package?as=json`);
    expect(file.status).toBe(200);
    // A dry-run label: a label of alice's submission for the label routes below.
    const label = await call("alice", "POST", `/submissions/${aliceId}/labels`, { destination: "windowsUpdate", dryRun: true });
    expect(label.status).toBe(202);
    const deadline = Date.now() + 60_000;
    let labels: { items?: { runtimeStatus: string; label?: { labelId?: string; phase?: string } }[] } = {};
    while (Date.now() < deadline) {
      const listed = await call("alice", "GET", `/submissions/${aliceId}/labels`);
      expect(listed.status).toBe(200);
      labels = listed.json as typeof labels;
      if (labels.items?.every((run) => TERMINAL.includes(run.runtimeStatus))) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(labels.items?.[0]?.label?.phase).toBe("dryRun");
    labelId = labels.items?.[0]?.label?.labelId ?? "1";
  });

  it("bob gets 404 on everything of alice's: status, list, files, cancel, labels, label changes, restart and resume", async () => {
    const notFound = (r: { status: number }) => r.status;
    const id = aliceId;
    const attempts: Record<string, number> = {
      status: notFound(await call("bob", "GET", `/submissions/${id}`)),
      cancel: notFound(await call("bob", "POST", `/submissions/${id}/cancel`)),
      signedPackage: notFound(await call("bob", "GET", `/submissions/${id}/signed-package`)),
      driverMetadata: notFound(await call("bob", "GET", `/submissions/${id}/driver-metadata`)),
      manifest: notFound(await call("bob", "GET", `/submissions/${id}/manifest?as=json`)),
      listLabels: notFound(await call("bob", "GET", `/submissions/${id}/labels`)),
      createLabel: notFound(await call("bob", "POST", `/submissions/${id}/labels`, { destination: "windowsUpdate", dryRun: true })),
      changeLabel: notFound(await call("bob", "PATCH", `/submissions/${id}/labels/${labelId}`, { targeting: { audiences: [] } })),
      cancelLabel: notFound(await call("bob", "POST", `/submissions/${id}/labels/${labelId}/cancel`)),
      labelChange: notFound(await call("bob", "GET", `/submissions/${id}/labels/${labelId}/changes/1`)),
      restart: notFound(await call("bob", "POST", "/submissions", { package: alicePackage })),
      resume: notFound(await call("bob", "POST", "/submissions", { package: alicePackage, productId, submissionId })),
    };
    expect(attempts).toEqual(Object.fromEntries(Object.keys(attempts).map((k) => [k, 404])));
    // The same answer as for an id that does not exist: nothing tells bob the submission is there.
    const missing = await call("bob", "GET", "/submissions/drv-does-not-exist");
    const hidden = await call("bob", "GET", `/submissions/${id}`);
    expect(hidden.json.error).toBe(`no submission with id ${id}`);
    expect(missing.json.error).toBe("no submission with id drv-does-not-exist");
    expect(await listedIds("bob")).toEqual([]);
    // Nothing changed for alice: still one label run, still completed, not restarted.
    const after = await call("alice", "GET", `/submissions/${id}/labels`);
    expect((after.json.items as unknown[]).length).toBe(1);
    expect((await call("olga", "GET", `/submissions/${id}`)).json).toMatchObject({ runtimeStatus: "Completed", owner: { objectId: oid.alice } });
  });

  let bobUploadId: string;
  let teamDropId: string;
  let unownedDropId: string;

  it("bob's upload URL makes the dropped package his; a DROP_OWNERS prefix makes a drop his; an unmatched drop is nobody's", async () => {
    const pkg = samplePackage({ folder: "owner-bob-upload" });
    const issued = await call("bob", "POST", "/uploads", { fileName: pkg.fileName, size: pkg.bytes.length, sha256: createHash("sha256").update(pkg.bytes).digest("hex") });
    expect(issued.status).toBe(200);
    const uploadUrl = String(issued.json.uploadUrl);
    const uploadBlob = String(issued.json.package).slice(`${APP_CONTAINERS.drops}/`.length);
    await new BlockBlobClient(uploadUrl).uploadData(pkg.bytes);
    bobUploadId = await waitForInstanceOf(uploadBlob);
    // Alice may not start bob's uploaded package either (it is found as not found).
    expect((await call("alice", "POST", "/submissions", { package: String(issued.json.package) })).status).toBe(404);

    const drops = stack.blobService.getContainerClient(APP_CONTAINERS.drops);
    const team = samplePackage({ folder: "owner-team" });
    await drops.getBlockBlobClient(`team-b/${team.fileName}`).uploadData(team.bytes);
    teamDropId = await waitForInstanceOf(`team-b/${team.fileName}`);
    const loose = samplePackage({ folder: "owner-loose" });
    await drops.getBlockBlobClient(loose.fileName).uploadData(loose.bytes);
    unownedDropId = await waitForInstanceOf(loose.fileName);

    for (const id of [bobUploadId, teamDropId, unownedDropId]) await waitUntilEnded(id);
    expect((await call("olga", "GET", `/submissions/${bobUploadId}`)).json.owner).toEqual({ objectId: oid.bob, name: "bob", clientAppId: issuer.metadata.userClientAppId });
    expect((await call("olga", "GET", `/submissions/${teamDropId}`)).json.owner).toEqual({ objectId: oid.bob, name: "team B" });
    expect((await call("olga", "GET", `/submissions/${unownedDropId}`)).json.owner).toBeUndefined();

    expect(await listedIds("bob")).toEqual([bobUploadId, teamDropId].sort());
    expect(await listedIds("alice")).toEqual([aliceId]);
    expect((await call("bob", "GET", `/submissions/${bobUploadId}/signed-package?as=json`)).status).toBe(200);
    expect((await call("alice", "GET", `/submissions/${teamDropId}`)).status).toBe(404);
    // The unmatched drop is the operators' alone.
    expect((await call("bob", "GET", `/submissions/${unownedDropId}`)).status).toBe(404);
    expect((await call("alice", "GET", `/submissions/${unownedDropId}/manifest?as=json`)).status).toBe(404);
  });

  let teamRejectedId: string;

  it("a drop refused at the door under bob's DROP_OWNERS prefix is his to read (status, list, manifest); alice gets 404", async () => {
    const drops = stack.blobService.getContainerClient(APP_CONTAINERS.drops);
    // Not a package extension: refused by the trigger before anything starts, recorded as a rejected drop.
    const blobName = "team-b/owner-team-notes-1.0.0.txt";
    await drops.getBlockBlobClient(blobName).uploadData(Buffer.from("not a driver package"));
    teamRejectedId = await waitForInstanceOf(blobName);
    await waitUntilEnded(teamRejectedId);
    const seen = await call("bob", "GET", `/submissions/${teamRejectedId}`);
    expect(seen.status).toBe(200);
    expect(seen.json).toMatchObject({ stage: "rejected", outcome: "rejected", owner: { objectId: oid.bob, name: "team B" } });
    expect(String(seen.json.reason)).toContain("blobName");
    expect(await listedIds("bob")).toEqual([bobUploadId, teamDropId, teamRejectedId].sort());
    expect((await call("bob", "GET", `/submissions/${teamRejectedId}/manifest?as=json`)).status).toBe(200);
    expect((await call("alice", "GET", `/submissions/${teamRejectedId}`)).status).toBe(404);
    expect(await listedIds("alice")).toEqual([aliceId]);
  });

  it("an operator sees everyone's submissions and files and may cancel any (409 here: they have ended)", async () => {
    expect(await listedIds("olga")).toEqual([aliceId, bobUploadId, teamDropId, unownedDropId, teamRejectedId].sort());
    for (const id of [aliceId, bobUploadId, unownedDropId]) {
      expect((await call("olga", "GET", `/submissions/${id}/manifest?as=json`)).status).toBe(200);
      expect((await call("olga", "POST", `/submissions/${id}/cancel`)).status).toBe(409);
    }
    expect((await call("olga", "GET", `/submissions/${aliceId}/labels`)).status).toBe(200);
  });

  it("nothing secret in what callers read back or in the runtime log (owners are names and object ids)", () => {
    expect(readBack.some((text) => text.includes(oid.alice))).toBe(true);
    for (const text of [...readBack, fs.readFileSync(stack.runtimeLogFile, "utf8")]) expectNothingSecret(stack, text);
  });
});
