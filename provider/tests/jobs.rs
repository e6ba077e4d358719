//! Compute jobs against real anvil + Kubo + all-MiniLM-L6-v2: a consumer buys dataset access
//! and opens a job; the provider runs `embed`, puts the result on IPFS, posts it on chain and
//! signs a receipt; re-running the runtime locally gives the same output hash; once the
//! challenge window closes, the provider finalizes the job itself and is paid. Every refusal has its status and message.

mod common;

use std::{path::PathBuf, time::Duration};

use agora_contracts::{ComputeMarket, compute_market::IComputeMarket, tx};
use agora_provider::{
    jobs::{JobRequest, ModelFile, ModelManifest, SignedJobRequest, SignedReceipt},
    metadata::{AssetMetadata, ContentRef},
    storage::sha256,
    worker::JobsConfig,
};
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::{Provider, ext::AnvilApi},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use common::{BUYER, OTHER, PRICE, PROVIDER, PUBLISHER, Stack, expect_refusal, now};
use eyre::{Result, WrapErr, ensure, eyre};
use serde_json::Value;

/// Asset kinds (`IAssetRegistry.AssetKind`).
const DATASET: u8 = 0;
const MODEL: u8 = 1;
/// `IComputeMarket.JobStatus`.
const RESULT_POSTED: u8 = 2;
const FINALIZED: u8 = 4;
/// What the provider charges per job.
const JOB_PRICE: u128 = 50_000_000_000_000_000;

const SENTENCES: &str = "{\"text\":\"A man is eating food.\"}\n\
{\"text\":\"A man is riding a horse.\"}\n\
{\"text\":\"The new movie is awesome.\"}\n\
{\"text\":\"Two dogs play in the snow.\"}\n";

/// The all-MiniLM-L6-v2 folder: `AGORA_MODEL_DIR`, else the cache. Fails (never skips) when
/// it is missing.
fn model_dir() -> PathBuf {
    let dir = std::env::var_os("AGORA_MODEL_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/agora/models/all-MiniLM-L6-v2")
    });
    assert!(
        dir.join("model.safetensors").is_file(),
        "the all-MiniLM-L6-v2 model is missing at {}: run ./scripts/setup.sh (or scripts/model.sh) first",
        dir.display()
    );
    dir
}

fn jobs_config(dir: &tempfile::TempDir) -> JobsConfig {
    JobsConfig {
        workers: 2,
        time_limit: Duration::from_secs(60),
        work_dir: dir.path().join("jobs"),
        model_cache: 1,
        finalize_every: Duration::from_millis(200),
    }
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
        let metadata = asset_metadata(&added.cid, added.size, "sentences.jsonl");
        let dataset = publish(&stack, DATASET, added.sha256, &metadata).await?;

        let mut files = Vec::new();
        for name in ["config.json", "tokenizer.json", "model.safetensors", "sentence_bert_config.json"] {
            let path = model_dir().join(name);
            if path.is_file() {
                let added = stack.storage.add_file(&path, None).await?;
                files.push(ModelFile { name: name.into(), cid: added.cid, sha256: added.sha256 });
            }
        }
        let manifest = stack.storage.add_bytes(serde_json::to_vec(&ModelManifest { files })?).await?;
        let metadata = asset_metadata(&manifest.cid, manifest.size, "model.json");
        let model = publish(&stack, MODEL, manifest.sha256, &metadata).await?;

        let provider = stack.chain.actor(PROVIDER)?;
        register(&stack, &provider, JOB_PRICE).await?;
        Ok(Self { stack, dataset, dataset_cid, model })
    }

    /// `who` buys one dataset access token and opens a job for `provider` with `spec`.
    async fn open_job(&self, who: usize, provider: Address, spec: &Value, deadline: u64) -> Result<U256> {
        let buyer = self.stack.chain.actor(who)?;
        let agora = self.stack.chain.agora_as(&buyer);
        tx::send(
            "buy",
            agora
                .marketplace
                .buy(self.dataset, U256::from(1), Address::ZERO, U256::from(PRICE))
                .value(U256::from(PRICE)),
        )
        .await?;
        let spec_cid = self.stack.storage.add_bytes(serde_json::to_vec(spec)?).await?.cid;
        let price = tx::call("getProvider", agora.compute_market.getProvider(provider)).await?.price;
        let params = IComputeMarket::OpenJobParams {
            datasetId: self.dataset,
            algorithmId: self.model,
            provider,
            specCid: spec_cid,
            currency: Address::ZERO,
            maxPayment: U256::from(price),
            deadline,
        };
        let receipt =
            tx::send("openJob", agora.compute_market.openJob(params).value(U256::from(price))).await?;
        Ok(receipt.decoded_log::<ComputeMarket::JobOpened>().ok_or_else(|| eyre!("no JobOpened"))?.data.jobId)
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

fn asset_metadata(cid: &str, size: u64, file_name: &str) -> AssetMetadata {
    AssetMetadata {
        name: file_name.into(),
        description: String::new(),
        content: ContentRef { cid: cid.into(), size, file_name: Some(file_name.into()), encryption: None },
        extra: Default::default(),
    }
}

async fn publish(stack: &Stack, kind: u8, digest: B256, metadata: &AssetMetadata) -> Result<U256> {
    let publisher = stack.chain.actor(PUBLISHER)?;
    let metadata_cid = stack.storage.add_bytes(serde_json::to_vec(metadata)?).await?.cid;
    let params = agora_contracts::asset_registry::IAssetRegistry::PublishParams {
        owner: publisher.address,
        kind,
        computeOnly: kind == DATASET,
        accessDuration: 0,
        contentDigest: digest,
        metadataCid: metadata_cid,
        currency: Address::ZERO,
        price: alloy::primitives::aliases::U80::from(PRICE),
        freePerAddress: 0,
        splitRecipients: Vec::new(),
        splitBps: Vec::new(),
    };
    Ok(stack.chain.agora_as(&publisher).publish(params).await?.asset_id)
}

async fn register(stack: &Stack, who: &common::Actor, price: u128) -> Result<()> {
    let market = stack.chain.agora_as(who).compute_market;
    let min_stake = tx::call("params", market.params()).await?.minStake;
    tx::send(
        "registerProvider",
        market
            .registerProvider("http://127.0.0.1:9/".into(), Address::ZERO, price)
            .value(U256::from(min_stake)),
    )
    .await?;
    Ok(())
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
    let work = tempfile::tempdir()?;
    let provider = stack.serve_jobs(jobs_config(&work)).await?;
    let me = stack.provider_address();

    let spec = serde_json::json!({ "version": 1, "job": { "kind": "embed", "batch_size": 2 } });
    let job = market.open_job(BUYER, me, &spec, market.chain_time().await? + 3600).await?;
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
    let job_spec = serde_json::from_value(spec["job"].clone())?;
    let rerun = tokio::task::spawn_blocking(move || {
        agora_runtime::run(
            &job_spec,
            &agora_runtime::Inputs { dataset, model: Some(model) },
            &inputs.path().join("out"),
            |_| {},
        )
    })
    .await??;
    assert_eq!(format!("0x{}", rerun.run.output_hash), receipt.receipt.outputHash.to_string());

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

#[tokio::test]
async fn jobs_that_are_not_ours_unpaid_late_or_badly_signed_are_refused() -> Result<()> {
    let market = Market::start().await?;
    let stack = &market.stack;
    let work = tempfile::tempdir()?;
    let provider = stack.serve_jobs(jobs_config(&work)).await?;
    let url = provider.url.clone();
    let me = stack.provider_address();
    let spec = serde_json::json!({ "version": 1, "job": { "kind": "embed" } });
    let far = market.chain_time().await? + 3600;

    expect_refusal(
        market.submit(&url, &market.request(BUYER, U256::from(999), 1)?).await?,
        404,
        "unknown job 999",
    )
    .await?;

    // A job for another provider.
    let other = stack.chain.actor(OTHER)?;
    register(stack, &other, JOB_PRICE).await?;
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
    // keeps serving and nothing is posted, so the consumer's refund path stays open.
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
    assert_eq!(tx::call("getJob", stack.chain.agora.compute_market.getJob(failing)).await?.status, 1);

    // A job whose deadline passed (by the chain's clock).
    let soon = market.open_job(BUYER, me, &spec, market.chain_time().await? + 100).await?;
    market.advance(200).await?;
    expect_refusal(market.submit(&url, &market.request(BUYER, soon, 7)?).await?, 410, "has passed").await?;

    // None of these was admitted.
    for id in [elsewhere, job, unfunded, unreadable, soon] {
        let status = stack.http.get(format!("{url}/v1/jobs/{id}")).send().await?;
        expect_refusal(status, 404, "unknown job").await.wrap_err_with(|| format!("job {id}"))?;
    }
    provider.stop().await
}

#[tokio::test]
async fn a_queued_job_is_cancelled_by_its_consumer_only_and_never_runs() -> Result<()> {
    let market = Market::start().await?;
    let stack = &market.stack;
    let work = tempfile::tempdir()?;
    let provider = stack.serve_jobs(JobsConfig { workers: 1, ..jobs_config(&work) }).await?;
    let url = provider.url.clone();
    let me = stack.provider_address();
    let spec = serde_json::json!({ "version": 1, "job": { "kind": "embed" } });
    let far = market.chain_time().await? + 3600;
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
