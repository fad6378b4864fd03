/**
 * Preflight benchmark (issue 37): what the preflightPackage activity reads of a package in Azurite
 * (ranged GETs pinned to its ETag) and the RSS it adds, for a small CAB and a 1 GiB one, and the same
 * for HLKX packages (a signed OPC zip, small and 1 GiB). The large packages are written at bench time
 * by gcab / bsdtar from a sparse file (stored, no compression), uploaded as a stream, and deleted
 * afterwards; nothing large is kept.
 *
 *   node dist/bench/preflight.js [sizeMiB]      (or BENCH_PREFLIGHT_MIB; default 1024, 64 with BENCH_QUICK=1)
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { startAzurite } from "../local/azurite";
import type { ActivityDeps } from "../src/activities/deps";
import { preflightPackage } from "../src/activities/preflightPackage";
import { writeCab } from "../src/preflight/cabWriter";
import { envNumber, MIB, mib, printMachine, printTable, quickMode, rssWatcher } from "./support/common";

/** A share as a percentage with 3 significant digits (the ratios here are far below 1). */
const share = (part: number, whole: number): string => (whole > 0 ? `${((part / whole) * 100).toPrecision(3)}%` : "n/a");

const CONTAINER = "driver-drops";
const INF = [
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
].join("\r\n");

/** A signed OPC package's parts, as HLK Studio writes them. */
const OPC_PARTS: Record<string, string> = {
  "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
  "_rels/.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Type="http://schemas.openxmlformats.org/package/2006/relationships/digital-signature/origin" Target="/package/services/digital-signature/origin.psdor" Id="R1"/></Relationships>',
  "package/services/digital-signature/origin.psdor": "",
  "package/services/digital-signature/_rels/origin.psdor.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Target="xml-signature/a1.psdsxs" Id="S1" Type="http://schemas.openxmlformats.org/package/2006/relationships/digital-signature/signature"/></Relationships>',
  "package/services/digital-signature/xml-signature/a1.psdsxs": "<Signature/>",
  "hck/data/results.xml": "<Results/>",
};

async function main(): Promise<void> {
  const sizeMiB = Number(process.argv[2] ?? "") || envNumber("BENCH_PREFLIGHT_MIB", quickMode() ? 64 : 1024);
  printMachine();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "bench-preflight-"));
  const azurite = await startAzurite();
  try {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    await service.getContainerClient(CONTAINER).createIfNotExists();
    const deps = { blobService: service, config: { settings: { MAX_PACKAGE_BYTES: 0x7fffffff } }, log: () => undefined } as unknown as ActivityDeps;

    // Small: a driver folder as driver-sign pack writes it (MSZIP).
    const small = Buffer.from(writeCab([
      { path: "usb/contoso.inf", data: Buffer.from(INF) },
      { path: "usb/contoso.cat", data: Buffer.from("catalog") },
      { path: "usb/contoso.sys", data: Buffer.alloc(64 * 1024, 7) },
    ]));
    const smallBlob = service.getContainerClient(CONTAINER).getBlockBlobClient("small.cab");
    const smallEtag = (await smallBlob.uploadData(small)).etag!;

    // Large: gcab (stored folder) over a sparse file, so the generator never holds it.
    fs.mkdirSync(path.join(work, "usb"));
    fs.writeFileSync(path.join(work, "usb", "contoso.inf"), INF);
    fs.writeFileSync(path.join(work, "usb", "contoso.cat"), "catalog");
    fs.closeSync(fs.openSync(path.join(work, "usb", "zz-firmware.bin"), "w"));
    fs.truncateSync(path.join(work, "usb", "zz-firmware.bin"), sizeMiB * MIB);
    const bigCab = path.join(work, "big.cab");
    execFileSync("gcab", ["-c", bigCab, "usb/contoso.inf", "usb/contoso.cat", "usb/zz-firmware.bin"], { cwd: work });
    fs.rmSync(path.join(work, "usb"), { recursive: true });
    const bigBlob = service.getContainerClient(CONTAINER).getBlockBlobClient("big.cab");
    const bigEtag = (await bigBlob.uploadFile(bigCab, { blockSize: 8 * MIB, concurrency: 2 })).etag!;
    const bigSize = fs.statSync(bigCab).size;
    fs.rmSync(bigCab);

    // HLKX: the OPC parts of a signed package, then the same plus the sparse file, zipped (stored) by bsdtar.
    const hlkxDir = path.join(work, "hlkx");
    for (const [name, content] of Object.entries(OPC_PARTS)) {
      fs.mkdirSync(path.dirname(path.join(hlkxDir, name)), { recursive: true });
      fs.writeFileSync(path.join(hlkxDir, name), content);
    }
    const zip = (out: string, names: string[]) =>
      execFileSync("bsdtar", ["-c", "--format", "zip", "--options", "zip:compression=store", "-f", out, ...names], { cwd: hlkxDir });
    const smallHlkx = path.join(work, "small.hlkx");
    zip(smallHlkx, Object.keys(OPC_PARTS));
    const smallHlkxSize = fs.statSync(smallHlkx).size;
    const smallHlkxEtag = (await service.getContainerClient(CONTAINER).getBlockBlobClient("small.hlkx").uploadFile(smallHlkx)).etag!;
    fs.closeSync(fs.openSync(path.join(hlkxDir, "hck", "data", "trace.etl"), "w"));
    fs.truncateSync(path.join(hlkxDir, "hck", "data", "trace.etl"), sizeMiB * MIB);
    const bigHlkx = path.join(work, "big.hlkx");
    zip(bigHlkx, [...Object.keys(OPC_PARTS), "hck/data/trace.etl"]);
    fs.rmSync(hlkxDir, { recursive: true });
    const bigHlkxEtag = (await service.getContainerClient(CONTAINER).getBlockBlobClient("big.hlkx").uploadFile(bigHlkx, { blockSize: 8 * MIB, concurrency: 2 })).etag!;
    const bigHlkxSize = fs.statSync(bigHlkx).size;
    fs.rmSync(bigHlkx);

    const rows: Record<string, string | number>[] = [];
    for (const [name, blobName, etag, size] of [
      ["small (MSZIP)", "small.cab", smallEtag, small.length],
      [`${sizeMiB} MiB (stored)`, "big.cab", bigEtag, bigSize],
      ["small .hlkx", "small.hlkx", smallHlkxEtag, smallHlkxSize],
      [`${sizeMiB} MiB .hlkx (stored)`, "big.hlkx", bigHlkxEtag, bigHlkxSize],
    ] as const) {
      global.gc?.();
      const watch = rssWatcher("self", 5);
      const started = process.hrtime.bigint();
      const result = await preflightPackage({ package: { container: CONTAINER, blobName, etag } }, deps);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const memory = watch.stop();
      rows.push({
        package: name,
        "size bytes": size,
        verdict: result.verdict,
        "hardware ids": result.hardwareIds.length,
        "bytes read": result.bytesRead,
        "read / size": share(result.bytesRead, size),
        "peak RSS +MiB": mib(memory.growth),
        "RSS growth / size": share(memory.growth, size),
        ms: Math.round(ms),
      });
    }
    printTable("preflightPackage: ranged reads pinned to the ETag", rows);
  } finally {
    await azurite.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
