//! What may happen once happens once: single-use orders hammered by concurrent requests on a
//! loaded CPU are each downloaded in full exactly once, and an order spent opening a compute job
//! is never a download order. Real anvil + Kubo, the provider served in-process.

mod common;

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use agora_contracts::{compute_market::IComputeMarket, tx};
use agora_provider::Limits;
use alloy::primitives::{Address, U256};
use common::{BUYER, MODEL, PROVIDER, Stack, content, expect_refusal, now, public_metadata};
use eyre::{Result, ensure, eyre};

/// Orders, and concurrent requests for each.
const ORDERS: usize = 200;
const REQUESTS_PER_ORDER: usize = 50;
/// Orders whose requests are in flight at the same time.
const ORDERS_AT_ONCE: usize = 4;

/// Spins every core until dropped, so the provider's tasks are preempted mid-download.
struct CpuLoad(Arc<AtomicBool>, Vec<std::thread::JoinHandle<()>>);

impl CpuLoad {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..cores)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 1u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                        std::hint::black_box(x);
                    }
                })
            })
            .collect();
        Self(stop, threads)
    }
}

impl Drop for CpuLoad {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        for thread in self.1.drain(..) {
            let _ = thread.join();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_single_use_order_is_downloaded_in_full_exactly_once_under_concurrent_requests() -> Result<()> {
    let stack = Arc::new(Stack::start().await?);
    let data = Arc::new(content(48 * 1024 + 3, 4));
    let (asset, _) = stack.publish_public(&data, 0).await?;
    let me = stack.provider_address();
    let mut orders = Vec::with_capacity(ORDERS);
    for _ in 0..ORDERS {
        orders.push(stack.buy_and_consume(BUYER, asset, me).await?);
    }
    // Room for every request at once: a refusal for being busy would hide the race.
    let limits = Limits {
        max_concurrent_downloads: ORDERS_AT_ONCE * REQUESTS_PER_ORDER * 2,
        max_concurrent_requests: ORDERS_AT_ONCE * REQUESTS_PER_ORDER * 4,
        ..Limits::default()
    };
    let provider = Arc::new(stack.serve_with(limits).await?);
    let load = CpuLoad::start();

    let mut full = vec![0usize; ORDERS];
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut nonce = 0u64;
    for wave in orders.chunks(ORDERS_AT_ONCE).enumerate() {
        let (wave_index, wave) = wave;
        let mut tasks = Vec::new();
        for (offset, order) in wave.iter().enumerate() {
            for _ in 0..REQUESTS_PER_ORDER {
                nonce += 1;
                let request = stack.request(BUYER, asset, *order, nonce)?;
                let (stack, provider, data) = (stack.clone(), provider.clone(), data.clone());
                let index = wave_index * ORDERS_AT_ONCE + offset;
                tasks.push(tokio::spawn(async move {
                    let response = stack.download(&provider, &request, None).await?;
                    let status = response.status().as_u16();
                    let body = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                    let whole = status == 200 && body == *data;
                    Ok::<_, eyre::Report>((index, status, whole))
                }));
            }
        }
        for task in tasks {
            let (index, status, whole) = task.await??;
            *statuses.entry(status).or_default() += 1;
            full[index] += usize::from(whole);
        }
    }
    drop(load);
    let requests: usize = statuses.values().sum();
    println!("{requests} requests over {ORDERS} orders, statuses {statuses:?}");
    let twice: Vec<_> = full.iter().enumerate().filter(|(_, n)| **n > 1).collect();
    let never: Vec<_> = full.iter().enumerate().filter(|(_, n)| **n == 0).collect();
    ensure!(twice.is_empty(), "orders served in full more than once (index, count): {twice:?}");
    ensure!(never.is_empty(), "orders never served in full (index, count): {never:?}");
    ensure!(!statuses.keys().any(|status| *status >= 500), "server errors: {statuses:?}");
    Arc::try_unwrap(provider).map_err(|_| eyre!("the provider is still shared"))?.stop().await
}

#[tokio::test]
async fn an_order_spent_on_a_compute_job_is_refused_as_a_download_order() -> Result<()> {
    let stack = Stack::start().await?;
    let data = content(10_000, 6);
    let (dataset, _) = stack.publish_public(&data, 0).await?;
    let weights = stack.storage.add_bytes(content(100, 7)).await?;
    let (model, _) = stack.publish_kind(MODEL, weights.sha256, &public_metadata(&weights), false, 0).await?;
    let me = stack.provider_address();
    stack.register_provider(&stack.chain.actor(PROVIDER)?, 1_000).await?;
    let provider = stack.serve().await?;

    // The job spends one dataset token: the same AccessConsumed a download order has.
    let params = IComputeMarket::OpenJobParams {
        datasetId: dataset,
        algorithmId: model,
        provider: me,
        specCid: "bafkreispec".into(),
        currency: Address::ZERO,
        maxPayment: U256::from(1_000),
        deadline: now() + 3600,
    };
    let job = stack.buy_and_open_job(&stack.chain.actor(BUYER)?, params).await?;
    let market = &stack.chain.agora.compute_market;
    let opened = market.JobOpened_filter().topic1(job).from_block(0).query().await?;
    let (event, _) = opened.first().ok_or_else(|| eyre!("no JobOpened for job {job}"))?;
    let (job_order, model_order) = (event.orderId, event.algorithmOrderId);
    ensure!(tx::call("getJob", market.getJob(job)).await?.status == 1, "the job is open");
    ensure!(model_order != U256::ZERO, "the priced model's token was spent too");

    let response = stack.download(&provider, &stack.request(BUYER, dataset, job_order, 1)?, None).await?;
    expect_refusal(response, 403, &format!("access order {job_order} was spent on compute job {job}"))
        .await?;
    // Nor does the model's order, spent on the same job, download the model.
    let response = stack.download(&provider, &stack.request(BUYER, model, model_order, 3)?, None).await?;
    expect_refusal(response, 403, &format!("access order {model_order} was spent on compute job {job}"))
        .await?;

    // A download order of the same token still downloads.
    let order = stack.buy_and_consume(BUYER, dataset, me).await?;
    let response = stack.download(&provider, &stack.request(BUYER, dataset, order, 2)?, None).await?;
    ensure!(response.status() == 200, "status {}", response.status());
    ensure!(response.bytes().await? == data, "the download differs");
    provider.stop().await
}
