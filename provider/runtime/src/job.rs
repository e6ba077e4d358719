//! What a job asks for ([`JobSpec`], [`Inputs`]), what bounds it ([`Limits`]), what it
//! reports while running ([`Progress`]) and what it gives back ([`Outcome`]).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::RuntimeError;

/// One job: its kind and the kind's parameters. Everything that can change the outputs is
/// in here (or in the input files), so the spec plus the inputs pin the output hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobSpec {
    /// Sentence embeddings with a BERT-family model.
    Embed(EmbedSpec),
    /// Train a classifier on a labelled CSV.
    Train(TrainSpec),
    /// Run a classifier from `train` over a CSV.
    Predict(PredictSpec),
    /// Run the job's algorithm asset, a WebAssembly module, over the dataset. The provider
    /// runs it in `agora-sandbox`, not in this crate: [`crate::Runtime::run`] refuses it.
    Algorithm(AlgorithmSpec),
}

impl JobSpec {
    /// The checks of the spec alone against `limits`, which the runtime makes again before the
    /// work they bound: a provider runs them before it accepts a job (and a client before it
    /// pays for one), so a job that could never run is refused up front. The checks that need
    /// the inputs (rows, model size, the model's own maximum length) come later.
    pub fn check(&self, limits: &Limits) -> Result<(), RuntimeError> {
        match self {
            Self::Embed(spec) => spec.check(limits),
            Self::Train(spec) => spec.check(limits),
            Self::Predict(spec) => match &spec.id_column {
                Some(column) if column.is_empty() => {
                    Err(RuntimeError::InvalidSpec("id_column must not be empty".into()))
                }
                _ => Ok(()),
            },
            Self::Algorithm(spec) => spec.check(),
        }
    }

    /// The kind's name as used in manifests and receipts.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Embed(_) => "embed",
            Self::Train(_) => "train",
            Self::Predict(_) => "predict",
            Self::Algorithm(_) => "algorithm",
        }
    }
}

/// Parameters of an `embed` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedSpec {
    /// The CSV column or JSONL key that holds the text.
    pub text_field: String,
    /// Sentences per forward pass.
    pub batch_size: usize,
    /// Tokens per sentence, special tokens included; longer rows are truncated and listed
    /// in the manifest. `None`: the model's own maximum (sentence-transformers'
    /// `max_seq_length` when the model folder has it, else `max_position_embeddings`).
    pub max_length: Option<usize>,
}

impl EmbedSpec {
    /// See [`JobSpec::check`].
    pub(crate) fn check(&self, limits: &Limits) -> Result<(), RuntimeError> {
        if self.text_field.is_empty() {
            return Err(RuntimeError::InvalidSpec("text_field must not be empty".into()));
        }
        if self.batch_size == 0 {
            return Err(RuntimeError::InvalidSpec("batch_size must be at least 1".into()));
        }
        if self.batch_size > limits.max_batch_size {
            return Err(RuntimeError::LimitExceeded {
                what: "batch size",
                actual: self.batch_size as u64,
                limit: limits.max_batch_size as u64,
            });
        }
        match self.max_length {
            Some(length) if length < 2 => Err(RuntimeError::InvalidSpec(format!(
                "max_length {length} leaves no room for text between the special tokens"
            ))),
            _ => Ok(()),
        }
    }
}

impl Default for EmbedSpec {
    fn default() -> Self {
        Self { text_field: "text".to_owned(), batch_size: 32, max_length: None }
    }
}

/// Parameters of a `train` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSpec {
    /// The column holding each row's class; every other column is a numeric feature
    /// unless `features` names them.
    pub label_column: String,
    /// The feature columns, in order; `None`: every column except the label.
    pub features: Option<Vec<String>>,
    /// Width of the hidden layer; `0` trains a (multinomial) logistic regression.
    pub hidden: usize,
    /// Passes over the training split.
    pub epochs: usize,
    /// Rows per optimizer step.
    pub batch_size: usize,
    /// AdamW learning rate.
    pub learning_rate: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Share of rows held out for evaluation, in `[0, 1)`.
    pub test_fraction: f64,
    /// Seeds the split, the initial weights and the batch order.
    pub seed: u64,
}

impl TrainSpec {
    /// See [`JobSpec::check`].
    pub(crate) fn check(&self, limits: &Limits) -> Result<(), RuntimeError> {
        let checks = [
            ("epochs", self.epochs, limits.max_epochs),
            ("hidden layer width", self.hidden, limits.max_hidden),
            ("batch size", self.batch_size, limits.max_batch_size),
        ];
        for (what, actual, limit) in checks {
            if actual > limit {
                return Err(RuntimeError::LimitExceeded { what, actual: actual as u64, limit: limit as u64 });
            }
        }
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(RuntimeError::InvalidSpec("epochs and batch_size must be at least 1".into()));
        }
        if self.label_column.is_empty() {
            return Err(RuntimeError::InvalidSpec("label_column must not be empty".into()));
        }
        if self.features.as_ref().is_some_and(|features| features.len() > limits.max_features) {
            return Err(RuntimeError::LimitExceeded {
                what: "feature columns",
                actual: self.features.as_ref().map_or(0, Vec::len) as u64,
                limit: limits.max_features as u64,
            });
        }
        if !(0.0..1.0).contains(&self.test_fraction) {
            return Err(RuntimeError::InvalidSpec(format!(
                "test_fraction {} is not in [0, 1)",
                self.test_fraction
            )));
        }
        let lr_ok = self.learning_rate.is_finite() && self.learning_rate > 0.0;
        let wd_ok = self.weight_decay.is_finite() && self.weight_decay >= 0.0;
        if !(lr_ok && wd_ok) {
            return Err(RuntimeError::InvalidSpec(
                "learning_rate must be positive and weight_decay non-negative".into(),
            ));
        }
        Ok(())
    }
}

impl Default for TrainSpec {
    fn default() -> Self {
        Self {
            label_column: "label".to_owned(),
            features: None,
            hidden: 0,
            epochs: 20,
            batch_size: 32,
            learning_rate: 0.05,
            weight_decay: 0.0,
            test_fraction: 0.2,
            seed: 42,
        }
    }
}

/// Parameters of a `predict` job. The feature columns come from the model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PredictSpec {
    /// A column copied into the predictions next to each row (for example an id);
    /// `None`: rows are identified by their index.
    pub id_column: Option<String>,
}

/// Parameters of an `algorithm` job: what the module is given as its command line, after
/// its own name (`argv[0]`). Everything else it sees is fixed by the sandbox and the inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlgorithmSpec {
    /// The arguments.
    pub args: Vec<String>,
}

impl AlgorithmSpec {
    /// Most arguments.
    pub const MAX_ARGS: usize = 256;
    /// Most bytes of all arguments together.
    pub const MAX_ARGS_BYTES: usize = 16 * 1024;

    /// See [`JobSpec::check`]: a bounded command line without NUL bytes (which a C-style
    /// `argv` cannot carry).
    pub(crate) fn check(&self) -> Result<(), RuntimeError> {
        if self.args.len() > Self::MAX_ARGS {
            let (actual, limit) = (self.args.len() as u64, Self::MAX_ARGS as u64);
            return Err(RuntimeError::LimitExceeded { what: "algorithm arguments", actual, limit });
        }
        let bytes: usize = self.args.iter().map(String::len).sum();
        if bytes > Self::MAX_ARGS_BYTES {
            let (actual, limit) = (bytes as u64, Self::MAX_ARGS_BYTES as u64);
            return Err(RuntimeError::LimitExceeded { what: "bytes of algorithm arguments", actual, limit });
        }
        if self.args.iter().any(|arg| arg.contains('\0')) {
            return Err(RuntimeError::InvalidSpec("an algorithm argument contains a NUL byte".into()));
        }
        Ok(())
    }
}

/// Local input files, as fetched (and digest-checked) by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// The dataset: `.jsonl` or `.csv` for `embed`, `.csv` for `train` and `predict`.
    pub dataset: PathBuf,
    /// `embed`: a folder with `config.json`, `tokenizer.json`, `model.safetensors`.
    /// `predict`: the `model.safetensors` written by `train`, or the folder holding it.
    /// `train`: unused.
    pub model: Option<PathBuf>,
}

/// Bounds on what a job may read, allocate and do. Checked before the work they bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest dataset file, in bytes.
    pub max_dataset_bytes: u64,
    /// Most dataset rows.
    pub max_rows: u64,
    /// Largest model weights file (and tokenizer file), in bytes.
    pub max_model_bytes: u64,
    /// Most tokens per sentence; caps `EmbedSpec::max_length`.
    pub max_tokens: usize,
    /// Most feature columns for `train`/`predict`.
    pub max_features: usize,
    /// Most distinct classes for `train`.
    pub max_classes: usize,
    /// Widest hidden layer for `train`.
    pub max_hidden: usize,
    /// Most epochs for `train`.
    pub max_epochs: usize,
    /// Largest batch for any job.
    pub max_batch_size: usize,
    /// Largest attention-score tensor of one `embed` batch (`batch × heads × len² × 4`
    /// bytes at the job's `max_length`), which bounds its working memory.
    pub max_attention_bytes: u64,
    /// Wall-clock time limit, checked between batches and epochs.
    #[serde(with = "opt_secs")]
    pub max_duration: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_dataset_bytes: 256 << 20,
            max_rows: 1_000_000,
            max_model_bytes: 2 << 30,
            max_tokens: 512,
            max_features: 4096,
            max_classes: 1024,
            max_hidden: 4096,
            max_epochs: 1000,
            max_batch_size: 1024,
            max_attention_bytes: 2 << 30,
            max_duration: None,
        }
    }
}

mod opt_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let secs = Option::<f64>::deserialize(d)?;
        secs.map(|s| Duration::try_from_secs_f64(s).map_err(serde::de::Error::custom)).transpose()
    }
}

/// Where a running job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Reading and checking the model and dataset.
    Loading,
    /// Embedding sentences (`done`/`total` count sentences).
    Embedding,
    /// Training (`done`/`total` count epochs).
    Training,
    /// Predicting (`done`/`total` count rows).
    Predicting,
    /// Writing and hashing the outputs.
    Writing,
}

/// A progress report, sent at each phase change and after each batch or epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The current phase.
    pub phase: Phase,
    /// Units of work done in this phase.
    pub done: u64,
    /// Units of work in this phase.
    pub total: u64,
    /// The latest training loss, during `Training`.
    pub loss: Option<f32>,
}

/// One file the job wrote into the output folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Its name inside the output folder.
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// SHA-256 of its contents, lowercase hex.
    pub sha256: String,
}

/// The parts of a receipt the runtime can vouch for; the provider adds job id, CIDs and
/// its signature. Plain data, so it can be hashed, signed and compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunDescription {
    /// `embed`, `train` or `predict`.
    pub job_kind: String,
    /// This crate's name and version plus the candle version it computes with.
    pub runtime_version: String,
    /// The device the job ran on: `cpu` or `cuda:N`.
    pub device: String,
    /// On CPU, the instruction-set features that select the matmul kernels: outputs are
    /// bit-identical between machines that agree on this string.
    pub cpu_features: String,
    /// SHA-256 over the output files, lowercase hex; see [`crate::output_hash`].
    pub output_hash: String,
}

/// What a successful job produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The receipt-ready description of the run.
    pub run: RunDescription,
    /// The files written, sorted by name (the order the output hash uses).
    pub files: Vec<OutputFile>,
    /// What the job did, per kind.
    pub summary: Summary,
    /// Things the consumer should know that did not fail the job (for example truncation).
    pub warnings: Vec<String>,
}

/// Kind-specific figures of a finished job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Summary {
    /// An `embed` job.
    Embed {
        /// Sentences embedded.
        rows: u64,
        /// Embedding width.
        dim: u64,
        /// Sentences cut to the maximum length.
        truncated_rows: u64,
    },
    /// A `train` job.
    Train {
        /// Rows trained on.
        train_rows: u64,
        /// Rows held out.
        test_rows: u64,
        /// Mean loss of the last epoch.
        final_loss: f32,
        /// Accuracy on the held-out rows (`None` when nothing was held out).
        test_accuracy: Option<f32>,
    },
    /// A `predict` job.
    Predict {
        /// Rows predicted.
        rows: u64,
    },
    /// An `algorithm` job.
    Algorithm {
        /// Fuel the module used: about one unit per WebAssembly instruction, the same on
        /// every machine.
        fuel_used: u64,
        /// Bytes of stdout and stderr the module wrote (kept up to the provider's cap).
        log_bytes: u64,
        /// Whether the log was cut at the cap.
        log_truncated: bool,
    },
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn job_spec_json_round_trips_with_defaults() {
        let spec: JobSpec = serde_json::from_str(r#"{"kind":"embed","batch_size":8}"#).unwrap();
        assert_eq!(spec, JobSpec::Embed(EmbedSpec { batch_size: 8, ..EmbedSpec::default() }));
        let train = JobSpec::Train(TrainSpec::default());
        let json = serde_json::to_string(&train).unwrap();
        assert_eq!(serde_json::from_str::<JobSpec>(&json).unwrap(), train);
        assert!(serde_json::from_str::<JobSpec>(r#"{"kind":"embed","batch":8}"#).is_err());
        assert!(serde_json::from_str::<JobSpec>(r#"{"kind":"finetune"}"#).is_err());
        let algorithm: JobSpec = serde_json::from_str(r#"{"kind":"algorithm","args":["-k","3"]}"#).unwrap();
        assert_eq!(algorithm, JobSpec::Algorithm(AlgorithmSpec { args: vec!["-k".into(), "3".into()] }));
        assert_eq!(serde_json::from_str::<JobSpec>(r#"{"kind":"algorithm"}"#).unwrap().kind(), "algorithm");
    }

    #[test]
    fn algorithm_command_lines_are_bounded() {
        let limits = Limits::default();
        let spec = |args: Vec<String>| JobSpec::Algorithm(AlgorithmSpec { args });
        assert!(spec(vec!["--k".into(), "3".into()]).check(&limits).is_ok());
        let many = spec(vec![String::new(); AlgorithmSpec::MAX_ARGS + 1]).check(&limits).unwrap_err();
        assert!(many.to_string().contains("algorithm arguments"), "{many}");
        let long = spec(vec!["x".repeat(AlgorithmSpec::MAX_ARGS_BYTES + 1)]).check(&limits).unwrap_err();
        assert!(long.to_string().contains("bytes of algorithm arguments"), "{long}");
        let nul = spec(vec!["a\0b".into()]).check(&limits).unwrap_err();
        assert!(nul.to_string().contains("NUL"), "{nul}");
    }

    #[test]
    fn limits_json_takes_seconds() {
        let limits: Limits = serde_json::from_str(r#"{"max_rows":5,"max_duration":1.5}"#).unwrap();
        assert_eq!(limits.max_rows, 5);
        assert_eq!(limits.max_duration, Some(Duration::from_millis(1500)));
        assert_eq!(limits.max_tokens, Limits::default().max_tokens);
    }
}
