/**
 * The direction of imports, checked on every `npm test`: under src/ every import points down the
 * order written in ./layers.ts, no folder holds an import circle, and the CLI (shipped on its own)
 * takes only the pure parts of src/. The last block proves the check can fail.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { importCircles, readImportGraph, type ImportEdge } from "./importGraph";
import { CLI_MAY_IMPORT_FROM_SRC, layerIndexOf, layerViolations, importsBeyond, SRC_LAYERS } from "./layers";

const ROOT = path.resolve(__dirname, "../..");

describe("the house's layers", () => {
  const edges = readImportGraph(ROOT, ["src", "cli", "local", "bench"]);

  it("reads a graph large enough to mean something", () => {
    // A broken reader returning no edges would make every check below pass vacuously.
    expect(edges.filter((edge) => edge.from.startsWith("src/")).length).toBeGreaterThan(150);
    expect(edges.filter((edge) => edge.from.startsWith("local/")).length).toBeGreaterThan(50);
  });

  it("places every top-level entry of src/ in exactly one layer", () => {
    const entries = fs.readdirSync(path.join(ROOT, "src")).filter((name) => !name.endsWith(".d.ts"));
    const unplaced = entries.filter((entry) => layerIndexOf(entry) < 0);
    expect(unplaced).toEqual([]);
    const all = SRC_LAYERS.flatMap((layer) => layer.modules);
    expect(new Set(all).size).toBe(all.length);
  });

  it("has no import under src/ that points up or sideways", () => {
    expect(layerViolations(edges)).toEqual([]);
  });

  it.each(["src", "local", "cli", "bench"])("has no import circle in %s/", (folder) => {
    const circles = importCircles(edges.filter((edge) => edge.from.startsWith(`${folder}/`) && edge.to.startsWith(`${folder}/`)));
    expect(circles).toEqual([]);
  });

  // Folders, not just files: local/durable importing local/runtime while runtime imports durable is a
  // circle between rooms even when no single file closes it.
  it.each(["local", "bench"])("has no import circle between the folders of %s/", (folder) => {
    expect(importCircles(folderEdges(edges, folder))).toEqual([]);
  });

  it("lets the CLI take only the pure parts of src/", () => {
    expect(importsBeyond(edges, "cli", CLI_MAY_IMPORT_FROM_SRC)).toEqual([]);
  });
});

/** Edges between the first-level folders of `root` (files directly in `root` are their own room). */
function folderEdges(all: readonly ImportEdge[], root: string): ImportEdge[] {
  const roomOf = (file: string) => {
    const rest = file.slice(root.length + 1).split("/");
    return rest.length > 1 ? `${root}/${rest[0]}` : file;
  };
  return all
    .filter((edge) => edge.from.startsWith(`${root}/`) && edge.to.startsWith(`${root}/`))
    .map((edge) => ({ from: roomOf(edge.from), to: roomOf(edge.to) }))
    .filter((edge) => edge.from !== edge.to);
}

describe("the layer check fails when it should", () => {
  let root: string;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "layers-"));
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.writeFileSync(path.join(root, file), text);
    };
    write("src/domain/types.ts", "export type Id = string;\n");
    write("src/activities/commit.ts", 'import type { Id } from "../domain/types";\nexport const commit = (id: Id) => id;\n');
    write("src/functions/start.ts", 'import { commit } from "../activities/commit";\nexport const start = () => commit("1");\n');
  });

  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it("accepts the downward graph", () => {
    expect(layerViolations(readImportGraph(root, ["src"]))).toEqual([]);
  });

  it("names a reversed import: an activity reaching up into the triggers", () => {
    fs.appendFileSync(path.join(root, "src/activities/commit.ts"), 'export { start } from "../functions/start";\n');
    const violations = layerViolations(readImportGraph(root, ["src"]));
    expect(violations).toEqual([
      "src/activities/commit.ts (activities) imports src/functions/start.ts (HTTP, blob, queue and timer triggers): an import that points up",
    ]);
    expect(importCircles(readImportGraph(root, ["src"]))).toEqual([["src/activities/commit.ts", "src/functions/start.ts"]]);
  });

  it("names neighbours in one layer and a folder in no layer", () => {
    fs.mkdirSync(path.join(root, "src/hdc"));
    fs.mkdirSync(path.join(root, "src/storage"));
    fs.writeFileSync(path.join(root, "src/storage/blob.ts"), "export const blob = 1;\n");
    fs.writeFileSync(path.join(root, "src/hdc/client.ts"), 'import { blob } from "../storage/blob";\nexport const c = blob;\n');
    fs.mkdirSync(path.join(root, "src/misc"));
    fs.writeFileSync(path.join(root, "src/misc/util.ts"), 'import type { Id } from "../domain/types";\nexport type X = Id;\n');
    const violations = layerViolations(readImportGraph(root, ["src"]));
    expect(violations).toContain(
      'src/hdc/client.ts imports src/storage/blob.ts: hdc and storage are neighbours in "platform clients"; move what they share below both',
    );
    expect(violations).toContain("src/misc is in no layer: add it to SRC_LAYERS in test/architecture/layers.ts");
  });

  it("names a circle between folders that no single file closes", () => {
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.writeFileSync(path.join(root, file), text);
    };
    write("local/runtime/limits.ts", "export const limit = 1;\n");
    write("local/runtime/front.ts", 'import { engine } from "../durable/engine";\nexport const front = engine;\n');
    write("local/durable/engine.ts", "export const engine = 1;\n");
    write("local/durable/api.ts", 'import { limit } from "../runtime/limits";\nexport const api = limit;\n');
    const graph = readImportGraph(root, ["local"]);
    expect(importCircles(graph)).toEqual([]);
    expect(importCircles(folderEdges(graph, "local"))).toEqual([["local/durable", "local/runtime"]]);
  });

  it("refuses an import from src/ to code that is not deployed", () => {
    fs.mkdirSync(path.join(root, "local"));
    fs.writeFileSync(path.join(root, "local/helper.ts"), "export const h = 1;\n");
    fs.writeFileSync(path.join(root, "src/domain/uses.ts"), 'import { h } from "../../local/helper";\nexport const u = h;\n');
    expect(layerViolations(readImportGraph(root, ["src", "local"]))).toEqual([
      "src/domain/uses.ts imports local/helper.ts, which is outside src/ (deployed code stands alone)",
    ]);
  });

  it("refuses a CLI import beyond the pure parts", () => {
    fs.mkdirSync(path.join(root, "cli"));
    fs.writeFileSync(path.join(root, "cli/main.ts"), 'import { commit } from "../src/activities/commit";\nexport const m = commit;\n');
    expect(importsBeyond(readImportGraph(root, ["src", "cli"]), "cli", CLI_MAY_IMPORT_FROM_SRC)).toEqual([
      "cli/main.ts imports src/activities/commit.ts; cli/ may take only domain, preflight from src/",
    ]);
  });
});
