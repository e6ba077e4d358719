//! `/rewards/usage` over a database synced from a real anvil equals the recomputation from the
//! chain's raw logs (`agora_contracts::rewards::usage_from_logs`), for the whole chain and for a
//! window that cuts through it; bad windows are refused; AgoraRewards' own events are kept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use agora_contracts::{rewards, tx};
use agora_indexer::api::AppState;
use alloy::primitives::{Address, U256};
use common::{Chain, Db, Server, scenario, small_ranges, sync_to_head};
use serde_json::Value;

fn points(body: &Value) -> rewards::Usage {
    body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["account"].as_str().unwrap().parse().unwrap(), a["points"].as_u64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indexed_usage_equals_the_recomputation_from_raw_logs() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let genesis = chain.now().await;
    let s = scenario(&chain).await;
    let middle = chain.now().await;
    // More use after the middle: a sale that pays a fee, by another buyer (its first token is the
    // listing's free one, so it buys two).
    let late = chain.actor(8);
    let as_late = chain.as_actor(&late);
    let listing = tx::call("getListing", chain.agora.marketplace.getListing(s.dataset)).await.unwrap();
    let price = U256::from(listing.price.to::<u128>());
    tx::send("buy", as_late.marketplace.buy(s.dataset, U256::from(2), Address::ZERO, price).value(price))
        .await
        .unwrap();
    // An epoch that ended before any of this is funded (as the timelock) and claimed: the
    // indexer keeps AgoraRewards' events like every contract's.
    let length = 3_600;
    let epoch = (genesis - agora_contracts::deploy::PRESET_REWARDS_EPOCH_START) / length - 1;
    let amount = U256::from(1_000u64);
    let tree = rewards::Distribution::new([(s.buyer.address, amount)].into());
    agora_contracts::anvil::fund_rewards_epoch(
        chain.anvil.endpoint_url(),
        &chain.deployment,
        U256::from(epoch),
        tree.root(),
        tree.total(),
    )
    .await
    .unwrap();
    let (_, proof) = tree.proof(s.buyer.address).unwrap();
    tx::send("claim", chain.agora.rewards.claim(U256::from(epoch), s.buyer.address, amount, proof))
        .await
        .unwrap();
    chain.advance(10).await;
    let end = chain.now().await;
    sync_to_head(&chain, &db.pool, small_ranges(8)).await;
    let server = Server::start(AppState {
        pool: db.pool.clone(),
        chain_id: chain.deployment.chain_id,
        metrics: None,
        max_lag: 5,
        contracts: Some(chain.deployment.contracts),
        chain: None,
    })
    .await;

    for (start, stop) in [(genesis, end), (middle, end), (genesis, middle)] {
        let indexed = points(&server.ok(&format!("/rewards/usage?start={start}&end={stop}")).await);
        let logs =
            rewards::usage_from_logs(chain.provider(), &chain.deployment, (start, stop)).await.unwrap();
        assert_eq!(indexed, logs, "window [{start}, {stop})");
        assert!(!logs.is_empty(), "window [{start}, {stop}) has use");
    }
    let whole = points(&server.ok(&format!("/rewards/usage?start={genesis}&end={end}")).await);
    // The scenario's buyer bought (a fee-paying sale), consumed and had a job finalized; its
    // provider finalized one job.
    assert!(
        whole[&s.buyer.address]
            >= rewards::BUYER_POINTS + rewards::ORDER_POINTS + rewards::JOB_CONSUMER_POINTS
    );
    assert!(whole[&s.provider.address] >= rewards::PROVIDER_POINTS);
    assert_eq!(whole.get(&chain.deployment.contracts.timelock), None, "the protocol earns nothing");
    let late_only = points(&server.ok(&format!("/rewards/usage?start={middle}&end={end}")).await);
    assert!(
        late_only.contains_key(&late.address) && !late_only.contains_key(&s.provider.address),
        "{late_only:?}"
    );

    let kept: Vec<(String, String)> = sqlx::query_as(
        "SELECT source, name FROM events WHERE source = 'AgoraRewards' ORDER BY block_number, log_index",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let kept: Vec<(&str, &str)> = kept.iter().map(|(s, n)| (s.as_str(), n.as_str())).collect();
    // Its owner (the timelock) set at deployment, the epoch the scenario funded, the claim.
    assert_eq!(
        kept,
        [
            ("AgoraRewards", "OwnershipTransferred"),
            ("AgoraRewards", "EpochFunded"),
            ("AgoraRewards", "RewardClaimed")
        ]
    );

    for bad in [
        "start=5&end=5",
        "start=9&end=3",
        "start=-1&end=3",
        "start=0&end=99999999999",
        "start=x&end=1",
        "end=1",
    ] {
        let (status, body) = server.get(&format!("/rewards/usage?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}
