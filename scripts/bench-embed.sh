#!/usr/bin/env bash
# embed throughput: agora-runtime (candle) against PyTorch sentence-transformers on the
# same seeded corpus (2,000 sentences of 8–60 words), each next to a 2048×2048 fp32 matmul
# timed right before it. The Python side lives in a venv under the cache folder, installed
# from PyPI on first use (PyTorch's wheel pulls CUDA packages; only the CPU is used).
#   ./scripts/bench-embed.sh            # AGORA_BENCH_SENTENCES=500 for a quicker run
#   AGORA_BENCH_ISA=avx2 ./scripts/bench-embed.sh
#                                       # the AVX2 path on an AVX-512 machine: candle without
#                                       # gemm's AVX-512 kernels, PyTorch (ATen, MKL, oneDNN)
#                                       # held to AVX2
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${AGORA_CACHE:-$HOME/.cache/agora}"
venv="$cache/st-venv"
threads="${AGORA_BENCH_THREADS:-$(nproc)}"

model="${AGORA_MODEL_DIR:-$("$root/scripts/model.sh")}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sentence_transformers' 2>/dev/null; then
  echo "bench: installing sentence-transformers and torch into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet sentence-transformers==6.2.0 torch==2.15.0
fi

features=()
case "${AGORA_BENCH_ISA:-native}" in
  native) ;;
  avx2)
    features=(--no-default-features)
    export ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2
    ;;
  *) echo "bench: AGORA_BENCH_ISA is native or avx2, not ${AGORA_BENCH_ISA}" >&2; exit 2 ;;
esac

corpus="$(mktemp -d)/corpus.jsonl"
cd "$root"
AGORA_MODEL_DIR="$model" AGORA_BENCH_CORPUS="$corpus" RAYON_NUM_THREADS="$threads" \
  cargo bench --quiet -p agora-runtime "${features[@]}" --bench embed_throughput 2>/dev/null | grep -E '^(candle|cpu)'

"$venv/bin/python" - "$model" "$corpus" "$threads" <<'PY'
import json, sys, time
import torch
from sentence_transformers import SentenceTransformer

model_dir, corpus, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)
sentences = [json.loads(line)["text"] for line in open(corpus)]
model = SentenceTransformer(model_dir, device="cpu")
tok = model.tokenizer
h, i, layers = 384, 1536, 6
def flops(l):
    return layers * (2 * l * (4 * h * h + 2 * h * i) + 4 * l * l * h)
total = sum(flops(min(len(tok(s)["input_ids"]), 256)) for s in sentences)

n = 2048
a, b = torch.randn(n, n), torch.randn(n, n)
a @ b
best = min((lambda t0: (a @ b, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(5))
peak = 2 * n**3 / best / 1e9

model.encode(sentences[:64], batch_size=32)
t0 = time.perf_counter()
with torch.inference_mode():
    model.encode(sentences, batch_size=32, normalize_embeddings=True)
secs = time.perf_counter() - t0
gflops = total / secs / 1e9
print(f"pytorch threads={torch.get_num_threads()} sentences={len(sentences)} time={secs:.2f}s "
      f"throughput={len(sentences)/secs:.1f} sentences/s model={gflops:.1f} GFLOP/s "
      f"matmul2048={peak:.1f} GFLOP/s ({100*gflops/peak:.0f}% of matmul) "
      f"mean_gflop_per_sentence={total/len(sentences)/1e9:.3f} (torch {torch.__version__}, "
      f"kernels {torch.backends.cpu.get_cpu_capability()})")
PY
