/**
 * A reader of INF files, enough for a package check: [Version] (with the decorated CatalogFile
 * entries), [Manufacturer] and the models sections it names with their OS decorations, every
 * hardware id, and %strkey% substitution from [Strings] (then the localized Strings.<langid>).
 * Follows the INF syntax rules on learn.microsoft.com ("General Syntax Rules for INF Files"):
 * ';' starts a comment outside quotes, a trailing '\' continues a line, section names and keys
 * are case-insensitive, "%%" is a literal '%'.
 */
import { MAX_INF_LINE_CHARS } from "./limits";

export type InfEncoding = "utf-16le" | "utf-16be" | "utf-8" | "ansi";

export interface InfLine {
  /** 1-based line number of the first physical line. */
  line: number;
  key: string | undefined;
  /** Fields after "=" (or the whole line without a key), unquoted, strings substituted. */
  values: string[];
}

export interface InfSection {
  name: string;
  line: number;
  entries: InfLine[];
}

export interface CatalogFileEntry {
  /** The decoration after "CatalogFile" ("" when none, else e.g. "NTamd64"). */
  decoration: string;
  file: string;
  line: number;
}

export interface InfValue {
  value: string;
  line: number;
}

export interface InfModel {
  description: string;
  installSection: string;
  hardwareId: string;
  compatibleIds: string[];
  line: number;
}

export interface InfModelsSection {
  /** Name as the [Manufacturer] entry makes it, e.g. "Contoso.NTamd64.10.0...16299". */
  name: string;
  /** The decoration ("" when undecorated), e.g. "NTamd64.10.0...16299". */
  decoration: string;
  /** From the decoration's platform: "x86", "amd64", "arm", "arm64", "ia64"; undefined when none given. */
  architecture: string | undefined;
  /** Line of the [Manufacturer] entry that names it. */
  line: number;
  /** False when the INF has no such section. */
  present: boolean;
  models: InfModel[];
}

export interface InfManufacturer {
  name: string;
  modelsSection: string;
  decorations: string[];
  line: number;
}

export interface InfDocument {
  encoding: InfEncoding;
  sections: Map<string, InfSection>;
  signature: InfValue | undefined;
  class: InfValue | undefined;
  classGuid: InfValue | undefined;
  provider: InfValue | undefined;
  driverVer: InfValue | undefined;
  catalogFiles: CatalogFileEntry[];
  manufacturers: InfManufacturer[];
  modelsSections: InfModelsSection[];
  /** Every hardware and compatible id, lower-cased and unique, in order of appearance. */
  hardwareIds: string[];
  /** Architectures named by the models sections' decorations. */
  architectures: string[];
  /** %strkey% tokens with no [Strings] entry, and similar oddities, with their lines. */
  problems: { line: number; message: string }[];
}

const ARCHITECTURES: Record<string, string> = { x86: "x86", amd64: "amd64", arm: "arm", arm64: "arm64", ia64: "ia64" };

/** The platform of a decoration such as "NTamd64.10.0...16299" or "ntarm64": its architecture, if any. */
export function architectureOfDecoration(decoration: string): string | undefined {
  const platform = decoration.split(".")[0].toLowerCase();
  if (!platform.startsWith("nt")) return undefined;
  return ARCHITECTURES[platform.slice(2)];
}

/** Text of an INF's bytes: UTF-16 with a BOM, UTF-8 with a BOM, else ANSI (read as Latin-1). */
export function decodeInf(bytes: Uint8Array): { text: string; encoding: InfEncoding } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length >= 2 && buffer[0] === 0xff && buffer[1] === 0xfe) return { text: buffer.subarray(2).toString("utf16le"), encoding: "utf-16le" };
  if (buffer.length >= 2 && buffer[0] === 0xfe && buffer[1] === 0xff) {
    const swapped = Buffer.from(buffer.subarray(2, 2 + ((buffer.length - 2) & ~1)));
    swapped.swap16();
    return { text: swapped.toString("utf16le"), encoding: "utf-16be" };
  }
  if (buffer.length >= 3 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf) return { text: buffer.subarray(3).toString("utf8"), encoding: "utf-8" };
  return { text: buffer.toString("latin1"), encoding: "ansi" };
}

interface RawLine {
  line: number;
  text: string;
}

/** Physical lines → logical lines: comments removed (not inside quotes), '\' continuations joined. */
function logicalLines(text: string): RawLine[] {
  const physical = text.split(/\r\n|\n|\r/);
  const result: RawLine[] = [];
  let pending: RawLine | undefined;
  for (let i = 0; i < physical.length; i++) {
    const stripped = stripComment(physical[i]).trimEnd();
    const continues = stripped.endsWith("\\");
    const content = continues ? stripped.slice(0, -1) : stripped;
    if (pending) pending.text = (pending.text + content).slice(0, MAX_INF_LINE_CHARS);
    else pending = { line: i + 1, text: content.slice(0, MAX_INF_LINE_CHARS) };
    if (!continues) {
      if (pending.text.trim() !== "") result.push({ line: pending.line, text: pending.text.trim() });
      pending = undefined;
    }
  }
  if (pending && pending.text.trim() !== "") result.push({ line: pending.line, text: pending.text.trim() });
  return result;
}

function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if (c === ";" && !quoted) return line.slice(0, i);
  }
  return line;
}

/** Splits on "," outside quotes; a field's quotes are removed ("" inside quotes is one '"'). */
function splitFields(text: string): string[] {
  const fields: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      if (quoted && text[i + 1] === '"') {
        current += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === "," && !quoted) {
      fields.push(current.trim());
      current = "";
    } else current += c;
  }
  fields.push(current.trim());
  return fields;
}

/** The index of the first "=" outside quotes, or -1. */
function equalsIndex(text: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '"') quoted = !quoted;
    else if (text[i] === "=" && !quoted) return i;
  }
  return -1;
}

export function parseInf(bytes: Uint8Array): InfDocument {
  const { text, encoding } = decodeInf(bytes);
  const rawSections = new Map<string, { name: string; line: number; lines: RawLine[] }>();
  let current: { name: string; line: number; lines: RawLine[] } | undefined;
  for (const raw of logicalLines(text)) {
    const header = /^\[([^\]]*)\]/.exec(raw.text);
    if (header) {
      const name = header[1].trim();
      const key = name.toLowerCase();
      // Sections of the same name are one section (INF syntax rules).
      current = rawSections.get(key) ?? { name, line: raw.line, lines: [] };
      rawSections.set(key, current);
      continue;
    }
    current?.lines.push(raw);
  }

  const problems: InfDocument["problems"] = [];
  const strings = new Map<string, string>();
  // [Strings] first, then localized Strings.<langid> for keys it lacks (a system picks its locale's).
  const stringSections = [...rawSections.entries()].filter(([key]) => key === "strings" || key.startsWith("strings."));
  stringSections.sort(([a], [b]) => (a === "strings" ? -1 : b === "strings" ? 1 : a.localeCompare(b)));
  for (const [, section] of stringSections) {
    for (const raw of section.lines) {
      const at = equalsIndex(raw.text);
      if (at < 0) continue;
      const key = raw.text.slice(0, at).trim().toLowerCase();
      if (!strings.has(key)) strings.set(key, splitFields(raw.text.slice(at + 1)).join(","));
    }
  }

  const substitute = (value: string, line: number): string =>
    value.replace(/%([^%]*)%/g, (_match, key: string) => {
      if (key === "") return "%";
      const found = strings.get(key.toLowerCase());
      if (found === undefined) {
        problems.push({ line, message: `%${key}% has no entry in [Strings]` });
        return `%${key}%`;
      }
      return found;
    });

  const sections = new Map<string, InfSection>();
  for (const [key, raw] of rawSections) {
    const isStrings = key === "strings" || key.startsWith("strings.");
    const entries = raw.lines.map((line): InfLine => {
      const at = equalsIndex(line.text);
      const keyText = at >= 0 ? splitFields(line.text.slice(0, at)).join(",") : undefined;
      const valueText = at >= 0 ? line.text.slice(at + 1) : line.text;
      const values = splitFields(valueText).map((value) => (isStrings ? value : substitute(value, line.line)));
      return { line: line.line, key: keyText === undefined ? undefined : isStrings ? keyText : substitute(keyText, line.line), values };
    });
    sections.set(key, { name: raw.name, line: raw.line, entries });
  }

  const version = sections.get("version");
  const versionValue = (name: string): InfValue | undefined => {
    const entry = version?.entries.find((e) => e.key?.toLowerCase() === name);
    return entry ? { value: entry.values.join(","), line: entry.line } : undefined;
  };
  const catalogFiles: CatalogFileEntry[] = [];
  for (const entry of version?.entries ?? []) {
    const match = /^catalogfile(?:\.(.+))?$/i.exec(entry.key ?? "");
    if (match) catalogFiles.push({ decoration: match[1] ?? "", file: entry.values[0] ?? "", line: entry.line });
  }

  const manufacturers: InfManufacturer[] = [];
  const modelsSections: InfModelsSection[] = [];
  const hardwareIds: string[] = [];
  const seenIds = new Set<string>();
  const architectures = new Set<string>();
  for (const entry of sections.get("manufacturer")?.entries ?? []) {
    const [modelsSection, ...decorations] = entry.values.filter((value) => value !== "");
    if (!modelsSection) continue;
    manufacturers.push({ name: entry.key ?? modelsSection, modelsSection, decorations, line: entry.line });
    const names = decorations.length > 0 ? decorations.map((d) => ({ name: `${modelsSection}.${d}`, decoration: d })) : [{ name: modelsSection, decoration: "" }];
    for (const { name, decoration } of names) {
      const section = sections.get(name.toLowerCase());
      const architecture = decoration ? architectureOfDecoration(decoration) : undefined;
      if (architecture) architectures.add(architecture);
      if (!section) problems.push({ line: entry.line, message: `[Manufacturer] names models section [${name}], which the INF does not have` });
      const models = (section?.entries ?? [])
        .filter((model) => model.values.length >= 2)
        .map((model) => ({ description: model.key ?? "", installSection: model.values[0], hardwareId: model.values[1], compatibleIds: model.values.slice(2).filter((id) => id !== ""), line: model.line }));
      for (const model of models) {
        for (const id of [model.hardwareId, ...model.compatibleIds]) {
          const lower = id.toLowerCase();
          if (lower !== "" && !seenIds.has(lower)) {
            seenIds.add(lower);
            hardwareIds.push(lower);
          }
        }
      }
      modelsSections.push({ name, decoration, architecture, line: entry.line, present: Boolean(section), models });
    }
  }

  return {
    encoding,
    sections,
    signature: versionValue("signature"),
    class: versionValue("class"),
    classGuid: versionValue("classguid"),
    provider: versionValue("provider"),
    driverVer: versionValue("driverver"),
    catalogFiles,
    manufacturers,
    modelsSections,
    hardwareIds,
    architectures: [...architectures].sort(),
    problems,
  };
}
