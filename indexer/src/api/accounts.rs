//! Accounts: what an address owns, holds, ordered and received; its access orders page by page.

use agora_api::{
    AccessTokenBalance, Account, AccountVote, Asset, CursorQuery, ErrorBody, Order, Page, Release,
    RevenueWaiting, Waiting,
};
use agora_contracts::RevenueSplitter;
use alloy::{
    eips::BlockId,
    primitives::{Address, U256},
    providers::Provider,
};
use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
};

use super::{
    ApiError, AppState, EMBEDDED, NEWEST, assets::ASSET_SELECT, assets::AssetRow, bad_cursor, chain,
    cursor_keys, cursor_position, hex, opt_hex, page_of, parse_address, parse_uint, sub_limit,
};

/// A positive access-token balance with its asset.
#[derive(Debug, sqlx::FromRow)]
struct BalanceRow {
    asset_id: String,
    token: Vec<u8>,
    balance: String,
}

/// A revenue release received.
#[derive(Debug, sqlx::FromRow)]
struct ReleaseRow {
    asset_id: Option<String>,
    currency: Vec<u8>,
    amount: String,
    block_number: i64,
}

/// A vote cast.
#[derive(Debug, sqlx::FromRow)]
struct VoteRow {
    proposal_id: String,
    support: i16,
    weight: String,
    block_number: i64,
}

/// The sizes of an account's lists.
#[derive(Debug, sqlx::FromRow)]
struct AccountCounts {
    assets: i64,
    access_tokens: i64,
    orders: i64,
    releases: i64,
    votes: i64,
}

#[utoipa::path(
    get,
    path = "/accounts/{address}",
    tag = "accounts",
    summary = "An account's assets, access tokens, newest orders, revenue releases and votes, 100 of each \
               at most, their counts, and its delegate",
    params(("address" = String, Path, description = "The account: a 0x-prefixed address")),
    responses(
        (status = 200, description = "The account (empty for an address never seen)", body = Account),
        (status = 400, description = "The address is not a 0x-prefixed 20-byte hex address",
         body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn account(
    State(state): State<AppState>,
    address: Result<Path<String>, PathRejection>,
) -> Result<Json<Account>, ApiError> {
    let Path(address) = address?;
    let who = parse_address("address", &address)?;
    let sql = format!(
        "{ASSET_SELECT}
         WHERE a.chain_id = $1 AND a.owner = $2 ORDER BY a.asset_id LIMIT $3"
    );
    let owned: Vec<AssetRow> =
        sqlx::query_as(&sql).bind(chain(&state)).bind(&who).bind(EMBEDDED).fetch_all(&state.pool).await?;
    let tokens: Vec<BalanceRow> = sqlx::query_as(
        "SELECT t.asset_id::text AS asset_id, b.token, b.balance::text AS balance FROM access_balances b
         JOIN access_tokens t ON t.chain_id = b.chain_id AND t.address = b.token
         WHERE b.chain_id = $1 AND b.holder = $2 AND b.balance > 0 ORDER BY t.asset_id LIMIT $3",
    )
    .bind(chain(&state))
    .bind(&who)
    .bind(EMBEDDED)
    .fetch_all(&state.pool)
    .await?;
    let orders = orders(&state, &who, (NEWEST, "0", &[]), EMBEDDED).await?;
    let delegate: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT delegate FROM delegations WHERE chain_id = $1 AND delegator = $2")
            .bind(chain(&state))
            .bind(&who)
            .fetch_optional(&state.pool)
            .await?;
    let releases: Vec<ReleaseRow> = sqlx::query_as(
        "SELECT asset_id::text AS asset_id, currency, amount::text AS amount, block_number FROM releases
         WHERE chain_id = $1 AND recipient = $2 ORDER BY block_number DESC, log_index DESC LIMIT $3",
    )
    .bind(chain(&state))
    .bind(&who)
    .bind(EMBEDDED)
    .fetch_all(&state.pool)
    .await?;
    let votes: Vec<VoteRow> = sqlx::query_as(
        "SELECT proposal_id::text AS proposal_id, support, weight::text AS weight, block_number FROM votes
         WHERE chain_id = $1 AND voter = $2 ORDER BY block_number DESC, proposal_id DESC LIMIT $3",
    )
    .bind(chain(&state))
    .bind(&who)
    .bind(EMBEDDED)
    .fetch_all(&state.pool)
    .await?;
    let counts: AccountCounts = sqlx::query_as(
        "SELECT (SELECT count(*) FROM assets WHERE chain_id = $1 AND owner = $2) AS assets,
           (SELECT count(*) FROM access_balances b
              JOIN access_tokens t ON t.chain_id = b.chain_id AND t.address = b.token
              WHERE b.chain_id = $1 AND b.holder = $2 AND b.balance > 0) AS access_tokens,
           (SELECT count(*) FROM access_orders WHERE chain_id = $1 AND consumer = $2) AS orders,
           (SELECT count(*) FROM releases WHERE chain_id = $1 AND recipient = $2) AS releases,
           (SELECT count(*) FROM votes WHERE chain_id = $1 AND voter = $2) AS votes",
    )
    .bind(chain(&state))
    .bind(&who)
    .fetch_one(&state.pool)
    .await?;
    Ok(Json(Account {
        address: hex(&who),
        delegate: opt_hex(delegate),
        assets: owned.into_iter().map(Asset::from).collect(),
        assets_count: counts.assets,
        access_tokens: tokens
            .into_iter()
            .map(|r| AccessTokenBalance { asset_id: r.asset_id, token: hex(&r.token), balance: r.balance })
            .collect(),
        access_tokens_count: counts.access_tokens,
        orders,
        orders_count: counts.orders,
        releases: releases
            .into_iter()
            .map(|r| Release {
                asset_id: r.asset_id,
                currency: hex(&r.currency),
                amount: r.amount,
                block_number: r.block_number,
            })
            .collect(),
        releases_count: counts.releases,
        votes: votes
            .into_iter()
            .map(|r| AccountVote {
                proposal_id: r.proposal_id,
                support: r.support,
                weight: r.weight,
                block_number: r.block_number,
            })
            .collect(),
        votes_count: counts.votes,
    }))
}

/// One row of `access_orders`, as [`orders`] selects it.
#[derive(Debug, sqlx::FromRow)]
struct OrderRow {
    asset_id: String,
    token: Vec<u8>,
    order_id: String,
    provider: Vec<u8>,
    expires_at: i64,
    block_number: i64,
    tx_hash: Vec<u8>,
}

impl From<OrderRow> for Order {
    fn from(r: OrderRow) -> Self {
        Order {
            asset_id: r.asset_id,
            token: hex(&r.token),
            order_id: r.order_id,
            provider: hex(&r.provider),
            expires_at: r.expires_at,
            block_number: r.block_number,
            tx_hash: hex(&r.tx_hash),
        }
    }
}

/// An account's access orders older than `before` (block number, order id, token), newest first.
async fn orders(
    state: &AppState,
    consumer: &[u8],
    before: (i64, &str, &[u8]),
    limit: i64,
) -> Result<Vec<Order>, ApiError> {
    let rows: Vec<OrderRow> = sqlx::query_as(
        "SELECT o.asset_id::text AS asset_id, o.token, o.order_id::text AS order_id, o.provider, o.expires_at,
           o.block_number, o.tx_hash
         FROM access_orders o
         WHERE o.chain_id = $1 AND o.consumer = $2 AND (o.block_number, o.order_id, o.token) < ($3, $4::numeric, $5)
         ORDER BY o.block_number DESC, o.order_id DESC, o.token DESC LIMIT $6",
    )
    .bind(chain(state))
    .bind(consumer)
    .bind(before.0)
    .bind(before.1)
    .bind(before.2)
    .bind(limit)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows.into_iter().map(Order::from).collect())
}

#[utoipa::path(
    get,
    path = "/accounts/{address}/orders",
    tag = "accounts",
    summary = "An account's access orders, newest first",
    params(("address" = String, Path, description = "The account: a 0x-prefixed address"), CursorQuery),
    responses(
        (status = 200, description = "A page of orders (empty for an address never seen)",
         body = Page<Order>),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn account_orders(
    State(state): State<AppState>,
    address: Result<Path<String>, PathRejection>,
    params: Result<Query<CursorQuery>, QueryRejection>,
) -> Result<Json<Page<Order>>, ApiError> {
    let Path(address) = address?;
    let who = parse_address("address", &address)?;
    let Query(p) = params?;
    let limit = sub_limit(&p)?;
    // Cursor: "<block number>:<order id>:<token>" of the last order of the previous page.
    let before = match p.cursor.as_deref() {
        None => (NEWEST, "0".to_owned(), Vec::new()),
        Some(c) => {
            let [block, order_id, token] = cursor_keys(c)?;
            (
                cursor_position(c, block)?,
                parse_uint("cursor", order_id).map_err(|_| bad_cursor(c))?,
                parse_address("cursor", token).map_err(|_| bad_cursor(c))?,
            )
        }
    };
    let items = orders(&state, &who, (before.0, &before.1, &before.2), limit).await?;
    Ok(Json(page_of(items, limit, |last| format!("{}:{}:{}", last.block_number, last.order_id, last.token))))
}

/// The most assets `/accounts/{address}/revenue` asks the chain about.
const MAX_REVENUE_ASSETS: usize = 100;

#[utoipa::path(
    get,
    path = "/accounts/{address}/revenue",
    tag = "accounts",
    summary = "What waits for the account in the revenue splitter, read from the chain now \
               (`releasable`): per asset whose split names it now or named it before (100 assets \
               at most, by id), per currency, amounts above 0",
    params(("address" = String, Path, description = "The account: a 0x-prefixed address")),
    responses(
        (status = 200, description = "What the account can release", body = RevenueWaiting),
        (status = 400, description = "The address is not a 0x-prefixed 20-byte hex address",
         body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
        (status = 502, description = "The chain did not answer", body = ErrorBody),
        (status = 503, description = "This API was started without an RPC URL", body = ErrorBody),
    )
)]
pub(super) async fn account_revenue(
    State(state): State<AppState>,
    address: Result<Path<String>, PathRejection>,
) -> Result<Json<RevenueWaiting>, ApiError> {
    let Path(address) = address?;
    let who = parse_address("address", &address)?;
    let reads = state.chain.as_ref().ok_or(ApiError::NoChain)?;
    // Every asset whose split names the account now, whose revenue it released before, or whose
    // split named it before (the address, left-padded to a word, inside a `SplitUpdated`).
    let named: Vec<String> = sqlx::query_scalar(
        "SELECT asset_id::TEXT FROM splits WHERE chain_id = $1 AND $2 = ANY(recipients)
         UNION SELECT asset_id::TEXT FROM releases
           WHERE chain_id = $1 AND recipient = $2 AND asset_id IS NOT NULL",
    )
    .bind(chain(&state))
    .bind(&who)
    .fetch_all(&state.pool)
    .await?;
    let word: Vec<u8> = [&[0u8; 12][..], &who].concat();
    let earlier: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT topics FROM events
         WHERE chain_id = $1 AND name = 'SplitUpdated' AND position($2 IN data) > 0",
    )
    .bind(chain(&state))
    .bind(&word)
    .fetch_all(&state.pool)
    .await?;
    let mut assets: Vec<U256> = named.iter().filter_map(|id| id.parse().ok()).collect();
    // topic 1 is the indexed asset id.
    assets.extend(earlier.iter().filter_map(|topics| Some(U256::from_be_slice(topics.get(32..64)?))));
    assets.sort();
    assets.dedup();
    assets.truncate(MAX_REVENUE_ASSETS);

    let account = Address::from_slice(&who);
    let failed = |err: alloy::contract::Error| ApiError::Chain(err.to_string());
    let block = reads.provider.get_block_number().await.map_err(|err| ApiError::Chain(err.to_string()))?;
    let at = BlockId::number(block);
    let splitter = RevenueSplitter::new(reads.splitter, reads.provider.clone());
    let mut items = Vec::new();
    for asset in assets {
        let currencies = splitter.currenciesOf(asset).block(at).call().await.map_err(failed)?;
        for currency in currencies {
            let amount =
                splitter.releasable(asset, currency, account).block(at).call().await.map_err(failed)?;
            if !amount.is_zero() {
                items.push(Waiting {
                    asset_id: asset.to_string(),
                    currency: hex(currency.as_slice()),
                    amount: amount.to_string(),
                });
            }
        }
    }
    Ok(Json(RevenueWaiting { account: hex(&who), block_number: block, items }))
}
