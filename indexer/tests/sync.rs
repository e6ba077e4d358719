//! Backfill against a real anvil and a real PostgreSQL: every event of a scripted scenario lands
//! in the right tables with the values the contracts report through their getters, replays
//! are no-ops, the checkpoint guards against two writers, and no string an event carries (a
//! NUL, invalid UTF-8) can stop the sync.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;

use agora_contracts::tx;
use agora_indexer::{
    api::AppState,
    db::{self, Batch, DbError, WriteMode},
    metadata::{FetchError, MetadataFetcher, RetryPolicy, fetch_pending},
    sync::SyncConfig,
};
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::{Provider, ext::AnvilApi},
    rpc::types::{TransactionRequest, anvil::ReorgOptions},
    sol_types::SolCall,
};
use common::{Chain, Db, ETHER, Server, count, dump, publish_params, scenario, small_ranges, sync_to_head};
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
        chain.deployment.contracts.rewards,
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
        "SELECT block_number, block_hash, log_index, tx_hash, address, source, topics, data, block_timestamp, tx_from
         FROM events ORDER BY block_number, log_index",
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
                block_timestamp: row.get::<Option<i64>, _>(8).map(|t| t as u64),
                tx_from: row.get::<Option<Vec<u8>>, _>(9).map(|a| Address::from_slice(&a)),
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

/// Logs emitted before the hostile ones: more than a batch needs to be written with COPY.
const COPY_LOGS: u8 = 255;

/// Serves one metadata document and records every CID it is asked for.
struct OneDocument {
    cid: &'static str,
    document: &'static str,
    asked: std::sync::Mutex<Vec<String>>,
}

impl MetadataFetcher for OneDocument {
    async fn fetch(&self, cid: &str) -> Result<Vec<u8>, FetchError> {
        self.asked.lock().unwrap().push(cid.to_owned());
        if cid == self.cid {
            Ok(self.document.as_bytes().to_vec())
        } else {
            Err(FetchError::Request { cid: cid.to_owned(), message: "not found".into() })
        }
    }
}

/// One hostile transaction froze the indexer for everyone: the contracts accept any bytes as a
/// string, PostgreSQL refuses a NUL in `text`, so an asset whose metadata CID held `\0` failed
/// its block's batch (`invalid byte sequence for encoding "UTF8": 0x00`) on every attempt and
/// the sync never got past it. Now every NUL of an event's strings is replaced with U+FFFD at
/// decoding (invalid UTF-8 already is), in every write mode, block by block (journaled) and
/// through a reorg's rollback: the sync reaches the head, the hostile asset, proposal, vote and
/// provider are indexed with their strings so replaced, the asset published after them gets its
/// metadata, and the hostile CID fails for good as "not a valid CID" without IPFS being asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strings_postgres_cannot_store_never_stop_the_sync() {
    const NORMAL_CID: &str = "bafkreinormalafterthehostileone";
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let (publisher, provider, voter) = (chain.actor(1), chain.actor(3), chain.actor(5));
    let as_publisher = chain.as_actor(&publisher);
    let as_voter = chain.as_actor(&voter);
    tx::send("transfer AGORA", chain.agora.token.transfer(voter.address, ETHER * U256::from(5_000_000)))
        .await
        .unwrap();
    tx::send("delegate", as_voter.token.delegate(voter.address)).await.unwrap();
    chain.mine(1).await;
    // Enough logs before the hostile ones that a single range over them all is written with
    // binary COPY (a batch of fewer than 256 logs falls back to array-bound inserts).
    let mut last = None;
    for i in 0..COPY_LOGS {
        let approve = chain.agora.token.approve(Address::repeat_byte(0x11), U256::from(i));
        last = Some(approve.send().await.unwrap());
    }
    assert!(last.unwrap().get_receipt().await.unwrap().status());

    // An asset whose metadata CID holds a NUL.
    let hostile =
        as_publisher.publish(publish_params(publisher.address, 0, 1, "bafy\0nul", None)).await.unwrap();
    // A proposal whose description holds one, and a vote whose reason does.
    let (targets, values, calldatas) =
        (vec![chain.deployment.contracts.marketplace], vec![U256::ZERO], vec![Bytes::new()]);
    let description = "pay me\0 everything".to_owned();
    let description_hash = alloy::primitives::keccak256(description.as_bytes());
    let proposal_id = tx::call(
        "hashProposal",
        as_voter.governor.hashProposal(targets.clone(), values.clone(), calldatas.clone(), description_hash),
    )
    .await
    .unwrap();
    tx::send("propose", as_voter.governor.propose(targets, values, calldatas, description)).await.unwrap();
    chain.advance(chain.params.voting_delay + 1).await;
    tx::send("castVote", as_voter.governor.castVoteWithReason(proposal_id, 0, "no\0way".into()))
        .await
        .unwrap();
    // A provider whose endpoint is not even UTF-8 (0xff) and holds a NUL: sent as raw calldata,
    // since a Rust string cannot carry it.
    let register = agora_contracts::ComputeMarket::registerProviderCall {
        endpoint: "http://XYZ".into(),
        currency: Address::ZERO,
        price: 1,
    };
    let mut input = register.abi_encode();
    let at = input.windows(3).position(|w| w == b"XYZ").unwrap();
    input[at..at + 3].copy_from_slice(&[0xff, 0x00, b'!']);
    let request = TransactionRequest::default()
        .to(chain.deployment.contracts.compute_market)
        .input(Bytes::from(input).into())
        .value(chain.params.min_stake);
    let receipt = provider.provider.send_transaction(request).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "registerProvider reverted");
    // And a normal asset after them all.
    let normal =
        as_publisher.publish(publish_params(publisher.address, 1, 1, NORMAL_CID, None)).await.unwrap();

    // Everything above is older than the window of 4 blocks, so it is synced in range mode.
    chain.mine(5).await;

    // Every write mode reaches the head with the same rows, in one range over the whole chain
    // (binary COPY, array-bound inserts, one insert per row), in small ranges, and block by
    // block (journaled, per-event writes).
    let head = chain.head().await;
    let one_range =
        SyncConfig { initial_range: 100_000, max_range: 100_000, target_logs: 100_000, ..small_ranges(4) };
    let syncer =
        sync_to_head(&chain, &db.pool, SyncConfig { write_mode: WriteMode::Copy, ..one_range.clone() }).await;
    assert_eq!(syncer.indexed_block(), head);
    let in_range =
        count(&db.pool, &format!("SELECT count(*) FROM events WHERE block_number <= {}", head - 4)).await;
    assert!(in_range > 256, "the range is written with COPY: {in_range} logs");
    let expected = dump(&db.pool).await;
    let configs = [
        SyncConfig { write_mode: WriteMode::Unnest, ..one_range.clone() },
        SyncConfig { write_mode: WriteMode::RowByRow, ..one_range },
        small_ranges(4),
        small_ranges(1_000),
    ];
    for config in configs {
        let other = db.another().await;
        let what = format!("{:?}, range {}", config.write_mode, config.max_range);
        let syncer = sync_to_head(&chain, &other, config).await;
        assert_eq!(syncer.indexed_block(), head, "{what}");
        assert_eq!(dump(&other).await, expected, "{what}");
    }

    // The strings are stored with U+FFFD in place of each NUL and each invalid byte.
    let pool = &db.pool;
    let cids: Vec<String> = sqlx::query_scalar("SELECT metadata_cid FROM assets ORDER BY asset_id")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(cids, ["bafy\u{fffd}nul", NORMAL_CID]);
    let text = |sql: &'static str| async move {
        sqlx::query_scalar::<_, String>(sql).fetch_one(pool).await.unwrap()
    };
    assert_eq!(text("SELECT description FROM proposals").await, "pay me\u{fffd} everything");
    assert_eq!(text("SELECT reason FROM votes").await, "no\u{fffd}way");
    assert_eq!(text("SELECT endpoint FROM compute_providers").await, "http://\u{fffd}\u{fffd}!");

    // Metadata: the normal asset's is fetched; the hostile CID fails for good, never asked for.
    let fetcher = OneDocument {
        cid: NORMAL_CID,
        document: r#"{"name":"After the storm","description":"Published after a hostile asset"}"#,
        asked: std::sync::Mutex::default(),
    };
    let report = fetch_pending(pool, &fetcher, &RetryPolicy::default(), 10).await.unwrap();
    assert_eq!((report.fetched, report.failed), (1, 1), "{report:?}");
    let report = fetch_pending(pool, &fetcher, &RetryPolicy::default(), 10).await.unwrap();
    assert_eq!((report.fetched, report.failed), (0, 0), "not retried: {report:?}");
    assert_eq!(*fetcher.asked.lock().unwrap(), [NORMAL_CID]);

    // The API lists both assets and shows the replaced strings.
    let state = AppState {
        pool: pool.clone(),
        chain_id: chain.deployment.chain_id,
        metrics: None,
        max_lag: 5,
        contracts: None,
        chain: None,
    };
    let server = Server::start(state).await;
    let page = server.ok("/assets?include_delisted=true").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    let by_id = |id: U256| items.iter().find(|a| a["assetId"] == id.to_string()).unwrap();
    let (bad, good) = (by_id(hostile.asset_id), by_id(normal.asset_id));
    assert_eq!(good["metadataStatus"], "fetched", "{good}");
    assert_eq!(good["metadata"]["name"], "After the storm");
    assert_eq!(bad["metadataCid"], "bafy\u{fffd}nul", "{bad}");
    assert_eq!(bad["metadataStatus"], "failed", "{bad}");
    assert!(bad["metadataError"].as_str().unwrap().contains("not a valid CID"), "{bad}");
    assert_eq!((&bad["metadataAttempts"], &bad["metadata"]), (&1.into(), &serde_json::Value::Null), "{bad}");
    let detail = server.ok(&format!("/assets/{}", hostile.asset_id)).await;
    assert_eq!(detail["metadataStatus"], "failed", "{detail}");
    let proposal = server.ok(&format!("/proposals/{proposal_id}")).await;
    assert_eq!(proposal["description"], "pay me\u{fffd} everything", "{proposal}");
    assert_eq!(proposal["votes"][0]["reason"], "no\u{fffd}way", "{proposal}");
    let providers = server.ok("/providers").await;
    assert_eq!(providers["items"][0]["endpoint"], "http://\u{fffd}\u{fffd}!", "{providers}");

    // A reorg's rollback restores a row holding U+FFFD from the journal: a hostile metadata
    // update, indexed, then replaced by an empty block.
    tx::send(
        "updateMetadata",
        as_publisher.registry.updateMetadata(hostile.asset_id, "bafy\0v2".into(), B256::repeat_byte(2)),
    )
    .await
    .unwrap();
    let config = small_ranges(64);
    let mut syncer = chain.syncer(pool, SyncConfig { exit_at_head: true, ..config.clone() });
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    syncer.run(shutdown.clone()).await.unwrap();
    assert_eq!(text("SELECT metadata_cid FROM assets ORDER BY asset_id LIMIT 1").await, "bafy\u{fffd}v2");
    chain.provider().anvil_reorg(ReorgOptions { depth: 1, tx_block_pairs: Vec::new() }).await.unwrap();
    syncer.run(shutdown).await.unwrap();
    assert_eq!(syncer.metrics().reorgs.load(Ordering::Relaxed), 1);
    assert_eq!(syncer.indexed_block(), chain.head().await);
    assert_eq!(text("SELECT metadata_cid FROM assets ORDER BY asset_id LIMIT 1").await, "bafy\u{fffd}nul");
    let fresh = db.another().await;
    sync_to_head(&chain, &fresh, config).await;
    assert_eq!(dump(pool).await, dump(&fresh).await);
}

/// The DAO's currency decisions and a dispute it left unruled past the ruling deadline (settled
/// by default with `expireDispute`) land in `currencies` and `jobs`, both when synced in ranges
/// (job events folded per batch) and block by block (each event applied and journaled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn currency_decisions_and_expired_disputes_are_mirrored() {
    use agora_contracts::{anvil, compute_market::IComputeMarket::OpenJobParams, mocks::MockStablecoin};

    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let url = chain.anvil.endpoint_url();
    let kept = *MockStablecoin::deploy(chain.provider().clone()).await.unwrap().address();
    let dropped = *MockStablecoin::deploy(chain.provider().clone()).await.unwrap().address();
    for currency in [kept, dropped] {
        anvil::allow_currency(url.clone(), &chain.deployment, currency).await.unwrap();
    }
    anvil::disallow_currency(url, &chain.deployment, dropped).await.unwrap();

    // A job (paid in ETH) whose result is disputed and never ruled.
    let (publisher, consumer, provider, challenger) =
        (chain.actor(1), chain.actor(2), chain.actor(3), chain.actor(4));
    let as_publisher = chain.as_actor(&publisher);
    let dataset =
        as_publisher.publish(publish_params(publisher.address, 0, 0, "bafy-data", None)).await.unwrap();
    let algorithm =
        as_publisher.publish(publish_params(publisher.address, 2, 0, "bafy-algo", None)).await.unwrap();
    let as_consumer = chain.as_actor(&consumer);
    tx::send("buy", as_consumer.marketplace.buy(dataset.asset_id, U256::from(1), Address::ZERO, U256::ZERO))
        .await
        .unwrap();
    let as_provider = chain.as_actor(&provider);
    let price = ETHER / U256::from(20);
    tx::send(
        "registerProvider",
        as_provider
            .compute_market
            .registerProvider("http://127.0.0.1:9/compute".into(), Address::ZERO, price.to::<u128>())
            .value(chain.params.min_stake),
    )
    .await
    .unwrap();
    let params = OpenJobParams {
        datasetId: dataset.asset_id,
        algorithmId: algorithm.asset_id,
        provider: provider.address,
        specCid: "bafy-spec".into(),
        currency: Address::ZERO,
        maxPayment: price,
        deadline: chain.now().await + 3_600,
    };
    let receipt = tx::send("openJob", as_consumer.compute_market.openJob(params).value(price)).await.unwrap();
    let job_id = receipt.decoded_log::<agora_contracts::ComputeMarket::JobOpened>().unwrap().data.jobId;
    tx::send(
        "postResult",
        as_provider.compute_market.postResult(job_id, "bafy-result".into(), B256::repeat_byte(3)),
    )
    .await
    .unwrap();
    tx::send(
        "dispute",
        chain
            .as_actor(&challenger)
            .compute_market
            .dispute(job_id, "bafy-why".into())
            .value(chain.params.dispute_bond),
    )
    .await
    .unwrap();
    let job = tx::call("getJob", chain.agora.compute_market.getJob(job_id)).await.unwrap();
    let deadline = job.challengeEnd + u64::from(job.rulingWindow);
    chain.provider().anvil_increase_time(deadline + 1 - chain.now().await).await.unwrap();
    tx::send("expireDispute", chain.agora.compute_market.expireDispute(job_id)).await.unwrap();
    // Blocks after it, so that a small window syncs it in a range.
    chain.mine(8).await;

    for (pool, config) in [(db.pool.clone(), small_ranges(4)), (db.another().await, small_ranges(1_000))] {
        sync_to_head(&chain, &pool, config).await;
        let rows = sqlx::query("SELECT currency, allowed FROM currencies ORDER BY allowed")
            .fetch_all(&pool)
            .await
            .unwrap();
        let currencies: Vec<(Vec<u8>, bool)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(currencies, vec![(addr(dropped), false), (addr(kept), true)]);

        let row = sqlx::query(
            "SELECT status, provider_payout::text, fee::text, (provider_payout + fee)::text, challenger
             FROM jobs WHERE job_id = $1::numeric",
        )
        .bind(job_id.to_string())
        .fetch_one(&pool)
        .await
        .unwrap();
        let fee = price * U256::from(chain.params.compute_fee_bps) / U256::from(10_000);
        assert_eq!(row.get::<String, _>(0), "dispute_expired");
        assert_eq!(row.get::<Option<String>, _>(1), Some((price - fee).to_string()));
        assert_eq!(row.get::<Option<String>, _>(2), Some(fee.to_string()));
        assert_eq!(row.get::<Option<String>, _>(3), Some(price.to_string()));
        assert_eq!(row.get::<Option<Vec<u8>>, _>(4), Some(addr(challenger.address)));
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE name = 'DisputeExpired'")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(stored, 1);
    }
}
