#!/usr/bin/env bash
# Bundles the hub's page scripts (hub/web/src/) with the pinned esbuild into OUTDIR: hub.js (every
# page: copy buttons, live jobs), wallet.js (every page: the wallet and the actions it signs) and
# receipt.js (job pages), each one minified ES module for es2020 browsers, no source maps.
# hub/build.rs runs it with OUTDIR=$OUT_DIR/web and the server embeds the files. wallet.js imports
# hub/web/generated/abi.ts, which building agora-hub writes (cargo build -p agora-hub).
# Usage: scripts/build-hub-js.sh OUTDIR
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ "$#" -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
outdir="$1"
esbuild="$root/node_modules/.bin/esbuild"
if [ ! -x "$esbuild" ]; then
  echo "build-hub-js: $esbuild is missing; run ./scripts/setup.sh (it installs the pinned npm packages)" >&2
  exit 1
fi

if [ ! -f "$root/hub/web/generated/abi.ts" ]; then
  echo "build-hub-js: hub/web/generated/abi.ts is missing; building agora-hub writes it (cargo build -p agora-hub)" >&2
  exit 1
fi

mkdir -p "$outdir"
for entry in hub receipt wallet; do
  "$esbuild" "$root/hub/web/src/$entry.ts" \
    --bundle --minify --format=esm --target=es2020 --platform=browser \
    --legal-comments=none --log-level=warning \
    --outfile="$outdir/$entry.js"
done
