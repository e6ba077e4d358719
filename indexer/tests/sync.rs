//! Backfill against a real anvil and a real PostgreSQL: every event of a scripted scenario lands
//! in the right tables with the values the contracts report through their getters, replays
//! are no-ops, and the checkpoint guards against two writers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use agora_contracts::tx;
use agora_indexer::{
    db::{self, Batch, DbError, WriteMode},
    sync::SyncConfig,
};
use alloy::primitives::{Address, U256};
use common::{Chain, Db, count, dump, scenario, small_ranges, sync_to_head};
use sqlx::Row;

fn addr(a: Address) -> Vec<u8> {
    a.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_mirrors_the_contracts_state() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let s = scenario(&chain).await;
    // Window 4: most of the chain is synced in (small, concurrent) ranges, the rest block by block.
    let syncer = sync_to_head(&chain, &db.pool, small_ranges(4)).await;
    let head = chain.head().await;
    assert_eq!(syncer.indexed_block(), head);
    let pool = &db.pool;

    // Assets: owner, token, version, metadata, as `getAsset` reports them.
    for (id, token) in [(s.dataset, s.dataset_token), (s.algorithm, s.algorithm_token)] {
        let on_chain = tx::call("getAsset", chain.agora.registry.getAsset(id)).await.unwrap();
        let owner = tx::call("ownerOf", chain.agora.registry.ownerOf(id)).await.unwrap();
        let row = sqlx::query(
            "SELECT owner, access_token, kind, version, content_digest, metadata_cid FROM assets WHERE asset_id = $1::numeric",
        )
        .bind(id.to_string())
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(row.get::<Vec<u8>, _>(0), addr(owner));
        assert_eq!(row.get::<Vec<u8>, _>(1), addr(token));
        assert_eq!(row.get::<i16, _>(2), i16::from(on_chain.kind));
        assert_eq!(row.get::<i32, _>(3), on_chain.version as i32);
        assert_eq!(row.get::<Vec<u8>, _>(4), on_chain.contentDigest.to_vec());
        assert_eq!(row.get::<String, _>(5), on_chain.metadataCid);

        // Listings as `getListing` reports them.
        let listing = tx::call("getListing", chain.agora.marketplace.getListing(id)).await.unwrap();
        let row = sqlx::query("SELECT currency, price::text, free_per_address, delisted FROM listings WHERE asset_id = $1::numeric")
            .bind(id.to_string())
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(row.get::<Vec<u8>, _>(0), addr(listing.currency));
        assert_eq!(row.get::<String, _>(1), listing.price.to_string());
        assert_eq!(row.get::<i32, _>(2), i32::from(listing.freePerAddress));
        assert_eq!(row.get::<bool, _>(3), listing.delisted);
    }
    assert_eq!(count(pool, "SELECT count(*) FROM asset_versions").await, 3);

    // Access-token balances of every holder as `balanceOf` reports them.
    let token = chain.agora.access_token_at(s.dataset_token);
    for holder in [&s.buyer, &s.friend, &s.provider] {
        let balance = tx::call("balanceOf", token.balanceOf(holder.address)).await.unwrap();
        let stored: Option<String> =
            sqlx::query_scalar("SELECT balance::text FROM access_balances WHERE token = $1 AND holder = $2")
                .bind(addr(s.dataset_token))
                .bind(addr(holder.address))
                .fetch_optional(pool)
                .await
                .unwrap();
        assert_eq!(
            stored.unwrap_or_else(|| "0".into()),
            balance.to_string(),
            "balance of {}",
            holder.address
        );
    }

    // Orders: one per `ordersIssued` (a consume and the job's spend).
    let issued = tx::call("ordersIssued", token.ordersIssued()).await.unwrap();
    assert_eq!(
        count(pool, "SELECT count(*) FROM access_orders").await,
        i64::try_from(issued.to::<u64>()).unwrap()
    );
    let consumers: Vec<Vec<u8>> = sqlx::query_scalar("SELECT consumer FROM access_orders ORDER BY order_id")
        .fetch_all(pool)
        .await
        .unwrap();
    assert!(consumers.iter().all(|c| *c == addr(s.buyer.address)));

    // The purchase, with the fee the marketplace took.
    let row = sqlx::query("SELECT buyer, amount::text, paid::text, fee::text FROM purchases")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(row.get::<Vec<u8>, _>(0), addr(s.buyer.address));
    assert_eq!(row.get::<String, _>(1), "4");
    let paid: U256 = row.get::<String, _>(2).parse().unwrap();
    let fee: U256 = row.get::<String, _>(3).parse().unwrap();
    assert_eq!(paid, U256::from(4_000_000_000_000_000u128));
    assert_eq!(fee, paid * U256::from(chain.params.marketplace_fee_bps) / U256::from(10_000));

    // Split and release.
    let split = tx::call("getSplit", chain.agora.splitter.getSplit(s.dataset)).await.unwrap();
    let row = sqlx::query("SELECT recipients, bps FROM splits WHERE asset_id = $1::numeric")
        .bind(s.dataset.to_string())
        .fetch_one(pool)
        .await
        .unwrap();
    let recipients: Vec<Vec<u8>> = row.get(0);
    let bps: Vec<i32> = row.get(1);
    assert_eq!(recipients, split.iter().map(|sh| addr(sh.recipient)).collect::<Vec<_>>());
    assert_eq!(bps, split.iter().map(|sh| i32::from(sh.bps)).collect::<Vec<_>>());
    let released = tx::call("totalReleased", chain.agora.splitter.totalReleased(s.dataset, Address::ZERO))
        .await
        .unwrap();
    let stored: String =
        sqlx::query_scalar("SELECT sum(amount)::text FROM releases WHERE asset_id IS NOT NULL")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(stored, released.to_string());

    // Compute: provider and job as the market reports them.
    let p =
        tx::call("getProvider", chain.agora.compute_market.getProvider(s.provider.address)).await.unwrap();
    let row = sqlx::query("SELECT endpoint, price::text, stake::text, active FROM compute_providers")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>(0), p.endpoint);
    assert_eq!(row.get::<String, _>(1), p.price.to_string());
    assert_eq!(row.get::<String, _>(2), p.stake.to_string());
    assert!(row.get::<bool, _>(3));
    let job = tx::call("getJob", chain.agora.compute_market.getJob(s.job_id)).await.unwrap();
    let row = sqlx::query(
        "SELECT status, payment::text, output_hash, challenge_end, consumer, challenger FROM jobs WHERE job_id = $1::numeric",
    )
    .bind(s.job_id.to_string())
    .fetch_one(pool)
    .await
    .unwrap();
    // Disputed by the buyer, ruled against the provider: its stake above is the slashed one.
    assert_eq!(job.status, 6, "RuledAgainstProvider");
    assert!(U256::from(p.stake) < chain.params.min_stake, "slashed");
    assert_eq!(row.get::<String, _>(0), "ruled_against_provider");
    assert_eq!(row.get::<Option<Vec<u8>>, _>(5), Some(addr(s.buyer.address)));
    assert_eq!(row.get::<String, _>(1), job.payment.to_string());
    assert_eq!(row.get::<Option<Vec<u8>>, _>(2), Some(job.outputHash.to_vec()));
    assert_eq!(row.get::<Option<i64>, _>(3), Some(i64::try_from(job.challengeEnd).unwrap()));
    assert_eq!(row.get::<Vec<u8>, _>(4), addr(job.consumer));
    // The finalized job: payout and fee add up to its payment; the refunded one: all of it back.
    let finalized = tx::call("getJob", chain.agora.compute_market.getJob(s.finalized_job)).await.unwrap();
    let refunded = tx::call("getJob", chain.agora.compute_market.getJob(s.refunded_job)).await.unwrap();
    assert_eq!((finalized.status, refunded.status), (4, 5), "Finalized, Refunded");
    let rows = sqlx::query(
        "SELECT status, result_cid, (provider_payout + fee)::text, refunded::text, payment::text FROM jobs
         WHERE job_id IN ($1::numeric, $2::numeric) ORDER BY job_id",
    )
    .bind(s.finalized_job.to_string())
    .bind(s.refunded_job.to_string())
    .fetch_all(pool)
    .await
    .unwrap();
    let row = |i: usize| {
        let r = &rows[i];
        (
            r.get::<String, _>(0),
            r.get::<Option<String>, _>(1),
            r.get::<Option<String>, _>(2),
            r.get::<Option<String>, _>(3),
        )
    };
    let payment = finalized.payment.to_string();
    assert_eq!(row(0), ("finalized".into(), Some("bafy-result-2".into()), Some(payment.clone()), None));
    assert_eq!(row(1), ("refunded".into(), None, None, Some(refunded.payment.to_string())));

    // Governance: the proposal's tallies as `proposalVotes` reports them, the vote, the delegation.
    let votes = tx::call("proposalVotes", chain.agora.governor.proposalVotes(s.proposal_id)).await.unwrap();
    let row = sqlx::query("SELECT votes_against::text, votes_for::text, votes_abstain::text, status FROM proposals WHERE proposal_id = $1::numeric")
        .bind(s.proposal_id.to_string())
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>(0), votes.againstVotes.to_string());
    assert_eq!(row.get::<String, _>(1), votes.forVotes.to_string());
    assert_eq!(row.get::<String, _>(2), votes.abstainVotes.to_string());
    assert_eq!(row.get::<String, _>(3), "executed");
    let state = tx::call("state", chain.agora.governor.state(s.proposal_id)).await.unwrap();
    assert_eq!(state, 7, "Executed");
    let delisted: bool = sqlx::query_scalar("SELECT delisted FROM listings WHERE asset_id = $1::numeric")
        .bind(s.algorithm.to_string())
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(delisted);
    assert_eq!(count(pool, "SELECT count(*) FROM votes").await, 1);
    let delegate: Vec<u8> = sqlx::query_scalar("SELECT delegate FROM delegations WHERE delegator = $1")
        .bind(addr(s.voter.address))
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(delegate, addr(s.voter.address));

    // Every log of every Agora address is stored, once: compare with one unfiltered query.
    let mut addresses: Vec<Address> = vec![
        chain.deployment.contracts.agora_token,
        chain.deployment.contracts.timelock,
        chain.deployment.contracts.governor,
        chain.deployment.contracts.asset_registry,
        chain.deployment.contracts.marketplace,
        chain.deployment.contracts.revenue_splitter,
        chain.deployment.contracts.compute_market,
        s.dataset_token,
        s.algorithm_token,
    ];
    addresses.sort();
    let filter = alloy::rpc::types::Filter::new()
        .from_block(chain.deployment.deployment_block)
        .to_block(head)
        .address(addresses);
    let logs = alloy::providers::Provider::get_logs(&chain.reader, &filter).await.unwrap();
    assert_eq!(count(pool, "SELECT count(*) FROM events").await, i64::try_from(logs.len()).unwrap());
    assert_eq!(count(pool, "SELECT count(*) FROM events WHERE name = 'unknown'").await, 0);

    // A second database synced with other range sizes is identical, row for row.
    let other = db.another().await;
    let mut config = small_ranges(2);
    config.initial_range = 1000;
    config.concurrency = 1;
    sync_to_head(&chain, &other, config).await;
    assert_eq!(dump(pool).await, dump(&other).await);
    // And so is one synced block by block (journaled, per-event writes, no set-based ones).
    let by_block = db.another().await;
    sync_to_head(&chain, &by_block, small_ranges(1_000)).await;
    assert_eq!(dump(pool).await, dump(&by_block).await);
    // The write modes (binary COPY by default, array-bound INSERTs, one INSERT per row) give the
    // same rows.
    for write_mode in [WriteMode::Unnest, WriteMode::RowByRow] {
        let other = db.another().await;
        sync_to_head(&chain, &other, SyncConfig { write_mode, ..small_ranges(4) }).await;
        assert_eq!(dump(pool).await, dump(&other).await, "{write_mode:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_a_batch_is_a_no_op_and_the_checkpoint_guards_it() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    scenario(&chain).await;
    sync_to_head(&chain, &db.pool, small_ranges(4)).await;
    let before = dump(&db.pool).await;
    let chain_id = chain.deployment.chain_id;
    let checkpoint = db::checkpoint(&db.pool, chain_id).await.unwrap().unwrap();

    // Rebuild the batch of the whole chain from the stored raw events and commit it again
    // at the current checkpoint: the unique key makes it a no-op for events and derived rows.
    // In every write mode, journaled (block by block) or not (ranges).
    let logs = stored_logs(&db.pool).await;
    let batch = Batch {
        from: checkpoint.indexed_block,
        to: checkpoint.indexed_block,
        logs,
        clones: Vec::new(),
        blocks: Vec::new(),
        head: checkpoint.indexed_block,
        journal: true,
    };
    for mode in [WriteMode::Copy, WriteMode::Unnest, WriteMode::RowByRow] {
        for journal in [true, false] {
            let replay = Batch { journal, ..batch.clone() };
            let new = db::commit(&db.pool, chain_id, &replay, 64, mode).await.unwrap();
            assert_eq!(new, 0, "{mode:?}, journal {journal}");
            assert_eq!(dump(&db.pool).await, before, "{mode:?}, journal {journal}");
        }
    }

    // A batch that does not start at the checkpoint (a second writer) changes nothing.
    let stale = Batch { from: checkpoint.indexed_block - 1, ..batch };
    let err = db::commit(&db.pool, chain_id, &stale, 64, WriteMode::Copy).await.unwrap_err();
    assert!(matches!(err, DbError::CheckpointMoved { .. }), "{err}");
    assert_eq!(dump(&db.pool).await, before);

    // Restarting the syncer on the same database indexes nothing twice.
    sync_to_head(&chain, &db.pool, small_ranges(4)).await;
    assert_eq!(dump(&db.pool).await, before);

    // Reset deletes every row of the chain.
    db::reset(&db.pool, chain_id).await.unwrap();
    assert_eq!(count(&db.pool, "SELECT count(*) FROM events").await, 0);
    assert!(db::checkpoint(&db.pool, chain_id).await.unwrap().is_none());
}

async fn stored_logs(
    pool: &sqlx::PgPool,
) -> Vec<(agora_indexer::decode::RawLog, agora_indexer::decode::Decoded)> {
    use agora_indexer::decode::{RawLog, Source, decode};
    use alloy::primitives::{B256, Bytes};
    let rows = sqlx::query(
        "SELECT block_number, block_hash, log_index, tx_hash, address, source, topics, data FROM events ORDER BY block_number, log_index",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.iter()
        .map(|row| {
            let topics: Vec<u8> = row.get(6);
            let log = RawLog {
                block_number: row.get::<i64, _>(0) as u64,
                block_hash: B256::from_slice(&row.get::<Vec<u8>, _>(1)),
                log_index: row.get::<i64, _>(2) as u64,
                tx_hash: B256::from_slice(&row.get::<Vec<u8>, _>(3)),
                address: Address::from_slice(&row.get::<Vec<u8>, _>(4)),
                topics: topics.chunks(32).map(B256::from_slice).collect(),
                data: Bytes::from(row.get::<Vec<u8>, _>(7)),
            };
            let source = match row.get::<&str, _>(5) {
                "AgoraToken" => Source::Token,
                "AgoraTimelock" => Source::Timelock,
                "AgoraGovernor" => Source::Governor,
                "AssetRegistry" => Source::Registry,
                "Marketplace" => Source::Marketplace,
                "RevenueSplitter" => Source::Splitter,
                "ComputeMarket" => Source::Compute,
                _ => Source::AccessToken,
            };
            let decoded = decode(source, &log.topics, &log.data);
            (log, decoded)
        })
        .collect()
}
