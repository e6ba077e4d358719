//! `/rewards/usage`: the points of `agora_contracts::rewards`' formula between two times, from
//! the indexed tables instead of the chain's raw logs (tested equal to them).

use std::collections::HashMap;

use agora_api::{AccountPoints, ErrorBody, RewardsUsage, RewardsWindow};
use agora_contracts::rewards::{
    self, BUYER_POINTS, JOB_CONSUMER_POINTS, ORDER_POINTS, OWNER_POINTS, PROVIDER_POINTS, Usage,
};
use alloy::primitives::{Address, U256};
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};

use super::{ApiError, AppState, chain, governance::deployment, hex};

/// The blocks whose events carry a timestamp in `[$2, $3)`: every row counted was written by an
/// event of one of them.
const IN_WINDOW: &str = "(SELECT DISTINCT block_number FROM events
    WHERE chain_id = $1 AND block_timestamp >= $2 AND block_timestamp < $3)";

/// The longest window asked for at once: a year.
const MAX_WINDOW_SECONDS: i64 = 366 * 24 * 60 * 60;

#[utoipa::path(
    get,
    path = "/rewards/usage",
    tag = "governance",
    summary = "Points earned by use in [start, end): sales that paid a fee, access orders, finalized jobs",
    params(RewardsWindow),
    responses(
        (status = 200, description = "Every account with points", body = RewardsUsage),
        (status = 400, description = "The window is empty, reversed, longer than a year or not numbers", body = ErrorBody),
        (status = 404, description = "The sync has not recorded the deployment yet (it does when it starts)",
            body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn usage(
    State(state): State<AppState>,
    window: Result<Query<RewardsWindow>, QueryRejection>,
) -> Result<Json<RewardsUsage>, ApiError> {
    let Query(RewardsWindow { start, end }) = window?;
    if start < 0 || end <= start || end - start > MAX_WINDOW_SECONDS {
        return Err(ApiError::BadRequest(format!(
            "the window [{start}, {end}) must be non-negative seconds, start before end, at most a year long"
        )));
    }
    // The contracts as the sync recorded them (replicas and manifest-less APIs have them too).
    let contracts = deployment(&state)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("the deployment of chain {}", state.chain_id)))?
        .contracts(state.contracts.as_ref());
    let (pool, id) = (&state.pool, chain(&state));

    // Asset owners at the window's end, from the registry's ERC-721 transfers (topics: the event,
    // from, to, tokenId; 32 bytes each).
    let transfers: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT topics FROM events WHERE chain_id = $1 AND address = $2 AND name = 'Transfer'
           AND block_timestamp < $3 ORDER BY block_number, log_index",
    )
    .bind(id)
    .bind(contracts.asset_registry.as_slice())
    .bind(end)
    .fetch_all(pool)
    .await?;
    let mut owners: HashMap<U256, Address> = HashMap::new();
    for topics in transfers.iter().filter(|t| t.len() == 128) {
        owners.insert(U256::from_be_slice(&topics[96..128]), Address::from_slice(&topics[76..96]));
    }

    let mut usage = Usage::new();
    let mut earn = |account: &[u8], points: u64| {
        if account.len() == 20 {
            *usage.entry(Address::from_slice(account)).or_default() += points;
        }
    };
    let sales: Vec<(Vec<u8>, String)> = sqlx::query_as(&format!(
        "SELECT buyer, asset_id::text FROM purchases WHERE chain_id = $1 AND fee > 0 AND block_number IN {IN_WINDOW}"
    ))
    .bind(id)
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await?;
    for (buyer, asset) in &sales {
        earn(buyer, BUYER_POINTS);
        let asset: U256 = asset.parse().map_err(|_| ApiError::Corrupt(format!("asset id {asset}")))?;
        if let Some(owner) = owners.get(&asset) {
            earn(owner.as_slice(), OWNER_POINTS);
        }
    }
    let consumers: Vec<Vec<u8>> = sqlx::query_scalar(&format!(
        "SELECT consumer FROM access_orders WHERE chain_id = $1 AND block_number IN {IN_WINDOW}"
    ))
    .bind(id)
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await?;
    for consumer in &consumers {
        earn(consumer, ORDER_POINTS);
    }
    let jobs: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(&format!(
        "SELECT consumer, provider FROM jobs WHERE chain_id = $1 AND status = 'finalized'
           AND updated_block IN {IN_WINDOW}"
    ))
    .bind(id)
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await?;
    for (consumer, provider) in &jobs {
        earn(provider, PROVIDER_POINTS);
        earn(consumer, JOB_CONSUMER_POINTS);
    }

    rewards::exclude_protocol(&mut usage, &contracts);
    Ok(Json(RewardsUsage {
        start,
        end,
        accounts: usage
            .into_iter()
            .map(|(account, points)| AccountPoints { account: hex(account.as_slice()), points })
            .collect(),
    }))
}
