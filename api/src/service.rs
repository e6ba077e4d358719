//! The service itself: liveness, readiness, sync status, the error body, and the queries of
//! the paginated lists.

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
    /// Events indexed per second since the process started; null when the syncer runs in
    /// another process.
    pub events_per_second: Option<f64>,
    /// Reorgs handled since the process started; null when the syncer runs in another process.
    pub reorgs: Option<u64>,
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
