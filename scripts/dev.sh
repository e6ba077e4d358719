#!/usr/bin/env bash
# Brings the local system up: anvil on 127.0.0.1:${AGORA_RPC_PORT:-8545} with the protocol deployed
# by `agora deploy` (manifest: deploy/deployments/31337.json). Ctrl-C stops it.
# (The indexer, provider and Kubo join this as `agora dev` when their issues land.)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./scripts/setup.sh
echo "dev: building the agora CLI"
cargo build --locked -p agora
agora="${CARGO_TARGET_DIR:-target}/debug/agora"

port="${AGORA_RPC_PORT:-8545}"
rpc="http://127.0.0.1:$port"
node_modules/.bin/anvil --port "$port" --silent &
anvil_pid=$!
trap 'kill $anvil_pid 2>/dev/null' EXIT INT TERM
for _ in $(seq 50); do node_modules/.bin/cast chain-id --rpc-url "$rpc" >/dev/null 2>&1 && break; sleep 0.2; done

# anvil's first dev account (a published test key, funded only on dev chains) deploys.
AGORA_PRIVATE_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 \
  "$agora" --network local --rpc-url "$rpc" deploy --preset local
echo "anvil: $rpc (Ctrl-C to stop)"
wait $anvil_pid
