/**
 * The verifySignedPackage activity against Azurite (issue 36): the emulator's signed zip of a CAB
 * (local/emulators/signedPackage.ts, catalogs signed by the openssl-made test chain) checked against
 * the submitted CAB pinned to its ETag, with the test root trusted only through
 * SIGNED_PACKAGE_TRUSTED_ROOTS; that setting refused by config unless HDC is the local emulator.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import type { AzuriteHandle } from "../../../local/azurite";
import { CHANGED_INF_LINE, signedZipFromCab } from "../../../local/emulators/signedPackage";
import { loadOrCreateSigningChain, type SigningChain } from "../../../local/emulators/signingChain";
import type { VerifySignedPackageInput } from "../../../src/activities/contract";
import { isTerminalFailure } from "../../../src/activities/errors";
import { verifySignedPackage } from "../../../src/activities/verifySignedPackage";
import { ConfigError, parseConfig } from "../../../src/config";
import { writeCab } from "../../../src/preflight/cabWriter";
import type { SignedPackageMode } from "../../../local/emulators/hdcBehaviour";
import { scratch } from "../preflight/fixtures";
import { FakeHdc, startStorage, testConfig, testDeps } from "./support";

jest.setTimeout(60_000);

let storage: AzuriteHandle;
let service: BlobServiceClient;
let chain: SigningChain;
const work = scratch("verify-signed-");

const INF = Buffer.from('[Version]\r\nSignature="$WINDOWS NT$"\r\nClass=System\r\nCatalogFile=contoso.cat\r\n', "latin1");
const cab = () =>
  Buffer.from(
    writeCab([
      { path: "usb/contoso.inf", data: INF },
      { path: "usb/contoso.sys", data: Buffer.from("MZ driver") },
      { path: "usb/contoso.cat", data: Buffer.from("the vendor's own catalog, replaced by Microsoft") },
    ]),
  );

beforeAll(async () => {
  storage = await startStorage();
  service = BlobServiceClient.fromConnectionString(storage.connectionString);
  for (const name of ["driver-drops", "signed-drivers"]) await service.getContainerClient(name).createIfNotExists();
  chain = loadOrCreateSigningChain(path.join(work, "chain"));
});
afterAll(async () => {
  await storage?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

const put = async (container: string, blobName: string, bytes: Buffer) => (await service.getContainerClient(container).getBlockBlobClient(blobName).uploadData(bytes)).etag!;
const deps = (overrides: Record<string, string> = { SIGNED_PACKAGE_TRUSTED_ROOTS: chain.rootFile }) => testDeps(testConfig(storage.connectionString, overrides), new FakeHdc(service));

async function run(mode: SignedPackageMode, name: string, overrides?: Record<string, string>) {
  const submitted = cab();
  const etag = await put("driver-drops", `${name}.cab`, submitted);
  const zip = (await signedZipFromCab(submitted, chain, mode))!;
  await put("signed-drivers", `${name}/Signed_1.zip`, zip);
  const input: VerifySignedPackageInput = {
    instanceId: name,
    package: { container: "driver-drops", blobName: `${name}.cab`, etag },
    signedPackage: { container: "signed-drivers", blobName: `${name}/Signed_1.zip`, contentLength: zip.length },
  };
  return { input, result: await verifySignedPackage(input, deps(overrides)) };
}

describe("verifySignedPackage activity", () => {
  it("verifies the emulator's signed zip: its regenerated catalog chains to the test root, the INF is the submitted one", async () => {
    const { result } = await run("valid", "good");
    expect(result.failures).toEqual([]);
    expect(result).toMatchObject({ verdict: "verified", catalogCount: 1, infCount: 1 });
    expect(result.catalogs).toEqual([expect.objectContaining({ path: "usb/contoso.cat", root: expect.stringContaining("HDC Emulator Test Root"), members: 2 })]);
    expect(result.infs).toEqual([expect.objectContaining({ path: "usb/contoso.inf", submittedPath: "usb/contoso.inf" })]);
  });

  it("fails the emulator's failing cases with the file and the check", async () => {
    expect((await run("infChanged", "changed")).result.failures).toEqual([{ file: "usb/contoso.inf", check: "infIdentical", reason: expect.stringContaining("differs") }]);
    expect((await run("untrustedRoot", "untrusted")).result.failures).toEqual([{ file: "usb/contoso.cat", check: "catalogChain", reason: expect.stringContaining("not a trusted root") }]);
    expect((await run("noWhqlEku", "noeku")).result.failures).toEqual([{ file: "usb/contoso.cat", check: "whqlEku", reason: expect.any(String) }]);
    expect(CHANGED_INF_LINE).toMatch(/changed/);
  });

  it("without SIGNED_PACKAGE_TRUSTED_ROOTS only Microsoft's root is trusted: the test-signed package fails its chain", async () => {
    const { result } = await run("valid", "production", {});
    expect(result.verdict).toBe("failed");
    expect(result.failures).toEqual([{ file: "usb/contoso.cat", check: "catalogChain", reason: expect.any(String) }]);
  });

  it("a submitted package replaced since the run started is a terminal failure naming it", async () => {
    const { input } = await run("valid", "replaced");
    await put("driver-drops", "replaced.cab", Buffer.concat([cab(), Buffer.from("x")]));
    const failure = await verifySignedPackage(input, deps()).catch((error: unknown) => error);
    expect(isTerminalFailure(failure)).toBe(true);
    expect((failure as Error).message).toMatch(/package driver-drops\/replaced\.cab changed/);
  });

  it("an HLK package is not applicable (its INFs are inside the HLKX)", async () => {
    const result = await verifySignedPackage(
      { instanceId: "h", package: { container: "driver-drops", blobName: "x.hlkx" }, signedPackage: { container: "signed-drivers", blobName: "x/Signed_1.zip", contentLength: 1 } },
      deps(),
    );
    expect(result).toMatchObject({ verdict: "notApplicable", catalogCount: 0, infCount: 0 });
  });
});

describe("SIGNED_PACKAGE_TRUSTED_ROOTS", () => {
  const env = { AzureWebJobsStorage: "UseDevelopmentStorage=true", HDC_TENANT_ID: "t", HDC_CLIENT_ID: "c", HDC_CLIENT_SECRET: "s" };
  const problems = (extra: Record<string, string>) => {
    try {
      parseConfig({ ...env, ...extra });
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
  };
  it("is refused unless Hardware Dev Center is the local emulator (a loopback URL)", () => {
    expect(problems({ SIGNED_PACKAGE_TRUSTED_ROOTS: "/tmp/root.pem" })).toEqual([expect.stringMatching(/^SIGNED_PACKAGE_TRUSTED_ROOTS.*local runs only/)]);
    expect(problems({ SIGNED_PACKAGE_TRUSTED_ROOTS: "/tmp/root.pem", HDC_API_BASE_URL: "https://devcenter.example.com/v2.0/my/" })).toHaveLength(1);
    expect(problems({ SIGNED_PACKAGE_TRUSTED_ROOTS: "/tmp/root.pem", HDC_API_BASE_URL: "https://127.0.0.1:7001/v2.0/my/" })).toEqual([]);
    expect(problems({})).toEqual([]);
  });
});
