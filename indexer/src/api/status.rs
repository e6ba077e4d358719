//! The service routes: liveness, readiness, sync status (with the contracts indexed), Prometheus
//! metrics, and the OpenAPI document.

use std::sync::{
    LazyLock,
    atomic::{AtomicU64, Ordering},
};

use agora_api::{Contracts, Currencies, CurrencyUnits, ErrorBody, Health, Ready, Status};
use agora_contracts::ContractAddresses;
use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{ApiError, AppState, chain, hex};
use crate::db;

#[utoipa::path(
    get,
    path = "/health",
    tag = "service",
    summary = "Liveness",
    responses((status = 200, description = "The process answers", body = Health))
)]
pub(super) async fn health() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Where indexing stands, from the checkpoint and the syncer's live head.
struct Progress {
    indexed: u64,
    head: u64,
}

#[derive(sqlx::FromRow)]
struct ProgressRow {
    indexed_block: i64,
    head_block: i64,
}

async fn progress(state: &AppState) -> Result<Option<Progress>, ApiError> {
    let row: Option<ProgressRow> =
        sqlx::query_as("SELECT indexed_block, head_block FROM chain_state WHERE chain_id = $1")
            .bind(chain(state))
            .fetch_optional(&state.pool)
            .await?;
    Ok(row.map(|row| {
        let indexed = u64::try_from(row.indexed_block).unwrap_or_default();
        let stored_head = u64::try_from(row.head_block).unwrap_or_default();
        let live_head = state.metrics.as_ref().map_or(0, |m| m.head_block.load(Ordering::Relaxed));
        Progress { indexed, head: stored_head.max(live_head).max(indexed) }
    }))
}

#[utoipa::path(
    get,
    path = "/ready",
    tag = "service",
    summary = "Readiness: false when indexing lags the head",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "Not ready: indexing has not started, or lags the head", body = Ready),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn ready(State(state): State<AppState>) -> Result<(StatusCode, Json<Ready>), ApiError> {
    let progress = progress(&state).await?;
    let (ready, reason, lag) = match progress {
        None => (false, "indexing has not started", None),
        Some(p) if p.head - p.indexed > state.max_lag => {
            (false, "lagging behind the head", Some(p.head - p.indexed))
        }
        Some(p) => (true, "ok", Some(p.head - p.indexed)),
    };
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((status, Json(Ready { ready, reason: reason.into(), lag, max_lag: state.max_lag })))
}

#[utoipa::path(
    get,
    path = "/status",
    tag = "service",
    summary = "Head, indexed block, lag, events per second, and the contracts indexed",
    responses(
        (status = 200, description = "Where syncing stands", body = Status),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn status(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    let p = progress(&state).await?;
    let (events_per_second, reorgs) = match &state.metrics {
        Some(m) => {
            let elapsed = m.started.elapsed().as_secs_f64().max(1e-3);
            let events = m.events.load(Ordering::Relaxed) as f64;
            (Some(events / elapsed), Some(m.reorgs.load(Ordering::Relaxed)))
        }
        None => (None, None),
    };
    let replication = db::replication(&state.pool).await?;
    let indexed_time: Option<i64> =
        sqlx::query_scalar("SELECT timestamp FROM blocks WHERE chain_id = $1 ORDER BY number DESC LIMIT 1")
            .bind(chain(&state))
            .fetch_optional(&state.pool)
            .await?;
    Ok(Json(Status {
        indexed_time,
        read_only: replication.read_only,
        replication_lag_seconds: replication.lag_seconds,
        chain_id: state.chain_id,
        head_block: p.as_ref().map(|p| p.head),
        indexed_block: p.as_ref().map(|p| p.indexed),
        lag: p.as_ref().map(|p| p.head - p.indexed),
        events_per_second,
        reorgs,
        contracts: state.contracts.as_ref().map(contracts),
    }))
}

/// The deployment's addresses as `/status` names them.
fn contracts(c: &ContractAddresses) -> Contracts {
    Contracts {
        agora_token: hex(c.agora_token.as_slice()),
        timelock: hex(c.timelock.as_slice()),
        governor: hex(c.governor.as_slice()),
        asset_registry: hex(c.asset_registry.as_slice()),
        access_token_implementation: hex(c.access_token_implementation.as_slice()),
        marketplace: hex(c.marketplace.as_slice()),
        revenue_splitter: hex(c.revenue_splitter.as_slice()),
        compute_market: hex(c.compute_market.as_slice()),
    }
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "Gauges and counters in the Prometheus text format", body = String,
         content_type = "text/plain"),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
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
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
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

/// The document, serialized once: it only changes with the binary.
static OPENAPI_JSON: LazyLock<String> = LazyLock::new(|| super::openapi_document().to_string());

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    summary = "This API's OpenAPI 3.1 document",
    responses((status = 200, description = "The document", body = Object))
)]
pub(super) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON.as_str()).into_response()
}

/// A token's units as recorded, with its place on the allow-list.
#[derive(Debug, sqlx::FromRow)]
struct UnitsRow {
    token: Vec<u8>,
    symbol: String,
    decimals: i16,
    allowed: bool,
}

#[utoipa::path(
    get,
    path = "/currencies",
    tag = "service",
    summary = "How amounts are written in each currency: ETH, then every ERC-20 the protocol \
               names (allowed, listed or a provider's) with its symbol and decimals",
    responses(
        (status = 200, description = "The currencies", body = Currencies),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn currencies(State(state): State<AppState>) -> Result<Json<Currencies>, ApiError> {
    let rows: Vec<UnitsRow> = sqlx::query_as(
        "SELECT u.token, u.symbol, u.decimals, COALESCE(c.allowed, false) AS allowed
         FROM token_units u LEFT JOIN currencies c ON c.chain_id = u.chain_id AND c.currency = u.token
         WHERE u.chain_id = $1 ORDER BY u.token",
    )
    .bind(chain(&state))
    .fetch_all(&state.pool)
    .await?;
    let eth = CurrencyUnits { currency: hex(&[0u8; 20]), symbol: "ETH".into(), decimals: 18, allowed: true };
    let tokens = rows.into_iter().map(|row| CurrencyUnits {
        currency: hex(&row.token),
        symbol: row.symbol,
        decimals: u8::try_from(row.decimals).unwrap_or(0),
        allowed: row.allowed,
    });
    Ok(Json(Currencies { items: std::iter::once(eth).chain(tokens).collect() }))
}
