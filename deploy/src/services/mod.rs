//! Local services started as child processes on loopback ports, each stopped when dropped,
//! and what the set-up scripts install for compute: the model folder and the example algorithms.

pub mod algorithms;
pub mod anvil;
pub mod kubo;
pub mod model;
pub mod postgres;

/// The cache outside any clone that the set-up scripts fill (Kubo, the model, the example
/// algorithms, benchmark chains): `$AGORA_CACHE`, else `~/.cache/agora`.
pub fn cache_dir() -> std::path::PathBuf {
    match std::env::var_os("AGORA_CACHE") {
        Some(dir) if !dir.is_empty() => dir.into(),
        _ => {
            std::env::var_os("HOME").map_or_else(|| ".".into(), std::path::PathBuf::from).join(".cache/agora")
        }
    }
}
