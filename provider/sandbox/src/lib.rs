//! Agora's sandbox for user algorithms: WebAssembly modules built for WASI preview 1
//! (`wasi_snapshot_preview1`, e.g. `GOOS=wasip1 GOARCH=wasm go build` or Rust's
//! `wasm32-wasip1`), run in wasmtime deterministically and under hard limits, with no I/O
//! beyond the job's mounts. The provider runs algorithm jobs with it and the CLI's
//! `job verify` re-runs them; both compare [`Run::output_hash`], computed exactly like the
//! built-in jobs' ([`agora_runtime::hash_dir`]).
//!
//! - [`validate_module`]: is this an algorithm the sandbox can run? (before publishing)
//! - [`Sandbox::run`]: run one, under [`Limits`], over [`Mounts`], into an output folder.
//! - [`version`]: the string receipts record.
//!
//! # What the algorithm sees
//!
//! - `/data`: read-only, a folder holding exactly one file, the dataset, under its own name
//!   (`/data/rows.csv`): a hard link in a hidden per-run folder beside the dataset (or, across
//!   file systems, a copy in the system's temporary folder), removed after the run.
//! - `/model`: read-only, the model folder, if the job has one.
//! - `/out`: writable, the output folder, empty at the start. Only regular files directly in
//!   it are outputs; a folder, link or other entry left there fails the run.
//! - args `["algorithm", …args]`, an empty environment, a closed stdin. stdout and stderr go
//!   to one in-memory log capped at [`Limits::max_log_bytes`] ([`Run::log_truncated`]).
//! - No network: WASI preview 1 cannot create sockets and none is handed in; `sock_*` calls
//!   fail with an errno. No other files: paths cannot leave the three mounts, and
//!   `path_symlink` is refused.
//!
//! # Determinism
//!
//! The same module, inputs, args and seed give bit-identical outputs in any process: the
//! sources of non-determinism WebAssembly itself has are closed (NaN bit patterns are
//! canonicalised, relaxed SIMD is deterministic, threads are unavailable) and the module gets
//! no host-dependent input:
//!
//! - time is virtual: the monotonic clock starts at 0 and moves 1 µs per read, the wall clock
//!   is the same counted from 2000-01-01T00:00:00Z, and `poll_oneoff` never sleeps but moves
//!   the clock to the earliest deadline it was given;
//! - `random_get` is ChaCha20 keyed by SHA-256 of the job's seed (so are WASI's insecure
//!   random and its seed);
//! - file metadata shows fixed times, one link, device 0 and inode numbers in the order the
//!   module first stats each file.
//!
//! What remains host-dependent is the order of entries in a folder listing (`fd_readdir`)
//! and the inode numbers it reports; `/data` has one entry and `/out` only what the module
//! wrote, so only a module that lists `/model` must sort what it reads.
//!
//! # Limits
//!
//! - [`Limits::fuel`]: about one unit per instruction ([`SandboxError::FuelExhausted`]); the
//!   count is exact, so [`Run::fuel_used`] is the same on every machine.
//! - [`Limits::memory_bytes`]: a linear memory larger than this at start, or a `memory.grow`
//!   past it, stops the run ([`SandboxError::MemoryLimit`]).
//! - [`Limits::max_duration`]: wall time, compilation included, enforced every 10 ms through
//!   epoch interruption ([`SandboxError::Timeout`]); the same tick checks the cancel flag
//!   ([`SandboxError::Cancelled`]).
//! - [`Limits::max_output_bytes`]: WASI has no quota, so the sandbox counts. Every byte
//!   `fd_write`/`fd_pwrite` puts in a file (all writable files are in `/out`) counts, and
//!   the run stops right after the write that passes the limit, so the overshoot is at most
//!   one write call (at most the module's memory, in practice its buffer size). Writes at an
//!   offset past the limit and `fd_filestat_set_size` past it stop the run before they
//!   happen. Every 50 ms, and again at the end, the folder's contents are measured (each
//!   entry at least 4 KiB), which catches files made by seeking past the end. Then
//!   [`SandboxError::OutputTooLarge`] and the partial output is removed. Rewrites count
//!   again: the limit is on bytes written, not on the final size alone.
//! - [`Limits::max_module_bytes`]: checked before compiling ([`SandboxError::ModuleTooLarge`]).
//!
//! The wrapped WASI functions (`fd_write`, `fd_pwrite`, `fd_filestat_get`,
//! `path_filestat_get`, `fd_filestat_set_size`) work from `_start` on; a module's start
//! function (run while instantiating, unused by WASI commands) that calls them traps.
//!
//! Whatever the failure, the output folder is emptied (removed, if the run created it) and
//! the run's `/data` folder is removed; the [`Sandbox`] stays usable.
//!
//! # Compilation
//!
//! A run compiles the module with Cranelift, on the calling thread, unless it is one of the
//! last four modules the [`Sandbox`] compiled (kept by digest). Compiling is the slow part of
//! a first run: the Go stats example (3.9 MB) takes about 8 s on a 2-core machine, a small
//! Rust module well under a second; a cached module starts in a few milliseconds.
//!
//! # Threads
//!
//! A run executes on the calling thread, plus a ticker thread that only counts time and
//! measures `/out`. wasmtime-wasi drives its WASI calls with a Tokio `block_on`: call
//! [`Sandbox::run`] from a plain thread or `tokio::task::spawn_blocking`, never from inside
//! an async task.
//!
//! ```no_run
//! use agora_sandbox::{Limits, Mounts, Sandbox};
//! # fn main() -> Result<(), agora_sandbox::SandboxError> {
//! let sandbox = Sandbox::new(Limits::default())?;
//! let module = std::fs::read("stats.wasm").map_err(|e| agora_sandbox::SandboxError::Internal(e.to_string()))?;
//! let run = sandbox.run(
//!     &module,
//!     &Mounts { data: "rows.csv".as_ref(), model: None },
//!     &["--columns".into(), "a,b".into()],
//!     42,
//!     "out".as_ref(),
//!     None,
//! )?;
//! println!("{} ({} fuel)", run.output_hash, run.fuel_used);
//! # Ok(()) }
//! ```

mod error;
mod host;
mod limits;
mod module;
mod mounts;
mod run;

pub use agora_runtime::OutputFile;
pub use error::SandboxError;
pub use limits::{Limits, Mounts};
pub use module::{ModuleInfo, validate_module};
pub use run::{Run, Sandbox};

/// This sandbox's version as recorded in receipts.
pub fn version() -> String {
    format!("{} {} (wasmtime {})", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"), WASMTIME_VERSION)
}

/// The wasmtime release the sandbox is built on (the workspace pins it exactly).
const WASMTIME_VERSION: &str = "48.0.8";
