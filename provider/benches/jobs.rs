//! Job overhead, rerunnable with `cargo bench -p agora-provider --bench jobs`
//! (`AGORA_BENCH_JOBS` sets how many jobs, default 20).
//!
//! A tiny `train` job (200 rows, 5 epochs), then an `algorithm` job (the Go stats example over
//! the same rows, built by `./scripts/setup.sh`), is submitted to the provider over real anvil +
//! Kubo and timed from `POST /v1/jobs` to its result (the terminal event of `GET /v1/jobs/{id}`
//! as server-sent events, then `GET /v1/jobs/{id}/result`). The same job is run directly with
//! `agora-runtime` (or `agora-sandbox`, with its compiled module cached as the provider's is) on
//! the same input, in the same process and run. The difference of the
//! medians is the provider's overhead per job: the admission checks against the chain, the
//! spec, metadata and dataset fetched from Kubo, queueing, the output added to IPFS, the result
//! posted on chain and the receipt signed (goal < 200 ms p50). Opening each job on chain (the
//! consumer's `buy` and `openJob`) happens before the clock starts.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use agora_contracts::compute_market::IComputeMarket;
use agora_provider::{
    jobs::{JobRequest, SignedJobRequest},
    worker::JobsConfig,
};
use agora_runtime::{Inputs, JobSpec};
use agora_sandbox::{Mounts, Sandbox};
use alloy::primitives::{Address, U256};
use common::{
    ALGORITHM, BUYER, DATASET, PROVIDER, Stack, classification_csv, named_metadata, now, read_events,
};
use eyre::{Result, ensure};
use serde_json::{Value, json};

const JOB_PRICE: u128 = 1_000_000_000_000_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

/// Adds `content` to IPFS and publishes it as an asset of `kind` named `file_name`.
async fn publish(stack: &Stack, kind: u8, content: &[u8], file_name: &str) -> Result<U256> {
    let added = stack.storage.add_bytes(content.to_vec()).await?;
    let metadata = named_metadata(&added.cid, added.size, file_name);
    Ok(stack.publish_kind(kind, added.sha256, &metadata, kind == DATASET, 0).await?.0)
}

/// Submits `job` and waits for its terminal status event and its result.
async fn submit_to_result(stack: &Stack, url: &str, request: &SignedJobRequest) -> Result<Duration> {
    let started = Instant::now();
    let response = stack.http.post(format!("{url}/v1/jobs")).json(request).send().await?;
    ensure!(response.status() == 202, "submit: {} {}", response.status(), response.text().await?);
    let job = request.job_id;
    let events =
        stack.http.get(format!("{url}/v1/jobs/{job}")).header("accept", "text/event-stream").send().await?;
    let last = read_events(events).await?.pop().map(|(_, data)| data).unwrap_or_default();
    ensure!(last["status"] == "succeeded", "job {job} ended as {last}");
    let result: Value = stack.http.get(format!("{url}/v1/jobs/{job}/result")).send().await?.json().await?;
    ensure!(result["receipt"].is_object(), "no receipt: {result}");
    Ok(started.elapsed())
}

/// Jobs over one dataset, opened and submitted by the buyer.
struct Jobs<'a> {
    stack: &'a Stack,
    url: &'a str,
    provider: Address,
    dataset: U256,
    count: usize,
}

impl Jobs<'_> {
    /// Submit → result of one warm-up job, then `count` timed ones, of `job_spec` with
    /// `algorithm`; request nonces start at `first_nonce`. Sorted.
    async fn through_provider(
        &self,
        algorithm: U256,
        job_spec: &Value,
        first_nonce: usize,
    ) -> Result<Vec<Duration>> {
        let document = json!({ "version": 1, "job": job_spec });
        let spec_cid = self.stack.storage.add_bytes(serde_json::to_vec(&document)?).await?.cid;
        let buyer = self.stack.chain.actor(BUYER)?;
        let domain = agora_provider::access::domain(self.stack.chain.deployment.chain_id, self.provider);
        let mut times = Vec::with_capacity(self.count);
        for index in 0..=self.count {
            let params = IComputeMarket::OpenJobParams {
                datasetId: self.dataset,
                algorithmId: algorithm,
                provider: self.provider,
                specCid: spec_cid.clone(),
                currency: Address::ZERO,
                maxPayment: U256::from(JOB_PRICE),
                deadline: now() + 3600,
            };
            let job = self.stack.buy_and_open_job(&buyer, params).await?;
            let nonce = U256::from(first_nonce + index);
            let message = JobRequest { jobId: job, nonce, expiry: now() + 600 };
            let request = SignedJobRequest::sign(&message, &domain, &buyer.signer)?;
            let took = submit_to_result(self.stack, self.url, &request).await?;
            if index > 0 {
                times.push(took);
            }
        }
        times.sort();
        Ok(times)
    }
}

/// One warm-up run, then `count` timed runs of `run(index)` on the blocking pool. Sorted.
async fn time_directly<F, W>(count: usize, run: F) -> Result<Vec<Duration>>
where
    F: Fn(usize) -> W,
    W: FnOnce() -> Result<()> + Send + 'static,
{
    let mut times = Vec::with_capacity(count);
    for index in 0..=count {
        let work = run(index);
        let started = Instant::now();
        tokio::task::spawn_blocking(work).await??;
        if index > 0 {
            times.push(started.elapsed());
        }
    }
    times.sort();
    Ok(times)
}

fn report(what: &str, engine: &str, through_provider: Vec<Duration>, direct: Vec<Duration>) {
    let (p50, d50) = (percentile(&through_provider, 0.5), percentile(&direct, 0.5));
    println!("## agora-provider job overhead ({what}; one worker)");
    println!(
        "through the provider, submit → result:  p50 {:.1?}  p90 {:.1?}  min {:.1?}  max {:.1?}",
        p50,
        percentile(&through_provider, 0.9),
        through_provider.first().copied().unwrap_or_default(),
        through_provider.last().copied().unwrap_or_default(),
    );
    println!(
        "{engine} directly, same input:{:pad$}p50 {:.1?}  p90 {:.1?}  min {:.1?}  max {:.1?}",
        "",
        d50,
        percentile(&direct, 0.9),
        direct.first().copied().unwrap_or_default(),
        direct.last().copied().unwrap_or_default(),
        pad = 18usize.saturating_sub(engine.len()),
    );
    println!("provider overhead per job (p50 − p50):  {:.1?}  (goal < 200 ms)", p50.saturating_sub(d50));
}

#[tokio::main]
async fn main() -> Result<()> {
    let count: usize = std::env::var("AGORA_BENCH_JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let stack = Stack::start().await?;
    let work = tempfile::tempdir()?;
    let config = JobsConfig {
        workers: 1,
        time_limit: Duration::from_secs(60),
        work_dir: work.path().join("jobs"),
        model_cache: 1,
        finalize_every: Duration::from_secs(3600),
        limits: agora_runtime::Limits::default(),
        algorithm_limits: agora_sandbox::Limits::default(),
    };
    let provider = stack.serve_jobs(config).await?;
    let me = stack.provider_address();
    stack.register_provider(&stack.chain.actor(PROVIDER)?, JOB_PRICE).await?;

    let csv = classification_csv(200, 99);
    let dataset = publish(&stack, DATASET, csv.as_bytes(), "train.csv").await?;
    let local = tempfile::tempdir()?;
    let input = local.path().join("train.csv");
    std::fs::write(&input, &csv)?;
    let jobs = Jobs { stack: &stack, url: &provider.url, provider: me, dataset, count };

    // A tiny `train` job, and agora-runtime on the same input.
    let trainer =
        publish(&stack, ALGORITHM, br#"{"runtime":"agora-runtime","kind":"train"}"#, "train.json").await?;
    let job_spec = json!({ "kind": "train", "epochs": 5, "seed": 1 });
    let through_provider = jobs.through_provider(trainer, &job_spec, 0).await?;
    let spec: JobSpec = serde_json::from_value(job_spec)?;
    let direct = time_directly(count, |index| {
        let (spec, inputs) = (spec.clone(), Inputs { dataset: input.clone(), model: None });
        let out = local.path().join(format!("train-{index}"));
        move || agora_runtime::run(&spec, &inputs, &out, |_| {}).map(drop).map_err(eyre::Report::from)
    })
    .await?;
    report(
        &format!("{count} tiny `train` jobs: 200 rows, 5 epochs"),
        "agora-runtime",
        through_provider,
        direct,
    );

    // An `algorithm` job running the Go stats example, and agora-sandbox on the same input.
    let path = agora_deploy::services::algorithms::example("stats-go").map_err(eyre::Report::msg)?;
    let module = std::fs::read(&path)?;
    let stats = publish(&stack, ALGORITHM, &module, "stats-go.wasm").await?;
    let through_provider = jobs.through_provider(stats, &json!({ "kind": "algorithm" }), count + 1).await?;
    let sandbox = std::sync::Arc::new(Sandbox::new(agora_sandbox::Limits::default())?);
    let direct = time_directly(count, |index| {
        let (sandbox, module, input) = (sandbox.clone(), module.clone(), input.clone());
        let out = local.path().join(format!("stats-{index}"));
        move || {
            let mounts = Mounts { data: &input, model: None };
            sandbox.run(&module, &mounts, &[], 1, &out, None).map(drop).map_err(eyre::Report::from)
        }
    })
    .await?;
    report(
        &format!("{count} `algorithm` jobs: the Go stats example over the same 200 rows"),
        "agora-sandbox",
        through_provider,
        direct,
    );
    provider.stop().await
}
