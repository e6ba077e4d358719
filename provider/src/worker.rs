//! The compute-job service: a bounded pool of workers that run admitted jobs with
//! `agora-runtime` (built-in kinds) or `agora-sandbox` (`algorithm` jobs, [`crate::algorithm`]).
//! For each job a worker fetches the inputs from IPFS into a per-job folder
//! (every byte checked against its digest), runs the job off the async runtime, adds the
//! output folder to IPFS, posts the result on chain and signs a receipt. Inputs are fetched
//! by the worker rather than at admission so a request never waits on a large model, and a
//! cached model is not fetched again.
//!
//! Job state lives in SQLite: a job moves queued → running exactly once (a conditional
//! update), and at startup jobs left running are marked failed while queued ones resume.
//! A finalizer collects the payment of each posted result once its challenge window closed.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use agora_contracts::{ComputeMarket, tx};
use agora_runtime::{EmbeddingModel, Inputs, JobSpec, Progress, Runtime, RuntimeError, Summary};
use agora_sandbox::Sandbox;
use alloy::providers::Provider;
use alloy::{
    primitives::{Address, B256, U256},
    providers::DynProvider,
    signers::local::PrivateKeySigner,
    sol_types::Eip712Domain,
};
use futures::StreamExt;
use tokio::{
    io::AsyncWriteExt,
    sync::{Semaphore, mpsc, watch},
    task::JoinHandle,
};

use crate::{
    algorithm::{self, AlgorithmRun},
    chain::job_status::{DISPUTED, OPEN, REFUNDED, RESULT_POSTED, RULED_AGAINST_PROVIDER},
    crypto::{ContentKey, Encryption},
    db::{DbError, JobRow, Store},
    jobs::{InputRef, JobReceipt, MAX_DOCUMENT_BYTES, ModelManifest, SignedReceipt, StoredPlan, inputs_hash},
    storage::{ByteStream, Storage, StorageError, sha256, verify_digest},
};

/// How jobs run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsConfig {
    /// Jobs running at once.
    pub workers: usize,
    /// Wall-clock limit of one job's computation.
    pub time_limit: Duration,
    /// Where per-job folders are made (and removed when the job ends).
    pub work_dir: PathBuf,
    /// Loaded embedding models kept in memory, keyed by manifest CID.
    pub model_cache: usize,
    /// How often posted results are checked for a closed challenge window.
    pub finalize_every: Duration,
    /// What one job may read and allocate (its time limit is `time_limit`).
    pub limits: agora_runtime::Limits,
    /// What one `algorithm` job may use (its wall time is also capped by `time_limit`).
    pub algorithm_limits: agora_sandbox::Limits,
}

/// Why a job failed; the message is what the consumer reads.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JobFailure {
    #[error("the job's stored plan is unreadable: {0}")]
    Plan(String),
    #[error("the job's deadline {0} passed before it ran")]
    DeadlinePassed(u64),
    #[error("the job is no longer open on chain: its consumer was refunded")]
    Refunded,
    #[error(
        "after a restart the job ran again and gave output hash {rerun}, but {posted} was posted before the restart"
    )]
    RerunDiffers { posted: B256, rerun: B256 },
    #[error("fetching input {cid}: {source}")]
    Fetch {
        cid: String,
        #[source]
        source: StorageError,
    },
    #[error("the model manifest {0} is invalid: {1}")]
    Manifest(String, String),
    #[error("decrypting input {cid}: {reason}")]
    Decrypt { cid: String, reason: String },
    #[error("the job needs a model, but its algorithm asset has none")]
    NoModel,
    #[error("{0}")]
    Runtime(#[from] RuntimeError),
    #[error("{0}")]
    Algorithm(String),
    #[error("adding the result to IPFS: {0}")]
    Publish(StorageError),
    #[error("posting the result on chain: {0}")]
    Post(String),
    #[error("local file system: {0}")]
    Io(#[from] std::io::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The job service shared by the HTTP handlers and the workers.
pub struct Jobs {
    config: JobsConfig,
    signer: PrivateKeySigner,
    domain: Eip712Domain,
    market: ComputeMarket::ComputeMarketInstance<DynProvider>,
    storage: Storage,
    store: Store,
    queue: mpsc::UnboundedSender<U256>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<U256>>>,
    progress: Arc<Mutex<HashMap<U256, Progress>>>,
    models: Mutex<HashMap<String, Arc<EmbeddingModel>>>,
    /// Made at the first algorithm job; it keeps the last modules compiled.
    sandbox: Mutex<Option<Arc<Sandbox>>>,
    cancels: Mutex<HashMap<U256, Arc<AtomicBool>>>,
    /// Bumped on every status or progress change, so event streams wake instead of polling.
    changes: Arc<watch::Sender<u64>>,
}

/// What a cancellation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// The job was queued and will never run.
    Now,
    /// The job is running; it stops at its next batch or epoch (unless it is already
    /// publishing its result).
    Stopping,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Jobs {
    /// The service of the provider `signer`, posting results through `market_provider` (which
    /// signs with the same key) to the market at `market`.
    pub fn new(
        config: JobsConfig,
        signer: PrivateKeySigner,
        chain_id: u64,
        market: Address,
        market_provider: DynProvider,
        storage: Storage,
        store: Store,
    ) -> Arc<Self> {
        let (queue, receiver) = mpsc::unbounded_channel();
        Arc::new(Self {
            domain: crate::access::domain(chain_id, signer.address()),
            config,
            signer,
            market: ComputeMarket::new(market, market_provider),
            storage,
            store,
            queue,
            receiver: Mutex::new(Some(receiver)),
            progress: Arc::default(),
            models: Mutex::default(),
            sandbox: Mutex::default(),
            cancels: Mutex::default(),
            changes: Arc::new(watch::channel(0).0),
        })
    }

    /// Recovers the persisted queue and starts the pool and the finalizer; abort the handle
    /// to stop both.
    pub async fn start(self: &Arc<Self>) -> Result<JoinHandle<()>, DbError> {
        let recovered = self.store.recover_jobs(now()).await?;
        for job_id in recovered.queued {
            let _ = self.queue.send(job_id);
        }
        for job_id in recovered.failed {
            tracing::warn!(%job_id, "job interrupted by provider restarts twice: failed");
            self.decline(job_id).await;
        }
        let receiver = lock(&self.receiver).take();
        let jobs = self.clone();
        Ok(tokio::spawn(async move {
            tokio::join!(jobs.dispatch(receiver), jobs.finalizer());
        }))
    }

    /// Hands queued jobs to at most `workers` tasks at a time.
    async fn dispatch(self: &Arc<Self>, receiver: Option<mpsc::UnboundedReceiver<U256>>) {
        let Some(mut receiver) = receiver else { return };
        let slots = Arc::new(Semaphore::new(self.config.workers.max(1)));
        while let Some(job_id) = receiver.recv().await {
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            let jobs = self.clone();
            tokio::spawn(async move {
                jobs.run(job_id).await;
                drop(slot);
            });
        }
    }

    /// Every `finalize_every`, finalizes the posted results whose challenge window closed.
    async fn finalizer(&self) {
        let mut every = tokio::time::interval(self.config.finalize_every);
        loop {
            every.tick().await;
            if let Err(err) = self.finalize_due().await {
                tracing::warn!(error = %err, "finalizing results failed");
            }
        }
    }

    async fn finalize_due(&self) -> Result<(), String> {
        let unsettled = self.store.unsettled_jobs().await.map_err(|err| err.to_string())?;
        if unsettled.is_empty() {
            return Ok(());
        }
        let block = self.market.provider().get_block_by_number(Default::default()).await;
        let chain_now = block.map_err(|err| err.to_string())?.map(|b| b.header.timestamp).unwrap_or_default();
        for job_id in unsettled {
            let job = tx::call("getJob", self.market.getJob(job_id)).await.map_err(|err| err.to_string())?;
            match job.status {
                RESULT_POSTED if chain_now > job.challengeEnd => {
                    tx::send("finalize", self.market.finalize(job_id))
                        .await
                        .map_err(|err| err.to_string())?;
                    tracing::info!(%job_id, "job finalized: payment collected");
                }
                // Still open to dispute, or disputed: the DAO's ruling settles it.
                RESULT_POSTED | DISPUTED => continue,
                _ => {}
            }
            self.store.mark_settled(job_id, now()).await.map_err(|err| err.to_string())?;
        }
        Ok(())
    }

    /// Records an admitted job and queues it; `false` when it was submitted before.
    pub async fn submit(&self, job_id: U256, consumer: Address, plan: &StoredPlan) -> Result<bool, DbError> {
        let plan = serde_json::to_string(plan).map_err(|err| DbError::Encode(err.to_string()))?;
        let inserted = self.store.insert_job(job_id, consumer, &plan, now()).await?;
        if inserted {
            let _ = self.queue.send(job_id);
        }
        Ok(inserted)
    }

    /// The stored job and, while it runs, its latest progress.
    pub async fn status(&self, job_id: U256) -> Result<Option<(JobRow, Option<Progress>)>, DbError> {
        let Some(row) = self.store.job(job_id).await? else { return Ok(None) };
        let progress = lock(&self.progress).get(&job_id).copied();
        Ok(Some((row, progress)))
    }

    /// Declines open job `job_id` on chain, refunding its consumer at once: for a job this
    /// provider will never run. Whether it worked is logged; a job that is no longer open (a
    /// result was posted, or it was refunded) stays as it is.
    pub async fn decline(&self, job_id: U256) -> bool {
        match tx::send("declineJob", self.market.declineJob(job_id)).await {
            Ok(_) => {
                tracing::info!(%job_id, "job declined on chain: its consumer is refunded");
                true
            }
            Err(err) => {
                tracing::warn!(%job_id, error = %err, "declining the job on chain failed");
                false
            }
        }
    }

    /// What one `algorithm` job may use here (its wall time capped by the job time limit).
    pub fn algorithm_limits(&self) -> &agora_sandbox::Limits {
        &self.config.algorithm_limits
    }

    /// What one built-in job may read and allocate here (its time limit aside).
    pub fn limits(&self) -> &agora_runtime::Limits {
        &self.config.limits
    }

    /// A receiver that changes whenever any job's status or progress does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn notify(&self) {
        self.changes.send_modify(|version| *version = version.wrapping_add(1));
    }

    /// Cancels a queued or running job; `None` when it already ended.
    pub async fn cancel(&self, job_id: U256) -> Result<Option<Cancelled>, DbError> {
        if self.store.cancel_queued_job(job_id, now()).await? {
            self.notify();
            return Ok(Some(Cancelled::Now));
        }
        Ok(lock(&self.cancels).get(&job_id).map(|flag| {
            flag.store(true, Ordering::Relaxed);
            Cancelled::Stopping
        }))
    }

    async fn run(self: Arc<Self>, job_id: U256) {
        match self.store.start_job(job_id, now()).await {
            Ok(true) => self.notify(),
            Ok(false) => return,
            Err(err) => {
                tracing::error!(%job_id, error = %err, "could not start a job");
                return;
            }
        }
        let dir = self.config.work_dir.join(job_id.to_string());
        let cancel = Arc::new(AtomicBool::new(false));
        lock(&self.cancels).insert(job_id, cancel.clone());
        let result = self.execute(job_id, &dir, cancel).await;
        lock(&self.cancels).remove(&job_id);
        if let Err(err) = tokio::fs::remove_dir_all(&dir).await
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%job_id, error = %err, "could not remove a job's folder");
        }
        let stored = match result {
            Ok(receipt) => {
                tracing::info!(%job_id, output = %receipt.receipt.outputCid, "job succeeded");
                match serde_json::to_string(&receipt) {
                    Ok(json) => {
                        self.store
                            .succeed_job(
                                job_id,
                                &receipt.receipt.outputCid,
                                receipt.receipt.outputHash,
                                &json,
                                now(),
                            )
                            .await
                    }
                    Err(err) => {
                        self.store.fail_job(job_id, &format!("encoding the receipt: {err}"), now()).await
                    }
                }
            }
            Err(JobFailure::Runtime(RuntimeError::Cancelled)) => {
                tracing::info!(%job_id, "job cancelled");
                self.store.cancel_running_job(job_id, now()).await
            }
            Err(failure) => {
                tracing::warn!(%job_id, reason = %failure, "job failed");
                let mut reason = without_paths(&failure.to_string(), &dir, &self.config.work_dir);
                // No result will come: the consumer gets the payment back now, not at the deadline.
                if !matches!(failure, JobFailure::Refunded) && self.decline(job_id).await {
                    reason.push_str("; the job was declined on chain and its payment refunded");
                }
                self.store.fail_job(job_id, &reason, now()).await
            }
        };
        if let Err(err) = stored {
            tracing::error!(%job_id, error = %err, "could not record a job's end");
        }
        // Dropped only now, so a reader never sees a running job lose its progress.
        lock(&self.progress).remove(&job_id);
        self.notify();
    }

    async fn execute(
        self: &Arc<Self>,
        job_id: U256,
        dir: &Path,
        cancel: Arc<AtomicBool>,
    ) -> Result<SignedReceipt, JobFailure> {
        let row = self.store.job(job_id).await.map_err(|err| JobFailure::Internal(err.to_string()))?;
        let row = row.ok_or_else(|| JobFailure::Internal("the job vanished".into()))?;
        let stored: StoredPlan =
            serde_json::from_str(&row.plan).map_err(|err| JobFailure::Plan(err.to_string()))?;
        let plan = stored.plan;
        if now() > plan.deadline {
            return Err(JobFailure::DeadlinePassed(plan.deadline));
        }
        // A job a restart interrupted may have posted its result already (the output hash is
        // then on chain and is not posted again), or been refunded since (then it does not run).
        let on_chain = tx::call("getJob", self.market.getJob(job_id))
            .await
            .map_err(|err| JobFailure::Internal(format!("reading the job on chain: {err}")))?;
        let posted = match on_chain.status {
            OPEN => None,
            REFUNDED | RULED_AGAINST_PROVIDER => return Err(JobFailure::Refunded),
            _ => Some(on_chain.outputHash),
        };
        // A folder left by a crash belongs to this job's interrupted run; start clean.
        if tokio::fs::try_exists(dir).await? {
            tokio::fs::remove_dir_all(dir).await?;
        }
        let inputs_dir = dir.join("inputs");
        tokio::fs::create_dir_all(&inputs_dir).await?;
        let dataset = inputs_dir.join(&plan.dataset_file);
        match &stored.dataset_encryption {
            None => fetch_input(&self.storage, &plan.dataset, &dataset).await?,
            Some(encryption) => {
                let key = content_key(encryption, &self.signer, &plan.dataset.cid)?;
                fetch_sealed(&self.storage, &plan.dataset, encryption, &key, &dataset).await?;
            }
        }
        let model_key = match (&stored.model_encryption, &plan.model) {
            (Some(encryption), Some(model)) => {
                Some((encryption, content_key(encryption, &self.signer, &model.cid)?))
            }
            _ => None,
        };
        let sealed_model = model_key.as_ref().map(|(encryption, key)| (*encryption, key));

        let limits = agora_runtime::Limits {
            max_duration: Some(self.config.time_limit),
            ..self.config.limits.clone()
        };
        let runtime = Runtime::new(limits).with_cancel_flag(cancel.clone());
        let out = dir.join("out");
        let sink = {
            let (progress, changes) = (self.progress.clone(), self.changes.clone());
            move |p: Progress| {
                lock(&progress).insert(job_id, p);
                changes.send_modify(|version| *version = version.wrapping_add(1));
            }
        };
        let model_dir = inputs_dir.join("model");
        let outcome = match (&plan.spec, &plan.model) {
            (JobSpec::Algorithm(spec), Some(module)) => {
                let run = AlgorithmRun {
                    module: algorithm::fetch_module(&self.storage, module, sealed_model, &inputs_dir).await?,
                    dataset,
                    spec: spec.clone(),
                    seed: algorithm::seed(job_id),
                    out: out.clone(),
                    share_log: stored.share_log,
                };
                let ran = run.run(self.sandbox()?, Some(cancel)).await?;
                if let (Some(log), Summary::Algorithm { log_truncated, .. }) =
                    (&ran.log, &ran.outcome.summary)
                {
                    self.store
                        .record_log(job_id, log, *log_truncated)
                        .await
                        .map_err(|err| JobFailure::Internal(err.to_string()))?;
                }
                ran.outcome
            }
            (JobSpec::Embed(spec), Some(model)) => {
                let loaded = self.embedding_model(model, sealed_model, &model_dir, &runtime).await?;
                let (spec, out) = (spec.clone(), out.clone());
                let inputs = Inputs { dataset, model: None };
                blocking(move || runtime.embed_with_model(&loaded, &spec, &inputs, &out, sink)).await?
            }
            (JobSpec::Embed(_) | JobSpec::Predict(_) | JobSpec::Algorithm(_), None) => {
                return Err(JobFailure::NoModel);
            }
            (spec, model) => {
                let model = match model {
                    Some(model) => {
                        fetch_model(&self.storage, model, sealed_model, &model_dir).await?;
                        Some(model_dir)
                    }
                    None => None,
                };
                let (spec, out) = (spec.clone(), out.clone());
                let inputs = Inputs { dataset, model };
                blocking(move || runtime.run(&spec, &inputs, &out, sink)).await?
            }
        };

        let output_cid = self.storage.add_dir(&out).await.map_err(JobFailure::Publish)?;
        let output_hash: B256 = format!("0x{}", outcome.run.output_hash)
            .parse()
            .map_err(|_| JobFailure::Internal("the runtime's output hash is not 32 bytes of hex".into()))?;
        match posted {
            None => {
                tx::send("postResult", self.market.postResult(job_id, output_cid.clone(), output_hash))
                    .await
                    .map_err(|err| JobFailure::Post(err.to_string()))?;
            }
            Some(posted) if posted == output_hash => {
                tracing::info!(%job_id, "result posted before the restart: the re-run matches it, not posted again");
            }
            Some(posted) => return Err(JobFailure::RerunDiffers { posted, rerun: output_hash }),
        }

        let input_cids = plan.input_cids();
        let receipt = JobReceipt {
            jobId: job_id,
            inputsHash: inputs_hash(&input_cids),
            modelCid: plan.model.as_ref().map(|m| m.cid.clone()).unwrap_or_default(),
            outputCid: output_cid,
            outputHash: output_hash,
            runtimeVersion: outcome.run.runtime_version,
            device: outcome.run.device,
        };
        SignedReceipt::sign(receipt, input_cids, outcome.run.cpu_features, &self.domain, &self.signer)
            .map_err(|err| JobFailure::Internal(format!("signing the receipt: {err}")))
    }

    /// The sandbox algorithm jobs run in, made at the first one.
    fn sandbox(&self) -> Result<Arc<Sandbox>, JobFailure> {
        let mut sandbox = lock(&self.sandbox);
        if let Some(sandbox) = sandbox.as_ref() {
            return Ok(sandbox.clone());
        }
        let limits = algorithm::limits(&self.config.algorithm_limits, self.config.time_limit);
        let made = Arc::new(Sandbox::new(limits).map_err(|err| JobFailure::Algorithm(err.to_string()))?);
        *sandbox = Some(made.clone());
        Ok(made)
    }

    /// The embedding model of manifest `model`, from the cache or fetched and loaded.
    async fn embedding_model(
        &self,
        model: &InputRef,
        sealed: Option<(&Encryption, &ContentKey)>,
        dir: &Path,
        runtime: &Runtime,
    ) -> Result<Arc<EmbeddingModel>, JobFailure> {
        if let Some(cached) = lock(&self.models).get(&model.cid) {
            return Ok(cached.clone());
        }
        fetch_model(&self.storage, model, sealed, dir).await?;
        let device = runtime.device()?;
        let (limits, dir) = (runtime.limits().clone(), dir.to_owned());
        let loaded = Arc::new(blocking(move || EmbeddingModel::load(&dir, &device, &limits)).await?);
        if self.config.model_cache > 0 {
            let mut models = lock(&self.models);
            if models.len() >= self.config.model_cache
                && let Some(evicted) = models.keys().next().cloned()
            {
                models.remove(&evicted);
            }
            models.insert(model.cid.clone(), loaded.clone());
        }
        Ok(loaded)
    }
}

/// The content key of a private input, unwrapped with `signer`'s key.
pub(crate) fn content_key(
    encryption: &Encryption,
    signer: &PrivateKeySigner,
    cid: &str,
) -> Result<ContentKey, JobFailure> {
    encryption
        .content_key_for(signer)
        .map_err(|err| JobFailure::Decrypt { cid: cid.to_owned(), reason: err.to_string() })
}

/// Streams the sealed `input` into `path`, decrypted with `key`; the file is complete only if
/// every chunk authenticated and the plaintext's sha-256 matched.
pub(crate) async fn fetch_sealed(
    storage: &Storage,
    input: &InputRef,
    encryption: &Encryption,
    key: &ContentKey,
    path: &Path,
) -> Result<(), JobFailure> {
    let mut stream = verify_digest(unseal(storage, input, encryption, key)?, input.cid.clone(), input.sha256);
    let mut file = tokio::fs::File::create(path).await?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|source| JobFailure::Fetch { cid: input.cid.clone(), source })?;
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    Ok(())
}

/// The plaintext of the sealed `input`, as it is decrypted from IPFS.
fn unseal(
    storage: &Storage,
    input: &InputRef,
    encryption: &Encryption,
    key: &ContentKey,
) -> Result<ByteStream, JobFailure> {
    let ciphertext = storage.cat(&input.cid, None);
    encryption
        .decrypting_stream(key, ciphertext, 0, 0, encryption.plaintext_size)
        .map_err(|err| JobFailure::Decrypt { cid: input.cid.clone(), reason: err.to_string() })
}

/// Streams `input` into `path`; the file is complete only if its sha-256 matched.
pub(crate) async fn fetch_input(storage: &Storage, input: &InputRef, path: &Path) -> Result<(), JobFailure> {
    let fetch_err = |source| JobFailure::Fetch { cid: input.cid.clone(), source };
    let mut stream = storage.cat_verified(&input.cid, input.sha256);
    let mut file = tokio::fs::File::create(path).await?;
    while let Some(chunk) = stream.next().await {
        file.write_all(&chunk.map_err(fetch_err)?).await?;
    }
    file.flush().await?;
    Ok(())
}

/// Fetches the manifest at `model` (checked against its digest) and every file it lists
/// (each checked against its own) into `dir`. A private model comes `sealed`, with its
/// manifest's header and content key: the manifest and each file it lists are decrypted with
/// that key, each file under its own header.
pub(crate) async fn fetch_model(
    storage: &Storage,
    model: &InputRef,
    sealed: Option<(&Encryption, &ContentKey)>,
    dir: &Path,
) -> Result<(), JobFailure> {
    let manifest = fetch_manifest(storage, model, sealed).await?;
    tokio::fs::create_dir_all(dir).await?;
    for file in &manifest.files {
        let input = InputRef { cid: file.cid.clone(), sha256: file.sha256 };
        let path = dir.join(&file.name);
        match (&file.encryption, sealed) {
            (None, _) => fetch_input(storage, &input, &path).await?,
            (Some(encryption), Some((_, key))) => {
                fetch_sealed(storage, &input, encryption, key, &path).await?
            }
            (Some(_), None) => unreachable_sealed(&model.cid, &file.name)?,
        }
    }
    Ok(())
}

/// The model manifest at `model` (decrypted when `sealed`), checked against its on-chain digest
/// and parsed: its file names must stay in the model folder, and a sealed file needs a valid
/// header and a private model. What a provider checks before it accepts a job, and what a
/// worker fetches by.
pub(crate) async fn fetch_manifest(
    storage: &Storage,
    model: &InputRef,
    sealed: Option<(&Encryption, &ContentKey)>,
) -> Result<ModelManifest, JobFailure> {
    let fetch_err = |source| JobFailure::Fetch { cid: model.cid.clone(), source };
    let bytes = match sealed {
        None => storage.cat_to_vec(&model.cid, MAX_DOCUMENT_BYTES).await.map_err(fetch_err)?,
        Some((encryption, key)) => {
            if encryption.plaintext_size > MAX_DOCUMENT_BYTES as u64 {
                return Err(JobFailure::Manifest(
                    model.cid.clone(),
                    format!("it is larger than {MAX_DOCUMENT_BYTES} bytes"),
                ));
            }
            crate::storage::collect(unseal(storage, model, encryption, key)?).await.map_err(fetch_err)?
        }
    };
    if sha256(&bytes) != model.sha256 {
        return Err(JobFailure::Manifest(model.cid.clone(), "it does not match the on-chain digest".into()));
    }
    let manifest =
        ModelManifest::parse(&bytes).map_err(|reason| JobFailure::Manifest(model.cid.clone(), reason))?;
    for file in &manifest.files {
        match (&file.encryption, sealed) {
            (Some(encryption), Some(_)) => encryption.validate().map_err(|err| {
                JobFailure::Manifest(model.cid.clone(), format!("file {}: {err}", file.name))
            })?,
            (Some(_), None) => unreachable_sealed(&model.cid, &file.name)?,
            (None, _) => {}
        }
    }
    Ok(manifest)
}

/// A sealed file listed by a public model's manifest: no key can open it.
fn unreachable_sealed(cid: &str, name: &str) -> Result<(), JobFailure> {
    Err(JobFailure::Manifest(
        cid.to_owned(),
        format!("file {name} is sealed, but the model asset is not encrypted"),
    ))
}

/// `reason` without this provider's own folders: the consumer reads it, and where the provider
/// keeps its jobs is none of its business (`/var/agora/jobs/7/inputs/x.csv` reads `inputs/x.csv`).
fn without_paths(reason: &str, job_dir: &Path, work_dir: &Path) -> String {
    let mut reason = reason.to_owned();
    for dir in [job_dir, work_dir] {
        let dir = dir.display().to_string();
        if !dir.is_empty() {
            reason = reason.replace(&format!("{dir}/"), "").replace(&dir, "<job folder>");
        }
    }
    reason
}

/// Runs CPU-bound work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RuntimeError> + Send + 'static,
) -> Result<T, JobFailure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| JobFailure::Internal(format!("the job's thread failed: {err}")))?
        .map_err(JobFailure::from)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
