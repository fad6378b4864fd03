/**
 * Preflight benchmark (issue 37): what the preflightPackage activity reads of a package in Azurite
 * (ranged GETs pinned to its ETag) and the RSS it adds, for a small CAB and a 1 GiB one. The 1 GiB
 * CAB is written at bench time by gcab from a sparse file (stored, no compression), uploaded as a
 * stream, and deleted afterwards; nothing large is kept.
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

    const rows: Record<string, string | number>[] = [];
    for (const [name, blobName, etag, size] of [
      ["small (MSZIP)", "small.cab", smallEtag, small.length],
      [`${sizeMiB} MiB (stored)`, "big.cab", bigEtag, bigSize],
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
