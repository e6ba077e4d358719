#!/usr/bin/env bash
# Brings the local system up: anvil on 127.0.0.1:${AGORA_RPC_PORT:-8545} with the protocol deployed.
# Ctrl-C stops it. (The indexer, provider and Kubo join this command as their issues land.)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./scripts/setup.sh
port="${AGORA_RPC_PORT:-8545}"
node_modules/.bin/anvil --port "$port" --silent &
anvil_pid=$!
trap 'kill $anvil_pid 2>/dev/null' EXIT INT TERM
for _ in $(seq 50); do node_modules/.bin/cast chain-id --rpc-url "http://127.0.0.1:$port" >/dev/null 2>&1 && break; sleep 0.2; done
node_modules/.bin/forge script contracts/script/DeployLocal.s.sol:DeployLocal \
  --rpc-url "http://127.0.0.1:$port" --broadcast --skip-simulation 2>&1 | grep -E '^\s+(AssetRegistry|Marketplace|ComputeMarket|AgoraGovernor|AgoraTimelock)'
echo "anvil: http://127.0.0.1:$port (Ctrl-C to stop)"
wait $anvil_pid
