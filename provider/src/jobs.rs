//! Compute jobs, the pure part: the EIP-712 request a consumer signs to submit an on-chain
//! job, the job-spec document on IPFS, the model manifest, the checks of a job against a
//! request, and the receipt the provider signs for a result. No I/O here: [`crate::worker`]
//! fetches, runs and publishes; [`crate::chain`] reads the market; [`crate::db`] persists.
//!
//! A job's inputs are named by the chain, not by the consumer: the dataset and the
//! algorithm/model are the job's `datasetId` and `algorithmId`, whose metadata gives their
//! content CIDs and whose on-chain digests every fetched byte is checked against. The
//! consumer only chooses the runtime parameters, in the spec document at `specCid`:
//!
//! ```json
//! { "version": 1, "job": { "kind": "embed", "text_field": "text", "batch_size": 32 } }
//! ```
//!
//! `job` is [`agora_runtime::JobSpec`] (`embed`, `train`, `predict`, or `algorithm`, whose
//! algorithm asset is a WebAssembly module run by [`crate::algorithm`]). A private (encrypted)
//! dataset or model is admitted when its content key is wrapped for this provider; the worker
//! decrypts it into the job's folder only ([`StoredPlan`] keeps the encryption headers with the
//! plan). A model asset's content is a [`ModelManifest`] (its sha-256 is the on-chain digest)
//! listing each model file with its own CID and sha-256, so a folder model is checked end to
//! end; a private model's manifest is sealed like any content and each file it lists carries
//! its own header, sealed with the same key.

use agora_contracts::compute_market::IComputeMarket;
use agora_runtime::JobSpec;
use alloy::{
    primitives::{Address, B256, Bytes, Signature, U256, keccak256},
    sol,
    sol_types::{Eip712Domain, SolStruct, SolValue},
};
use serde::{Deserialize, Serialize};

use crate::{
    access::{Refusal, recover_typed, sign_typed},
    chain::job_status::OPEN,
    crypto::Encryption,
    metadata::AssetMetadata,
};

sol! {
    /// What a consumer signs to have a provider run an on-chain compute job.
    #[derive(Debug, PartialEq, Eq)]
    struct JobRequest {
        /// The market's job id (`JobOpened.jobId`).
        uint256 jobId;
        /// A number the consumer never reuses with this provider.
        uint256 nonce;
        /// Unix time after which the request is void.
        uint64 expiry;
    }

    /// What the provider vouches for about a result it posted.
    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct JobReceipt {
        /// The market's job id.
        uint256 jobId;
        /// `keccak256(abi.encode(string[] inputCids))`: dataset content CID, then the model
        /// manifest CID when the job has a model.
        bytes32 inputsHash;
        /// The model manifest's CID; empty for `train`.
        string modelCid;
        /// CID of the output folder.
        string outputCid;
        /// The runtime's output hash, as posted on chain.
        bytes32 outputHash;
        /// `agora_runtime::runtime_version()`.
        string runtimeVersion;
        /// `cpu` or `cuda:N`.
        string device;
    }
}

/// The only spec document version.
pub const SPEC_VERSION: u32 = 1;
/// Largest spec document or model manifest fetched.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// The JSON body of `POST /v1/jobs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedJobRequest {
    /// The market's job id.
    pub job_id: U256,
    /// The request's nonce.
    pub nonce: U256,
    /// Unix time after which the request is void.
    pub expiry: u64,
    /// 65-byte `r ‖ s ‖ v` signature over the EIP-712 hash of the request.
    pub signature: Bytes,
}

impl SignedJobRequest {
    /// The signed struct.
    pub fn message(&self) -> JobRequest {
        JobRequest { jobId: self.job_id, nonce: self.nonce, expiry: self.expiry }
    }

    /// Signs `message` for the provider's domain.
    pub fn sign(
        message: &JobRequest,
        domain: &Eip712Domain,
        signer: &alloy::signers::local::PrivateKeySigner,
    ) -> Result<Self, alloy::signers::Error> {
        Ok(Self {
            job_id: message.jobId,
            nonce: message.nonce,
            expiry: message.expiry,
            signature: sign_typed(message, domain, signer)?,
        })
    }

    /// The address that signed the request for `domain` (a forged signature recovers an
    /// address that is not the job's consumer).
    pub fn signer(&self, domain: &Eip712Domain) -> Result<Address, Refusal> {
        recover_typed(&self.message(), &self.signature, domain)
    }
}

/// The job-spec document at the job's `specCid`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecDocument {
    /// [`SPEC_VERSION`].
    pub version: u32,
    /// What to run.
    pub job: JobSpec,
}

impl SpecDocument {
    /// Parses and checks a spec document.
    pub fn parse(bytes: &[u8]) -> Result<Self, JobRefusal> {
        let doc: Self = serde_json::from_slice(bytes).map_err(|err| JobRefusal::BadSpec(err.to_string()))?;
        if doc.version != SPEC_VERSION {
            return Err(JobRefusal::BadSpec(format!("unsupported version {}", doc.version)));
        }
        Ok(doc)
    }

    /// Whether the job reads a model (the algorithm asset's content).
    pub fn needs_model(&self) -> bool {
        !matches!(self.job, JobSpec::Train(_))
    }
}

/// A model asset's content: its files, each with its own CID and sha-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelManifest {
    /// The files (`config.json`, `tokenizer.json`, `model.safetensors`, …).
    pub files: Vec<ModelFile>,
}

/// One file of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// Its name in the model folder: a plain file name.
    pub name: String,
    /// Its CID.
    pub cid: String,
    /// sha-256 of its bytes (the plaintext's, for a sealed file).
    pub sha256: B256,
    /// How the file is sealed, in a private model: the asset's content key with a nonce prefix
    /// of its own (the header carries no wrapped keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

impl ModelManifest {
    /// Parses a manifest, refusing file names that would leave the model folder.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let manifest: Self = serde_json::from_slice(bytes).map_err(|err| err.to_string())?;
        if let Some(bad) = manifest.files.iter().find(|f| !is_plain_file_name(&f.name)) {
            return Err(format!("invalid model file name {:?}", bad.name));
        }
        Ok(manifest)
    }
}

/// A name without separators, `..` or leading dots.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// One content-addressed input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputRef {
    /// Its CID.
    pub cid: String,
    /// Its on-chain sha-256.
    pub sha256: B256,
}

/// Everything a worker needs to run an admitted job, persisted with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// What to run.
    pub spec: JobSpec,
    /// The dataset's content.
    pub dataset: InputRef,
    /// The dataset's file name (its extension picks the reader).
    pub dataset_file: String,
    /// The algorithm asset's content, when the job reads it: a model manifest, or for an
    /// `algorithm` job the WebAssembly module.
    pub model: Option<InputRef>,
    /// The on-chain result deadline.
    pub deadline: u64,
}

impl Plan {
    /// The input CIDs in receipt order: dataset, then the model manifest.
    pub fn input_cids(&self) -> Vec<String> {
        std::iter::once(self.dataset.cid.clone()).chain(self.model.as_ref().map(|m| m.cid.clone())).collect()
    }
}

/// The checks a provider admitting a job and a verifier re-running it make alike, once each
/// input's content and metadata are known: the dataset needs a usable file name. Whether the
/// content keys of private inputs can be unwrapped is the caller's check.
pub fn plan_of(
    spec: JobSpec,
    deadline: u64,
    dataset: (InputRef, &AssetMetadata),
    model: Option<(U256, InputRef, &AssetMetadata)>,
) -> Result<StoredPlan, JobRefusal> {
    let (dataset, dataset_metadata) = dataset;
    let dataset_file = dataset_metadata
        .content
        .file_name
        .clone()
        .filter(|name| is_plain_file_name(name))
        .ok_or_else(|| JobRefusal::BadSpec("the dataset's metadata has no usable fileName".into()))?;
    let model_encryption = model.as_ref().and_then(|(_, _, metadata)| metadata.content.encryption.clone());
    let model = model.map(|(_, model, _)| model);
    let dataset_encryption = dataset_metadata.content.encryption.clone();
    Ok(StoredPlan {
        plan: Plan { spec, dataset, dataset_file, model, deadline },
        dataset_encryption,
        model_encryption,
        share_log: false,
    })
}

/// A [`Plan`] as persisted with its job: for a private input, also its encryption header,
/// whose content key is wrapped for this provider and unwrapped only by the worker while it
/// fetches the input (the plaintext exists only in the job's folder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredPlan {
    /// The plan.
    #[serde(flatten)]
    pub plan: Plan,
    /// The dataset's encryption, when it is private.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_encryption: Option<Encryption>,
    /// The model manifest's (or algorithm module's) encryption, when it is private.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_encryption: Option<Encryption>,
    /// Whether an `algorithm` job's log may be returned to its consumer: the dataset is not
    /// compute-only, or its owner allows logs (see [`crate::algorithm`]).
    #[serde(default)]
    pub share_log: bool,
}

/// `keccak256(abi.encode(string[] cids))`.
pub fn inputs_hash(cids: &[String]) -> B256 {
    keccak256(cids.to_vec().abi_encode())
}

/// Why a job is refused; each maps to one HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobRefusal {
    /// This provider does not run jobs.
    #[error("compute jobs are not enabled on this provider")]
    Disabled,
    /// The market never opened this job.
    #[error("unknown job {0}")]
    UnknownJob(U256),
    /// The signer is not the job's consumer.
    #[error("the job does not belong to the signer")]
    NotConsumer,
    /// The job is for another provider.
    #[error("job {0} is for another provider")]
    OtherProvider(U256),
    /// The job has a result, was refunded or is disputed.
    #[error("job {job} is not open (status {status})")]
    NotOpen {
        /// The job.
        job: U256,
        /// Its `JobStatus`.
        status: u8,
    },
    /// Nothing is escrowed for the job.
    #[error("job {0} was never funded: its escrow holds no payment")]
    NotFunded(U256),
    /// The result deadline has passed.
    #[error("job {job}'s deadline {deadline} has passed")]
    DeadlinePassed {
        /// The job.
        job: U256,
        /// Its deadline.
        deadline: u64,
    },
    /// The dataset owner's policy does not allow the algorithm.
    #[error("the dataset's owner does not allow algorithm {algorithm} on dataset {dataset}")]
    AlgorithmNotAllowed {
        /// The dataset.
        dataset: U256,
        /// The algorithm.
        algorithm: U256,
    },
    /// An input is private and its content key is not wrapped for this provider.
    #[error(
        "asset {asset} is encrypted and this provider holds no key for it; its key is held by {}",
        holders.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    NoKey {
        /// The input.
        asset: U256,
        /// Who holds its key.
        holders: Vec<Address>,
    },
    /// This provider already took the job.
    #[error("job {0} was already submitted")]
    AlreadySubmitted(U256),
    /// The spec document or an input's metadata is unusable.
    #[error("the job spec is invalid: {0}")]
    BadSpec(String),
    /// The job ended (or is ending) and can no longer be cancelled.
    #[error("job {job} can no longer be cancelled: it is {status}")]
    NotCancellable {
        /// The job.
        job: U256,
        /// Its status here.
        status: String,
    },
    /// The job is a built-in kind: only `algorithm` jobs have a log.
    #[error("job {job} is a built-in `{kind}` job; only algorithm jobs have a log")]
    NoLog {
        /// The job.
        job: U256,
        /// Its kind.
        kind: &'static str,
    },
    /// The job's log is withheld from its consumer.
    #[error(
        "the log of job {0} is withheld: its dataset is compute-only and its owner does not allow algorithm logs (`algorithmLogs` in the dataset's metadata)"
    )]
    LogWithheld(U256),
    /// The job has no result (yet).
    #[error("job {job} has no result: it is {status}")]
    NoResult {
        /// The job.
        job: U256,
        /// Its status here.
        status: String,
    },
}

impl JobRefusal {
    /// Whether the refusal is about the job itself (its inputs, spec or policy), so that it can
    /// never run here, as opposed to this request (a reused nonce, a job already taken).
    pub fn never_runs(&self) -> bool {
        matches!(self, Self::AlgorithmNotAllowed { .. } | Self::NoKey { .. } | Self::BadSpec(_))
    }
}

/// Checks the on-chain job against the signer, this provider and the chain's time `now`.
pub fn check_job(
    job_id: U256,
    job: &IComputeMarket::Job,
    signer: Address,
    provider: Address,
    now: u64,
) -> Result<(), JobRefusal> {
    if job.consumer != signer {
        return Err(JobRefusal::NotConsumer);
    }
    if job.provider != provider {
        return Err(JobRefusal::OtherProvider(job_id));
    }
    if job.status != OPEN {
        return Err(JobRefusal::NotOpen { job: job_id, status: job.status });
    }
    if job.payment.is_zero() {
        return Err(JobRefusal::NotFunded(job_id));
    }
    if now > job.deadline {
        return Err(JobRefusal::DeadlinePassed { job: job_id, deadline: job.deadline });
    }
    Ok(())
}

/// Where a job is at this provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Admitted, waiting for a worker.
    Queued,
    /// A worker has it.
    Running,
    /// The result is on IPFS and posted on chain.
    Succeeded,
    /// It failed; see the reason.
    Failed,
    /// The consumer cancelled it.
    Cancelled,
}

impl JobStatus {
    /// Its name in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses [`JobStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Queued, Self::Running, Self::Succeeded, Self::Failed, Self::Cancelled]
            .into_iter()
            .find(|status| status.as_str() == s)
    }
}

/// A signed receipt as served by `GET /v1/jobs/{id}/result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedReceipt {
    /// The signed struct.
    pub receipt: JobReceipt,
    /// The input CIDs `inputsHash` covers, in order.
    pub input_cids: Vec<String>,
    /// The CPU features the output bits depend on (not signed: informational).
    pub cpu_features: String,
    /// 65-byte signature over the receipt's EIP-712 hash, by the provider.
    pub signature: Bytes,
}

impl SignedReceipt {
    /// Signs `receipt` for `domain`.
    pub fn sign(
        receipt: JobReceipt,
        input_cids: Vec<String>,
        cpu_features: String,
        domain: &Eip712Domain,
        signer: &alloy::signers::local::PrivateKeySigner,
    ) -> Result<Self, alloy::signers::Error> {
        use alloy::signers::SignerSync;
        let signature = signer.sign_hash_sync(&receipt.eip712_signing_hash(domain))?;
        Ok(Self { receipt, input_cids, cpu_features, signature: signature.as_bytes().to_vec().into() })
    }

    /// The address that signed the receipt, if the input CIDs match its hash.
    pub fn signer(&self, domain: &Eip712Domain) -> Option<Address> {
        if inputs_hash(&self.input_cids) != self.receipt.inputsHash {
            return None;
        }
        let signature = Signature::try_from(self.signature.as_ref()).ok()?;
        signature.recover_address_from_prehash(&self.receipt.eip712_signing_hash(domain)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::signers::local::PrivateKeySigner;

    fn job(consumer: Address, provider: Address) -> IComputeMarket::Job {
        IComputeMarket::Job {
            consumer,
            provider,
            deadline: 100,
            status: OPEN,
            payment: alloy::primitives::aliases::U96::from(5),
            ..Default::default()
        }
    }

    #[test]
    fn jobs_are_checked_for_consumer_provider_status_escrow_and_deadline() {
        let (me, them, id) = (Address::repeat_byte(1), Address::repeat_byte(2), U256::from(3));
        let open = job(them, me);
        assert_eq!(check_job(id, &open, them, me, 100), Ok(()));
        assert_eq!(check_job(id, &open, me, me, 1), Err(JobRefusal::NotConsumer));
        assert_eq!(check_job(id, &open, them, them, 1), Err(JobRefusal::OtherProvider(id)));
        let posted = IComputeMarket::Job { status: 2, ..open.clone() };
        assert_eq!(check_job(id, &posted, them, me, 1), Err(JobRefusal::NotOpen { job: id, status: 2 }));
        let unfunded = IComputeMarket::Job { payment: Default::default(), ..open.clone() };
        assert_eq!(check_job(id, &unfunded, them, me, 1), Err(JobRefusal::NotFunded(id)));
        assert_eq!(
            check_job(id, &open, them, me, 101),
            Err(JobRefusal::DeadlinePassed { job: id, deadline: 100 })
        );
    }

    #[test]
    fn spec_documents_are_versioned_runtime_specs() {
        let doc = SpecDocument::parse(br#"{"version":1,"job":{"kind":"embed","batch_size":8}}"#).unwrap();
        assert!(doc.needs_model());
        assert!(!SpecDocument::parse(br#"{"version":1,"job":{"kind":"train"}}"#).unwrap().needs_model());
        for bad in
            [&br#"{"version":2,"job":{"kind":"embed"}}"#[..], br#"{"version":1,"job":{"kind":"x"}}"#, b"[]"]
        {
            assert!(matches!(SpecDocument::parse(bad), Err(JobRefusal::BadSpec(_))));
        }
        let manifest = r#"{"files":[{"name":"../x","cid":"b","sha256":"0x0000000000000000000000000000000000000000000000000000000000000000"}]}"#;
        assert!(ModelManifest::parse(manifest.as_bytes()).is_err());
    }

    #[test]
    fn a_stored_plan_keeps_the_encryption_beside_the_plan_fields() {
        let plan = Plan {
            spec: JobSpec::Train(Default::default()),
            dataset: InputRef { cid: "bafy-data".into(), sha256: B256::repeat_byte(1) },
            dataset_file: "table.csv".into(),
            model: None,
            deadline: 9,
        };
        let stored = StoredPlan {
            plan: plan.clone(),
            dataset_encryption: Some(Encryption::new(10)),
            model_encryption: None,
            share_log: true,
        };
        let json = serde_json::to_string(&stored).unwrap();
        assert_eq!(serde_json::from_str::<StoredPlan>(&json).unwrap(), stored);
        assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), plan, "a plain Plan reads a stored one");
        let public = serde_json::to_string(&plan).unwrap();
        let loaded = serde_json::from_str::<StoredPlan>(&public).unwrap();
        assert_eq!(loaded.dataset_encryption, None, "a public plan stores no encryption");
        assert!(!loaded.share_log, "a plan stored before logs existed withholds them");
    }

    #[test]
    fn receipts_recover_to_the_provider_only_with_their_input_cids() {
        let provider = PrivateKeySigner::random();
        let domain = crate::access::domain(31337, provider.address());
        let cids = vec!["bafy-data".to_owned(), "bafy-model".to_owned()];
        let receipt = JobReceipt {
            jobId: U256::from(1),
            inputsHash: inputs_hash(&cids),
            modelCid: cids[1].clone(),
            outputCid: "bafy-out".into(),
            outputHash: B256::repeat_byte(9),
            runtimeVersion: "agora-runtime 0.1.0".into(),
            device: "cpu".into(),
        };
        let signed = SignedReceipt::sign(receipt, cids, "x86_64".into(), &domain, &provider).unwrap();
        assert_eq!(signed.signer(&domain), Some(provider.address()));
        let mut lying = signed.clone();
        lying.input_cids.reverse();
        assert_eq!(lying.signer(&domain), None);
        let mut tampered = signed;
        tampered.receipt.outputCid = "bafy-other".into();
        assert_ne!(tampered.signer(&domain), Some(provider.address()));
    }

    #[test]
    fn the_request_signer_recovers_for_this_domain() {
        let consumer = PrivateKeySigner::random();
        let domain = crate::access::domain(31337, Address::repeat_byte(7));
        let message = JobRequest { jobId: U256::from(4), nonce: U256::from(1), expiry: 10 };
        let signed = SignedJobRequest::sign(&message, &domain, &consumer).unwrap();
        assert_eq!(signed.signer(&domain).unwrap(), consumer.address());
        assert_ne!(
            signed.signer(&crate::access::domain(1, Address::repeat_byte(7))).unwrap(),
            consumer.address()
        );
        assert_eq!(JobStatus::parse("running"), Some(JobStatus::Running));
    }
}
