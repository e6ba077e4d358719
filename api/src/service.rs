//! The service itself: liveness, readiness, sync status (with the contracts indexed), the error
//! body, and the queries of the paginated lists.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Liveness: the process answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// Readiness: whether the index is close enough to the chain head to serve. Sent with 200 when
/// ready, 503 when not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ready {
    /// Whether the indexer is ready.
    pub ready: bool,
    /// `ok`, `indexing has not started` or `lagging behind the head`.
    pub reason: String,
    /// Blocks between the chain head and the last indexed block; null before indexing started.
    pub lag: Option<u64>,
    /// The most blocks of lag that still count as ready.
    pub max_lag: u64,
}

/// Where syncing stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The chain id served.
    pub chain_id: u64,
    /// The chain head last seen; null before indexing started.
    pub head_block: Option<u64>,
    /// The last block whose events are all indexed; null before indexing started.
    pub indexed_block: Option<u64>,
    /// `headBlock - indexedBlock`; null before indexing started.
    pub lag: Option<u64>,
    /// The chain's time as indexed: unix seconds of the newest block whose header the indexer
    /// holds (the head, once level with it). The DAO's clock is the block timestamp, so a
    /// proposal is pending, active or closed by this time; null before the indexer has followed
    /// the head.
    #[serde(default)]
    pub indexed_time: Option<i64>,
    /// Events indexed per second since the process started; null when the syncer runs in
    /// another process.
    pub events_per_second: Option<f64>,
    /// Reorgs handled since the process started; null when the syncer runs in another process.
    pub reorgs: Option<u64>,
    /// The contracts of the deployment indexed, as its manifest names them; null when the
    /// indexer was started without one.
    pub contracts: Option<Contracts>,
    /// Whether this API reads a database it cannot write: a streaming replica, or a session
    /// `agora-indexer serve` made read-only. False for the writer.
    #[serde(default)]
    pub read_only: bool,
    /// On a streaming replica, how far its replay trails the primary, in seconds (0 once it has
    /// replayed everything it received); null on a primary.
    #[serde(default)]
    pub replication_lag_seconds: Option<f64>,
}

impl Status {
    /// The decentralized identifier of asset `asset_id` (a decimal uint256), as
    /// `AssetRegistry.did` builds it: `did:agora:<chainId>:<registry>:<assetId>`; `None` without
    /// [`Status::contracts`].
    pub fn did(&self, asset_id: &str) -> Option<String> {
        let contracts = self.contracts.as_ref()?;
        Some(format!("did:agora:{}:{}:{asset_id}", self.chain_id, contracts.asset_registry))
    }
}

/// How amounts are written in each currency the protocol names: ETH, then every ERC-20 (an
/// allowed currency, a listing's or a provider's) whose units the indexer has read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Currencies {
    /// ETH first, then the tokens by address.
    pub items: Vec<CurrencyUnits>,
}

/// One currency's units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrencyUnits {
    /// The currency: a lowercase 0x-prefixed address, the zero address for ETH.
    pub currency: String,
    /// Its symbol (`ETH`, the token's `symbol()`); empty for a token without ERC-20 metadata,
    /// whose amounts are base units.
    pub symbol: String,
    /// Its decimals (18 for ETH, the token's `decimals()`).
    pub decimals: u8,
    /// Whether the DAO's allow-list admits it now (ETH always).
    pub allowed: bool,
}

/// The addresses of a deployment's contracts, each a lowercase 0x-prefixed address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contracts {
    /// `AgoraToken`, the governance token.
    pub agora_token: String,
    /// `AgoraTimelock`, which owns the protocol and holds the treasury.
    pub timelock: String,
    /// `AgoraGovernor`, the DAO's governor.
    pub governor: String,
    /// `AssetRegistry`, the ERC-721 of assets (the registry of every asset's DID).
    pub asset_registry: String,
    /// The `AccessToken` implementation every asset's access-token clone delegates to.
    pub access_token_implementation: String,
    /// `Marketplace`, where access tokens are bought.
    pub marketplace: String,
    /// `RevenueSplitter`, which pays an asset's revenue out to its split.
    pub revenue_splitter: String,
    /// `ComputeMarket`: compute providers, jobs and their escrow.
    pub compute_market: String,
}

/// The body of every error response (4xx, and 500 when the database fails).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// What went wrong: a bad parameter is named (`limit: "0" must be an integer from 1 to
    /// 500`), a missing item ends in `not found`; a database failure is only `internal error`.
    pub error: String,
}

/// The query of a list under a detail route (an asset's sales and holders, an account's
/// orders, a proposal's votes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CursorQuery {
    /// The `nextCursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size: 1 to 500, default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

impl CursorQuery {
    /// The page after `cursor` (the first page when none), `limit` items at most.
    pub fn page(cursor: Option<String>, limit: u32) -> Self {
        Self { cursor, limit: Some(limit.to_string()) }
    }
}

/// The query of a top-level list (`/proposals`, `/jobs`, `/providers`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The `nextCursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size: 1 to 500, default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// Only items in this status. `/proposals`: created, queued, executed or canceled; `/jobs`:
    /// open, result_posted, disputed, finalized, refunded, ruled_against_provider,
    /// dispute_rejected, dispute_expired or declined; `/providers` has no status filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl ListQuery {
    /// The page after `cursor` (the first page when none), `limit` items at most.
    pub fn page(cursor: Option<String>, limit: u32) -> Self {
        Self { cursor, limit: Some(limit.to_string()), status: None }
    }

    /// This query, only for items in `status`.
    pub fn with_status(mut self, status: impl std::fmt::Display) -> Self {
        self.status = Some(status.to_string());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_did_names_the_chain_the_registry_and_the_asset() {
        let zero = "0x0000000000000000000000000000000000000000".to_owned();
        let registry = "0x5fbdb2315678afecb367f032d93f642f64180aa3".to_owned();
        let mut status = Status {
            chain_id: 31337,
            head_block: None,
            indexed_block: None,
            lag: None,
            indexed_time: None,
            events_per_second: None,
            reorgs: None,
            contracts: None,
            read_only: false,
            replication_lag_seconds: None,
        };
        assert_eq!(status.did("7"), None);
        status.contracts = Some(Contracts {
            agora_token: zero.clone(),
            timelock: zero.clone(),
            governor: zero.clone(),
            asset_registry: registry.clone(),
            access_token_implementation: zero.clone(),
            marketplace: zero.clone(),
            revenue_splitter: zero.clone(),
            compute_market: zero,
        });
        assert_eq!(status.did("7").unwrap(), format!("did:agora:31337:{registry}:7"));
    }
}
