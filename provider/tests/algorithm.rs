//! `algorithm` jobs against real anvil + Kubo: the example algorithms (Go's column statistics,
//! Rust's k-means, built by `./scripts/setup.sh`) are published as algorithm assets, bought
//! with the demo catalogue's measurements and run by the provider in its sandbox; the posted output hash re-verifies
//! bit for bit in a fresh sandbox; the log is served unless the dataset is compute-only and its
//! owner does not allow logs; hostile modules each end with their precise error, are declined
//! and refunded, and the provider keeps serving.

mod common;

use std::time::Duration;

use agora_contracts::{compute_market::IComputeMarket, tx};
use agora_provider::{
    chain::ChainReader,
    jobs::{JobRequest, SignedJobRequest, SignedReceipt},
    metadata::AssetMetadata,
    verify,
    worker::JobsConfig,
};
use alloy::primitives::{Address, U256};
use common::{
    ALGORITHM, BUYER, DATASET, MODEL, PROVIDER, RunningProvider, Stack, expect_refusal, named_metadata, now,
};
use eyre::{Result, WrapErr, ensure, eyre};
use serde_json::{Value, json};

/// `IComputeMarket.JobStatus.Refunded`.
const REFUNDED: u8 = 5;
/// What the provider charges per job.
const JOB_PRICE: u128 = 10_000_000_000_000_000;
/// Fuel per job: ample for the examples over the test CSV, a second or two of a runaway loop.
const FUEL: u64 = 5_000_000_000;
/// Largest output per job.
const MAX_OUTPUT: u64 = 1 << 20;

const PEOPLE: &str = "id,height,weight,city\n1,1.80,80,Paris\n2,1.65,60,Lyon\n3,1.75,72,Paris\n\
4,1.90,95,Nice\n5,1.70,65,Lyon\n6,1.72,70,Paris\n7,1.68,62,Nice\n8,1.85,88,Paris\n";

struct Market {
    stack: Stack,
    provider: Address,
    nonce: std::cell::Cell<u64>,
}

impl Market {
    async fn start() -> Result<Self> {
        let stack = Stack::start().await?;
        stack.register_provider(&stack.chain.actor(PROVIDER)?, JOB_PRICE).await?;
        let provider = stack.provider_address();
        Ok(Self { stack, provider, nonce: 0.into() })
    }

    async fn serve(&self) -> Result<(tempfile::TempDir, RunningProvider)> {
        let work = tempfile::tempdir()?;
        let config = JobsConfig {
            workers: 1,
            time_limit: Duration::from_secs(120),
            work_dir: work.path().join("jobs"),
            model_cache: 0,
            finalize_every: Duration::from_secs(3600),
            limits: agora_runtime::Limits::default(),
            algorithm_limits: agora_sandbox::Limits {
                fuel: FUEL,
                memory_bytes: 256 << 20,
                max_output_bytes: MAX_OUTPUT,
                ..agora_sandbox::Limits::default()
            },
        };
        Ok((work, self.stack.serve_jobs(config).await?))
    }

    /// Publishes `content` as an asset of `kind` with `metadata` tweaks applied.
    async fn publish(
        &self,
        kind: u8,
        content: &[u8],
        file_name: &str,
        compute_only: bool,
        tweak: impl FnOnce(&mut AssetMetadata),
    ) -> Result<U256> {
        let added = self.stack.storage.add_bytes(content.to_vec()).await?;
        let mut metadata = named_metadata(&added.cid, added.size, file_name);
        tweak(&mut metadata);
        Ok(self.stack.publish_kind(kind, added.sha256, &metadata, compute_only, 0).await?.0)
    }

    async fn publish_module(&self, module: &[u8]) -> Result<U256> {
        self.publish(ALGORITHM, module, "algorithm.wasm", false, |_| {}).await
    }

    /// Buys a token of `dataset` and of `algorithm` and opens an `algorithm` job with `args`.
    async fn open(&self, dataset: U256, algorithm: U256, args: &[&str]) -> Result<U256> {
        let spec = json!({ "version": 1, "job": { "kind": "algorithm", "args": args } });
        let spec_cid = self.stack.storage.add_bytes(serde_json::to_vec(&spec)?).await?.cid;
        let params = IComputeMarket::OpenJobParams {
            datasetId: dataset,
            algorithmId: algorithm,
            provider: self.provider,
            specCid: spec_cid,
            currency: Address::ZERO,
            maxPayment: U256::from(JOB_PRICE),
            deadline: now() + 3600,
        };
        self.stack.buy_and_open_job(&self.stack.chain.actor(BUYER)?, params).await
    }

    async fn submit(&self, url: &str, job: U256) -> Result<reqwest::Response> {
        self.nonce.set(self.nonce.get() + 1);
        let signer = self.stack.chain.actor(BUYER)?.signer;
        let message = JobRequest { jobId: job, nonce: U256::from(self.nonce.get()), expiry: now() + 600 };
        let domain = agora_provider::access::domain(self.stack.chain.deployment.chain_id, self.provider);
        let request = SignedJobRequest::sign(&message, &domain, &signer)?;
        Ok(self.stack.http.post(format!("{url}/v1/jobs")).json(&request).send().await?)
    }

    /// Submits `job` and waits for it to end; its final status JSON.
    async fn run(&self, url: &str, job: U256) -> Result<Value> {
        let response = self.submit(url, job).await?;
        ensure!(
            response.status() == 202,
            "submit job {job}: {} {}",
            response.status(),
            response.text().await?
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        loop {
            let status: Value =
                self.stack.http.get(format!("{url}/v1/jobs/{job}")).send().await?.json().await?;
            match status["status"].as_str() {
                Some("queued" | "running") if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                _ => return Ok(status),
            }
        }
    }

    async fn log(&self, url: &str, job: U256) -> Result<reqwest::Response> {
        Ok(self.stack.http.get(format!("{url}/v1/jobs/{job}/log")).send().await?)
    }

    /// Re-executes `job` here, in a fresh sandbox, from the chain and IPFS alone, checking the
    /// provider's receipt on the way.
    async fn verify(&self, url: &str, job: U256) -> Result<verify::Verdict> {
        let result: Value =
            self.stack.http.get(format!("{url}/v1/jobs/{job}/result")).send().await?.json().await?;
        let receipt: SignedReceipt = serde_json::from_value(result["receipt"].clone())?;
        let deployment = &self.stack.chain.deployment;
        let chain =
            ChainReader::new(self.stack.chain.anvil.endpoint_url(), deployment, Duration::from_secs(1));
        let work = tempfile::tempdir()?;
        let verdict = verify::verify(
            &chain,
            &self.stack.storage,
            deployment.chain_id,
            job,
            Some(&receipt),
            None,
            None,
            &work.path().join("verify"),
        )
        .await?;
        ensure!(
            receipt.receipt.runtimeVersion == agora_sandbox::version(),
            "the receipt names {}",
            receipt.receipt.runtimeVersion
        );
        Ok(verdict)
    }

    async fn chain_status(&self, job: U256) -> Result<u8> {
        Ok(tx::call("getJob", self.stack.chain.agora.compute_market.getJob(job)).await?.status)
    }
}

fn example(name: &str) -> Vec<u8> {
    let path =
        agora_deploy::services::algorithms::example(name).unwrap_or_else(|missing| panic!("{missing}"));
    std::fs::read(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

/// A module with the WASI imports the tests use, an exported memory of one page and `body`.
fn wat(body: &str) -> Vec<u8> {
    let module = format!(
        r#"(module
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "path_open"
            (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
          (memory (export "memory") 1)
          {body})"#
    );
    wat::parse_str(module).unwrap_or_else(|err| panic!("test WAT: {err}"))
}

#[tokio::test]
async fn the_example_algorithms_run_as_paid_jobs_and_reverify_bit_for_bit() -> Result<()> {
    let market = Market::start().await?;
    let (_work, provider) = market.serve().await?;
    let url = provider.url.clone();
    // The demo catalogue's measurements (`agora dev` publishes the same bytes).
    let measurements = agora_deploy::demo::finch_measurements();
    let dataset =
        market.publish(DATASET, measurements.as_bytes(), "finch-measurements.csv", false, |_| {}).await?;

    // Go: per-column statistics. The job spends a token of the dataset and of the algorithm.
    let stats = market.publish_module(&example("stats-go")).await?;
    let job = market.open(dataset, stats, &[]).await?;
    let status = market.run(&url, job).await?;
    ensure!(status["status"] == "succeeded", "stats-go job ended as {status}");
    let result_cid = status["resultCid"].as_str().ok_or_else(|| eyre!("no result CID: {status}"))?;
    let summary = market.stack.storage.cat_to_vec(&format!("{result_cid}/stats.json"), 1 << 20).await?;
    let summary: Value = serde_json::from_slice(&summary)?;
    ensure!(
        summary["rows"] == 200 && summary["dataset"] == "finch-measurements.csv",
        "stats.json: {summary}"
    );
    let verdict = market.verify(&url, job).await?;
    ensure!(verdict.matches(), "stats-go: posted {} but re-executed {}", verdict.claimed, verdict.recomputed);
    ensure!(verdict.cpu_features == agora_provider::algorithm::MACHINE_INDEPENDENT, "{verdict:?}");
    // The dataset is not compute-only: the log is the consumer's.
    let log = market.log(&url, job).await?;
    ensure!(log.status() == 200, "log: {} {}", log.status(), log.text().await?);
    ensure!(log.headers()["x-agora-log-truncated"] == "false");

    // Rust: k-means with arguments; the seed is the job id, so the re-execution agrees.
    let kmeans = market.publish_module(&example("kmeans-rust")).await?;
    let columns = "beak_depth_mm,beak_length_mm,wing_mm";
    let job = market.open(dataset, kmeans, &["--k", "3", "--columns", columns]).await?;
    let status = market.run(&url, job).await?;
    ensure!(status["status"] == "succeeded", "kmeans-rust job ended as {status}");
    let result_cid = status["resultCid"].as_str().ok_or_else(|| eyre!("no result CID: {status}"))?;
    let clusters = market.stack.storage.cat_to_vec(&format!("{result_cid}/kmeans.json"), 1 << 20).await?;
    let clusters: Value = serde_json::from_slice(&clusters)?;
    let sizes: Vec<u64> =
        clusters["clusters"].as_array().into_iter().flatten().filter_map(|c| c["size"].as_u64()).collect();
    // The wings of every 17th finch were not measured: those rows are skipped.
    ensure!(clusters["k"] == 3 && clusters["rows_skipped"] == 11, "kmeans.json: {clusters}");
    ensure!(sizes.len() == 3 && sizes.iter().sum::<u64>() == 189, "kmeans.json: {clusters}");
    let verdict = market.verify(&url, job).await?;
    ensure!(
        verdict.matches(),
        "kmeans-rust: posted {} but re-executed {}",
        verdict.claimed,
        verdict.recomputed
    );

    // An algorithm job must name an algorithm asset (the market takes a model too): a model
    // is refused before the job is queued, and the consumer refunded at once.
    let model = market.publish(MODEL, &example("stats-go"), "model.wasm", false, |_| {}).await?;
    let job = market.open(dataset, model, &[]).await?;
    expect_refusal(market.submit(&url, job).await?, 422, "is not an algorithm").await?;
    ensure!(market.chain_status(job).await? == REFUNDED, "a refused job is refunded");
    // A built-in job has no log; an unknown one is not found.
    expect_refusal(market.log(&url, U256::from(999)).await?, 404, "unknown job").await?;
    provider.stop().await
}

#[tokio::test]
async fn a_compute_only_datasets_log_is_withheld_unless_its_owner_allows_it() -> Result<()> {
    let market = Market::start().await?;
    let (_work, provider) = market.serve().await?;
    let url = provider.url.clone();
    // Prints its dataset's first bytes, then fails: both a log and a failure message leak them.
    let leaky = market
        .publish_module(&wat(r#"(data (i32.const 200) "people.csv")
               (func (export "_start")
                 ;; open /data/people.csv (fd 3 is /data), read 16 bytes, print them.
                 (drop (call $path_open (i32.const 3) (i32.const 0) (i32.const 200) (i32.const 10)
                   (i32.const 0) (i64.const 2) (i64.const 2) (i32.const 0) (i32.const 20)))
                 (i32.store (i32.const 0) (i32.const 300))
                 (i32.store (i32.const 4) (i32.const 16))
                 (drop (call $fd_read (i32.load (i32.const 20)) (i32.const 0) (i32.const 1) (i32.const 8)))
                 (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
                 (call $proc_exit (i32.const 3)))"#))
        .await?;
    let secret = "id,height,weight";

    let closed = market.publish(DATASET, PEOPLE.as_bytes(), "people.csv", true, |_| {}).await?;
    let status = market.run(&url, market.open(closed, leaky, &[]).await?).await?;
    let reason = status["reason"].as_str().unwrap_or_default();
    ensure!(status["status"] == "failed" && reason.contains("exited with code 3"), "{status}");
    ensure!(!reason.contains(secret), "a withheld log leaked through the failure: {reason}");
    ensure!(reason.contains("its log is withheld"), "{reason}");

    let open = market
        .publish(DATASET, PEOPLE.as_bytes(), "people.csv", true, |metadata| {
            metadata.extra.insert(agora_provider::metadata::ALGORITHM_LOGS.into(), json!(true));
        })
        .await?;
    let status = market.run(&url, market.open(open, leaky, &[]).await?).await?;
    let reason = status["reason"].as_str().unwrap_or_default();
    ensure!(reason.contains(secret), "the owner allows logs, so the failure quotes it: {reason}");

    // A successful job over the closed dataset: the log endpoint refuses.
    let stats = market.publish_module(&example("stats-go")).await?;
    let job = market.open(closed, stats, &[]).await?;
    ensure!(market.run(&url, job).await?["status"] == "succeeded");
    expect_refusal(market.log(&url, job).await?, 403, "withheld").await?;
    provider.stop().await
}

#[tokio::test]
async fn hostile_algorithms_end_with_their_precise_error_and_the_provider_keeps_serving() -> Result<()> {
    let market = Market::start().await?;
    let (_work, provider) = market.serve().await?;
    let url = provider.url.clone();
    let dataset = market.publish(DATASET, PEOPLE.as_bytes(), "people.csv", false, |_| {}).await?;
    let hostile: [(&str, Vec<u8>, &str); 5] = [
        ("infinite loop", wat(r#"(func (export "_start") (loop (br 0)))"#), "used all of its fuel"),
        (
            "memory bomb",
            wat(r#"(func (export "_start") (loop (drop (memory.grow (i32.const 16))) (br 0)))"#),
            "memory limit",
        ),
        (
            "output flood",
            wat(r#"(data (i32.const 200) "big")
                   (func (export "_start")
                     ;; create /out/big (fd 4 is /out) and write 64 KiB to it forever.
                     (if (call $path_open (i32.const 4) (i32.const 0) (i32.const 200) (i32.const 3)
                           (i32.const 9) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 20))
                       (then unreachable))
                     (i32.store (i32.const 0) (i32.const 0))
                     (i32.store (i32.const 4) (i32.const 65536))
                     (loop (drop (call $fd_write (i32.load (i32.const 20)) (i32.const 0) (i32.const 1) (i32.const 8)))
                       (br 0)))"#),
            "output limit",
        ),
        ("not WebAssembly", b"#!/bin/sh\ncat /etc/passwd\n".to_vec(), "not a WebAssembly module"),
        (
            "unknown import",
            wat::parse_str(
                r#"(module (import "env" "socket" (func)) (memory (export "memory") 1) (func (export "_start")))"#,
            )?,
            "imports `env::socket`",
        ),
    ];
    for (what, module, needle) in hostile {
        let algorithm = market.publish_module(&module).await?;
        let job = market.open(dataset, algorithm, &[]).await?;
        let status = market.run(&url, job).await.wrap_err(what)?;
        let reason = status["reason"].as_str().unwrap_or_default();
        ensure!(status["status"] == "failed", "{what}: {status}");
        ensure!(reason.contains(needle), "{what}: the reason does not say {needle:?}: {reason}");
        ensure!(reason.contains("refunded"), "{what}: {reason}");
        ensure!(market.chain_status(job).await? == REFUNDED, "{what}: the failed job is not refunded");
        let health = market.stack.http.get(format!("{url}/health")).send().await?;
        ensure!(health.status() == 200, "{what}: the provider stopped serving");
    }
    // And the next honest job runs.
    let stats = market.publish_module(&example("stats-go")).await?;
    let status = market.run(&url, market.open(dataset, stats, &[]).await?).await?;
    ensure!(status["status"] == "succeeded", "after the hostile jobs: {status}");
    provider.stop().await
}
