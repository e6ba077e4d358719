//! Live following on a real anvil: new blocks arrive over WebSocket `newHeads` (with a long
//! poll interval, so only the subscription can explain the speed) or by polling alone; a node
//! that goes away and comes back is waited for, never a reason to exit; a subscription that
//! goes silent is noticed by the head watchdog, which polls and subscribes again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use agora_contracts::tx;
use agora_indexer::sync::{SyncConfig, Syncer, http_provider};
use alloy::primitives::{Address, U256};
use common::{Chain, Db, Proxy, SCENARIO_PURCHASES, count, eventually, scenario};
use sqlx::PgPool;
use tokio::sync::watch;

async fn buy_one(chain: &Chain, s: &common::Scenario) {
    let quote = tx::call("quote", chain.agora.marketplace.quote(s.dataset, s.buyer.address, U256::from(1)))
        .await
        .unwrap();
    let listing = tx::call("getListing", chain.agora.marketplace.getListing(s.dataset)).await.unwrap();
    tx::send(
        "buy",
        chain
            .as_actor(&s.buyer)
            .marketplace
            .buy(s.dataset, U256::from(1), Address::ZERO, U256::from(listing.price))
            .value(quote.cost),
    )
    .await
    .expect("buy");
}

fn spawn(mut syncer: Syncer) -> (watch::Sender<bool>, tokio::task::JoinHandle<Syncer>) {
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(async move {
        syncer.run(shutdown).await.expect("the syncer never stops on its own");
        syncer
    });
    (stop, task)
}

/// Purchases indexed, counting the scenario's as one (the test's own come after it).
async fn purchases(pool: &PgPool) -> i64 {
    count(pool, "SELECT count(*) FROM purchases").await - (SCENARIO_PURCHASES - 1)
}

fn following(poll_interval: Duration) -> SyncConfig {
    SyncConfig { window: 8, poll_interval, ..SyncConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_blocks_arrive_over_websocket_heads() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let s = scenario(&chain).await;
    // A 30 s poll: only the WebSocket subscription can make new blocks show up quickly.
    let syncer =
        chain.syncer(&db.pool, following(Duration::from_secs(30))).with_ws(Some(chain.anvil.ws_endpoint()));
    let (stop, task) = spawn(syncer);
    eventually(20, "the backfill", || async { purchases(&db.pool).await == 1 }).await;
    // Give the loop time to subscribe and go to sleep at the head.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in 2..=3 {
        buy_one(&chain, &s).await;
        eventually(5, "a purchase delivered by newHeads", || async { purchases(&db.pool).await == n }).await;
    }
    stop.send(true).unwrap();
    let syncer = task.await.unwrap();
    assert_eq!(syncer.indexed_block(), chain.head().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_follows_and_a_blinking_node_is_waited_for() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let s = scenario(&chain).await;
    let mut proxy = Proxy::start(chain.anvil.port()).await;
    let syncer = Syncer::new(
        http_provider(proxy.url()),
        db.pool.clone(),
        &chain.deployment,
        following(Duration::from_millis(50)),
    );
    let metrics = syncer.metrics();
    let (stop, task) = spawn(syncer);
    eventually(20, "the backfill", || async { purchases(&db.pool).await == 1 }).await;

    // The node goes away for longer than the transport's retries last, blocks are mined meanwhile...
    proxy.down().await;
    buy_one(&chain, &s).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!task.is_finished(), "the syncer exited while the node was away");
    assert_eq!(purchases(&db.pool).await, 1);
    // ...and comes back: the syncer catches up on its own.
    proxy.up().await;
    eventually(20, "catching up after the node came back", || async { purchases(&db.pool).await == 2 }).await;
    buy_one(&chain, &s).await;
    eventually(5, "following again", || async { purchases(&db.pool).await == 3 }).await;
    stop.send(true).unwrap();
    task.await.unwrap();
    assert!(metrics.head_block.load(std::sync::atomic::Ordering::Relaxed) >= chain.head().await - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_websocket_subscription_is_noticed_and_replaced() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let s = scenario(&chain).await;
    // WebSocket through a proxy that can freeze it; a 30 s poll, so neither polling nor the old
    // subscription can explain a new block showing up within seconds: only the watchdog can.
    let proxy = Proxy::start(chain.anvil.port()).await;
    let config = SyncConfig { head_timeout: Duration::from_secs(1), ..following(Duration::from_secs(30)) };
    let syncer = chain.syncer(&db.pool, config).with_ws(Some(proxy.ws_url()));
    let metrics = syncer.metrics();
    let (stop, task) = spawn(syncer);
    eventually(20, "the backfill", || async { purchases(&db.pool).await == 1 }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    buy_one(&chain, &s).await;
    eventually(5, "a purchase delivered by newHeads", || async { purchases(&db.pool).await == 2 }).await;
    assert_eq!(metrics.resubscribes.load(std::sync::atomic::Ordering::Relaxed), 0);

    // The subscription's connection goes silent without closing.
    proxy.freeze_open_connections();
    buy_one(&chain, &s).await;
    eventually(8, "a purchase found by the watchdog", || async { purchases(&db.pool).await == 3 }).await;
    assert!(metrics.resubscribes.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    // Following goes on over the new subscription.
    for n in 4..=5 {
        buy_one(&chain, &s).await;
        eventually(5, "a purchase after resubscribing", || async { purchases(&db.pool).await == n }).await;
    }
    stop.send(true).unwrap();
    let syncer = task.await.unwrap();
    assert_eq!(syncer.indexed_block(), chain.head().await);
}
