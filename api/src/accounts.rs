//! Accounts: what an address owns, holds, ordered and received.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Asset;

/// One address (`/accounts/{address}`): its assets, access-token balances, newest access orders
/// and revenue releases, at most 100 of each, how many there are in all, and its delegate. An
/// address the indexer never saw is an empty account, not a 404.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The address: lowercase 0x-prefixed.
    pub address: String,
    /// Who the address delegates its governance votes to: a lowercase 0x-prefixed address;
    /// null when it never delegated.
    pub delegate: Option<String>,
    /// The assets it owns, by asset id (at most 100); all of them:
    /// `/assets?owner={address}&include_delisted=true`.
    #[schema(max_items = 100)]
    pub assets: Vec<Asset>,
    /// How many assets it owns.
    pub assets_count: i64,
    /// Its positive access-token balances, by asset id (at most 100).
    #[schema(max_items = 100)]
    pub access_tokens: Vec<AccessTokenBalance>,
    /// How many access tokens it holds a positive balance of.
    pub access_tokens_count: i64,
    /// Its newest access orders (access tokens spent), newest first (at most 100); all of them:
    /// `/accounts/{address}/orders`.
    #[schema(max_items = 100)]
    pub orders: Vec<Order>,
    /// How many access orders it placed.
    pub orders_count: i64,
    /// The newest revenue releases it received, newest first (at most 100).
    #[schema(max_items = 100)]
    pub releases: Vec<Release>,
    /// How many revenue releases it received.
    pub releases_count: i64,
    /// Its newest votes on DAO proposals, newest first (at most 100).
    #[schema(max_items = 100)]
    pub votes: Vec<AccountVote>,
    /// How many proposals it voted on.
    pub votes_count: i64,
}

/// A vote an account cast on a DAO proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountVote {
    /// The proposal: a decimal uint256.
    pub proposal_id: String,
    /// 0 against, 1 for, 2 abstain.
    pub support: i16,
    /// Its voting weight: a decimal uint256.
    pub weight: String,
    /// The block it was cast in.
    pub block_number: i64,
}

/// A balance of one asset's access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessTokenBalance {
    /// The asset: a decimal uint256.
    pub asset_id: String,
    /// Its access-token contract: a lowercase 0x-prefixed address.
    pub token: String,
    /// Access tokens held: a decimal uint256, above 0.
    pub balance: String,
}

/// An access order: one access token spent for a download or a compute job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// The asset: a decimal uint256.
    pub asset_id: String,
    /// Its access-token contract: a lowercase 0x-prefixed address.
    pub token: String,
    /// The order's id within the token: a decimal uint256.
    pub order_id: String,
    /// The provider serving the order: a lowercase 0x-prefixed address.
    pub provider: String,
    /// When a timed order stops being valid, in unix seconds; 0 for a single-use order.
    pub expires_at: i64,
    /// The block of the order.
    pub block_number: i64,
    /// The transaction of the order: 0x-prefixed lowercase hex of 32 bytes.
    pub tx_hash: String,
}

/// What waits for an account in the revenue splitter, read from the chain when asked
/// (`releasable`): per asset whose split names it now or named it before, per currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevenueWaiting {
    /// The account: a lowercase 0x-prefixed address.
    pub account: String,
    /// The block the amounts were read at.
    pub block_number: u64,
    /// Each (asset, currency) with something to release, by asset id then currency.
    pub items: Vec<Waiting>,
}

/// Revenue an account can release: `RevenueSplitter.release(assetId, currency, account)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Waiting {
    /// The asset: a decimal uint256.
    pub asset_id: String,
    /// The currency: a lowercase 0x-prefixed address, the zero address for ETH.
    pub currency: String,
    /// How much: a decimal uint256 in the currency's base units, above 0.
    pub amount: String,
}

/// Revenue released to a recipient by the revenue splitter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    /// The asset whose revenue it was: a decimal uint256; null for protocol fees.
    pub asset_id: Option<String>,
    /// The currency: a lowercase 0x-prefixed address, the zero address for ETH.
    pub currency: String,
    /// How much: a decimal uint256 in the currency's base units.
    pub amount: String,
    /// The block of the release.
    pub block_number: i64,
}
