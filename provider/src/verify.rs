//! Checking a provider's work, for consumers and anyone else: the job's plan rebuilt from the
//! chain (never from the provider's word), the signed receipt checked against it, and the job
//! re-executed locally with `agora-runtime` (or `agora-sandbox`, for `algorithm` jobs) on
//! inputs fetched from IPFS by the worker's own digest-checked fetchers ([`crate::worker`]),
//! so a verifier runs exactly what a provider runs.
//!
//! Bits are compared: on CPU the runtime is deterministic for machines with the same
//! instruction-set features, which the receipt records (`cpuFeatures`).

use std::{path::Path, sync::Arc};

use agora_contracts::compute_market::IComputeMarket;
use agora_runtime::{Inputs, JobSpec, Limits, Outcome, Runtime};
use agora_sandbox::Sandbox;
use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
    sol_types::Eip712Domain,
};

use crate::{
    algorithm::{self, AlgorithmRun},
    chain::{ChainError, ChainReader, JobInfo},
    crypto::{ContentKey, Encryption},
    jobs::{InputRef, MAX_DOCUMENT_BYTES, Plan, SignedReceipt, SpecDocument, StoredPlan, plan_of},
    metadata::{AssetMetadata, MAX_METADATA_BYTES},
    storage::{Storage, StorageError},
    worker::{self, JobFailure},
};

/// A job could not be verified (which is not the same as a mismatch: see [`Verdict`]).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The market never opened the job.
    #[error("unknown job {0}: the market never opened it")]
    UnknownJob(U256),
    /// The job has no posted result to compare with.
    #[error("job {0} has no posted result to verify")]
    NoResult(U256),
    /// The chain could not be read.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// IPFS did not deliver a document.
    #[error("{action}: {source}")]
    Storage {
        /// What was being fetched.
        action: String,
        /// The underlying error.
        #[source]
        source: StorageError,
    },
    /// The spec document or an input's metadata is unusable.
    #[error("the job cannot be planned: {0}")]
    BadJob(String),
    /// The dataset is private, and the verifier neither gave its plaintext nor holds its key.
    #[error(
        "dataset asset {0} is private: re-executing needs its plaintext (download it with \
         `agora asset download {0}` and pass the file) or a key it is wrapped for (its owner's)"
    )]
    PrivateDataset(U256),
    /// The model is private and its key is not wrapped for the verifier.
    #[error(
        "model asset {asset} is private and its key is wrapped for {holders}, not for the \
         verifier {verifier}: only its owner or a provider holding its key can re-execute this job"
    )]
    PrivateModel {
        /// The model asset.
        asset: U256,
        /// Who holds its key.
        holders: String,
        /// Who tried.
        verifier: String,
    },
    /// The local plaintext given for a private dataset is not the one the chain records.
    #[error("{path}: its sha-256 {actual} is not the dataset's on-chain digest {expected}")]
    WrongPlaintext {
        /// The file given.
        path: String,
        /// Its sha-256.
        actual: B256,
        /// The on-chain digest.
        expected: B256,
    },
    /// The receipt does not vouch for this job's result.
    #[error("the receipt is not valid for job {job}: {reason}")]
    BadReceipt {
        /// The job.
        job: U256,
        /// What is wrong.
        reason: String,
    },
    /// Fetching the inputs or running the job failed.
    #[error("re-executing the job: {0}")]
    Execution(String),
    /// The local file system failed.
    #[error("local file system: {0}")]
    Io(#[from] std::io::Error),
}

impl From<JobFailure> for VerifyError {
    fn from(failure: JobFailure) -> Self {
        Self::Execution(failure.to_string())
    }
}

/// What a re-execution found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The job.
    pub job_id: U256,
    /// The provider that posted the result.
    pub provider: Address,
    /// The output hash posted on chain.
    pub claimed: B256,
    /// The output hash of the local re-execution.
    pub recomputed: B256,
    /// The runtime version of the local run.
    pub runtime_version: String,
    /// The local CPU features (the provider's are in its receipt).
    pub cpu_features: String,
}

impl Verdict {
    /// Whether the re-execution reproduced the posted output bit for bit.
    pub fn matches(&self) -> bool {
        self.claimed == self.recomputed
    }
}

/// The job as the chain records it and the plan a provider must have run: its spec
/// document from IPFS, the dataset (with its encryption when private) and (when the job reads
/// one) the model named by the job's assets, with their on-chain digests.
pub async fn plan(
    chain: &ChainReader,
    storage: &Storage,
    job_id: U256,
) -> Result<(JobInfo, StoredPlan), VerifyError> {
    let info = chain.job(job_id).await?.ok_or(VerifyError::UnknownJob(job_id))?;
    let spec = fetch_document(storage, "the job spec", &info.spec_cid, MAX_DOCUMENT_BYTES).await?;
    let spec = SpecDocument::parse(&spec).map_err(|err| VerifyError::BadJob(err.to_string()))?;
    let (dataset, metadata) = input(chain, storage, info.job.datasetId).await?;
    let model = match spec.needs_model() {
        true => Some((info.job.algorithmId, input(chain, storage, info.job.algorithmId).await?)),
        false => None,
    };
    let model = model.as_ref().map(|(id, (input, metadata))| (*id, input.clone(), metadata));
    let stored = plan_of(spec.job, info.job.deadline, (dataset, &metadata), model)
        .map_err(|err| VerifyError::BadJob(err.to_string()))?;
    Ok((info, stored))
}

/// Checks that `receipt` is the job's provider's word on the result posted on chain: signed
/// by the job's provider for `domain`, over the plan's inputs, with the posted output hash.
pub fn check_receipt(
    receipt: &SignedReceipt,
    job_id: U256,
    job: &IComputeMarket::Job,
    plan: &Plan,
    domain: &Eip712Domain,
) -> Result<(), VerifyError> {
    let bad = |reason: String| Err(VerifyError::BadReceipt { job: job_id, reason });
    if receipt.receipt.jobId != job_id {
        return bad(format!("it is for job {}", receipt.receipt.jobId));
    }
    match receipt.signer(domain) {
        Some(signer) if signer == job.provider => {}
        Some(signer) => {
            return bad(format!(
                "its signature recovers to {signer}, not the job's provider {}",
                job.provider
            ));
        }
        None => return bad("its signature or input list does not check out".into()),
    }
    if receipt.input_cids != plan.input_cids() {
        return bad(format!(
            "it names inputs {:?}, the job's are {:?}",
            receipt.input_cids,
            plan.input_cids()
        ));
    }
    if !job.outputHash.is_zero() && receipt.receipt.outputHash != job.outputHash {
        return bad(format!(
            "its output hash {} is not the one posted on chain, {}",
            receipt.receipt.outputHash, job.outputHash
        ));
    }
    Ok(())
}

/// Where a re-execution takes the dataset from.
#[derive(Debug, Clone, Copy)]
pub enum DatasetSource<'a> {
    /// IPFS, by the plan's CID (public datasets).
    Ipfs,
    /// IPFS, decrypted with the content key a private dataset's key holder (its owner) unwrapped.
    Sealed(&'a Encryption, &'a ContentKey),
    /// A local copy of the plaintext, e.g. what `agora asset download` saved (a public dataset
    /// is taken from here too when given).
    Local(&'a Path),
}

/// Fetches the plan's inputs into `work_dir` (every byte checked against its digest) and runs
/// job `job_id` there on the CPU (an `algorithm` job in the sandbox under its default limits,
/// seeded by the job id as on the provider); `work_dir` must be empty or not exist. A private
/// model or algorithm comes `sealed`, with its header and content key.
pub async fn reexecute(
    storage: &Storage,
    job_id: U256,
    plan: &Plan,
    source: DatasetSource<'_>,
    sealed_model: Option<(&Encryption, &ContentKey)>,
    work_dir: &Path,
    limits: Limits,
) -> Result<Outcome, VerifyError> {
    let inputs_dir = work_dir.join("inputs");
    tokio::fs::create_dir_all(&inputs_dir).await?;
    let dataset = inputs_dir.join(&plan.dataset_file);
    match source {
        DatasetSource::Ipfs => worker::fetch_input(storage, &plan.dataset, &dataset).await?,
        DatasetSource::Sealed(encryption, key) => {
            worker::fetch_sealed(storage, &plan.dataset, encryption, key, &dataset).await?;
        }
        DatasetSource::Local(path) => {
            let bytes = tokio::fs::read(path).await?;
            let actual = crate::storage::sha256(&bytes);
            if actual != plan.dataset.sha256 {
                let path = path.display().to_string();
                return Err(VerifyError::WrongPlaintext { path, actual, expected: plan.dataset.sha256 });
            }
            tokio::fs::write(&dataset, bytes).await?;
        }
    }
    if let JobSpec::Algorithm(spec) = &plan.spec {
        let module = plan.model.as_ref().ok_or(JobFailure::NoModel)?;
        let sandbox = Sandbox::new(agora_sandbox::Limits::default())
            .map_err(|err| VerifyError::Execution(err.to_string()))?;
        let run = AlgorithmRun {
            module: algorithm::fetch_module(storage, module, sealed_model, &inputs_dir).await?,
            dataset,
            spec: spec.clone(),
            seed: algorithm::seed(job_id),
            out: work_dir.join("out"),
            share_log: true,
        };
        return Ok(run.run(Arc::new(sandbox), None).await?.outcome);
    }
    let model = match &plan.model {
        Some(model) => {
            let dir = inputs_dir.join("model");
            worker::fetch_model(storage, model, sealed_model, &dir).await?;
            Some(dir)
        }
        None if !matches!(plan.spec, JobSpec::Train(_)) => return Err(JobFailure::NoModel.into()),
        None => None,
    };
    let (spec, out, runtime) = (plan.spec.clone(), work_dir.join("out"), Runtime::new(limits));
    Ok(worker::blocking(move || runtime.run(&spec, &Inputs { dataset, model }, &out, |_| {})).await?)
}

/// Re-executes job `job_id` in `work_dir` and compares with the output hash posted on chain.
/// A `receipt`, when given, is checked first ([`check_receipt`]) for the provider's domain on
/// `chain_id`. A private dataset needs its plaintext as `dataset`, or a `verifier` its key is
/// wrapped for (its owner); a private model needs such a `verifier`.
#[allow(clippy::too_many_arguments)]
pub async fn verify(
    chain: &ChainReader,
    storage: &Storage,
    chain_id: u64,
    job_id: U256,
    receipt: Option<&SignedReceipt>,
    dataset: Option<&Path>,
    verifier: Option<&PrivateKeySigner>,
    work_dir: &Path,
) -> Result<Verdict, VerifyError> {
    let (info, stored) = plan(chain, storage, job_id).await?;
    let plan = &stored.plan;
    if info.job.outputHash.is_zero() {
        return Err(VerifyError::NoResult(job_id));
    }
    if let Some(receipt) = receipt {
        let domain = crate::access::domain(chain_id, info.job.provider);
        check_receipt(receipt, job_id, &info.job, plan, &domain)?;
    }
    let unwrap = |encryption: &Encryption| verifier.and_then(|v| encryption.content_key_for(v).ok());
    let dataset_key = stored.dataset_encryption.as_ref().and_then(|e| Some((e, unwrap(e)?)));
    let source = match (dataset, &dataset_key) {
        (Some(path), _) => DatasetSource::Local(path),
        (None, Some((encryption, key))) => DatasetSource::Sealed(encryption, key),
        (None, None) if stored.dataset_encryption.is_none() => DatasetSource::Ipfs,
        (None, None) => return Err(VerifyError::PrivateDataset(info.job.datasetId)),
    };
    let model_key = match &stored.model_encryption {
        None => None,
        Some(encryption) => match unwrap(encryption) {
            Some(key) => Some((encryption, key)),
            None => {
                return Err(VerifyError::PrivateModel {
                    asset: info.job.algorithmId,
                    holders: encryption
                        .holders()
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    verifier: verifier.map_or_else(|| "(no key given)".into(), |v| v.address().to_string()),
                });
            }
        },
    };
    let sealed_model = model_key.as_ref().map(|(encryption, key)| (*encryption, key));
    let outcome = reexecute(storage, job_id, plan, source, sealed_model, work_dir, Limits::default()).await?;
    Ok(Verdict {
        job_id,
        provider: info.job.provider,
        claimed: info.job.outputHash,
        recomputed: parse_hash(&outcome.run.output_hash)?,
        runtime_version: outcome.run.runtime_version,
        cpu_features: outcome.run.cpu_features,
    })
}

/// The output hash of the files directly inside `dir` (a fetched output folder).
pub fn output_hash(dir: &Path) -> Result<B256, VerifyError> {
    let (_, hash) = agora_runtime::hash_dir(dir).map_err(|err| VerifyError::Execution(err.to_string()))?;
    parse_hash(&hash)
}

fn parse_hash(hex: &str) -> Result<B256, VerifyError> {
    format!("0x{hex}").parse().map_err(|_| {
        VerifyError::Execution(format!("the runtime's output hash {hex:?} is not 32 bytes of hex"))
    })
}

async fn fetch_document(
    storage: &Storage,
    what: &str,
    cid: &str,
    limit: usize,
) -> Result<Vec<u8>, VerifyError> {
    storage
        .cat_to_vec(cid, limit)
        .await
        .map_err(|source| VerifyError::Storage { action: format!("fetching {what} {cid}"), source })
}

/// The content of asset `asset_id` as a job input, and its metadata.
async fn input(
    chain: &ChainReader,
    storage: &Storage,
    asset_id: U256,
) -> Result<(InputRef, AssetMetadata), VerifyError> {
    let asset = chain
        .asset(asset_id)
        .await?
        .ok_or_else(|| VerifyError::BadJob(format!("asset {asset_id} does not exist")))?;
    let bytes = fetch_document(
        storage,
        &format!("asset {asset_id}'s metadata"),
        &asset.metadata_cid,
        MAX_METADATA_BYTES,
    )
    .await?;
    let metadata: AssetMetadata = serde_json::from_slice(&bytes)
        .map_err(|err| VerifyError::BadJob(format!("asset {asset_id}'s metadata is invalid: {err}")))?;
    Ok((InputRef { cid: metadata.content.cid.clone(), sha256: asset.content_digest }, metadata))
}

#[cfg(test)]
mod tests {
    use alloy::signers::local::PrivateKeySigner;

    use super::*;
    use crate::jobs::{JobReceipt, inputs_hash};

    #[test]
    fn a_receipt_must_be_the_job_providers_over_the_jobs_inputs_and_posted_hash() {
        let provider = PrivateKeySigner::random();
        let domain = crate::access::domain(31337, provider.address());
        let plan = Plan {
            spec: JobSpec::Train(Default::default()),
            dataset: InputRef { cid: "bafy-data".into(), sha256: B256::repeat_byte(1) },
            dataset_file: "data.csv".into(),
            model: None,
            deadline: 10,
        };
        let job = IComputeMarket::Job {
            provider: provider.address(),
            outputHash: B256::repeat_byte(9),
            ..Default::default()
        };
        let id = U256::from(4);
        let sign = |cids: Vec<String>, output: B256, by: &PrivateKeySigner| {
            let receipt = JobReceipt {
                jobId: id,
                inputsHash: inputs_hash(&cids),
                modelCid: String::new(),
                outputCid: "bafy-out".into(),
                outputHash: output,
                runtimeVersion: "agora-runtime".into(),
                device: "cpu".into(),
            };
            SignedReceipt::sign(receipt, cids, "x86_64".into(), &domain, by).unwrap()
        };
        let honest = sign(plan.input_cids(), job.outputHash, &provider);
        check_receipt(&honest, id, &job, &plan, &domain).unwrap();
        let reason = |receipt: &SignedReceipt| {
            check_receipt(receipt, id, &job, &plan, &domain).unwrap_err().to_string()
        };
        assert!(
            reason(&sign(plan.input_cids(), job.outputHash, &PrivateKeySigner::random()))
                .contains("recovers to")
        );
        assert!(reason(&sign(vec!["bafy-other".into()], job.outputHash, &provider)).contains("names inputs"));
        assert!(
            reason(&sign(plan.input_cids(), B256::repeat_byte(8), &provider)).contains("posted on chain")
        );
    }
}
