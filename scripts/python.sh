#!/usr/bin/env bash
# The Python package (python/): a venv with its pinned build and test tools (cached by the hash
# of python/requirements-test.txt under ${AGORA_CACHE:-$HOME/.cache/agora}), the wheel built by
# maturin from the workspace's own crates, installed into that venv.
#
#   ./scripts/python.sh build   builds and installs the wheel; prints `export AGORA_PYTHON=…`
#                               (the venv's interpreter, which tests/python.rs runs pytest with)
#
# The wheel lands in $CARGO_TARGET_DIR/wheels (or target/wheels).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

case "${1:-}" in
  build) ;;
  *) echo "usage: $0 build" >&2; exit 2 ;;
esac

cache="${AGORA_CACHE:-$HOME/.cache/agora}"
hash="$(sha256sum python/requirements-test.txt | cut -c1-16)"
venv="$cache/python-venv-$hash"
if [ ! -f "$venv/.complete" ]; then
  echo "python: creating $venv (python/requirements-test.txt)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r python/requirements-test.txt >&2
  touch "$venv/.complete"
fi

wheels="${CARGO_TARGET_DIR:-$root/target}/wheels"
rm -f "$wheels"/agora_hub-*.whl
echo "python: maturin build (dev profile, Cargo.lock as committed)" >&2
# The dev profile shares the workspace's compiled dependencies; --locked keeps Cargo.lock as is.
"$venv/bin/maturin" build --quiet --profile dev --locked --manifest-path python/Cargo.toml -o "$wheels" >&2
wheel="$(ls "$wheels"/agora_hub-*.whl)"
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel" >&2
echo "python: installed $(basename "$wheel") into $venv" >&2
echo "export AGORA_PYTHON=$venv/bin/python"
