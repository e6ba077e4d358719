//! The HTTP API over the indexed tables: `app(state)` builds the router, `serve` runs it on a
//! listener until a shutdown future resolves.
//!
//! Every answer is a type of `agora-api`, built from rows read by column name
//! (`sqlx::query_as` into the `FromRow` structs of each route group). Routes are registered
//! only through utoipa-axum's [`OpenApiRouter`] from handlers carrying `#[utoipa::path]`, so the
//! router and the OpenAPI document ([`openapi_document`]) are made from the same list: a route
//! cannot be served without being documented.
//!
//! - `status`: health, readiness, sync status, metrics and the OpenAPI document.
//! - `search`: the catalogue, its filters and sorts, and the facets of a search.
//! - `assets`: one asset with its history, sales, holders, lineage, split and revenue.
//! - `accounts`: an account, and its access orders.
//! - `governance`: the DAO's settings and treasury, proposals with their actions, and votes.
//! - `compute`: providers with their job counts, and jobs.

mod accounts;
mod assets;
mod compute;
mod governance;
mod rewards;
mod search;
mod status;

use std::{future::Future, sync::Arc, time::Duration};

use agora_api::{CursorQuery, ErrorBody, ListQuery, Page};
use agora_contracts::ContractAddresses;
use alloy::primitives::{Address, U256};
use axum::{
    Json, Router,
    extract::{
        Request,
        rejection::{PathRejection, QueryRejection},
    },
    http::{StatusCode, Uri, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::{limit::RequestBodyLimitLayer, timeout::TimeoutLayer};
use utoipa::OpenApi as _;
use utoipa_axum::{router::OpenApiRouter, routes};

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
    /// The contracts of the deployment indexed, which `/status` names; none when the state was
    /// made without a manifest.
    pub contracts: Option<ContractAddresses>,
    /// The chain, for what is read from it when asked (`/accounts/{address}/revenue`); none for
    /// an API started without an RPC URL, which then answers those routes 503.
    pub chain: Option<ChainReads>,
}

/// An RPC provider and the revenue splitter it is asked about.
#[derive(Clone)]
pub struct ChainReads {
    /// The RPC provider.
    pub provider: alloy::providers::DynProvider,
    /// The `RevenueSplitter`'s address.
    pub splitter: Address,
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
    /// A row holds a value no answer can carry (a status this version does not know).
    #[error("internal error")]
    Corrupt(String),
    /// The route reads the chain, and this API was started without an RPC URL.
    #[error("this API reads no chain: start it with an RPC URL to answer this")]
    NoChain,
    /// The chain did not answer a read.
    #[error("the chain did not answer: {0}")]
    Chain(String),
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
            Self::Corrupt(what) => {
                tracing::error!(what, "unexpected value in the database");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::NoChain => StatusCode::SERVICE_UNAVAILABLE,
            Self::Chain(_) => StatusCode::BAD_GATEWAY,
        };
        (status, Json(ErrorBody { error: self.to_string() })).into_response()
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
/// A block number above every real one: the keyset bound of a newest-first list's first page,
/// so every page, the first included, is the same index range scan.
const NEWEST: i64 = i64::MAX;

/// The document's title, summary and version; the paths and schemas come from the routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Agora indexer",
        description = "Every Agora contract event mirrored into PostgreSQL, served as JSON. Lists are \
                       cursor-paginated (`nextCursor`); uint256 values are decimal strings, addresses \
                       and hashes lowercase 0x-prefixed hex, times unix seconds. Every error is a JSON \
                       `{\"error\": \"<message>\"}`."
    ),
    tags(
        (name = "service", description = "Liveness, readiness, sync status, metrics"),
        (name = "assets", description = "The catalogue"),
        (name = "accounts", description = "What an address owns, holds and ordered"),
        (name = "governance", description = "DAO proposals and votes"),
        (name = "compute", description = "Compute providers and jobs"),
    )
)]
struct ApiDoc;

/// Every route, each registered with its OpenAPI operation (the only way routes are added).
fn routes() -> OpenApiRouter<AppState> {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    OpenApiRouter::with_openapi(doc)
        .routes(routes!(status::health))
        .routes(routes!(status::ready))
        .routes(routes!(status::status))
        .routes(routes!(status::metrics))
        .routes(routes!(status::openapi))
        .routes(routes!(status::currencies))
        .routes(routes!(search::assets))
        .routes(routes!(search::asset_facets))
        .routes(routes!(assets::asset))
        .routes(routes!(assets::asset_sales))
        .routes(routes!(assets::asset_holders))
        .routes(routes!(accounts::account))
        .routes(routes!(accounts::account_orders))
        .routes(routes!(accounts::account_revenue))
        .routes(routes!(governance::governance))
        .routes(routes!(governance::proposals))
        .routes(routes!(governance::proposal))
        .routes(routes!(governance::proposal_votes))
        .routes(routes!(rewards::usage))
        .routes(routes!(compute::providers))
        .routes(routes!(compute::provider))
        .routes(routes!(compute::jobs))
        .routes(routes!(compute::job))
}

/// The OpenAPI 3.1 document of this API, derived from the routes and `agora-api`'s types.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = routes().into_openapi();
    refer_page_items(&mut doc);
    doc
}

/// utoipa writes the item type of a generic `Page<T>` (component `Page_T`) out in full inside
/// it: make the items a reference to `T`'s own component instead, so that a client generator
/// sees one `Asset`, not an `Asset` and an anonymous copy per page.
fn refer_page_items(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{
        Ref, RefOr,
        schema::{ArrayItems, Schema},
    };
    let Some(components) = doc.components.as_mut() else { return };
    let names: Vec<String> = components.schemas.keys().cloned().collect();
    for (name, schema) in components.schemas.iter_mut() {
        let Some(item) = name.strip_prefix("Page_").filter(|item| names.iter().any(|n| n == item)) else {
            continue;
        };
        if let RefOr::T(Schema::Object(page)) = schema
            && let Some(RefOr::T(Schema::Array(items))) = page.properties.get_mut("items")
        {
            items.items = ArrayItems::RefOrSchema(Box::new(RefOr::Ref(Ref::from_schema_name(item))));
        }
    }
}

/// [`openapi`] as JSON.
pub fn openapi_document() -> Value {
    // A document of strings, maps and numbers always serializes.
    serde_json::to_value(openapi()).unwrap_or_default()
}

/// The router with every endpoint, a request timeout and a body limit. Every error is a JSON
/// body `{"error": "<message>"}` with a 4xx status (5xx only when the database fails): a path
/// or query holding a NUL character (`%00`) is refused before any handler runs, an unknown
/// route is a 404, and the bodiless errors of the layers (405, 408, 413) get a message.
pub fn app(state: AppState) -> Router {
    let (router, _) = routes().split_for_parts();
    router
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
    let mut out = (status, Json(ErrorBody { error: message })).into_response();
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

/// SQL for the unix time of the block numbered `table.column` on the row's chain, from the
/// events stored for that block (every derived row's block has the event that made it): NULL
/// when none carries a time.
fn block_time(table: &str, column: &str) -> String {
    format!(
        "(SELECT e.block_timestamp FROM events e WHERE e.chain_id = {table}.chain_id
           AND e.block_number = {table}.{column} AND e.block_timestamp IS NOT NULL LIMIT 1)"
    )
}

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", alloy::primitives::hex::encode(bytes))
}

fn opt_hex(bytes: Option<Vec<u8>>) -> Option<String> {
    bytes.map(|b| hex(&b))
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

/// The cursor (a decimal id) and page size of a top-level list.
fn list_page(p: &ListQuery) -> Result<(Option<String>, i64), ApiError> {
    let cursor = p.cursor.as_deref().map(|c| parse_uint("cursor", c)).transpose()?;
    Ok((cursor, parse_limit(p.limit.as_deref())?))
}

/// The page size of a list under a detail route.
fn sub_limit(p: &CursorQuery) -> Result<i64, ApiError> {
    parse_limit(p.limit.as_deref())
}

/// A page of `items` read with `limit`: a full page gets the cursor `keys` makes from its last
/// item (its sort keys joined by `:`), a short one none.
fn page_of<T>(items: Vec<T>, limit: i64, keys: impl FnOnce(&T) -> String) -> Page<T> {
    Page::of(items, usize::try_from(limit).unwrap_or(usize::MAX), keys)
}

/// `status` is not one of `all` (the message names at most 100 of its characters when `shorten`).
fn not_one_of<T: Copy>(status: &str, all: &[T], name: impl Fn(T) -> &'static str, shorten: bool) -> ApiError {
    let shown: String = if shorten { status.chars().take(100).collect() } else { status.to_owned() };
    let names: Vec<&str> = all.iter().map(|s| name(*s)).collect();
    ApiError::BadRequest(format!("status: {shown:?} is not one of {}", names.join(", ")))
}
