#!/usr/bin/env bash
# Installs the project's pinned outside pieces from the package registries, idempotently:
#   - the JS-side toolchain (forge, anvil, cast, solc, OpenZeppelin) with `npm ci`;
#   - forge-std, vendored inside the npm tarball of @chainlink/contracts 1.4.0 (the npm
#     package named forge-std is an old broken copy), checked against its sha256.
# Safe to run repeatedly: each step is skipped when its result is already in place.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [ ! -x node_modules/.bin/forge ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci (forge, anvil, cast, solc, OpenZeppelin)"
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
