#!/usr/bin/env bash
# Gas benchmark: sends every flow of contracts/GAS.md as real transactions to a fresh local anvil
# (contracts/script/GasReport.s.sol) and prints each labelled transaction's gasUsed from its receipt,
# next to Ocean Protocol's figures and the goal (half of Ocean's).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./scripts/setup.sh >/dev/null
bin=node_modules/.bin
port="${GAS_REPORT_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
work="$(mktemp -d)"
"$bin/anvil" --port "$port" --block-time 1 --silent &
anvil_pid=$!
trap 'kill $anvil_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do "$bin/cast" chain-id --rpc-url "http://127.0.0.1:$port" >/dev/null 2>&1 && break; sleep 0.2; done

FOUNDRY_BROADCAST="$work" "$bin/forge" script contracts/script/GasReport.s.sol:GasReport --rpc-url "http://127.0.0.1:$port" \
  --broadcast --slow --skip-simulation > "$work/out.txt" 2>&1 ||
  { cat "$work/out.txt"; exit 1; }
labels="$(grep -o 'GAS_LABELS .*' "$work/out.txt" | sed 's/^GAS_LABELS //')"
run="$(find "$work" -name run-latest.json | head -1)"
node - "$run" "$labels" <<'JS'
const [run, labels] = process.argv.slice(2);
const receipts = require(run).receipts;
const ocean = {
  "publish (one recipient)": [1497948 + 228014, 860000],
  "buy 1 (ERC-20 with permit)": [46279 + 143132, 95000],
  "consume (single use)": [80136, 40000],
  "buy-and-consume (ERC-20 with permit)": [46267 + 276501, 160000],
};
const rows = labels.split(";").filter(Boolean).map((entry) => {
  const i = entry.indexOf("=");
  const index = Number(entry.slice(0, i)), name = entry.slice(i + 1);
  const r = receipts[index];
  if (!r || r.status !== "0x1") throw new Error(`transaction ${index} (${name}) has no successful receipt`);
  return [name, parseInt(r.gasUsed, 16)];
});
const pad = (s, n) => String(s).padEnd(n);
console.log(pad("flow", 40) + pad("gas", 10) + pad("Ocean", 12) + pad("goal", 10) + "met");
for (const [name, gas] of rows) {
  const [o, goal] = ocean[name] || ["", ""];
  console.log(pad(name, 40) + pad(gas, 10) + pad(o, 12) + pad(goal, 10) + (goal ? (gas <= goal ? "yes" : "NO") : ""));
}
JS
