/**
 * The order of layers under src/, written once. A module may import its own files and any module in
 * a layer below its own; never one above, never a neighbour in its own layer. New capabilities go
 * where this order says (audit and preflight are feature services; identity is a platform client).
 */
import type { ImportEdge } from "./importGraph";

export interface Layer {
  name: string;
  /** Top-level entries of src/: folders, or single files such as config.ts. */
  modules: readonly string[];
}

export const SRC_LAYERS: readonly Layer[] = [
  { name: "entry point", modules: ["index.ts"] },
  { name: "HTTP, blob, queue and timer triggers", modules: ["functions"] },
  { name: "orchestrators", modules: ["orchestrators"] },
  { name: "activities", modules: ["activities"] },
  { name: "feature services", modules: ["notifications", "publishing", "dashboard", "preflight", "audit"] },
  { name: "platform clients", modules: ["hdc", "storage", "instances", "identity"] },
  { name: "configuration", modules: ["config.ts"] },
  { name: "domain", modules: ["domain"] },
];

/** What the CLI (shipped to CI machines on its own) may take from src/: the pure parts only. */
export const CLI_MAY_IMPORT_FROM_SRC: readonly string[] = ["domain", "preflight"];

/** The src/ module a path belongs to ("src/functions/labels.ts" -> "functions", "src/config.ts" -> "config.ts"). */
export function srcModuleOf(file: string, srcRoot = "src"): string | undefined {
  const prefix = `${srcRoot}/`;
  if (!file.startsWith(prefix)) return undefined;
  return file.slice(prefix.length).split("/")[0];
}

export function layerIndexOf(module: string, layers: readonly Layer[] = SRC_LAYERS): number {
  return layers.findIndex((layer) => layer.modules.includes(module));
}

/** One sentence per import that breaks the order, naming both files and both layers. */
export function layerViolations(edges: readonly ImportEdge[], layers: readonly Layer[] = SRC_LAYERS, srcRoot = "src"): string[] {
  const problems = new Set<string>();
  for (const { from, to } of edges) {
    const fromModule = srcModuleOf(from, srcRoot);
    if (fromModule === undefined) continue;
    const toModule = srcModuleOf(to, srcRoot);
    if (toModule === undefined) {
      problems.add(`${from} imports ${to}, which is outside ${srcRoot}/ (deployed code stands alone)`);
      continue;
    }
    const fromLayer = layerIndexOf(fromModule, layers);
    const toLayer = layerIndexOf(toModule, layers);
    if (fromLayer < 0) problems.add(`${srcRoot}/${fromModule} is in no layer: add it to SRC_LAYERS in test/architecture/layers.ts`);
    if (toLayer < 0) problems.add(`${srcRoot}/${toModule} is in no layer: add it to SRC_LAYERS in test/architecture/layers.ts`);
    if (fromLayer < 0 || toLayer < 0 || fromModule === toModule) continue;
    if (toLayer < fromLayer) {
      problems.add(`${from} (${layers[fromLayer].name}) imports ${to} (${layers[toLayer].name}): an import that points up`);
    } else if (toLayer === fromLayer) {
      problems.add(`${from} imports ${to}: ${fromModule} and ${toModule} are neighbours in "${layers[fromLayer].name}"; move what they share below both`);
    }
  }
  return [...problems];
}

/** Imports from outside src/ into src/ that reach past the allowed modules (the CLI's rule). */
export function importsBeyond(edges: readonly ImportEdge[], fromFolder: string, allowedModules: readonly string[], srcRoot = "src"): string[] {
  return edges
    .filter(({ from, to }) => from.startsWith(`${fromFolder}/`) && srcModuleOf(to, srcRoot) !== undefined)
    .filter(({ to }) => !allowedModules.includes(srcModuleOf(to, srcRoot)!))
    .map(({ from, to }) => `${from} imports ${to}; ${fromFolder}/ may take only ${allowedModules.join(", ")} from ${srcRoot}/`);
}
