#!/usr/bin/env bash
# The one test command: installs the pinned toolchain, runs the Solidity tests, the hub's page-script
# tests, builds the Python wheel, then every Rust test (which compile the contracts with the same
# forge and run against a real anvil; tests/python.rs runs pytest with the wheel).
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

# Gas: the unit tests' figures must match the committed snapshot (fuzz and invariant figures vary
# with the profile's run counts, so they are left out). Regenerate with the same command minus --check.
echo "test: forge snapshot --check"
node_modules/.bin/forge snapshot --check --no-match-test '^(testFuzz|invariant)_'

# Compiled first: building agora-hub writes hub/web/generated/abi.ts (the contracts' ABIs from the
# compiled contracts), which the page scripts are type-checked and bundled with.
echo "test: cargo test --workspace --locked --no-run"
cargo test --workspace --locked --no-run

# The hub's page scripts: type checks, the receipt check's unit tests, and a Chromium smoke test.
echo "test: hub page scripts (scripts/test-hub-js.sh)"
./scripts/test-hub-js.sh

# The Python package's wheel (maturin) in its venv; tests/python.rs runs pytest with it.
echo "test: the Python package (scripts/python.sh build)"
eval "$(./scripts/python.sh build)"
export AGORA_PYTHON

echo "test: cargo test --workspace --locked"
cargo test --workspace --locked
