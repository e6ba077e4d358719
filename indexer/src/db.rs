//! PostgreSQL storage: the checkpoint, raw events, and the derived tables built from them.
//!
//! Every batch commits in one transaction: raw events (unique on chain, block hash, log index,
//! so replaying a batch is a no-op), the derived rows of the events that were new, the blocks
//! of the reorg window and the checkpoint. A rollback deletes what lies above the common
//! ancestor and recomputes the derived tables from the raw events that remain (the raw
//! events keep their topics and data, so they re-decode with the same pure decoder).
//!
//! The append-only tables (raw events, purchases, access orders, releases) are streamed with
//! binary `COPY` into temporary staging tables and moved over with `INSERT … SELECT … ON
//! CONFLICT DO NOTHING`, inside the batch's transaction: `COPY`'s speed, still exactly-once.

use agora_contracts::{
    AccessToken::AccessTokenEvents, AgoraGovernor::AgoraGovernorEvents, AgoraToken::AgoraTokenEvents,
    AssetRegistry::AssetRegistryEvents, ComputeMarket::ComputeMarketEvents, ContractAddresses,
    Marketplace::MarketplaceEvents, RevenueSplitter::RevenueSplitterEvents,
};
use alloy::primitives::{Address, B256, Bytes, U256};
use serde_json::{Value, json};
use sqlx::{
    PgConnection, PgPool, Row,
    postgres::{PgConnectOptions, PgPoolOptions, PgRow},
};

use crate::{
    decode::{self, Decoded, Event, RawLog, Setting, Source},
    pgcopy::BinaryRows,
};

/// How a batch's append-only rows (raw events, purchases, access orders, releases) are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WriteMode {
    /// Binary `COPY` into temporary staging tables, then one `INSERT … SELECT … ON CONFLICT DO
    /// NOTHING` per table, in the batch's transaction.
    #[default]
    Copy,
    /// One `INSERT … SELECT FROM UNNEST(…)` per table, the values bound as arrays.
    Unnest,
    /// One `INSERT` per row and every derived change applied event by event: the baseline the
    /// benchmark compares with.
    RowByRow,
}

/// A database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Connecting, a query or a transaction failed.
    #[error("database: {action}: {source}")]
    Query {
        /// What was being done.
        action: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Running the migrations failed.
    #[error("database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The checkpoint moved under us: another indexer writes the same chain.
    #[error("checkpoint of chain {chain_id} is no longer at block {expected}: is another indexer running?")]
    CheckpointMoved {
        /// The chain.
        chain_id: u64,
        /// Where this indexer believed it was.
        expected: u64,
    },
    /// The writer was pointed at a database it cannot write (a streaming replica).
    #[error(
        "the database is read-only (a streaming replica?): run the writer (`agora-indexer run`) against the primary, and `agora-indexer serve` against a replica"
    )]
    ReadOnly,
    /// A read-only API was pointed at a database whose schema is not this version's.
    #[error(
        "the database's schema is at migration {found:?}, this version reads migration {expected}: start or upgrade the writer (`agora-indexer run`) against the primary first"
    )]
    SchemaMismatch {
        /// The newest migration the database has applied, if any.
        found: Option<i64>,
        /// The newest migration this version has.
        expected: i64,
    },
    /// A stored value does not have the shape the schema promises.
    #[error("database holds an invalid {what}")]
    Corrupt {
        /// What was invalid.
        what: &'static str,
    },
}

fn q(action: &'static str) -> impl FnOnce(sqlx::Error) -> DbError {
    move |source| DbError::Query { action, source }
}

/// Connects a pool to `url`, runs the pending migrations and the backfills they left.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    let pool =
        PgPoolOptions::new().max_connections(max_connections).connect(url).await.map_err(q("connect"))?;
    if replication(&pool).await.map_err(q("ask whether the database is a replica"))?.read_only {
        return Err(DbError::ReadOnly);
    }
    sqlx::migrate!("./migrations").run(&pool).await?;
    backfill_governance_details(&pool).await?;
    Ok(pool)
}

/// A pool for an API that only reads, over a database another indexer writes (typically a
/// streaming replica of the writer's primary): every session is read-only
/// (`default_transaction_read_only`), no migration is run, and the schema must be exactly the one
/// this version's migrations make.
pub async fn connect_read_only(url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    let options = <PgConnectOptions as std::str::FromStr>::from_str(url)
        .map_err(q("read the database URL"))?
        .options([("default_transaction_read_only", "on")]);
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .connect_with(options)
        .await
        .map_err(q("connect"))?;
    let expected = sqlx::migrate!("./migrations").iter().map(|m| m.version).max().unwrap_or_default();
    let migrated: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&pool)
        .await
        .map_err(q("look for the migrations table"))?;
    let found: Option<i64> = match migrated {
        true => sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&pool)
            .await
            .map_err(q("read the applied migrations"))?,
        false => None,
    };
    if found != Some(expected) {
        return Err(DbError::SchemaMismatch { found, expected });
    }
    Ok(pool)
}

/// Whether a database can be written, and a replica's replay lag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Replication {
    /// The session cannot write: the server is a standby, or the session was made read-only.
    pub read_only: bool,
    /// On a standby, seconds its replay trails what it last replayed of the primary's
    /// transactions; 0 once it has replayed all it received; `None` on a primary.
    pub lag_seconds: Option<f64>,
}

/// Asks the server whether it is a standby (`pg_is_in_recovery`) and how far its replay trails.
pub async fn replication(pool: &PgPool) -> Result<Replication, sqlx::Error> {
    let (in_recovery, read_only, lag): (bool, bool, Option<f64>) = sqlx::query_as(
        "SELECT pg_is_in_recovery(), \
                current_setting('transaction_read_only') = 'on', \
                CASE WHEN NOT pg_is_in_recovery() THEN NULL \
                     WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
                     ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8, 0) END",
    )
    .fetch_one(pool)
    .await?;
    Ok(Replication { read_only: in_recovery || read_only, lag_seconds: lag })
}

/// The events whose rows migration 0011 added: each proposal's actions, queue and execution
/// blocks, the DAO's settings and the protocol fees released.
const GOVERNANCE_DETAIL_EVENTS: &[&str] = &[
    "ProposalCreated",
    "ProposalQueued",
    "ProposalExecuted",
    "FeesReleased",
    "ProtocolFeeUpdated",
    "ParamsUpdated",
    "VotingDelaySet",
    "VotingPeriodSet",
    "ProposalThresholdSet",
    "QuorumNumeratorUpdated",
    "MinDelayChange",
];

/// Derives the rows of migration 0011 from the raw events indexed before it, once: the
/// migration leaves a marker that this deletes in the same transaction (a second indexer
/// connecting meanwhile waits for the marker's row, then finds it gone). The sync writes these
/// rows for every event it commits from then on.
async fn backfill_governance_details(pool: &PgPool) -> Result<(), DbError> {
    let mut tx = pool.begin().await.map_err(q("begin"))?;
    let pending = sqlx::query("DELETE FROM pending_backfills WHERE name = 'governance_details'")
        .execute(&mut *tx)
        .await
        .map_err(q("take the governance backfill"))?;
    if pending.rows_affected() == 0 {
        return Ok(());
    }
    let rows = sqlx::query(
        "SELECT chain_id, block_number, block_hash, log_index, tx_hash, address, source, topics, data,
           block_timestamp, tx_from
         FROM events WHERE name = ANY($1) ORDER BY chain_id, block_number, log_index",
    )
    .bind(GOVERNANCE_DETAIL_EVENTS)
    .fetch_all(&mut *tx)
    .await
    .map_err(q("read events to backfill"))?;
    for row in rows {
        let (source, log) = stored_log(&row)?;
        if let Some(event) = decode::decode(source, &log.topics, &log.data).event {
            apply_details(&mut tx, row.get("chain_id"), &log, &event).await?;
        }
    }
    tx.commit().await.map_err(q("commit the governance backfill"))?;
    Ok(())
}

/// Where indexing of one chain stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Hash of the chain's block 0, to refuse a different chain.
    pub genesis_hash: B256,
    /// Last block whose events are all committed.
    pub indexed_block: u64,
    /// The chain head last seen.
    pub head_block: u64,
}

/// A block of the reorg window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    /// Number.
    pub number: u64,
    /// Hash.
    pub hash: B256,
    /// Parent's hash.
    pub parent_hash: B256,
    /// Unix time.
    pub timestamp: u64,
}

/// One contiguous span of blocks to commit.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Checkpoint before the batch (the batch covers `from + 1 ..= to`).
    pub from: u64,
    /// Last block covered.
    pub to: u64,
    /// Logs of the span in chain order, with their decoding.
    pub logs: Vec<(RawLog, Decoded)>,
    /// Access-token clones created in the span (address, asset id, block).
    pub clones: Vec<(Address, U256, u64)>,
    /// Blocks to remember for reorg detection.
    pub blocks: Vec<BlockRef>,
    /// The head seen when the batch was fetched.
    pub head: u64,
    /// Keep undo images of the rows it changes (blocks within the reorg window).
    pub journal: bool,
}

fn i64_of(n: u64) -> i64 {
    // Block numbers and log indexes stay far below 2^63.
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn u64_of(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

fn dec(n: U256) -> String {
    n.to_string()
}

fn bytes(a: Address) -> Vec<u8> {
    a.as_slice().to_vec()
}

fn b256_of(v: &[u8], what: &'static str) -> Result<B256, DbError> {
    B256::try_from(v).map_err(|_| DbError::Corrupt { what })
}

/// Reads the checkpoint of `chain_id`, if indexing ever started.
pub async fn checkpoint(pool: &PgPool, chain_id: u64) -> Result<Option<Checkpoint>, DbError> {
    let row =
        sqlx::query("SELECT genesis_hash, indexed_block, head_block FROM chain_state WHERE chain_id = $1")
            .bind(i64_of(chain_id))
            .fetch_optional(pool)
            .await
            .map_err(q("read the checkpoint"))?;
    row.map(|row| {
        Ok(Checkpoint {
            genesis_hash: b256_of(&row.get::<Vec<u8>, _>(0), "genesis hash")?,
            indexed_block: u64_of(row.get(1)),
            head_block: u64_of(row.get(2)),
        })
    })
    .transpose()
}

/// Starts indexing `chain_id`: nothing is indexed up to `start` (excluded).
pub async fn init_checkpoint(pool: &PgPool, chain_id: u64, genesis: B256, start: u64) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO chain_state (chain_id, genesis_hash, indexed_block) VALUES ($1, $2, $3)
         ON CONFLICT (chain_id) DO NOTHING",
    )
    .bind(i64_of(chain_id))
    .bind(genesis.as_slice())
    .bind(i64_of(start.saturating_sub(1)))
    .execute(pool)
    .await
    .map_err(q("create the checkpoint"))?;
    Ok(())
}

/// Records the latest head seen, for status and readiness.
pub async fn set_head(pool: &PgPool, chain_id: u64, head: u64) -> Result<(), DbError> {
    sqlx::query("UPDATE chain_state SET head_block = GREATEST(head_block, $2), updated_at = now() WHERE chain_id = $1")
        .bind(i64_of(chain_id))
        .bind(i64_of(head))
        .execute(pool)
        .await
        .map_err(q("record the head"))?;
    Ok(())
}

/// Every table that holds rows of one chain (`asset_metadata` is keyed by CID, shared).
const CHAIN_TABLES: &[&str] = &[
    "chain_state",
    "undo_log",
    "blocks",
    "events",
    "access_tokens",
    "assets",
    "listings",
    "asset_versions",
    "access_balances",
    "purchases",
    "access_orders",
    "splits",
    "releases",
    "proposals",
    "votes",
    "delegations",
    "compute_providers",
    "jobs",
    "currencies",
    "deployments",
    "proposal_actions",
    "governance_settings",
    "fee_releases",
];

/// Derived tables: rebuilt from the raw events on rollback.
const DERIVED_TABLES: &[&str] = &[
    "assets",
    "listings",
    "asset_versions",
    "access_balances",
    "purchases",
    "access_orders",
    "splits",
    "releases",
    "proposals",
    "votes",
    "delegations",
    "compute_providers",
    "jobs",
    "currencies",
    "proposal_actions",
    "governance_settings",
    "fee_releases",
];

async fn delete_chain_rows(
    conn: &mut PgConnection,
    tables: &[&'static str],
    chain_id: u64,
) -> Result<(), DbError> {
    for table in tables {
        // Table names come from the constant lists above, never from input.
        let sql = format!("DELETE FROM {table} WHERE chain_id = $1");
        sqlx::query(&sql).bind(i64_of(chain_id)).execute(&mut *conn).await.map_err(q("clear a table"))?;
    }
    Ok(())
}

/// Deletes everything indexed for `chain_id` (for `agora-indexer reset`).
pub async fn reset(pool: &PgPool, chain_id: u64) -> Result<(), DbError> {
    let mut tx = pool.begin().await.map_err(q("begin"))?;
    delete_chain_rows(&mut tx, CHAIN_TABLES, chain_id).await?;
    tx.commit().await.map_err(q("commit the reset"))?;
    Ok(())
}

/// The access-token clones known for `chain_id`: (address, creation block).
pub async fn clones(pool: &PgPool, chain_id: u64) -> Result<Vec<(Address, u64)>, DbError> {
    let rows = sqlx::query("SELECT address, block_number FROM access_tokens WHERE chain_id = $1")
        .bind(i64_of(chain_id))
        .fetch_all(pool)
        .await
        .map_err(q("read the access tokens"))?;
    rows.iter()
        .map(|row| {
            let address = Address::try_from(row.get::<Vec<u8>, _>(0).as_slice())
                .map_err(|_| DbError::Corrupt { what: "access-token address" })?;
            Ok((address, u64_of(row.get(1))))
        })
        .collect()
}

/// The stored blocks of the window at or below `at`, newest first.
pub async fn window(pool: &PgPool, chain_id: u64, at: u64, limit: u64) -> Result<Vec<BlockRef>, DbError> {
    let rows = sqlx::query(
        "SELECT number, hash, parent_hash, timestamp FROM blocks
         WHERE chain_id = $1 AND number <= $2 ORDER BY number DESC LIMIT $3",
    )
    .bind(i64_of(chain_id))
    .bind(i64_of(at))
    .bind(i64_of(limit))
    .fetch_all(pool)
    .await
    .map_err(q("read the block window"))?;
    rows.iter()
        .map(|row| {
            Ok(BlockRef {
                number: u64_of(row.get(0)),
                hash: b256_of(&row.get::<Vec<u8>, _>(1), "block hash")?,
                parent_hash: b256_of(&row.get::<Vec<u8>, _>(2), "parent hash")?,
                timestamp: u64_of(row.get(3)),
            })
        })
        .collect()
}

/// Commits `batch` atomically: raw events, clones, derived rows, window blocks and checkpoint.
/// Fails with [`DbError::CheckpointMoved`] (changing nothing) when the checkpoint is not at
/// `batch.from`. Returns the number of events that were new.
pub async fn commit(
    pool: &PgPool,
    chain_id: u64,
    batch: &Batch,
    window_size: u64,
    mode: WriteMode,
) -> Result<usize, DbError> {
    let mut tx = pool.begin().await.map_err(q("begin"))?;
    let new = write_batch(&mut tx, chain_id, batch, window_size, mode).await?;
    tx.commit().await.map_err(q("commit a batch"))?;
    Ok(new)
}

/// Rolls back to `ancestor` and applies `batches` (the new canonical blocks above it), all in
/// one transaction.
pub async fn reorg(
    pool: &PgPool,
    chain_id: u64,
    ancestor: u64,
    batches: &[Batch],
    window_size: u64,
    mode: WriteMode,
) -> Result<(), DbError> {
    let mut tx = pool.begin().await.map_err(q("begin"))?;
    rollback(&mut tx, chain_id, ancestor).await?;
    for batch in batches {
        write_batch(&mut tx, chain_id, batch, window_size, mode).await?;
    }
    tx.commit().await.map_err(q("commit a reorg"))?;
    Ok(())
}

/// Batches with fewer logs than this are written with array-bound inserts instead of `COPY`.
const COPY_MIN_ROWS: usize = 256;

async fn write_batch(
    conn: &mut PgConnection,
    chain_id: u64,
    batch: &Batch,
    window_size: u64,
    mode: WriteMode,
) -> Result<usize, DbError> {
    let chain = i64_of(chain_id);
    // An unjournaled batch moves the start of the journaled span past itself.
    let moved = sqlx::query(
        "UPDATE chain_state SET indexed_block = $3, head_block = GREATEST(head_block, $4), updated_at = now(),
           journal_from = CASE WHEN $5 THEN COALESCE(journal_from, $2 + 1) ELSE $3 + 1 END
         WHERE chain_id = $1 AND indexed_block = $2",
    )
    .bind(chain)
    .bind(i64_of(batch.from))
    .bind(i64_of(batch.to))
    .bind(i64_of(batch.head))
    .bind(batch.journal)
    .execute(&mut *conn)
    .await
    .map_err(q("advance the checkpoint"))?;
    if moved.rows_affected() != 1 {
        return Err(DbError::CheckpointMoved { chain_id, expected: batch.from });
    }

    for (address, asset_id, block) in &batch.clones {
        sqlx::query(
            "INSERT INTO access_tokens (chain_id, address, asset_id, block_number) VALUES ($1, $2, $3::numeric, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(chain)
        .bind(address.as_slice())
        .bind(dec(*asset_id))
        .bind(i64_of(*block))
        .execute(&mut *conn)
        .await
        .map_err(q("record an access token"))?;
    }

    // Below a few hundred rows (a block at the tip) the staging tables cost more round trips
    // than `COPY` saves: array-bound inserts write the same rows.
    let mode = match mode {
        WriteMode::Copy if batch.logs.len() < COPY_MIN_ROWS => WriteMode::Unnest,
        mode => mode,
    };
    if mode == WriteMode::Copy {
        prepare_staging(conn).await?;
    }
    let new = match mode {
        WriteMode::Copy => copy_events(conn, chain, &batch.logs).await?,
        WriteMode::Unnest => insert_events(conn, chain, &batch.logs).await?,
        WriteMode::RowByRow => insert_events_one_by_one(conn, chain, &batch.logs).await?,
    };
    // Unjournaled batches write the high-volume kinds set-based; their rows do not depend on
    // the order of the other events, so they may be written after them.
    let set_based = !batch.journal && mode != WriteMode::RowByRow;
    // A ruling also slashes the job's provider, an order the fold of job events does not keep
    // with the provider's own events: a batch with one writes its job events one by one.
    let ruling = |(_, decoded): &(RawLog, Decoded)| {
        matches!(decoded.event, Some(Event::Compute(ComputeMarketEvents::DisputeRuled(_))))
    };
    let mut bulk = Bulk { fold_jobs: !batch.logs.iter().any(ruling), ..Bulk::default() };
    for (log, decoded) in &batch.logs {
        if new.contains(&(log.block_hash, log.log_index))
            && let Some(event) = &decoded.event
            && (!set_based || !bulk.take(log, event, mode))
        {
            apply(conn, chain, log, event, batch.journal).await?;
        }
    }
    bulk.write(conn, chain, mode).await?;

    if !batch.blocks.is_empty() {
        let numbers: Vec<i64> = batch.blocks.iter().map(|b| i64_of(b.number)).collect();
        let hashes: Vec<Vec<u8>> = batch.blocks.iter().map(|b| b.hash.to_vec()).collect();
        let parents: Vec<Vec<u8>> = batch.blocks.iter().map(|b| b.parent_hash.to_vec()).collect();
        let times: Vec<i64> = batch.blocks.iter().map(|b| i64_of(b.timestamp)).collect();
        sqlx::query(
            "INSERT INTO blocks (chain_id, number, hash, parent_hash, timestamp)
             SELECT $1, * FROM UNNEST($2::bigint[], $3::bytea[], $4::bytea[], $5::bigint[])
             ON CONFLICT (chain_id, number) DO UPDATE SET hash = EXCLUDED.hash,
               parent_hash = EXCLUDED.parent_hash, timestamp = EXCLUDED.timestamp",
        )
        .bind(chain)
        .bind(numbers)
        .bind(hashes)
        .bind(parents)
        .bind(times)
        .execute(&mut *conn)
        .await
        .map_err(q("record window blocks"))?;
    }
    sqlx::query("DELETE FROM blocks WHERE chain_id = $1 AND number < $2")
        .bind(chain)
        .bind(i64_of(batch.to.saturating_sub(window_size)))
        .execute(&mut *conn)
        .await
        .map_err(q("prune the block window"))?;
    if batch.journal {
        sqlx::query("DELETE FROM undo_log WHERE chain_id = $1 AND block_number < $2")
            .bind(chain)
            .bind(i64_of(batch.to.saturating_sub(window_size)))
            .execute(&mut *conn)
            .await
            .map_err(q("prune the undo log"))?;
    }
    Ok(new.len())
}

/// Access-token transfers, orders, purchases, votes, compute jobs (and, with `COPY`, revenue
/// releases) of one batch, written with one statement or two each.
#[derive(Default)]
struct Bulk {
    /// (token, holder) → (credited, debited).
    balances: std::collections::BTreeMap<(Address, Address), (U256, U256)>,
    purchases: Vec<(RawLog, agora_contracts::Marketplace::Purchased)>,
    orders: Vec<(RawLog, agora_contracts::AccessToken::AccessConsumed)>,
    /// Revenue releases of assets; taken only when the batch is written with `COPY`. (The
    /// protocol's `FeesReleased` are rare, and go one by one: they are also fee releases.)
    releases: Vec<Release>,
    /// Whether job events are taken (folded); not in a batch with a dispute ruling.
    fold_jobs: bool,
    /// Every event of a job's lifecycle, folded per job in the order they were emitted.
    jobs: std::collections::BTreeMap<U256, JobChange>,
    votes: Vec<Vote>,
}

/// What one batch does to one compute job: opens it and/or changes it.
#[derive(Default)]
struct JobChange {
    opened: Option<(u64, agora_contracts::ComputeMarket::JobOpened)>,
    /// The status after the batch's last event of this job, unless it only opened it.
    status: Option<&'static str>,
    /// Result CID, output hash, challenge end.
    result: Option<(String, B256, u64)>,
    /// Provider payout and protocol fee.
    payout: Option<(U256, U256)>,
    refunded: Option<U256>,
    challenger: Option<Address>,
    updated_block: u64,
}

/// A `VoteCast` or `VoteCastWithParams` event as a row of `votes`.
struct Vote {
    block: u64,
    proposal: U256,
    voter: Address,
    support: u8,
    weight: U256,
    reason: String,
    /// The transaction's sender, when it was read.
    sent_by: Option<Address>,
}

/// A `Released` or `FeesReleased` event as a row of `releases`.
struct Release {
    block: u64,
    position: u64,
    /// `None` for the protocol's fees.
    asset: Option<U256>,
    currency: Address,
    recipient: Address,
    amount: U256,
}

impl Bulk {
    /// Takes `event` if it is one of the bulk kinds.
    fn take(&mut self, log: &RawLog, event: &Event, mode: WriteMode) -> bool {
        let vote = |proposal, voter, support, weight, reason: &str| Vote {
            block: log.block_number,
            proposal,
            voter,
            support,
            weight,
            reason: reason.to_owned(),
            sent_by: log.tx_from,
        };
        match event {
            Event::Splitter(RevenueSplitterEvents::Released(e)) if mode == WriteMode::Copy => {
                self.releases.push(Release {
                    block: log.block_number,
                    position: log.log_index,
                    asset: Some(e.assetId),
                    currency: e.currency,
                    recipient: e.recipient,
                    amount: e.amount,
                });
                true
            }
            Event::AccessToken(AccessTokenEvents::Transfer(e)) => {
                if e.from != Address::ZERO {
                    let entry = self.balances.entry((log.address, e.from)).or_default();
                    entry.1 += e.value;
                }
                if e.to != Address::ZERO {
                    let entry = self.balances.entry((log.address, e.to)).or_default();
                    entry.0 += e.value;
                }
                true
            }
            Event::AccessToken(AccessTokenEvents::AccessConsumed(e)) => {
                self.orders.push((log.clone(), e.clone()));
                true
            }
            Event::Marketplace(MarketplaceEvents::Purchased(e)) => {
                self.purchases.push((log.clone(), e.clone()));
                true
            }
            Event::Governor(AgoraGovernorEvents::VoteCast(e)) => {
                self.votes.push(vote(e.proposalId, e.voter, e.support, e.weight, &e.reason));
                true
            }
            Event::Governor(AgoraGovernorEvents::VoteCastWithParams(e)) => {
                self.votes.push(vote(e.proposalId, e.voter, e.support, e.weight, &e.reason));
                true
            }
            Event::Compute(event) if self.fold_jobs => self.take_job(log.block_number, event),
            _ => false,
        }
    }

    /// Folds a job event into its job's change; false for the market's other events.
    fn take_job(&mut self, block: u64, event: &ComputeMarketEvents) -> bool {
        let (job, status) = match event {
            ComputeMarketEvents::JobOpened(e) => {
                let job = self.jobs.entry(e.jobId).or_default();
                job.opened = Some((block, e.clone()));
                job.updated_block = block;
                return true;
            }
            ComputeMarketEvents::ResultPosted(e) => {
                let job = self.jobs.entry(e.jobId).or_default();
                job.result = Some((e.resultCid.clone(), e.outputHash, e.challengeEnd));
                (job, "result_posted")
            }
            ComputeMarketEvents::JobFinalized(e) => {
                let job = self.jobs.entry(e.jobId).or_default();
                job.payout = Some((e.providerPayout, e.fee));
                (job, "finalized")
            }
            ComputeMarketEvents::JobRefunded(e) => {
                let job = self.jobs.entry(e.jobId).or_default();
                job.refunded = Some(e.amount);
                (job, "refunded")
            }
            ComputeMarketEvents::JobDisputed(e) => {
                let job = self.jobs.entry(e.jobId).or_default();
                job.challenger = Some(e.challenger);
                (job, "disputed")
            }
            // Emitted after the `JobFinalized` of the same settlement, so it is the last word.
            ComputeMarketEvents::DisputeExpired(e) => {
                (self.jobs.entry(e.jobId).or_default(), "dispute_expired")
            }
            // Emitted after the `JobRefunded` that returned the payment.
            ComputeMarketEvents::JobDeclined(e) => (self.jobs.entry(e.jobId).or_default(), "declined"),
            // Rulings (which also slash) and the market's other events go one by one.
            _ => return false,
        };
        job.status = Some(status);
        job.updated_block = block;
        true
    }

    async fn write(self, conn: &mut PgConnection, chain: i64, mode: WriteMode) -> Result<(), DbError> {
        if mode == WriteMode::Copy {
            copy_purchases(conn, chain, &self.purchases).await?;
            copy_orders(conn, chain, &self.orders).await?;
            copy_releases(conn, chain, &self.releases).await?;
        }
        if !self.balances.is_empty() {
            let (mut tokens, mut holders, mut credits, mut debits) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for ((token, holder), (credit, debit)) in &self.balances {
                tokens.push(bytes(*token));
                holders.push(bytes(*holder));
                credits.push(dec(*credit));
                debits.push(dec(*debit));
            }
            sqlx::query(
                "INSERT INTO access_balances (chain_id, token, holder, balance)
                 SELECT $1, u.token, u.holder, u.credit::numeric - u.debit::numeric
                 FROM UNNEST($2::bytea[], $3::bytea[], $4::text[], $5::text[]) AS u(token, holder, credit, debit)
                 ON CONFLICT (chain_id, token, holder)
                 DO UPDATE SET balance = access_balances.balance + EXCLUDED.balance",
            )
            .bind(chain)
            .bind(tokens)
            .bind(holders)
            .bind(credits)
            .bind(debits)
            .execute(&mut *conn)
            .await
            .map_err(q("write balances"))?;
        }
        if mode != WriteMode::Copy && !self.purchases.is_empty() {
            let n = self.purchases.len();
            let (mut blocks, mut positions, mut txs, mut assets, mut buyers, mut currencies) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            let (mut amounts, mut frees, mut paids, mut fees) =
                (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
            for (log, e) in &self.purchases {
                blocks.push(i64_of(log.block_number));
                positions.push(i64_of(log.log_index));
                txs.push(log.tx_hash.to_vec());
                assets.push(dec(e.assetId));
                buyers.push(bytes(e.buyer));
                currencies.push(bytes(e.currency));
                amounts.push(dec(e.amount));
                frees.push(dec(e.freeAmount));
                paids.push(dec(e.paid));
                fees.push(dec(e.fee));
            }
            sqlx::query(
                "INSERT INTO purchases (chain_id, block_number, log_index, tx_hash, asset_id, buyer, currency,
                   amount, free_amount, paid, fee)
                 SELECT $1, u.b, u.l, u.tx, u.asset::numeric, u.buyer, u.currency, u.amount::numeric,
                   u.free::numeric, u.paid::numeric, u.fee::numeric
                 FROM UNNEST($2::bigint[], $3::bigint[], $4::bytea[], $5::text[], $6::bytea[], $7::bytea[],
                   $8::text[], $9::text[], $10::text[], $11::text[])
                   AS u(b, l, tx, asset, buyer, currency, amount, free, paid, fee)",
            )
            .bind(chain)
            .bind(blocks)
            .bind(positions)
            .bind(txs)
            .bind(assets)
            .bind(buyers)
            .bind(currencies)
            .bind(amounts)
            .bind(frees)
            .bind(paids)
            .bind(fees)
            .execute(&mut *conn)
            .await
            .map_err(q("write purchases"))?;
        }
        if mode != WriteMode::Copy && !self.orders.is_empty() {
            let n = self.orders.len();
            let (mut tokens, mut ids, mut consumers, mut providers, mut expiries, mut blocks, mut txs) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            for (log, e) in &self.orders {
                tokens.push(bytes(log.address));
                ids.push(dec(e.orderId));
                consumers.push(bytes(e.consumer));
                providers.push(bytes(e.provider));
                expiries.push(i64_of(e.expiresAt));
                blocks.push(i64_of(log.block_number));
                txs.push(log.tx_hash.to_vec());
            }
            sqlx::query(
                "INSERT INTO access_orders (chain_id, token, asset_id, order_id, consumer, provider, expires_at,
                   block_number, tx_hash)
                 SELECT $1, u.token, t.asset_id, u.id::numeric, u.consumer, u.provider, u.expires, u.b, u.tx
                 FROM UNNEST($2::bytea[], $3::text[], $4::bytea[], $5::bytea[], $6::bigint[], $7::bigint[], $8::bytea[])
                   AS u(token, id, consumer, provider, expires, b, tx)
                 JOIN access_tokens t ON t.chain_id = $1 AND t.address = u.token",
            )
            .bind(chain)
            .bind(tokens)
            .bind(ids)
            .bind(consumers)
            .bind(providers)
            .bind(expiries)
            .bind(blocks)
            .bind(txs)
            .execute(&mut *conn)
            .await
            .map_err(q("write access orders"))?;
        }
        write_votes(conn, chain, &self.votes).await?;
        write_jobs(conn, chain, &self.jobs).await
    }
}

/// Inserts `votes` and adds them to their proposals' tallies (GovernorCountingSimple: support 0
/// against, 1 for, 2 abstain).
async fn write_votes(conn: &mut PgConnection, chain: i64, votes: &[Vote]) -> Result<(), DbError> {
    if votes.is_empty() {
        return Ok(());
    }
    let proposals: Vec<String> = votes.iter().map(|v| dec(v.proposal)).collect();
    let voters: Vec<Vec<u8>> = votes.iter().map(|v| bytes(v.voter)).collect();
    let supports: Vec<i16> = votes.iter().map(|v| i16::from(v.support)).collect();
    let weights: Vec<String> = votes.iter().map(|v| dec(v.weight)).collect();
    let reasons: Vec<&str> = votes.iter().map(|v| v.reason.as_str()).collect();
    let blocks: Vec<i64> = votes.iter().map(|v| i64_of(v.block)).collect();
    let senders: Vec<Option<Vec<u8>>> = votes.iter().map(|v| v.sent_by.map(bytes)).collect();
    sqlx::query(
        "INSERT INTO votes (chain_id, proposal_id, voter, support, weight, reason, block_number, sent_by)
         SELECT $1, u.proposal::numeric, u.voter, u.support, u.weight::numeric, u.reason, u.b, u.sender
         FROM UNNEST($2::text[], $3::bytea[], $4::smallint[], $5::text[], $6::text[], $7::bigint[], $8::bytea[])
           AS u(proposal, voter, support, weight, reason, b, sender)",
    )
    .bind(chain)
    .bind(&proposals)
    .bind(voters)
    .bind(&supports)
    .bind(&weights)
    .bind(reasons)
    .bind(blocks)
    .bind(senders)
    .execute(&mut *conn)
    .await
    .map_err(q("write votes"))?;
    sqlx::query(
        "UPDATE proposals p SET votes_against = p.votes_against + t.against, votes_for = p.votes_for + t.for_,
           votes_abstain = p.votes_abstain + t.abstain
         FROM (SELECT u.proposal::numeric AS proposal,
                 sum(CASE WHEN u.support = 0 THEN u.weight::numeric ELSE 0 END) AS against,
                 sum(CASE WHEN u.support = 1 THEN u.weight::numeric ELSE 0 END) AS for_,
                 sum(CASE WHEN u.support = 2 THEN u.weight::numeric ELSE 0 END) AS abstain
               FROM UNNEST($2::text[], $3::smallint[], $4::text[]) AS u(proposal, support, weight)
               GROUP BY 1) t
         WHERE p.chain_id = $1 AND p.proposal_id = t.proposal",
    )
    .bind(chain)
    .bind(proposals)
    .bind(supports)
    .bind(weights)
    .execute(&mut *conn)
    .await
    .map_err(q("add votes to their tallies"))?;
    Ok(())
}

/// The order a job spent in its algorithm's or model's access token; `None` when that input was
/// free (the event says 0).
fn algorithm_order(e: &agora_contracts::ComputeMarket::JobOpened) -> Option<String> {
    (!e.algorithmOrderId.is_zero()).then(|| dec(e.algorithmOrderId))
}

/// Inserts the jobs opened in the batch (as open), then applies each job's merged change.
async fn write_jobs(
    conn: &mut PgConnection,
    chain: i64,
    jobs: &std::collections::BTreeMap<U256, JobChange>,
) -> Result<(), DbError> {
    let opened: Vec<&(u64, agora_contracts::ComputeMarket::JobOpened)> =
        jobs.values().filter_map(|j| j.opened.as_ref()).collect();
    if !opened.is_empty() {
        sqlx::query(
            "INSERT INTO jobs (chain_id, job_id, consumer, provider, dataset_id, algorithm_id, order_id,
               algorithm_order_id, currency, payment, deadline, spec_cid, status, opened_block, updated_block)
             SELECT $1, u.id::numeric, u.consumer, u.provider, u.dataset::numeric, u.algorithm::numeric,
               u.order_id::numeric, u.algorithm_order::numeric, u.currency, u.payment::numeric, u.deadline,
               u.spec, 'open', u.b, u.b
             FROM UNNEST($2::text[], $3::bytea[], $4::bytea[], $5::text[], $6::text[], $7::text[], $8::text[],
               $9::bytea[], $10::text[], $11::bigint[], $12::text[], $13::bigint[])
               AS u(id, consumer, provider, dataset, algorithm, order_id, algorithm_order, currency, payment,
                 deadline, spec, b)",
        )
        .bind(chain)
        .bind(opened.iter().map(|(_, e)| dec(e.jobId)).collect::<Vec<_>>())
        .bind(opened.iter().map(|(_, e)| bytes(e.consumer)).collect::<Vec<_>>())
        .bind(opened.iter().map(|(_, e)| bytes(e.provider)).collect::<Vec<_>>())
        .bind(opened.iter().map(|(_, e)| dec(e.datasetId)).collect::<Vec<_>>())
        .bind(opened.iter().map(|(_, e)| dec(e.algorithmId)).collect::<Vec<_>>())
        .bind(opened.iter().map(|(_, e)| dec(e.orderId)).collect::<Vec<_>>())
        .bind(opened.iter().map(|(_, e)| algorithm_order(e)).collect::<Vec<_>>())
        .bind(opened.iter().map(|(_, e)| bytes(e.currency)).collect::<Vec<_>>())
        .bind(opened.iter().map(|(_, e)| dec(e.payment)).collect::<Vec<_>>())
        .bind(opened.iter().map(|(_, e)| i64_of(e.deadline)).collect::<Vec<_>>())
        .bind(opened.iter().map(|(_, e)| e.specCid.as_str()).collect::<Vec<_>>())
        .bind(opened.iter().map(|(b, _)| i64_of(*b)).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await
        .map_err(q("write opened jobs"))?;
    }
    let changed: Vec<(&U256, &JobChange)> = jobs.iter().filter(|(_, j)| j.status.is_some()).collect();
    if changed.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE jobs j SET status = u.status, result_cid = COALESCE(u.result_cid, j.result_cid),
           output_hash = COALESCE(u.output_hash, j.output_hash),
           challenge_end = COALESCE(u.challenge_end, j.challenge_end),
           provider_payout = COALESCE(u.payout::numeric, j.provider_payout), fee = COALESCE(u.fee::numeric, j.fee),
           refunded = COALESCE(u.refunded::numeric, j.refunded), challenger = COALESCE(u.challenger, j.challenger),
           updated_block = u.b
         FROM UNNEST($2::text[], $3::text[], $4::text[], $5::bytea[], $6::bigint[], $7::text[], $8::text[],
           $9::text[], $10::bytea[], $11::bigint[])
           AS u(id, status, result_cid, output_hash, challenge_end, payout, fee, refunded, challenger, b)
         WHERE j.chain_id = $1 AND j.job_id = u.id::numeric",
    )
    .bind(chain)
    .bind(changed.iter().map(|(id, _)| dec(**id)).collect::<Vec<_>>())
    .bind(changed.iter().map(|(_, j)| j.status).collect::<Vec<_>>())
    .bind(changed.iter().map(|(_, j)| j.result.as_ref().map(|r| r.0.as_str())).collect::<Vec<_>>())
    .bind(changed.iter().map(|(_, j)| j.result.as_ref().map(|r| r.1.to_vec())).collect::<Vec<_>>())
    .bind(changed.iter().map(|(_, j)| j.result.as_ref().map(|r| i64_of(r.2))).collect::<Vec<_>>())
    .bind(changed.iter().map(|(_, j)| j.payout.map(|p| dec(p.0))).collect::<Vec<_>>())
    .bind(changed.iter().map(|(_, j)| j.payout.map(|p| dec(p.1))).collect::<Vec<_>>())
    .bind(changed.iter().map(|(_, j)| j.refunded.map(dec)).collect::<Vec<_>>())
    .bind(changed.iter().map(|(_, j)| j.challenger.map(bytes)).collect::<Vec<_>>())
    .bind(changed.iter().map(|(_, j)| i64_of(j.updated_block)).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .map_err(q("write job changes"))?;
    Ok(())
}

/// Temporary tables (one per connection) that `COPY` fills before the rows move to their
/// tables; emptied here so that several batches can share one transaction (a reorg).
async fn prepare_staging(conn: &mut PgConnection) -> Result<(), DbError> {
    // A bare string runs as a simple query, so the statements go in one round trip.
    sqlx::Executor::execute(
        &mut *conn,
        "SET LOCAL client_min_messages = warning;
         CREATE TEMP TABLE IF NOT EXISTS events_staging (block_number BIGINT, block_hash BYTEA,
           log_index BIGINT, tx_hash BYTEA, address BYTEA, source TEXT, name TEXT, topics BYTEA, data BYTEA,
           block_timestamp BIGINT, tx_from BYTEA);
         CREATE TEMP TABLE IF NOT EXISTS purchases_staging (block_number BIGINT, log_index BIGINT,
           tx_hash BYTEA, asset_id TEXT, buyer BYTEA, currency BYTEA, amount TEXT, free_amount TEXT,
           paid TEXT, fee TEXT);
         CREATE TEMP TABLE IF NOT EXISTS access_orders_staging (token BYTEA, order_id TEXT,
           consumer BYTEA, provider BYTEA, expires_at BIGINT, block_number BIGINT, tx_hash BYTEA);
         CREATE TEMP TABLE IF NOT EXISTS releases_staging (block_number BIGINT, log_index BIGINT,
           asset_id TEXT, currency BYTEA, recipient BYTEA, amount TEXT);
         TRUNCATE events_staging, purchases_staging, access_orders_staging, releases_staging;",
    )
    .await
    .map_err(q("prepare the COPY staging tables"))?;
    Ok(())
}

/// Streams `rows` with `statement` (a `COPY … FROM STDIN (FORMAT binary)`).
async fn copy_in(
    conn: &mut PgConnection,
    statement: &str,
    rows: BinaryRows,
    action: &'static str,
) -> Result<u64, DbError> {
    let data = rows.finish();
    let mut copy = conn.copy_in_raw(statement).await.map_err(q(action))?;
    for chunk in data.chunks(1 << 20) {
        if let Err(err) = copy.send(chunk).await {
            // Leave the connection usable; the transaction is rolled back by the caller.
            let _ = copy.abort(err.to_string()).await;
            return Err(DbError::Query { action, source: err });
        }
    }
    copy.finish().await.map_err(q(action))
}

/// Streams `rows` into a staging table (`copy`, a `COPY … FROM STDIN (FORMAT binary)`), then
/// moves them to their table (`insert`, with the chain id as `$1`).
async fn copy_staged(
    conn: &mut PgConnection,
    chain: i64,
    rows: BinaryRows,
    copy: &str,
    insert: &str,
    action: &'static str,
) -> Result<(), DbError> {
    copy_in(conn, copy, rows, action).await?;
    sqlx::query(insert).bind(chain).execute(&mut *conn).await.map_err(q(action))?;
    Ok(())
}

/// Inserts raw events through binary `COPY`; returns the keys that were not there yet.
async fn copy_events(
    conn: &mut PgConnection,
    chain: i64,
    logs: &[(RawLog, Decoded)],
) -> Result<std::collections::HashSet<(B256, u64)>, DbError> {
    if logs.is_empty() {
        return Ok(Default::default());
    }
    let mut rows = BinaryRows::with_capacity(logs.len() * 400);
    for (log, decoded) in logs {
        rows.row(11)
            .int8(i64_of(log.block_number))
            .bytea(log.block_hash.as_slice())
            .int8(i64_of(log.log_index))
            .bytea(log.tx_hash.as_slice())
            .bytea(log.address.as_slice())
            .text(decoded.source.as_str())
            .text(decoded.name)
            .bytea_concat(log.topics.iter().map(|t| t.as_slice()))
            .bytea(&log.data);
        match log.block_timestamp {
            Some(time) => rows.int8(i64_of(time)),
            None => rows.null(),
        };
        match log.tx_from {
            Some(sender) => rows.bytea(sender.as_slice()),
            None => rows.null(),
        };
    }
    copy_in(
        conn,
        "COPY events_staging (block_number, block_hash, log_index, tx_hash, address, source, name, topics, data,
           block_timestamp, tx_from) FROM STDIN (FORMAT binary)",
        rows,
        "copy events",
    )
    .await?;
    let rows = sqlx::query(
        "INSERT INTO events (chain_id, block_number, block_hash, log_index, tx_hash, address, source, name, topics, data,
           block_timestamp, tx_from)
         SELECT $1, block_number, block_hash, log_index, tx_hash, address, source, name, topics, data, block_timestamp,
           tx_from
         FROM events_staging
         ON CONFLICT (chain_id, block_hash, log_index) DO NOTHING
         RETURNING block_hash, log_index",
    )
    .bind(chain)
    .fetch_all(&mut *conn)
    .await
    .map_err(q("insert copied events"))?;
    rows.iter()
        .map(|row| Ok((b256_of(&row.get::<Vec<u8>, _>(0), "block hash")?, u64_of(row.get(1)))))
        .collect()
}

/// Inserts purchases (all new: their events were) through binary `COPY`.
async fn copy_purchases(
    conn: &mut PgConnection,
    chain: i64,
    purchases: &[(RawLog, agora_contracts::Marketplace::Purchased)],
) -> Result<(), DbError> {
    if purchases.is_empty() {
        return Ok(());
    }
    let mut rows = BinaryRows::with_capacity(purchases.len() * 200);
    for (log, e) in purchases {
        rows.row(10)
            .int8(i64_of(log.block_number))
            .int8(i64_of(log.log_index))
            .bytea(log.tx_hash.as_slice())
            .text(&dec(e.assetId))
            .bytea(e.buyer.as_slice())
            .bytea(e.currency.as_slice())
            .text(&dec(e.amount))
            .text(&dec(e.freeAmount))
            .text(&dec(e.paid))
            .text(&dec(e.fee));
    }
    copy_staged(
        conn,
        chain,
        rows,
        "COPY purchases_staging (block_number, log_index, tx_hash, asset_id, buyer, currency, amount,
           free_amount, paid, fee) FROM STDIN (FORMAT binary)",
        "INSERT INTO purchases (chain_id, block_number, log_index, tx_hash, asset_id, buyer, currency,
           amount, free_amount, paid, fee)
         SELECT $1, block_number, log_index, tx_hash, asset_id::numeric, buyer, currency, amount::numeric,
           free_amount::numeric, paid::numeric, fee::numeric
         FROM purchases_staging
         ON CONFLICT DO NOTHING",
        "copy purchases",
    )
    .await
}

/// Inserts consumed access orders (all new: their events were) through binary `COPY`.
async fn copy_orders(
    conn: &mut PgConnection,
    chain: i64,
    orders: &[(RawLog, agora_contracts::AccessToken::AccessConsumed)],
) -> Result<(), DbError> {
    if orders.is_empty() {
        return Ok(());
    }
    let mut rows = BinaryRows::with_capacity(orders.len() * 160);
    for (log, e) in orders {
        rows.row(7)
            .bytea(log.address.as_slice())
            .text(&dec(e.orderId))
            .bytea(e.consumer.as_slice())
            .bytea(e.provider.as_slice())
            .int8(i64_of(e.expiresAt))
            .int8(i64_of(log.block_number))
            .bytea(log.tx_hash.as_slice());
    }
    copy_staged(
        conn,
        chain,
        rows,
        "COPY access_orders_staging (token, order_id, consumer, provider, expires_at, block_number, tx_hash)
         FROM STDIN (FORMAT binary)",
        "INSERT INTO access_orders (chain_id, token, asset_id, order_id, consumer, provider, expires_at,
           block_number, tx_hash)
         SELECT $1, s.token, t.asset_id, s.order_id::numeric, s.consumer, s.provider, s.expires_at,
           s.block_number, s.tx_hash
         FROM access_orders_staging s
         JOIN access_tokens t ON t.chain_id = $1 AND t.address = s.token
         ON CONFLICT DO NOTHING",
        "copy access orders",
    )
    .await
}

/// Inserts revenue releases (all new: their events were) through binary `COPY`.
async fn copy_releases(conn: &mut PgConnection, chain: i64, releases: &[Release]) -> Result<(), DbError> {
    if releases.is_empty() {
        return Ok(());
    }
    let mut rows = BinaryRows::with_capacity(releases.len() * 120);
    for release in releases {
        rows.row(6).int8(i64_of(release.block)).int8(i64_of(release.position));
        match release.asset {
            Some(asset) => rows.text(&dec(asset)),
            None => rows.null(),
        };
        rows.bytea(release.currency.as_slice())
            .bytea(release.recipient.as_slice())
            .text(&dec(release.amount));
    }
    copy_staged(
        conn,
        chain,
        rows,
        "COPY releases_staging (block_number, log_index, asset_id, currency, recipient, amount)
         FROM STDIN (FORMAT binary)",
        "INSERT INTO releases (chain_id, block_number, log_index, asset_id, currency, recipient, amount)
         SELECT $1, block_number, log_index, asset_id::numeric, currency, recipient, amount::numeric
         FROM releases_staging
         ON CONFLICT DO NOTHING",
        "copy releases",
    )
    .await
}

/// Inserts raw events one statement per row; returns the keys that were not there yet.
async fn insert_events_one_by_one(
    conn: &mut PgConnection,
    chain: i64,
    logs: &[(RawLog, Decoded)],
) -> Result<std::collections::HashSet<(B256, u64)>, DbError> {
    let mut new = std::collections::HashSet::new();
    for (log, decoded) in logs {
        let inserted = sqlx::query(
            "INSERT INTO events (chain_id, block_number, block_hash, log_index, tx_hash, address, source,
               name, topics, data, block_timestamp, tx_from)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (chain_id, block_hash, log_index) DO NOTHING",
        )
        .bind(chain)
        .bind(i64_of(log.block_number))
        .bind(log.block_hash.as_slice())
        .bind(i64_of(log.log_index))
        .bind(log.tx_hash.as_slice())
        .bind(log.address.as_slice())
        .bind(decoded.source.as_str())
        .bind(decoded.name)
        .bind(log.topics.iter().flat_map(|t| t.0).collect::<Vec<u8>>())
        .bind(log.data.as_ref())
        .bind(log.block_timestamp.map(i64_of))
        .bind(log.tx_from.map(bytes))
        .execute(&mut *conn)
        .await
        .map_err(q("insert an event"))?;
        if inserted.rows_affected() == 1 {
            new.insert((log.block_hash, log.log_index));
        }
    }
    Ok(new)
}

/// Inserts raw events with one statement; returns the keys that were not there yet.
async fn insert_events(
    conn: &mut PgConnection,
    chain: i64,
    logs: &[(RawLog, Decoded)],
) -> Result<std::collections::HashSet<(B256, u64)>, DbError> {
    if logs.is_empty() {
        return Ok(Default::default());
    }
    let mut numbers = Vec::with_capacity(logs.len());
    let mut hashes = Vec::with_capacity(logs.len());
    let mut indexes = Vec::with_capacity(logs.len());
    let mut txs = Vec::with_capacity(logs.len());
    let mut addresses = Vec::with_capacity(logs.len());
    let mut sources = Vec::with_capacity(logs.len());
    let mut names = Vec::with_capacity(logs.len());
    let mut topics = Vec::with_capacity(logs.len());
    let mut data = Vec::with_capacity(logs.len());
    let mut times = Vec::with_capacity(logs.len());
    let mut senders = Vec::with_capacity(logs.len());
    for (log, decoded) in logs {
        numbers.push(i64_of(log.block_number));
        hashes.push(log.block_hash.to_vec());
        indexes.push(i64_of(log.log_index));
        txs.push(log.tx_hash.to_vec());
        addresses.push(bytes(log.address));
        sources.push(decoded.source.as_str());
        names.push(decoded.name);
        topics.push(log.topics.iter().flat_map(|t| t.0).collect::<Vec<u8>>());
        data.push(log.data.to_vec());
        times.push(log.block_timestamp.map(i64_of));
        senders.push(log.tx_from.map(|a| a.to_vec()));
    }
    let rows = sqlx::query(
        "INSERT INTO events (chain_id, block_number, block_hash, log_index, tx_hash, address, source, name, topics, data,
           block_timestamp, tx_from)
         SELECT $1, * FROM UNNEST($2::bigint[], $3::bytea[], $4::bigint[], $5::bytea[], $6::bytea[],
                                  $7::text[], $8::text[], $9::bytea[], $10::bytea[], $11::bigint[], $12::bytea[])
         ON CONFLICT (chain_id, block_hash, log_index) DO NOTHING
         RETURNING block_hash, log_index",
    )
    .bind(chain)
    .bind(numbers)
    .bind(hashes)
    .bind(indexes)
    .bind(txs)
    .bind(addresses)
    .bind(sources)
    .bind(names)
    .bind(topics)
    .bind(data)
    .bind(times)
    .bind(senders)
    .fetch_all(&mut *conn)
    .await
    .map_err(q("insert events"))?;
    rows.iter()
        .map(|row| Ok((b256_of(&row.get::<Vec<u8>, _>(0), "block hash")?, u64_of(row.get(1)))))
        .collect()
}

/// Deletes everything above `ancestor` and restores the derived tables as they were at it:
/// from the undo journal when every batch above `ancestor` was journaled, else by recomputing
/// them from the raw events that remain.
async fn rollback(conn: &mut PgConnection, chain_id: u64, ancestor: u64) -> Result<(), DbError> {
    let chain = i64_of(chain_id);
    let journal_from: Option<i64> =
        sqlx::query_scalar("SELECT journal_from FROM chain_state WHERE chain_id = $1")
            .bind(chain)
            .fetch_optional(&mut *conn)
            .await
            .map_err(q("read the journaled span"))?
            .flatten();
    let journaled = journal_from.is_some_and(|from| i64_of(ancestor + 1) >= from);
    for (sql, action) in [
        ("DELETE FROM events WHERE chain_id = $1 AND block_number > $2", "roll back events"),
        ("DELETE FROM blocks WHERE chain_id = $1 AND number > $2", "roll back blocks"),
        ("DELETE FROM access_tokens WHERE chain_id = $1 AND block_number > $2", "roll back access tokens"),
        ("UPDATE chain_state SET indexed_block = $2 WHERE chain_id = $1", "roll back the checkpoint"),
    ] {
        sqlx::query(sql).bind(chain).bind(i64_of(ancestor)).execute(&mut *conn).await.map_err(q(action))?;
    }
    if journaled {
        undo(conn, chain, ancestor).await?;
    } else {
        recompute(conn, chain_id).await?;
        // The batches re-applied above the ancestor are journaled from here on.
        sqlx::query("UPDATE chain_state SET journal_from = $2 WHERE chain_id = $1")
            .bind(chain)
            .bind(i64_of(ancestor + 1))
            .execute(&mut *conn)
            .await
            .map_err(q("reset the journaled span"))?;
    }
    // A quorum is read from the chain, not from events: one whose snapshot (a timestamp) is after
    // the ancestor's may differ on the new branch, and is asked for again (all of them when the
    // ancestor's timestamp is not known).
    sqlx::query(
        "UPDATE proposals SET quorum = NULL WHERE chain_id = $1 AND quorum IS NOT NULL AND vote_start >=
           COALESCE((SELECT timestamp FROM blocks WHERE chain_id = $1 AND number = $2), 0)",
    )
    .bind(chain)
    .bind(i64_of(ancestor))
    .execute(&mut *conn)
    .await
    .map_err(q("forget rolled-back quorums"))?;
    Ok(())
}

/// Tables updated in place, with how to find one row from its journal key.
const MUTABLE: &[(&str, &str)] = &[
    ("assets", "t.asset_id = (k->>'asset_id')::numeric"),
    ("listings", "t.asset_id = (k->>'asset_id')::numeric"),
    ("splits", "t.asset_id = (k->>'asset_id')::numeric"),
    ("proposals", "t.proposal_id = (k->>'proposal_id')::numeric"),
    ("jobs", "t.job_id = (k->>'job_id')::numeric"),
    ("access_balances", "t.token = decode(k->>'token', 'hex') AND t.holder = decode(k->>'holder', 'hex')"),
    ("delegations", "t.delegator = decode(k->>'delegator', 'hex')"),
    ("compute_providers", "t.provider = decode(k->>'provider', 'hex')"),
    ("currencies", "t.currency = decode(k->>'currency', 'hex')"),
];

/// Append-only derived tables: rows above the ancestor are simply deleted.
const APPEND_ONLY: &[&str] = &[
    "purchases",
    "releases",
    "votes",
    "asset_versions",
    "access_orders",
    "proposal_actions",
    "governance_settings",
    "fee_releases",
];

fn key_condition(table: &str) -> Result<&'static str, DbError> {
    MUTABLE
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, c)| *c)
        .ok_or(DbError::Corrupt { what: "undo-log table" })
}

/// Records the current image of one row before it changes.
async fn keep(
    conn: &mut PgConnection,
    chain: i64,
    block: i64,
    table: &'static str,
    key: Value,
) -> Result<(), DbError> {
    let condition = key_condition(table)?;
    // Table names and conditions come from `MUTABLE`, never from input.
    let sql = format!(
        "INSERT INTO undo_log (chain_id, block_number, tbl, key, old)
         SELECT $1, $2, $3, k, (SELECT to_jsonb(t) FROM {table} t WHERE t.chain_id = $1 AND {condition})
         FROM (SELECT $4::jsonb AS k) keys"
    );
    sqlx::query(&sql)
        .bind(chain)
        .bind(block)
        .bind(table)
        .bind(key)
        .execute(&mut *conn)
        .await
        .map_err(q("journal a row"))?;
    Ok(())
}

/// Restores the journaled images above `ancestor`, newest first.
async fn undo(conn: &mut PgConnection, chain: i64, ancestor: u64) -> Result<(), DbError> {
    for table in APPEND_ONLY {
        let sql = format!("DELETE FROM {table} WHERE chain_id = $1 AND block_number > $2");
        sqlx::query(&sql)
            .bind(chain)
            .bind(i64_of(ancestor))
            .execute(&mut *conn)
            .await
            .map_err(q("roll back rows"))?;
    }
    // Set-based, one table at a time: each row's first image kept above `ancestor` is the row
    // as it was at `ancestor` (absent when that image is NULL).
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT tbl FROM undo_log WHERE chain_id = $1 AND block_number > $2")
            .bind(chain)
            .bind(i64_of(ancestor))
            .fetch_all(&mut *conn)
            .await
            .map_err(q("read the undo log"))?;
    for table in tables {
        let (table, condition) = MUTABLE
            .iter()
            .find(|(t, _)| *t == table)
            .copied()
            .ok_or(DbError::Corrupt { what: "undo-log table" })?;
        // Table names and conditions come from `MUTABLE`, never from input.
        let delete = format!(
            "DELETE FROM {table} t USING (SELECT DISTINCT key AS k FROM undo_log
               WHERE chain_id = $1 AND block_number > $2 AND tbl = $3) keys
             WHERE t.chain_id = $1 AND {condition}"
        );
        let restore = format!(
            "INSERT INTO {table} SELECT r.* FROM (SELECT DISTINCT ON (key) old FROM undo_log
               WHERE chain_id = $1 AND block_number > $2 AND tbl = $3 ORDER BY key, seq) first,
             jsonb_populate_record(NULL::{table}, first.old) r
             WHERE first.old IS NOT NULL"
        );
        for (sql, action) in [(delete, "undo rows"), (restore, "restore rows")] {
            sqlx::query(&sql)
                .bind(chain)
                .bind(i64_of(ancestor))
                .bind(table)
                .execute(&mut *conn)
                .await
                .map_err(q(action))?;
        }
    }
    sqlx::query("DELETE FROM undo_log WHERE chain_id = $1 AND block_number > $2")
        .bind(chain)
        .bind(i64_of(ancestor))
        .execute(&mut *conn)
        .await
        .map_err(q("trim the undo log"))?;
    Ok(())
}

/// Rebuilds every derived table from the raw events (when the journal does not reach back).
async fn recompute(conn: &mut PgConnection, chain_id: u64) -> Result<(), DbError> {
    let chain = i64_of(chain_id);
    sqlx::query("DELETE FROM undo_log WHERE chain_id = $1")
        .bind(chain)
        .execute(&mut *conn)
        .await
        .map_err(q("clear the undo log"))?;
    delete_chain_rows(conn, DERIVED_TABLES, chain_id).await?;
    let rows = sqlx::query(
        "SELECT block_number, block_hash, log_index, tx_hash, address, source, topics, data, block_timestamp,
           tx_from
         FROM events WHERE chain_id = $1 ORDER BY block_number, log_index",
    )
    .bind(chain)
    .fetch_all(&mut *conn)
    .await
    .map_err(q("read events to replay"))?;
    for row in rows {
        let (source, log) = stored_log(&row)?;
        if let Some(event) = decode::decode(source, &log.topics, &log.data).event {
            apply(conn, chain, &log, &event, false).await?;
        }
    }
    Ok(())
}

/// A row of `events` (its `source`, `block_number`, `block_hash`, `log_index`, `tx_hash`,
/// `address`, `topics`, `data`, `block_timestamp` and `tx_from`) as the log it was stored from, and the role
/// of the contract that emitted it.
fn stored_log(row: &PgRow) -> Result<(Source, RawLog), DbError> {
    let source = source_of(row.get("source")).ok_or(DbError::Corrupt { what: "event source" })?;
    let topics: Vec<u8> = row.get("topics");
    let log = RawLog {
        block_number: u64_of(row.get("block_number")),
        block_hash: b256_of(&row.get::<Vec<u8>, _>("block_hash"), "block hash")?,
        log_index: u64_of(row.get("log_index")),
        tx_hash: b256_of(&row.get::<Vec<u8>, _>("tx_hash"), "tx hash")?,
        address: Address::try_from(row.get::<Vec<u8>, _>("address").as_slice())
            .map_err(|_| DbError::Corrupt { what: "event address" })?,
        topics: topics.chunks(32).map(B256::from_slice).collect(),
        data: Bytes::from(row.get::<Vec<u8>, _>("data")),
        block_timestamp: row.get::<Option<i64>, _>("block_timestamp").map(u64_of),
        tx_from: row
            .get::<Option<Vec<u8>>, _>("tx_from")
            .map(|a| {
                Address::try_from(a.as_slice()).map_err(|_| DbError::Corrupt { what: "transaction sender" })
            })
            .transpose()?,
    };
    Ok((source, log))
}

fn source_of(name: &str) -> Option<Source> {
    [
        Source::Token,
        Source::Timelock,
        Source::Governor,
        Source::Registry,
        Source::Marketplace,
        Source::Splitter,
        Source::Compute,
        Source::AccessToken,
        Source::Rewards,
    ]
    .into_iter()
    .find(|s| s.as_str() == name)
}

/// Runs one statement of [`apply`].
async fn exec(
    conn: &mut PgConnection,
    query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> Result<(), DbError> {
    query.execute(conn).await.map_err(q("apply an event"))?;
    Ok(())
}

/// The rows of in-place tables that [`apply`] changes for `event`: (table, journal key).
fn touched(log: &RawLog, event: &Event) -> Vec<(&'static str, Value)> {
    let asset = |id: U256| json!({ "asset_id": id.to_string() });
    let hex = |a: Address| alloy::primitives::hex::encode(a);
    match event {
        Event::Registry(AssetRegistryEvents::AssetPublished(e)) => vec![("assets", asset(e.assetId))],
        Event::Registry(AssetRegistryEvents::MetadataUpdated(e)) => vec![("assets", asset(e.assetId))],
        Event::Registry(AssetRegistryEvents::AccessDurationUpdated(e)) => vec![("assets", asset(e.assetId))],
        Event::Registry(AssetRegistryEvents::Transfer(e)) => vec![("assets", asset(e.tokenId))],
        Event::Marketplace(MarketplaceEvents::ListingUpdated(e)) => vec![("listings", asset(e.assetId))],
        Event::Marketplace(MarketplaceEvents::AssetDelisted(e)) => vec![("listings", asset(e.assetId))],
        Event::Marketplace(MarketplaceEvents::AssetRelisted(e)) => vec![("listings", asset(e.assetId))],
        Event::Marketplace(MarketplaceEvents::CurrencyAllowed(e)) => {
            vec![("currencies", json!({ "currency": hex(e.currency) }))]
        }
        Event::Marketplace(MarketplaceEvents::CurrencyDisallowed(e)) => {
            vec![("currencies", json!({ "currency": hex(e.currency) }))]
        }
        Event::AccessToken(AccessTokenEvents::Transfer(e)) => [e.from, e.to]
            .into_iter()
            .filter(|holder| *holder != Address::ZERO)
            .map(|holder| ("access_balances", json!({ "token": hex(log.address), "holder": hex(holder) })))
            .collect(),
        Event::Splitter(RevenueSplitterEvents::SplitUpdated(e)) => vec![("splits", asset(e.assetId))],
        Event::Governor(e) => {
            let id = match e {
                AgoraGovernorEvents::ProposalCreated(e) => e.proposalId,
                AgoraGovernorEvents::VoteCast(e) => e.proposalId,
                AgoraGovernorEvents::VoteCastWithParams(e) => e.proposalId,
                AgoraGovernorEvents::ProposalQueued(e) => e.proposalId,
                AgoraGovernorEvents::ProposalExecuted(e) => e.proposalId,
                AgoraGovernorEvents::ProposalCanceled(e) => e.proposalId,
                AgoraGovernorEvents::ProposalExtended(e) => e.proposalId,
                _ => return Vec::new(),
            };
            vec![("proposals", json!({ "proposal_id": id.to_string() }))]
        }
        Event::Token(AgoraTokenEvents::DelegateChanged(e)) => {
            vec![("delegations", json!({ "delegator": hex(e.delegator) }))]
        }
        Event::Compute(e) => {
            let provider = |p: Address| vec![("compute_providers", json!({ "provider": hex(p) }))];
            let job = |id: U256| vec![("jobs", json!({ "job_id": id.to_string() }))];
            match e {
                ComputeMarketEvents::ProviderRegistered(e) => provider(e.provider),
                ComputeMarketEvents::ProviderUpdated(e) => provider(e.provider),
                ComputeMarketEvents::StakeAdded(e) => provider(e.provider),
                ComputeMarketEvents::ProviderExitRequested(e) => provider(e.provider),
                ComputeMarketEvents::ProviderExited(e) => provider(e.provider),
                ComputeMarketEvents::JobOpened(e) => job(e.jobId),
                ComputeMarketEvents::ResultPosted(e) => job(e.jobId),
                ComputeMarketEvents::JobFinalized(e) => job(e.jobId),
                ComputeMarketEvents::JobRefunded(e) => job(e.jobId),
                ComputeMarketEvents::JobDisputed(e) => job(e.jobId),
                ComputeMarketEvents::DisputeRuled(e) => job(e.jobId),
                ComputeMarketEvents::DisputeExpired(e) => job(e.jobId),
                ComputeMarketEvents::JobDeclined(e) => job(e.jobId),
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

/// Updates the derived tables for one event.
async fn apply(
    conn: &mut PgConnection,
    chain: i64,
    log: &RawLog,
    event: &Event,
    journal: bool,
) -> Result<(), DbError> {
    let block = i64_of(log.block_number);
    if journal {
        for (table, key) in touched(log, event) {
            keep(conn, chain, block, table, key).await?;
        }
    }
    apply_details(conn, chain, log, event).await?;
    let position = i64_of(log.log_index);
    let tx_hash = log.tx_hash.as_slice();
    match event {
        Event::Registry(AssetRegistryEvents::AssetPublished(e)) => {
            exec(
                conn,
                sqlx::query(
                    "INSERT INTO assets (chain_id, asset_id, owner, access_token, kind, compute_only,
                       access_duration, version, content_digest, metadata_cid, published_block, updated_block)
                     VALUES ($1, $2::numeric, $3, $4, $5, $6, $7, 1, $8, $9, $10, $10)",
                )
                .bind(chain)
                .bind(dec(e.assetId))
                .bind(e.owner.as_slice())
                .bind(e.accessToken.as_slice())
                .bind(i16::from(e.kind))
                .bind(e.computeOnly)
                .bind(i64::from(e.accessDuration))
                .bind(e.contentDigest.as_slice())
                .bind(&e.metadataCid)
                .bind(block),
            )
            .await?;
            exec(
                conn,
                sqlx::query(
                    "INSERT INTO asset_versions (chain_id, asset_id, version, content_digest, metadata_cid,
                       block_number, tx_hash, block_timestamp) VALUES ($1, $2::numeric, 1, $3, $4, $5, $6, $7)",
                )
                .bind(chain)
                .bind(dec(e.assetId))
                .bind(e.contentDigest.as_slice())
                .bind(&e.metadataCid)
                .bind(block)
                .bind(tx_hash)
                .bind(log.block_timestamp.map(i64_of)),
            )
            .await
        }
        Event::Registry(AssetRegistryEvents::MetadataUpdated(e)) => {
            exec(
                conn,
                sqlx::query(
                    "UPDATE assets SET version = $3, content_digest = $4, metadata_cid = $5, updated_block = $6
                     WHERE chain_id = $1 AND asset_id = $2::numeric",
                )
                .bind(chain)
                .bind(dec(e.assetId))
                .bind(i64::from(e.version))
                .bind(e.contentDigest.as_slice())
                .bind(&e.metadataCid)
                .bind(block),
            )
            .await?;
            exec(
                conn,
                sqlx::query(
                    "INSERT INTO asset_versions (chain_id, asset_id, version, content_digest, metadata_cid,
                       block_number, tx_hash, block_timestamp) VALUES ($1, $2::numeric, $3, $4, $5, $6, $7, $8)",
                )
                .bind(chain)
                .bind(dec(e.assetId))
                .bind(i64::from(e.version))
                .bind(e.contentDigest.as_slice())
                .bind(&e.metadataCid)
                .bind(block)
                .bind(tx_hash)
                .bind(log.block_timestamp.map(i64_of)),
            )
            .await
        }
        Event::Registry(AssetRegistryEvents::AccessDurationUpdated(e)) => {
            exec(
                conn,
                sqlx::query(
                    "UPDATE assets SET access_duration = $3, updated_block = $4
                     WHERE chain_id = $1 AND asset_id = $2::numeric",
                )
                .bind(chain)
                .bind(dec(e.assetId))
                .bind(i64::from(e.accessDuration))
                .bind(block),
            )
            .await
        }
        Event::Registry(AssetRegistryEvents::Transfer(e)) => {
            // The mint comes before `AssetPublished`, which carries the owner itself.
            exec(
                conn,
                sqlx::query(
                    "UPDATE assets SET owner = $3, updated_block = $4 WHERE chain_id = $1 AND asset_id = $2::numeric",
                )
                .bind(chain)
                .bind(dec(e.tokenId))
                .bind(e.to.as_slice())
                .bind(block),
            )
            .await
        }
        Event::Marketplace(MarketplaceEvents::ListingUpdated(e)) => {
            exec(
                conn,
                sqlx::query(
                    "INSERT INTO listings (chain_id, asset_id, currency, price, free_per_address)
                     VALUES ($1, $2::numeric, $3, $4::numeric, $5)
                     ON CONFLICT (chain_id, asset_id) DO UPDATE SET currency = EXCLUDED.currency,
                       price = EXCLUDED.price, free_per_address = EXCLUDED.free_per_address",
                )
                .bind(chain)
                .bind(dec(e.assetId))
                .bind(e.currency.as_slice())
                .bind(dec(e.price))
                .bind(i32::from(e.freePerAddress)),
            )
            .await
        }
        Event::Marketplace(MarketplaceEvents::AssetDelisted(e)) => set_delisted(conn, chain, e.assetId, true).await,
        Event::Marketplace(MarketplaceEvents::AssetRelisted(e)) => set_delisted(conn, chain, e.assetId, false).await,
        Event::Marketplace(MarketplaceEvents::CurrencyAllowed(e)) => {
            set_currency_allowed(conn, chain, e.currency, true, block).await
        }
        Event::Marketplace(MarketplaceEvents::CurrencyDisallowed(e)) => {
            set_currency_allowed(conn, chain, e.currency, false, block).await
        }
        Event::Marketplace(MarketplaceEvents::Purchased(e)) => {
            exec(
                conn,
                sqlx::query(
                    "INSERT INTO purchases (chain_id, block_number, log_index, tx_hash, asset_id, buyer, currency,
                       amount, free_amount, paid, fee)
                     VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, $8::numeric, $9::numeric, $10::numeric, $11::numeric)",
                )
                .bind(chain)
                .bind(block)
                .bind(position)
                .bind(tx_hash)
                .bind(dec(e.assetId))
                .bind(e.buyer.as_slice())
                .bind(e.currency.as_slice())
                .bind(dec(e.amount))
                .bind(dec(e.freeAmount))
                .bind(dec(e.paid))
                .bind(dec(e.fee)),
            )
            .await
        }
        Event::AccessToken(AccessTokenEvents::Transfer(e)) => {
            for (holder, delta) in [(e.from, format!("-{}", e.value)), (e.to, e.value.to_string())] {
                if holder == Address::ZERO {
                    continue;
                }
                exec(
                    conn,
                    sqlx::query(
                        "INSERT INTO access_balances (chain_id, token, holder, balance) VALUES ($1, $2, $3, $4::numeric)
                         ON CONFLICT (chain_id, token, holder)
                         DO UPDATE SET balance = access_balances.balance + EXCLUDED.balance",
                    )
                    .bind(chain)
                    .bind(log.address.as_slice())
                    .bind(holder.as_slice())
                    .bind(delta),
                )
                .await?;
            }
            Ok(())
        }
        Event::AccessToken(AccessTokenEvents::AccessConsumed(e)) => {
            exec(
                conn,
                sqlx::query(
                    "INSERT INTO access_orders (chain_id, token, asset_id, order_id, consumer, provider, expires_at,
                       block_number, tx_hash)
                     SELECT $1, $2, t.asset_id, $3::numeric, $4, $5, $6, $7, $8
                     FROM access_tokens t WHERE t.chain_id = $1 AND t.address = $2",
                )
                .bind(chain)
                .bind(log.address.as_slice())
                .bind(dec(e.orderId))
                .bind(e.consumer.as_slice())
                .bind(e.provider.as_slice())
                .bind(i64_of(e.expiresAt))
                .bind(block)
                .bind(tx_hash),
            )
            .await
        }
        Event::Splitter(RevenueSplitterEvents::SplitUpdated(e)) => {
            let recipients: Vec<Vec<u8>> = e.recipients.iter().map(|a| bytes(*a)).collect();
            let bps: Vec<i32> = e.bps.iter().map(|b| i32::from(*b)).collect();
            exec(
                conn,
                sqlx::query(
                    "INSERT INTO splits (chain_id, asset_id, recipients, bps) VALUES ($1, $2::numeric, $3, $4)
                     ON CONFLICT (chain_id, asset_id) DO UPDATE SET recipients = EXCLUDED.recipients, bps = EXCLUDED.bps",
                )
                .bind(chain)
                .bind(dec(e.assetId))
                .bind(recipients)
                .bind(bps),
            )
            .await
        }
        Event::Splitter(RevenueSplitterEvents::Released(e)) => {
            insert_release(conn, chain, block, position, Some(e.assetId), e.currency, e.recipient, e.amount).await
        }
        Event::Splitter(RevenueSplitterEvents::FeesReleased(e)) => {
            insert_release(conn, chain, block, position, None, e.currency, e.recipient, e.amount).await
        }
        Event::Governor(AgoraGovernorEvents::ProposalCreated(e)) => {
            exec(
                conn,
                sqlx::query(
                    "INSERT INTO proposals (chain_id, proposal_id, proposer, description, vote_start, vote_end,
                       status, created_block)
                     VALUES ($1, $2::numeric, $3, $4, $5::numeric, $6::numeric, 'created', $7)",
                )
                .bind(chain)
                .bind(dec(e.proposalId))
                .bind(e.proposer.as_slice())
                .bind(&e.description)
                .bind(dec(e.voteStart))
                .bind(dec(e.voteEnd))
                .bind(block),
            )
            .await
        }
        Event::Governor(AgoraGovernorEvents::VoteCast(e)) => {
            vote(conn, chain, log, e.proposalId, e.voter, e.support, e.weight, &e.reason).await
        }
        Event::Governor(AgoraGovernorEvents::VoteCastWithParams(e)) => {
            vote(conn, chain, log, e.proposalId, e.voter, e.support, e.weight, &e.reason).await
        }
        Event::Governor(AgoraGovernorEvents::ProposalQueued(e)) => {
            exec(
                conn,
                sqlx::query(
                    "UPDATE proposals SET status = 'queued', eta = $3::numeric
                     WHERE chain_id = $1 AND proposal_id = $2::numeric",
                )
                .bind(chain)
                .bind(dec(e.proposalId))
                .bind(dec(e.etaSeconds)),
            )
            .await
        }
        Event::Governor(AgoraGovernorEvents::ProposalExecuted(e)) => {
            proposal_status(conn, chain, e.proposalId, "executed").await
        }
        Event::Governor(AgoraGovernorEvents::ProposalCanceled(e)) => {
            proposal_status(conn, chain, e.proposalId, "canceled").await
        }
        // A quorum reached late moved the vote's end (GovernorPreventLateQuorum).
        Event::Governor(AgoraGovernorEvents::ProposalExtended(e)) => {
            exec(
                conn,
                sqlx::query(
                    "UPDATE proposals SET vote_end = $3::numeric WHERE chain_id = $1 AND proposal_id = $2::numeric",
                )
                .bind(chain)
                .bind(dec(e.proposalId))
                .bind(e.extendedDeadline.to_string()),
            )
            .await
        }
        Event::Token(AgoraTokenEvents::DelegateChanged(e)) => {
            exec(
                conn,
                sqlx::query(
                    "INSERT INTO delegations (chain_id, delegator, delegate) VALUES ($1, $2, $3)
                     ON CONFLICT (chain_id, delegator) DO UPDATE SET delegate = EXCLUDED.delegate",
                )
                .bind(chain)
                .bind(e.delegator.as_slice())
                .bind(e.toDelegate.as_slice()),
            )
            .await
        }
        Event::Compute(ComputeMarketEvents::ProviderRegistered(e)) => {
            exec(
                conn,
                sqlx::query(
                    "INSERT INTO compute_providers (chain_id, provider, endpoint, currency, price, stake, active)
                     VALUES ($1, $2, $3, $4, $5::numeric, $6::numeric, TRUE)
                     ON CONFLICT (chain_id, provider) DO UPDATE SET endpoint = EXCLUDED.endpoint,
                       currency = EXCLUDED.currency, price = EXCLUDED.price, stake = EXCLUDED.stake,
                       exit_available_at = NULL, active = TRUE",
                )
                .bind(chain)
                .bind(e.provider.as_slice())
                .bind(&e.endpoint)
                .bind(e.currency.as_slice())
                .bind(dec(e.price))
                .bind(dec(e.stake)),
            )
            .await
        }
        Event::Compute(ComputeMarketEvents::ProviderUpdated(e)) => {
            exec(
                conn,
                sqlx::query(
                    "UPDATE compute_providers SET endpoint = $3, currency = $4, price = $5::numeric
                     WHERE chain_id = $1 AND provider = $2",
                )
                .bind(chain)
                .bind(e.provider.as_slice())
                .bind(&e.endpoint)
                .bind(e.currency.as_slice())
                .bind(dec(e.price)),
            )
            .await
        }
        Event::Compute(ComputeMarketEvents::StakeAdded(e)) => {
            exec(
                conn,
                sqlx::query(
                    "UPDATE compute_providers SET stake = $3::numeric WHERE chain_id = $1 AND provider = $2",
                )
                .bind(chain)
                .bind(e.provider.as_slice())
                .bind(dec(e.stake)),
            )
            .await
        }
        Event::Compute(ComputeMarketEvents::ProviderExitRequested(e)) => {
            exec(
                conn,
                sqlx::query(
                    "UPDATE compute_providers SET exit_available_at = $3 WHERE chain_id = $1 AND provider = $2",
                )
                .bind(chain)
                .bind(e.provider.as_slice())
                .bind(i64_of(e.availableAt)),
            )
            .await
        }
        Event::Compute(ComputeMarketEvents::ProviderExited(e)) => {
            exec(
                conn,
                sqlx::query(
                    "UPDATE compute_providers SET active = FALSE, stake = 0 WHERE chain_id = $1 AND provider = $2",
                )
                .bind(chain)
                .bind(e.provider.as_slice()),
            )
            .await
        }
        Event::Compute(ComputeMarketEvents::JobOpened(e)) => {
            exec(
                conn,
                sqlx::query(
                    "INSERT INTO jobs (chain_id, job_id, consumer, provider, dataset_id, algorithm_id, order_id,
                       algorithm_order_id, currency, payment, deadline, spec_cid, status, opened_block,
                       updated_block)
                     VALUES ($1, $2::numeric, $3, $4, $5::numeric, $6::numeric, $7::numeric, $8::numeric, $9,
                       $10::numeric, $11, $12, 'open', $13, $13)",
                )
                .bind(chain)
                .bind(dec(e.jobId))
                .bind(e.consumer.as_slice())
                .bind(e.provider.as_slice())
                .bind(dec(e.datasetId))
                .bind(dec(e.algorithmId))
                .bind(dec(e.orderId))
                .bind(algorithm_order(e))
                .bind(e.currency.as_slice())
                .bind(dec(e.payment))
                .bind(i64_of(e.deadline))
                .bind(&e.specCid)
                .bind(block),
            )
            .await
        }
        Event::Compute(ComputeMarketEvents::ResultPosted(e)) => {
            exec(
                conn,
                sqlx::query(
                    "UPDATE jobs SET status = 'result_posted', result_cid = $3, output_hash = $4, challenge_end = $5,
                       updated_block = $6 WHERE chain_id = $1 AND job_id = $2::numeric",
                )
                .bind(chain)
                .bind(dec(e.jobId))
                .bind(&e.resultCid)
                .bind(e.outputHash.as_slice())
                .bind(i64_of(e.challengeEnd))
                .bind(block),
            )
            .await
        }
        Event::Compute(ComputeMarketEvents::JobFinalized(e)) => {
            exec(
                conn,
                sqlx::query(
                    "UPDATE jobs SET status = 'finalized', provider_payout = $3::numeric, fee = $4::numeric,
                       updated_block = $5 WHERE chain_id = $1 AND job_id = $2::numeric",
                )
                .bind(chain)
                .bind(dec(e.jobId))
                .bind(dec(e.providerPayout))
                .bind(dec(e.fee))
                .bind(block),
            )
            .await
        }
        Event::Compute(ComputeMarketEvents::JobRefunded(e)) => {
            exec(
                conn,
                sqlx::query(
                    "UPDATE jobs SET status = 'refunded', refunded = $3::numeric, updated_block = $4
                     WHERE chain_id = $1 AND job_id = $2::numeric",
                )
                .bind(chain)
                .bind(dec(e.jobId))
                .bind(dec(e.amount))
                .bind(block),
            )
            .await
        }
        Event::Compute(ComputeMarketEvents::JobDisputed(e)) => {
            exec(
                conn,
                sqlx::query(
                    "UPDATE jobs SET status = 'disputed', challenger = $3, updated_block = $4
                     WHERE chain_id = $1 AND job_id = $2::numeric",
                )
                .bind(chain)
                .bind(dec(e.jobId))
                .bind(e.challenger.as_slice())
                .bind(block),
            )
            .await
        }
        Event::Compute(ComputeMarketEvents::DisputeRuled(e)) => {
            let status = if e.providerAtFault { "ruled_against_provider" } else { "dispute_rejected" };
            exec(
                conn,
                sqlx::query(
                    "UPDATE jobs SET status = $3, updated_block = $4 WHERE chain_id = $1 AND job_id = $2::numeric",
                )
                .bind(chain)
                .bind(dec(e.jobId))
                .bind(status)
                .bind(block),
            )
            .await?;
            if e.slashed.is_zero() {
                return Ok(());
            }
            // The slash comes out of the stake of the job's provider, whom the event does not name.
            let provider: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT provider FROM jobs WHERE chain_id = $1 AND job_id = $2::numeric")
                    .bind(chain)
                    .bind(dec(e.jobId))
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(q("find a ruled job's provider"))?;
            let Some(provider) = provider else { return Ok(()) };
            if journal {
                let key = json!({ "provider": alloy::primitives::hex::encode(&provider) });
                keep(conn, chain, block, "compute_providers", key).await?;
            }
            exec(
                conn,
                sqlx::query(
                    "UPDATE compute_providers SET stake = stake - $3::numeric WHERE chain_id = $1 AND provider = $2",
                )
                .bind(chain)
                .bind(provider)
                .bind(dec(e.slashed)),
            )
            .await
        }
        // Each is emitted after the event that recorded its money (`JobFinalized` of the
        // settlement, `JobRefunded` of the refund): only the status is left to set.
        Event::Compute(ComputeMarketEvents::DisputeExpired(e)) => set_job_status(conn, chain, e.jobId, "dispute_expired", block).await,
        Event::Compute(ComputeMarketEvents::JobDeclined(e)) => set_job_status(conn, chain, e.jobId, "declined", block).await,
        // Kept as raw events only: nothing derived depends on them.
        _ => Ok(()),
    }
}

/// Sets job `job`'s status, as of `block`.
async fn set_job_status(
    conn: &mut PgConnection,
    chain: i64,
    job: U256,
    status: &str,
    block: i64,
) -> Result<(), DbError> {
    exec(
        conn,
        sqlx::query(
            "UPDATE jobs SET status = $3, updated_block = $4
             WHERE chain_id = $1 AND job_id = $2::numeric",
        )
        .bind(chain)
        .bind(dec(job))
        .bind(status)
        .bind(block),
    )
    .await
}

async fn set_currency_allowed(
    conn: &mut PgConnection,
    chain: i64,
    currency: Address,
    allowed: bool,
    block: i64,
) -> Result<(), DbError> {
    exec(
        conn,
        sqlx::query(
            "INSERT INTO currencies (chain_id, currency, allowed, updated_block) VALUES ($1, $2, $3, $4)
             ON CONFLICT (chain_id, currency) DO UPDATE SET allowed = EXCLUDED.allowed,
               updated_block = EXCLUDED.updated_block",
        )
        .bind(chain)
        .bind(currency.as_slice())
        .bind(allowed)
        .bind(block),
    )
    .await
}

async fn set_delisted(
    conn: &mut PgConnection,
    chain: i64,
    asset_id: U256,
    delisted: bool,
) -> Result<(), DbError> {
    exec(
        conn,
        sqlx::query("UPDATE listings SET delisted = $3 WHERE chain_id = $1 AND asset_id = $2::numeric")
            .bind(chain)
            .bind(dec(asset_id))
            .bind(delisted),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn insert_release(
    conn: &mut PgConnection,
    chain: i64,
    block: i64,
    position: i64,
    asset_id: Option<U256>,
    currency: Address,
    recipient: Address,
    amount: U256,
) -> Result<(), DbError> {
    exec(
        conn,
        sqlx::query(
            "INSERT INTO releases (chain_id, block_number, log_index, asset_id, currency, recipient, amount)
             VALUES ($1, $2, $3, $4::numeric, $5, $6, $7::numeric)",
        )
        .bind(chain)
        .bind(block)
        .bind(position)
        .bind(asset_id.map(dec))
        .bind(currency.as_slice())
        .bind(recipient.as_slice())
        .bind(dec(amount)),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn vote(
    conn: &mut PgConnection,
    chain: i64,
    log: &RawLog,
    proposal_id: U256,
    voter: Address,
    support: u8,
    weight: U256,
    reason: &str,
) -> Result<(), DbError> {
    exec(
        conn,
        sqlx::query(
            "INSERT INTO votes (chain_id, proposal_id, voter, support, weight, reason, block_number, sent_by)
             VALUES ($1, $2::numeric, $3, $4, $5::numeric, $6, $7, $8)",
        )
        .bind(chain)
        .bind(dec(proposal_id))
        .bind(voter.as_slice())
        .bind(i16::from(support))
        .bind(dec(weight))
        .bind(reason)
        .bind(i64_of(log.block_number))
        .bind(log.tx_from.map(bytes)),
    )
    .await?;
    // GovernorCountingSimple: 0 against, 1 for, 2 abstain.
    exec(
        conn,
        sqlx::query(
            "UPDATE proposals SET
               votes_against = votes_against + CASE WHEN $3 = 0 THEN $4::numeric ELSE 0 END,
               votes_for = votes_for + CASE WHEN $3 = 1 THEN $4::numeric ELSE 0 END,
               votes_abstain = votes_abstain + CASE WHEN $3 = 2 THEN $4::numeric ELSE 0 END
             WHERE chain_id = $1 AND proposal_id = $2::numeric",
        )
        .bind(chain)
        .bind(dec(proposal_id))
        .bind(i16::from(support))
        .bind(dec(weight)),
    )
    .await
}

async fn proposal_status(
    conn: &mut PgConnection,
    chain: i64,
    proposal_id: U256,
    status: &str,
) -> Result<(), DbError> {
    exec(
        conn,
        sqlx::query("UPDATE proposals SET status = $3 WHERE chain_id = $1 AND proposal_id = $2::numeric")
            .bind(chain)
            .bind(dec(proposal_id))
            .bind(status),
    )
    .await
}

/// The rows of migration 0011 one event derives (the rest of [`apply`], and all that
/// [`backfill_governance_details`] replays): a proposal's actions and its queue and execution
/// blocks, a changed DAO setting, a release of protocol fees.
async fn apply_details(
    conn: &mut PgConnection,
    chain: i64,
    log: &RawLog,
    event: &Event,
) -> Result<(), DbError> {
    let (block, position) = (i64_of(log.block_number), i64_of(log.log_index));
    if let Some((setting, value)) = Setting::changed_by(event) {
        return exec(
            conn,
            sqlx::query(
                "INSERT INTO governance_settings (chain_id, block_number, log_index, setting, value)
                 VALUES ($1, $2, $3, $4, $5::numeric) ON CONFLICT DO NOTHING",
            )
            .bind(chain)
            .bind(block)
            .bind(position)
            .bind(setting.as_str())
            .bind(dec(value)),
        )
        .await;
    }
    let (source, fees) = match event {
        Event::Governor(AgoraGovernorEvents::ProposalCreated(e)) => {
            // The governor refuses lists of different lengths; a mismatch would only drop the tail.
            let n = e.targets.len().min(e.values.len()).min(e.calldatas.len());
            let targets: Vec<Vec<u8>> = e.targets[..n].iter().map(|t| bytes(*t)).collect();
            let values: Vec<String> = e.values[..n].iter().map(|v| dec(*v)).collect();
            let calldatas: Vec<Vec<u8>> = e.calldatas[..n].iter().map(|c| c.to_vec()).collect();
            return exec(
                conn,
                sqlx::query(
                    "INSERT INTO proposal_actions (chain_id, proposal_id, position, target, value, calldata,
                       block_number)
                     SELECT $1, $2::numeric, u.n - 1, u.target, u.value::numeric, u.calldata, $6
                     FROM UNNEST($3::bytea[], $4::text[], $5::bytea[]) WITH ORDINALITY AS u(target, value, calldata, n)
                     ON CONFLICT DO NOTHING",
                )
                .bind(chain)
                .bind(dec(e.proposalId))
                .bind(targets)
                .bind(values)
                .bind(calldatas)
                .bind(block),
            )
            .await;
        }
        Event::Governor(AgoraGovernorEvents::ProposalQueued(e)) => {
            return proposal_block(conn, chain, e.proposalId, "queued_block", block).await;
        }
        Event::Governor(AgoraGovernorEvents::ProposalExecuted(e)) => {
            return proposal_block(conn, chain, e.proposalId, "executed_block", block).await;
        }
        Event::Splitter(RevenueSplitterEvents::FeesReleased(e)) => {
            (Source::Splitter, (e.currency, e.recipient, e.amount))
        }
        Event::Compute(ComputeMarketEvents::FeesReleased(e)) => {
            (Source::Compute, (e.currency, e.recipient, e.amount))
        }
        _ => return Ok(()),
    };
    let (currency, recipient, amount) = fees;
    exec(
        conn,
        sqlx::query(
            "INSERT INTO fee_releases (chain_id, block_number, log_index, source, currency, recipient, amount)
             VALUES ($1, $2, $3, $4, $5, $6, $7::numeric) ON CONFLICT DO NOTHING",
        )
        .bind(chain)
        .bind(block)
        .bind(position)
        .bind(source.as_str())
        .bind(currency.as_slice())
        .bind(recipient.as_slice())
        .bind(dec(amount)),
    )
    .await
}

/// Sets `column` (`queued_block` or `executed_block`) of proposal `proposal_id` to `block`.
async fn proposal_block(
    conn: &mut PgConnection,
    chain: i64,
    proposal_id: U256,
    column: &'static str,
    block: i64,
) -> Result<(), DbError> {
    // The column is one of the two literals above, never input.
    let sql = format!("UPDATE proposals SET {column} = $3 WHERE chain_id = $1 AND proposal_id = $2::numeric");
    exec(conn, sqlx::query(&sql).bind(chain).bind(dec(proposal_id)).bind(block)).await
}

/// Records the deployment followed on `chain_id` (the API names the protocol's contracts from
/// it), with the protocol fee its marketplace was deployed with when known.
pub async fn record_deployment(
    pool: &PgPool,
    chain_id: u64,
    contracts: &ContractAddresses,
    marketplace_fee_bps: Option<u16>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO deployments (chain_id, agora_token, timelock, governor, asset_registry, marketplace,
           revenue_splitter, compute_market, marketplace_fee_bps)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (chain_id) DO UPDATE SET agora_token = EXCLUDED.agora_token, timelock = EXCLUDED.timelock,
           governor = EXCLUDED.governor, asset_registry = EXCLUDED.asset_registry,
           marketplace = EXCLUDED.marketplace, revenue_splitter = EXCLUDED.revenue_splitter,
           compute_market = EXCLUDED.compute_market, marketplace_fee_bps = EXCLUDED.marketplace_fee_bps",
    )
    .bind(i64_of(chain_id))
    .bind(contracts.agora_token.as_slice())
    .bind(contracts.timelock.as_slice())
    .bind(contracts.governor.as_slice())
    .bind(contracts.asset_registry.as_slice())
    .bind(contracts.marketplace.as_slice())
    .bind(contracts.revenue_splitter.as_slice())
    .bind(contracts.compute_market.as_slice())
    .bind(marketplace_fee_bps.map(i32::from))
    .execute(pool)
    .await
    .map_err(q("record the deployment"))?;
    Ok(())
}

/// The proposals of `chain_id` whose quorum is not known yet: (proposal id, snapshot), the
/// snapshot a timestamp (the governor's clock).
pub async fn proposals_without_quorum(pool: &PgPool, chain_id: u64) -> Result<Vec<(U256, U256)>, DbError> {
    let rows = sqlx::query(
        "SELECT proposal_id::text AS proposal_id, vote_start::text AS vote_start FROM proposals
         WHERE chain_id = $1 AND quorum IS NULL ORDER BY proposal_id",
    )
    .bind(i64_of(chain_id))
    .fetch_all(pool)
    .await
    .map_err(q("find proposals without a quorum"))?;
    let number = |row: &PgRow, column: &str| {
        row.get::<String, _>(column).parse::<U256>().map_err(|_| DbError::Corrupt { what: "proposal number" })
    };
    rows.iter().map(|row| Ok((number(row, "proposal_id")?, number(row, "vote_start")?))).collect()
}

/// ERC-20 currencies the protocol names (the allow-list, listings, providers) whose units are
/// not recorded yet, at most `limit`.
pub async fn tokens_without_units(pool: &PgPool, chain_id: u64, limit: i64) -> Result<Vec<Address>, DbError> {
    let tokens: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT token FROM (
             SELECT currency AS token FROM currencies WHERE chain_id = $1
             UNION SELECT currency FROM listings WHERE chain_id = $1
             UNION SELECT currency FROM compute_providers WHERE chain_id = $1
         ) named
         WHERE token <> '\\x0000000000000000000000000000000000000000'::bytea
           AND NOT EXISTS (SELECT 1 FROM token_units u WHERE u.chain_id = $1 AND u.token = named.token)
         ORDER BY token LIMIT $2",
    )
    .bind(i64_of(chain_id))
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(q("find tokens without units"))?;
    tokens
        .iter()
        .map(|token| {
            (token.len() == 20)
                .then(|| Address::from_slice(token))
                .ok_or(DbError::Corrupt { what: "token address" })
        })
        .collect()
}

/// Records the units `token` writes amounts in.
pub async fn set_token_units(
    pool: &PgPool,
    chain_id: u64,
    token: Address,
    symbol: &str,
    decimals: u8,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO token_units (chain_id, token, symbol, decimals) VALUES ($1, $2, $3, $4)
         ON CONFLICT (chain_id, token) DO NOTHING",
    )
    .bind(i64_of(chain_id))
    .bind(token.as_slice())
    .bind(symbol)
    .bind(i16::from(decimals))
    .execute(pool)
    .await
    .map_err(q("record a token's units"))?;
    Ok(())
}

/// Records `quorum` for proposal `proposal_id`, as read for snapshot `vote_start` (a proposal a
/// reorg replaced meanwhile, with another snapshot, is left alone).
pub async fn set_quorum(
    pool: &PgPool,
    chain_id: u64,
    proposal_id: U256,
    vote_start: U256,
    quorum: U256,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE proposals SET quorum = $4::numeric
         WHERE chain_id = $1 AND proposal_id = $2::numeric AND vote_start = $3::numeric",
    )
    .bind(i64_of(chain_id))
    .bind(dec(proposal_id))
    .bind(dec(vote_start))
    .bind(dec(quorum))
    .execute(pool)
    .await
    .map_err(q("record a quorum"))?;
    Ok(())
}
