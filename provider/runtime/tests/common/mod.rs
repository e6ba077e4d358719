//! Helpers shared by the integration tests: the real model, the reference fixture, and
//! small datasets written into temporary folders.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The all-MiniLM-L6-v2 folder from `scripts/model.sh`: `AGORA_MODEL_DIR`, else the cache.
/// Fails (never skips) when it is missing.
pub fn model_dir() -> PathBuf {
    let dir = std::env::var_os("AGORA_MODEL_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("AGORA_CACHE").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/agora")
        });
        cache.join("models/all-MiniLM-L6-v2")
    });
    assert!(
        dir.join("model.safetensors").is_file(),
        "the all-MiniLM-L6-v2 model is missing at {}: run ./scripts/setup.sh (or scripts/model.sh) first",
        dir.display()
    );
    dir
}

/// sentence-transformers' embeddings for a handful of sentences
/// (written by `scripts/embeddings-fixture.py`).
#[derive(Deserialize)]
pub struct Fixture {
    pub max_seq_length: usize,
    pub sentences: Vec<String>,
    pub embeddings: Vec<Vec<f32>>,
}

pub fn fixture() -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm-embeddings.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Writes `rows` as JSONL with a `text` key.
pub fn write_jsonl(dir: &Path, name: &str, rows: &[String]) -> PathBuf {
    let path = dir.join(name);
    let body: String = rows.iter().map(|r| serde_json::json!({ "text": r }).to_string() + "\n").collect();
    std::fs::write(&path, body).unwrap();
    path
}

pub fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// A copy of the model folder whose files can be replaced one by one; the weights are
/// linked, not copied.
pub fn model_copy(dir: &Path) -> PathBuf {
    let src = model_dir();
    let dst = dir.join("model");
    std::fs::create_dir_all(&dst).unwrap();
    for name in ["config.json", "tokenizer.json", "sentence_bert_config.json"] {
        std::fs::copy(src.join(name), dst.join(name)).unwrap();
    }
    std::os::unix::fs::symlink(src.join("model.safetensors"), dst.join("model.safetensors")).unwrap();
    dst
}

/// A three-class dataset of two features whose class is a function of the features,
/// with a little seeded noise: `x,y,label`.
pub fn classification_csv(rows: usize) -> String {
    let mut state = 12345u64;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) as f64) / ((1u64 << 31) as f64)
    };
    let mut csv = String::from("x,y,label\n");
    for _ in 0..rows {
        let x = next() * 4.0 - 2.0;
        let y = next() * 4.0 - 2.0;
        let label = if x + y > 1.0 {
            "high"
        } else if x - y > 0.5 {
            "right"
        } else {
            "low"
        };
        csv.push_str(&format!("{x:.4},{y:.4},{label}\n"));
    }
    csv
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

/// Reads `embeddings.safetensors` back as rows.
pub fn read_embeddings(out: &Path) -> Vec<Vec<f32>> {
    let bytes = std::fs::read(out.join("embeddings.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let view = st.tensor("embeddings").unwrap();
    let dim = view.shape()[1];
    let values: Vec<f32> =
        view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    values.chunks(dim).map(<[f32]>::to_vec).collect()
}
