#!/usr/bin/env bash
# Stages the deployable Function app in build/deploy: the compiled app (dist/src), host.json,
# package.json, package-lock.json and production dependencies only — nothing from local/, test/,
# bench/, cli/, .local-data/ (which holds a generated CA key) or dev dependencies. azd deploys this
# folder (azure.yaml); test/deploy/packaging.test.ts checks what it holds.
#   scripts/package-app.sh [--skip-build]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = "--skip-build" ] || npm run build --silent
out=build/deploy
rm -rf "$out"
mkdir -p "$out/dist"
cp -R dist/src "$out/dist/src"
cp host.json package.json package-lock.json "$out/"
# The production dependency tree, copied from what `npm ci` installed (offline, no registry).
node scripts/copy-production-deps.js "$out"
# azd runs `npm run build --if-present` in the deployable, where there is no compiler: the staged
# package.json keeps its dependencies and main, not our scripts, dev dependencies or the CLI's bin.
npm pkg delete scripts devDependencies bin --prefix "$out"
echo "staged $(du -sh "$out" | cut -f1) in $out"
