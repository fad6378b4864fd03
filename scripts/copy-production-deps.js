#!/usr/bin/env node
/**
 * Copies the production dependency tree of the package in the current folder (dependencies,
 * optionalDependencies and the peers they declare, resolved the way Node resolves them) from its
 * node_modules into <target>/node_modules. Offline: it copies what `npm ci` installed, so staging a
 * deployment needs neither the registry nor its certificates.
 *   node scripts/copy-production-deps.js <target>
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const root = process.cwd();
const target = path.resolve(process.argv[2] ?? "");
if (!process.argv[2]) throw new Error("usage: copy-production-deps.js <target folder>");

const readManifest = (dir) => JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
const namesOf = (manifest, withPeers) => [
  ...Object.keys(manifest.dependencies ?? {}),
  ...Object.keys(manifest.optionalDependencies ?? {}),
  ...(withPeers ? Object.keys(manifest.peerDependencies ?? {}) : []),
];

/** The folder `name` resolves to from `fromDir`: its node_modules, then each parent's, up to the root. */
function resolvePackage(name, fromDir) {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (fs.existsSync(path.join(candidate, "package.json"))) return candidate;
    if (dir === root || dir === path.dirname(dir)) return undefined;
  }
}

const found = new Set();
const pending = namesOf(readManifest(root), false).map((name) => ({ name, from: root, optional: false }));
const optionalOf = (manifest) => new Set(Object.keys(manifest.optionalDependencies ?? {}).concat(Object.keys(manifest.peerDependencies ?? {})));
while (pending.length > 0) {
  const { name, from, optional } = pending.pop();
  const dir = resolvePackage(name, from);
  if (!dir) {
    if (optional) continue; // an optional dependency for another platform, or a peer nobody installed
    throw new Error(`production dependency ${name} (needed from ${path.relative(root, from) || "."}) is not installed: run npm ci`);
  }
  if (found.has(dir)) continue;
  found.add(dir);
  const manifest = readManifest(dir);
  const optionals = optionalOf(manifest);
  for (const dep of namesOf(manifest, true)) pending.push({ name: dep, from: dir, optional: optionals.has(dep) });
}

// Copy outermost folders only: a package's own nested node_modules holds only its dependencies.
const sorted = [...found].sort();
const outermost = sorted.filter((dir) => !sorted.some((other) => other !== dir && dir.startsWith(other + path.sep)));
for (const dir of outermost) {
  fs.cpSync(dir, path.join(target, path.relative(root, dir)), { recursive: true, verbatimSymlinks: true });
}
process.stdout.write(`copied ${found.size} production packages\n`);
