//! Shared harness: a real anvil with the protocol deployed, a real Kubo daemon (offline, on
//! loopback), and the provider served on `127.0.0.1:0` with a SQLite file in a tempdir.
//! A missing anvil or Kubo fails the test with the command that installs it.
#![allow(dead_code, unreachable_pub)]

use std::{path::PathBuf, sync::Arc, time::Duration};

use agora_contracts::{
    AccessToken, Agora, ComputeMarket, DeployParams, Deployment, asset_registry::IAssetRegistry,
    compute_market::IComputeMarket, deploy_protocol, marketplace::IMarketplace, signing_provider, tx,
};
use agora_deploy::services::kubo::KuboDaemon;
use agora_provider::{
    Identity, Limits, ProviderState,
    access::{DownloadRequest, SignedRequest},
    chain::ChainReader,
    crypto::{ContentKey, Encryption},
    db::Store,
    metadata::{AssetMetadata, ContentRef},
    storage::{Added, Storage},
    worker::{Jobs, JobsConfig},
};
use alloy::{
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, B256, U256, aliases::U80},
    providers::DynProvider,
    signers::local::PrivateKeySigner,
};
use eyre::{Result, WrapErr, eyre};
use futures::StreamExt;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// Anvil accounts used by the scenarios.
pub const PUBLISHER: usize = 1;
pub const BUYER: usize = 2;
pub const PROVIDER: usize = 3;
pub const OTHER: usize = 4;

/// `IAssetRegistry.AssetKind`.
pub const DATASET: u8 = 0;
pub const MODEL: u8 = 1;
pub const ALGORITHM: u8 = 2;

/// Price of one access token, in wei.
pub const PRICE: u128 = 1_000_000_000_000_000;

/// The pinned anvil; a missing binary is a broken setup, never a reason to skip.
pub fn anvil_path() -> PathBuf {
    agora_deploy::services::anvil::binary_path().unwrap_or_else(|err| panic!("{err}"))
}

/// Starts a Kubo daemon or fails the test saying how to get one.
pub fn start_kubo() -> KuboDaemon {
    match KuboDaemon::start() {
        Ok(kubo) => kubo,
        Err(err) => panic!(
            "cannot start Kubo ({err}); run ./scripts/setup.sh (it builds Kubo with ./scripts/kubo.sh)"
        ),
    }
}

/// An anvil account.
#[derive(Debug, Clone)]
pub struct Actor {
    pub address: Address,
    pub signer: PrivateKeySigner,
    pub provider: DynProvider,
}

/// anvil + the protocol.
pub struct Chain {
    pub anvil: AnvilInstance,
    pub deployment: Deployment,
    pub agora: Agora,
}

impl Chain {
    pub async fn start() -> Result<Self> {
        let anvil = Anvil::at(anvil_path()).try_spawn().wrap_err("spawning anvil")?;
        let deployer = actor_of(&anvil, 0)?;
        let deployment =
            deploy_protocol(&deployer.provider, deployer.address, &DeployParams::local()).await?;
        let agora = Agora::new(deployment.clone(), deployer.provider.clone());
        Ok(Self { anvil, deployment, agora })
    }

    pub fn actor(&self, index: usize) -> Result<Actor> {
        actor_of(&self.anvil, index)
    }

    pub fn agora_as(&self, actor: &Actor) -> Agora {
        self.agora.with_provider(actor.provider.clone())
    }
}

fn actor_of(anvil: &AnvilInstance, index: usize) -> Result<Actor> {
    let key = anvil.keys().get(index).ok_or_else(|| eyre!("anvil has no account {index}"))?;
    let signer = PrivateKeySigner::from(key.clone());
    let provider = signing_provider(anvil.endpoint_url(), signer.clone());
    Ok(Actor { address: signer.address(), signer, provider })
}

/// A provider served on a loopback port; `stop` shuts it down gracefully.
pub struct RunningProvider {
    pub url: String,
    pub state: Arc<ProviderState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    workers: Option<JoinHandle<()>>,
}

impl RunningProvider {
    pub async fn stop(mut self) -> Result<()> {
        if let Some(workers) = self.workers.take() {
            workers.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .wrap_err("provider did not stop")???;
        }
        self.state.store().close().await;
        Ok(())
    }
}

/// Everything a download scenario needs.
pub struct Stack {
    pub chain: Chain,
    pub kubo: KuboDaemon,
    pub storage: Storage,
    pub provider_key: PrivateKeySigner,
    pub db_dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

impl Stack {
    pub async fn start() -> Result<Self> {
        let kubo = start_kubo();
        let chain = Chain::start().await?;
        let storage = Storage::new(&kubo.api_url(), Duration::from_secs(10))?;
        let provider_key = chain.actor(PROVIDER)?.signer;
        Ok(Self {
            chain,
            kubo,
            storage,
            provider_key,
            db_dir: tempfile::tempdir()?,
            http: reqwest::Client::builder().pool_max_idle_per_host(4).build()?,
        })
    }

    pub fn provider_address(&self) -> Address {
        self.provider_key.address()
    }

    /// Starts the provider with default limits.
    pub async fn serve(&self) -> Result<RunningProvider> {
        self.serve_with(Limits::default()).await
    }

    /// Starts the provider (same database file every time, so restarts remember).
    pub async fn serve_with(&self, limits: Limits) -> Result<RunningProvider> {
        self.serve_custom(limits, self.storage.clone()).await
    }

    /// Starts the provider with its own Kubo client (e.g. a shorter deadline).
    pub async fn serve_custom(&self, limits: Limits, storage: Storage) -> Result<RunningProvider> {
        self.serve_full(limits, storage, None).await
    }

    /// Starts the provider running compute jobs with `jobs`.
    pub async fn serve_jobs(&self, jobs: JobsConfig) -> Result<RunningProvider> {
        self.serve_full(Limits::default(), self.storage.clone(), Some(jobs)).await
    }

    async fn serve_full(
        &self,
        limits: Limits,
        storage: Storage,
        jobs: Option<JobsConfig>,
    ) -> Result<RunningProvider> {
        let chain =
            ChainReader::new(self.chain.anvil.endpoint_url(), &self.chain.deployment, limits.asset_ttl);
        let store = Store::open(&self.db_dir.path().join("provider.sqlite")).await?;
        let state = ProviderState::new(
            Identity::new(self.provider_key.clone()),
            self.chain.deployment.chain_id,
            self.chain.deployment.clone(),
            chain,
            storage.clone(),
            store,
            limits,
        );
        let mut workers = None;
        if let Some(config) = jobs {
            let deployment = &self.chain.deployment;
            let jobs = Jobs::new(
                config,
                self.provider_key.clone(),
                deployment.chain_id,
                deployment.contracts.compute_market,
                signing_provider(self.chain.anvil.endpoint_url(), self.provider_key.clone()),
                storage,
                state.store().clone(),
            );
            workers = Some(jobs.start().await?);
            state.enable_jobs(jobs);
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(agora_provider::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        Ok(RunningProvider { url, state, shutdown: Some(tx), task: Some(task), workers })
    }

    /// Adds `metadata` to IPFS and publishes a dataset pointing at it.
    pub async fn publish(
        &self,
        digest: B256,
        metadata: &AssetMetadata,
        compute_only: bool,
        access_duration: u32,
    ) -> Result<(U256, Address)> {
        self.publish_kind(DATASET, digest, metadata, compute_only, access_duration).await
    }

    /// Adds `metadata` to IPFS and publishes an asset of `kind` (`IAssetRegistry.AssetKind`)
    /// pointing at it, as the publisher, at [`PRICE`].
    pub async fn publish_kind(
        &self,
        kind: u8,
        digest: B256,
        metadata: &AssetMetadata,
        compute_only: bool,
        access_duration: u32,
    ) -> Result<(U256, Address)> {
        let metadata_cid = self.storage.add_bytes(serde_json::to_vec(metadata)?).await?.cid;
        self.publish_cid(kind, digest, metadata_cid, compute_only, access_duration).await
    }

    /// Publishes an asset of `kind` whose metadata document is `metadata_cid`, whatever it holds,
    /// as the publisher, at [`PRICE`].
    pub async fn publish_cid(
        &self,
        kind: u8,
        digest: B256,
        metadata_cid: String,
        compute_only: bool,
        access_duration: u32,
    ) -> Result<(U256, Address)> {
        let publisher = self.chain.actor(PUBLISHER)?;
        let params = IAssetRegistry::PublishParams {
            owner: publisher.address,
            kind,
            computeOnly: compute_only,
            accessDuration: access_duration,
            contentDigest: digest,
            metadataCid: metadata_cid,
            currency: Address::ZERO,
            price: U80::from(PRICE),
            freePerAddress: 0,
            splitRecipients: Vec::new(),
            splitBps: Vec::new(),
        };
        let published = self.chain.agora_as(&publisher).publish(params).await?;
        Ok((published.asset_id, published.access_token))
    }

    /// Adds `content` to IPFS and publishes it as a public asset.
    pub async fn publish_public(&self, content: &[u8], access_duration: u32) -> Result<(U256, Added)> {
        let added = self.storage.add_bytes(content.to_vec()).await?;
        let metadata = public_metadata(&added);
        let (asset, _) = self.publish(added.sha256, &metadata, false, access_duration).await?;
        Ok((asset, added))
    }

    /// Encrypts `content` for this provider, adds the ciphertext and publishes a private asset.
    pub async fn publish_private(&self, content: &[u8]) -> Result<(U256, Added)> {
        let key = ContentKey::generate();
        let mut encryption = Encryption::new(content.len() as u64);
        let public_key = Identity::new(self.provider_key.clone()).public_key();
        encryption.wrapped_keys.push(key.wrap_for(self.provider_address(), &public_key)?);
        let reader = encryption.encrypting_reader(&key, std::io::Cursor::new(content.to_vec()))?;
        let added = self.storage.add_reader(reader, None).await?;
        let metadata = AssetMetadata {
            name: "private".into(),
            description: String::new(),
            content: ContentRef {
                cid: added.cid.clone(),
                size: content.len() as u64,
                file_name: None,
                encryption: Some(encryption),
            },
            extra: Default::default(),
        };
        let digest = agora_provider::storage::sha256(content);
        let (asset, _) = self.publish(digest, &metadata, false, 0).await?;
        Ok((asset, added))
    }

    /// Registers `who` as a compute provider charging `price` wei per job, with the minimum stake
    /// (the endpoint is never called: the tests talk to the served provider directly).
    pub async fn register_provider(&self, who: &Actor, price: u128) -> Result<()> {
        let market = self.chain.agora_as(who).compute_market;
        let min_stake = tx::call("params", market.params()).await?.minStake;
        tx::send(
            "registerProvider",
            market
                .registerProvider("http://127.0.0.1:9/".into(), Address::ZERO, price)
                .value(U256::from(min_stake)),
        )
        .await?;
        Ok(())
    }

    /// `who` buys one access token of the job's dataset and opens the job, escrowing its
    /// `maxPayment` in ETH; the job id.
    pub async fn buy_and_open_job(&self, who: &Actor, params: IComputeMarket::OpenJobParams) -> Result<U256> {
        let agora = self.chain.agora_as(who);
        // Both inputs are priced: one token of each is bought with the job, in one transaction.
        let purchases = [params.datasetId, params.algorithmId]
            .map(|asset| IMarketplace::Purchase {
                assetId: asset,
                currency: Address::ZERO,
                maxPrice: U256::from(PRICE),
            })
            .to_vec();
        let value = U256::from(2 * PRICE) + params.maxPayment;
        let call = agora.marketplace.buyAndOpenJob(purchases, params.into()).value(value);
        let receipt = tx::send("buyAndOpenJob", call).await?;
        Ok(receipt.decoded_log::<ComputeMarket::JobOpened>().ok_or_else(|| eyre!("no JobOpened"))?.data.jobId)
    }

    /// `who` buys one token of `asset` with ETH and consumes it for `provider`; returns the order id.
    pub async fn buy_and_consume(&self, who: usize, asset: U256, provider: Address) -> Result<U256> {
        let buyer = self.chain.actor(who)?;
        let receipt = tx::send(
            "buyAndConsume",
            self.chain
                .agora_as(&buyer)
                .marketplace
                .buyAndConsume(asset, provider, Address::ZERO, U256::from(PRICE))
                .value(U256::from(PRICE)),
        )
        .await?;
        let event = receipt
            .decoded_log::<AccessToken::AccessConsumed>()
            .ok_or_else(|| eyre!("no AccessConsumed event"))?;
        Ok(event.data.orderId)
    }

    /// A signed download request from `who` for this provider's domain.
    pub fn request(&self, who: usize, asset: U256, order: U256, nonce: u64) -> Result<SignedRequest> {
        let signer = self.chain.actor(who)?.signer;
        let domain = agora_provider::access::domain(self.chain.deployment.chain_id, self.provider_address());
        let message =
            DownloadRequest { assetId: asset, orderId: order, nonce: U256::from(nonce), expiry: now() + 600 };
        Ok(SignedRequest::sign(&message, &domain, &signer)?)
    }

    /// POSTs a download request.
    pub async fn download(
        &self,
        provider: &RunningProvider,
        request: &SignedRequest,
        range: Option<&str>,
    ) -> Result<reqwest::Response> {
        let mut builder = self.http.post(format!("{}/v1/download", provider.url)).json(request);
        if let Some(range) = range {
            builder = builder.header("range", range);
        }
        Ok(builder.send().await?)
    }
}

pub fn public_metadata(added: &Added) -> AssetMetadata {
    AssetMetadata {
        name: "public".into(),
        description: String::new(),
        content: ContentRef { cid: added.cid.clone(), size: added.size, file_name: None, encryption: None },
        extra: Default::default(),
    }
}

/// Metadata for content stored as one file named `file_name` (also the asset's name).
pub fn named_metadata(cid: &str, size: u64, file_name: &str) -> AssetMetadata {
    AssetMetadata {
        name: file_name.into(),
        description: String::new(),
        content: ContentRef { cid: cid.into(), size, file_name: Some(file_name.into()), encryption: None },
        extra: Default::default(),
    }
}

/// A three-class table `x,y,label` whose class is [`class_of`] the features (seeded).
pub fn classification_csv(rows: usize, seed: u64) -> String {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) as f64) / ((1u64 << 31) as f64) * 4.0 - 2.0
    };
    let mut csv = String::from("x,y,label\n");
    for _ in 0..rows {
        let (x, y) = (next(), next());
        csv.push_str(&format!("{x:.4},{y:.4},{}\n", class_of(x, y)));
    }
    csv
}

/// The class of a row of [`classification_csv`].
pub fn class_of(x: f64, y: f64) -> &'static str {
    if x + y > 1.0 {
        "high"
    } else if x - y > 0.5 {
        "right"
    } else {
        "low"
    }
}

/// Reads a server-sent event stream to its end (at most two minutes): each event's name and
/// JSON data.
pub async fn read_events(response: reqwest::Response) -> Result<Vec<(String, serde_json::Value)>> {
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let mut events = Vec::new();
    let read = async {
        while let Some(chunk) = body.next().await {
            text.push_str(std::str::from_utf8(&chunk?)?);
            while let Some(end) = text.find("\n\n") {
                let block: String = text.drain(..end + 2).collect();
                let (mut name, mut data) = (String::from("message"), String::new());
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                if !data.is_empty() {
                    events
                        .push((name, serde_json::from_str(&data).wrap_err_with(|| format!("event {data}"))?));
                }
            }
        }
        Ok::<_, eyre::Report>(())
    };
    tokio::time::timeout(Duration::from_secs(120), read).await.wrap_err("the event stream did not end")??;
    Ok(events)
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Asserts a refusal's status and that its JSON message contains `message`.
pub async fn expect_refusal(response: reqwest::Response, status: u16, message: &str) -> Result<()> {
    let got = response.status().as_u16();
    let body = response.text().await?;
    if got != status || !body.contains(message) {
        return Err(eyre!("expected {status} with {message:?}, got {got}: {body}"));
    }
    Ok(())
}

/// Deterministic test content.
pub fn content(size: usize, seed: u8) -> Vec<u8> {
    (0..size).map(|i| ((i as u64 * 2654435761 + u64::from(seed)) >> 7) as u8).collect()
}
