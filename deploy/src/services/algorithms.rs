//! The example algorithms of `examples/algorithms/`, built as WebAssembly modules by
//! `./scripts/setup.sh` (through `scripts/build-algorithms.sh`) into the cache: where they are.
//! `agora dev` publishes `stats-go` as its demo algorithm; the provider's tests run both.

use std::path::PathBuf;

/// The examples `scripts/build-algorithms.sh` builds, by module name (`<name>.wasm`).
pub const EXAMPLES: [&str; 2] = ["stats-go", "kmeans-rust"];

/// An example module is not built where it was looked for.
#[derive(Debug, thiserror::Error)]
#[error(
    "the example algorithm {} is missing: run ./scripts/setup.sh (or scripts/build-algorithms.sh {}) first",
    path.display(),
    path.parent().map(|dir| dir.display().to_string()).unwrap_or_default()
)]
pub struct MissingAlgorithm {
    /// The module that was looked for.
    pub path: PathBuf,
}

/// Where the modules are looked for: `AGORA_ALGORITHMS_DIR`, else `algorithms` in the
/// [cache](super::cache_dir), where `./scripts/setup.sh` builds them.
pub fn examples_dir() -> PathBuf {
    std::env::var_os("AGORA_ALGORITHMS_DIR")
        .map_or_else(|| super::cache_dir().join("algorithms"), PathBuf::from)
}

/// The built module `name` (one of [`EXAMPLES`]), or [`MissingAlgorithm`].
pub fn example(name: &str) -> Result<PathBuf, MissingAlgorithm> {
    let path = examples_dir().join(format!("{name}.wasm"));
    if path.is_file() { Ok(path) } else { Err(MissingAlgorithm { path }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_algorithm_says_how_to_build_it() {
        let message = MissingAlgorithm { path: PathBuf::from("/nowhere/stats-go.wasm") }.to_string();
        assert!(message.contains("/nowhere/stats-go.wasm"), "{message}");
        assert!(message.contains("scripts/build-algorithms.sh /nowhere"), "{message}");
    }
}
