/**
 * The project's import graph, read with the TypeScript compiler's own pre-processor (it sees
 * `import`, `import type`, `export … from`, `import()` and `require`), resolved to files.
 * Only relative imports are edges: packages from node_modules are not part of the layering.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

export interface ImportEdge {
  /** Importing file, relative to the root the graph was read from, with forward slashes. */
  from: string;
  /** Imported file, relative to the same root. */
  to: string;
}

const SKIPPED_DIRECTORIES = new Set(["node_modules", "dist", ".local-data", ".tools"]);

export function typeScriptFiles(root: string, folders: readonly string[]): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRECTORIES.has(entry.name)) walk(full);
      } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
        found.push(full);
      }
    }
  };
  for (const folder of folders) {
    const start = path.join(root, folder);
    if (fs.existsSync(start)) walk(start);
  }
  return found.sort();
}

function resolveRelative(fromFile: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(fromFile), specifier);
  for (const candidate of [base, `${base}.ts`, path.join(base, "index.ts")]) {
    if (candidate.endsWith(".ts") && fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** Every relative import of every .ts file under `folders`; an import that resolves to no file is an error. */
export function readImportGraph(root: string, folders: readonly string[]): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const relative = (file: string) => path.relative(root, file).split(path.sep).join("/");
  for (const file of typeScriptFiles(root, folders)) {
    const info = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
    for (const imported of info.importedFiles) {
      if (!imported.fileName.startsWith(".")) continue;
      const target = resolveRelative(file, imported.fileName);
      if (!target) throw new Error(`${relative(file)} imports "${imported.fileName}", which resolves to no .ts file`);
      edges.push({ from: relative(file), to: relative(target) });
    }
  }
  return edges;
}

/** Import circles between files (strongly connected components of more than one file, or a file importing itself). */
export function importCircles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    if (!next.has(from)) next.set(from, []);
    if (!next.has(to)) next.set(to, []);
    next.get(from)!.push(to);
  }
  // Tarjan's algorithm, iterative so a deep tree cannot overflow the stack.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const circles: string[][] = [];
  for (const start of next.keys()) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; child: number }> = [{ node: start, child: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const children = next.get(frame.node)!;
      if (frame.child < children.length) {
        const child = children[frame.child++];
        if (!index.has(child)) {
          index.set(child, counter);
          low.set(child, counter++);
          stack.push(child);
          onStack.add(child);
          work.push({ node: child, child: 0 });
        } else if (onStack.has(child)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(child)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.node)!));
      }
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        const selfImport = children.includes(frame.node);
        if (component.length > 1 || selfImport) circles.push(component.sort());
      }
    }
  }
  return circles;
}
