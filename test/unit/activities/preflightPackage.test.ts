/**
 * The preflightPackage activity against Azurite: ranged reads pinned to the run's ETag, only the
 * bytes the inspection needs, findings and hardware ids back; .hlkx is not a cabinet to check.
 */
import { randomBytes } from "node:crypto";
import { BlobServiceClient } from "@azure/storage-blob";
import type { AzuriteHandle } from "../../../local/azurite";
import type { PreflightPackageInput } from "../../../src/activities/contract";
import { isTerminalFailure } from "../../../src/activities/errors";
import { preflightPackage } from "../../../src/activities/preflightPackage";
import { writeCab } from "../../../src/preflight/cabWriter";
import { FakeHdc, startStorage, testConfig, testDeps } from "./support";

let storage: AzuriteHandle;
let service: BlobServiceClient;

const INF = Buffer.from(
  [
    "[Version]",
    'Signature="$WINDOWS NT$"',
    "Class=USBDevice",
    "Provider=Contoso",
    "CatalogFile=contoso.cat",
    "[Manufacturer]",
    "Contoso=Models,NTamd64",
    "[Models.NTamd64]",
    "Device=Install,USB\\VID_1234&PID_5678",
    "",
  ].join("\r\n"),
);
/** Incompressible, and after the INF in the folder: the inspection never needs to decode it. */
const BIG = randomBytes(16 * 1024 * 1024);

const good = () =>
  Buffer.from(
    writeCab([
      { path: "usb/contoso.inf", data: INF },
      { path: "usb/contoso.cat", data: Buffer.from("catalog") },
      { path: "usb/zz-firmware.bin", data: BIG },
    ]),
  );
const rootFiles = () => Buffer.from(writeCab([{ path: "contoso.inf", data: INF }, { path: "contoso.cat", data: Buffer.from("catalog") }]));

async function put(blobName: string, bytes: Buffer): Promise<string> {
  return (await service.getContainerClient("driver-drops").getBlockBlobClient(blobName).uploadData(bytes)).etag!;
}
const deps = () => testDeps(testConfig(storage.connectionString), new FakeHdc(service));
const input = (blobName: string, etag: string): PreflightPackageInput => ({ package: { container: "driver-drops", blobName, etag } });

beforeAll(async () => {
  storage = await startStorage();
  service = BlobServiceClient.fromConnectionString(storage.connectionString);
  await service.getContainerClient("driver-drops").createIfNotExists();
});
afterAll(async () => {
  await storage?.stop();
});

describe("preflightPackage", () => {
  it("reads a 16 MiB cabinet through small ranged reads: clean, its hardware ids, a few KiB read", async () => {
    const bytes = good();
    const etag = await put("good.cab", bytes);
    const result = await preflightPackage(input("good.cab", etag), deps());

    expect(result).toMatchObject({ verdict: "clean", findings: [], hardwareIds: ["usb\\vid_1234&pid_5678"] });
    expect(result.bytesRead).toBeGreaterThan(0);
    // The header, the file table and the first data blocks: far below the package.
    expect(result.bytesRead).toBeLessThan(256 * 1024);
    expect(bytes.length).toBeGreaterThan(16 * 1024 * 1024);
  });

  it("refuses files at the cabinet's root with findings naming each file", async () => {
    const etag = await put("root.cab", rootFiles());
    const result = await preflightPackage(input("root.cab", etag), deps());

    expect(result.verdict).toBe("refused");
    expect(result.findings.filter((f) => f.code === "PKG001").map((f) => [f.severity, f.file])).toEqual([
      ["error", "contoso.cat"],
      ["error", "contoso.inf"],
    ]);
  });

  it("a package replaced since the run started is the terminal 'package changed' failure", async () => {
    const startedFor = await put("replaced.cab", good());
    await put("replaced.cab", rootFiles());

    const failure = await preflightPackage(input("replaced.cab", startedFor), deps()).catch((error: unknown) => error);

    expect(isTerminalFailure(failure)).toBe(true);
    expect(String((failure as Error).message)).toContain("driver-drops/replaced.cab changed since the run started");
    expect(String((failure as Error).message)).toContain("nothing was created at Microsoft");
  });

  it("an HLK archive (.hlkx) is not a cabinet: notApplicable, nothing read", async () => {
    const etag = await put("contoso.hlkx", Buffer.from("PK\u0003\u0004 not a cabinet"));
    expect(await preflightPackage(input("contoso.hlkx", etag), deps())).toEqual({ verdict: "notApplicable", findings: [], hardwareIds: [], bytesRead: 0 });
  });
});
