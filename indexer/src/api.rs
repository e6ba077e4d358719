//! The HTTP API over the indexed tables: `app(state)` builds the router, `serve` runs it on a
//! listener until a shutdown future resolves.

use std::{future::Future, sync::Arc, time::Duration};

use alloy::primitives::{Address, U256};
use axum::{
    Json, Router,
    extract::{
        Path, Query, Request, State,
        rejection::{PathRejection, QueryRejection},
    },
    http::{StatusCode, Uri, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{PgPool, Row, postgres::PgRow};
use tokio::net::TcpListener;
use tower_http::{limit::RequestBodyLimitLayer, timeout::TimeoutLayer};

use crate::sync::Metrics;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub pool: PgPool,
    /// The chain served.
    pub chain_id: u64,
    /// Sync counters, when the syncer runs in this process.
    pub metrics: Option<Arc<Metrics>>,
    /// `/ready` turns false when the head is further ahead than this many blocks.
    pub max_lag: u64,
}

/// The error every handler returns; database details are logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing has this id.
    #[error("{0} not found")]
    NotFound(String),
    /// The database failed.
    #[error("internal error")]
    Database(#[from] sqlx::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Database(err) => {
                tracing::error!(error = %err, "database error in a request");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

/// Longest a request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request body accepted (the API only reads; bodies are never needed).
pub const BODY_LIMIT: usize = 16 * 1024;
/// Default and largest page sizes.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;
/// Most items of each list a detail response embeds; its count says how many there are, and the
/// list's sub-resource pages through all of them.
const EMBEDDED: i64 = 100;

/// The router with every endpoint, a request timeout and a body limit. Every error is a JSON
/// body `{"error": "<message>"}` with a 4xx status (5xx only when the database fails): a path
/// or query holding a NUL character (`%00`) is refused before any handler runs, an unknown
/// route is a 404, and the bodiless errors of the layers (405, 408, 413) get a message.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/assets", get(assets))
        .route("/assets/{id}", get(asset))
        .route("/assets/{id}/sales", get(asset_sales))
        .route("/assets/{id}/holders", get(asset_holders))
        .route("/accounts/{address}", get(account))
        .route("/accounts/{address}/orders", get(account_orders))
        .route("/proposals", get(proposals))
        .route("/proposals/{id}", get(proposal))
        .route("/proposals/{id}/votes", get(proposal_votes))
        .route("/providers", get(providers))
        .route("/jobs", get(jobs))
        .route("/jobs/{id}", get(job))
        .fallback(no_route)
        .layer(middleware::from_fn(refuse_nul))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(middleware::map_response(json_errors))
        .with_state(state)
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("route {:?}", uri.path()))
}

/// Refuses a path or query that decodes to a NUL character: PostgreSQL's text cannot hold
/// one, so no parameter may. Percent-decoding is one pass, so `%00` is the only spelling.
async fn refuse_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if uri.path().contains("%00") || uri.query().is_some_and(|q| q.contains("%00")) {
        return ApiError::BadRequest("the path or query holds a NUL character (%00)".into()).into_response();
    }
    next.run(request).await
}

/// Gives the error responses that carry no JSON (405 from the router, 408 from the timeout,
/// 413 from the body limit) the `{"error": ...}` body every other error has.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let message = status.canonical_reason().unwrap_or("error").to_lowercase();
    let mut out = (status, Json(json!({ "error": message }))).into_response();
    if let Some(allow) = allow {
        out.headers_mut().insert(header::ALLOW, allow);
    }
    out
}

/// Serves `app(state)` on `listener` until `shutdown` resolves, then finishes open requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", alloy::primitives::hex::encode(bytes))
}

fn opt_hex(bytes: Option<Vec<u8>>) -> Value {
    bytes.map_or(Value::Null, |b| Value::String(hex(&b)))
}

fn chain(state: &AppState) -> i64 {
    i64::try_from(state.chain_id).unwrap_or(i64::MAX)
}

fn parse_address(name: &str, value: &str) -> Result<Vec<u8>, ApiError> {
    value.parse::<Address>().map(|a| a.to_vec()).map_err(|_| {
        let shown: String = value.chars().take(100).collect();
        ApiError::BadRequest(format!("{name}: {shown:?} is not a 0x-prefixed 20-byte hex address"))
    })
}

/// A uint256 written in decimal (ids, prices, cursors): no sign, no `0x`, at most 78 digits.
fn parse_uint(name: &str, value: &str) -> Result<String, ApiError> {
    let bad = || {
        let shown: String = value.chars().take(100).collect();
        ApiError::BadRequest(format!("{name}: {shown:?} is not a decimal unsigned 256-bit integer"))
    };
    if value.is_empty() || value.len() > 78 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    value.parse::<U256>().map(|n| n.to_string()).map_err(|_| bad())
}

/// Longest text filter (`q`, `license`) accepted, in bytes.
const MAX_TEXT_PARAM: usize = 1_024;

fn bounded_text<'a>(name: &str, value: Option<&'a str>) -> Result<Option<&'a str>, ApiError> {
    match value {
        Some(text) if text.len() > MAX_TEXT_PARAM => {
            Err(ApiError::BadRequest(format!("{name}: longer than {MAX_TEXT_PARAM} bytes")))
        }
        other => Ok(other),
    }
}

fn parse_limit(limit: Option<&str>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => {
                Err(ApiError::BadRequest(format!("limit: {text:?} must be an integer from 1 to {MAX_LIMIT}")))
            }
        },
    }
}

fn bad_cursor(cursor: &str) -> ApiError {
    let shown: String = cursor.chars().take(100).collect();
    ApiError::BadRequest(format!("cursor: {shown:?} is not a cursor returned by this endpoint"))
}

/// The `N` sort keys of a multi-key cursor: the last item's keys joined by `:`.
fn cursor_keys<const N: usize>(cursor: &str) -> Result<[&str; N], ApiError> {
    let keys: Vec<&str> = cursor.split(':').collect();
    keys.try_into().map_err(|_| bad_cursor(cursor))
}

/// A block number or log index, one key of `cursor`.
fn cursor_position(cursor: &str, key: &str) -> Result<i64, ApiError> {
    key.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| bad_cursor(cursor))
}

const KINDS: &[&str] = &["dataset", "model", "algorithm", "app", "notebook"];

fn kind_name(kind: i16) -> &'static str {
    usize::try_from(kind).ok().and_then(|k| KINDS.get(k)).copied().unwrap_or("unknown")
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

struct Progress {
    indexed: u64,
    head: u64,
}

async fn progress(state: &AppState) -> Result<Option<Progress>, ApiError> {
    let row = sqlx::query("SELECT indexed_block, head_block FROM chain_state WHERE chain_id = $1")
        .bind(chain(state))
        .fetch_optional(&state.pool)
        .await?;
    Ok(row.map(|row| {
        let indexed = u64::try_from(row.get::<i64, _>(0)).unwrap_or_default();
        let stored_head = u64::try_from(row.get::<i64, _>(1)).unwrap_or_default();
        let live_head =
            state.metrics.as_ref().map_or(0, |m| m.head_block.load(std::sync::atomic::Ordering::Relaxed));
        Progress { indexed, head: stored_head.max(live_head).max(indexed) }
    }))
}

async fn ready(State(state): State<AppState>) -> Result<Response, ApiError> {
    let progress = progress(&state).await?;
    let (ready, reason, lag) = match progress {
        None => (false, "indexing has not started", None),
        Some(p) if p.head - p.indexed > state.max_lag => {
            (false, "lagging behind the head", Some(p.head - p.indexed))
        }
        Some(p) => (true, "ok", Some(p.head - p.indexed)),
    };
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((status, Json(json!({ "ready": ready, "reason": reason, "lag": lag, "maxLag": state.max_lag })))
        .into_response())
}

async fn status(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let p = progress(&state).await?;
    let (events_per_second, reorgs) = match &state.metrics {
        Some(m) => {
            let elapsed = m.started.elapsed().as_secs_f64().max(1e-3);
            let events = m.events.load(std::sync::atomic::Ordering::Relaxed) as f64;
            (Some(events / elapsed), Some(m.reorgs.load(std::sync::atomic::Ordering::Relaxed)))
        }
        None => (None, None),
    };
    Ok(Json(json!({
        "chainId": state.chain_id,
        "headBlock": p.as_ref().map(|p| p.head),
        "indexedBlock": p.as_ref().map(|p| p.indexed),
        "lag": p.as_ref().map(|p| p.head - p.indexed),
        "eventsPerSecond": events_per_second,
        "reorgs": reorgs,
    })))
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    use std::fmt::Write as _;
    let p = progress(&state).await?;
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    };
    gauge(
        "agora_indexer_indexed_block",
        "Last block committed.",
        "gauge",
        p.as_ref().map_or(0, |p| p.indexed),
    );
    gauge("agora_indexer_head_block", "Chain head last seen.", "gauge", p.as_ref().map_or(0, |p| p.head));
    gauge(
        "agora_indexer_lag_blocks",
        "Head minus indexed block.",
        "gauge",
        p.as_ref().map_or(0, |p| p.head - p.indexed),
    );
    if let Some(m) = &state.metrics {
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        gauge("agora_indexer_events_total", "Events committed since start.", "counter", load(&m.events));
        gauge("agora_indexer_reorgs_total", "Reorgs handled since start.", "counter", load(&m.reorgs));
        gauge(
            "agora_indexer_rpc_errors_total",
            "RPC failures after retries.",
            "counter",
            load(&m.rpc_errors),
        );
        gauge(
            "agora_indexer_head_resubscribes_total",
            "WebSocket head subscriptions replaced by the watchdog.",
            "counter",
            load(&m.resubscribes),
        );
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

/// Query parameters of `/assets`; all optional, validated by hand for precise messages.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetsParams {
    q: Option<String>,
    kind: Option<String>,
    owner: Option<String>,
    min_price: Option<String>,
    max_price: Option<String>,
    license: Option<String>,
    include_delisted: Option<bool>,
    encrypted: Option<bool>,
    sort: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

const SORTS: &[&str] = &["id_asc", "id_desc", "price_asc", "price_desc"];

/// An asset's columns as [`AssetRow`] names them, with the listing and metadata they join.
const ASSET_SELECT: &str =
    "SELECT a.asset_id::text AS asset_id, a.owner, a.access_token, a.kind, a.compute_only,
       a.access_duration, a.version, a.content_digest, a.metadata_cid, l.currency,
       l.price::text AS price, l.free_per_address, COALESCE(l.delisted, FALSE) AS delisted,
       a.published_block, m.document, m.status AS metadata_status, m.error AS metadata_error,
       m.attempts AS metadata_attempts, m.next_attempt_at IS NOT NULL AS metadata_retrying,
       m.encrypted, m.key_holders
     FROM assets a
     LEFT JOIN listings l ON l.chain_id = a.chain_id AND l.asset_id = a.asset_id
     LEFT JOIN asset_metadata m ON m.cid = a.metadata_cid";

/// One row of [`ASSET_SELECT`].
#[derive(Debug, sqlx::FromRow)]
struct AssetRow {
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
}

/// `fetched`; `failed` once no attempt is left (a permanent failure, or the attempts ran out);
/// `pending` before the first attempt and while a failure waits for its retry.
fn metadata_status(row: &AssetRow) -> &'static str {
    match (row.metadata_status.as_deref(), row.metadata_retrying) {
        (Some("ok"), _) => "fetched",
        (Some(_), Some(false)) => "failed",
        _ => "pending",
    }
}

fn asset_json(row: &AssetRow) -> Value {
    json!({
        "assetId": row.asset_id,
        "owner": hex(&row.owner),
        "accessToken": hex(&row.access_token),
        "kind": kind_name(row.kind),
        "computeOnly": row.compute_only,
        "accessDuration": row.access_duration,
        "version": row.version,
        "contentDigest": hex(&row.content_digest),
        "metadataCid": row.metadata_cid,
        "currency": opt_hex(row.currency.clone()),
        "price": row.price,
        "freePerAddress": row.free_per_address,
        "delisted": row.delisted,
        "publishedBlock": row.published_block,
        "metadata": row.document,
        "metadataStatus": metadata_status(row),
        "metadataError": row.metadata_error,
        "metadataAttempts": row.metadata_attempts.unwrap_or(0),
        // Both null until the document is fetched (and derived: a row stored before they existed
        // is derived again by the metadata loop).
        "encrypted": row.encrypted,
        "keyHolders": row.key_holders,
    })
}

async fn assets(
    State(state): State<AppState>,
    params: Result<Query<AssetsParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = params?;
    let kind = p
        .kind
        .as_deref()
        .map(|k| {
            KINDS.iter().position(|name| *name == k).and_then(|i| i16::try_from(i).ok()).ok_or_else(|| {
                ApiError::BadRequest(format!("kind: {k:?} is not one of {}", KINDS.join(", ")))
            })
        })
        .transpose()?;
    let owner = p.owner.as_deref().map(|o| parse_address("owner", o)).transpose()?;
    let min_price = p.min_price.as_deref().map(|v| parse_uint("min_price", v)).transpose()?;
    let max_price = p.max_price.as_deref().map(|v| parse_uint("max_price", v)).transpose()?;
    let sort = p.sort.as_deref().unwrap_or("id_asc");
    if !SORTS.contains(&sort) {
        return Err(ApiError::BadRequest(format!("sort: {sort:?} is not one of {}", SORTS.join(", "))));
    }
    let limit = parse_limit(p.limit.as_deref())?;
    // Cursor: "<asset id>" for id sorts, "<price>:<asset id>" for price sorts.
    let (cursor_price, cursor_id) = match p.cursor.as_deref() {
        None => (None, None),
        Some(c) => {
            let bad = || bad_cursor(c);
            if sort.starts_with("price") {
                let (price, id) = c.split_once(':').ok_or_else(bad)?;
                (
                    Some(parse_uint("cursor", price).map_err(|_| bad())?),
                    Some(parse_uint("cursor", id).map_err(|_| bad())?),
                )
            } else {
                (None, Some(parse_uint("cursor", c).map_err(|_| bad())?))
            }
        }
    };
    let q = bounded_text("q", p.q.as_deref())?.map(str::trim).filter(|q| !q.is_empty());
    let license = bounded_text("license", p.license.as_deref())?;
    let sql = format!(
        "{ASSET_SELECT}
         WHERE a.chain_id = $1
           AND ($2::smallint IS NULL OR a.kind = $2)
           AND ($3::bytea IS NULL OR a.owner = $3)
           AND ($4::numeric IS NULL OR l.price >= $4::numeric)
           AND ($5::numeric IS NULL OR l.price <= $5::numeric)
           AND ($6 OR NOT COALESCE(l.delisted, FALSE))
           AND ($7::text IS NULL OR m.search @@ websearch_to_tsquery('simple', $7))
           AND ($8::text IS NULL OR m.document->>'license' = $8)
           AND ($13::boolean IS NULL OR m.encrypted = $13)
           AND ($10::numeric IS NULL OR CASE $9
                 WHEN 'id_asc' THEN a.asset_id > $10::numeric
                 WHEN 'id_desc' THEN a.asset_id < $10::numeric
                 WHEN 'price_asc' THEN (COALESCE(l.price, 0), a.asset_id) > ($11::numeric, $10::numeric)
                 ELSE (COALESCE(l.price, 0), a.asset_id) < ($11::numeric, $10::numeric) END)
         ORDER BY
           CASE WHEN $9 = 'price_asc' THEN COALESCE(l.price, 0) END ASC,
           CASE WHEN $9 = 'price_desc' THEN COALESCE(l.price, 0) END DESC,
           CASE WHEN $9 IN ('id_asc', 'price_asc') THEN a.asset_id END ASC,
           CASE WHEN $9 IN ('id_desc', 'price_desc') THEN a.asset_id END DESC
         LIMIT $12"
    );
    let rows: Vec<AssetRow> = sqlx::query_as(&sql)
        .bind(chain(&state))
        .bind(kind)
        .bind(owner)
        .bind(min_price)
        .bind(max_price)
        .bind(p.include_delisted.unwrap_or(false))
        .bind(q)
        .bind(license)
        .bind(sort)
        .bind(cursor_id)
        .bind(cursor_price)
        .bind(limit)
        .bind(p.encrypted)
        .fetch_all(&state.pool)
        .await?;
    let items: Vec<Value> = rows.iter().map(asset_json).collect();
    let next = if rows.len() == usize::try_from(limit).unwrap_or(usize::MAX) {
        items.last().map(|last| {
            let id = last["assetId"].as_str().unwrap_or_default();
            if sort.starts_with("price") {
                format!("{}:{id}", last["price"].as_str().unwrap_or("0"))
            } else {
                id.to_owned()
            }
        })
    } else {
        None
    };
    Ok(Json(json!({ "items": items, "nextCursor": next })))
}

/// A block number above every real one: the keyset bound of a newest-first list's first page,
/// so every page, the first included, is the same index range scan.
const NEWEST: i64 = i64::MAX;
/// A balance above every uint256 (< 1.2e77): the keyset bound of the first page of holders.
const ABOVE_ANY_BALANCE: &str = "1e78";

/// Query parameters of the lists under a detail endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorParams {
    cursor: Option<String>,
    limit: Option<String>,
}

async fn asset(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
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
    let mut out = asset_json(&row);
    let token = row.access_token;
    let versions = sqlx::query(
        "SELECT version, content_digest, metadata_cid, block_number, tx_hash FROM asset_versions
         WHERE chain_id = $1 AND asset_id = $2::numeric ORDER BY version DESC LIMIT $3",
    )
    .bind(chain(&state))
    .bind(&id)
    .bind(EMBEDDED)
    .fetch_all(&state.pool)
    .await?;
    out["history"] = versions
        .iter()
        .map(|r| {
            json!({
                "version": r.get::<i32, _>(0),
                "contentDigest": hex(&r.get::<Vec<u8>, _>(1)),
                "metadataCid": r.get::<String, _>(2),
                "blockNumber": r.get::<i64, _>(3),
                "txHash": hex(&r.get::<Vec<u8>, _>(4)),
            })
        })
        .collect();
    out["sales"] = sales(&state, &id, (NEWEST, 0), EMBEDDED).await?.into();
    out["holders"] = holders(&state, &token, (ABOVE_ANY_BALANCE, &[]), EMBEDDED).await?.into();
    let counts = sqlx::query(
        "SELECT (SELECT count(*) FROM asset_versions WHERE chain_id = $1 AND asset_id = $2::numeric),
           (SELECT count(*) FROM purchases WHERE chain_id = $1 AND asset_id = $2::numeric),
           (SELECT count(*) FROM access_balances WHERE chain_id = $1 AND token = $3 AND balance > 0),
           (SELECT count(*) FROM access_orders WHERE chain_id = $1 AND asset_id = $2::numeric),
           (SELECT count(*) FROM jobs WHERE chain_id = $1 AND dataset_id = $2::numeric)
             + (SELECT count(*) FROM jobs WHERE chain_id = $1 AND algorithm_id = $2::numeric)",
    )
    .bind(chain(&state))
    .bind(&id)
    .bind(&token)
    .fetch_one(&state.pool)
    .await?;
    out["historyCount"] = counts.get::<i64, _>(0).into();
    out["salesCount"] = counts.get::<i64, _>(1).into();
    out["holdersCount"] = counts.get::<i64, _>(2).into();
    // Usage: every access token spent (downloads and the jobs that paid for it), and the jobs
    // that used it as an input, paid or free.
    out["ordersCount"] = counts.get::<i64, _>(3).into();
    out["jobsCount"] = counts.get::<i64, _>(4).into();
    let (upstream, upstream_count) = upstream(&state, &id).await?;
    out["upstream"] = upstream.into();
    out["upstreamCount"] = upstream_count.into();
    let (downstream, downstream_count) = downstream(&state, &id).await?;
    out["downstream"] = downstream.into();
    out["downstreamCount"] = downstream_count.into();
    Ok(Json(out))
}

/// Whether the indexed job `l.job_id` of `l.chain_id` bears out lineage row `l`: it names
/// the parent in that role and posted the output hash the metadata records, and no ruling went
/// against its provider.
const LINK_MATCHES_JOB: &str = "EXISTS (SELECT 1 FROM jobs j
    WHERE j.chain_id = l.chain_id AND j.job_id = l.job_id AND j.output_hash = l.output_hash
      AND j.status <> 'ruled_against_provider'
      AND CASE l.role WHEN 'dataset' THEN j.dataset_id = l.parent_id
                      WHEN 'algorithm' THEN j.algorithm_id = l.parent_id ELSE FALSE END)";

fn link_json(r: &PgRow) -> Value {
    json!({
        "assetId": r.get::<String, _>(0),
        "role": r.get::<Option<String>, _>(1),
        "jobId": r.get::<Option<String>, _>(2),
        "matchesJob": r.get::<bool, _>(3),
    })
}

/// The input assets asset `id`'s current metadata says it was computed from (its
/// `derivedFrom`, on this chain), in document order, at most [`EMBEDDED`], and how many.
async fn upstream(state: &AppState, id: &str) -> Result<(Vec<Value>, i64), ApiError> {
    let from = "FROM assets a JOIN asset_lineage l ON l.cid = a.metadata_cid AND l.chain_id = a.chain_id
         WHERE a.chain_id = $1 AND a.asset_id = $2::numeric AND l.parent_id <> a.asset_id";
    links(state, id, "l.parent_id", from, "l.position").await
}

/// The assets whose current metadata says they were computed from asset `id`, by asset id,
/// at most [`EMBEDDED`], and how many.
async fn downstream(state: &AppState, id: &str) -> Result<(Vec<Value>, i64), ApiError> {
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
) -> Result<(Vec<Value>, i64), ApiError> {
    let rows = sqlx::query(&format!(
        "SELECT {linked}::text, l.role, l.job_id::text, {LINK_MATCHES_JOB} {from} ORDER BY {order} LIMIT $3"
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
    Ok((rows.iter().map(link_json).collect(), count))
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

/// An asset's sales older than `before` (block number, log index), newest first.
async fn sales(
    state: &AppState,
    asset_id: &str,
    before: (i64, i64),
    limit: i64,
) -> Result<Vec<Value>, ApiError> {
    let rows = sqlx::query(
        "SELECT buyer, currency, amount::text, free_amount::text, paid::text, fee::text, block_number, tx_hash,
           log_index
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
    Ok(rows.iter().map(purchase_json).collect())
}

fn purchase_json(r: &PgRow) -> Value {
    json!({
        "buyer": hex(&r.get::<Vec<u8>, _>(0)),
        "currency": hex(&r.get::<Vec<u8>, _>(1)),
        "amount": r.get::<String, _>(2),
        "freeAmount": r.get::<String, _>(3),
        "paid": r.get::<String, _>(4),
        "fee": r.get::<String, _>(5),
        "blockNumber": r.get::<i64, _>(6),
        "txHash": hex(&r.get::<Vec<u8>, _>(7)),
        "logIndex": r.get::<i64, _>(8),
    })
}

/// The holders of `token` below `below` (balance, holder), by balance then address, both descending.
async fn holders(
    state: &AppState,
    token: &[u8],
    below: (&str, &[u8]),
    limit: i64,
) -> Result<Vec<Value>, ApiError> {
    let rows = sqlx::query(
        "SELECT b.holder, b.balance::text FROM access_balances b
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
    Ok(rows
        .iter()
        .map(|r| json!({ "holder": hex(&r.get::<Vec<u8>, _>(0)), "balance": r.get::<String, _>(1) }))
        .collect())
}

async fn asset_sales(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<CursorParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id?;
    let id = parse_uint("asset id", &id)?;
    let Query(p) = params?;
    let limit = parse_limit(p.limit.as_deref())?;
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
    let next = next_cursor(&items, limit, &["blockNumber", "logIndex"]);
    Ok(Json(json!({ "items": items, "nextCursor": next })))
}

async fn asset_holders(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<CursorParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id?;
    let id = parse_uint("asset id", &id)?;
    let Query(p) = params?;
    let limit = parse_limit(p.limit.as_deref())?;
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
    let next = next_cursor(&items, limit, &["balance", "holder"]);
    Ok(Json(json!({ "items": items, "nextCursor": next })))
}

async fn account(
    State(state): State<AppState>,
    address: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(address) = address?;
    let who = parse_address("address", &address)?;
    let sql = format!(
        "{ASSET_SELECT}
         WHERE a.chain_id = $1 AND a.owner = $2 ORDER BY a.asset_id LIMIT $3"
    );
    let owned: Vec<AssetRow> =
        sqlx::query_as(&sql).bind(chain(&state)).bind(&who).bind(EMBEDDED).fetch_all(&state.pool).await?;
    let tokens = sqlx::query(
        "SELECT t.asset_id::text, b.token, b.balance::text FROM access_balances b
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
    let releases = sqlx::query(
        "SELECT asset_id::text, currency, amount::text, block_number FROM releases
         WHERE chain_id = $1 AND recipient = $2 ORDER BY block_number DESC, log_index DESC LIMIT $3",
    )
    .bind(chain(&state))
    .bind(&who)
    .bind(EMBEDDED)
    .fetch_all(&state.pool)
    .await?;
    let counts = sqlx::query(
        "SELECT (SELECT count(*) FROM assets WHERE chain_id = $1 AND owner = $2),
           (SELECT count(*) FROM access_balances b
              JOIN access_tokens t ON t.chain_id = b.chain_id AND t.address = b.token
              WHERE b.chain_id = $1 AND b.holder = $2 AND b.balance > 0),
           (SELECT count(*) FROM access_orders WHERE chain_id = $1 AND consumer = $2),
           (SELECT count(*) FROM releases WHERE chain_id = $1 AND recipient = $2)",
    )
    .bind(chain(&state))
    .bind(&who)
    .fetch_one(&state.pool)
    .await?;
    Ok(Json(json!({
        "address": hex(&who),
        "delegate": opt_hex(delegate),
        "releases": releases.iter().map(|r| json!({
            "assetId": r.get::<Option<String>, _>(0),
            "currency": hex(&r.get::<Vec<u8>, _>(1)),
            "amount": r.get::<String, _>(2),
            "blockNumber": r.get::<i64, _>(3),
        })).collect::<Vec<_>>(),
        "releasesCount": counts.get::<i64, _>(3),
        "assets": owned.iter().map(asset_json).collect::<Vec<_>>(),
        "assetsCount": counts.get::<i64, _>(0),
        "accessTokens": tokens.iter().map(|r| json!({
            "assetId": r.get::<String, _>(0),
            "token": hex(&r.get::<Vec<u8>, _>(1)),
            "balance": r.get::<String, _>(2),
        })).collect::<Vec<_>>(),
        "accessTokensCount": counts.get::<i64, _>(1),
        "orders": orders,
        "ordersCount": counts.get::<i64, _>(2),
    })))
}

/// An account's access orders older than `before` (block number, order id, token), newest first.
async fn orders(
    state: &AppState,
    consumer: &[u8],
    before: (i64, &str, &[u8]),
    limit: i64,
) -> Result<Vec<Value>, ApiError> {
    let rows = sqlx::query(
        "SELECT o.asset_id::text, o.token, o.order_id::text, o.provider, o.expires_at, o.block_number, o.tx_hash
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
    Ok(rows
        .iter()
        .map(|r| {
            json!({
                "assetId": r.get::<String, _>(0),
                "token": hex(&r.get::<Vec<u8>, _>(1)),
                "orderId": r.get::<String, _>(2),
                "provider": hex(&r.get::<Vec<u8>, _>(3)),
                "expiresAt": r.get::<i64, _>(4),
                "blockNumber": r.get::<i64, _>(5),
                "txHash": hex(&r.get::<Vec<u8>, _>(6)),
            })
        })
        .collect())
}

async fn account_orders(
    State(state): State<AppState>,
    address: Result<Path<String>, PathRejection>,
    params: Result<Query<CursorParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(address) = address?;
    let who = parse_address("address", &address)?;
    let Query(p) = params?;
    let limit = parse_limit(p.limit.as_deref())?;
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
    let next = next_cursor(&items, limit, &["blockNumber", "orderId", "token"]);
    Ok(Json(json!({ "items": items, "nextCursor": next })))
}

/// Cursor-paginated list parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageParams {
    cursor: Option<String>,
    limit: Option<String>,
    status: Option<String>,
}

fn page(p: &PageParams) -> Result<(Option<String>, i64), ApiError> {
    let cursor = p.cursor.as_deref().map(|c| parse_uint("cursor", c)).transpose()?;
    Ok((cursor, parse_limit(p.limit.as_deref())?))
}

/// The cursor after a full page: its last item's sort `keys`, joined by `:`; null after a short page.
fn next_cursor(items: &[Value], limit: i64, keys: &[&str]) -> Value {
    if items.len() != usize::try_from(limit).unwrap_or(usize::MAX) {
        return Value::Null;
    }
    items.last().map_or(Value::Null, |last| {
        let keys: Vec<String> = keys
            .iter()
            .map(|key| match &last[*key] {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect();
        Value::String(keys.join(":"))
    })
}

fn proposal_json(r: &PgRow) -> Value {
    json!({
        "proposalId": r.get::<String, _>(0),
        "proposer": hex(&r.get::<Vec<u8>, _>(1)),
        "description": r.get::<String, _>(2),
        "voteStart": r.get::<String, _>(3),
        "voteEnd": r.get::<String, _>(4),
        "status": r.get::<String, _>(5),
        "eta": r.get::<Option<String>, _>(6),
        "votesFor": r.get::<String, _>(7),
        "votesAgainst": r.get::<String, _>(8),
        "votesAbstain": r.get::<String, _>(9),
        "createdBlock": r.get::<i64, _>(10),
    })
}

const PROPOSAL_COLUMNS: &str =
    "proposal_id::text, proposer, description, vote_start::text, vote_end::text, status,
    eta::text, votes_for::text, votes_against::text, votes_abstain::text, created_block";

const PROPOSAL_STATUSES: &[&str] = &["created", "queued", "executed", "canceled"];

async fn proposals(
    State(state): State<AppState>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = params?;
    let (cursor, limit) = page(&p)?;
    if let Some(s) = p.status.as_deref().filter(|s| !PROPOSAL_STATUSES.contains(s)) {
        return Err(ApiError::BadRequest(format!(
            "status: {s:?} is not one of {}",
            PROPOSAL_STATUSES.join(", ")
        )));
    }
    let sql = format!(
        "SELECT {PROPOSAL_COLUMNS} FROM proposals
         WHERE chain_id = $1 AND ($2::numeric IS NULL OR proposal_id > $2::numeric) AND ($3::text IS NULL OR status = $3)
         ORDER BY proposals.proposal_id LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(chain(&state))
        .bind(cursor)
        .bind(p.status.as_deref())
        .bind(limit)
        .fetch_all(&state.pool)
        .await?;
    let items: Vec<Value> = rows.iter().map(proposal_json).collect();
    let next = next_cursor(&items, limit, &["proposalId"]);
    Ok(Json(json!({ "items": items, "nextCursor": next })))
}

async fn proposal(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id?;
    let id = parse_uint("proposal id", &id)?;
    let sql =
        format!("SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE chain_id = $1 AND proposal_id = $2::numeric");
    let row = sqlx::query(&sql)
        .bind(chain(&state))
        .bind(&id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("proposal {id}")))?;
    let mut out = proposal_json(&row);
    out["votes"] = votes(&state, &id, (NEWEST, &[]), EMBEDDED).await?.into();
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM votes WHERE chain_id = $1 AND proposal_id = $2::numeric")
            .bind(chain(&state))
            .bind(&id)
            .fetch_one(&state.pool)
            .await?;
    out["votesCount"] = count.into();
    Ok(Json(out))
}

/// A proposal's votes older than `before` (block number, voter), newest first.
async fn votes(
    state: &AppState,
    proposal_id: &str,
    before: (i64, &[u8]),
    limit: i64,
) -> Result<Vec<Value>, ApiError> {
    let rows = sqlx::query(
        "SELECT voter, support, weight::text, reason, block_number FROM votes
         WHERE chain_id = $1 AND proposal_id = $2::numeric AND (block_number, voter) < ($3, $4)
         ORDER BY block_number DESC, voter DESC LIMIT $5",
    )
    .bind(chain(state))
    .bind(proposal_id)
    .bind(before.0)
    .bind(before.1)
    .bind(limit)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            json!({
                "voter": hex(&r.get::<Vec<u8>, _>(0)),
                "support": r.get::<i16, _>(1),
                "weight": r.get::<String, _>(2),
                "reason": r.get::<String, _>(3),
                "blockNumber": r.get::<i64, _>(4),
            })
        })
        .collect())
}

async fn proposal_votes(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<CursorParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id?;
    let id = parse_uint("proposal id", &id)?;
    let Query(p) = params?;
    let limit = parse_limit(p.limit.as_deref())?;
    // Cursor: "<block number>:<voter>" of the last vote of the previous page.
    let before = match p.cursor.as_deref() {
        None => (NEWEST, Vec::new()),
        Some(c) => {
            let [block, voter] = cursor_keys(c)?;
            (cursor_position(c, block)?, parse_address("cursor", voter).map_err(|_| bad_cursor(c))?)
        }
    };
    let exists: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM proposals WHERE chain_id = $1 AND proposal_id = $2::numeric")
            .bind(chain(&state))
            .bind(&id)
            .fetch_optional(&state.pool)
            .await?;
    if exists.is_none() {
        return Err(ApiError::NotFound(format!("proposal {id}")));
    }
    let items = votes(&state, &id, (before.0, &before.1), limit).await?;
    let next = next_cursor(&items, limit, &["blockNumber", "voter"]);
    Ok(Json(json!({ "items": items, "nextCursor": next })))
}

async fn providers(
    State(state): State<AppState>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = params?;
    let limit = parse_limit(p.limit.as_deref())?;
    if p.status.is_some() {
        return Err(ApiError::BadRequest("status: not a filter of /providers".into()));
    }
    let cursor = p.cursor.as_deref().map(|c| parse_address("cursor", c)).transpose()?;
    let rows = sqlx::query(
        "SELECT provider, endpoint, currency, price::text, stake::text, exit_available_at, active FROM compute_providers
         WHERE chain_id = $1 AND ($2::bytea IS NULL OR provider > $2) ORDER BY provider LIMIT $3",
    )
    .bind(chain(&state))
    .bind(cursor)
    .bind(limit)
    .fetch_all(&state.pool)
    .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "provider": hex(&r.get::<Vec<u8>, _>(0)),
                "endpoint": r.get::<String, _>(1),
                "currency": hex(&r.get::<Vec<u8>, _>(2)),
                "price": r.get::<String, _>(3),
                "stake": r.get::<String, _>(4),
                "exitAvailableAt": r.get::<Option<i64>, _>(5),
                "active": r.get::<bool, _>(6),
            })
        })
        .collect();
    let next = next_cursor(&items, limit, &["provider"]);
    Ok(Json(json!({ "items": items, "nextCursor": next })))
}

const JOB_STATUSES: &[&str] = &[
    "open",
    "result_posted",
    "disputed",
    "finalized",
    "refunded",
    "ruled_against_provider",
    "dispute_rejected",
    "dispute_expired",
    "declined",
];

/// A job's columns as [`JobRow`] names them.
const JOB_SELECT: &str = "SELECT job_id::text AS job_id, consumer, provider, dataset_id::text AS dataset_id,
       algorithm_id::text AS algorithm_id, order_id::text AS order_id,
       algorithm_order_id::text AS algorithm_order_id, currency, payment::text AS payment,
       deadline, spec_cid, status, result_cid, output_hash, challenge_end,
       provider_payout::text AS provider_payout, fee::text AS fee, refunded::text AS refunded, challenger,
       opened_block, updated_block
     FROM jobs";

/// One row of [`JOB_SELECT`].
#[derive(Debug, sqlx::FromRow)]
struct JobRow {
    job_id: String,
    consumer: Vec<u8>,
    provider: Vec<u8>,
    dataset_id: String,
    algorithm_id: String,
    order_id: String,
    /// `None` when the algorithm or model was free (no token spent).
    algorithm_order_id: Option<String>,
    currency: Vec<u8>,
    payment: String,
    deadline: i64,
    spec_cid: String,
    status: String,
    result_cid: Option<String>,
    output_hash: Option<Vec<u8>>,
    challenge_end: Option<i64>,
    provider_payout: Option<String>,
    fee: Option<String>,
    refunded: Option<String>,
    challenger: Option<Vec<u8>>,
    opened_block: i64,
    updated_block: i64,
}

fn job_json(r: JobRow) -> Value {
    json!({
        "jobId": r.job_id,
        "consumer": hex(&r.consumer),
        "provider": hex(&r.provider),
        "datasetId": r.dataset_id,
        "algorithmId": r.algorithm_id,
        "orderId": r.order_id,
        "algorithmOrderId": r.algorithm_order_id,
        "currency": hex(&r.currency),
        "payment": r.payment,
        "deadline": r.deadline,
        "specCid": r.spec_cid,
        "status": r.status,
        "resultCid": r.result_cid,
        "outputHash": opt_hex(r.output_hash),
        "challengeEnd": r.challenge_end,
        "providerPayout": r.provider_payout,
        "fee": r.fee,
        "refunded": r.refunded,
        "challenger": opt_hex(r.challenger),
        "openedBlock": r.opened_block,
        "updatedBlock": r.updated_block,
    })
}

async fn jobs(
    State(state): State<AppState>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = params?;
    let (cursor, limit) = page(&p)?;
    if let Some(s) = p.status.as_deref().filter(|s| !JOB_STATUSES.contains(s)) {
        let shown: String = s.chars().take(100).collect();
        return Err(ApiError::BadRequest(format!(
            "status: {shown:?} is not one of {}",
            JOB_STATUSES.join(", ")
        )));
    }
    let sql = format!(
        "{JOB_SELECT}
         WHERE chain_id = $1 AND ($2::numeric IS NULL OR job_id > $2::numeric)
           AND ($3::text IS NULL OR status = $3)
         ORDER BY jobs.job_id LIMIT $4"
    );
    let rows: Vec<JobRow> = sqlx::query_as(&sql)
        .bind(chain(&state))
        .bind(cursor)
        .bind(p.status.as_deref())
        .bind(limit)
        .fetch_all(&state.pool)
        .await?;
    let items: Vec<Value> = rows.into_iter().map(job_json).collect();
    let next = next_cursor(&items, limit, &["jobId"]);
    Ok(Json(json!({ "items": items, "nextCursor": next })))
}

async fn job(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id?;
    let id = parse_uint("job id", &id)?;
    let sql = format!("{JOB_SELECT} WHERE chain_id = $1 AND job_id = $2::numeric");
    let row: JobRow = sqlx::query_as(&sql)
        .bind(chain(&state))
        .bind(&id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("job {id}")))?;
    Ok(Json(job_json(row)))
}

async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

/// The OpenAPI 3.1 document of this API.
pub fn openapi_document() -> Value {
    let param = |name: &str, description: &str| json!({ "name": name, "in": "query", "required": false, "description": description, "schema": { "type": "string" } });
    let page =
        || vec![param("cursor", "nextCursor of the previous page"), param("limit", "1 to 500, default 50")];
    let path_param =
        |name: &str| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } });
    // Every error is a JSON object with a message.
    let error = |description: &str| {
        json!({ "description": description, "content": { "application/json": { "schema": {
        "type": "object", "required": ["error"], "properties": { "error": { "type": "string" } },
    } } } })
    };
    let ok = |description: &str| json!({ "200": { "description": description }, "400": error("invalid parameter") });
    let mut asset_params = vec![
        param(
            "q",
            "full-text search over the metadata's human fields (name, description, license, kind, tags, ...; never content, CIDs or keys), at most 1024 bytes",
        ),
        param("kind", "dataset, model, algorithm, app or notebook"),
        param("owner", "owner address"),
        param("min_price", "lowest price, base units"),
        param("max_price", "highest price, base units"),
        param("license", "license named in the metadata"),
        param("include_delisted", "true to include delisted assets"),
        param(
            "encrypted",
            "true: only assets whose fetched metadata has content.encryption; false: only those whose fetched metadata has none (assets without fetched metadata match neither)",
        ),
        param("sort", "id_asc, id_desc, price_asc or price_desc"),
    ];
    asset_params.extend(page());
    let mut status_page = page();
    status_page.push(param("status", "filter by status"));
    let sub_page = |name: &str| {
        let mut params = vec![path_param(name)];
        params.extend(page());
        params
    };
    let with_schema = |description: &str, schema: Value| json!({ "200": { "description": description, "content": { "application/json": { "schema": schema } } }, "400": error("invalid parameter") });
    let not_found = |mut responses: Value| {
        responses["404"] = error("no such id");
        responses
    };
    let page_schema = json!({ "type": "object", "properties": {
        "items": { "type": "array" },
        "nextCursor": { "type": ["string", "null"], "description": "cursor of the next page; null after the last" },
    } });
    // A detail object's embedded lists, each bounded and followed by its total count.
    let lists = |lists: &[(&str, &str)]| {
        let mut properties = serde_json::Map::new();
        for (list, what) in lists {
            properties.insert(
                (*list).to_owned(),
                json!({ "type": "array", "maxItems": EMBEDDED, "description": what }),
            );
            properties.insert(
                format!("{list}Count"),
                json!({ "type": "integer", "description": format!("how many {list} there are in all") }),
            );
        }
        json!({ "type": "object", "properties": properties })
    };
    let mut asset = lists(&[
        ("history", "the newest versions, newest first"),
        ("sales", "the newest sales, newest first; all of them: /assets/{id}/sales"),
        ("holders", "the largest holders, by balance; all of them: /assets/{id}/holders"),
        (
            "upstream",
            "the input assets its metadata's derivedFrom names (an asset published from a compute job's output), in its order: {assetId, role (dataset, algorithm or null), jobId, matchesJob (the indexed job names that asset in that role and posted the output hash the metadata records)}",
        ),
        (
            "downstream",
            "the assets whose metadata's derivedFrom names this one, by asset id: {assetId, role, jobId, matchesJob}",
        ),
    ]);
    let asset_fields = asset_properties();
    if let (Some(properties), Value::Object(fields)) = (asset["properties"].as_object_mut(), &asset_fields) {
        properties.extend(fields.clone());
    }
    let mut assets_page = page_schema.clone();
    assets_page["properties"]["items"]["items"] = json!({ "type": "object", "properties": asset_fields });
    let account = lists(&[
        ("assets", "assets owned, by id; all of them: /assets?owner={address}&include_delisted=true"),
        ("accessTokens", "access-token balances, by asset id"),
        ("orders", "the newest access orders, newest first; all of them: /accounts/{address}/orders"),
        ("releases", "the newest revenue releases received, newest first"),
    ]);
    let proposal = lists(&[("votes", "the newest votes, newest first; all of them: /proposals/{id}/votes")]);
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Agora indexer", "version": env!("CARGO_PKG_VERSION") },
        "paths": {
            "/health": { "get": { "summary": "Liveness", "responses": ok("alive") } },
            "/ready": { "get": { "summary": "Readiness: false when indexing lags the head", "responses": { "200": { "description": "ready" }, "503": { "description": "not ready" } } } },
            "/status": { "get": { "summary": "Head, indexed block, lag, events per second", "responses": ok("status") } },
            "/metrics": { "get": { "summary": "Prometheus metrics", "responses": ok("metrics") } },
            "/assets": { "get": { "summary": "Search and list assets", "parameters": asset_params, "responses": with_schema("a page of assets", assets_page) } },
            "/assets/{id}": { "get": { "summary": "One asset with its newest versions and sales, its largest holders and its lineage (upstream and downstream assets), 100 of each at most, and their counts", "parameters": [path_param("id")], "responses": not_found(with_schema("the asset", asset)) } },
            "/assets/{id}/sales": { "get": { "summary": "An asset's sales, newest first", "parameters": sub_page("id"), "responses": not_found(with_schema("a page of sales", page_schema.clone())) } },
            "/assets/{id}/holders": { "get": { "summary": "An asset's holders, by balance (largest first), then address (descending)", "parameters": sub_page("id"), "responses": not_found(with_schema("a page of holders", page_schema.clone())) } },
            "/accounts/{address}": { "get": { "summary": "An account's assets, access tokens, newest orders and revenue releases, 100 of each at most, their counts, and its delegate", "parameters": [path_param("address")], "responses": with_schema("the account", account) } },
            "/accounts/{address}/orders": { "get": { "summary": "An account's access orders, newest first", "parameters": sub_page("address"), "responses": with_schema("a page of orders", page_schema.clone()) } },
            "/proposals": { "get": { "summary": "Governance proposals with tallies", "parameters": status_page.clone(), "responses": ok("a page of proposals") } },
            "/proposals/{id}": { "get": { "summary": "One proposal with its newest votes, 100 at most, and their count", "parameters": [path_param("id")], "responses": not_found(with_schema("the proposal", proposal)) } },
            "/proposals/{id}/votes": { "get": { "summary": "A proposal's votes, newest first", "parameters": sub_page("id"), "responses": not_found(with_schema("a page of votes", page_schema)) } },
            "/providers": { "get": { "summary": "Compute providers", "parameters": page(), "responses": ok("a page of providers") } },
            "/jobs": { "get": { "summary": "Compute jobs", "parameters": status_page, "responses": ok("a page of jobs") } },
            "/jobs/{id}": { "get": { "summary": "One compute job", "parameters": [path_param("id")], "responses": not_found(ok("the job")) } },
        }
    })
}

/// The fields of an asset in `/assets` and `/assets/{id}` that say what its metadata holds.
fn asset_properties() -> Value {
    json!({
        "assetId": { "type": "string", "description": "decimal uint256" },
        "metadataCid": { "type": "string" },
        "metadata": { "type": ["object", "null"], "description": "the metadata document, once fetched" },
        "metadataStatus": {
            "type": "string",
            "enum": ["pending", "fetched", "failed"],
            "description": "pending: not tried yet, or a failure waiting for its retry; fetched: stored and searchable; failed: given up (a document that can never be stored, or every attempt failed)",
        },
        "metadataError": { "type": ["string", "null"], "description": "why the last attempt failed" },
        "metadataAttempts": { "type": "integer", "description": "fetch attempts so far" },
        "encrypted": {
            "type": ["boolean", "null"],
            "description": "whether the fetched metadata has content.encryption (the content on IPFS is ciphertext); null until the metadata is fetched",
        },
        "keyHolders": {
            "type": ["array", "null"],
            "items": { "type": "string", "description": "lowercase 0x-prefixed address" },
            "description": "holders of the wrapped content keys (content.encryption.wrappedKeys[].holder, or .provider in older documents), lowercase, each once; null until the metadata is fetched",
        },
    })
}
