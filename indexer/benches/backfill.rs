//! Rerunnable indexer benchmark on a seeded chain of Agora events (purchases, consumes,
//! transfers, revenue releases): backfill throughput (median of `AGORA_BENCH_RUNS` after a
//! warm-up) with each write mode side by side (binary `COPY`, the default; array-bound
//! `INSERT`s; the row-by-row baseline, one `INSERT` per row), next to a bare `eth_getLogs`
//! sweep of the same chain; head latency (block mined → row visible), 64-block reorg recovery
//! time and peak memory.
//!
//! `cargo bench -p agora-indexer --bench backfill`; environment:
//! - `AGORA_BENCH_EVENTS`: events to generate (default 20000; `1000000` for the full-size run);
//! - `AGORA_BENCH_RUNS`: measured backfills per write mode (default 5);
//! - `AGORA_BENCH_BASELINE_RUNS`: measured row-by-row backfills (default `AGORA_BENCH_RUNS`;
//!   the baseline is slow at 1M events).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use agora_indexer::{db::WriteMode, sync::SyncConfig};
use alloy::{
    primitives::{Address, U256},
    providers::{Provider, ext::AnvilApi},
    rpc::types::{Filter, anvil::ReorgOptions},
};
use common::{Actor, Chain, Db, Rng, count, publish_params, sync_to_head};
use futures::{StreamExt, stream};

const PRICE: u128 = 1_000;
const ASSETS: usize = 16;
const TXS_PER_BLOCK: usize = 100;

struct Generated {
    events: u64,
    addresses: Vec<Address>,
}

/// Sends `target` events' worth of transactions, `TXS_PER_BLOCK` per block, automine off.
async fn generate(chain: &Chain, target: u64, seed: u64) -> Generated {
    let publisher = chain.actor(1);
    let as_publisher = chain.as_actor(&publisher);
    let mut tokens = Vec::new();
    for i in 0..ASSETS {
        let p = publish_params(publisher.address, (i % 3) as u8, PRICE, &format!("bafy-bench-{i}"), None);
        tokens.push(as_publisher.publish(p).await.unwrap());
    }
    let buyers: Vec<Actor> = (2..10).map(|i| chain.actor(i)).collect();
    let mut nonces = Vec::new();
    for b in &buyers {
        nonces.push(chain.provider().get_transaction_count(b.address).await.unwrap());
    }
    // Balance each buyer holds per asset, so consumes and transfers never revert.
    let mut held = vec![vec![0u64; ASSETS]; buyers.len()];
    // Assets bought in earlier blocks and not released since: a release of them never reverts.
    let mut owed = [false; ASSETS];
    chain.provider().anvil_set_auto_mine(false).await.unwrap();
    let mut rng = Rng(seed);
    let mut events = 0u64;
    let gas_price = chain.provider().get_gas_price().await.unwrap() * 2;
    while events < target {
        let mut pending = Vec::new();
        let mut bought = [false; ASSETS];
        for _ in 0..TXS_PER_BLOCK {
            let who = (rng.next() % buyers.len() as u64) as usize;
            let asset = (rng.next() % ASSETS as u64) as usize;
            let agora = chain.as_actor(&buyers[who]);
            let nonce = nonces[who];
            nonces[who] += 1;
            let action = rng.next() % 10;
            let call = if action == 9 && owed[asset] {
                owed[asset] = false;
                events += 1; // Released
                agora
                    .splitter
                    .release(tokens[asset].asset_id, Address::ZERO, publisher.address)
                    .into_transaction_request()
            } else if held[who][asset] == 0 || action < 4 {
                held[who][asset] += 3;
                bought[asset] = true;
                events += 2; // Transfer (mint) + Purchased
                agora
                    .marketplace
                    .buy(tokens[asset].asset_id, U256::from(3), Address::ZERO, U256::from(PRICE))
                    .value(U256::from(3 * PRICE))
                    .into_transaction_request()
            } else if action < 7 {
                held[who][asset] -= 1;
                events += 2; // Transfer (burn) + AccessConsumed
                agora
                    .access_token_at(tokens[asset].access_token)
                    .consume(buyers[0].address)
                    .into_transaction_request()
            } else {
                held[who][asset] -= 1;
                let to = (who + 1) % buyers.len();
                held[to][asset] += 1;
                events += 1; // Transfer
                agora
                    .access_token_at(tokens[asset].access_token)
                    .transfer(buyers[to].address, U256::from(1))
                    .into_transaction_request()
            };
            let tx =
                call.nonce(nonce).gas_limit(400_000).max_fee_per_gas(gas_price).max_priority_fee_per_gas(1);
            pending.push((buyers[who].provider.clone(), tx));
        }
        stream::iter(pending)
            .for_each_concurrent(16, |(provider, tx)| async move {
                let _pending = provider.send_transaction(tx).await.expect("send");
            })
            .await;
        chain.provider().anvil_mine(Some(1), None).await.unwrap();
        for (owed, bought) in owed.iter_mut().zip(bought) {
            *owed |= bought;
        }
    }
    chain.provider().anvil_set_auto_mine(true).await.unwrap();
    let c = chain.deployment.contracts;
    let mut addresses = vec![
        c.agora_token,
        c.timelock,
        c.governor,
        c.asset_registry,
        c.marketplace,
        c.revenue_splitter,
        c.compute_market,
    ];
    addresses.extend(tokens.iter().map(|t| t.access_token));
    Generated { events, addresses }
}

/// A bare sweep: `eth_getLogs` over `range`-block ranges, `in_flight` at once, no decoding.
async fn sweep(chain: &Chain, addresses: &[Address], range: u64, in_flight: usize) -> (usize, Duration) {
    let head = chain.head().await;
    let start = chain.deployment.deployment_block;
    let ranges: Vec<(u64, u64)> =
        (start..=head).step_by(range as usize).map(|a| (a, (a + range - 1).min(head))).collect();
    let t = Instant::now();
    let logs: usize = stream::iter(ranges)
        .map(|(a, b)| {
            let filter = Filter::new().from_block(a).to_block(b).address(addresses.to_vec());
            let reader = chain.reader.clone();
            async move { reader.get_logs(&filter).await.unwrap().len() }
        })
        .buffered(in_flight)
        .fold(0, |sum, n| async move { sum + n })
        .await;
    (logs, t.elapsed())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A positive integer from the environment variable `name`, `default` when unset; anything else
/// stops the benchmark with a message.
fn env_count(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => default,
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or_else(|| panic!("{name} must be a positive integer (e.g. 1000000), got {v:?}")),
        Err(err) => panic!("{name}: {err}"),
    }
}

#[tokio::main]
async fn main() {
    let target = env_count("AGORA_BENCH_EVENTS", 20_000);
    let runs = env_count("AGORA_BENCH_RUNS", 5) as usize;
    let baseline_runs = env_count("AGORA_BENCH_BASELINE_RUNS", runs as u64) as usize;
    let (chain, db) = tokio::join!(Chain::start_with_args(&["--gas-limit", "1000000000"]), Db::start());
    let t = Instant::now();
    let generated = generate(&chain, target, 42).await;
    println!(
        "generated ~{} events in {} blocks in {:.1?}",
        generated.events,
        chain.head().await,
        t.elapsed()
    );

    let (logs, _warm) = sweep(&chain, &generated.addresses, 10, 8).await;
    let mut sweeps = Vec::new();
    for _ in 0..runs {
        let (n, d) = sweep(&chain, &generated.addresses, 10, 8).await;
        assert_eq!(n, logs);
        sweeps.push(n as f64 / d.as_secs_f64());
    }
    let sweep_rate = median(sweeps);
    println!(
        "bare eth_getLogs sweep: {logs} logs, median {sweep_rate:.0} logs/s (10-block ranges, 8 in flight)"
    );

    let config = SyncConfig {
        window: 8,
        initial_range: 10,
        max_range: 100,
        concurrency: 8,
        poll_interval: Duration::from_millis(20),
        ..SyncConfig::default()
    };
    // A warm-up backfill (caches of anvil and PostgreSQL), then each write mode on fresh
    // databases, the same chain.
    let pool = db.another().await;
    sync_to_head(&chain, &pool, config.clone()).await;
    let events = count(&pool, "SELECT count(*) FROM events").await;
    pool.close().await;
    let mut results = Vec::new();
    for (mode, n) in
        [(WriteMode::Copy, runs), (WriteMode::Unnest, runs), (WriteMode::RowByRow, baseline_runs)]
    {
        let mut rates = Vec::new();
        for _ in 0..n {
            let pool = db.another().await;
            let t = Instant::now();
            sync_to_head(&chain, &pool, SyncConfig { write_mode: mode, ..config.clone() }).await;
            let elapsed = t.elapsed();
            assert_eq!(count(&pool, "SELECT count(*) FROM events").await, events, "{mode:?}");
            rates.push(events as f64 / elapsed.as_secs_f64());
            pool.close().await;
        }
        let rate = median(rates);
        println!(
            "backfill {mode:?}: {events} events, median of {n} {rate:.0} events/s committed with derived \
             tables ({:.1}% of the bare sweep)",
            100.0 * rate / sweep_rate
        );
        results.push((mode, rate));
    }
    let copy = results[0].1;
    for (mode, rate) in &results[1..] {
        println!("binary COPY vs {mode:?}: {:.2}x", copy / rate);
    }

    // Head latency: block mined → purchase row visible, while following.
    let pool = db.another().await;
    let syncer = chain.syncer(&pool, SyncConfig { exit_at_head: false, ..config.clone() });
    let mut syncer = syncer.with_ws(Some(chain.anvil.ws_endpoint()));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let mut follower = tokio::spawn(async move { syncer.run(shutdown).await });
    let head = i64::try_from(chain.head().await).unwrap();
    let t = Instant::now();
    loop {
        if count(&pool, "SELECT COALESCE(max(indexed_block), 0) FROM chain_state").await >= head {
            break;
        }
        // A follower that stopped says why; one that is slow gets a deadline that scales.
        if follower.is_finished() {
            panic!("the follower stopped during its backfill: {:?}", (&mut follower).await);
        }
        assert!(
            t.elapsed() < Duration::from_secs(120 + target / 2_000),
            "the follower's backfill took longer than {}s",
            120 + target / 2_000
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("follower backfill (WebSocket heads, before latency): {:.1?}", t.elapsed());
    let buyer = chain.actor(2);
    let agora = chain.as_actor(&buyer);
    let token = generated.addresses[7];
    let asset =
        agora_contracts::AccessToken::new(token, chain.reader.clone()).assetId().call().await.unwrap();
    let mut latencies = Vec::new();
    for _ in 0..40 {
        let before = count(&pool, "SELECT count(*) FROM purchases").await;
        chain.provider().anvil_set_auto_mine(false).await.unwrap();
        let tx = agora
            .marketplace
            .buy(asset, U256::from(1), Address::ZERO, U256::from(PRICE))
            .value(U256::from(PRICE))
            .gas(400_000);
        let _pending = tx.send().await.unwrap();
        let t = Instant::now();
        chain.provider().anvil_mine(Some(1), None).await.unwrap();
        loop {
            if count(&pool, "SELECT count(*) FROM purchases").await > before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
        chain.provider().anvil_set_auto_mine(true).await.unwrap();
    }
    stop.send(true).unwrap();
    follower.await.unwrap().unwrap();
    println!(
        "head latency (mined → row visible): p50 {:.1} ms, p99 {:.1} ms",
        percentile(latencies.clone(), 0.5),
        percentile(latencies, 0.99)
    );

    // 64-block reorg of full blocks: the last 64 blocks (journaled, block by block) are
    // replaced by empty ones; rolled back from the undo journal and re-applied.
    let pool = db.another().await;
    let window = SyncConfig { window: 64, ..config.clone() };
    sync_to_head(&chain, &pool, window.clone()).await;
    let orphaned = count(
        &pool,
        "SELECT count(*) FROM events WHERE block_number > (SELECT max(number) - 64 FROM blocks)",
    )
    .await;
    chain.provider().anvil_reorg(ReorgOptions { depth: 64, tx_block_pairs: Vec::new() }).await.unwrap();
    let t = Instant::now();
    sync_to_head(&chain, &pool, window).await;
    println!(
        "64-block reorg recovery ({orphaned} events orphaned, {events} in the database): {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    println!("peak RSS of the benchmark process (indexer in process): {:.0} MB", peak_rss_mb());
}
