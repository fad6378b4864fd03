/**
 * Fixtures for the preflight tests, built at test time (no binary blobs in the repository): INF
 * texts in UTF-16 LE (with BOM) and ANSI, driver folders on disk, and CABs made by Debian's gcab,
 * read back with cabextract. Without those tools the tests that need them are skipped with a
 * message, except under CI=true where they run and fail (.ci/run installs them).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const TOOLS = { gcab: "/usr/bin/gcab", cabextract: "/usr/bin/cabextract", bsdtar: "/usr/bin/bsdtar" } as const;
const missing = Object.values(TOOLS).filter((tool) => !fs.existsSync(tool));
export const HAVE_CAB_TOOLS = missing.length === 0;
if (!HAVE_CAB_TOOLS) {
  console.warn(`preflight CAB tests: ${missing.join(", ")} not found (apt-get install gcab cabextract libarchive-tools); ${process.env.CI === "true" ? "CI=true: they fail" : "skipped"}`);
}
/** Runs when the CAB tools are there; under CI=true also without them (and fails). */
export const toolIt = HAVE_CAB_TOOLS || process.env.CI === "true" ? it : it.skip;

export function scratch(prefix = "preflight-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes files (relative path → content) under `root`. */
export function writeTree(root: string, files: Record<string, string | Uint8Array>): void {
  for (const [relative, content] of Object.entries(files)) {
    const file = path.join(root, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

/** gcab -c [-z] out.cab <files> run in `cwd`, so the stored names are the relative paths given. */
export function gcab(cwd: string, out: string, files: string[], compress: boolean): Buffer {
  execFileSync(TOOLS.gcab, ["-c", ...(compress ? ["-z"] : []), out, ...files], { cwd, stdio: "pipe" });
  return fs.readFileSync(path.resolve(cwd, out));
}

/** `cabextract -l`: the listed names (with "/" separators) and sizes. */
export function cabextractList(cab: string): { name: string; size: number }[] {
  const text = execFileSync(TOOLS.cabextract, ["-l", cab], { encoding: "utf8" });
  return text
    .split("\n")
    .map((line) => /^\s*(\d+) \| [^|]+\| (.+)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[2].trim(), size: Number(m[1]) }));
}

/** UTF-16 LE with a BOM, CRLF lines: how Visual Studio's driver templates save INFs. */
export function utf16(text: string): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text.replace(/\r?\n/g, "\r\n"), "utf16le")]);
}

/** ANSI (Windows-1252/Latin-1), CRLF lines. */
export function ansi(text: string): Buffer {
  return Buffer.from(text.replace(/\r?\n/g, "\r\n"), "latin1");
}

/**
 * An INF with two manufacturers, decorated models sections for `architectures`, %string%
 * substitutions from [Strings] and a localized [Strings.0407], a continued line and comments.
 */
export function sampleInf(options: { catalog?: string | null; architectures?: string[]; provider?: string } = {}): string {
  const architectures = options.architectures ?? ["amd64"];
  const decorations = architectures.map((arch) => `NT${arch}.10.0...16299`);
  const catalog = options.catalog === undefined ? "contoso.cat" : options.catalog;
  const lines = [
    "; Contoso USB sample driver ; with a second semicolon",
    "[Version]",
    'Signature   = "$WINDOWS NT$"',
    "Class       = USBDevice",
    "ClassGuid   = {88BAE032-5A81-49f0-BC3D-A4FF138216D6}",
    `Provider    = %${options.provider ?? "ProviderName"}%`,
    "DriverVer   = 03/14/2026,2.3.1.0",
    ...(catalog === null ? [] : [`CatalogFile = ${catalog}`, ...architectures.map((arch) => `CatalogFile.NT${arch} = ${catalog}`)]),
    "PnpLockdown = 1",
    "",
    "[Manufacturer]",
    `%Mfg% = Contoso, ${decorations.join(", ")}`,
    `%Mfg2% = Fabrikam, ${decorations.join(", ")} ; a comment after the decorations`,
    "",
  ];
  for (const decoration of decorations) {
    lines.push(
      `[Contoso.${decoration}]`,
      `%Dev.Desc% = Dev_Install, USB\\VID_1234&PID_0001, \\`,
      "    USB\\Class_FF",
      `%Dev2.Desc% = Dev_Install, USB\\VID_1234&PID_0002&REV_0100`,
      "",
      `[Fabrikam.${decoration}]`,
      `"Fabrikam; Widget" = Dev_Install, USB\\VID_5678&PID_0003`,
      "",
    );
  }
  lines.push(
    "[Dev_Install.NT]",
    "CopyFiles = Dev_CopyFiles",
    "",
    "[Strings]",
    'ProviderName = "Contoso, Ltd."',
    'Mfg = "Contoso"',
    'Dev.Desc = "Contoso USB Widget"',
    'Dev2.Desc = "Contoso USB Widget rev 1"',
    "",
    "[Strings.0407]",
    'Mfg2 = "Fabrikam GmbH"',
    'Mfg = "Contoso GmbH"',
    "",
  );
  return lines.join("\n");
}

/** The parts of a signed OPC package as HLK Studio writes one (an origin part relating to a signature part). */
export const SIGNED_HLKX_PARTS: Readonly<Record<string, string>> = {
  "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
  "_rels/.rels": `<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Type="http://schemas.openxmlformats.org/package/2006/relationships/digital-signature/origin" Target="/package/services/digital-signature/origin.psdor" Id="R1"/></Relationships>`,
  "package/services/digital-signature/origin.psdor": "",
  "package/services/digital-signature/_rels/origin.psdor.rels": `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Target='xml-signature/a1.psdsxs' Id='S1' Type='http://schemas.openxmlformats.org/package/2006/relationships/digital-signature/signature'/></Relationships>`,
  "package/services/digital-signature/xml-signature/a1.psdsxs": "<Signature/>",
  "hck/data/results.xml": "<Results/>",
};

/**
 * bsdtar --format zip over the files under `cwd` (Zip64 forced, or entries stored uncompressed, on
 * request): an HLKX as the preflight reads it. Returns the archive's path.
 */
export function bsdtarZip(cwd: string, out: string, files: string[], options: { zip64?: boolean; store?: boolean } = {}): string {
  const zipOptions = [...(options.zip64 ? ["zip:zip64"] : []), ...(options.store ? ["zip:compression=store"] : [])];
  execFileSync(TOOLS.bsdtar, ["-c", "--format", "zip", ...(zipOptions.length ? ["--options", zipOptions.join(",")] : []), "-f", out, ...files], { cwd, stdio: "pipe" });
  return path.resolve(cwd, out);
}
