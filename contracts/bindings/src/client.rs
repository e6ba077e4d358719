//! Typed instances of the protocol's contracts for one deployment and one provider.

use alloy::{
    primitives::{Address, U256},
    providers::DynProvider,
};

use crate::{
    AccessToken, AgoraGovernor, AgoraTimelock, AgoraToken, AssetRegistry, ComputeMarket, Deployment, Marketplace,
    RevenueSplitter,
    tx::{self, Error},
};

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
            compute_market: ComputeMarket::new(c.compute_market, provider),
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
    pub async fn access_token(&self, asset_id: U256) -> Result<AccessToken::AccessTokenInstance<DynProvider>, Error> {
        let address = tx::call(format!("registry.accessTokenOf({asset_id})"), self.registry.accessTokenOf(asset_id)).await?;
        Ok(self.access_token_at(address))
    }
}
