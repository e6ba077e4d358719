//! Compute jobs against real anvil + Kubo + all-MiniLM-L6-v2: a consumer buys dataset access
//! and opens a job; the provider runs `embed`, puts the result on IPFS, posts it on chain and
//! signs a receipt; re-running the runtime locally gives the same output hash; once the
//! challenge window closes, the provider finalizes the job itself and is paid. Every refusal
//! has its status and message (the dataset owner's algorithm policy included). Also: status and
//! progress as server-sent events, `train` → `predict` chained through a published model asset,
//! and a job over a private dataset that only the provider holding its key can decrypt.

mod common;

use std::{path::PathBuf, time::Duration};

use agora_contracts::{ComputeMarket, compute_market::IComputeMarket, tx};
use agora_provider::{
    Identity,
    crypto::{ContentKey, Encryption},
    jobs::{
        JobRequest, MAX_DOCUMENT_BYTES, ModelFile, ModelManifest, SignedJobRequest, SignedReceipt,
        SpecDocument,
    },
    metadata::AssetMetadata,
    storage::sha256,
    worker::JobsConfig,
};
use agora_runtime::Inputs;
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::{Provider, ext::AnvilApi},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use common::{
    ALGORITHM, BUYER, DATASET, MODEL, OTHER, PROVIDER, PUBLISHER, RunningProvider, Stack, class_of,
    classification_csv, expect_refusal, named_metadata, now, read_events,
};
use eyre::{Result, WrapErr, ensure, eyre};
use serde_json::Value;

/// `IComputeMarket.JobStatus`.
const RESULT_POSTED: u8 = 2;
const FINALIZED: u8 = 4;
const REFUNDED: u8 = 5;
/// What the provider charges per job.
const JOB_PRICE: u128 = 50_000_000_000_000_000;

const SENTENCES: &str = "{\"text\":\"A man is eating food.\"}\n\
{\"text\":\"A man is riding a horse.\"}\n\
{\"text\":\"The new movie is awesome.\"}\n\
{\"text\":\"Two dogs play in the snow.\"}\n";

/// The all-MiniLM-L6-v2 folder; missing, it fails the test (never skips).
fn model_dir() -> PathBuf {
    agora_deploy::services::model::minilm_dir().unwrap_or_else(|missing| panic!("{missing}"))
}

/// A marketplace with a dataset of sentences, MiniLM as a model asset and a staked provider.
struct Market {
    stack: Stack,
    dataset: U256,
    dataset_cid: String,
    model: U256,
}

impl Market {
    async fn start() -> Result<Self> {
        let stack = Stack::start().await?;
        let added = stack.storage.add_bytes(SENTENCES.as_bytes().to_vec()).await?;
        let dataset_cid = added.cid.clone();
        let metadata = named_metadata(&added.cid, added.size, "sentences.jsonl");
        let dataset = publish(&stack, DATASET, added.sha256, &metadata).await?;

        let mut files = Vec::new();
        for name in agora_deploy::services::model::MINILM_FILES {
            let path = model_dir().join(name);
            if path.is_file() {
                let added = stack.storage.add_file(&path, None).await?;
                files.push(ModelFile {
                    name: name.into(),
                    cid: added.cid,
                    sha256: added.sha256,
                    encryption: None,
                });
            }
        }
        let manifest = stack.storage.add_bytes(serde_json::to_vec(&ModelManifest { files })?).await?;
        let metadata = named_metadata(&manifest.cid, manifest.size, "model.json");
        let model = publish(&stack, MODEL, manifest.sha256, &metadata).await?;

        let provider = stack.chain.actor(PROVIDER)?;
        stack.register_provider(&provider, JOB_PRICE).await?;
        Ok(Self { stack, dataset, dataset_cid, model })
    }

    /// `who` buys one dataset access token and opens a job for `provider` with `spec`.
    async fn open_job(&self, who: usize, provider: Address, spec: &Value, deadline: u64) -> Result<U256> {
        self.open_job_on(self.dataset, self.model, who, provider, spec, deadline).await
    }

    /// Adds `content` to IPFS and publishes it as a compute-only dataset named `file_name`.
    async fn publish_dataset(&self, content: &[u8], file_name: &str) -> Result<U256> {
        let added = self.stack.storage.add_bytes(content.to_vec()).await?;
        publish(&self.stack, DATASET, added.sha256, &named_metadata(&added.cid, added.size, file_name)).await
    }

    /// [`Market::open_job`] over any dataset and algorithm/model asset.
    async fn open_job_on(
        &self,
        dataset: U256,
        algorithm: U256,
        who: usize,
        provider: Address,
        spec: &Value,
        deadline: u64,
    ) -> Result<U256> {
        let spec_cid = self.stack.storage.add_bytes(serde_json::to_vec(spec)?).await?.cid;
        let market = &self.stack.chain.agora.compute_market;
        let price = tx::call("getProvider", market.getProvider(provider)).await?.price;
        let params = IComputeMarket::OpenJobParams {
            datasetId: dataset,
            algorithmId: algorithm,
            provider,
            specCid: spec_cid,
            currency: Address::ZERO,
            maxPayment: U256::from(price),
            deadline,
        };
        self.stack.buy_and_open_job(&self.stack.chain.actor(who)?, params).await
    }

    /// A job request from `who`, signed for this provider's domain.
    fn request(&self, who: usize, job: U256, nonce: u64) -> Result<SignedJobRequest> {
        let signer = self.stack.chain.actor(who)?.signer;
        let message = JobRequest { jobId: job, nonce: U256::from(nonce), expiry: now() + 600 };
        Ok(SignedJobRequest::sign(&message, &self.domain(), &signer)?)
    }

    fn domain(&self) -> alloy::sol_types::Eip712Domain {
        agora_provider::access::domain(self.stack.chain.deployment.chain_id, self.stack.provider_address())
    }

    async fn submit(&self, url: &str, request: &SignedJobRequest) -> Result<reqwest::Response> {
        Ok(self.stack.http.post(format!("{url}/v1/jobs")).json(request).send().await?)
    }

    /// The provider serving jobs with `workers` workers, and its job folder (first, so that it
    /// outlives the provider).
    async fn serve(&self, workers: usize) -> Result<(tempfile::TempDir, RunningProvider)> {
        let work = tempfile::tempdir()?;
        let config = JobsConfig {
            workers,
            time_limit: Duration::from_secs(60),
            work_dir: work.path().join("jobs"),
            model_cache: 1,
            finalize_every: Duration::from_millis(200),
            limits: agora_runtime::Limits::default(),
            algorithm_limits: agora_sandbox::Limits::default(),
        };
        let provider = self.stack.serve_jobs(config).await?;
        Ok((work, provider))
    }

    /// A job deadline an hour from the chain's clock.
    async fn in_an_hour(&self) -> Result<u64> {
        Ok(self.chain_time().await? + 3600)
    }

    async fn chain_time(&self) -> Result<u64> {
        let provider = self.stack.chain.actor(0)?.provider;
        let block =
            provider.get_block_by_number(Default::default()).await?.ok_or_else(|| eyre!("no block"))?;
        Ok(block.header.timestamp)
    }

    async fn advance(&self, seconds: u64) -> Result<()> {
        let provider = self.stack.chain.actor(0)?.provider;
        provider.anvil_increase_time(seconds).await?;
        provider.anvil_mine(Some(1), None).await?;
        Ok(())
    }
}

/// Publishes an asset of `kind` (a dataset is compute-only) whose content has `digest`.
async fn publish(stack: &Stack, kind: u8, digest: B256, metadata: &AssetMetadata) -> Result<U256> {
    Ok(stack.publish_kind(kind, digest, metadata, kind == DATASET, 0).await?.0)
}

/// An algorithm asset for `train` jobs (which read no model): a small description document.
async fn publish_trainer(stack: &Stack) -> Result<U256> {
    let recipe = stack.storage.add_bytes(br#"{"runtime":"agora-runtime","kind":"train"}"#.to_vec()).await?;
    publish(stack, ALGORITHM, recipe.sha256, &named_metadata(&recipe.cid, recipe.size, "train.json")).await
}

/// Encrypts `content` with a fresh content key wrapped for the holder of `key` (as a publisher
/// does), adds the ciphertext to IPFS and publishes it as a dataset named `file_name`.
async fn publish_private_dataset(
    stack: &Stack,
    content: &[u8],
    file_name: &str,
    key: &alloy::signers::local::PrivateKeySigner,
) -> Result<(U256, String)> {
    let content_key = ContentKey::generate();
    let mut encryption = Encryption::new(content.len() as u64);
    let public_key = Identity::new(key.clone()).public_key();
    encryption.wrapped_keys.push(content_key.wrap_for(key.address(), &public_key)?);
    let reader = encryption.encrypting_reader(&content_key, std::io::Cursor::new(content.to_vec()))?;
    let added = stack.storage.add_reader(reader, None).await?;
    let mut metadata = named_metadata(&added.cid, content.len() as u64, file_name);
    metadata.content.encryption = Some(encryption);
    Ok((publish(stack, DATASET, sha256(content), &metadata).await?, added.cid))
}

/// Submits `job` as `BUYER` and waits for it to succeed; returns the result JSON.
async fn run_to_success(market: &Market, url: &str, job: U256, nonce: u64) -> Result<Value> {
    let response = market.submit(url, &market.request(BUYER, job, nonce)?).await?;
    ensure!(response.status() == 202, "submit: {} {}", response.status(), response.text().await?);
    let status = wait_for(&market.stack, url, job).await?;
    ensure!(status["status"] == "succeeded", "job {job} ended as {status}");
    Ok(market.stack.http.get(format!("{url}/v1/jobs/{job}/result")).send().await?.json().await?)
}

/// Runs the job of `spec` (a spec document) with agora-runtime here, as a consumer verifies a
/// result; its output hash as posted on chain.
async fn rerun_locally(spec: &Value, inputs: Inputs, out: PathBuf) -> Result<String> {
    let job_spec: agora_runtime::JobSpec = serde_json::from_value(spec["job"].clone())?;
    let rerun =
        tokio::task::spawn_blocking(move || agora_runtime::run(&job_spec, &inputs, &out, |_| {})).await??;
    Ok(format!("0x{}", rerun.run.output_hash))
}

/// Polls `GET /v1/jobs/{id}` until the job leaves queued/running.
async fn wait_for(stack: &Stack, url: &str, job: U256) -> Result<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let status: Value = stack.http.get(format!("{url}/v1/jobs/{job}")).send().await?.json().await?;
        match status["status"].as_str() {
            Some("queued" | "running") if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => return Ok(status),
        }
    }
}

#[tokio::test]
async fn an_embed_job_runs_posts_a_verifiable_result_and_gets_paid() -> Result<()> {
    let market = Market::start().await?;
    let stack = &market.stack;
    let (_work, provider) = market.serve(2).await?;
    let me = stack.provider_address();

    let spec = serde_json::json!({ "version": 1, "job": { "kind": "embed", "batch_size": 2 } });
    let job = market.open_job(BUYER, me, &spec, market.in_an_hour().await?).await?;
    let response = market.submit(&provider.url, &market.request(BUYER, job, 1)?).await?;
    ensure!(response.status() == 202, "submit: {} {}", response.status(), response.text().await?);
    // The same job again, even with a fresh nonce.
    expect_refusal(
        market.submit(&provider.url, &market.request(BUYER, job, 2)?).await?,
        409,
        "already submitted",
    )
    .await?;

    let status = wait_for(stack, &provider.url, job).await?;
    ensure!(status["status"] == "succeeded", "job ended as {status}");
    let result: Value =
        stack.http.get(format!("{}/v1/jobs/{job}/result", provider.url)).send().await?.json().await?;
    let receipt: SignedReceipt = serde_json::from_value(result["receipt"].clone())?;
    assert_eq!(receipt.signer(&market.domain()), Some(me), "the receipt recovers to the provider");
    assert_eq!(receipt.receipt.jobId, job);
    assert_eq!(receipt.input_cids[0], market.dataset_cid);
    assert_eq!(receipt.receipt.device, "cpu");
    let output_cid = receipt.receipt.outputCid.clone();
    assert_eq!(result["resultCid"], output_cid.as_str());

    // On chain: the result and the same output hash.
    let onchain = tx::call("getJob", stack.chain.agora.compute_market.getJob(job)).await?;
    assert_eq!(onchain.status, RESULT_POSTED);
    assert_eq!(onchain.outputHash, receipt.receipt.outputHash);

    // The result folder on IPFS hashes to the posted output hash.
    let fetched = tempfile::tempdir()?;
    for name in ["embeddings.safetensors", "manifest.json"] {
        let bytes = stack.storage.cat_to_vec(&format!("{output_cid}/{name}"), 64 << 20).await?;
        std::fs::write(fetched.path().join(name), bytes)?;
    }
    let (_, ipfs_hash) = agora_runtime::hash_dir(fetched.path())?;
    assert_eq!(format!("0x{ipfs_hash}"), receipt.receipt.outputHash.to_string());

    // Re-execution: the inputs fetched from IPFS by their CIDs, run locally, same hash.
    let inputs = tempfile::tempdir()?;
    let dataset = inputs.path().join("sentences.jsonl");
    std::fs::write(&dataset, stack.storage.cat_to_vec(&receipt.input_cids[0], 1 << 20).await?)?;
    let manifest: ModelManifest =
        serde_json::from_slice(&stack.storage.cat_to_vec(&receipt.receipt.modelCid, 1 << 20).await?)?;
    let model = inputs.path().join("model");
    std::fs::create_dir(&model)?;
    for file in &manifest.files {
        let bytes = stack.storage.cat_to_vec(&file.cid, 512 << 20).await?;
        ensure!(sha256(&bytes) == file.sha256, "{} does not match the manifest", file.name);
        std::fs::write(model.join(&file.name), bytes)?;
    }
    let rerun =
        rerun_locally(&spec, Inputs { dataset, model: Some(model) }, inputs.path().join("out")).await?;
    assert_eq!(rerun, receipt.receipt.outputHash.to_string());

    // Once the challenge window closes the provider finalizes on its own and is paid.
    let chain = stack.chain.actor(0)?.provider;
    let before = chain.get_balance(me).await?;
    let params = tx::call("params", stack.chain.agora.compute_market.params()).await?;
    market.advance(params.challengeWindow + 1).await?;
    let waited = std::time::Instant::now();
    while tx::call("getJob", stack.chain.agora.compute_market.getJob(job)).await?.status != FINALIZED {
        ensure!(waited.elapsed() < Duration::from_secs(20), "the provider did not finalize job {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let filter = Filter::new()
        .address(stack.chain.deployment.contracts.compute_market)
        .event_signature(ComputeMarket::JobFinalized::SIGNATURE_HASH)
        .topic1(B256::from(job))
        .from_block(0);
    let log = chain.get_logs(&filter).await?.into_iter().next().ok_or_else(|| eyre!("no JobFinalized"))?;
    let finalize_tx = log.transaction_hash.ok_or_else(|| eyre!("log without a transaction"))?;
    let event = log.log_decode::<ComputeMarket::JobFinalized>()?.inner.data;
    let tx_receipt =
        chain.get_transaction_receipt(finalize_tx).await?.ok_or_else(|| eyre!("no finalize receipt"))?;
    assert_eq!(tx_receipt.from, me, "the provider sent finalize itself");
    let gas = U256::from(tx_receipt.gas_used) * U256::from(tx_receipt.effective_gas_price);
    let fee = U256::from(JOB_PRICE) * U256::from(onchain.feeBps) / U256::from(10_000);
    assert_eq!(event.providerPayout, U256::from(JOB_PRICE) - fee);
    assert_eq!(chain.get_balance(me).await? + gas - before, U256::from(JOB_PRICE) - fee);
    provider.stop().await
}

/// The crash window between posting a result on chain and recording it: the provider's SQLite
/// still says `running` (as it would after a crash right after `postResult`). The restarted
/// provider runs the job again, finds its result already on chain, checks the re-run matches
/// it, and posts nothing a second time.
#[tokio::test]
async fn a_result_posted_just_before_a_crash_is_checked_not_posted_again_after_the_restart() -> Result<()> {
    let market = Market::start().await?;
    let stack = &market.stack;
    let me = stack.provider_address();
    let spec = serde_json::json!({ "version": 1, "job": { "kind": "embed", "batch_size": 2 } });
    let job = market.open_job(BUYER, me, &spec, market.in_an_hour().await?).await?;
    let (_work, provider) = market.serve(1).await?;
    let first = run_to_success(&market, &provider.url, job, 1).await?;
    provider.stop().await?;

    let database = stack.db_dir.path().join("provider.sqlite");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", database.display())).await?;
    let rewound = sqlx::query(
        "UPDATE jobs SET status = 'running', result_cid = NULL, output_hash = NULL, receipt = NULL \
         WHERE job_id = ?",
    )
    .bind(job.to_string())
    .execute(&pool)
    .await?;
    ensure!(rewound.rows_affected() == 1, "the job's record");
    pool.close().await;

    let (_work, provider) = market.serve(1).await?;
    let status = wait_for(stack, &provider.url, job).await?;
    ensure!(status["status"] == "succeeded", "after the restart: {status}");
    let again: Value =
        stack.http.get(format!("{}/v1/jobs/{job}/result", provider.url)).send().await?.json().await?;
    let first: SignedReceipt = serde_json::from_value(first["receipt"].clone())?;
    let again: SignedReceipt = serde_json::from_value(again["receipt"].clone())?;
    ensure!(again.receipt.outputHash == first.receipt.outputHash, "the re-run matches what is on chain");
    let market_contract = &stack.chain.agora.compute_market;
    let posted = market_contract.ResultPosted_filter().topic1(job).from_block(0).query().await?;
    ensure!(posted.len() == 1, "ResultPosted {} times", posted.len());
    let onchain = tx::call("getJob", market_contract.getJob(job)).await?;
    ensure!(onchain.status == RESULT_POSTED, "{}", onchain.status);
    provider.stop().await
}

#[tokio::test]
async fn jobs_that_are_not_ours_unpaid_late_or_badly_signed_are_refused() -> Result<()> {
    let market = Market::start().await?;
    let stack = &market.stack;
    let (_work, provider) = market.serve(2).await?;
    let (url, me) = (provider.url.clone(), stack.provider_address());
    let spec = serde_json::json!({ "version": 1, "job": { "kind": "embed" } });
    let far = market.in_an_hour().await?;

    expect_refusal(
        market.submit(&url, &market.request(BUYER, U256::from(999), 1)?).await?,
        404,
        "unknown job 999",
    )
    .await?;

    // A job for another provider.
    let other = stack.chain.actor(OTHER)?;
    stack.register_provider(&other, JOB_PRICE).await?;
    let elsewhere = market.open_job(BUYER, other.address, &spec, far).await?;
    expect_refusal(
        market.submit(&url, &market.request(BUYER, elsewhere, 2)?).await?,
        403,
        "another provider",
    )
    .await?;

    // Signatures: malformed; someone else's; for another chain.
    let job = market.open_job(BUYER, me, &spec, far).await?;
    let mut malformed = market.request(BUYER, job, 3)?;
    malformed.signature = Bytes::from(vec![1u8; 10]);
    expect_refusal(market.submit(&url, &malformed).await?, 401, "invalid signature").await?;
    expect_refusal(
        market.submit(&url, &market.request(OTHER, job, 4)?).await?,
        403,
        "does not belong to the signer",
    )
    .await?;
    let buyer = stack.chain.actor(BUYER)?.signer;
    let other_chain = agora_provider::access::domain(1, me);
    let wrong_chain =
        SignedJobRequest::sign(&market.request(BUYER, job, 5)?.message(), &other_chain, &buyer)?;
    expect_refusal(market.submit(&url, &wrong_chain).await?, 403, "does not belong to the signer").await?;

    // A job opened while this provider charged nothing holds no escrow.
    let as_provider = stack.chain.agora_as(&stack.chain.actor(PROVIDER)?).compute_market;
    let endpoint = "http://127.0.0.1:9/".to_owned();
    tx::send("free", as_provider.updateProvider(endpoint.clone(), Address::ZERO, 0)).await?;
    let unfunded = market.open_job(BUYER, me, &spec, far).await?;
    tx::send("reprice", as_provider.updateProvider(endpoint, Address::ZERO, JOB_PRICE)).await?;
    expect_refusal(market.submit(&url, &market.request(BUYER, unfunded, 6)?).await?, 402, "never funded")
        .await?;

    // A spec the provider cannot read is refused up front.
    let bad_spec = serde_json::json!({ "version": 2, "job": { "kind": "embed" } });
    let unreadable = market.open_job(BUYER, me, &bad_spec, far).await?;
    expect_refusal(
        market.submit(&url, &market.request(BUYER, unreadable, 8)?).await?,
        422,
        "unsupported version",
    )
    .await?;

    // A job the runtime rejects fails with a reason the consumer can read; the provider
    // keeps serving, posts nothing, and declines the job so the consumer is refunded at once.
    let missing = serde_json::json!({ "version": 1, "job": { "kind": "embed", "text_field": "body" } });
    let failing = market.open_job(BUYER, me, &missing, far).await?;
    let response = market.submit(&url, &market.request(BUYER, failing, 9)?).await?;
    ensure!(response.status() == 202, "submit: {} {}", response.status(), response.text().await?);
    let status = wait_for(stack, &url, failing).await?;
    ensure!(
        status["status"] == "failed" && status["reason"].as_str().is_some_and(|r| r.contains("body")),
        "expected a readable failure, got {status}"
    );
    expect_refusal(stack.http.get(format!("{url}/v1/jobs/{failing}/result")).send().await?, 409, "failed")
        .await?;
    assert_eq!(tx::call("getJob", stack.chain.agora.compute_market.getJob(failing)).await?.status, REFUNDED);

    // A job whose deadline passed (by the chain's clock).
    let soon = market.open_job(BUYER, me, &spec, market.chain_time().await? + 100).await?;
    market.advance(200).await?;
    expect_refusal(market.submit(&url, &market.request(BUYER, soon, 7)?).await?, 410, "has passed").await?;

    // The dataset's owner restricts its algorithms after the job was opened: the provider reads
    // the policy at submission and refuses an algorithm it does not list.
    let restricted = market.open_job(BUYER, me, &spec, far).await?;
    let owner = stack.chain.agora_as(&stack.chain.actor(PUBLISHER)?).compute_market;
    tx::send("restrict", owner.setAlgorithmRestricted(market.dataset, true)).await?;
    let not_allowed = format!(
        "the dataset's owner does not allow algorithm {} on dataset {}",
        market.model, market.dataset
    );
    expect_refusal(market.submit(&url, &market.request(BUYER, restricted, 10)?).await?, 403, &not_allowed)
        .await?;
    tx::send("reopen", owner.setAlgorithmRestricted(market.dataset, false)).await?;

    // A browser checks its spec here and has it put on IPFS before it pays: only a readable
    // spec within this provider's limits is kept, in the canonical form the CLI adds.
    let put_spec = |body: Vec<u8>| stack.http.post(format!("{url}/v1/specs")).body(body).send();
    let spec_bytes = serde_json::to_vec(
        &serde_json::json!({ "version": 1, "job": { "kind": "embed", "batch_size": 2 } }),
    )?;
    let kept = put_spec(spec_bytes.clone()).await?;
    ensure!(kept.status() == 201, "put spec: {} {}", kept.status(), kept.text().await?);
    let kept: Value = kept.json().await?;
    let canonical = serde_json::to_vec_pretty(&SpecDocument::parse(&spec_bytes)?)?;
    ensure!(kept["cid"] == stack.storage.add_bytes(canonical).await?.cid, "{kept}");
    ensure!(kept["kind"] == "embed", "{kept}");
    for (body, status, says) in [
        (br#"{"version":2,"job":{"kind":"embed"}}"#.to_vec(), 422, "unsupported version"),
        (
            br#"{"version":1,"job":{"kind":"embed","batch_size":0}}"#.to_vec(),
            422,
            "batch_size must be at least 1",
        ),
        (br#"{"version":1,"job":{"kind":"dance"}}"#.to_vec(), 422, "dance"),
        (b"not json".to_vec(), 422, "expected"),
    ] {
        expect_refusal(put_spec(body).await?, status, says).await?;
    }
    let oversized = put_spec(vec![b' '; 2 * MAX_DOCUMENT_BYTES]).await?;
    ensure!(matches!(oversized.status().as_u16(), 413 | 422), "oversized spec: {}", oversized.status());

    // None of these was admitted.
    for id in [elsewhere, job, unfunded, unreadable, soon, restricted] {
        let status = stack.http.get(format!("{url}/v1/jobs/{id}")).send().await?;
        expect_refusal(status, 404, "unknown job").await.wrap_err_with(|| format!("job {id}"))?;
    }
    provider.stop().await
}

#[tokio::test]
async fn a_queued_job_is_cancelled_by_its_consumer_only_and_never_runs() -> Result<()> {
    let market = Market::start().await?;
    let stack = &market.stack;
    let (_work, provider) = market.serve(1).await?;
    let (url, me) = (provider.url.clone(), stack.provider_address());
    let spec = serde_json::json!({ "version": 1, "job": { "kind": "embed" } });
    let far = market.in_an_hour().await?;
    let cancel = |who: usize, job: U256, nonce: u64| {
        let request = market.request(who, job, nonce);
        let url = format!("{url}/v1/jobs/{job}");
        async move { Ok::<_, eyre::Report>(stack.http.delete(url).json(&request?).send().await?) }
    };

    // One worker: the second job waits while the first fetches, loads and runs.
    let first = market.open_job(BUYER, me, &spec, far).await?;
    let second = market.open_job(BUYER, me, &spec, far).await?;
    for (job, nonce) in [(first, 1), (second, 2)] {
        let response = market.submit(&url, &market.request(BUYER, job, nonce)?).await?;
        ensure!(response.status() == 202, "submit: {} {}", response.status(), response.text().await?);
    }
    expect_refusal(cancel(OTHER, second, 3).await?, 403, "does not belong to the signer").await?;
    let cancelled = cancel(BUYER, second, 4).await?;
    ensure!(cancelled.status() == 200, "cancel: {} {}", cancelled.status(), cancelled.text().await?);

    let done = wait_for(stack, &url, first).await?;
    ensure!(done["status"] == "succeeded", "first job ended as {done}");
    let status: Value = stack.http.get(format!("{url}/v1/jobs/{second}")).send().await?.json().await?;
    assert_eq!(status["status"], "cancelled", "{status}");
    expect_refusal(cancel(BUYER, first, 5).await?, 409, "can no longer be cancelled").await?;
    // Nothing was posted for the cancelled job: the consumer's refund stays open on chain.
    assert_eq!(tx::call("getJob", stack.chain.agora.compute_market.getJob(second)).await?.status, 1);
    provider.stop().await
}

#[tokio::test]
async fn job_status_and_progress_stream_as_server_sent_events_until_the_job_ends() -> Result<()> {
    let market = Market::start().await?;
    let stack = &market.stack;
    let (_work, provider) = market.serve(2).await?;
    let (url, me) = (provider.url.clone(), stack.provider_address());

    // Enough sentences, one per batch, for the job to report progress for a while.
    let sentences: String = (0..120)
        .map(|i| serde_json::json!({ "text": format!("Sentence {i} talks about item {} of the list.", i * 7) }))
        .map(|row| row.to_string() + "\n")
        .collect();
    let dataset = market.publish_dataset(sentences.as_bytes(), "many.jsonl").await?;
    let spec = serde_json::json!({ "version": 1, "job": { "kind": "embed", "batch_size": 1 } });
    let far = market.in_an_hour().await?;
    let job = market.open_job_on(dataset, market.model, BUYER, me, &spec, far).await?;
    let response = market.submit(&url, &market.request(BUYER, job, 1)?).await?;
    ensure!(response.status() == 202, "submit: {} {}", response.status(), response.text().await?);

    let events_url = format!("{url}/v1/jobs/{job}");
    let stream = stack.http.get(&events_url).header("accept", "text/event-stream").send().await?;
    ensure!(stream.status() == 200, "events: {}", stream.status());
    let content_type = stream.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let events = read_events(stream).await?;

    assert!(events.iter().all(|(name, _)| name == "status"), "{events:?}");
    let statuses: Vec<&str> = events.iter().filter_map(|(_, data)| data["status"].as_str()).collect();
    assert_eq!(statuses.len(), events.len());
    assert_eq!(statuses.last(), Some(&"succeeded"), "the stream ends with the terminal status: {statuses:?}");
    assert!(
        statuses[..statuses.len() - 1].iter().all(|s| matches!(*s, "queued" | "running")),
        "one terminal event, last: {statuses:?}"
    );
    assert!(statuses.contains(&"running"), "the job was followed while running: {statuses:?}");
    let embedded: Vec<u64> = events
        .iter()
        .filter(|(_, data)| data["progress"]["phase"] == "embedding")
        .filter_map(|(_, data)| data["progress"]["done"].as_u64())
        .collect();
    assert!(embedded.len() >= 2, "progress was reported batch by batch: {embedded:?}");
    assert!(embedded.windows(2).all(|w| w[0] <= w[1]), "progress only moves forward: {embedded:?}");
    assert!(events.iter().all(|(_, data)| data["jobId"] == events[0].1["jobId"]));
    let last = &events[events.len() - 1].1;
    let result: Value = stack.http.get(format!("{url}/v1/jobs/{job}/result")).send().await?.json().await?;
    assert_eq!(last["resultCid"], result["resultCid"]);

    // A finished job's stream is its one terminal event.
    let again =
        read_events(stack.http.get(&events_url).header("accept", "text/event-stream").send().await?).await?;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].1["status"], "succeeded");
    // Without the header, the same JSON as a plain response; an unknown job is still a 404.
    let plain: Value = stack.http.get(&events_url).send().await?.json().await?;
    assert_eq!(plain["resultCid"], last["resultCid"]);
    let unknown =
        stack.http.get(format!("{url}/v1/jobs/4242")).header("accept", "text/event-stream").send().await?;
    expect_refusal(unknown, 404, "unknown job 4242").await?;
    provider.stop().await
}

#[tokio::test]
async fn a_trained_model_published_as_a_model_asset_serves_a_predict_job() -> Result<()> {
    let market = Market::start().await?;
    let stack = &market.stack;
    let (_work, provider) = market.serve(2).await?;
    let (url, me) = (provider.url.clone(), stack.provider_address());
    let far = market.in_an_hour().await?;

    // `train` over a labelled table; the algorithm asset names what runs (no model is read).
    let table = market.publish_dataset(classification_csv(300, 11).as_bytes(), "train.csv").await?;
    let trainer = publish_trainer(stack).await?;
    let spec = serde_json::json!({ "version": 1, "job": { "kind": "train", "epochs": 40, "seed": 7 } });
    let train_job = market.open_job_on(table, trainer, BUYER, me, &spec, far).await?;
    let trained = run_to_success(&market, &url, train_job, 1).await?;
    let trained: SignedReceipt = serde_json::from_value(trained["receipt"].clone())?;
    assert_eq!(trained.receipt.modelCid, "", "train reads no model");
    let output = &trained.receipt.outputCid;
    let metrics: Value =
        serde_json::from_slice(&stack.storage.cat_to_vec(&format!("{output}/metrics.json"), 1 << 20).await?)?;
    let accuracy = metrics["test_accuracy"].as_f64().ok_or_else(|| eyre!("no test_accuracy: {metrics}"))?;
    assert!(accuracy > 0.8, "the classifier learned the rule: {metrics}");

    // The publisher turns the weights into a model asset: a manifest of its one file.
    let weights = stack.storage.cat_to_vec(&format!("{output}/model.safetensors"), 16 << 20).await?;
    let added = stack.storage.add_bytes(weights.clone()).await?;
    let manifest = serde_json::to_vec(&ModelManifest {
        files: vec![ModelFile {
            name: "model.safetensors".into(),
            cid: added.cid,
            sha256: added.sha256,
            encryption: None,
        }],
    })?;
    let manifest = stack.storage.add_bytes(manifest).await?;
    let model = publish(
        stack,
        MODEL,
        manifest.sha256,
        &named_metadata(&manifest.cid, manifest.size, "classifier.json"),
    )
    .await?;

    // `predict` with that model over new rows, identified by an id column.
    let points: Vec<(f64, f64)> =
        (0..24).map(|i| (f64::from(i % 6) * 0.7 - 1.9, f64::from(i / 6) * 1.1 - 1.8)).collect();
    let mut rows = String::from("id,x,y\n");
    for (i, (x, y)) in points.iter().enumerate() {
        rows.push_str(&format!("p{i},{x:.4},{y:.4}\n"));
    }
    let unlabelled = market.publish_dataset(rows.as_bytes(), "points.csv").await?;
    let spec = serde_json::json!({ "version": 1, "job": { "kind": "predict", "id_column": "id" } });
    let predict_job = market.open_job_on(unlabelled, model, BUYER, me, &spec, far).await?;
    let predicted = run_to_success(&market, &url, predict_job, 2).await?;
    let predicted: SignedReceipt = serde_json::from_value(predicted["receipt"].clone())?;
    assert_eq!(predicted.signer(&market.domain()), Some(me));
    assert_eq!(predicted.receipt.modelCid, manifest.cid, "the receipt names the model asset's manifest");
    assert_eq!(predicted.input_cids.len(), 2);

    let csv = stack
        .storage
        .cat_to_vec(&format!("{}/predictions.csv", predicted.receipt.outputCid), 1 << 20)
        .await?;
    let csv = String::from_utf8(csv)?;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "id,prediction,p_high,p_low,p_right");
    assert_eq!(lines.len(), points.len() + 1, "one prediction per row");
    let mut right = 0;
    for (i, line) in lines[1..].iter().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], format!("p{i}"));
        right += usize::from(fields[1] == class_of(points[i].0, points[i].1));
    }
    assert!(right * 10 >= points.len() * 7, "{right}/{} predictions right:\n{csv}", points.len());

    // The same prediction run locally from the published weights gives the posted hash.
    let local = tempfile::tempdir()?;
    std::fs::write(local.path().join("model.safetensors"), &weights)?;
    std::fs::write(local.path().join("points.csv"), &rows)?;
    let dir = local.path();
    let inputs = Inputs { dataset: dir.join("points.csv"), model: Some(dir.join("model.safetensors")) };
    let rerun = rerun_locally(&spec, inputs, dir.join("out")).await?;
    assert_eq!(rerun, predicted.receipt.outputHash.to_string());
    let onchain = tx::call("getJob", stack.chain.agora.compute_market.getJob(predict_job)).await?;
    assert_eq!(onchain.outputHash, predicted.receipt.outputHash);
    provider.stop().await
}

#[tokio::test]
async fn a_job_over_a_private_dataset_runs_on_the_plaintext_only_a_key_holder_can_read() -> Result<()> {
    let market = Market::start().await?;
    let stack = &market.stack;
    let (work, provider) = market.serve(2).await?;
    let (url, me) = (provider.url.clone(), stack.provider_address());
    let far = market.in_an_hour().await?;
    let trainer = publish_trainer(stack).await?;

    let table = classification_csv(200, 5);
    let (private, ciphertext_cid) =
        publish_private_dataset(stack, table.as_bytes(), "secret.csv", &stack.provider_key).await?;
    let stored = stack.storage.cat_to_vec(&ciphertext_cid, 1 << 20).await?;
    assert_ne!(stored.len(), table.len(), "IPFS holds the ciphertext (with its tags)");
    assert!(!stored.windows(5).any(|w| w == b"label"), "IPFS holds no plaintext");

    let spec = serde_json::json!({ "version": 1, "job": { "kind": "train", "epochs": 10, "seed": 3 } });
    let job = market.open_job_on(private, trainer, BUYER, me, &spec, far).await?;
    let result = run_to_success(&market, &url, job, 1).await?;
    let receipt: SignedReceipt = serde_json::from_value(result["receipt"].clone())?;
    assert_eq!(receipt.signer(&market.domain()), Some(me));
    assert_eq!(receipt.input_cids, vec![ciphertext_cid.clone()], "the receipt names the content as stored");

    // The provider trained on the plaintext: the same job run locally on it gives the posted hash.
    let local = tempfile::tempdir()?;
    std::fs::write(local.path().join("secret.csv"), &table)?;
    let inputs = Inputs { dataset: local.path().join("secret.csv"), model: None };
    let rerun = rerun_locally(&spec, inputs, local.path().join("out")).await?;
    assert_eq!(rerun, receipt.receipt.outputHash.to_string());
    // The decrypted copy lived only in the job's folder, removed when the job ended.
    let leftovers = std::fs::read_dir(work.path().join("jobs"))?.count();
    assert_eq!(leftovers, 0, "no job folder (and no plaintext) is left behind");

    // A dataset whose key is wrapped for another provider only is refused at submission.
    let stranger = alloy::signers::local::PrivateKeySigner::random();
    let (foreign, _) = publish_private_dataset(stack, table.as_bytes(), "foreign.csv", &stranger).await?;
    let refused = market.open_job_on(foreign, trainer, BUYER, me, &spec, far).await?;
    expect_refusal(
        market.submit(&url, &market.request(BUYER, refused, 2)?).await?,
        403,
        &format!("asset {foreign} is encrypted and this provider holds no key for it"),
    )
    .await?;
    let status = stack.http.get(format!("{url}/v1/jobs/{refused}")).send().await?;
    expect_refusal(status, 404, "unknown job").await?;
    provider.stop().await
}

#[tokio::test]
async fn jobs_that_could_never_run_are_refused_before_they_are_queued_and_failures_hide_our_paths()
-> Result<()> {
    let market = Market::start().await?;
    let stack = &market.stack;
    let (work, provider) = market.serve(1).await?;
    let (url, me) = (provider.url.clone(), stack.provider_address());
    let far = market.in_an_hour().await?;

    // Specs the runtime would reject, each refused at submission with what is wrong.
    let mut nonce = 0;
    let mut refused = |spec: Value, needle: &'static str| {
        nonce += 1;
        let nonce = nonce;
        let market = &market;
        let url = url.clone();
        async move {
            let job =
                market.open_job(BUYER, me, &serde_json::json!({ "version": 1, "job": spec }), far).await?;
            expect_refusal(market.submit(&url, &market.request(BUYER, job, nonce)?).await?, 422, needle)
                .await
                .wrap_err_with(|| format!("job {job}"))?;
            let status = market.stack.http.get(format!("{url}/v1/jobs/{job}")).send().await?;
            expect_refusal(status, 404, "unknown job").await?;
            // Declined on chain: the consumer has the payment back now, not at the deadline.
            let on_chain = tx::call("getJob", market.stack.chain.agora.compute_market.getJob(job)).await?;
            ensure!(on_chain.status == REFUNDED, "job {job} is {} on chain, not refunded", on_chain.status);
            Ok::<_, eyre::Report>(())
        }
    };
    refused(serde_json::json!({ "kind": "embed", "batch_size": 0 }), "batch_size must be at least 1").await?;
    refused(
        serde_json::json!({ "kind": "embed", "batch_size": 1_000_000_000u64 }),
        "batch size is 1000000000",
    )
    .await?;
    refused(serde_json::json!({ "kind": "embed", "batch_size": u64::MAX }), "the limit is 1024").await?;
    refused(serde_json::json!({ "kind": "embed", "max_length": 1 }), "max_length 1 leaves no room").await?;
    refused(serde_json::json!({ "kind": "embed", "text_field": "" }), "text_field must not be empty").await?;

    // A model whose manifest names a file outside the model folder.
    let hostile = br#"{"files":[{"name":"../../x","cid":"bafkreihostile","sha256":"0x0000000000000000000000000000000000000000000000000000000000000000"}]}"#;
    let added = stack.storage.add_bytes(hostile.to_vec()).await?;
    let model =
        publish(stack, MODEL, added.sha256, &named_metadata(&added.cid, added.size, "model.json")).await?;
    let spec = serde_json::json!({ "version": 1, "job": { "kind": "embed" } });
    let job = market.open_job_on(market.dataset, model, BUYER, me, &spec, far).await?;
    expect_refusal(
        market.submit(&url, &market.request(BUYER, job, 100)?).await?,
        422,
        "invalid model file name",
    )
    .await?;
    let declined = market.submit(&url, &market.request(BUYER, job, 102)?).await?;
    expect_refusal(declined, 409, &format!("job {job} is not open")).await?;

    // A failure only the run can find: its reason names the input, not where we keep it.
    let empty = market.publish_dataset(b"\n", "empty.jsonl").await?;
    let job = market.open_job_on(empty, market.model, BUYER, me, &spec, far).await?;
    let response = market.submit(&url, &market.request(BUYER, job, 101)?).await?;
    ensure!(response.status() == 202, "submit: {}", response.status());
    let status = wait_for(stack, &url, job).await?;
    let reason = status["reason"].as_str().unwrap_or_default().to_owned();
    ensure!(status["status"] == "failed", "{status}");
    ensure!(reason.contains("empty.jsonl"), "the reason names the input: {reason}");
    ensure!(reason.contains("declined on chain and its payment refunded"), "{reason}");
    let on_chain = tx::call("getJob", stack.chain.agora.compute_market.getJob(job)).await?;
    ensure!(on_chain.status == REFUNDED, "the failed job is {} on chain, not refunded", on_chain.status);
    let ours = work.path().display().to_string();
    ensure!(!reason.contains(&ours) && !reason.contains("/jobs/"), "the reason shows our paths: {reason}");
    provider.stop().await
}
