//! The all-MiniLM-L6-v2 model folder that `./scripts/setup.sh` (through `scripts/model.sh`)
//! installs: where it is, and the files of it that the runtime's `embed` reads. `agora dev`
//! publishes it as its demo model; the compute tests and benches run it.

use std::path::PathBuf;

/// The files of the folder that `embed` reads. The first three are required; the installed
/// folder also holds sentence-transformers' `1_Pooling/` and a `.source` stamp, which are not
/// part of the model as published.
pub const MINILM_FILES: [&str; 4] =
    ["config.json", "tokenizer.json", "model.safetensors", "sentence_bert_config.json"];

/// How many of [`MINILM_FILES`], from the first, the model cannot load without.
pub const MINILM_REQUIRED_FILES: usize = 3;

/// The model is not installed where it was looked for.
#[derive(Debug, thiserror::Error)]
#[error(
    "the all-MiniLM-L6-v2 model is missing at {}: run ./scripts/setup.sh (or scripts/model.sh) first",
    dir.display()
)]
pub struct MissingModel {
    /// The folder that was looked in.
    pub dir: PathBuf,
}

/// Where the model is looked for: `AGORA_MODEL_DIR`, else `models/all-MiniLM-L6-v2` in the
/// [cache](super::cache_dir), where `scripts/model.sh` installs it.
pub fn minilm_path() -> PathBuf {
    std::env::var_os("AGORA_MODEL_DIR")
        .map_or_else(|| super::cache_dir().join("models/all-MiniLM-L6-v2"), PathBuf::from)
}

/// The installed model folder ([`minilm_path`]), or [`MissingModel`] when its weights are not there.
pub fn minilm_dir() -> Result<PathBuf, MissingModel> {
    let dir = minilm_path();
    if dir.join("model.safetensors").is_file() { Ok(dir) } else { Err(MissingModel { dir }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_model_says_where_it_was_looked_for_and_how_to_install_it() {
        let dir = PathBuf::from("/nonexistent/all-MiniLM-L6-v2");
        let message = MissingModel { dir }.to_string();
        assert!(message.contains("/nonexistent/all-MiniLM-L6-v2"), "{message}");
        assert!(message.contains("run ./scripts/setup.sh"), "{message}");
    }
}
