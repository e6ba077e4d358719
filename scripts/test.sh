#!/usr/bin/env bash
# The one test command: installs the pinned toolchain, runs the Solidity tests, then every Rust
# test (which compile the contracts with the same forge and run against a real anvil).
# With CI=true, forge uses the `ci` profile (deeper fuzz and invariant campaigns).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

./scripts/setup.sh

profile="${FOUNDRY_PROFILE:-default}"
if [ "${CI:-}" = "true" ]; then
  profile=ci
fi
echo "test: forge test (profile $profile)"
FOUNDRY_PROFILE="$profile" node_modules/.bin/forge test

echo "test: cargo test --workspace --locked"
cargo test --workspace --locked
