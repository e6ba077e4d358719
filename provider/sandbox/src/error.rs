//! The one error type the sandbox returns.

use std::path::PathBuf;

/// Why a module was refused or a run failed. Every variant says what happened and, where a
/// limit was hit, which one; none of them is a panic, whatever the module or inputs contain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The bytes are not a WebAssembly binary (no `\0asm` header).
    #[error("not a WebAssembly module: the file does not start with the `\\0asm` header")]
    NotWasm,
    /// The bytes are WebAssembly but not a module the sandbox runs: malformed, a component,
    /// not a WASI preview 1 command, or using a disabled feature.
    #[error("invalid algorithm module: {reason}")]
    InvalidModule {
        /// What is wrong, in words.
        reason: String,
    },
    /// The module imports something outside WASI preview 1 (`wasi_snapshot_preview1`).
    #[error(
        "the module imports `{module}::{name}`, which the sandbox does not provide \
         (only `wasi_snapshot_preview1` functions are available)"
    )]
    UnknownImport {
        /// The import's module name.
        module: String,
        /// The import's field name.
        name: String,
    },
    /// The module is larger than [`Limits::max_module_bytes`](crate::Limits::max_module_bytes).
    #[error("the module is {size} bytes, over the limit of {limit} bytes")]
    ModuleTooLarge {
        /// The module's size.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The run used up its fuel ([`Limits::fuel`](crate::Limits::fuel)), roughly one unit
    /// per WebAssembly instruction.
    #[error("the algorithm used all of its fuel ({limit} units, about one per WebAssembly instruction)")]
    FuelExhausted {
        /// The fuel the run had.
        limit: u64,
    },
    /// The module asked for more linear memory than
    /// [`Limits::memory_bytes`](crate::Limits::memory_bytes), at start or by growing.
    #[error("the algorithm tried to use more than its memory limit of {limit} bytes")]
    MemoryLimit {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// The run took longer than [`Limits::max_duration`](crate::Limits::max_duration).
    #[error("the algorithm ran past its time limit of {seconds} s")]
    Timeout {
        /// The limit in seconds.
        seconds: f64,
    },
    /// The algorithm wrote more than
    /// [`Limits::max_output_bytes`](crate::Limits::max_output_bytes) to `/out`; the partial
    /// output was removed.
    #[error("the algorithm wrote more than its output limit of {limit} bytes to /out")]
    OutputTooLarge {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// The algorithm left something in `/out` other than regular files: only files directly
    /// in `/out` are outputs (and hashed), so anything else fails the run.
    #[error(
        "the algorithm left /out/{name}, which is {kind}; outputs must be regular files directly in /out"
    )]
    InvalidOutput {
        /// The entry's path relative to `/out`.
        name: String,
        /// What it is instead (a directory, a symbolic link, …).
        kind: &'static str,
    },
    /// The algorithm exited with a non-zero status (`proc_exit`).
    #[error("the algorithm exited with code {code}{}", tail(.log_tail))]
    Exit {
        /// The exit status.
        code: i32,
        /// The end of its stdout and stderr, for the message.
        log_tail: String,
    },
    /// The algorithm trapped: an `unreachable`, an out-of-bounds access, a division by
    /// zero, a stack overflow, an invalid WASI call …
    #[error("the algorithm crashed: {message}{}", tail(.log_tail))]
    Trap {
        /// wasmtime's description of the trap.
        message: String,
        /// The end of its stdout and stderr, for the message.
        log_tail: String,
    },
    /// The run was cancelled through its cancel flag.
    #[error("the run was cancelled")]
    Cancelled,
    /// The dataset mount is missing or not a regular file, or the model mount not a directory.
    #[error("invalid mount {path}: {reason}")]
    Mount {
        /// The host path.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The output folder already holds files.
    #[error("output folder {0} is not empty")]
    OutputNotEmpty(PathBuf),
    /// Preparing the mounts, reading the outputs or cleaning up failed on the host.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Hashing the outputs failed.
    #[error("hashing the outputs: {0}")]
    Output(#[from] agora_runtime::RuntimeError),
    /// A bug in the sandbox or wasmtime: an internal step failed that no module should be able
    /// to cause. The run is failed rather than taking the caller down with it.
    #[error("internal sandbox error: {0}")]
    Internal(String),
}

impl SandboxError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidModule { reason: reason.into() }
    }

    pub(crate) fn internal(what: &str, err: impl std::fmt::Display) -> Self {
        Self::Internal(format!("{what}: {err}"))
    }
}

fn tail(log_tail: &str) -> String {
    if log_tail.is_empty() { String::new() } else { format!("; its output ended with:\n{log_tail}") }
}
