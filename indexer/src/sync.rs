//! Following one chain: backfill by block ranges, then block by block at the tip with reorg
//! detection.
//!
//! - Below `head - window` (blocks treated as final) the sync fetches `eth_getLogs` ranges for
//!   every Agora address at once, several ranges in flight, committed in order. Access-token
//!   clones announced by `AssetPublished` in a range are queried for that same range in one
//!   more request (never one request per clone). The range size adapts: it doubles after a
//!   success but stays near `target_logs` logs at the density just seen (which bounds memory),
//!   halves on "too many results"/timeouts, and takes a range the node suggests.
//! - Within the window, each block is fetched by hash (`eth_getLogs` with `blockHash`), its
//!   parent hash checked against the stored one; on a mismatch the sync finds the common
//!   ancestor among the stored hashes, fetches the new canonical blocks and rolls back and
//!   re-applies in one transaction. A reorg deeper than the window is an error that stops it.
//! - Level with the head, the sync asks the governor for the quorum of each proposal whose
//!   snapshot time has passed (the one value the indexer reads from the chain rather than from
//!   events: `quorum(voteStart)` cannot be answered before), once per proposal.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use agora_contracts::{
    AgoraGovernor, AssetRegistry::AssetRegistryEvents, ContractAddresses, Deployment, erc::IERC20Metadata,
};
use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::{
        client::ClientBuilder,
        types::{Filter, Header},
    },
    sol_types::SolEvent,
    transports::{
        RpcError, TransportError,
        http::reqwest::Url,
        layers::{RateLimitRetryPolicy, RetryBackoffLayer},
    },
};
use futures::StreamExt;
use indicatif::ProgressBar;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::{
    db::{self, Batch, BlockRef, DbError, WriteMode},
    decode::{self, AddressBook, Decoded, Event, RawLog, calls},
};

/// Sync settings.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Blocks below the head that may still reorg; their hashes are kept (default 64).
    pub window: u64,
    /// First `eth_getLogs` range size, in blocks.
    pub initial_range: u64,
    /// Largest range size.
    pub max_range: u64,
    /// Logs one `eth_getLogs` response should hold: after each range the next is sized to
    /// about this many at the density just seen. This bounds memory (about `concurrency` times
    /// this many logs are held at once) and keeps a dense stretch of the chain from producing a
    /// response of hundreds of megabytes.
    pub target_logs: u64,
    /// Ranges fetched at once.
    pub concurrency: usize,
    /// How often to poll for a new head.
    pub poll_interval: Duration,
    /// With a WebSocket subscription: how long without a new head before the node is asked
    /// whether the chain moved; if it did, the subscription is presumed dead, the sync polls
    /// and subscribes again.
    pub head_timeout: Duration,
    /// When the stored genesis hash differs from the node's: delete the chain's rows and start
    /// over instead of refusing.
    pub reset_on_new_chain: bool,
    /// Stop once the head is reached instead of following it.
    pub exit_at_head: bool,
    /// How the append-only tables are written (binary `COPY` unless benchmarking).
    pub write_mode: WriteMode,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            window: 64,
            initial_range: 100,
            max_range: 5_000,
            target_logs: 3_000,
            concurrency: 4,
            poll_interval: Duration::from_millis(500),
            head_timeout: Duration::from_secs(20),
            reset_on_new_chain: false,
            exit_at_head: false,
            write_mode: WriteMode::default(),
        }
    }
}

/// Syncing stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// An RPC request failed after the transport's retries.
    #[error("rpc: {action}: {source}")]
    Rpc {
        /// What was being done.
        action: String,
        /// The transport's error.
        #[source]
        source: TransportError,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The node serves another chain than the manifest's.
    #[error("the node serves chain {node}, the deployment manifest is for chain {manifest}")]
    WrongChain {
        /// The manifest's chain id.
        manifest: u64,
        /// The node's.
        node: u64,
    },
    /// The node's genesis differs from the one indexed: a restarted or different chain.
    #[error(
        "chain {chain_id} has genesis {node} but the database indexed genesis {stored}: \
         the chain was restarted; run `agora-indexer reset` (or pass --reset-on-new-chain) to index it from scratch"
    )]
    NewChain {
        /// Chain id.
        chain_id: u64,
        /// Genesis hash stored.
        stored: B256,
        /// Genesis hash of the node.
        node: B256,
    },
    /// A reorg replaced blocks deeper than the kept window.
    #[error(
        "reorg deeper than the {window}-block window at block {block}: no stored block hash matches the chain; \
         stopping to avoid corrupting the database (raise the window or reset)"
    )]
    ReorgTooDeep {
        /// The indexed block where the mismatch was seen.
        block: u64,
        /// The window size.
        window: u64,
    },
    /// The node does not have a block it just announced (it is still syncing or reorging).
    #[error("the node has no block {0}")]
    MissingBlock(u64),
    /// The node has no receipt for a transaction whose logs it served (it is still syncing or
    /// reorging).
    #[error("the node has no receipt for transaction {0}")]
    MissingReceipt(B256),
}

impl SyncError {
    /// Whether waiting and trying again may help (the node blinked, a reorg is in progress).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Rpc { .. } | Self::MissingBlock(_) | Self::MissingReceipt(_))
    }
}

fn rpc(action: impl Into<String>) -> impl FnOnce(TransportError) -> SyncError {
    let action = action.into();
    move |source| SyncError::Rpc { action, source }
}

/// Counters shared with the HTTP API.
#[derive(Debug)]
pub struct Metrics {
    /// Events committed since start.
    pub events: AtomicU64,
    /// Last committed block.
    pub indexed_block: AtomicU64,
    /// Last head seen.
    pub head_block: AtomicU64,
    /// Reorgs handled.
    pub reorgs: AtomicU64,
    /// RPC errors seen (after retries).
    pub rpc_errors: AtomicU64,
    /// WebSocket head subscriptions replaced because heads stopped coming.
    pub resubscribes: AtomicU64,
    /// When syncing started.
    pub started: Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            events: AtomicU64::new(0),
            indexed_block: AtomicU64::new(0),
            head_block: AtomicU64::new(0),
            reorgs: AtomicU64::new(0),
            rpc_errors: AtomicU64::new(0),
            resubscribes: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

/// A read-only provider over HTTP whose transport retries rate limits, timeouts and
/// connection failures with backoff.
pub fn http_provider(url: Url) -> DynProvider {
    // Any transport-level failure (refused connection, reset, HTTP 5xx) is worth retrying, not
    // only the rate limits the default policy knows.
    let policy =
        RateLimitRetryPolicy::default().or(|err: &TransportError| matches!(err, RpcError::Transport(_)));
    let client = ClientBuilder::default()
        .layer(RetryBackoffLayer::new_with_policy(10, 200, 100_000, policy))
        .http(url);
    ProviderBuilder::new().disable_recommended_fillers().connect_client(client).erased()
}

/// Follows one deployment's chain into the database.
pub struct Syncer {
    provider: DynProvider,
    pool: PgPool,
    chain_id: u64,
    start_block: u64,
    book: AddressBook,
    /// The deployment's contracts, recorded for the API, and its governor asked for quorums.
    contracts: ContractAddresses,
    /// The protocol fee the marketplace was deployed with, from the manifest.
    deployed_fee_bps: Option<u16>,
    config: SyncConfig,
    range: u64,
    indexed: u64,
    metrics: Arc<Metrics>,
    progress: ProgressBar,
    ws_url: Option<String>,
}

/// What a batch covers, to query newly found clones over the same blocks.
#[derive(Debug, Clone, Copy)]
enum Scope {
    /// Blocks `from..=to` by number.
    Range(u64, u64),
    /// One block by hash.
    Block(B256),
}

/// Logs of one range as first fetched.
struct Fetched {
    from: u64,
    to: u64,
    addresses: HashSet<Address>,
    logs: Vec<RawLog>,
    last: BlockRef,
}

impl Syncer {
    /// A syncer for `deployment`, reading through `provider` and writing to `pool`.
    pub fn new(provider: DynProvider, pool: PgPool, deployment: &Deployment, config: SyncConfig) -> Self {
        Self {
            provider,
            pool,
            chain_id: deployment.chain_id,
            start_block: deployment.deployment_block,
            book: AddressBook::new(deployment),
            contracts: deployment.contracts,
            deployed_fee_bps: calls::deployed_protocol_fee(deployment),
            range: config.initial_range.max(1),
            config,
            indexed: 0,
            metrics: Arc::new(Metrics::default()),
            progress: ProgressBar::hidden(),
            ws_url: None,
        }
    }

    /// Shows backfill progress on `bar`.
    pub fn with_progress(mut self, bar: ProgressBar) -> Self {
        self.progress = bar;
        self
    }

    /// Listens for new heads over WebSocket at `url` (polling stays as the fallback).
    pub fn with_ws(mut self, url: Option<String>) -> Self {
        self.ws_url = url;
        self
    }

    /// The counters this syncer updates.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The last committed block.
    pub fn indexed_block(&self) -> u64 {
        self.indexed
    }

    /// Checks the chain against the database and loads the checkpoint.
    pub async fn prepare(&mut self) -> Result<(), SyncError> {
        let node_chain = self.provider.get_chain_id().await.map_err(rpc("read the chain id"))?;
        if node_chain != self.chain_id {
            return Err(SyncError::WrongChain { manifest: self.chain_id, node: node_chain });
        }
        let genesis = self.header(0).await?.ok_or(SyncError::MissingBlock(0))?.hash;
        if let Some(stored) = db::checkpoint(&self.pool, self.chain_id).await?
            && stored.genesis_hash != genesis
        {
            if !self.config.reset_on_new_chain {
                return Err(SyncError::NewChain {
                    chain_id: self.chain_id,
                    stored: stored.genesis_hash,
                    node: genesis,
                });
            }
            tracing::warn!(chain_id = self.chain_id, "new chain detected: resetting the database");
            db::reset(&self.pool, self.chain_id).await?;
        }
        db::init_checkpoint(&self.pool, self.chain_id, genesis, self.start_block).await?;
        db::record_deployment(&self.pool, self.chain_id, &self.contracts, self.deployed_fee_bps).await?;
        let checkpoint = db::checkpoint(&self.pool, self.chain_id)
            .await?
            .ok_or(DbError::Corrupt { what: "checkpoint" })?;
        self.indexed = checkpoint.indexed_block;
        for (address, block) in db::clones(&self.pool, self.chain_id).await? {
            self.book.add_clone(address, block);
        }
        self.metrics.indexed_block.store(self.indexed, Ordering::Relaxed);
        Ok(())
    }

    /// Syncs until `shutdown` turns true (or, with `exit_at_head`, until the head is reached).
    /// Transient RPC failures are logged and retried; other errors stop it.
    pub async fn run(&mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), SyncError> {
        self.prepare().await?;
        let mut heads = self.subscribe_heads().await;
        // When the subscription last delivered a head, and the highest number it delivered.
        let mut last_head = Instant::now();
        let mut ws_head = self.provider.get_block_number().await.unwrap_or_default();
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            match self.step().await {
                Ok(true) => continue,
                Ok(false) => {
                    if self.config.exit_at_head {
                        self.progress.finish_and_clear();
                        return Ok(());
                    }
                }
                Err(err) if err.is_transient() => {
                    self.metrics.rpc_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %err, "sync step failed; retrying");
                }
                Err(err) => return Err(err),
            }
            // Caught up (or failed): wait for a head, the poll interval, the head watchdog or
            // shutdown.
            let sleep = tokio::time::sleep(self.config.poll_interval);
            match heads.as_mut() {
                Some(stream) => {
                    let watchdog = tokio::time::sleep_until((last_head + self.config.head_timeout).into());
                    tokio::select! {
                        head = stream.next() => match head {
                            Some(head) => {
                                last_head = Instant::now();
                                ws_head = ws_head.max(head.number);
                            }
                            None => {
                                tracing::warn!("WebSocket heads ended; polling until resubscribed");
                                heads = None;
                            }
                        },
                        _ = sleep => {},
                        _ = watchdog => {
                            last_head = Instant::now();
                            // Polling may have kept up meanwhile: what tells a dead subscription
                            // from an idle chain is whether the node is past its last head.
                            if self.heads_missed(ws_head).await {
                                tracing::warn!(
                                    timeout = ?self.config.head_timeout,
                                    "no new head over WebSocket although the chain moved: \
                                     subscription presumed dead; polling and resubscribing"
                                );
                                self.metrics.resubscribes.fetch_add(1, Ordering::Relaxed);
                                // Close the dead connection before opening the next.
                                drop(heads.take());
                                heads = self.subscribe_heads().await;
                                ws_head = self.metrics.head_block.load(Ordering::Relaxed);
                            } else {
                                tracing::debug!("no new head within the timeout; the chain is idle");
                            }
                        },
                        _ = shutdown.changed() => {},
                    }
                }
                None => {
                    // Without a live subscription, poll at least as often as the watchdog would.
                    let fallback = match self.ws_url {
                        Some(_) => self.config.poll_interval.min(self.config.head_timeout),
                        None => self.config.poll_interval,
                    };
                    tokio::select! {
                        _ = tokio::time::sleep(fallback) => {
                            if self.ws_url.is_some() {
                                heads = self.subscribe_heads().await;
                                last_head = Instant::now();
                                ws_head = self.metrics.head_block.load(Ordering::Relaxed);
                            }
                        },
                        _ = shutdown.changed() => {},
                    }
                }
            }
        }
    }

    /// Whether the node's head moved past `ws_head`, the last head the subscription delivered
    /// (or the head known when it started).
    async fn heads_missed(&self, ws_head: u64) -> bool {
        match self.provider.get_block_number().await {
            Ok(head) => head > ws_head,
            Err(err) => {
                tracing::warn!(error = %err, "head watchdog could not read the head");
                false
            }
        }
    }

    async fn subscribe_heads(&self) -> Option<futures::stream::BoxStream<'static, Header>> {
        let url = self.ws_url.as_ref()?;
        let ws = alloy::providers::WsConnect::new(url.clone());
        let provider = match ProviderBuilder::new().disable_recommended_fillers().connect_ws(ws).await {
            Ok(provider) => provider,
            Err(err) => {
                tracing::warn!(error = %err, "WebSocket connection failed; polling for heads");
                return None;
            }
        };
        match provider.subscribe_blocks().await {
            Ok(sub) => {
                // The stream owns a clone of the provider so the connection lives with it.
                let keep = provider.clone();
                Some(
                    sub.into_stream()
                        .map(move |h| {
                            let _ = &keep;
                            h
                        })
                        .boxed(),
                )
            }
            Err(err) => {
                tracing::warn!(error = %err, "newHeads subscription failed; polling for heads");
                None
            }
        }
    }

    /// One unit of work; `Ok(false)` when caught up with the head.
    pub async fn step(&mut self) -> Result<bool, SyncError> {
        let head = self.provider.get_block_number().await.map_err(rpc("read the head"))?;
        self.metrics.head_block.store(head, Ordering::Relaxed);
        let safe = head.saturating_sub(self.config.window);
        if self.indexed < safe {
            self.backfill(safe, head).await?;
            return Ok(true);
        }
        // Behind the head, `follow` checks each block's parent against the stored tip, which
        // detects a replaced tip without another round trip; level with it, the tip is compared.
        if self.indexed < head {
            self.follow(self.indexed + 1, head).await?;
            return Ok(true);
        }
        if self.tip_changed(head).await? {
            self.handle_reorg(head).await?;
            return Ok(true);
        }
        self.fill_quorums(head).await?;
        self.fill_token_units().await?;
        db::set_head(&self.pool, self.chain_id, head).await?;
        Ok(false)
    }

    /// Asks the governor for the quorum of every proposal whose snapshot (a timestamp: the
    /// governor's clock) is before `head`'s and whose quorum is not recorded yet. The governor
    /// cannot answer `quorum(voteStart)` before the snapshot; after it the answer never changes
    /// (unless a reorg replaces the blocks after it, and a rollback clears the quorums it may have
    /// changed). A failed call is logged and asked again at the next step level with the head.
    async fn fill_quorums(&self, head: u64) -> Result<(), SyncError> {
        let pending = db::proposals_without_quorum(&self.pool, self.chain_id).await?;
        if pending.is_empty() {
            return Ok(());
        }
        let Some(now) = self.header(head).await?.map(|h| h.timestamp) else {
            return Ok(());
        };
        let governor = AgoraGovernor::new(self.contracts.governor, self.provider.clone());
        for (proposal, snapshot) in pending.into_iter().filter(|(_, snapshot)| *snapshot < U256::from(now)) {
            match governor.quorum(snapshot).call().await {
                Ok(quorum) => db::set_quorum(&self.pool, self.chain_id, proposal, snapshot, quorum).await?,
                Err(err) => {
                    self.metrics.rpc_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        error = %err, %proposal, %snapshot,
                        "could not read a proposal's quorum; asking again later"
                    );
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Reads `symbol()` and `decimals()` of every ERC-20 the protocol names and has no units
    /// recorded for (a few per step). When the node does not answer, the token is asked again at
    /// a later step; a token that answers but not as ERC-20 metadata (a revert, a malformed
    /// string) is recorded without a symbol, and its amounts read as base units.
    async fn fill_token_units(&self) -> Result<(), SyncError> {
        const PER_STEP: i64 = 16;
        /// Longest symbol kept (a token's own string, shown on pages).
        const MAX_SYMBOL_CHARS: usize = 32;
        for token in db::tokens_without_units(&self.pool, self.chain_id, PER_STEP).await? {
            let erc20 = IERC20Metadata::new(token, self.provider.clone());
            let (symbol_call, decimals_call) = (erc20.symbol(), erc20.decimals());
            let (symbol, decimals) = match tokio::try_join!(symbol_call.call(), decimals_call.call()) {
                Ok(units) => units,
                Err(alloy::contract::Error::TransportError(err)) => {
                    self.metrics.rpc_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %err, %token, "could not read a token's units; asking again later");
                    continue;
                }
                Err(err) => {
                    tracing::warn!(error = %err, %token, "a currency without ERC-20 metadata: amounts in base units");
                    (String::new(), 0)
                }
            };
            let symbol: String = symbol
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_SYMBOL_CHARS)
                .collect::<String>()
                .trim()
                .to_owned();
            db::set_token_units(&self.pool, self.chain_id, token, &symbol, decimals).await?;
        }
        Ok(())
    }

    /// Whether the indexed tip is no longer on the node's chain.
    async fn tip_changed(&self, head: u64) -> Result<bool, SyncError> {
        let Some(stored) = db::window(&self.pool, self.chain_id, self.indexed, 1).await?.into_iter().next()
        else {
            return Ok(false);
        };
        if stored.number > head {
            return Ok(true);
        }
        let canonical = self.header(stored.number).await?;
        Ok(canonical.is_none_or(|h| h.hash != stored.hash))
    }

    async fn header(&self, number: u64) -> Result<Option<Header>, SyncError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(rpc(format!("read block {number}")))?;
        Ok(block.map(|b| b.header))
    }

    async fn get_logs(&self, filter: &Filter, what: &str) -> Result<Vec<RawLog>, TransportError> {
        let logs = self.provider.get_logs(filter).await?;
        tracing::trace!(what, count = logs.len(), "eth_getLogs");
        Ok(logs.iter().filter_map(RawLog::from_rpc).collect())
    }

    /// Range mode up to `safe`: up to `concurrency` ranges in flight while earlier ones
    /// commit, in order.
    async fn backfill(&mut self, safe: u64, head: u64) -> Result<(), SyncError> {
        self.progress.set_length(safe);
        self.progress.set_position(self.indexed);
        let mut inflight = InFlight::default();
        let mut next = self.indexed + 1;
        loop {
            while inflight.0.len() < self.config.concurrency.max(1) && next <= safe {
                let to = (next + self.range - 1).min(safe);
                let fetch = fetch_range(self.provider.clone(), next, to, self.book.all_addresses());
                inflight.0.push_back(tokio::spawn(fetch));
                next = to + 1;
            }
            let Some(handle) = inflight.0.pop_front() else { return Ok(()) };
            let fetched = match handle.await {
                Ok(result) => result,
                // A fetch task that panicked or was cancelled: fetch again on the next step.
                Err(err) => {
                    tracing::warn!(error = %err, "range fetch task failed");
                    return Ok(());
                }
            };
            match fetched {
                Ok(fetched) => {
                    let (blocks, logs) = (fetched.to - fetched.from + 1, fetched.logs.len() as u64);
                    self.commit_range(fetched, head).await?;
                    self.range = next_range_size(self.range, true, None, self.config.max_range)
                        .min(range_for_density(blocks, logs, self.config.target_logs));
                }
                Err(err) => {
                    let suggestion = suggested_range(&err.to_string());
                    let old = self.range;
                    self.range = next_range_size(self.range, false, suggestion, self.config.max_range);
                    tracing::warn!(error = %err, old, new = self.range, "eth_getLogs failed; shrinking the range");
                    // Later ranges depend on this one: they are dropped and fetched again.
                    return if is_range_error(&err) {
                        Ok(())
                    } else {
                        Err(SyncError::Rpc { action: "eth_getLogs".into(), source: err })
                    };
                }
            }
        }
    }

    async fn commit_range(&mut self, fetched: Fetched, head: u64) -> Result<(), SyncError> {
        let Fetched { from, to, addresses, mut logs, last } = fetched;
        // Clones discovered (by earlier ranges) after this range was fetched.
        let missing: Vec<Address> =
            self.book.all_addresses().into_iter().filter(|a| !addresses.contains(a)).collect();
        if !missing.is_empty() {
            let filter = Filter::new().from_block(from).to_block(to).address(missing);
            logs.extend(self.get_logs(&filter, "late clones").await.map_err(rpc("eth_getLogs late clones"))?);
        }
        let batch = self.build_batch(logs, Scope::Range(from, to), from - 1, to, vec![last], head).await?;
        self.commit(batch).await?;
        self.progress.set_position(to);
        Ok(())
    }

    async fn commit(&mut self, batch: Batch) -> Result<(), SyncError> {
        let new =
            db::commit(&self.pool, self.chain_id, &batch, self.config.window, self.config.write_mode).await?;
        self.indexed = batch.to;
        self.metrics.events.fetch_add(new as u64, Ordering::Relaxed);
        self.metrics.indexed_block.store(batch.to, Ordering::Relaxed);
        Ok(())
    }

    /// Decodes `logs`, discovers clones (querying `scope` once more for all of them), and
    /// builds the batch.
    async fn build_batch(
        &mut self,
        mut logs: Vec<RawLog>,
        scope: Scope,
        from: u64,
        to: u64,
        blocks: Vec<BlockRef>,
        head: u64,
    ) -> Result<Batch, SyncError> {
        let mut clones = Vec::new();
        for log in &logs {
            if self.book.source_of(log.address) != Some(decode::Source::Registry) {
                continue;
            }
            let decoded = decode::decode(decode::Source::Registry, &log.topics, &log.data);
            if let Some(Event::Registry(AssetRegistryEvents::AssetPublished(e))) = decoded.event
                && !self.book.is_clone(&e.accessToken)
            {
                clones.push((e.accessToken, e.assetId, log.block_number));
            }
        }
        if !clones.is_empty() {
            let new: Vec<Address> = clones.iter().map(|c| c.0).collect();
            let filter = match scope {
                Scope::Range(a, b) => Filter::new().from_block(a).to_block(b),
                Scope::Block(hash) => Filter::new().at_block_hash(hash),
            }
            .address(new);
            logs.extend(
                self.get_logs(&filter, "new clones").await.map_err(rpc("eth_getLogs for new clones"))?,
            );
            for (address, _, block) in &clones {
                self.book.add_clone(*address, *block);
            }
        }
        // A node whose logs carry no `blockTimestamp` still dates those of the blocks read.
        for log in logs.iter_mut().filter(|l| l.block_timestamp.is_none()) {
            log.block_timestamp = blocks
                .iter()
                .find(|b| b.number == log.block_number && b.hash == log.block_hash)
                .map(|b| b.timestamp);
        }
        self.read_vote_senders(&mut logs).await?;
        let journal = matches!(scope, Scope::Block(_));
        logs.sort_by_key(|l| (l.block_number, l.log_index));
        logs.dedup_by_key(|l| (l.block_number, l.log_index));
        let logs = logs
            .into_iter()
            .filter_map(|log| {
                let source = self.book.source_of(log.address)?;
                let decoded: Decoded = decode::decode(source, &log.topics, &log.data);
                Some((log, decoded))
            })
            .collect();
        Ok(Batch { from, to, logs, clones, blocks, head, journal })
    }

    /// Fetches block `number` by hash with its logs, as a one-block batch above `parent`.
    async fn fetch_block(&mut self, number: u64, head: u64) -> Result<(Batch, B256), SyncError> {
        let header = self.header(number).await?.ok_or(SyncError::MissingBlock(number))?;
        let block = block_ref(&header);
        let filter = Filter::new().at_block_hash(block.hash).address(self.book.all_addresses());
        let logs =
            self.get_logs(&filter, "block").await.map_err(rpc(format!("eth_getLogs block {number}")))?;
        let hash = block.hash;
        let batch = self.build_batch(logs, Scope::Block(hash), number - 1, number, vec![block], head).await?;
        Ok((batch, block.parent_hash))
    }

    /// Tip mode: block by block with a parent-hash check.
    async fn follow(&mut self, from: u64, head: u64) -> Result<(), SyncError> {
        for number in from..=head {
            let expected_parent = db::window(&self.pool, self.chain_id, number - 1, 1)
                .await?
                .into_iter()
                .next()
                .filter(|b| b.number == number - 1)
                .map(|b| b.hash);
            let (batch, parent) = self.fetch_block(number, head).await?;
            if expected_parent.is_some_and(|expected| expected != parent) {
                // Undo the clone discovery of the block just fetched: it is on another branch.
                self.book.forget_clones_after(number - 1);
                return self.handle_reorg(head).await;
            }
            self.commit(batch).await?;
        }
        Ok(())
    }

    /// Finds the common ancestor and replaces everything above it in one transaction.
    async fn handle_reorg(&mut self, head: u64) -> Result<(), SyncError> {
        let stored = db::window(&self.pool, self.chain_id, self.indexed, self.config.window + 1).await?;
        let mut ancestor = None;
        for block in &stored {
            if self.header(block.number).await?.is_some_and(|h| h.hash == block.hash) {
                ancestor = Some(block.number);
                break;
            }
        }
        let ancestor = match ancestor {
            Some(a) if self.indexed - a <= self.config.window => a,
            _ => return Err(SyncError::ReorgTooDeep { block: self.indexed, window: self.config.window }),
        };
        tracing::warn!(indexed = self.indexed, ancestor, head, "reorg: rolling back to the common ancestor");
        self.book.forget_clones_after(ancestor);
        let mut batches = Vec::new();
        let mut parent = stored.iter().find(|b| b.number == ancestor).map(|b| b.hash);
        for number in ancestor + 1..=head {
            let (batch, batch_parent) = match self.fetch_block(number, head).await {
                Ok(fetched) => fetched,
                Err(err) => {
                    self.reload_clones().await?;
                    return Err(err);
                }
            };
            if parent.is_some_and(|p| p != batch_parent) {
                // The chain moved again while we read it: start over from the database's view.
                self.reload_clones().await?;
                return Err(SyncError::MissingBlock(number));
            }
            parent = batch.blocks.first().map(|b| b.hash);
            batches.push(batch);
        }
        // One batch for all the new blocks: the same rows, a fraction of the statements.
        let merged: Vec<Batch> = batches
            .into_iter()
            .reduce(|mut merged, batch| {
                merged.to = batch.to;
                merged.logs.extend(batch.logs);
                merged.clones.extend(batch.clones);
                merged.blocks.extend(batch.blocks);
                merged
            })
            .into_iter()
            .collect();
        db::reorg(&self.pool, self.chain_id, ancestor, &merged, self.config.window, self.config.write_mode)
            .await?;
        self.indexed = merged.last().map_or(ancestor, |b| b.to);
        self.metrics.reorgs.fetch_add(1, Ordering::Relaxed);
        self.metrics.indexed_block.store(self.indexed, Ordering::Relaxed);
        Ok(())
    }

    /// Reads who sent each transaction that cast a vote (the voter, or a relayer of the voter's
    /// signature): one receipt per such transaction; votes are few, so this costs little.
    async fn read_vote_senders(&self, logs: &mut [RawLog]) -> Result<(), SyncError> {
        let mut senders = std::collections::HashMap::new();
        for log in logs.iter_mut() {
            let is_vote = log.topics.first().is_some_and(|topic| {
                *topic == AgoraGovernor::VoteCast::SIGNATURE_HASH
                    || *topic == AgoraGovernor::VoteCastWithParams::SIGNATURE_HASH
            });
            if !is_vote || self.book.source_of(log.address) != Some(decode::Source::Governor) {
                continue;
            }
            let sender = match senders.get(&log.tx_hash) {
                Some(sender) => *sender,
                None => {
                    let receipt = self
                        .provider
                        .get_transaction_receipt(log.tx_hash)
                        .await
                        .map_err(rpc(format!("eth_getTransactionReceipt {}", log.tx_hash)))?
                        .ok_or(SyncError::MissingReceipt(log.tx_hash))?;
                    *senders.entry(log.tx_hash).or_insert(receipt.from)
                }
            };
            log.tx_from = Some(sender);
        }
        Ok(())
    }

    async fn reload_clones(&mut self) -> Result<(), SyncError> {
        self.book.forget_clones_after(0);
        for (address, block) in db::clones(&self.pool, self.chain_id).await? {
            self.book.add_clone(address, block);
        }
        Ok(())
    }
}

/// Range fetches in flight, in block order; aborted when dropped (an error or shutdown).
#[derive(Default)]
struct InFlight(std::collections::VecDeque<tokio::task::JoinHandle<Result<Fetched, TransportError>>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}

/// The logs of `from..=to` for `addresses`, and the header of `to`.
async fn fetch_range(
    provider: DynProvider,
    from: u64,
    to: u64,
    addresses: Vec<Address>,
) -> Result<Fetched, TransportError> {
    let filter = Filter::new().from_block(from).to_block(to).address(addresses.clone());
    let logs = provider.get_logs(&filter).await?;
    let header = provider
        .get_block_by_number(BlockNumberOrTag::Number(to))
        .await?
        .map(|b| b.header)
        .ok_or_else(|| TransportError::local_usage_str("the node has no block at the end of a range"))?;
    Ok(Fetched {
        from,
        to,
        addresses: addresses.into_iter().collect(),
        logs: logs.iter().filter_map(RawLog::from_rpc).collect(),
        last: block_ref(&header),
    })
}

fn block_ref(header: &Header) -> BlockRef {
    BlockRef {
        number: header.number,
        hash: header.hash,
        parent_hash: header.parent_hash,
        timestamp: header.timestamp,
    }
}

/// Whether a failed `eth_getLogs` asks for a smaller range (too many results, a timeout).
pub fn is_range_error(err: &TransportError) -> bool {
    let text = err.to_string().to_lowercase();
    ["too many", "limit", "range", "timeout", "timed out", "response size", "exceed"]
        .iter()
        .any(|s| text.contains(s))
}

/// The next range size: double after a success, take the node's suggestion or halve after a
/// failure; always within `1..=max`.
pub fn next_range_size(current: u64, succeeded: bool, suggested: Option<u64>, max: u64) -> u64 {
    let next = match (succeeded, suggested) {
        (true, _) => current.saturating_mul(2),
        (false, Some(suggested)) => suggested,
        (false, None) => current / 2,
    };
    next.clamp(1, max.max(1))
}

/// The range that would hold about `target` logs where `blocks` blocks held `logs` (at least
/// one block).
pub fn range_for_density(blocks: u64, logs: u64, target: u64) -> u64 {
    if logs == 0 {
        return u64::MAX;
    }
    u64::try_from(u128::from(blocks) * u128::from(target) / u128::from(logs)).unwrap_or(u64::MAX).max(1)
}

/// The range size a node suggests in its error message, e.g. Alchemy's
/// "this block range should work: [0x10, 0x4f]" (inclusive bounds).
pub fn suggested_range(message: &str) -> Option<u64> {
    let start = message.find('[')?;
    let end = start + message[start..].find(']')?;
    let (a, b) = message[start + 1..end].split_once(',')?;
    let parse = |s: &str| {
        let s = s.trim();
        match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => s.parse().ok(),
        }
    };
    let (a, b) = (parse(a)?, parse(b)?);
    (b >= a).then(|| b - a + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_size_adapts() {
        assert_eq!(next_range_size(100, true, None, 5_000), 200);
        assert_eq!(next_range_size(4_000, true, None, 5_000), 5_000);
        assert_eq!(next_range_size(100, false, None, 5_000), 50);
        assert_eq!(next_range_size(1, false, None, 5_000), 1);
        assert_eq!(next_range_size(1_000, false, Some(64), 5_000), 64);
    }

    #[test]
    fn range_follows_log_density() {
        // 10 blocks held 20,000 logs, 2,000 a block: 2,500 logs is one block.
        assert_eq!(range_for_density(10, 20_000, 2_500), 1);
        assert_eq!(range_for_density(10, 1_000, 5_000), 50);
        assert_eq!(range_for_density(10, 0, 5_000), u64::MAX);
        assert_eq!(range_for_density(1, 1_000_000, 1), 1);
        assert_eq!(range_for_density(u64::MAX, 1, u64::MAX), u64::MAX);
    }

    #[test]
    fn parses_a_suggested_range() {
        let msg = "Log response size exceeded. this block range should work: [0x10, 0x4f]";
        assert_eq!(suggested_range(msg), Some(64));
        assert_eq!(suggested_range("query returned more than 10000 results; try [100, 199]"), Some(100));
        assert_eq!(suggested_range("no suggestion"), None);
        assert_eq!(suggested_range("[5, 1]"), None);
    }
}
