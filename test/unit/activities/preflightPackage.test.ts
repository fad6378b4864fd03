/**
 * The preflightPackage activity against Azurite: ranged reads pinned to the run's ETag, only the
 * bytes the inspection needs, findings and hardware ids back; .hlkx/.hckx get the HLKX rules through
 * the same reads (the zip's end records, central directory, local headers and .rels parts only).
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { BlobServiceClient, BlockBlobClient } from "@azure/storage-blob";
import type { AzuriteHandle } from "../../../local/azurite";
import type { PreflightPackageInput } from "../../../src/activities/contract";
import { isTerminalFailure } from "../../../src/activities/errors";
import { preflightPackage } from "../../../src/activities/preflightPackage";
import { writeCab } from "../../../src/preflight/cabWriter";
import { bsdtarZip, scratch, SIGNED_HLKX_PARTS, toolIt, writeTree } from "../preflight/fixtures";
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
    // Per INF too, for the label preview of a dry-run publish policy.
    expect(result.infs).toEqual([{ path: "usb/contoso.inf", architectures: ["amd64"], hardwareIds: ["usb\\vid_1234&pid_5678"] }]);
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

  it("a name without a package extension is not checked: notApplicable, nothing read", async () => {
    const etag = await put("contoso.zip", Buffer.from("PK\u0003\u0004 not a package"));
    expect(await preflightPackage(input("contoso.zip", etag), deps())).toEqual({ verdict: "notApplicable", findings: [], hardwareIds: [], bytesRead: 0 });
  });
});

/** A plain (no Zip64) zip of empty stored entries: local headers, central directory, end record (APPNOTE 4.3). */
function storedZip(names: string[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const name of names) {
    const nameBytes = Buffer.from(name, "utf8");
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(nameBytes.length, 26);
    locals.push(local, nameBytes);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4);
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(nameBytes.length, 28);
    entry.writeUInt32LE(offset, 42);
    central.push(entry, nameBytes);
    offset += 30 + nameBytes.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(names.length, 8);
  end.writeUInt16LE(names.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

describe("preflightPackage on HLK archives (.hlkx/.hckx)", () => {
  const MIB = 1024 * 1024;
  let work: string;
  let counter = 0;
  beforeAll(() => {
    work = scratch("preflight-hlkx-");
  });
  afterAll(() => {
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** Writes the parts (plus `sparse` files of the given sizes, holes on disk) and zips them with bsdtar. */
  function hlkxFile(parts: Record<string, string>, options: { zip64?: boolean; sparse?: Record<string, number> } = {}): string {
    const dir = path.join(work, `tree-${++counter}`);
    writeTree(dir, parts);
    for (const [name, size] of Object.entries(options.sparse ?? {})) {
      fs.closeSync(fs.openSync(path.join(dir, name), "w"));
      fs.truncateSync(path.join(dir, name), size);
    }
    const names = [...Object.keys(parts), ...Object.keys(options.sparse ?? {})].sort();
    return bsdtarZip(dir, path.join(work, `package-${counter}.hlkx`), names, { zip64: options.zip64, store: options.sparse !== undefined });
  }
  async function putFile(blobName: string, file: string): Promise<string> {
    return (await service.getContainerClient("driver-drops").getBlockBlobClient(blobName).uploadFile(file, { blockSize: 8 * MIB, concurrency: 2 })).etag!;
  }

  toolIt("a signed OPC package is clean; no hardware ids (an HLKX carries no INFs the rules read)", async () => {
    const etag = await putFile("signed.hlkx", hlkxFile(SIGNED_HLKX_PARTS));
    expect(await preflightPackage(input("signed.hlkx", etag), deps())).toMatchObject({ verdict: "clean", findings: [], hardwareIds: [] });
  });

  toolIt("PKG017: a Zip64 .hckx is refused with Microsoft's text, each place Zip64 is used a finding", async () => {
    const etag = await putFile("zip64.hckx", hlkxFile(SIGNED_HLKX_PARTS, { zip64: true }));
    const result = await preflightPackage(input("zip64.hckx", etag), deps());
    expect(result.verdict).toBe("refused");
    expect(new Set(result.findings.map((f) => f.code))).toEqual(new Set(["PKG017"]));
    expect(result.findings[0].message).toContain("File is using Zip64");
    expect(result.findings.map((f) => f.message)).toContainEqual(expect.stringContaining("the Zip64 end-of-central-directory locator"));
  });

  toolIt("PKG018/PKG019: a package without _rels/.rels, or without its signature part, is refused", async () => {
    const noRels = Object.fromEntries(Object.entries(SIGNED_HLKX_PARTS).filter(([name]) => name !== "_rels/.rels"));
    const unsigned = Object.fromEntries(Object.entries(SIGNED_HLKX_PARTS).filter(([name]) => !name.endsWith(".psdsxs")));
    const noRelsResult = await preflightPackage(input("norels.hlkx", await putFile("norels.hlkx", hlkxFile(noRels))), deps());
    const unsignedResult = await preflightPackage(input("unsigned.hlkx", await putFile("unsigned.hlkx", hlkxFile(unsigned))), deps());
    expect(noRelsResult.findings.map((f) => [f.code, f.file])).toEqual([["PKG018", "_rels/.rels"]]);
    expect(unsignedResult.findings.map((f) => f.code)).toEqual(["PKG019"]);
    expect(unsignedResult.verdict).toBe("refused");
  });

  toolIt("a 256 MiB HLKX (a stored, sparse part) is checked by reading a few KiB: end records, directory, headers, .rels", async () => {
    const file = hlkxFile(SIGNED_HLKX_PARTS, { sparse: { "hck/data/trace.etl": 256 * MIB } });
    const size = fs.statSync(file).size;
    const etag = await putFile("big.hlkx", file);
    fs.rmSync(file);
    const result = await preflightPackage(input("big.hlkx", etag), deps());
    expect(result).toMatchObject({ verdict: "clean", findings: [] });
    expect(size).toBeGreaterThan(256 * MIB);
    // The tail (the end record may have a 64 KiB comment), the directory, one window per local header: far below the package.
    expect(result.bytesRead).toBeGreaterThan(0);
    expect(result.bytesRead).toBeLessThan(256 * 1024);
  });

  toolIt("a package of 400 small parts costs a handful of ranged GETs, not one or two per part (the read-ahead window)", async () => {
    const many: Record<string, string> = { ...SIGNED_HLKX_PARTS };
    for (let i = 0; i < 400; i++) many[`hck/data/results-${String(i).padStart(3, "0")}.xml`] = `<Result n="${i}"/>`;
    const etag = await putFile("many.hlkx", hlkxFile(many));
    const gets = jest.spyOn(BlockBlobClient.prototype, "downloadToBuffer");
    try {
      const result = await preflightPackage(input("many.hlkx", etag), deps());
      expect(result.verdict).toBe("clean");
      expect(gets.mock.calls.length).toBeLessThan(40);
    } finally {
      gets.mockRestore();
    }
  });

  it("an archive whose central directory is over one read's cap is left uninspected with a warning (PKG009), not failed", async () => {
    // 17,000 empty stored entries with 230-character names: a 4.7 MB central directory (cap: MAX_RANGE_BYTES, 4 MiB).
    const names = Array.from({ length: 17_000 }, (_, i) => `hck/data/${String(i).padStart(5, "0")}-${"r".repeat(215)}.xml`);
    const zip = storedZip(names);
    const etag = await put("huge-directory.hlkx", zip);
    const result = await preflightPackage(input("huge-directory.hlkx", etag), deps());
    expect(result.verdict).toBe("warnings");
    expect(result.findings).toEqual([expect.objectContaining({ code: "PKG009", severity: "warning", message: expect.stringContaining("Not inspected: it would read") })]);
    expect(result.findings[0].message).toContain(`cap of one read`);
    // Only the tail was read before the directory's size was known.
    expect(result.bytesRead).toBeLessThan(256 * 1024);
  });

  toolIt("an .hlkx replaced since the run started is the terminal 'package changed' failure", async () => {
    const startedFor = await putFile("replaced.hlkx", hlkxFile(SIGNED_HLKX_PARTS));
    await putFile("replaced.hlkx", hlkxFile(SIGNED_HLKX_PARTS, { zip64: true }));
    const failure = await preflightPackage(input("replaced.hlkx", startedFor), deps()).catch((error: unknown) => error);
    expect(isTerminalFailure(failure)).toBe(true);
    expect(String((failure as Error).message)).toContain("driver-drops/replaced.hlkx changed since the run started");
  });
});
