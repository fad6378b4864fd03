/**
 * A small, valid driver package for demos and tests: a ZIP (STORE method, CRC-32, no compression,
 * no dependency) holding placeholder INF/SYS/CAT files and, for .hlkx/.hckx, the OPC parts of a
 * signed HLK package (placeholder signature). Hardware Dev Center's emulator only needs a
 * well-formed archive; real packages come from the HLK studio.
 */

import { writeCab } from "../src/preflight/cabWriter";

export interface ZipEntry {
  name: string;
  data: Buffer;
}

export interface SamplePackageOptions {
  /** Folder inside the archive; also the base of the file name. */
  folder?: string;
  version?: string;
  extension?: ".hlkx" | ".hckx" | ".cab";
  /** Fixed modification time, so the same inputs give the same bytes. */
  modified?: Date;
}

export interface SamplePackage {
  fileName: string;
  bytes: Buffer;
}

export function samplePackage(options: SamplePackageOptions = {}): SamplePackage {
  const folder = options.folder ?? "contoso-demo";
  const version = options.version ?? "1.0.0";
  const inf = [
    "; Placeholder INF for the local demo; not an installable driver.",
    "[Version]",
    'Signature="$WINDOWS NT$"',
    "Class=System",
    "ClassGuid={4d36e97d-e325-11ce-bfc1-08002be10318}",
    "Provider=%Contoso%",
    "CatalogFile=contoso.cat",
    `DriverVer=01/01/2024,${version}.0`,
    "",
    "[Strings]",
    'Contoso="Contoso Ltd."',
    "",
  ].join("\r\n");
  const entries: ZipEntry[] = [
    { name: `${folder}/contoso.inf`, data: Buffer.from(inf, "utf8") },
    { name: `${folder}/contoso.sys`, data: Buffer.from(`MZ placeholder driver binary ${folder} ${version}\n`, "utf8") },
    { name: `${folder}/contoso.cat`, data: Buffer.from(`placeholder catalog ${folder} ${version}\n`, "utf8") },
  ];
  const extension = options.extension ?? ".hlkx";
  // An HLKX/HCKX is an OPC package HLK Studio signed: the parts preflight (PKG018, PKG019) and
  // Microsoft look for sit beside the driver files.
  const opcParts: ZipEntry[] = extension === ".cab" ? [] : hlkxPackageParts();
  return {
    fileName: `${folder}-${version}${extension}`,
    // A .cab is a real cabinet (the preflight step reads it as one); .hlkx/.hckx stay ZIP archives.
    bytes:
      extension === ".cab"
        ? Buffer.from(writeCab(entries.map((entry) => ({ path: entry.name, data: entry.data }))))
        : zipStore([...opcParts, ...entries], options.modified ?? new Date(Date.UTC(2024, 0, 1))),
  };
}

/** The OPC parts of a signed HLK package: content types, the package relationships, the signature origin and one signature part. */
function hlkxPackageParts(): ZipEntry[] {
  const relationships = (body: string) => `<?xml version="1.0" encoding="utf-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${body}</Relationships>`;
  const part = (name: string, text: string): ZipEntry => ({ name, data: Buffer.from(text, "utf8") });
  return [
    part("[Content_Types].xml", '<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="psdor" ContentType="application/vnd.openxmlformats-package.digital-signature-origin"/><Default Extension="psdsxs" ContentType="application/vnd.openxmlformats-package.digital-signature-xmlsignature+xml"/></Types>'),
    part("_rels/.rels", relationships('<Relationship Type="http://schemas.openxmlformats.org/package/2006/relationships/digital-signature/origin" Target="/package/services/digital-signature/origin.psdor" Id="R1"/>')),
    part("package/services/digital-signature/origin.psdor", ""),
    part("package/services/digital-signature/_rels/origin.psdor.rels", relationships('<Relationship Type="http://schemas.openxmlformats.org/package/2006/relationships/digital-signature/signature" Target="xml-signature/sample.psdsxs" Id="S1"/>')),
    part("package/services/digital-signature/xml-signature/sample.psdsxs", '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><!-- placeholder: the local sample is not really signed --></Signature>'),
  ];
}

/** Writes a ZIP archive with every entry stored (method 0). */
export function zipStore(entries: ZipEntry[], modified = new Date()): Buffer {
  const { time, date } = dosDateTime(modified);
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, "utf8");
    const crc = crc32(entry.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); // local file header signature
    local.writeUInt16LE(20, 4); // version needed to extract (2.0)
    local.writeUInt16LE(0x0800, 6); // flags: UTF-8 names
    local.writeUInt16LE(0, 8); // method: stored
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(entry.data.length, 18); // compressed size
    local.writeUInt32LE(entry.data.length, 22); // uncompressed size
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28); // extra field length
    locals.push(local, name, entry.data);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); // central directory header signature
    central.writeUInt16LE(20, 4); // version made by
    central.writeUInt16LE(20, 6); // version needed
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(time, 12);
    central.writeUInt16LE(date, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(entry.data.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    // extra length, comment length, disk number, internal attrs: all zero
    central.writeUInt32LE(0, 38); // external attributes
    central.writeUInt32LE(offset, 42); // offset of the local header
    centrals.push(central, name);
    offset += local.length + name.length + entry.data.length;
  }
  const centralDirectory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); // end of central directory signature
  end.writeUInt16LE(entries.length, 8); // entries on this disk
  end.writeUInt16LE(entries.length, 10); // entries in total
  end.writeUInt32LE(centralDirectory.length, 12);
  end.writeUInt32LE(offset, 16); // where the central directory starts
  return Buffer.concat([...locals, centralDirectory, end]);
}

function dosDateTime(when: Date): { time: number; date: number } {
  const year = Math.max(1980, when.getUTCFullYear());
  return {
    time: (when.getUTCHours() << 11) | (when.getUTCMinutes() << 5) | Math.floor(when.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((when.getUTCMonth() + 1) << 5) | when.getUTCDate(),
  };
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as ZIP requires. */
export function crc32(data: Buffer): number {
  crcTable ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let crc = 0xffffffff;
  for (const byte of data) crc = crcTable[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
