//! Locating the pinned anvil (`npm ci` puts Foundry's binaries in the repository's
//! `node_modules/.bin`), for local chains and dry-run forks.

use std::path::PathBuf;

/// Environment variable that names the `anvil` binary explicitly.
pub const BIN_ENV: &str = "AGORA_ANVIL_BIN";

/// The `anvil` binary was not found.
#[derive(Debug, thiserror::Error)]
#[error(
    "anvil not found at {path}: run ./scripts/setup.sh (npm ci installs the pinned Foundry), or set {BIN_ENV}"
)]
pub struct MissingAnvil {
    /// Where it was looked for.
    pub path: String,
}

/// `$AGORA_ANVIL_BIN` if set, else the repository's `node_modules/.bin/anvil`.
pub fn binary_path() -> Result<PathBuf, MissingAnvil> {
    let path = std::env::var_os(BIN_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../node_modules/.bin/anvil"));
    if path.is_file() { Ok(path) } else { Err(MissingAnvil { path: path.display().to_string() }) }
}
