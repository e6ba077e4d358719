//! Shared harness: a real anvil with the protocol deployed, a real throwaway PostgreSQL, a
//! scripted scenario that emits every kind of event the derived tables use, and a syncer.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::{path::PathBuf, time::Duration};

use agora_contracts::{
    Agora, DeployParams, Deployment, asset_registry::IAssetRegistry::PublishParams,
    compute_market::IComputeMarket::OpenJobParams, deploy_protocol, signing_provider, tx,
};
use agora_deploy::services::postgres::PostgresCluster;
use agora_indexer::{
    api::{self, AppState},
    db,
    sync::{SyncConfig, Syncer, http_provider},
};
use alloy::{
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, B256, Bytes, U256, aliases::U80, keccak256},
    providers::{DynProvider, Provider, ext::AnvilApi},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
    transports::http::reqwest,
};
use serde_json::Value;
use sqlx::PgPool;
use tokio::net::TcpListener;

pub const ETHER: U256 = U256::from_limbs([1_000_000_000_000_000_000, 0, 0, 0]);

/// The pinned anvil; a missing binary fails the test, never skips it.
pub fn anvil_path() -> PathBuf {
    agora_deploy::services::anvil::binary_path().unwrap_or_else(|err| panic!("{err}"))
}

/// A throwaway PostgreSQL with one fresh, migrated database.
pub struct Db {
    pub cluster: PostgresCluster,
    pub url: String,
    pub pool: PgPool,
}

impl Db {
    pub async fn start() -> Db {
        let cluster = PostgresCluster::start().unwrap_or_else(|err| panic!("PostgreSQL: {err}"));
        let url = cluster.fresh_database().expect("create a database");
        let pool = db::connect(&url, 8).await.expect("connect and migrate");
        Db { cluster, url, pool }
    }

    /// Another fresh, migrated database on the same cluster.
    pub async fn another(&self) -> PgPool {
        self.another_with_url().await.1
    }

    /// Another fresh, migrated database and its URL.
    pub async fn another_with_url(&self) -> (String, PgPool) {
        let url = self.cluster.fresh_database().expect("create a database");
        let pool = db::connect(&url, 8).await.expect("connect and migrate");
        (url, pool)
    }
}

#[derive(Clone)]
pub struct Actor {
    pub address: Address,
    pub provider: DynProvider,
    pub signer: PrivateKeySigner,
}

pub struct Chain {
    pub anvil: AnvilInstance,
    pub deployment: Deployment,
    pub params: DeployParams,
    pub agora: Agora,
    pub reader: DynProvider,
}

impl Chain {
    pub async fn start() -> Chain {
        Self::start_with_args(&[]).await
    }

    /// Starts anvil with extra command-line arguments.
    pub async fn start_with_args(args: &[&str]) -> Chain {
        let anvil = Anvil::at(anvil_path()).args(args).try_spawn().expect("spawn anvil");
        Self::deploy_on(anvil).await
    }

    pub async fn deploy_on(anvil: AnvilInstance) -> Chain {
        Self::deploy_with(anvil, DeployParams::local()).await
    }

    /// Deploys the protocol with `params` on `anvil`.
    pub async fn deploy_with(anvil: AnvilInstance, params: DeployParams) -> Chain {
        let deployer = actor_of(&anvil, 0);
        let deployment =
            deploy_protocol(&deployer.provider, deployer.address, &params).await.expect("deploy");
        Self::attach(anvil, deployment, params)
    }

    /// A chain on which `deployment` already exists (e.g. loaded from a saved anvil state).
    pub fn attach(anvil: AnvilInstance, deployment: Deployment, params: DeployParams) -> Chain {
        let deployer = actor_of(&anvil, 0);
        let agora = Agora::new(deployment.clone(), deployer.provider.clone());
        let reader = http_provider(anvil.endpoint_url());
        Chain { anvil, deployment, params, agora, reader }
    }

    pub fn actor(&self, index: usize) -> Actor {
        actor_of(&self.anvil, index)
    }

    pub fn as_actor(&self, actor: &Actor) -> Agora {
        self.agora.with_provider(actor.provider.clone())
    }

    pub fn provider(&self) -> &DynProvider {
        self.agora.provider()
    }

    pub async fn mine(&self, blocks: u64) {
        self.provider().anvil_mine(Some(blocks), None).await.expect("mine");
    }

    /// Moves anvil's clock `seconds` forward and mines a block at the new time (the DAO counts
    /// time by block timestamp).
    pub async fn advance(&self, seconds: u64) {
        self.provider().anvil_increase_time(seconds).await.expect("advance time");
        self.mine(1).await;
    }

    /// Seconds from a proposal's vote opening until it is surely closed (a quorum reached late
    /// extends it).
    pub fn vote_lasts(&self) -> u64 {
        u64::from(self.params.voting_period).max(self.params.vote_extension) + 1
    }

    pub async fn head(&self) -> u64 {
        self.provider().get_block_number().await.expect("head")
    }

    pub async fn now(&self) -> u64 {
        self.provider().get_block_by_number(Default::default()).await.unwrap().unwrap().header.timestamp
    }

    pub fn syncer(&self, pool: &PgPool, config: SyncConfig) -> Syncer {
        Syncer::new(self.reader.clone(), pool.clone(), &self.deployment, config)
    }
}

fn actor_of(anvil: &AnvilInstance, index: usize) -> Actor {
    let signer = PrivateKeySigner::from(anvil.keys()[index].clone());
    Actor {
        address: signer.address(),
        provider: signing_provider(anvil.endpoint_url(), signer.clone()),
        signer,
    }
}

/// Sync settings that exercise range mode with small ranges and several in flight.
pub fn small_ranges(window: u64) -> SyncConfig {
    SyncConfig {
        window,
        initial_range: 2,
        max_range: 8,
        // A few logs per range, so ranges are also sized by log density.
        target_logs: 16,
        concurrency: 3,
        poll_interval: Duration::from_millis(50),
        exit_at_head: true,
        ..SyncConfig::default()
    }
}

/// Syncs until caught up with the head.
pub async fn sync_to_head(chain: &Chain, pool: &PgPool, config: SyncConfig) -> Syncer {
    let mut syncer = chain.syncer(pool, SyncConfig { exit_at_head: true, ..config });
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    syncer.run(shutdown).await.expect("sync");
    syncer
}

pub fn publish_params(
    owner: Address,
    kind: u8,
    price: u128,
    cid: &str,
    split: Option<(Vec<Address>, Vec<u16>)>,
) -> PublishParams {
    let (split_recipients, split_bps) = split.unwrap_or_default();
    PublishParams {
        owner,
        kind,
        computeOnly: false,
        accessDuration: 0,
        contentDigest: keccak256(format!("content {owner} {kind} {price} {cid}")),
        metadataCid: cid.into(),
        currency: Address::ZERO,
        price: U80::from(price),
        freePerAddress: 0,
        splitRecipients: split_recipients,
        splitBps: split_bps,
    }
}

/// What the scenario created, for assertions.
pub struct Scenario {
    pub dataset: U256,
    pub dataset_token: Address,
    pub algorithm: U256,
    pub algorithm_token: Address,
    pub publisher: Actor,
    pub buyer: Actor,
    pub provider: Actor,
    pub friend: Actor,
    pub voter: Actor,
    pub proposal_id: U256,
    /// A job whose result was disputed and ruled against the provider; one finalized; one
    /// refunded.
    pub job_id: U256,
    pub finalized_job: U256,
    pub refunded_job: U256,
}

/// Purchases the scenario makes.
pub const SCENARIO_PURCHASES: i64 = 3;

pub const DATASET_CID: &str = "bafkreidatasetcidv1";
pub const DATASET_CID_V2: &str = "bafkreidatasetcidv2";
pub const ALGORITHM_CID: &str = "bafkreialgorithmcid";

/// Publishes, buys, consumes, transfers, updates metadata and listings, releases revenue,
/// registers a compute provider and runs a job, proposes and votes.
pub async fn scenario(chain: &Chain) -> Scenario {
    let publisher = chain.actor(1);
    let buyer = chain.actor(2);
    let provider = chain.actor(3);
    let friend = chain.actor(4);
    let voter = chain.actor(5);
    let as_publisher = chain.as_actor(&publisher);
    let as_buyer = chain.as_actor(&buyer);
    let price: u128 = 1_000_000_000_000_000;

    // The dataset's revenue is split between the publisher and a friend (recipients sorted).
    let mut recipients = vec![publisher.address, friend.address];
    recipients.sort();
    let dataset = as_publisher
        .publish(publish_params(
            publisher.address,
            0,
            price,
            DATASET_CID,
            Some((recipients, vec![7_000, 3_000])),
        ))
        .await
        .expect("publish dataset");
    chain.mine(3).await;
    let algorithm = as_publisher
        .publish(publish_params(publisher.address, 2, 0, ALGORITHM_CID, None))
        .await
        .expect("publish algorithm");
    chain.mine(2).await;

    tx::send(
        "buy",
        as_buyer
            .marketplace
            .buy(dataset.asset_id, U256::from(4), Address::ZERO, U256::from(price))
            .value(U256::from(4 * price)),
    )
    .await
    .expect("buy");
    let token = as_buyer.access_token_at(dataset.access_token);
    tx::send("consume", token.consume(provider.address)).await.expect("consume");
    tx::send("transfer", token.transfer(friend.address, U256::from(1))).await.expect("transfer");
    chain.mine(1).await;

    tx::send(
        "updateMetadata",
        as_publisher.registry.updateMetadata(dataset.asset_id, DATASET_CID_V2.into(), keccak256("v2")),
    )
    .await
    .expect("update metadata");
    tx::send(
        "setListing",
        as_publisher.marketplace.setListing(dataset.asset_id, Address::ZERO, U80::from(2 * price), 1),
    )
    .await
    .expect("set listing");
    tx::send("release", as_publisher.splitter.release(dataset.asset_id, Address::ZERO, friend.address))
        .await
        .expect("release");

    // Compute: register, open a job on the dataset with the algorithm, post a result.
    let as_provider = chain.as_actor(&provider);
    let job_price = ETHER / U256::from(20);
    tx::send(
        "registerProvider",
        as_provider
            .compute_market
            .registerProvider("http://127.0.0.1:9/compute".into(), Address::ZERO, job_price.to::<u128>())
            .value(chain.params.min_stake),
    )
    .await
    .expect("register provider");
    let (dataset_id, algorithm_id, provider_address, as_consumer) =
        (dataset.asset_id, algorithm.asset_id, provider.address, &as_buyer);
    let open_job = |seconds: u64| async move {
        let deadline = chain.now().await + seconds;
        let params = OpenJobParams {
            datasetId: dataset_id,
            algorithmId: algorithm_id,
            provider: provider_address,
            specCid: "bafy-spec".into(),
            currency: Address::ZERO,
            maxPayment: job_price,
            deadline,
        };
        let receipt = tx::send("openJob", as_consumer.compute_market.openJob(params).value(job_price))
            .await
            .expect("open job");
        receipt.decoded_log::<agora_contracts::ComputeMarket::JobOpened>().expect("JobOpened").data.jobId
    };
    let job_id = open_job(3_600).await;
    tx::send(
        "postResult",
        as_provider.compute_market.postResult(job_id, "bafy-result".into(), B256::repeat_byte(9)),
    )
    .await
    .expect("post result");
    // The buyer disputes the first job's result (the DAO rules on it below).
    tx::send(
        "dispute",
        as_buyer.compute_market.dispute(job_id, "bafy-dispute".into()).value(chain.params.dispute_bond),
    )
    .await
    .expect("dispute");
    // A second job runs to its payout: result posted, the challenge window passes, finalized.
    let finalized_job = open_job(3_600).await;
    tx::send(
        "postResult",
        as_provider.compute_market.postResult(finalized_job, "bafy-result-2".into(), B256::repeat_byte(7)),
    )
    .await
    .expect("post result");
    chain.provider().anvil_increase_time(chain.params.challenge_window + 1).await.expect("advance time");
    tx::send("finalize", as_provider.compute_market.finalize(finalized_job)).await.expect("finalize");
    // A third is refunded: no result before its deadline. Its access token is the free one the
    // listing now gives each address.
    tx::send(
        "buy",
        as_buyer.marketplace.buy(dataset.asset_id, U256::from(1), Address::ZERO, U256::from(2 * price)),
    )
    .await
    .expect("buy");
    let refunded_job = open_job(60).await;
    chain.provider().anvil_increase_time(61).await.expect("advance time");
    tx::send("refund", as_buyer.compute_market.refund(refunded_job)).await.expect("refund");
    // And the buyer keeps one token, bought at the new price.
    tx::send(
        "buy",
        as_buyer
            .marketplace
            .buy(dataset.asset_id, U256::from(1), Address::ZERO, U256::from(2 * price))
            .value(U256::from(2 * price)),
    )
    .await
    .expect("buy");

    // Governance: votes delegated, a proposal, a vote for it.
    tx::send("transfer AGORA", chain.agora.token.transfer(voter.address, ETHER * U256::from(5_000_000)))
        .await
        .expect("give AGORA");
    let as_voter = chain.as_actor(&voter);
    tx::send("delegate", as_voter.token.delegate(voter.address)).await.expect("delegate");
    chain.mine(1).await;
    // The DAO delists the algorithm and rules the dispute against the provider, slashing a
    // quarter of its stake: propose, vote, queue, execute.
    let delist = agora_contracts::Marketplace::delistCall {
        assetId: algorithm.asset_id,
        reasonCid: "bafy-reason".into(),
    };
    let rule = agora_contracts::ComputeMarket::ruleDisputeCall {
        jobId: job_id,
        providerAtFault: true,
        slash: (chain.params.min_stake / U256::from(4)).to::<u128>(),
    };
    let c = chain.deployment.contracts;
    let targets = vec![c.marketplace, c.compute_market];
    let values = vec![U256::ZERO, U256::ZERO];
    let calldatas = vec![Bytes::from(delist.abi_encode()), Bytes::from(rule.abi_encode())];
    let description = "delist the algorithm; rule the dispute".to_owned();
    let description_hash = keccak256(description.as_bytes());
    let proposal_id = tx::call(
        "hashProposal",
        as_voter.governor.hashProposal(targets.clone(), values.clone(), calldatas.clone(), description_hash),
    )
    .await
    .expect("hash proposal");
    tx::send(
        "propose",
        as_voter.governor.propose(targets.clone(), values.clone(), calldatas.clone(), description),
    )
    .await
    .expect("propose");
    chain.advance(chain.params.voting_delay + 1).await;
    tx::send("castVote", as_voter.governor.castVoteWithReason(proposal_id, 1, "yes".into()))
        .await
        .expect("vote");
    chain.advance(chain.vote_lasts()).await;
    tx::send("queue", as_voter.governor.queue_1(proposal_id)).await.expect("queue");
    chain.advance(chain.params.timelock_min_delay + 1).await;
    tx::send("execute", as_voter.governor.execute_1(proposal_id)).await.expect("execute");

    Scenario {
        dataset: dataset.asset_id,
        dataset_token: dataset.access_token,
        algorithm: algorithm.asset_id,
        algorithm_token: algorithm.access_token,
        publisher,
        buyer,
        provider,
        friend,
        voter,
        proposal_id,
        job_id,
        finalized_job,
        refunded_job,
    }
}

/// A canonical dump of every derived table and the raw events, to compare databases.
pub async fn dump(pool: &PgPool) -> Vec<String> {
    let tables = [
        ("events", "block_number, log_index"),
        ("access_tokens", "address"),
        ("assets", "asset_id"),
        ("listings", "asset_id"),
        ("asset_versions", "asset_id, version"),
        ("access_balances", "token, holder"),
        ("purchases", "block_number, log_index"),
        ("access_orders", "token, order_id"),
        ("splits", "asset_id"),
        ("releases", "block_number, log_index"),
        ("proposals", "proposal_id"),
        ("votes", "proposal_id, voter"),
        ("delegations", "delegator"),
        ("compute_providers", "provider"),
        ("jobs", "job_id"),
        ("proposal_actions", "proposal_id, position"),
        ("governance_settings", "block_number, log_index, setting"),
        ("fee_releases", "block_number, log_index"),
        // Kept by triggers: after a rollback, the same as if the orphaned rows never were.
        ("asset_stats", "asset_id"),
    ];
    let mut out = Vec::new();
    for (table, order) in tables {
        let sql = format!("SELECT row_to_json(t)::text FROM (SELECT * FROM {table} ORDER BY {order}) t");
        let rows: Vec<(String,)> = sqlx::query_as(&sql).fetch_all(pool).await.expect("dump");
        out.extend(rows.into_iter().map(|(r,)| format!("{table}: {r}")));
    }
    out
}

pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await.expect("count");
    n
}

/// Polls `check` every 50 ms until it holds, failing after `secs` seconds.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {secs}s waiting for {what}");
}

/// A TCP proxy in front of a node, which can be taken down (dropping every connection) and
/// brought back on the same port: a node that blinks. It can also freeze the connections open
/// so far: they stay open but carry nothing more (a silently dead WebSocket), while new ones
/// work.
pub struct Proxy {
    pub port: u16,
    upstream: std::net::SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
    /// Connections numbered below this value are frozen.
    frozen_below: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
    next_id: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    pub async fn start(upstream_port: u16) -> Proxy {
        let upstream = std::net::SocketAddr::from(([127, 0, 0, 1], upstream_port));
        let mut proxy = Proxy {
            port: 0,
            upstream,
            task: None,
            frozen_below: std::sync::Arc::new(tokio::sync::watch::channel(0).0),
            next_id: Default::default(),
        };
        proxy.up().await;
        proxy
    }

    pub fn url(&self) -> alloy::transports::http::reqwest::Url {
        format!("http://127.0.0.1:{}", self.port).parse().unwrap()
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    pub async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.expect("bind proxy");
        self.port = listener.local_addr().unwrap().port();
        let upstream = self.upstream;
        let (frozen_below, next_id) = (self.frozen_below.clone(), self.next_id.clone());
        self.task = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let id = next_id.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut frozen = frozen_below.subscribe();
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let freeze = async {
                            let _ = frozen.wait_for(|below| id < *below).await;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {},
                            // Hold both ends open, silent, until the proxy goes down.
                            () = freeze => std::future::pending::<()>().await,
                        }
                    }
                });
            }
        }));
    }

    /// Every connection open now stops carrying data but stays open; new ones work.
    pub fn freeze_open_connections(&self) {
        self.frozen_below.send_replace(self.next_id.load(std::sync::atomic::Ordering::SeqCst));
    }

    /// Stops listening and drops every open connection.
    pub async fn down(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// xorshift64*, seeded: a reproducible sequence (the bench's chain of actions, the crash test's
/// kill delays).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The API served on a loopback port, stopped when dropped.
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    pub async fn start(state: AppState) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(api::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        Server { base, client: reqwest::Client::new(), _stop: stop }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    pub async fn bad(&self, path: &str, needle: &str) {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 400, "GET {path}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "GET {path}: {message:?} should mention {needle:?}");
    }
}

/// `schema` with its `$ref`s followed into `doc`'s components and its `allOf` parts merged
/// into one object, down through its properties and items: the shape of the JSON it describes.
pub fn resolved(doc: &Value, schema: &Value) -> Value {
    let mut schema = schema.clone();
    for _ in 0..16 {
        let Some(name) = schema.get("$ref").and_then(Value::as_str) else { break };
        let name = name.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{name}")).to_owned();
        schema = doc["components"]["schemas"][&name].clone();
        assert!(schema.is_object(), "no component {name}");
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array).cloned() {
        let mut merged = serde_json::json!({ "type": "object", "properties": {}, "required": [] });
        for part in parts {
            let part = resolved(doc, &part);
            if let Some(properties) = part["properties"].as_object() {
                merged["properties"].as_object_mut().unwrap().extend(properties.clone());
            }
            if let Some(required) = part["required"].as_array() {
                merged["required"].as_array_mut().unwrap().extend(required.iter().cloned());
            }
        }
        schema = merged;
    }
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for property in properties.values_mut() {
            *property = resolved(doc, property);
        }
    }
    if let Some(items) = schema.get_mut("items").filter(|items| items.is_object()) {
        *items = resolved(doc, items);
    }
    schema
}

/// The resolved schema of the JSON body of `GET path`'s 200 in `doc`.
pub fn response_schema(doc: &Value, path: &str) -> Value {
    let schema = &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "GET {path} has no JSON 200 schema");
    resolved(doc, schema)
}
