//! Reorgs on a real anvil: after `anvil_reorg` at depths 1, 5 and 32, and after a
//! snapshot-revert that orphans a published asset (and its clone), the database equals one
//! synced from scratch on the new chain; a reorg deeper than the window stops the syncer with
//! a clear error; a restarted chain is refused unless told to reset.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;

use agora_contracts::tx;
use agora_indexer::sync::{SyncConfig, SyncError};
use alloy::{
    node_bindings::Anvil,
    primitives::{Address, U256},
    providers::ext::AnvilApi,
    rpc::types::anvil::ReorgOptions,
};
use common::{Chain, Db, anvil_path, count, dump, publish_params, scenario, small_ranges, sync_to_head};

/// Buys one dataset access token in a block of its own.
async fn buy_one(chain: &Chain, asset: U256, buyer: &common::Actor) {
    let quote =
        tx::call("quote", chain.agora.marketplace.quote(asset, buyer.address, U256::from(1))).await.unwrap();
    let listing = tx::call("getListing", chain.agora.marketplace.getListing(asset)).await.unwrap();
    tx::send(
        "buy",
        chain
            .as_actor(buyer)
            .marketplace
            .buy(asset, U256::from(1), Address::ZERO, U256::from(listing.price))
            .value(quote.cost),
    )
    .await
    .expect("buy");
}

/// Syncs `db` (already synced once) after a chain change and compares it with a fresh sync.
async fn assert_matches_fresh_sync(chain: &Chain, db: &Db, config: SyncConfig) {
    let syncer = sync_to_head(chain, &db.pool, config.clone()).await;
    assert_eq!(syncer.indexed_block(), chain.head().await);
    let fresh = db.another().await;
    sync_to_head(chain, &fresh, config).await;
    assert_eq!(dump(&db.pool).await, dump(&fresh).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorgs_of_depth_1_5_and_32_are_rolled_back_and_reapplied() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let s = scenario(&chain).await;
    let config = small_ranges(64);
    sync_to_head(&chain, &db.pool, config.clone()).await;

    for depth in [1u64, 5, 32] {
        // A purchase in the newest block, indexed...
        chain.mine(depth.saturating_sub(1)).await;
        buy_one(&chain, s.dataset, &s.friend).await;
        let purchases = count(&db.pool, "SELECT count(*) FROM purchases").await;
        let mut syncer = chain.syncer(&db.pool, SyncConfig { exit_at_head: true, ..config.clone() });
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        syncer.run(shutdown.clone()).await.unwrap();
        assert_eq!(count(&db.pool, "SELECT count(*) FROM purchases").await, purchases + 1);

        // The rows it changed were journaled, so the rollback restores them without a recompute.
        assert!(count(&db.pool, "SELECT count(*) FROM undo_log").await > 0);
        // ...then replaced by empty blocks: the purchase disappears, nothing else changes.
        chain.provider().anvil_reorg(ReorgOptions { depth, tx_block_pairs: Vec::new() }).await.unwrap();
        syncer.run(shutdown).await.unwrap();
        assert_eq!(syncer.metrics().reorgs.load(Ordering::Relaxed), 1, "depth {depth}");
        assert_eq!(count(&db.pool, "SELECT count(*) FROM purchases").await, purchases, "depth {depth}");
        assert_matches_fresh_sync(&chain, &db, config.clone()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reverted_branch_with_a_new_asset_is_forgotten() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let s = scenario(&chain).await;
    let config = small_ranges(64);
    sync_to_head(&chain, &db.pool, config.clone()).await;

    // A branch that publishes an asset (a new clone) and buys from it, indexed, then reverted.
    let snapshot = chain.provider().anvil_snapshot().await.unwrap();
    let as_publisher = chain.as_actor(&s.publisher);
    let orphan = as_publisher
        .publish(publish_params(s.publisher.address, 1, 1_000, "bafy-orphan", None))
        .await
        .unwrap();
    let price = U256::from(1_000);
    tx::send(
        "buy",
        chain
            .as_actor(&s.buyer)
            .marketplace
            .buy(orphan.asset_id, U256::from(2), Address::ZERO, price)
            .value(price * U256::from(2)),
    )
    .await
    .unwrap();
    sync_to_head(&chain, &db.pool, config.clone()).await;
    assert_eq!(count(&db.pool, "SELECT count(*) FROM assets").await, 3);
    assert_eq!(count(&db.pool, "SELECT count(*) FROM access_tokens").await, 3);
    assert!(chain.provider().anvil_revert(snapshot).await.unwrap());

    // The new branch is longer and has other transactions.
    chain.mine(3).await;
    buy_one(&chain, s.dataset, &s.friend).await;
    assert_matches_fresh_sync(&chain, &db, config).await;
    assert_eq!(count(&db.pool, "SELECT count(*) FROM assets").await, 2);
    assert_eq!(count(&db.pool, "SELECT count(*) FROM access_tokens").await, 2);
    let orphan_events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE address = $1")
        .bind(orphan.access_token.to_vec())
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(orphan_events, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_below_the_journal_recomputes_the_derived_tables() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let s = scenario(&chain).await;
    let config = small_ranges(64);
    sync_to_head(&chain, &db.pool, config.clone()).await;
    buy_one(&chain, s.dataset, &s.friend).await;
    sync_to_head(&chain, &db.pool, config.clone()).await;
    // A database whose journal does not reach back to the ancestor (say, written before the
    // journal existed): the rollback recomputes the derived tables from the raw events.
    sqlx::query("UPDATE chain_state SET journal_from = NULL").execute(&db.pool).await.unwrap();
    sqlx::query("DELETE FROM undo_log").execute(&db.pool).await.unwrap();
    chain.provider().anvil_reorg(ReorgOptions { depth: 5, tx_block_pairs: Vec::new() }).await.unwrap();
    assert_matches_fresh_sync(&chain, &db, config.clone()).await;
    // The blocks re-applied after the recompute are journaled: the next reorg undoes them.
    buy_one(&chain, s.dataset, &s.friend).await;
    sync_to_head(&chain, &db.pool, config.clone()).await;
    assert!(count(&db.pool, "SELECT count(*) FROM undo_log").await > 0);
    chain.provider().anvil_reorg(ReorgOptions { depth: 2, tx_block_pairs: Vec::new() }).await.unwrap();
    assert_matches_fresh_sync(&chain, &db, config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_deeper_than_the_window_stops_with_a_clear_error() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    scenario(&chain).await;
    let config = small_ranges(4);
    sync_to_head(&chain, &db.pool, config.clone()).await;
    let before = dump(&db.pool).await;

    chain.provider().anvil_reorg(ReorgOptions { depth: 10, tx_block_pairs: Vec::new() }).await.unwrap();
    let mut syncer = chain.syncer(&db.pool, config);
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let err = syncer.run(shutdown).await.unwrap_err();
    assert!(matches!(err, SyncError::ReorgTooDeep { window: 4, .. }), "{err}");
    assert!(err.to_string().contains("deeper than the 4-block window"), "{err}");
    // Nothing was touched.
    assert_eq!(dump(&db.pool).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_chain_is_refused_unless_told_to_reset() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    scenario(&chain).await;
    sync_to_head(&chain, &db.pool, small_ranges(8)).await;
    drop(chain);

    // A fresh anvil (another genesis timestamp, so another genesis hash), same addresses.
    let anvil = Anvil::at(anvil_path()).arg("--timestamp").arg("1000000").try_spawn().unwrap();
    let restarted = Chain::deploy_on(anvil).await;
    let mut syncer = restarted.syncer(&db.pool, small_ranges(8));
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let err = syncer.run(shutdown.clone()).await.unwrap_err();
    assert!(matches!(err, SyncError::NewChain { .. }), "{err}");
    assert!(err.to_string().contains("agora-indexer reset"), "{err}");

    let mut syncer = restarted.syncer(&db.pool, SyncConfig { reset_on_new_chain: true, ..small_ranges(8) });
    syncer.run(shutdown).await.unwrap();
    assert_eq!(count(&db.pool, "SELECT count(*) FROM assets").await, 0);
    let fresh = db.another().await;
    sync_to_head(&restarted, &fresh, small_ranges(8)).await;
    assert_eq!(dump(&db.pool).await, dump(&fresh).await);
}
