/**
 * Proof suite, bad input: generated (fast-check) bad requests, sidecars, Event Grid deliveries and
 * blob names against the RUNNING local runtime. Each must end in a 4xx naming the field or a
 * recorded rejection naming it — never a 5xx, a crashed runtime, a started orchestration, a
 * Hardware Dev Center product or a deleted drop.
 */
jest.mock("@azure/functions-core", () => require("../../local/functionsHost/coreStandIn"), { virtual: true });

// In-process sidecar checks only: fake storage and manifests (the runtime child process is unaffected).
const fakeBlobs = new Map<string, Buffer>();
const fakeService = {
  getContainerClient: (container: string) => ({
    getBlobClient: (name: string) => ({
      getProperties: async () => {
        const blob = fakeBlobs.get(`${container}/${name}`);
        if (!blob) throw Object.assign(new Error("BlobNotFound"), { statusCode: 404 });
        return { contentLength: blob.length, etag: '"0x1"' };
      },
      downloadToBuffer: async (offset: number, count: number) => fakeBlobs.get(`${container}/${name}`)!.subarray(offset, offset + count),
    }),
    // State documents (a purge record the trigger looks for) are read whole.
    getBlockBlobClient: (name: string) => ({
      download: async () => {
        const blob = fakeBlobs.get(`${container}/${name}`);
        if (!blob) throw Object.assign(new Error("BlobNotFound"), { statusCode: 404 });
        return { etag: '"0x1"', readableStreamBody: [blob] };
      },
    }),
  }),
};
jest.mock("../../src/storage/blobService", () => ({ getBlobServiceClient: jest.fn(() => fakeService) }));
jest.mock("../../src/storage/manifests", () => ({ recordRejection: jest.fn(async () => ({ container: "signed-drivers", blobName: "x" })) }));

import fc from "fast-check";
import { InvocationContext } from "@azure/functions";
import { resetConfigCache } from "../../src/config";
import "../../src/index";
import { handlePackageDropped } from "../../src/functions/packageDropped";
import { getRegisteredFunctions, triggerOf } from "../../local/functionsHost/coreStandIn";
import { samplePackage } from "../../local/samplePackage";
import { APP_CONTAINERS } from "../../local/stack";
import { createProductCalls, eventGridKeyHeaders, startTestStack, type TestStack } from "../support/stack";
import { badEvent, badSidecar, badSubmissionBody, blobCreatedEvent, oversizedBody, type BadCase, type EventCase } from "./support/badInputCases";
import { allManifests, blobNames, health, runPool, waitForManifests, type StoredManifest } from "./support/proofRunner";

jest.setTimeout(240_000);

const SEED = Number(process.env.PROOF_SEED ?? 20250611);
const HTTP_CASES = 1_200;
const SIDECAR_IN_PROCESS_CASES = 1_000;
const SIDECAR_RUNTIME_CASES = 50;
const EVENT_CASES = 1_000;
const ODD_DROPS = 30;

const tried: Record<string, number> = {};

interface FieldsBody {
  error?: string;
  fields?: { field: string; reason: string }[];
}

const names = (field: string, expected: string) => field === expected || field.startsWith(`${expected}.`) || field.startsWith(`${expected}[`);

function describeCase(c: BadCase<unknown>, extra: string): string {
  const input = typeof c.input === "string" ? c.input : JSON.stringify(c.input);
  return `${c.kind} (field ${c.field}): ${input.length > 300 ? `${input.slice(0, 300)}… (${input.length} chars)` : input} → ${extra.slice(0, 500)}`;
}

describe("proof: bad input never starts anything", () => {
  let stack: TestStack;
  let pid: number | undefined;
  let instancesBefore: number;
  let productCallsBefore: number;
  let dropsBefore: string[];
  /** Blobs this file uploaded to driver-drops (they must all still be there). */
  const uploaded: string[] = [];

  beforeAll(async () => {
    stack = await startTestStack();
    pid = stack.runtime.pid;
    instancesBefore = (await stack.submissions.list()).length;
    productCallsBefore = createProductCalls(stack);
    dropsBefore = await blobNames(stack, APP_CONTAINERS.drops);
  });

  afterAll(async () => {
    console.log(
      `cases tried: ${Object.entries(tried)
        .map(([surface, n]) => `${surface}=${n}`)
        .join(", ")} per surface`,
    );
    await stack?.stop();
  });

  async function expectHealthyAndIdle(): Promise<void> {
    expect(await health(stack)).toEqual({ status: 200, ready: true });
    expect(stack.runtime.pid).toBe(pid);
    // Rejected drops are listed (stage "rejected", nothing submitted); no submission is.
    expect((await stack.submissions.list()).filter((view) => view.stage !== "rejected").length).toBe(instancesBefore);
    expect(createProductCalls(stack)).toBe(productCallsBefore);
    expect(stack.emulators.requests().entries.filter((e) => e.kind === "createProduct")).toHaveLength(0);
    const drops = await blobNames(stack, APP_CONTAINERS.drops);
    expect(drops.length).toBe(dropsBefore.length + uploaded.length);
    for (const name of uploaded) expect(drops).toContain(name);
  }

  it("POST /api/submissions: every generated bad body gets a 400 listing the bad field", async () => {
    const cases = fc.sample(badSubmissionBody, { numRuns: HTTP_CASES, seed: SEED });
    const failures: string[] = [];
    await runPool(cases, 12, async (c) => {
      const response = await fetch(`${stack.apiUrl}/submissions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-functions-key": stack.functionKey },
        body: c.input,
      });
      const text = await response.text();
      let body: FieldsBody = {};
      try {
        body = JSON.parse(text) as FieldsBody;
      } catch {
        /* reported below */
      }
      const fields = body.fields?.map((f) => f.field) ?? [];
      if (response.status !== 400 || !fields.some((f) => names(f, c.field)) || body.fields!.some((f) => !f.reason)) {
        failures.push(describeCase(c, `${response.status} ${text}`));
      }
    });
    tried["http"] = cases.length;
    expect(failures.slice(0, 10)).toEqual([]);
    await expectHealthyAndIdle();
  });

  it("POST /api/submissions: every body over 64 KiB gets 413, with a Content-Length or chunked", async () => {
    const cases = fc.sample(oversizedBody, { numRuns: 40, seed: SEED });
    const failures: string[] = [];
    await runPool(cases, 4, async (c) => {
      const bytes = Buffer.from(c.text);
      const body = c.chunked
        ? new ReadableStream<Uint8Array>({
            start(controller) {
              for (let at = 0; at < bytes.length; at += 16 * 1024) controller.enqueue(bytes.subarray(at, at + 16 * 1024));
              controller.close();
            },
          })
        : bytes;
      const response = await fetch(`${stack.apiUrl}/submissions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-functions-key": stack.functionKey },
        body,
        duplex: "half",
      } as RequestInit);
      const text = await response.text();
      if (response.status !== 413 || !text.includes('"field":"body"')) failures.push(`${c.size} bytes${c.chunked ? " chunked" : ""} → ${response.status} ${text.slice(0, 200)}`);
    });
    tried["http413"] = cases.length;
    expect(failures).toEqual([]);
    await expectHealthyAndIdle();
  });

  it("sidecars: every generated bad sidecar rejects its package, naming the field (in-process trigger)", async () => {
    Object.assign(process.env, {
      AzureWebJobsStorage: "UseDevelopmentStorage=true",
      HDC_TENANT_ID: "tenant",
      HDC_CLIENT_ID: "client",
      HDC_CLIENT_SECRET: "not-used-here",
      DROPS_CONTAINER: "driver-drops",
    });
    resetConfigCache();
    const registered = getRegisteredFunctions().get("packageDropped")!;
    const durableInput = Object.values(registered.bindings).find((binding) => binding.type === "durableClient")!;
    const startNew = jest.fn(async () => "never");
    const client = {
      startNew,
      getStatus: jest.fn(async (id: string) => {
        throw new Error(`DurableClient error: Durable Functions extension replied with HTTP 404 response. ${id}`);
      }),
    };
    const cases = fc.sample(badSidecar, { numRuns: SIDECAR_IN_PROCESS_CASES, seed: SEED });
    const failures: string[] = [];
    let n = 0;
    for (const c of cases) {
      const blobName = `sc-${n++}.hlkx`;
      fakeBlobs.set(`driver-drops/${blobName}.json`, Buffer.from(c.input, "utf8"));
      const context = new InvocationContext({
        functionName: "packageDropped",
        options: { trigger: triggerOf(registered) as never, extraInputs: [durableInput as never], extraOutputs: [] },
        logHandler: () => undefined,
      });
      context.extraInputs.set(durableInput as never, client);
      // The package is there (the fake storage's ETag is "0x1") and the event names that version.
      fakeBlobs.set(`driver-drops/${blobName}`, Buffer.alloc(10));
      const decision = await handlePackageDropped(blobCreatedEvent(`evt-${n}`, blobName, { eTag: '"0x1"' }) as never, context);
      const reason = "reason" in decision ? decision.reason : "";
      if (decision.action !== "rejected" || !reason.includes(c.field)) failures.push(describeCase(c, JSON.stringify(decision)));
    }
    tried["sidecar(in-process)"] = cases.length;
    expect(failures.slice(0, 10)).toEqual([]);
    // Only the records that list the rejections (recordRejectedDrop), never a submission.
    expect((startNew.mock.calls as unknown as Array<[string]>).filter(([name]) => name !== "recordRejectedDrop")).toEqual([]);
  });

  it("sidecars: a sample dropped for real is rejected with a manifest naming the field", async () => {
    const cases = fc.sample(badSidecar, { numRuns: SIDECAR_RUNTIME_CASES, seed: SEED + 1 });
    const drops = stack.blobService.getContainerClient(APP_CONTAINERS.drops);
    const expected = new Map<string, BadCase<string>>();
    await runPool(cases, 8, async (c, i) => {
      const pkg = samplePackage({ folder: `proof-sidecar-${i}` });
      await drops.getBlockBlobClient(`${pkg.fileName}.json`).upload(c.input, Buffer.byteLength(c.input));
      uploaded.push(`${pkg.fileName}.json`);
      await drops.getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
      uploaded.push(pkg.fileName);
      expected.set(pkg.fileName, c);
    });
    const manifests = await waitForManifests(stack, (all) => [...expected.keys()].every((name) => all.some((m) => m.package.blobName === name)), 90_000);
    const failures: string[] = [];
    for (const [blobName, c] of expected) {
      const manifest = manifests.find((m) => m.package.blobName === blobName);
      if (manifest?.outcome !== "rejected" || !manifest.reason?.includes(c.field)) failures.push(describeCase(c, JSON.stringify(manifest ?? "no manifest")));
    }
    tried["sidecar(runtime)"] = cases.length;
    expect(failures.slice(0, 10)).toEqual([]);
    await expectHealthyAndIdle();
  });

  it("POST /_local/eventgrid: malformed events get a 400 naming the field, bad packages a rejection, events matching no blob nothing, others are ignored", async () => {
    const makers = fc.sample(badEvent, { numRuns: EVENT_CASES, seed: SEED });
    const cases: EventCase[] = makers.map((make, n) => make(n));
    const manifestsBefore = await allManifests(stack);
    const listedBefore = new Set((await stack.submissions.list()).map((view) => view.id));
    const drops = stack.blobService.getContainerClient(APP_CONTAINERS.drops);
    const failures: string[] = [];
    await runPool(cases, 8, async (c) => {
      let body = c.input;
      if (c.upload) {
        // Only a blob that is really there is acted on: upload it, and send its real ETag.
        const uploadedBlob = await drops.getBlockBlobClient(c.blobName!).uploadData(c.upload);
        uploaded.push(c.blobName!);
        const event = JSON.parse(c.input) as { data: Record<string, unknown> };
        event.data.eTag = uploadedBlob.etag;
        body = JSON.stringify(event);
      }
      const response = await fetch(`${stack.baseUrl}/_local/eventgrid`, {
        method: "POST",
        headers: { "content-type": "application/json", ...eventGridKeyHeaders(stack) },
        body,
      });
      const text = await response.text();
      if (c.expect === "envelope") {
        let body: FieldsBody = {};
        try {
          body = JSON.parse(text) as FieldsBody;
        } catch {
          /* reported below */
        }
        if (response.status !== 400 || !body.fields?.some((f) => f.field.split(".").includes(c.field) || names(f.field, c.field))) failures.push(describeCase(c, `${response.status} ${text}`));
      } else if (response.status !== 200) {
        failures.push(describeCase(c, `${response.status} ${text}`));
      }
    });
    const manifests = await allManifests(stack);
    const added = manifests.filter((m) => !manifestsBefore.some((b) => b.blobName === m.blobName));
    const byBlob = new Map<string, StoredManifest[]>();
    for (const m of added) byBlob.set(m.package.blobName, [...(byBlob.get(m.package.blobName) ?? []), m]);
    for (const c of cases.filter((c) => c.expect === "rejected")) {
      const found = byBlob.get(c.blobName!) ?? [];
      if (!found.some((m) => m.outcome === "rejected" && m.reason?.includes(c.field))) failures.push(describeCase(c, `manifests: ${JSON.stringify(found)}`));
    }
    // Ignored events (not BlobCreated, not the drops container) leave no manifest behind.
    const ignoredNames = new Set(cases.filter((c) => c.expect === "ignored").map((c) => JSON.parse(c.input).subject as string));
    expect(added.filter((m) => ignoredNames.has(`/blobServices/default/containers/driver-drops/blobs/${m.package.blobName}`))).toEqual([]);
    // Events that match no blob (none there, or no usable eTag) leave nothing: every new manifest and every
    // new listed record is for a blob of a "rejected" case, which exists.
    const rejectedNames = new Set(cases.filter((c) => c.expect === "rejected").map((c) => c.blobName!));
    expect(cases.filter((c) => c.expect === "unverified").length).toBeGreaterThan(0);
    expect(added.filter((m) => !rejectedNames.has(m.package.blobName)).map((m) => m.package.blobName)).toEqual([]);
    const listedAfter = (await stack.submissions.list()).filter((view) => !listedBefore.has(view.id!));
    expect(listedAfter.filter((view) => view.stage !== "rejected" || !rejectedNames.has(String(view.custom.package?.blobName))).map((view) => view.id)).toEqual([]);
    // Every rejection manifest stays inside signed-drivers under a name derived safely.
    for (const m of added) expect(m.outcome).toBe("rejected");
    tried["eventgrid"] = cases.length;
    expect(failures.slice(0, 10)).toEqual([]);
    await expectHealthyAndIdle();
  });

  it("blobs with unusual names, zero bytes or a wrong extension dropped for real are rejected, naming the field", async () => {
    const oddName = fc.oneof(
      fc.string({ minLength: 1, maxLength: 12, unit: "grapheme" }),
      fc.constantFrom("with space", "hash#tag", "what?", "100%", "%2e%2e", "ünïcødé", "日本語", "emoji 🚀", "a+b=c", "semi;colon", "quote'\"", "amp&er"),
      fc.integer({ min: 200, max: 900 }).map((length) => "L".repeat(length)),
    ).filter((s) => !/[\u0000-\u001f\u007f\\]/.test(s) && !s.includes("/") && s.trim() === s && !s.endsWith(".") && s.length > 0);
    const kind = fc.constantFrom(
      { ext: ".hlkx", empty: true, field: "contentLength" },
      { ext: ".cab", empty: true, field: "contentLength" },
      { ext: ".zip", empty: false, field: "blobName" },
      { ext: ".hlkx.txt", empty: false, field: "blobName" },
      { ext: "", empty: false, field: "blobName" },
      { ext: ".exe", empty: true, field: "blobName" },
    );
    const samples = fc.sample(fc.tuple(oddName, kind), { numRuns: ODD_DROPS, seed: SEED });
    const drops = stack.blobService.getContainerClient(APP_CONTAINERS.drops);
    const expected = new Map<string, { field: string; kind: string }>();
    await runPool(samples, 8, async ([name, k], i) => {
      const blobName = `proof-odd-${i}-${name}${k.ext}`;
      const bytes = k.empty ? Buffer.alloc(0) : Buffer.from(`not a package ${i}`);
      await drops.getBlockBlobClient(blobName).uploadData(bytes);
      uploaded.push(blobName);
      expected.set(blobName, { field: k.field, kind: `${k.empty ? "empty" : "non-empty"} ${k.ext || "(no extension)"}` });
    });
    const manifests = await waitForManifests(stack, (all) => [...expected.keys()].every((name) => all.some((m) => m.package.blobName === name)), 60_000);
    const failures: string[] = [];
    for (const [blobName, c] of expected) {
      const manifest = manifests.find((m) => m.package.blobName === blobName);
      if (manifest?.outcome !== "rejected" || !manifest.reason?.includes(c.field)) failures.push(`${c.kind} ${JSON.stringify(blobName)} → ${JSON.stringify(manifest ?? "no manifest")}`);
    }
    tried["odd drops"] = samples.length;
    expect(failures).toEqual([]);
    await expectHealthyAndIdle();
  });
});
