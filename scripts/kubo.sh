#!/usr/bin/env bash
# Builds a pinned Kubo (the IPFS daemon) from the Go module proxy and prints the path of
# its binary. No prebuilt Kubo can be downloaded here (see shared/TOOLCHAIN.md), and
# `go install …@version` refuses Kubo's go.mod (it has `exclude` directives), so a
# throwaway wrapper module requires Kubo at the pinned version and builds its cmd/ipfs.
#
# The binary is cached at ${AGORA_CACHE:-$HOME/.cache/agora}/kubo-<version>/ipfs: a
# second run only checks it and prints the path. Progress goes to stderr, the path alone
# to stdout, so callers can do `export AGORA_IPFS_BIN="$(./scripts/kubo.sh)"`.
set -euo pipefail

KUBO_VERSION="v0.43.1"
# Kubo v0.43.1's go.mod replaces go-libp2p v0.49.0 with a fork (adapted to quic-go v0.62 and
# webtransport-go v0.13) that the module proxy does not serve, and a `replace` only applies in
# the main module anyway. The wrapper instead holds quic-go and webtransport-go at the versions
# go-libp2p v0.49.0 itself requires; Kubo does not import either directly.
WRAPPER_REPLACES=(
  "github.com/quic-go/quic-go=github.com/quic-go/quic-go@v0.60.0"
  "github.com/quic-go/webtransport-go=github.com/quic-go/webtransport-go@v0.11.1"
)
# What Kubo's go.mod replaces at that version; a different Kubo needs this script reviewed.
KUBO_OWN_REPLACES="github.com/libp2p/go-libp2p=github.com/lidel/go-libp2p@v0.0.0-20260914191659-9c4ee60cf924"
cache="${AGORA_CACHE:-$HOME/.cache/agora}"
dir="$cache/kubo-$KUBO_VERSION"
bin="$dir/ipfs"

# A cached binary counts only if it runs and reports the pinned version.
if [ -x "$bin" ] && "$bin" version 2>/dev/null | grep -qx "ipfs version ${KUBO_VERSION#v}"; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "kubo.sh: Go is required to build Kubo" >&2; exit 1; }
echo "kubo.sh: building Kubo $KUBO_VERSION from the Go module proxy (cold: several minutes)" >&2

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
# The wrapper module: Kubo's exclude/replace directives apply only to its own main module,
# so as a dependency it builds with the versions its go.mod requires, except as replaced above.
go mod init agora.local/kubo-build >/dev/null 2>&1
for r in "${WRAPPER_REPLACES[@]}"; do go mod edit -replace "$r"; done
GOFLAGS=-mod=mod go get -tool "github.com/ipfs/kubo/cmd/ipfs@$KUBO_VERSION" >"$work/get.log" 2>&1 \
  || { cat "$work/get.log" >&2; exit 1; }
kubo_gomod="$(go list -m -f '{{.GoMod}}' "github.com/ipfs/kubo")"
own="$(grep -E '^replace ' "$kubo_gomod" | sed -E 's/^replace +//; s/ +=> +/=/; s/ +/@/g')"
if [ "$own" != "$KUBO_OWN_REPLACES" ]; then
  echo "kubo.sh: Kubo $KUBO_VERSION's go.mod replaces '$own', not '$KUBO_OWN_REPLACES': review WRAPPER_REPLACES" >&2
  exit 1
fi
# Build into the cache folder under a temporary name so an interrupted build never
# leaves a half-written binary at the final path.
CGO_ENABLED=0 go build -trimpath -o "$dir/ipfs.partial" github.com/ipfs/kubo/cmd/ipfs >&2
mv "$dir/ipfs.partial" "$bin"

got="$("$bin" version)"
if [ "$got" != "ipfs version ${KUBO_VERSION#v}" ]; then
  echo "kubo.sh: built binary reports '$got', expected $KUBO_VERSION" >&2
  exit 1
fi
echo "$bin"
