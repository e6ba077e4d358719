//! Rerunnable indexer benchmark on a seeded chain of Agora events (purchases, consumes,
//! access-token and AGORA transfers, revenue releases, compute jobs opened, posted and
//! finalized, proposals and votes):
//! - backfill throughput (median of `AGORA_BENCH_RUNS` after a warm-up) with each write mode
//!   side by side (binary `COPY`, the default; array-bound `INSERT`s; the row-by-row baseline,
//!   one `INSERT` per row), next to a bare `eth_getLogs` sweep of the same chain;
//! - the `agora-indexer` binary with its default settings: backfill time and peak memory;
//! - head latency (block mined → row visible) and 64-block reorg recovery time;
//! - one writer, readers on a streaming replica (PostgreSQL's `pg_basebackup -R`): the replica's
//!   replay lag sampled every 100 ms during the writer's backfill (p50, p99, max: the figure
//!   `/status` reports), then requests/s of one vs two `agora-indexer serve` processes on the
//!   replica under the same load.
//!
//! The chain is generated once per size and seed and saved (anvil's state, gzipped) under
//! `~/.cache/agora/bench/` (`$AGORA_CACHE/bench/`), so every later run indexes the same blocks.
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

use agora_contracts::{DeployParams, Deployment, compute_market::IComputeMarket::OpenJobParams, tx};
use agora_indexer::{db::WriteMode, sync::SyncConfig};
use alloy::{
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder, WsConnect, ext::AnvilApi},
    rpc::types::{Filter, TransactionRequest},
    sol_types::SolCall,
};
use common::{Actor, Chain, Db, ETHER, Rng, count, publish_params, sync_to_head};
use futures::{StreamExt, stream};

const PRICE: u128 = 1_000;
const JOB_PRICE: u128 = 500;
const ASSETS: usize = 16;
const TXS_PER_BLOCK: usize = 100;
/// Accounts 2.. buy, consume, pass tokens on, vote and open jobs; account 1 publishes, runs the
/// compute provider and makes the proposals.
const BUYERS: usize = 28;
/// A proposal every this many blocks; votes are cast on it while it is active (the voting period
/// is in seconds: `voting_period / BLOCK_SECONDS` blocks).
const PROPOSAL_EVERY: u64 = 10;
/// Seconds between two generated blocks, as on mainnet.
const BLOCK_SECONDS: u64 = 12;
/// Bumped whenever `generate` changes: a chain saved by another version is not reused.
const GENERATOR_VERSION: u32 = 5;

/// The generated chain as saved next to its anvil state.
#[derive(serde::Serialize, serde::Deserialize)]
struct Generated {
    /// Events the generator expects (the indexed count is the measure; reverted transactions
    /// would make it smaller).
    events: u64,
    deployment: Deployment,
    /// Every contract that emits events: the protocol's and the access-token clones.
    addresses: Vec<Address>,
    /// The published assets.
    assets: Vec<U256>,
}

/// The seeded chain of `target` events: loaded from the saved anvil state in the cache when a
/// previous run generated it, else generated, saved and then loaded, so every run indexes the
/// same chain (same blocks, same hashes).
async fn saved_chain(target: u64, seed: u64) -> (Chain, Generated) {
    let dir = agora_deploy::services::cache_dir()
        .join("bench")
        .join(format!("indexer-{target}-seed{seed}-v{GENERATOR_VERSION}"));
    let (state, saved) = (dir.join("anvil-state.json.gz"), dir.join("chain.json"));
    if !(state.is_file() && saved.is_file()) {
        std::fs::create_dir_all(&dir).unwrap();
        let t = Instant::now();
        let chain = Chain::deploy_with(anvil(&[]), bench_params()).await;
        let generated = generate(&chain, target, seed).await;
        // Blocks, transactions and receipts, gzipped by anvil.
        let dump = chain.provider().anvil_dump_state().await.expect("anvil_dumpState");
        let partial = dir.join("anvil-state.json.gz.part");
        std::fs::write(&partial, &dump).unwrap();
        std::fs::rename(&partial, &state).unwrap();
        std::fs::write(&saved, serde_json::to_vec_pretty(&generated).unwrap()).unwrap();
        println!(
            "generated ~{} events in {} blocks in {:.1?}; saved to {} ({} MB)",
            generated.events,
            chain.head().await,
            t.elapsed(),
            dir.display(),
            dump.len() >> 20
        );
    }
    let generated: Generated = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    // anvil reads plain JSON only: it is unzipped into a pipe as anvil reads it, never to disk.
    let pipe_dir = tempfile::tempdir().unwrap();
    let pipe = pipe_dir.path().join("anvil-state.json");
    assert!(std::process::Command::new("mkfifo").arg(&pipe).status().unwrap().success(), "mkfifo");
    let writer = {
        let (state, pipe) = (state.clone(), pipe.clone());
        std::thread::spawn(move || {
            let mut unzip = flate2::read::GzDecoder::new(std::fs::File::open(state).unwrap());
            std::io::copy(&mut unzip, &mut std::fs::File::create(pipe).unwrap()).unwrap();
        })
    };
    let t = Instant::now();
    let anvil = anvil(&["--load-state", pipe.to_str().unwrap()]);
    writer.join().expect("unzip the saved state");
    let chain = Chain::attach(anvil, generated.deployment.clone(), bench_params());
    println!(
        "chain of ~{} events, {} blocks, loaded from {} in {:.1?}",
        generated.events,
        chain.head().await,
        dir.display(),
        t.elapsed()
    );
    (chain, generated)
}

fn anvil(args: &[&str]) -> AnvilInstance {
    let accounts = (BUYERS + 2).to_string();
    Anvil::at(common::anvil_path())
        // No history of states: each is a full copy (tens of MB at 1M events), and anvil
        // otherwise keeps hundreds in memory and writes the older ones to disk.
        .args(["--gas-limit", "1000000000", "--accounts", &accounts, "--prune-history", "1"])
        .args(args)
        .timeout(600_000)
        .try_spawn()
        .expect("spawn anvil")
}

/// The local settings with a one-second challenge window, so a job finalizes two blocks after
/// its result.
fn bench_params() -> DeployParams {
    DeployParams { challenge_window: 1, ..DeployParams::local() }
}

/// One transaction: who sends it (an index into the senders) and what.
type Pending = (usize, TransactionRequest);

/// Sends `target` events' worth of transactions, `TXS_PER_BLOCK` per block (plus the
/// provider's and the proposer's), automine off: purchases, consumes, access-token and
/// governance-token transfers, revenue releases, compute jobs (opened, result posted,
/// finalized), proposals and votes.
async fn generate(chain: &Chain, target: u64, seed: u64) -> Generated {
    let publisher = chain.actor(1);
    let as_publisher = chain.as_actor(&publisher);
    let mut tokens = Vec::new();
    for i in 0..ASSETS {
        let p = publish_params(publisher.address, (i % 3) as u8, PRICE, &format!("bafy-bench-{i}"), None);
        tokens.push(as_publisher.publish(p).await.unwrap());
    }
    // Kinds cycle dataset, model, algorithm.
    let datasets: Vec<usize> = (0..ASSETS).step_by(3).collect();
    let algorithm = tokens[2].asset_id;
    let buyers = buyers(chain);
    // Voting power: every buyer holds AGORA delegated to itself.
    const AGORA_EACH: u64 = 1_000;
    for b in &buyers {
        tx::send("give AGORA", chain.agora.token.transfer(b.address, ETHER * U256::from(AGORA_EACH)))
            .await
            .unwrap();
        tx::send("delegate", chain.as_actor(b).token.delegate(b.address)).await.unwrap();
    }
    tx::send(
        "register the provider",
        as_publisher
            .compute_market
            .registerProvider("http://127.0.0.1:9/compute".into(), Address::ZERO, JOB_PRICE)
            .value(chain.params.min_stake),
    )
    .await
    .unwrap();

    // Senders: the buyers, then the publisher.
    let mut senders: Vec<Actor> = buyers.clone();
    senders.push(publisher.clone());
    let mut nonces = next_nonces(chain, &senders).await;
    let publisher_index = buyers.len();
    // What each buyer holds per asset, and AGORA in whole tokens, so nothing reverts.
    let mut held = vec![vec![0u64; ASSETS]; buyers.len()];
    let mut agora_held = vec![AGORA_EACH; buyers.len()];
    // Assets bought in earlier blocks and not released since: a release of them never reverts.
    let mut owed = [false; ASSETS];
    // Proposals open to votes: (id, first and last block to vote in, who voted).
    let mut proposals: Vec<(U256, u64, u64, Vec<bool>)> = Vec::new();
    // Jobs opened in the last block (their results are posted in this one), and the results
    // posted in the last two blocks (finalized two blocks after their result).
    let mut next_job = U256::from(1);
    let mut opened_last: Vec<U256> = Vec::new();
    let mut posted: std::collections::VecDeque<Vec<U256>> = Default::default();
    let deadline = chain.now().await + 365 * 24 * 3_600;

    chain.provider().anvil_set_auto_mine(false).await.unwrap();
    let mut rng = Rng(seed);
    let mut events = 0u64;
    let mut block = chain.head().await;
    // BLOCK_SECONDS a block (and the same timestamps on every generation).
    let mut timestamp = chain.now().await;
    let gas_price = chain.provider().get_gas_price().await.unwrap() * 2;
    while events < target {
        block += 1;
        let mut pending: Vec<Pending> = Vec::new();
        let mut bought = [false; ASSETS];

        // The proposer and the provider.
        if block.is_multiple_of(PROPOSAL_EVERY) {
            let call = agora_contracts::Marketplace::delistCall {
                assetId: tokens[(block / PROPOSAL_EVERY) as usize % ASSETS].asset_id,
                reasonCid: "bafy-bench-reason".into(),
            };
            let (targets, values, calldatas) = (
                vec![chain.deployment.contracts.marketplace],
                vec![U256::ZERO],
                vec![call.abi_encode().into()],
            );
            let description = format!("bench proposal at block {block}");
            let id = as_publisher
                .governor
                .hashProposal(targets.clone(), values.clone(), calldatas.clone(), keccak256(&description))
                .call()
                .await
                .unwrap();
            // Voting opens in the first block after the snapshot time (one voting delay on) and
            // closes at the end of the voting period: both times, in blocks of BLOCK_SECONDS.
            let opens = block + chain.params.voting_delay.div_ceil(BLOCK_SECONDS) + 1;
            let lasts = u64::from(chain.params.voting_period) / BLOCK_SECONDS;
            proposals.push((id, opens, opens + lasts - 1, vec![false; buyers.len()]));
            events += 1; // ProposalCreated
            let propose = as_publisher.governor.propose(targets, values, calldatas, description);
            pending.push((publisher_index, propose.into_transaction_request()));
        }
        proposals.retain(|(_, _, last, _)| *last >= block);
        let post = std::mem::take(&mut opened_last);
        for &job in &post {
            events += 1; // ResultPosted
            let result = as_publisher.compute_market.postResult(
                job,
                "bafy-bench-result".into(),
                keccak256(job.to_be_bytes::<32>()),
            );
            pending.push((publisher_index, result.into_transaction_request()));
        }
        let finalize = if posted.len() == 2 { posted.pop_front().unwrap() } else { Vec::new() };
        for &job in &finalize {
            events += 1; // JobFinalized
            pending.push((
                publisher_index,
                as_publisher.compute_market.finalize(job).into_transaction_request(),
            ));
        }
        posted.push_back(post);

        for _ in 0..TXS_PER_BLOCK {
            let who = (rng.next() % buyers.len() as u64) as usize;
            let asset = (rng.next() % ASSETS as u64) as usize;
            let dataset = datasets[(rng.next() % datasets.len() as u64) as usize];
            let agora = chain.as_actor(&buyers[who]);
            let to = (who + 1) % buyers.len();
            let action = rng.next() % 100;
            let vote = proposals.iter_mut().find(|(_, first, _, voted)| *first <= block && !voted[who]);
            let call = if action < 3 && owed[asset] {
                owed[asset] = false;
                events += 1; // Released
                agora
                    .splitter
                    .release(tokens[asset].asset_id, Address::ZERO, publisher.address)
                    .into_transaction_request()
            } else if let Some((id, _, _, voted)) = vote.filter(|_| action < 15) {
                voted[who] = true;
                events += 1; // VoteCast
                let support = (rng.next() % 3) as u8;
                if action.is_multiple_of(4) {
                    agora.governor.castVoteWithReason(*id, support, "bench".into()).into_transaction_request()
                } else {
                    agora.governor.castVote(*id, support).into_transaction_request()
                }
            } else if action < 20 && held[who][dataset] > 0 {
                held[who][dataset] -= 1;
                opened_last.push(next_job);
                next_job += U256::from(1);
                events += 3; // Transfer (burn), AccessConsumed, JobOpened
                agora
                    .compute_market
                    .openJob(OpenJobParams {
                        datasetId: tokens[dataset].asset_id,
                        algorithmId: algorithm,
                        provider: publisher.address,
                        specCid: "bafy-bench-spec".into(),
                        currency: Address::ZERO,
                        maxPayment: U256::from(JOB_PRICE),
                        deadline,
                    })
                    .value(U256::from(JOB_PRICE))
                    .into_transaction_request()
            } else if action < 22 && agora_held[who] > 0 {
                agora_held[who] -= 1;
                agora_held[to] += 1;
                events += 3; // Transfer, DelegateVotesChanged × 2
                agora.token.transfer(buyers[to].address, ETHER).into_transaction_request()
            } else if held[who][asset] == 0 || action < 50 {
                held[who][asset] += 3;
                bought[asset] = true;
                events += 2; // Transfer (mint), Purchased
                agora
                    .marketplace
                    .buy(tokens[asset].asset_id, U256::from(3), Address::ZERO, U256::from(PRICE))
                    .value(U256::from(3 * PRICE))
                    .into_transaction_request()
            } else if action < 75 {
                held[who][asset] -= 1;
                events += 2; // Transfer (burn), AccessConsumed
                agora
                    .access_token_at(tokens[asset].access_token)
                    .consume(buyers[0].address)
                    .into_transaction_request()
            } else {
                held[who][asset] -= 1;
                held[to][asset] += 1;
                events += 1; // Transfer
                agora
                    .access_token_at(tokens[asset].access_token)
                    .transfer(buyers[to].address, U256::from(1))
                    .into_transaction_request()
            };
            pending.push((who, call));
        }
        let pending: Vec<_> = pending
            .into_iter()
            .map(|(sender, call)| {
                let nonce = nonces[sender];
                nonces[sender] += 1;
                let tx = call
                    .nonce(nonce)
                    .gas_limit(600_000)
                    .max_fee_per_gas(gas_price)
                    .max_priority_fee_per_gas(1);
                (senders[sender].provider.clone(), tx)
            })
            .collect();
        send_all(pending).await;
        timestamp += BLOCK_SECONDS;
        chain.provider().anvil_set_next_block_timestamp(timestamp).await.unwrap();
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
    let assets = tokens.iter().map(|t| t.asset_id).collect();
    Generated { events, deployment: chain.deployment.clone(), addresses, assets }
}

/// Accounts 2.. of anvil: the buyers.
fn buyers(chain: &Chain) -> Vec<Actor> {
    (2..2 + BUYERS).map(|i| chain.actor(i)).collect()
}

/// The nonce each of `actors` sends with next.
async fn next_nonces(chain: &Chain, actors: &[Actor]) -> Vec<u64> {
    let mut nonces = Vec::with_capacity(actors.len());
    for actor in actors {
        nonces.push(chain.provider().get_transaction_count(actor.address).await.unwrap());
    }
    nonces
}

/// Sends each transaction through its sender's provider, 16 at a time, without waiting for
/// receipts (automine is off: the caller mines them).
async fn send_all(txs: Vec<(DynProvider, TransactionRequest)>) {
    stream::iter(txs)
        .for_each_concurrent(16, |(provider, tx)| async move {
            let _pending = provider.send_transaction(tx).await.expect("send");
        })
        .await;
}

/// Mines `blocks` blocks of `TXS_PER_BLOCK` purchases each.
async fn fill(chain: &Chain, assets: &[U256], blocks: u64) {
    let buyers = buyers(chain);
    let mut nonces = next_nonces(chain, &buyers).await;
    chain.provider().anvil_set_auto_mine(false).await.unwrap();
    for _ in 0..blocks {
        let pending: Vec<_> = (0..TXS_PER_BLOCK)
            .map(|i| {
                let who = i % buyers.len();
                let agora = chain.as_actor(&buyers[who]);
                let buy = agora.marketplace.buy(
                    assets[i % assets.len()],
                    U256::from(1),
                    Address::ZERO,
                    U256::from(PRICE),
                );
                let tx = buy
                    .value(U256::from(PRICE))
                    .into_transaction_request()
                    .nonce(nonces[who])
                    .gas_limit(400_000);
                nonces[who] += 1;
                (buyers[who].provider.clone(), tx)
            })
            .collect();
        send_all(pending).await;
        chain.mine(1).await;
    }
    chain.provider().anvil_set_auto_mine(true).await.unwrap();
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

/// The peak resident memory (`VmHWM`) of process `pid` so far, in MB.
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The real `agora-indexer run` with its default settings backfilling the chain into a fresh
/// database: the time until it has indexed the head, and its peak resident memory by then.
async fn binary_backfill(chain: &Chain, db: &Db, events: i64) -> (Duration, f64) {
    let (url, pool) = db.another_with_url().await;
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.json");
    chain.deployment.write(&manifest).unwrap();
    let head = i64::try_from(chain.head().await).unwrap();
    let t = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_agora-indexer"))
        .args(["run", "--rpc-url", chain.anvil.endpoint().as_str(), "--database-url", &url])
        .args(["--manifest", manifest.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("run agora-indexer");
    let pid = child.id().unwrap();
    while count(&pool, "SELECT COALESCE(max(indexed_block), 0) FROM chain_state").await < head {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("agora-indexer stopped during its backfill: {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = t.elapsed();
    let peak = peak_rss_mb(pid);
    let interrupted = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap();
    assert!(interrupted.success());
    assert!(child.wait().await.unwrap().success(), "agora-indexer failed to stop on SIGINT");
    assert_eq!(count(&pool, "SELECT count(*) FROM events").await, events);
    pool.close().await;
    (elapsed, peak)
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
    let ((chain, generated), db) = tokio::join!(saved_chain(target, 42), Db::start());

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
    let mix: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, count(*) FROM events GROUP BY name ORDER BY count(*) DESC, name")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mix: Vec<String> = mix.iter().map(|(name, n)| format!("{name} {n}")).collect();
    println!("indexed events by kind: {}", mix.join(", "));
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

    let (elapsed, peak) = binary_backfill(&chain, &db, events).await;
    println!(
        "agora-indexer run (the binary, default settings): {events} events in {elapsed:.1?} ({:.0} events/s), \
         peak RSS {peak:.0} MB",
        events as f64 / elapsed.as_secs_f64()
    );

    // Head latency: block announced by the node (a `newHeads` subscription of the benchmark's
    // own) → its purchase served by the indexer's HTTP API, while following.
    let pool = db.another().await;
    let syncer = chain.syncer(&pool, SyncConfig { exit_at_head: false, ..config.clone() });
    let mut syncer = syncer.with_ws(Some(chain.anvil.ws_endpoint()));
    let api = agora_indexer::api::app(agora_indexer::api::AppState {
        pool: pool.clone(),
        chain_id: chain.deployment.chain_id,
        metrics: Some(syncer.metrics()),
        max_lag: 10,
        contracts: Some(chain.deployment.contracts),
        chain: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sales =
        format!("http://{}/assets/{}/sales?limit=1", listener.local_addr().unwrap(), generated.assets[0]);
    tokio::spawn(async move { axum::serve(listener, api).await });
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
    // When each head arrives, recorded as it arrives.
    let ws = ProviderBuilder::new().connect_ws(WsConnect::new(chain.anvil.ws_endpoint())).await.unwrap();
    let mut heads = ws.subscribe_blocks().await.unwrap().into_stream();
    let (arrived, mut arrivals) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(head) = heads.next().await {
            if arrived.send((head.number, Instant::now())).is_err() {
                break;
            }
        }
    });
    let http = alloy::transports::http::reqwest::Client::new();
    let agora = chain.as_actor(&chain.actor(2));
    let mut latencies = Vec::new();
    for _ in 0..40 {
        chain.provider().anvil_set_auto_mine(false).await.unwrap();
        let buy = agora.marketplace.buy(generated.assets[0], U256::from(1), Address::ZERO, U256::from(PRICE));
        let tx = *buy.value(U256::from(PRICE)).gas(400_000).send().await.unwrap().tx_hash();
        chain.provider().anvil_mine(Some(1), None).await.unwrap();
        let (_, announced) = arrivals.recv().await.expect("a new head");
        loop {
            let page: serde_json::Value = http.get(&sales).send().await.unwrap().json().await.unwrap();
            if page["items"][0]["txHash"] == serde_json::json!(tx.to_string()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(announced.elapsed().as_secs_f64() * 1e3);
        chain.provider().anvil_set_auto_mine(true).await.unwrap();
    }
    stop.send(true).unwrap();
    follower.await.unwrap().unwrap();
    println!(
        "head latency (head announced → purchase served by the API): p50 {:.1} ms, p99 {:.1} ms",
        percentile(latencies.clone(), 0.5),
        percentile(latencies, 0.99)
    );

    // 64-block reorg of full blocks: 64 blocks of purchases, indexed, then replaced by 64 empty
    // ones (a snapshot taken before them is reverted to: anvil keeps no older states); rolled
    // back from the undo journal and re-applied.
    let snapshot = chain.provider().anvil_snapshot().await.unwrap();
    fill(&chain, &generated.assets, 64).await;
    let pool = db.another().await;
    let window = SyncConfig { window: 64, ..config.clone() };
    sync_to_head(&chain, &pool, window.clone()).await;
    let orphaned = count(
        &pool,
        "SELECT count(*) FROM events WHERE block_number > (SELECT max(number) - 64 FROM blocks)",
    )
    .await;
    let indexed = count(&pool, "SELECT count(*) FROM events").await;
    assert!(chain.provider().anvil_revert(snapshot).await.unwrap(), "revert to the snapshot");
    chain.mine(64).await;
    let t = Instant::now();
    sync_to_head(&chain, &pool, window).await;
    println!(
        "64-block reorg recovery ({orphaned} of {indexed} events orphaned): {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    replicas(&chain, &generated, config.clone(), events).await;
}

/// One writer on a primary, readers on a streaming replica of it: the replica's lag during the
/// writer's backfill, then the API's requests/s from one and from two read-only processes.
async fn replicas(chain: &Chain, generated: &Generated, config: SyncConfig, events: i64) {
    use agora_deploy::services::postgres::PostgresCluster;
    let primary = PostgresCluster::start().expect("PostgreSQL");
    let url = primary.fresh_database().expect("a database");
    let pool = agora_indexer::db::connect(&url, 8).await.expect("connect and migrate");
    let standby = tokio::task::block_in_place(|| primary.start_replica()).expect("a streaming replica");
    let replica_url = standby.url_of(url.rsplit('/').next().unwrap());
    let replica =
        sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&replica_url).await.unwrap();

    let mut syncer = chain.syncer(&pool, SyncConfig { exit_at_head: true, ..config });
    let writer = tokio::spawn(async move {
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        syncer.run(shutdown).await
    });
    let mut lags = Vec::new();
    let t = Instant::now();
    while !writer.is_finished() {
        let status = agora_indexer::db::replication(&replica).await.unwrap();
        lags.push(status.lag_seconds.unwrap_or(0.0) * 1e3);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    writer.await.unwrap().unwrap();
    let backfill = t.elapsed();
    let head = count(&pool, "SELECT indexed_block FROM chain_state").await;
    let caught_up = Instant::now();
    while count(&replica, "SELECT COALESCE(max(indexed_block), 0) FROM chain_state").await < head {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "replica during the writer's backfill ({events} events in {backfill:.1?}, {} samples): replay lag \
         p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; caught up {:.0} ms after the writer finished",
        lags.len(),
        percentile(lags.clone(), 0.5),
        percentile(lags.clone(), 0.99),
        lags.iter().copied().fold(0.0, f64::max),
        caught_up.elapsed().as_secs_f64() * 1e3
    );

    // The API from the replica: one `serve` process, then two, under the same load.
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.json");
    chain.deployment.write(&manifest).unwrap();
    let serve = || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let listen = listener.local_addr().unwrap();
        drop(listener);
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_agora-indexer"))
            .arg("serve")
            .env("AGORA_RPC_URL", chain.anvil.endpoint())
            .env("AGORA_DATABASE_URL", &replica_url)
            .env("AGORA_MANIFEST", &manifest)
            .env("AGORA_LISTEN", listen.to_string())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("agora-indexer serve");
        (child, format!("http://{listen}"))
    };
    let buyer = format!("{:#x}", chain.actor(2).address);
    let asset = generated.assets[0];
    let routes = [
        "/assets?limit=20".to_owned(),
        format!("/assets/{asset}"),
        format!("/assets/{asset}/sales?limit=20"),
        format!("/accounts/{buyer}"),
        "/proposals?limit=20".to_owned(),
        "/jobs?limit=20".to_owned(),
    ];
    let http = alloy::transports::http::reqwest::Client::new();
    let mut servers = Vec::new();
    let mut rates = Vec::new();
    for instances in [1, 2] {
        while servers.len() < instances {
            let (child, base) = serve();
            let started = Instant::now();
            while http.get(format!("{base}/status")).send().await.is_err() {
                assert!(started.elapsed() < Duration::from_secs(30), "agora-indexer serve did not answer");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            servers.push((child, base));
        }
        let bases: Vec<String> = servers.iter().map(|(_, base)| base.clone()).collect();
        let (rate, errors) = load(&http, &bases, &routes, 32, Duration::from_secs(10)).await;
        assert_eq!(errors, 0, "every request answered 200");
        println!(
            "API from the replica, {instances} serve process(es), 32 requests in flight: {rate:.0} requests/s"
        );
        rates.push(rate);
    }
    println!("two read-only processes vs one: {:.2}x (both on this machine's cores)", rates[1] / rates[0]);
}

/// `in_flight` clients asking `routes` in turn of `bases` in turn for `span`: requests/s and the
/// number of answers that were not 200.
async fn load(
    http: &alloy::transports::http::reqwest::Client,
    bases: &[String],
    routes: &[String],
    in_flight: usize,
    span: Duration,
) -> (f64, usize) {
    let deadline = Instant::now() + span;
    let clients = (0..in_flight).map(|client| async move {
        let (mut done, mut failed, mut i) = (0usize, 0usize, client);
        while Instant::now() < deadline {
            let url = format!("{}{}", bases[i % bases.len()], routes[i % routes.len()]);
            match http.get(url).send().await {
                Ok(response) if response.status().is_success() => {
                    let _ = response.bytes().await;
                    done += 1;
                }
                _ => failed += 1,
            }
            i += 1;
        }
        (done, failed)
    });
    let results = futures::future::join_all(clients).await;
    let done: usize = results.iter().map(|r| r.0).sum();
    (done as f64 / span.as_secs_f64(), results.iter().map(|r| r.1).sum())
}
