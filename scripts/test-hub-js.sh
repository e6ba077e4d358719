#!/usr/bin/env bash
# The hub's browser-side checks, without the Rust server:
#   1. type-checks hub/web (the page scripts) and hub/tests/browser (the Playwright specs);
#   2. the receipt check's and the sealing's unit tests (hub/web/test/, bundled for node by esbuild,
#      `node --test`; the sealing's against a fixture the Rust side reads too);
#   3. the browser smoke test: builds the bundles next to a copy of hub/tests/browser/fixtures/,
#      serves them on a free loopback port and runs Playwright's `smoke` project in Chromium.
# Screenshots go to $HUB_SCREENSHOTS (default target/hub-screenshots). Extra arguments go to
# `playwright test` (e.g. -g copy).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="$root/node_modules/.bin"
for tool in tsc esbuild playwright; do
  if [ ! -x "$bin/$tool" ]; then
    echo "test-hub-js: $bin/$tool is missing; run ./scripts/setup.sh" >&2
    exit 1
  fi
done

if [ ! -f hub/web/generated/abi.ts ]; then
  echo "test-hub-js: hub/web/generated/abi.ts is missing; building agora-hub writes it (cargo build -p agora-hub)" >&2
  exit 1
fi

echo "test-hub-js: tsc (hub/web, hub/tests/browser)"
"$bin/tsc" -p hub/web
"$bin/tsc" -p hub/tests/browser

echo "test-hub-js: node --test (receipt check, sealing)"
unit="$root/target/hub-web-test"
rm -rf "$unit"
# Bundled so node can load the TypeScript sources; viem stays a package import.
"$bin/esbuild" hub/web/test/*.test.mjs --bundle --platform=node --format=esm --target=node20 \
  --packages=external --log-level=warning --outdir="$unit" --out-extension:.js=.mjs
node --test "$unit"/*.test.mjs

echo "test-hub-js: playwright (smoke, fixture page)"
site="$root/target/hub-smoke"
rm -rf "$site"
mkdir -p "$site"
cp hub/tests/browser/fixtures/* "$site/"
./scripts/build-hub-js.sh "$site"
chromium="$(./scripts/chromium.sh)"
[ -x "$chromium" ]

log="$(mktemp)"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$site" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$log"' EXIT
port=""
for _ in $(seq 50); do
  port="$(sed -n 's/^Serving HTTP on .* port \([0-9]*\).*/\1/p' "$log")"
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "test-hub-js: the fixture server did not start:" >&2
  cat "$log" >&2
  exit 1
fi
HUB_URL="http://127.0.0.1:$port" "$bin/playwright" test -c hub/tests/browser/playwright.config.ts --project=smoke "$@"
