#!/usr/bin/env bash
# Builds every example algorithm in examples/algorithms/ into OUT_DIR (default
# target/algorithms/) as <name>.wasm — WASI preview 1 modules for agora-sandbox — and prints
# each module's path and SHA-256 (the digest a job names it by).
#   ./scripts/build-algorithms.sh [OUT_DIR]
#
#   stats-go     Go's own wasip1 port: GOOS=wasip1 GOARCH=wasm go build (Go >= 1.21)
#   kmeans-rust  Rust's wasm32-wasip1 target (`rustup target add wasm32-wasip1`)
#
# Both builds are reproducible: the same sources and toolchains give the same bytes, wherever
# the repository is checked out. Rust's build folder is cached under
# ${AGORA_CACHE:-$HOME/.cache/agora}/algorithms-target; Go uses its own build cache.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/examples/algorithms"
out="${1:-$root/target/algorithms}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cache="${AGORA_CACHE:-$HOME/.cache/agora}"

fail() {
  echo "build-algorithms: $*" >&2
  exit 1
}

# stats-go
command -v go >/dev/null || fail "stats-go needs Go 1.21 or newer (GOOS=wasip1), and \`go\` is not on PATH"
go_minor="$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')"
[ "${go_minor:-0}" -ge 21 ] || fail "stats-go needs Go 1.21 or newer for GOOS=wasip1; found $(go env GOVERSION)"
(cd "$src/stats-go" && GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 \
  go build -trimpath -buildvcs=false -o "$out/stats-go.wasm" .)

# kmeans-rust
command -v cargo >/dev/null || fail "kmeans-rust needs cargo, and it is not on PATH"
libdir="$(rustc --print target-libdir --target wasm32-wasip1 2>/dev/null || true)"
[ -n "$libdir" ] && [ -d "$libdir" ] ||
  fail "kmeans-rust needs Rust's wasm32-wasip1 standard library: rustup target add wasm32-wasip1"
target_dir="$cache/algorithms-target"
# Paths in panic messages would otherwise make the bytes depend on the checkout's location.
RUSTFLAGS="--remap-path-prefix=$src=examples/algorithms" \
  cargo build --quiet --release --locked --target wasm32-wasip1 \
  --manifest-path "$src/kmeans-rust/Cargo.toml" --target-dir "$target_dir"
cp "$target_dir/wasm32-wasip1/release/kmeans.wasm" "$out/kmeans-rust.wasm"

for module in "$out/stats-go.wasm" "$out/kmeans-rust.wasm"; do
  echo "$module $(sha256sum "$module" | cut -d' ' -f1)"
done
