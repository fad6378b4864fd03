/**
 * The preproduction-signing client (src/hdc/preprod.ts) against the Hardware Dev Center emulator
 * (local/emulators/preprod.ts): real tokens from the Entra emulator, the real pipeline and
 * policies, a real Azurite behind the signed zips.
 */
import * as crypto from "node:crypto";
import { Readable } from "node:stream";
import { ClientSecretCredential } from "@azure/identity";
import { type EmulatorsHandle } from "../../../local/emulators";
import { SIZED_REPORT_END_MARKER } from "../../../local/emulators/hdcBehaviour";
import { contentHashMatches, preprodPhase } from "../../../src/domain/preprod";
import { HdcClient } from "../../../src/hdc/client";
import { HdcError } from "../../../src/hdc/errors";
import {
  createPreprodPackage,
  downloadPreprodAsset,
  findSignedFilesZip,
  getPreprodAsset,
  getPreprodPackage,
  listPreprodAssets,
  preprodFailureMessage,
} from "../../../src/hdc/preprod";
import { type EmulatorFixture, startEmulatorFixture } from "../../support/emulatorFixture";

const TENANT = "tenant-preprod";
const CLIENT = "client-preprod";
const SECRET = "preprod-secret";

let fixture: EmulatorFixture;
let emulators: EmulatorsHandle;
let client: HdcClient;

beforeAll(async () => {
  fixture = await startEmulatorFixture({ apps: [{ tenantId: TENANT, clientId: CLIENT, clientSecret: SECRET }] });
  ({ emulators } = fixture);
  const credential = new ClientSecretCredential(TENANT, CLIENT, SECRET, { authorityHost: emulators.authorityHost, disableInstanceDiscovery: true });
  client = new HdcClient({
    baseUrl: emulators.hdcBaseUrl,
    credential,
    scope: "https://manage.devcenter.microsoft.com/.default",
    timeoutMs: 10_000,
    maxRetries: 2,
    retryDelayMs: 10,
  });
}, 60_000);

afterAll(async () => {
  await fixture?.stop();
});

beforeEach(async () => {
  await emulators.reset();
});

/** A package of `size` bytes, and a factory that streams it in small chunks and counts its calls. */
function packageSource(size: number) {
  const bytes = crypto.randomBytes(size);
  const source = {
    bytes,
    sha256: crypto.createHash("sha256").update(bytes).digest("hex"),
    opened: 0,
    open: () => {
      source.opened++;
      let offset = 0;
      return new Readable({
        read() {
          if (offset >= bytes.length) return this.push(null);
          const end = Math.min(bytes.length, offset + 16 * 1024);
          this.push(bytes.subarray(offset, end));
          offset = end;
        },
      });
    },
  };
  return source;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const putCount = () => emulators.requests().counts.createPreprodPackage ?? 0;

describe("preproduction signing client against the emulator", () => {
  it("uploads the raw package, follows NotStarted -> Processing -> Succeeded, lists a bare array of assets and downloads a zip whose SHA-256 is the contentHash", async () => {
    emulators.configure({ preprod: { notStartedSeconds: 10, processingSeconds: 60 } });
    const source = packageSource(300 * 1024);
    const created = await createPreprodPackage(client, { open: source.open, contentLength: source.bytes.length });
    expect(created.id).toMatch(/^\d{19}$/);
    expect(preprodPhase(created.signingStatus)).toBe("notStarted");
    expect(created.signingStatus).toBe("NotStarted");

    // What arrived is the package, byte for byte, as the whole body.
    const [arrived] = emulators.state().preprodPackages;
    expect(arrived).toMatchObject({ id: created.id, upload: { length: source.bytes.length, sha256: source.sha256 } });
    const put = emulators.requests().entries.find((entry) => entry.kind === "createPreprodPackage");
    expect(put).toMatchObject({ method: "PUT", path: "/v2.0/my/hardware/preprod/packages/", status: 200 });

    emulators.advanceClock(11);
    expect(preprodPhase((await getPreprodPackage(client, created.id)).signingStatus)).toBe("processing");
    expect(await listPreprodAssets(client, created.id)).toEqual([]);
    emulators.advanceClock(60);
    const done = await getPreprodPackage(client, created.id);
    expect(done.signingStatus).toBe("Succeeded");
    expect(done.error).toBeNull();

    const assets = await listPreprodAssets(client, created.id);
    expect(assets).toHaveLength(1);
    const zip = findSignedFilesZip(assets)!;
    expect(zip).toMatchObject({ packageId: created.id, assetType: "SignedFilesZip" });
    expect(await getPreprodAsset(client, created.id, zip.id)).toEqual(zip);

    const bytes = await readAll(await downloadPreprodAsset(client, created.id, zip.id));
    expect(bytes.subarray(0, 4).toString("hex")).toBe("504b0304"); // a zip
    expect(bytes.includes(source.bytes)).toBe(true); // holding the package's files
    const digest = crypto.createHash("sha256").update(bytes).digest();
    expect(contentHashMatches(zip.contentHash, digest)).toBe(true);
    expect(putCount()).toBe(1);
    expect(source.opened).toBe(1);
  }, 60_000);

  it("re-opens the body when the bearer policy repeats the PUT after a 401: the retry carries the whole package, and one package exists", async () => {
    emulators.configure({ faults: [{ method: "PUT", pathRegex: "/preprod/packages/?$", status: 401, times: 1 }] });
    const source = packageSource(200 * 1024);
    const created = await createPreprodPackage(client, { open: source.open, contentLength: source.bytes.length });
    expect(putCount()).toBe(2);
    expect(source.opened).toBe(2);
    const packages = emulators.state().preprodPackages;
    expect(packages).toHaveLength(1);
    expect(packages[0]).toMatchObject({ id: created.id, upload: { length: source.bytes.length, sha256: source.sha256 } });
  }, 60_000);

  it("never repeats the PUT after a 5xx (the package may exist): the error is retryable for a caller that reconciles", async () => {
    emulators.configure({ faults: [{ method: "PUT", pathRegex: "/preprod/packages/?$", status: 502, times: 1, afterApplying: true }] });
    const source = packageSource(10 * 1024);
    const failure = await createPreprodPackage(client, { open: source.open, contentLength: source.bytes.length }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(HdcError);
    expect((failure as HdcError).statusCode).toBe(502);
    expect((failure as HdcError).retryable).toBe(true);
    expect(putCount()).toBe(1);
    expect(emulators.state().preprodPackages).toHaveLength(1);
  }, 60_000);

  it("a Failed package carries its whole error message, however long", async () => {
    emulators.configure({ preprod: { notStartedSeconds: 0, processingSeconds: 5, outcome: "failed", failureMessage: "Signing failed: EV signature missing.", failureMessageBytes: 150_000 } });
    const source = packageSource(4 * 1024);
    const created = await createPreprodPackage(client, { open: source.open });
    emulators.advanceClock(6);
    const failed = await getPreprodPackage(client, created.id);
    expect(preprodPhase(failed.signingStatus)).toBe("failed");
    const message = preprodFailureMessage(failed)!;
    expect(Buffer.byteLength(message)).toBe(150_000);
    expect(message.startsWith("Signing failed: EV signature missing.")).toBe(true);
    expect(message.trimEnd().endsWith(SIZED_REPORT_END_MARKER)).toBe(true);
    expect(await listPreprodAssets(client, created.id)).toEqual([]);
  }, 60_000);

  it("reads the status in any case, an undocumented status as unknown, and a base64 contentHash; a wrong contentHash does not match", async () => {
    emulators.configure({ preprod: { notStartedSeconds: 5, processingSeconds: 5, statusCase: "upper", processingStatusText: "Queued", contentHashEncoding: "base64", corruptContentHash: false } });
    const first = await createPreprodPackage(client, { open: packageSource(1024).open });
    expect(first.signingStatus).toBe("NOTSTARTED");
    expect(preprodPhase(first.signingStatus)).toBe("notStarted");
    emulators.advanceClock(6);
    const queued = await getPreprodPackage(client, first.id);
    expect(queued.signingStatus).toBe("QUEUED");
    expect(preprodPhase(queued.signingStatus)).toBe("unknown");
    emulators.advanceClock(5);
    expect(preprodPhase((await getPreprodPackage(client, first.id)).signingStatus)).toBe("succeeded");
    const asset = findSignedFilesZip(await listPreprodAssets(client, first.id))!;
    expect(asset.contentHash).toMatch(/=$/);
    const digest = crypto.createHash("sha256").update(await readAll(await downloadPreprodAsset(client, first.id, asset.id))).digest();
    expect(contentHashMatches(asset.contentHash, digest)).toBe(true);

    emulators.configure({ preprod: { notStartedSeconds: 0, processingSeconds: 0, statusCase: "camel", processingStatusText: undefined, corruptContentHash: true } });
    const second = await createPreprodPackage(client, { open: packageSource(1024).open });
    expect(second.signingStatus).toBe("succeeded");
    const bad = findSignedFilesZip(await listPreprodAssets(client, second.id))!;
    const badDigest = crypto.createHash("sha256").update(await readAll(await downloadPreprodAsset(client, second.id, bad.id))).digest();
    expect(contentHashMatches(bad.contentHash, badDigest)).toBe(false);
  }, 60_000);

  it("answers 404 for an unknown package, and ids that are not plain segments never reach the wire", async () => {
    const failure = await getPreprodPackage(client, "2305843009213699999").catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(HdcError);
    expect((failure as HdcError).statusCode).toBe(404);
    await expect(getPreprodPackage(client, "../products")).rejects.toThrow(TypeError);
    await expect(downloadPreprodAsset(client, "1", "a?b")).rejects.toThrow(TypeError);
  }, 30_000);
});

describe("preprod domain rules", () => {
  it("preprodPhase ignores case and whitespace; anything else is unknown", () => {
    expect(["NotStarted", "notstarted", " PROCESSING ", "Succeeded", "failed"].map(preprodPhase)).toEqual(["notStarted", "notStarted", "processing", "succeeded", "failed"]);
    expect([undefined, null, 3, "", "Queued", "Success"].map(preprodPhase)).toEqual(["unknown", "unknown", "unknown", "unknown", "unknown", "unknown"]);
  });

  it("contentHashMatches takes hex (any case) or base64 of exactly that digest", () => {
    const digest = crypto.createHash("sha256").update("x").digest();
    expect(contentHashMatches(digest.toString("hex"), digest)).toBe(true);
    expect(contentHashMatches(digest.toString("hex").toUpperCase(), digest)).toBe(true);
    expect(contentHashMatches(digest.toString("base64"), digest)).toBe(true);
    const other = crypto.createHash("sha256").update("y").digest();
    expect(contentHashMatches(other.toString("hex"), digest)).toBe(false);
    expect(contentHashMatches(other.toString("base64"), digest)).toBe(false);
    expect(contentHashMatches("", digest)).toBe(false);
    expect(contentHashMatches(undefined, digest)).toBe(false);
    expect(contentHashMatches(digest.toString("hex").slice(0, 40), digest)).toBe(false);
  });
});
