//! Agora's compute runtime: the job kinds a provider runs over data it has fetched, as
//! pure computation on local files. No network, no chain; the provider owns fetching,
//! queueing, signing and publishing.
//!
//! - [`job`]: what a job asks for ([`JobSpec`], [`Inputs`], [`Limits`]) and gives back
//!   ([`Outcome`], with the receipt-ready [`RunDescription`]).
//! - `embed`: sentence embeddings with a BERT-family model ([`EmbeddingModel`]), whose
//!   encoder is the plain candle code in `bert`.
//! - `classifier`: `train` a logistic regression or small MLP, `predict` with it.
//! - [`output_hash`] / [`hash_dir`]: the hash a re-execution is compared on.
//!
//! On CPU the same spec and input files give bit-identical output files, in any process
//! and at any thread count: the only parallelism is inside candle's kernels, which split
//! work by output element and keep each sum's order; batch composition and every random
//! choice are functions of the inputs and the job's seed; outputs carry no time, path or
//! map-ordered data. The matmul kernels are picked by instruction set, so a re-execution
//! compares bits with a machine of the same [`RunDescription::cpu_features`]. See
//! `tests/determinism.rs`.
//!
//! ```no_run
//! use agora_runtime::{EmbedSpec, Inputs, JobSpec};
//! # fn main() -> Result<(), agora_runtime::RuntimeError> {
//! let outcome = agora_runtime::run(
//!     &JobSpec::Embed(EmbedSpec::default()),
//!     &Inputs { dataset: "sentences.jsonl".into(), model: Some("all-MiniLM-L6-v2".into()) },
//!     "out".as_ref(),
//!     |p| eprintln!("{:?} {}/{}", p.phase, p.done, p.total),
//! )?;
//! println!("{}", outcome.run.output_hash);
//! # Ok(()) }
//! ```

mod attention;
mod bert;
mod classifier;
mod dataset;
mod dense;
mod embed;
mod error;
pub mod job;
mod output;
mod rng;
mod tensorfile;
mod wide;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub use candle_core::Device;
pub use embed::{EMBEDDINGS_TENSOR, EmbeddingModel};
pub use error::RuntimeError;
pub use job::{
    AlgorithmSpec, EmbedSpec, Inputs, JobSpec, Limits, Outcome, OutputFile, Phase, PredictSpec, Progress,
    RunDescription, Summary, TrainSpec,
};
pub use output::{hash_dir, output_hash};

/// The device a job runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU: the default, and the reference for re-execution.
    #[default]
    Cpu,
    /// An NVIDIA GPU by ordinal; needs the `cuda` feature.
    Cuda(usize),
}

/// candle's setting for how long its idle element-wise workers spin before they sleep.
const SPIN_LIMIT_ENV: &str = "CANDLE_BARRIER_POOL_SPIN_LIMIT";

/// Tunes candle's CPU threads for a process that runs jobs; call it first thing in `main`.
///
/// candle runs element-wise kernels on its own pool, whose idle workers spin for about 25,000
/// rounds after each operation, and matrix products on rayon's. On a machine with few cores
/// the spinning workers take the cores from the matrix products that follow: MiniLM `embed`
/// of 2,000 sentences on 2 cores ran at 225 sentences/s with candle's default and 259–266
/// with workers that sleep at once (`./scripts/bench-embed.sh`, a quiet machine; 2026-11-25).
/// So, unless the variable is already set, workers sleep at once. Outputs do not change: each
/// element is computed alone.
///
/// # Safety
///
/// It changes the process environment: no other thread may be running yet.
pub unsafe fn tune_cpu_threads() {
    if std::env::var_os(SPIN_LIMIT_ENV).is_none() {
        // SAFETY: the caller guarantees that this thread is the only one.
        unsafe { std::env::set_var(SPIN_LIMIT_ENV, "0") };
    }
}

/// This runtime's version as recorded in receipts.
pub fn runtime_version() -> String {
    format!("{} {} (candle 0.11)", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
}

/// Runs jobs under a set of limits on one device.
#[derive(Debug, Clone, Default)]
pub struct Runtime {
    limits: Limits,
    device: DeviceChoice,
    cancel: Option<Arc<AtomicBool>>,
}

impl Runtime {
    /// A CPU runtime with these limits.
    pub fn new(limits: Limits) -> Self {
        Self { limits, ..Self::default() }
    }

    /// Runs on `device` instead of the CPU.
    pub fn with_device(mut self, device: DeviceChoice) -> Self {
        self.device = device;
        self
    }

    /// Stops a running job (with [`RuntimeError::Cancelled`]) once `flag` is set; checked
    /// between batches and epochs.
    pub fn with_cancel_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// The limits jobs run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Runs `job` over `inputs`, writing its outputs into `out_dir`, which must be empty or
    /// not exist yet.
    /// `progress` hears about each phase and each batch or epoch.
    pub fn run(
        &self,
        job: &JobSpec,
        inputs: &Inputs,
        out_dir: &Path,
        progress: impl Fn(Progress),
    ) -> Result<Outcome, RuntimeError> {
        self.execute(job.kind(), out_dir, &progress, |ctx| match job {
            JobSpec::Embed(spec) => embed::run(ctx, spec, inputs, out_dir),
            JobSpec::Train(spec) => classifier::train(ctx, spec, inputs, out_dir),
            JobSpec::Predict(spec) => classifier::predict(ctx, spec, inputs, out_dir),
            JobSpec::Algorithm(_) => Err(RuntimeError::InvalidSpec(
                "algorithm jobs run in agora-sandbox, not in the runtime".into(),
            )),
        })
    }

    /// Runs an `embed` job with a model loaded earlier (and perhaps cached) by
    /// [`EmbeddingModel::load`] on this runtime's device; `inputs.model` is not read.
    /// The outputs are the same as [`Runtime::run`]'s.
    pub fn embed_with_model(
        &self,
        model: &EmbeddingModel,
        spec: &EmbedSpec,
        inputs: &Inputs,
        out_dir: &Path,
        progress: impl Fn(Progress),
    ) -> Result<Outcome, RuntimeError> {
        self.execute("embed", out_dir, &progress, |ctx| embed::embed_with(ctx, model, spec, inputs, out_dir))
    }

    /// Opens the device, runs `job` and turns what it wrote into an [`Outcome`].
    fn execute(
        &self,
        job_kind: &str,
        out_dir: &Path,
        progress: &dyn Fn(Progress),
        job: impl FnOnce(&Ctx<'_>) -> Result<Produced, RuntimeError>,
    ) -> Result<Outcome, RuntimeError> {
        // The output hash covers what the job writes; a stale file beside it would make
        // the folder disagree with the hash.
        if let Ok(mut entries) = std::fs::read_dir(out_dir)
            && entries.next().is_some()
        {
            return Err(RuntimeError::OutputNotEmpty(out_dir.to_owned()));
        }
        let (device, device_name) = open_device(self.device)?;
        let ctx = Ctx {
            limits: &self.limits,
            device,
            cancel: self.cancel.as_deref(),
            deadline: self.limits.max_duration.map(|d| Instant::now() + d),
            progress,
        };
        // A panic inside a dependency must fail this job, not the provider serving others.
        let produced = catch_unwind(AssertUnwindSafe(|| job(&ctx))).map_err(|panic| {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            RuntimeError::Internal(format!("the job panicked: {msg}"))
        })??;
        let (files, output_hash) = produced.writer.finish();
        ctx.report(Phase::Writing, 1, 1, None);
        Ok(Outcome {
            run: RunDescription {
                job_kind: job_kind.to_owned(),
                runtime_version: runtime_version(),
                device: device_name,
                cpu_features: cpu_features(),
                output_hash,
            },
            files,
            summary: produced.summary,
            warnings: produced.warnings,
        })
    }

    /// The device this runtime runs on, opened; pass it to [`EmbeddingModel::load`].
    pub fn device(&self) -> Result<Device, RuntimeError> {
        open_device(self.device).map(|(d, _)| d)
    }
}

/// Runs `job` on the CPU under the default [`Limits`]; see [`Runtime::run`].
pub fn run(
    job: &JobSpec,
    inputs: &Inputs,
    out_dir: &Path,
    progress: impl Fn(Progress),
) -> Result<Outcome, RuntimeError> {
    Runtime::default().run(job, inputs, out_dir, progress)
}

fn open_device(choice: DeviceChoice) -> Result<(Device, String), RuntimeError> {
    match choice {
        DeviceChoice::Cpu => Ok((Device::Cpu, "cpu".to_owned())),
        DeviceChoice::Cuda(ordinal) if cfg!(feature = "cuda") => Device::new_cuda(ordinal)
            .map(|d| (d, format!("cuda:{ordinal}")))
            .map_err(|e| RuntimeError::Device(format!("cuda:{ordinal}: {e}"))),
        DeviceChoice::Cuda(_) => Err(RuntimeError::Device(
            "this build has no GPU support (build agora-runtime with the `cuda` feature)".into(),
        )),
    }
}

/// The instruction-set features that pick candle's CPU kernels, and so the exact bits of
/// a result.
fn cpu_features() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let mut parts = vec!["x86_64"];
        if std::arch::is_x86_feature_detected!("avx2") {
            parts.push("avx2");
        }
        if std::arch::is_x86_feature_detected!("fma") {
            parts.push("fma");
        }
        // gemm's AVX-512 kernels run only when they are built in (the `avx512` feature).
        if cfg!(feature = "avx512") && std::arch::is_x86_feature_detected!("avx512f") {
            parts.push("avx512f");
        }
        parts.join("+")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH.to_owned()
    }
}

/// What every job kind gets: limits, device, cancellation and the progress sink.
pub(crate) struct Ctx<'a> {
    pub(crate) limits: &'a Limits,
    pub(crate) device: Device,
    cancel: Option<&'a AtomicBool>,
    deadline: Option<Instant>,
    progress: &'a dyn Fn(Progress),
}

impl Ctx<'_> {
    pub(crate) fn report(&self, phase: Phase, done: u64, total: u64, loss: Option<f32>) {
        (self.progress)(Progress { phase, done, total, loss });
    }

    /// Fails the job if it was cancelled or is past its deadline.
    pub(crate) fn check(&self) -> Result<(), RuntimeError> {
        if self.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(RuntimeError::Cancelled);
        }
        if self.deadline.is_some_and(|d| Instant::now() > d) {
            return Err(RuntimeError::TimedOut);
        }
        Ok(())
    }
}

/// What a job kind hands back to [`Runtime::run`].
pub(crate) struct Produced {
    pub(crate) writer: output::OutputWriter,
    pub(crate) summary: Summary,
    pub(crate) warnings: Vec<String>,
}

/// Serialises f32 tensors (name, shape, row-major values) to safetensors bytes, with at
/// most one metadata entry so the header's bytes are a function of the values.
pub(crate) fn safetensors_f32(
    tensors: &[(&str, &[usize], &[f32])],
    metadata: Option<(&str, String)>,
) -> Result<Vec<u8>, RuntimeError> {
    let bytes: Vec<Vec<u8>> =
        tensors.iter().map(|(_, _, values)| values.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), data)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.to_vec(), data)
                .map(|view| (*name, view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RuntimeError::Internal(format!("building safetensors: {e}")))?;
    let metadata = metadata.map(|(k, v)| HashMap::from([(k.to_owned(), v)]));
    safetensors::serialize(views, metadata)
        .map_err(|e| RuntimeError::Internal(format!("serializing safetensors: {e}")))
}
