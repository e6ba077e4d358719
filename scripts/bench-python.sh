#!/usr/bin/env bash
# Benchmark of the Python package: a 1 GiB asset read through fsspec vs `agora asset download`,
# and the Python process's peak memory (python/bench/read_1gib.py). AGORA_BENCH_BYTES and
# AGORA_BENCH_RUNS change the size and the number of runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./scripts/setup.sh >/dev/null
cargo build --workspace --locked
eval "$(./scripts/python.sh build)"
PATH="$root/node_modules/.bin:$PATH" "$AGORA_PYTHON" -P python/bench/read_1gib.py
