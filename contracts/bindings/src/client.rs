//! Typed instances of the protocol's contracts for one deployment and one provider.

use std::collections::HashMap;

use alloy::{
    network::EthereumWallet,
    primitives::{Address, TxHash, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::Filter,
    sol_types::SolEvent,
    transports::http::reqwest::Url,
};

use crate::{
    AccessToken, AgoraGovernor, AgoraRewards, AgoraTimelock, AgoraToken, AssetRegistry, ComputeMarket,
    Deployment, Marketplace, RevenueSplitter,
    asset_registry::IAssetRegistry,
    tx::{self, Error},
};

/// A provider that signs with `signer` (a local key, a keystore's, a hardware wallet) and sends
/// over HTTP to `rpc_url`.
///
/// Nonces are read from the node before every transaction rather than cached: with a cached
/// nonce, a transaction rejected before it is sent (say, a revert found by gas estimation)
/// would leave a gap that stalls every later transaction of the account.
pub fn signing_provider(rpc_url: Url, signer: impl Into<EthereumWallet>) -> DynProvider {
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(signer.into())
        .connect_http(rpc_url)
        .erased()
}

/// The protocol's contracts of one [`Deployment`], bound to one provider (and so to the
/// account it signs with). [`Agora::with_provider`] gives the same contracts for another account.
#[derive(Debug, Clone)]
pub struct Agora {
    /// Where the contracts live.
    pub deployment: Deployment,
    /// `AgoraToken`.
    pub token: AgoraToken::AgoraTokenInstance<DynProvider>,
    /// `AgoraTimelock`.
    pub timelock: AgoraTimelock::AgoraTimelockInstance<DynProvider>,
    /// `AgoraGovernor`.
    pub governor: AgoraGovernor::AgoraGovernorInstance<DynProvider>,
    /// `AssetRegistry`.
    pub registry: AssetRegistry::AssetRegistryInstance<DynProvider>,
    /// `Marketplace`.
    pub marketplace: Marketplace::MarketplaceInstance<DynProvider>,
    /// `RevenueSplitter`.
    pub splitter: RevenueSplitter::RevenueSplitterInstance<DynProvider>,
    /// `ComputeMarket`.
    pub compute_market: ComputeMarket::ComputeMarketInstance<DynProvider>,
    /// `AgoraRewards` (at the zero address for a deployment made before it existed).
    pub rewards: AgoraRewards::AgoraRewardsInstance<DynProvider>,
}

impl Agora {
    /// The contracts of `deployment`, sending through `provider`.
    pub fn new(deployment: Deployment, provider: DynProvider) -> Self {
        let c = deployment.contracts;
        Self {
            token: AgoraToken::new(c.agora_token, provider.clone()),
            timelock: AgoraTimelock::new(c.timelock, provider.clone()),
            governor: AgoraGovernor::new(c.governor, provider.clone()),
            registry: AssetRegistry::new(c.asset_registry, provider.clone()),
            marketplace: Marketplace::new(c.marketplace, provider.clone()),
            splitter: RevenueSplitter::new(c.revenue_splitter, provider.clone()),
            compute_market: ComputeMarket::new(c.compute_market, provider.clone()),
            rewards: AgoraRewards::new(c.rewards, provider),
            deployment,
        }
    }

    /// The same contracts through another provider (typically another signer).
    pub fn with_provider(&self, provider: DynProvider) -> Self {
        Self::new(self.deployment.clone(), provider)
    }

    /// The provider the instances send through.
    pub fn provider(&self) -> &DynProvider {
        self.token.provider()
    }

    /// The access token at `address` (each asset has its own clone).
    pub fn access_token_at(&self, address: Address) -> AccessToken::AccessTokenInstance<DynProvider> {
        AccessToken::new(address, self.provider().clone())
    }

    /// The access token of asset `asset_id`, looked up in the registry.
    pub async fn access_token(
        &self,
        asset_id: U256,
    ) -> Result<AccessToken::AccessTokenInstance<DynProvider>, Error> {
        let action = format!("registry.accessTokenOf({asset_id})");
        let address = tx::call(action, self.registry.accessTokenOf(asset_id)).await?;
        Ok(self.access_token_at(address))
    }
}

/// One access order (a consumed access token) as its provider sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessOrder {
    /// The asset accessed.
    pub asset_id: U256,
    /// The access-token clone that recorded the order.
    pub access_token: Address,
    /// Sequence number of the order within that token (from 1).
    pub order_id: U256,
    /// Who spent the token and may use the access.
    pub consumer: Address,
    /// The provider the order is bound to.
    pub provider: Address,
    /// When a timed order stops being valid (unix time); 0 for a single-use order.
    pub expires_at: u64,
    /// Block the order was recorded in.
    pub block_number: Option<u64>,
    /// Transaction that recorded it.
    pub tx_hash: Option<TxHash>,
}

/// An asset just published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The new asset's id.
    pub asset_id: U256,
    /// Its access-token clone.
    pub access_token: Address,
    /// The publishing transaction.
    pub tx_hash: TxHash,
}

impl Agora {
    /// Publishes an asset and returns its id and access token, read from `AssetPublished`.
    pub async fn publish(&self, params: IAssetRegistry::PublishParams) -> Result<Published, Error> {
        let receipt = tx::send("registry.publish", self.registry.publish(params)).await?;
        let event = receipt.decoded_log::<AssetRegistry::AssetPublished>().ok_or_else(|| {
            Error::MissingEvent { action: "registry.publish".into(), event: "AssetPublished" }
        })?;
        Ok(Published {
            asset_id: event.data.assetId,
            access_token: event.data.accessToken,
            tx_hash: receipt.transaction_hash,
        })
    }

    /// Every access order bound to `provider` since `from_block`, across all assets. Only
    /// orders emitted by the registry's own access-token clones count: anyone can emit a
    /// look-alike `AccessConsumed` event from another contract.
    pub async fn orders_for_provider(
        &self,
        provider: Address,
        from_block: u64,
    ) -> Result<Vec<AccessOrder>, Error> {
        let filter = Filter::new()
            .event_signature(AccessToken::AccessConsumed::SIGNATURE_HASH)
            .topic3(provider.into_word())
            .from_block(from_block);
        let logs = self
            .provider()
            .get_logs(&filter)
            .await
            .map_err(|source| Error::rpc("query AccessConsumed logs", source))?;
        // Emitting contract → its asset, or `None` when it is not one of the registry's clones.
        let mut assets: HashMap<Address, Option<U256>> = HashMap::new();
        let mut orders = Vec::with_capacity(logs.len());
        for log in logs {
            let Ok(decoded) = log.log_decode::<AccessToken::AccessConsumed>() else { continue };
            let emitter = decoded.inner.address;
            let asset_id = match assets.get(&emitter) {
                Some(known) => *known,
                None => {
                    let genuine = self.asset_of_access_token(emitter).await?;
                    assets.insert(emitter, genuine);
                    genuine
                }
            };
            let Some(asset_id) = asset_id else { continue };
            let event = decoded.inner.data;
            orders.push(AccessOrder {
                asset_id,
                access_token: emitter,
                order_id: event.orderId,
                consumer: event.consumer,
                provider: event.provider,
                expires_at: event.expiresAt,
                block_number: log.block_number,
                tx_hash: log.transaction_hash,
            });
        }
        Ok(orders)
    }

    /// The asset whose access token lives at `token`, or `None` when `token` is not one of the
    /// registry's clones (it claims an asset whose token is elsewhere, or is no access token).
    pub async fn asset_of_access_token(&self, token: Address) -> Result<Option<U256>, Error> {
        let asset_id = match self.access_token_at(token).assetId().call().await {
            Ok(asset_id) => asset_id,
            Err(source) if is_rejection(&source) => return Ok(None),
            Err(source) => return Err(Error::contract(format!("{token}.assetId()"), source)),
        };
        match self.registry.accessTokenOf(asset_id).call().await {
            Ok(registered) => Ok((registered == token).then_some(asset_id)),
            // An unknown asset id reverts: the claim is false.
            Err(source) if is_rejection(&source) => Ok(None),
            Err(source) => Err(Error::contract(format!("registry.accessTokenOf({asset_id})"), source)),
        }
    }
}

/// Whether the chain answered a call by refusing it (a revert, or data that does not decode),
/// as opposed to the request failing on the way.
fn is_rejection(err: &alloy::contract::Error) -> bool {
    match err {
        alloy::contract::Error::TransportError(err) => err.as_error_resp().is_some(),
        _ => true,
    }
}
