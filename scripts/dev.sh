#!/usr/bin/env bash
# Brings the whole local system up with `agora dev`: anvil on 127.0.0.1:${AGORA_RPC_PORT:-8545},
# PostgreSQL ($DATABASE_URL or a throwaway cluster), Kubo, the contracts (manifest:
# deploy/deployments/31337.json), the indexer (127.0.0.1:8080), a provider (127.0.0.1:8700) and a
# demo catalogue. Installs and builds what is missing first; a second start is quick. Ctrl-C stops it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./scripts/setup.sh
echo "dev: building agora, agora-indexer and agora-provider"
cargo build --locked -p agora -p agora-indexer -p agora-provider
exec "${CARGO_TARGET_DIR:-target}/debug/agora" dev --rpc-port "${AGORA_RPC_PORT:-8545}" "$@"
