//! `embed` throughput with all-MiniLM-L6-v2 on a seeded corpus of 2,000 sentences of 8–60
//! words, next to a 2048×2048 fp32 matmul timed right before it (the host's speed drifts,
//! so the ratio is the figure to compare). `scripts/bench-embed.sh` runs this and the
//! PyTorch sentence-transformers baseline on the same corpus.
//!
//! Env: `AGORA_MODEL_DIR` (else the cache path), `AGORA_BENCH_CORPUS` (where to write
//! the corpus as JSONL for the baseline), `AGORA_BENCH_SENTENCES` (default 2000),
//! `AGORA_BENCH_BATCH` (default 32).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Instant;

use agora_runtime::{EmbedSpec, EmbeddingModel, Inputs, Limits, Runtime};
use candle_core::{Device, Tensor};

/// The allocator the provider and the CLI run jobs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WORDS: &[&str] = &[
    "the",
    "data",
    "market",
    "model",
    "owner",
    "buyer",
    "token",
    "access",
    "chain",
    "price",
    "river",
    "mountain",
    "city",
    "quiet",
    "bright",
    "small",
    "large",
    "green",
    "ancient",
    "modern",
    "walks",
    "runs",
    "builds",
    "sells",
    "reads",
    "writes",
    "computes",
    "shares",
    "under",
    "over",
    "between",
    "after",
    "before",
    "because",
    "while",
    "and",
    "or",
    "but",
    "a",
    "an",
    "of",
    "to",
    "in",
    "on",
    "with",
    "for",
    "from",
    "by",
    "about",
    "into",
    "scientist",
    "teacher",
    "farmer",
    "engineer",
    "musician",
    "doctor",
    "student",
    "artist",
    "coffee",
    "bread",
    "music",
    "garden",
    "library",
    "station",
    "window",
    "forest",
    "ocean",
    "yesterday",
    "tomorrow",
    "often",
    "rarely",
    "slowly",
    "quickly",
    "carefully",
    "together",
    "network",
    "protocol",
    "contract",
    "payment",
    "escrow",
    "receipt",
    "dataset",
    "embedding",
    "weather",
    "journey",
    "history",
    "language",
    "question",
    "answer",
    "story",
    "picture",
];

fn corpus(n: usize) -> Vec<String> {
    let mut state = 2024u64;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    (0..n)
        .map(|_| {
            let len = 8 + next() % 53;
            let words: Vec<&str> = (0..len).map(|_| WORDS[next() % WORDS.len()]).collect();
            let mut s = words.join(" ");
            s.push('.');
            s[..1].to_uppercase() + &s[1..]
        })
        .collect()
}

fn matmul_gflops() -> f64 {
    let n = 2048;
    let a = Tensor::randn(0f32, 1f32, (n, n), &Device::Cpu).unwrap();
    let b = Tensor::randn(0f32, 1f32, (n, n), &Device::Cpu).unwrap();
    let _ = a.matmul(&b).unwrap();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let c = a.matmul(&b).unwrap();
        let _ = c.sum_all().unwrap().to_scalar::<f32>().unwrap();
        best = best.min(t.elapsed().as_secs_f64());
    }
    2.0 * (n as f64).powi(3) / best / 1e9
}

/// Multiply–adds of MiniLM-L6 (hidden 384, intermediate 1536, 6 layers) over `tokens`.
fn model_flops(tokens: usize) -> f64 {
    let (h, i, layers, l) = (384f64, 1536f64, 6f64, tokens as f64);
    layers * (2.0 * l * (4.0 * h * h + 2.0 * h * i) + 4.0 * l * l * h)
}

fn main() {
    // SAFETY: first thing in main, before any other thread.
    unsafe { agora_runtime::tune_cpu_threads() };
    let model_dir = std::env::var_os("AGORA_MODEL_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/agora/models/all-MiniLM-L6-v2")
    });
    let n: usize = std::env::var("AGORA_BENCH_SENTENCES").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let batch_size: usize =
        std::env::var("AGORA_BENCH_BATCH").ok().and_then(|s| s.parse().ok()).unwrap_or(32);
    let sentences = corpus(n);
    let tmp = tempfile::tempdir().unwrap();
    let corpus_path = std::env::var_os("AGORA_BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("corpus.jsonl"));
    let body: String =
        sentences.iter().map(|s| serde_json::json!({ "text": s }).to_string() + "\n").collect();
    std::fs::write(&corpus_path, body).unwrap();

    let runtime = Runtime::new(Limits::default());
    let model = EmbeddingModel::load(&model_dir, &runtime.device().unwrap(), runtime.limits())
        .expect("the model (run ./scripts/setup.sh)");
    let mut tokenizer = tokenizers::Tokenizer::from_file(model_dir.join("tokenizer.json")).unwrap();
    // Count real tokens: the file pads every sentence to 128.
    tokenizer.with_padding(None);
    tokenizer.with_truncation(None).unwrap();
    let flops: f64 = sentences
        .iter()
        .map(|s| {
            let tokens = tokenizer.encode(s.as_str(), true).unwrap().len().min(256);
            model_flops(tokens)
        })
        .sum();

    let peak = matmul_gflops();
    let start = Instant::now();
    let outcome = runtime
        .embed_with_model(
            &model,
            &EmbedSpec { batch_size, ..EmbedSpec::default() },
            &Inputs { dataset: corpus_path.clone(), model: None },
            &tmp.path().join("out"),
            |_| {},
        )
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    let gflops = flops / secs / 1e9;
    println!(
        "candle  threads={} sentences={n} batch={batch_size} time={secs:.2}s throughput={:.1} sentences/s \
         model={gflops:.1} GFLOP/s matmul2048={peak:.1} GFLOP/s ({:.0}% of matmul) mean_gflop_per_sentence={:.3}",
        candle_core::utils::get_num_threads(),
        n as f64 / secs,
        100.0 * gflops / peak,
        flops / n as f64 / 1e9,
    );
    // Which machine the figures belong to, and the matrix kernels gemm picked on it (its x86-v4
    // kernels are chosen when the CPU has AVX-512 and the `avx512` feature built them in).
    let model_name = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown".into());
    let features = &outcome.run.cpu_features;
    let kernels = if features.contains("avx512f") {
        "gemm x86-v4 (AVX-512)"
    } else if features.contains("avx2") && features.contains("fma") {
        if std::arch::is_x86_feature_detected!("avx512f") {
            "gemm x86-v3 (AVX2+FMA; the AVX-512 kernels not built, --no-default-features)"
        } else {
            "gemm x86-v3 (AVX2+FMA)"
        }
    } else {
        "gemm baseline"
    };
    println!("cpu     {model_name}; features {features}; kernels {kernels}");
    eprintln!("output hash {}", outcome.run.output_hash);
}
