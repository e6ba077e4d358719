//! What the provider reads from the chain, with caches for what cannot change: an asset's
//! access token and compute-only flag never change and a confirmed order is immutable, so a
//! warm access check of a single-use order needs no RPC at all (a timed one reads the latest
//! block's time, the clock its expiry is set by). An asset's digest and metadata CID can change
//! (`updateMetadata`), so assets are re-read after a short TTL.

use std::{
    sync::RwLock,
    time::{Duration, Instant},
};

use agora_contracts::{
    AccessToken, AssetRegistry, ComputeMarket, Deployment, compute_market::IComputeMarket,
};
use alloy::{
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::Filter,
    sol_types::SolEvent,
    transports::http::reqwest::Url,
};

use crate::{access::Order, bounded::BoundedMap};

/// Assets and orders kept in memory (each entry is about a hundred bytes).
const CACHED_ASSETS: usize = 65_536;
const CACHED_ORDERS: usize = 65_536;

/// Reading the chain failed (as opposed to the chain saying "no such thing").
#[derive(Debug, thiserror::Error)]
#[error("{action}: {reason}")]
pub struct ChainError {
    /// What was being read.
    pub action: String,
    /// The RPC error.
    pub reason: String,
}

/// `IAssetRegistry.AssetKind.Algorithm`.
pub const ALGORITHM_KIND: u8 = 2;

/// The `IComputeMarket.JobStatus` values the provider and its clients act on.
pub mod job_status {
    /// Escrowed, waiting for a result.
    pub const OPEN: u8 = 1;
    /// A result is posted and open to challenge.
    pub const RESULT_POSTED: u8 = 2;
    /// Challenged; the DAO rules.
    pub const DISPUTED: u8 = 3;
    /// Paid out to the provider.
    pub const FINALIZED: u8 = 4;
    /// The consumer took the payment back after the deadline (or the provider declined it).
    pub const REFUNDED: u8 = 5;
    /// The DAO ruled against the provider: the consumer was paid back.
    pub const RULED_AGAINST_PROVIDER: u8 = 6;
}

/// An asset as the provider needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetInfo {
    /// Its access-token clone.
    pub access_token: Address,
    /// Its kind: `IAssetRegistry.AssetKind` (0 dataset, 1 model, 2 algorithm, …).
    pub kind: u8,
    /// Whether its content never leaves a compute provider.
    pub compute_only: bool,
    /// sha-256 of its content.
    pub content_digest: B256,
    /// IPFS CID of its metadata JSON.
    pub metadata_cid: String,
}

/// Cached reads of the registry and the access tokens of one deployment.
#[derive(Debug)]
pub struct ChainReader {
    provider: DynProvider,
    registry: AssetRegistry::AssetRegistryInstance<DynProvider>,
    market: ComputeMarket::ComputeMarketInstance<DynProvider>,
    from_block: u64,
    asset_ttl: Duration,
    assets: RwLock<BoundedMap<U256, (AssetInfo, Instant)>>,
    orders: RwLock<BoundedMap<(Address, U256), Order>>,
}

impl ChainReader {
    /// A reader of `deployment` over HTTP at `rpc_url`; assets are re-read after `asset_ttl`.
    pub fn new(rpc_url: Url, deployment: &Deployment, asset_ttl: Duration) -> Self {
        let provider = ProviderBuilder::new().connect_http(rpc_url).erased();
        Self::with_provider(provider, deployment, asset_ttl)
    }

    /// A reader over an existing provider.
    pub fn with_provider(provider: DynProvider, deployment: &Deployment, asset_ttl: Duration) -> Self {
        Self {
            registry: AssetRegistry::new(deployment.contracts.asset_registry, provider.clone()),
            market: ComputeMarket::new(deployment.contracts.compute_market, provider.clone()),
            provider,
            from_block: deployment.deployment_block,
            asset_ttl,
            assets: RwLock::new(BoundedMap::new(CACHED_ASSETS)),
            orders: RwLock::new(BoundedMap::new(CACHED_ORDERS)),
        }
    }

    /// The chain id the node reports.
    pub async fn chain_id(&self) -> Result<u64, ChainError> {
        self.provider
            .get_chain_id()
            .await
            .map_err(|err| ChainError { action: "read the chain id".into(), reason: err.to_string() })
    }

    /// The asset `asset_id`, or `None` when the registry does not know it.
    pub async fn asset(&self, asset_id: U256) -> Result<Option<AssetInfo>, ChainError> {
        if let Some((asset, read_at)) = read(&self.assets).get(&asset_id)
            && read_at.elapsed() < self.asset_ttl
        {
            return Ok(Some(asset.clone()));
        }
        let asset = match self.registry.getAsset(asset_id).call().await {
            Ok(asset) => asset,
            Err(err) if is_revert(&err) => return Ok(None),
            Err(err) => {
                return Err(ChainError {
                    action: format!("registry.getAsset({asset_id})"),
                    reason: err.to_string(),
                });
            }
        };
        let info = AssetInfo {
            access_token: asset.accessToken,
            kind: asset.kind,
            compute_only: asset.computeOnly,
            content_digest: asset.contentDigest,
            metadata_cid: asset.metadataCid,
        };
        write(&self.assets).insert(asset_id, (info.clone(), Instant::now()));
        Ok(Some(info))
    }

    /// The block the deployment was made in (nothing of it happened before).
    pub fn deployment_block(&self) -> u64 {
        self.from_block
    }

    /// The chain's newest block number.
    pub async fn head(&self) -> Result<u64, ChainError> {
        self.provider
            .get_block_number()
            .await
            .map_err(|err| ChainError { action: "read the head block".into(), reason: err.to_string() })
    }

    /// The metadata assets named in blocks `from..=to`: `(asset id, metadata CID)` of each
    /// `AssetPublished` and `MetadataUpdated`, in chain order.
    pub async fn metadata_named(&self, from: u64, to: u64) -> Result<Vec<(U256, String)>, ChainError> {
        let filter = Filter::new()
            .address(*self.registry.address())
            .event_signature(vec![
                AssetRegistry::AssetPublished::SIGNATURE_HASH,
                AssetRegistry::MetadataUpdated::SIGNATURE_HASH,
            ])
            .from_block(from)
            .to_block(to);
        let logs = self.provider.get_logs(&filter).await.map_err(|err| ChainError {
            action: format!("registry metadata logs of blocks {from}..={to}"),
            reason: err.to_string(),
        })?;
        Ok(logs
            .iter()
            .filter(|log| !log.removed)
            .filter_map(|log| {
                if let Ok(e) = log.log_decode::<AssetRegistry::AssetPublished>() {
                    return Some((e.inner.data.assetId, e.inner.data.metadataCid));
                }
                let e = log.log_decode::<AssetRegistry::MetadataUpdated>().ok()?;
                Some((e.inner.data.assetId, e.inner.data.metadataCid))
            })
            .collect())
    }

    /// Drops the cached asset `asset_id`, so the next read asks the chain.
    pub fn forget_asset(&self, asset_id: U256) {
        write(&self.assets).remove(&asset_id);
    }

    /// The order `order_id` recorded by the access token at `access_token`, or `None`.
    pub async fn order(&self, access_token: Address, order_id: U256) -> Result<Option<Order>, ChainError> {
        if let Some(order) = read(&self.orders).get(&(access_token, order_id)) {
            return Ok(Some(*order));
        }
        let filter = Filter::new()
            .address(access_token)
            .event_signature(AccessToken::AccessConsumed::SIGNATURE_HASH)
            .topic1(B256::from(order_id))
            .from_block(self.from_block);
        let logs = self.provider.get_logs(&filter).await.map_err(|err| ChainError {
            action: format!("AccessConsumed logs of {access_token} for order {order_id}"),
            reason: err.to_string(),
        })?;
        let Some(event) = logs
            .iter()
            .filter(|log| !log.removed)
            .find_map(|log| log.log_decode::<AccessToken::AccessConsumed>().ok())
        else {
            return Ok(None);
        };
        let job = match event.transaction_hash {
            Some(tx) => self.job_opened_with(tx, access_token, order_id).await?,
            None => None,
        };
        let event = event.inner.data;
        let order =
            Order { consumer: event.consumer, provider: event.provider, expires_at: event.expiresAt, job };
        write(&self.orders).insert((access_token, order_id), order);
        Ok(Some(order))
    }
}

impl ChainReader {
    /// The job whose `JobOpened` in transaction `tx` spent order `order_id` of `access_token`:
    /// `openJob` spends a dataset token, and a priced algorithm's or model's, with the same
    /// `AccessConsumed` a download order has, and only the market's event in the same
    /// transaction tells them apart.
    async fn job_opened_with(
        &self,
        tx: B256,
        access_token: Address,
        order_id: U256,
    ) -> Result<Option<U256>, ChainError> {
        let receipt = self.provider.get_transaction_receipt(tx).await.map_err(|err| ChainError {
            action: format!("the receipt of order {order_id}'s transaction {tx}"),
            reason: err.to_string(),
        })?;
        let market = *self.market.address();
        let opened: Vec<_> = receipt
            .iter()
            .flat_map(|receipt| receipt.inner.logs())
            .filter(|log| log.address() == market)
            .filter_map(|log| log.log_decode::<ComputeMarket::JobOpened>().ok())
            .map(|log| log.inner.data)
            .collect();
        for job in opened {
            // Order ids count per access token: the input whose order it names must be this
            // token's asset.
            let inputs = [(job.datasetId, job.orderId), (job.algorithmId, job.algorithmOrderId)];
            for (asset_id, spent) in inputs {
                if spent == order_id
                    && self.asset(asset_id).await?.is_some_and(|asset| asset.access_token == access_token)
                {
                    return Ok(Some(job.jobId));
                }
            }
        }
        Ok(None)
    }
}

/// A compute job as the provider needs it: the market's record plus what only `JobOpened`
/// carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    /// The market's record.
    pub job: IComputeMarket::Job,
    /// IPFS CID of the job spec.
    pub spec_cid: String,
}

impl ChainReader {
    /// The compute job `job_id`, or `None` when the market never opened it. Not cached: its
    /// status moves.
    pub async fn job(&self, job_id: U256) -> Result<Option<JobInfo>, ChainError> {
        let job = match self.market.getJob(job_id).call().await {
            Ok(job) => job,
            Err(err) if is_revert(&err) => return Ok(None),
            Err(err) => {
                return Err(ChainError {
                    action: format!("market.getJob({job_id})"),
                    reason: err.to_string(),
                });
            }
        };
        if job.status == 0 {
            return Ok(None);
        }
        let filter = Filter::new()
            .address(*self.market.address())
            .event_signature(ComputeMarket::JobOpened::SIGNATURE_HASH)
            .topic1(B256::from(job_id))
            .from_block(self.from_block);
        let logs = self.provider.get_logs(&filter).await.map_err(|err| ChainError {
            action: format!("JobOpened logs for job {job_id}"),
            reason: err.to_string(),
        })?;
        let opened = logs
            .iter()
            .filter(|log| !log.removed)
            .find_map(|log| log.log_decode::<ComputeMarket::JobOpened>().ok())
            .ok_or_else(|| ChainError {
                action: format!("JobOpened logs for job {job_id}"),
                reason: "the job exists but its JobOpened event was not found".into(),
            })?;
        Ok(Some(JobInfo { job, spec_cid: opened.inner.data.specCid }))
    }

    /// Whether the dataset's owner lets `algorithm_id` run on `dataset_id`.
    pub async fn is_algorithm_allowed(
        &self,
        dataset_id: U256,
        algorithm_id: U256,
    ) -> Result<bool, ChainError> {
        self.market.isAlgorithmAllowed(dataset_id, algorithm_id).call().await.map_err(|err| ChainError {
            action: format!("market.isAlgorithmAllowed({dataset_id}, {algorithm_id})"),
            reason: err.to_string(),
        })
    }

    /// The latest block's timestamp: the clock the market's deadlines are checked against.
    pub async fn block_time(&self) -> Result<u64, ChainError> {
        let block = self
            .provider
            .get_block_by_number(Default::default())
            .await
            .map_err(|err| ChainError { action: "read the latest block".into(), reason: err.to_string() })?
            .ok_or_else(|| ChainError {
                action: "read the latest block".into(),
                reason: "no block".into(),
            })?;
        Ok(block.header.timestamp)
    }
}

fn is_revert(err: &alloy::contract::Error) -> bool {
    match err {
        alloy::contract::Error::TransportError(err) => err.as_error_resp().is_some(),
        _ => true,
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}
