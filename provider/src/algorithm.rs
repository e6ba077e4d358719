//! `algorithm` jobs: the job's algorithm asset is a WebAssembly module (WASI preview 1) that
//! `agora-sandbox` runs over the dataset, deterministically and under the provider's
//! `[job_limits.algorithm]`. The provider's workers and `agora job verify` run it the same
//! way, so a re-execution compares bits with the posted output hash.
//!
//! - The dataset is `/data/<its file name>`, read-only; `/out` is the output folder.
//! - The command line is the spec's `args`; the random seed is the job id (its low 64 bits),
//!   so no one chooses it and every re-execution uses the same one.
//! - The receipt's runtime is [`agora_sandbox::version`] and its CPU features
//!   [`MACHINE_INDEPENDENT`]: a module's outputs do not depend on the machine.
//!
//! The log (stdout and stderr, capped) is a leak path: an algorithm can print the rows it
//! reads. It is kept for the consumer only when the dataset is not compute-only, or its owner
//! allows it in the dataset's metadata
//! ([`AssetMetadata::algorithm_logs`](crate::metadata::AssetMetadata::algorithm_logs));
//! otherwise it is dropped, and so is the end of the log a failure message would quote.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, atomic::AtomicBool},
};

use agora_runtime::{AlgorithmSpec, Outcome, RunDescription, RuntimeError, Summary};
use agora_sandbox::{Mounts, Sandbox, SandboxError};
use alloy::primitives::U256;

use crate::{
    crypto::{ContentKey, Encryption},
    jobs::InputRef,
    storage::Storage,
    worker::{self, JobFailure},
};

/// What receipts of algorithm jobs record as CPU features.
pub const MACHINE_INDEPENDENT: &str = "wasm32 (machine-independent)";

/// Fetches the module `module` into `dir` (checked against its on-chain digest, decrypted
/// with its content key when `sealed`) and reads it.
pub(crate) async fn fetch_module(
    storage: &Storage,
    module: &InputRef,
    sealed: Option<(&Encryption, &ContentKey)>,
    dir: &Path,
) -> Result<Vec<u8>, JobFailure> {
    let path = dir.join("algorithm.wasm");
    match sealed {
        Some((encryption, key)) => worker::fetch_sealed(storage, module, encryption, key, &path).await?,
        None => worker::fetch_input(storage, module, &path).await?,
    }
    Ok(tokio::fs::read(&path).await?)
}

/// The seed an algorithm job's randomness derives from: the job id's low 64 bits.
pub fn seed(job_id: U256) -> u64 {
    job_id.as_limbs()[0]
}

/// A finished algorithm run: the outcome as for a built-in job, and the log when it may be kept.
#[derive(Debug)]
pub(crate) struct Ran {
    /// Receipt-ready description, files and summary.
    pub outcome: Outcome,
    /// stdout and stderr, capped; `None` when withheld.
    pub log: Option<Vec<u8>>,
}

/// One algorithm run's inputs.
#[derive(Debug)]
pub(crate) struct AlgorithmRun {
    /// The module's bytes (digest-checked by the caller).
    pub module: Vec<u8>,
    /// The dataset file.
    pub dataset: PathBuf,
    /// The job spec.
    pub spec: AlgorithmSpec,
    /// [`seed`] of the job id.
    pub seed: u64,
    /// The output folder (empty or missing).
    pub out: PathBuf,
    /// Whether the log may be kept.
    pub share_log: bool,
}

impl AlgorithmRun {
    /// Runs the module on the blocking pool; stops when `cancel` is set.
    pub(crate) async fn run(
        self,
        sandbox: Arc<Sandbox>,
        cancel: Option<Arc<AtomicBool>>,
    ) -> Result<Ran, JobFailure> {
        tokio::task::spawn_blocking(move || self.run_blocking(&sandbox, cancel.as_deref()))
            .await
            .map_err(|err| JobFailure::Internal(format!("the job's thread failed: {err}")))?
    }

    fn run_blocking(self, sandbox: &Sandbox, cancel: Option<&AtomicBool>) -> Result<Ran, JobFailure> {
        let mounts = Mounts { data: &self.dataset, model: None };
        let run = sandbox
            .run(&self.module, &mounts, &self.spec.args, self.seed, &self.out, cancel)
            .map_err(|err| failure(err, self.share_log))?;
        let outcome = Outcome {
            run: RunDescription {
                job_kind: "algorithm".to_owned(),
                runtime_version: agora_sandbox::version(),
                device: "cpu".to_owned(),
                cpu_features: MACHINE_INDEPENDENT.to_owned(),
                output_hash: run.output_hash,
            },
            files: run.files,
            summary: Summary::Algorithm {
                fuel_used: run.fuel_used,
                log_bytes: run.log.len() as u64,
                log_truncated: run.log_truncated,
            },
            warnings: Vec::new(),
        };
        Ok(Ran { outcome, log: self.share_log.then_some(run.log) })
    }
}

/// The sandbox's error as a job failure: a cancellation is the runtime's, so it is recorded as
/// one; the end of the log an exit or crash quotes is dropped when the log is withheld.
fn failure(err: SandboxError, share_log: bool) -> JobFailure {
    let withheld =
        " (its log is withheld: the dataset is compute-only and its owner does not allow algorithm logs)";
    match err {
        SandboxError::Cancelled => JobFailure::Runtime(RuntimeError::Cancelled),
        SandboxError::Exit { code, .. } if !share_log => {
            JobFailure::Algorithm(format!("the algorithm exited with code {code}{withheld}"))
        }
        SandboxError::Trap { message, .. } if !share_log => {
            JobFailure::Algorithm(format!("the algorithm crashed: {message}{withheld}"))
        }
        other => JobFailure::Algorithm(other.to_string()),
    }
}

/// The sandbox limits of a provider whose jobs may compute for `time_limit`: the configured
/// ones, with the wall-time limit no longer than that.
pub fn limits(configured: &agora_sandbox::Limits, time_limit: std::time::Duration) -> agora_sandbox::Limits {
    agora_sandbox::Limits { max_duration: configured.max_duration.min(time_limit), ..configured.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_is_the_job_id() {
        assert_eq!(seed(U256::from(7)), 7);
        assert_eq!(seed(U256::from(u64::MAX) + U256::from(8)), 7);
    }

    #[test]
    fn a_withheld_log_is_not_quoted_in_the_failure() {
        let exit = || SandboxError::Exit { code: 3, log_tail: "secret row".into() };
        assert!(failure(exit(), true).to_string().contains("secret row"));
        let withheld = failure(exit(), false).to_string();
        assert!(!withheld.contains("secret row") && withheld.contains("code 3"), "{withheld}");
        let trap = SandboxError::Trap { message: "unreachable".into(), log_tail: "secret row".into() };
        let withheld = failure(trap, false).to_string();
        assert!(!withheld.contains("secret row") && withheld.contains("unreachable"), "{withheld}");
        assert!(matches!(
            failure(SandboxError::Cancelled, false),
            JobFailure::Runtime(RuntimeError::Cancelled)
        ));
    }

    #[test]
    fn the_wall_time_limit_is_capped_by_the_job_time_limit() {
        let configured = agora_sandbox::Limits::default();
        let capped = limits(&configured, std::time::Duration::from_secs(5));
        assert_eq!(capped.max_duration, std::time::Duration::from_secs(5));
        assert_eq!(capped.fuel, configured.fuel);
        assert_eq!(
            limits(&configured, std::time::Duration::from_secs(1 << 20)).max_duration,
            configured.max_duration
        );
    }
}
