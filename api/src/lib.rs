//! agora-api: the indexer's HTTP API as types, shared by the server (agora-indexer), the web hub
//! and the Python package, so that none of them reads the API's JSON by hand.
//!
//! Every response and query of the API is a plain serde struct here, with a `utoipa` schema
//! whose descriptions come from the field docs; the indexer derives its OpenAPI document from
//! them. The crate holds no database and no chain code.
//!
//! - [`page`]: [`Page`], one page of a cursor-paginated list.
//! - [`assets`]: the catalogue ([`Asset`], [`AssetDetail`] with its versions, sales, holders,
//!   lineage, split and revenue), its search query [`AssetQuery`], and the [`AssetFacets`] of a
//!   search ([`FacetQuery`]).
//! - [`accounts`]: an [`Account`] with its assets, access tokens, orders and releases.
//! - [`governance`]: the DAO's settings and treasury ([`Governance`]), its [`Proposal`]s with
//!   their decoded [`ProposalAction`]s, and their [`Vote`]s.
//! - [`compute`]: [`ComputeProvider`]s with their job counts, and compute [`Job`]s with their
//!   [`JobInput`]s.
//! - [`service`]: health, readiness, sync status (with the indexed [`Contracts`]), the error body,
//!   and the list queries.
//! - [`client`]: [`Client`], one async method per route, and its [`ClientError`].
//!
//! Conventions of the wire format: uint256 values (ids, prices, balances) are decimal strings,
//! addresses and hashes lowercase 0x-prefixed hex, times unix seconds, JSON names camelCase.

pub mod accounts;
pub mod assets;
pub mod client;
pub mod compute;
pub mod governance;
pub mod page;
pub mod service;

pub use accounts::{AccessTokenBalance, Account, AccountVote, Order, Release, RevenueWaiting, Waiting};
pub use assets::{
    Asset, AssetDetail, AssetFacets, AssetKind, AssetQuery, AssetVersion, FacetCount, FacetQuery, Holder,
    LineageLink, MetadataStatus, Revenue, Sale, SplitShare,
};
pub use client::{Client, ClientError};
pub use compute::{ComputeProvider, Job, JobInput, JobStatus};
pub use governance::{
    AccountPoints, ActionArg, Governance, Proposal, ProposalAction, ProposalDetail, ProposalStatus,
    RewardsUsage, RewardsWindow, TreasuryInflow, Vote,
};
pub use page::Page;
pub use service::{
    Contracts, Currencies, CurrencyUnits, CursorQuery, ErrorBody, Health, ListQuery, Ready, Status,
};
/// The URL type [`Client::new`] takes, so callers need no `url` dependency of their own.
pub use url::Url;

/// A string that names none of an enum's values: the error of their `FromStr`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not one of {}", expected.join(", "))]
pub struct UnknownValue {
    /// The string given.
    pub value: String,
    /// Every name accepted.
    pub expected: &'static [&'static str],
}

/// Lowercase names, `as_str`, `Display` and `FromStr` for a fieldless enum from one list.
macro_rules! names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The wire name of this value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::UnknownValue;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                const NAMES: &[&str] = &[$($name),+];
                match value {
                    $($name => Ok(Self::$variant),)+
                    _ => Err($crate::UnknownValue { value: value.to_owned(), expected: NAMES }),
                }
            }
        }
    };
}
pub(crate) use names;
