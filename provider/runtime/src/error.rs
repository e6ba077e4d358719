//! The one error type every job returns.

use std::path::PathBuf;

/// Why a job failed. Every variant carries enough context to tell the consumer what to fix;
/// none of them is a panic, whatever the inputs contain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// An input the job needs is not there (for example `tokenizer.json` in the model folder).
    #[error("missing input {what}: {path}")]
    MissingInput {
        /// Which input this is, in words.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A file is larger than the configured limit; it was not read.
    #[error("{path}: {size} bytes is over the limit of {limit} bytes")]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size on disk.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A safetensors file whose header is malformed, lies about its contents, or asks for
    /// more memory than the limits allow.
    #[error("invalid safetensors file {path}: {reason}")]
    InvalidSafetensors {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The model's `config.json` is unreadable or describes an architecture this job cannot run.
    #[error("unsupported model config {path}: {reason}")]
    UnsupportedModel {
        /// The config file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The model's weights do not fit its config (missing tensors, wrong shapes).
    #[error("model weights do not match the config: {0}")]
    ModelMismatch(String),
    /// The tokenizer file could not be loaded or used.
    #[error("tokenizer {path}: {reason}")]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The dataset is malformed: bad CSV/JSONL, a missing column, a non-numeric feature.
    #[error("dataset {path}: {reason}")]
    Dataset {
        /// The dataset file.
        path: PathBuf,
        /// What is wrong, with the row where it applies.
        reason: String,
    },
    /// The dataset has no rows to work on.
    #[error("dataset {path} has no rows")]
    EmptyDataset {
        /// The dataset file.
        path: PathBuf,
    },
    /// The dataset or job asks for more than the configured limits allow.
    #[error("limit exceeded: {what} is {actual}, the limit is {limit}")]
    LimitExceeded {
        /// Which limit.
        what: &'static str,
        /// The value the job asked for.
        actual: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The job's parameters are inconsistent (for example a batch size of zero).
    #[error("invalid job spec: {0}")]
    InvalidSpec(String),
    /// The output folder already holds files.
    #[error("output folder {0} is not empty")]
    OutputNotEmpty(PathBuf),
    /// The job was cancelled through its cancel flag.
    #[error("job cancelled")]
    Cancelled,
    /// The job ran past its deadline.
    #[error("job ran past its time limit")]
    TimedOut,
    /// The requested device is not available in this build or on this machine.
    #[error("device unavailable: {0}")]
    Device(String),
    /// A tensor operation failed.
    #[error("tensor computation failed: {0}")]
    Compute(#[from] candle_core::Error),
    /// Reading an input or writing an output failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A bug in the runtime: an internal invariant was broken. The job is failed rather
    /// than taking the caller down with it.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RuntimeError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    pub(crate) fn dataset(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Dataset { path: path.into(), reason: reason.into() }
    }

    pub(crate) fn safetensors(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::InvalidSafetensors { path: path.into(), reason: reason.into() }
    }
}
