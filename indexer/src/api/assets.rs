//! One asset with its history, sales, holders, lineage, revenue split and revenue; an asset's
//! sales and holders page by page; the columns every asset answer is read from (the search
//! routes are in `search`).

use agora_api::{
    Asset, AssetDetail, AssetKind, AssetVersion, CursorQuery, ErrorBody, Holder, LineageLink, MetadataStatus,
    Page, Revenue, Sale, SplitShare,
};
use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
};
use serde_json::Value;

use super::{
    ApiError, AppState, EMBEDDED, NEWEST, bad_cursor, chain, cursor_keys, cursor_position, hex, opt_hex,
    page_of, parse_address, parse_uint, sub_limit,
};

/// A balance above every uint256 (< 1.2e77): the keyset bound of the first page of holders.
const ABOVE_ANY_BALANCE: &str = "1e78";

/// An asset's columns as [`AssetRow`] names them, with the listing, metadata and usage counters
/// they join (`a`, `l`, `m` and `s`).
pub(super) const ASSET_SELECT: &str =
    "SELECT a.asset_id::text AS asset_id, a.owner, a.access_token, a.kind, a.compute_only,
       a.access_duration, a.version, a.content_digest, a.metadata_cid, l.currency,
       l.price::text AS price, l.free_per_address, COALESCE(l.delisted, FALSE) AS delisted,
       a.published_block, m.document, m.status AS metadata_status, m.error AS metadata_error,
       m.attempts AS metadata_attempts, m.next_attempt_at IS NOT NULL AS metadata_retrying,
       m.encrypted, m.key_holders, COALESCE(s.sales, 0) AS sales, COALESCE(s.jobs, 0) AS jobs,
       COALESCE(s.revenue, 0)::text AS revenue
     FROM assets a
     LEFT JOIN listings l ON l.chain_id = a.chain_id AND l.asset_id = a.asset_id
     LEFT JOIN asset_metadata m ON m.cid = a.metadata_cid
     LEFT JOIN asset_stats s ON s.chain_id = a.chain_id AND s.asset_id = a.asset_id";

/// One row of [`ASSET_SELECT`].
#[derive(Debug, sqlx::FromRow)]
pub(super) struct AssetRow {
    asset_id: String,
    owner: Vec<u8>,
    access_token: Vec<u8>,
    kind: i16,
    compute_only: bool,
    access_duration: i64,
    version: i32,
    content_digest: Vec<u8>,
    metadata_cid: String,
    currency: Option<Vec<u8>>,
    price: Option<String>,
    free_per_address: Option<i32>,
    delisted: bool,
    published_block: i64,
    document: Option<Value>,
    /// `ok` or `failed`; none before the first attempt.
    metadata_status: Option<String>,
    metadata_error: Option<String>,
    metadata_attempts: Option<i32>,
    /// A failure that will be tried again.
    metadata_retrying: Option<bool>,
    /// Set with the document, null before.
    encrypted: Option<bool>,
    /// Set with the document, null before.
    key_holders: Option<Vec<String>>,
    /// Its usage counters (`asset_stats`), 0 without a row.
    sales: i64,
    jobs: i64,
    revenue: String,
}

/// The kind of the contract's kind `code` (its index in [`AssetKind::ALL`]).
pub(super) fn kind_of(code: i16) -> AssetKind {
    usize::try_from(code).ok().and_then(|k| AssetKind::ALL.get(k)).copied().unwrap_or(AssetKind::Unknown)
}

impl From<AssetRow> for Asset {
    fn from(row: AssetRow) -> Self {
        // `fetched`; `failed` once no attempt is left (a permanent failure, or the attempts ran
        // out); `pending` before the first attempt and while a failure waits for its retry.
        let metadata_status = match (row.metadata_status.as_deref(), row.metadata_retrying) {
            (Some("ok"), _) => MetadataStatus::Fetched,
            (Some(_), Some(false)) => MetadataStatus::Failed,
            _ => MetadataStatus::Pending,
        };
        Asset {
            asset_id: row.asset_id,
            owner: hex(&row.owner),
            access_token: hex(&row.access_token),
            kind: kind_of(row.kind),
            compute_only: row.compute_only,
            access_duration: row.access_duration,
            version: row.version,
            content_digest: hex(&row.content_digest),
            metadata_cid: row.metadata_cid,
            currency: opt_hex(row.currency),
            price: row.price,
            free_per_address: row.free_per_address,
            delisted: row.delisted,
            published_block: row.published_block,
            metadata: row.document,
            metadata_status,
            metadata_error: row.metadata_error,
            metadata_attempts: row.metadata_attempts.unwrap_or(0),
            // Both null until the document is fetched (and derived: a row stored before they
            // existed is derived again by the metadata loop).
            encrypted: row.encrypted,
            key_holders: row.key_holders,
            sales: row.sales,
            jobs: row.jobs,
            revenue: row.revenue,
        }
    }
}

/// One row of an asset's history, with that version's metadata document when fetched.
#[derive(Debug, sqlx::FromRow)]
struct VersionRow {
    version: i32,
    content_digest: Vec<u8>,
    metadata_cid: String,
    block_number: i64,
    tx_hash: Vec<u8>,
    block_timestamp: Option<i64>,
    document: Option<Value>,
}

impl From<VersionRow> for AssetVersion {
    fn from(r: VersionRow) -> Self {
        AssetVersion {
            version: r.version,
            content_digest: hex(&r.content_digest),
            metadata_cid: r.metadata_cid,
            block_number: r.block_number,
            tx_hash: hex(&r.tx_hash),
            timestamp: r.block_timestamp,
            metadata: r.document,
        }
    }
}

/// The sizes of an asset's lists.
#[derive(Debug, sqlx::FromRow)]
struct AssetCounts {
    history: i64,
    sales: i64,
    holders: i64,
    orders: i64,
    jobs: i64,
    buyers: i64,
}

/// An asset's revenue split, as `splits` holds it.
#[derive(Debug, sqlx::FromRow)]
struct SplitRow {
    recipients: Vec<Vec<u8>>,
    bps: Vec<i32>,
}

/// What an asset's sales paid in one currency.
#[derive(Debug, sqlx::FromRow)]
struct RevenueRow {
    currency: Vec<u8>,
    amount: String,
}

#[utoipa::path(
    get,
    path = "/assets/{id}",
    tag = "assets",
    summary = "One asset with its newest versions and sales, its largest holders and its lineage \
               (upstream and downstream assets), 100 of each at most, and their counts; its revenue \
               split, buyers and revenue per currency",
    params(("id" = String, Path, description = "The asset id: a decimal uint256")),
    responses(
        (status = 200, description = "The asset", body = AssetDetail),
        (status = 400, description = "The id is not a decimal uint256", body = ErrorBody),
        (status = 404, description = "No asset has this id", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn asset(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<AssetDetail>, ApiError> {
    let Path(id) = id?;
    let id = parse_uint("asset id", &id)?;
    let sql = format!(
        "{ASSET_SELECT}
         WHERE a.chain_id = $1 AND a.asset_id = $2::numeric"
    );
    let row: AssetRow = sqlx::query_as(&sql)
        .bind(chain(&state))
        .bind(&id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("asset {id}")))?;
    let token = row.access_token.clone();
    let versions: Vec<VersionRow> = sqlx::query_as(
        "SELECT v.version, v.content_digest, v.metadata_cid, v.block_number, v.tx_hash, v.block_timestamp,
           m.document
         FROM asset_versions v LEFT JOIN asset_metadata m ON m.cid = v.metadata_cid
         WHERE v.chain_id = $1 AND v.asset_id = $2::numeric ORDER BY v.version DESC LIMIT $3",
    )
    .bind(chain(&state))
    .bind(&id)
    .bind(EMBEDDED)
    .fetch_all(&state.pool)
    .await?;
    let sales = sales(&state, &id, (NEWEST, 0), EMBEDDED).await?;
    let holders = holders(&state, &token, (ABOVE_ANY_BALANCE, &[]), EMBEDDED).await?;
    // Usage: every access token spent (downloads and the jobs that paid for it), and the jobs
    // that used it as an input, paid or free.
    let counts: AssetCounts = sqlx::query_as(
        "SELECT (SELECT count(*) FROM asset_versions WHERE chain_id = $1 AND asset_id = $2::numeric) AS history,
           (SELECT count(*) FROM purchases WHERE chain_id = $1 AND asset_id = $2::numeric) AS sales,
           (SELECT count(*) FROM access_balances WHERE chain_id = $1 AND token = $3 AND balance > 0) AS holders,
           (SELECT count(*) FROM access_orders WHERE chain_id = $1 AND asset_id = $2::numeric) AS orders,
           (SELECT count(*) FROM jobs WHERE chain_id = $1 AND dataset_id = $2::numeric)
             + (SELECT count(*) FROM jobs WHERE chain_id = $1 AND algorithm_id = $2::numeric) AS jobs,
           (SELECT count(DISTINCT buyer) FROM purchases WHERE chain_id = $1 AND asset_id = $2::numeric) AS buyers",
    )
    .bind(chain(&state))
    .bind(&id)
    .bind(&token)
    .fetch_one(&state.pool)
    .await?;
    let (upstream, upstream_count) = upstream(&state, &id).await?;
    let (downstream, downstream_count) = downstream(&state, &id).await?;
    let split = split(&state, &id).await?;
    let revenue: Vec<RevenueRow> = sqlx::query_as(
        "SELECT currency, sum(paid)::text AS amount FROM purchases
         WHERE chain_id = $1 AND asset_id = $2::numeric GROUP BY currency ORDER BY currency",
    )
    .bind(chain(&state))
    .bind(&id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(AssetDetail {
        asset: Asset::from(row),
        history: versions.into_iter().map(AssetVersion::from).collect(),
        history_count: counts.history,
        sales,
        sales_count: counts.sales,
        holders,
        holders_count: counts.holders,
        orders_count: counts.orders,
        jobs_count: counts.jobs,
        upstream,
        upstream_count,
        downstream,
        downstream_count,
        split,
        buyers_count: counts.buyers,
        revenue: revenue
            .into_iter()
            .map(|r| Revenue { currency: hex(&r.currency), amount: r.amount })
            .collect(),
    }))
}

/// Asset `id`'s current revenue split: empty when it never had one, or its last one was empty.
async fn split(state: &AppState, id: &str) -> Result<Vec<SplitShare>, ApiError> {
    let row: Option<SplitRow> =
        sqlx::query_as("SELECT recipients, bps FROM splits WHERE chain_id = $1 AND asset_id = $2::numeric")
            .bind(chain(state))
            .bind(id)
            .fetch_optional(&state.pool)
            .await?;
    let Some(row) = row else { return Ok(Vec::new()) };
    if row.recipients.len() != row.bps.len() {
        return Err(ApiError::Corrupt(format!(
            "split of asset {id}: recipients and shares differ in length"
        )));
    }
    row.recipients
        .iter()
        .zip(row.bps)
        .map(|(recipient, bps)| {
            let bps = u32::try_from(bps).map_err(|_| ApiError::Corrupt(format!("split share {bps}")))?;
            Ok(SplitShare { recipient: hex(recipient), bps })
        })
        .collect()
}

/// Whether the indexed job `l.job_id` of `l.chain_id` bears out lineage row `l`: it names
/// the parent in that role and posted the output hash the metadata records, and no ruling went
/// against its provider.
const LINK_MATCHES_JOB: &str = "EXISTS (SELECT 1 FROM jobs j
    WHERE j.chain_id = l.chain_id AND j.job_id = l.job_id AND j.output_hash = l.output_hash
      AND j.status <> 'ruled_against_provider'
      AND CASE l.role WHEN 'dataset' THEN j.dataset_id = l.parent_id
                      WHEN 'algorithm' THEN j.algorithm_id = l.parent_id ELSE FALSE END)";

/// One lineage link as [`links`] selects it.
#[derive(Debug, sqlx::FromRow)]
struct LinkRow {
    asset_id: String,
    role: Option<String>,
    job_id: Option<String>,
    matches_job: bool,
}

impl From<LinkRow> for LineageLink {
    fn from(r: LinkRow) -> Self {
        LineageLink { asset_id: r.asset_id, role: r.role, job_id: r.job_id, matches_job: r.matches_job }
    }
}

/// The input assets asset `id`'s current metadata says it was computed from (its
/// `derivedFrom`, on this chain), in document order, at most [`EMBEDDED`], and how many.
async fn upstream(state: &AppState, id: &str) -> Result<(Vec<LineageLink>, i64), ApiError> {
    let from = "FROM assets a JOIN asset_lineage l ON l.cid = a.metadata_cid AND l.chain_id = a.chain_id
         WHERE a.chain_id = $1 AND a.asset_id = $2::numeric AND l.parent_id <> a.asset_id";
    links(state, id, "l.parent_id", from, "l.position").await
}

/// The assets whose current metadata says they were computed from asset `id`, by asset id,
/// at most [`EMBEDDED`], and how many.
async fn downstream(state: &AppState, id: &str) -> Result<(Vec<LineageLink>, i64), ApiError> {
    let from = "FROM asset_lineage l JOIN assets a ON a.chain_id = l.chain_id AND a.metadata_cid = l.cid
         WHERE l.chain_id = $1 AND l.parent_id = $2::numeric AND a.asset_id <> l.parent_id";
    links(state, id, "a.asset_id", from, "a.asset_id, l.position").await
}

/// The lineage links `from` asset `id` (bound as `$2`), naming the asset `linked`, ordered by
/// `order`: at most [`EMBEDDED`], and how many there are.
async fn links(
    state: &AppState,
    id: &str,
    linked: &str,
    from: &str,
    order: &str,
) -> Result<(Vec<LineageLink>, i64), ApiError> {
    let rows: Vec<LinkRow> = sqlx::query_as(&format!(
        "SELECT {linked}::text AS asset_id, l.role, l.job_id::text AS job_id, {LINK_MATCHES_JOB} AS matches_job
         {from} ORDER BY {order} LIMIT $3"
    ))
    .bind(chain(state))
    .bind(id)
    .bind(EMBEDDED)
    .fetch_all(&state.pool)
    .await?;
    let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) {from}"))
        .bind(chain(state))
        .bind(id)
        .fetch_one(&state.pool)
        .await?;
    Ok((rows.into_iter().map(LineageLink::from).collect(), count))
}

/// The access token of asset `id`; `NotFound` when there is no such asset.
async fn asset_token(state: &AppState, id: &str) -> Result<Vec<u8>, ApiError> {
    sqlx::query_scalar("SELECT access_token FROM assets WHERE chain_id = $1 AND asset_id = $2::numeric")
        .bind(chain(state))
        .bind(id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("asset {id}")))
}

/// One row of `purchases`, as [`sales`] selects it.
#[derive(Debug, sqlx::FromRow)]
struct SaleRow {
    buyer: Vec<u8>,
    currency: Vec<u8>,
    amount: String,
    free_amount: String,
    paid: String,
    fee: String,
    block_number: i64,
    tx_hash: Vec<u8>,
    log_index: i64,
}

impl From<SaleRow> for Sale {
    fn from(r: SaleRow) -> Self {
        Sale {
            buyer: hex(&r.buyer),
            currency: hex(&r.currency),
            amount: r.amount,
            free_amount: r.free_amount,
            paid: r.paid,
            fee: r.fee,
            block_number: r.block_number,
            tx_hash: hex(&r.tx_hash),
            log_index: r.log_index,
        }
    }
}

/// An asset's sales older than `before` (block number, log index), newest first.
async fn sales(
    state: &AppState,
    asset_id: &str,
    before: (i64, i64),
    limit: i64,
) -> Result<Vec<Sale>, ApiError> {
    let rows: Vec<SaleRow> = sqlx::query_as(
        "SELECT buyer, currency, amount::text AS amount, free_amount::text AS free_amount, paid::text AS paid,
           fee::text AS fee, block_number, tx_hash, log_index
         FROM purchases WHERE chain_id = $1 AND asset_id = $2::numeric AND (block_number, log_index) < ($3, $4)
         ORDER BY block_number DESC, log_index DESC LIMIT $5",
    )
    .bind(chain(state))
    .bind(asset_id)
    .bind(before.0)
    .bind(before.1)
    .bind(limit)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows.into_iter().map(Sale::from).collect())
}

/// One positive balance of an access token.
#[derive(Debug, sqlx::FromRow)]
struct HolderRow {
    holder: Vec<u8>,
    balance: String,
}

/// The holders of `token` below `below` (balance, holder), by balance then address, both descending.
async fn holders(
    state: &AppState,
    token: &[u8],
    below: (&str, &[u8]),
    limit: i64,
) -> Result<Vec<Holder>, ApiError> {
    let rows: Vec<HolderRow> = sqlx::query_as(
        "SELECT b.holder, b.balance::text AS balance FROM access_balances b
         WHERE b.chain_id = $1 AND b.token = $2 AND b.balance > 0 AND (b.balance, b.holder) < ($3::numeric, $4)
         ORDER BY b.balance DESC, b.holder DESC LIMIT $5",
    )
    .bind(chain(state))
    .bind(token)
    .bind(below.0)
    .bind(below.1)
    .bind(limit)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows.into_iter().map(|r| Holder { holder: hex(&r.holder), balance: r.balance }).collect())
}

#[utoipa::path(
    get,
    path = "/assets/{id}/sales",
    tag = "assets",
    summary = "An asset's sales, newest first",
    params(("id" = String, Path, description = "The asset id: a decimal uint256"), CursorQuery),
    responses(
        (status = 200, description = "A page of sales", body = Page<Sale>),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 404, description = "No asset has this id", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn asset_sales(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<CursorQuery>, QueryRejection>,
) -> Result<Json<Page<Sale>>, ApiError> {
    let Path(id) = id?;
    let id = parse_uint("asset id", &id)?;
    let Query(p) = params?;
    let limit = sub_limit(&p)?;
    // Cursor: "<block number>:<log index>" of the last sale of the previous page.
    let before = match p.cursor.as_deref() {
        None => (NEWEST, 0),
        Some(c) => {
            let [block, log_index] = cursor_keys(c)?;
            (cursor_position(c, block)?, cursor_position(c, log_index)?)
        }
    };
    asset_token(&state, &id).await?;
    let items = sales(&state, &id, before, limit).await?;
    Ok(Json(page_of(items, limit, |last| format!("{}:{}", last.block_number, last.log_index))))
}

#[utoipa::path(
    get,
    path = "/assets/{id}/holders",
    tag = "assets",
    summary = "An asset's holders, by balance (largest first), then address (descending)",
    params(("id" = String, Path, description = "The asset id: a decimal uint256"), CursorQuery),
    responses(
        (status = 200, description = "A page of holders", body = Page<Holder>),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 404, description = "No asset has this id", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn asset_holders(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<CursorQuery>, QueryRejection>,
) -> Result<Json<Page<Holder>>, ApiError> {
    let Path(id) = id?;
    let id = parse_uint("asset id", &id)?;
    let Query(p) = params?;
    let limit = sub_limit(&p)?;
    // Cursor: "<balance>:<holder>" of the last holder of the previous page.
    let below = match p.cursor.as_deref() {
        None => (ABOVE_ANY_BALANCE.to_owned(), Vec::new()),
        Some(c) => {
            let [balance, holder] = cursor_keys(c)?;
            (
                parse_uint("cursor", balance).map_err(|_| bad_cursor(c))?,
                parse_address("cursor", holder).map_err(|_| bad_cursor(c))?,
            )
        }
    };
    let token = asset_token(&state, &id).await?;
    let items = holders(&state, &token, (&below.0, &below.1), limit).await?;
    Ok(Json(page_of(items, limit, |last| format!("{}:{}", last.balance, last.holder))))
}
