//! The web hub: Agora's catalogue, asset pages, accounts, DAO, providers and jobs as
//! server-rendered HTML. Every page is built from the indexer's HTTP API through
//! [`agora_api::Client`] (the hub reads no database and keeps no state of its own) and works
//! with JavaScript off; a small script adds copy buttons, click-to-show card images, the live
//! job page (server-sent events from [`compute`]'s stream, which follows the indexer) and the
//! in-page receipt check. The wallet script connects a browser wallet (EIP-6963, EIP-1193) and
//! signs what the pages offer (buy and download verified in the browser, give tokens, release
//! revenue, delegate, propose, vote, queue, execute, run and challenge jobs, publish and edit
//! metadata) with the ABIs compiled with the bindings; `/api/` gives it the deployment, the
//! protocol's revert sentences, and what publishing needs from the hub ([`publish`]: uploads to
//! its Kubo node, the metadata document in the CLI's format, the providers' keys).
//!
//! [`app`] builds the router, [`serve`] runs it; `agora hub` and `agora dev` call them.

mod account;
mod api;
mod asset;
mod assets;
mod catalogue;
mod compute;
mod dao;
mod format;
mod layout;
pub mod markdown;
mod meta;
mod publish;

use std::{future::Future, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use tokio::net::TcpListener;
use tower_http::{
    compression::CompressionLayer, limit::RequestBodyLimitLayer, set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
};
use url::Url;

use agora_provider::metadata::MAX_METADATA_BYTES;

use crate::layout::PageError;

/// Where the hub finds the services it shows.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// The indexer's HTTP API.
    pub indexer: Url,
    /// A provider to ask for job receipts when a job's provider is not registered (optional).
    pub provider: Option<Url>,
    /// Kubo's RPC API, for the small documents a page's transaction names (a dispute's reason);
    /// optional: without it those actions say the hub cannot.
    pub ipfs_api: Option<Url>,
    /// Largest upload the publish page may send, in bytes; 0 (the default) takes none. Uploads
    /// also need `ipfs_api`: the hub pins what it is sent on that node.
    pub max_upload: u64,
    /// How long one indexer request may take.
    pub indexer_timeout: Duration,
    /// Assets per catalogue page (1 to 100).
    pub page_size: u32,
    /// The pinning services a new asset's metadata and content must be kept by before the page
    /// has the wallet mint it (the network's `[pinning]` table), as `agora asset publish` does.
    pub replication: Option<agora_client::pins::Replication>,
}

impl HubConfig {
    /// The indexer at `indexer`, no fallback provider, a 5 s indexer timeout.
    pub fn new(indexer: Url) -> Self {
        Self {
            indexer,
            provider: None,
            ipfs_api: None,
            max_upload: 0,
            indexer_timeout: Duration::from_secs(5),
            page_size: 24,
            replication: None,
        }
    }
}

/// What the handlers share: the API client and an HTTP client for providers.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    api: agora_api::Client,
    http: reqwest::Client,
    provider: Option<String>,
    ipfs: Option<agora_ipfs::Storage>,
    page_size: u32,
    max_upload: u64,
    replication: Option<agora_client::pins::Replication>,
    /// Uploads streaming to Kubo at once.
    uploads: tokio::sync::Semaphore,
    /// When the currencies' units were last asked of the indexer.
    units_asked: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Hub {
    /// A hub over the services `config` names; fails only on an IPFS API URL Kubo's client
    /// cannot use.
    pub fn new(config: &HubConfig) -> Result<Self, agora_ipfs::StorageError> {
        let api = agora_api::Client::new(config.indexer.clone()).with_timeout(config.indexer_timeout);
        // Providers' endpoints come from the chain: no redirects followed to somewhere else.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let provider = config.provider.as_ref().map(|url| url.as_str().trim_end_matches('/').to_owned());
        let page_size = config.page_size.clamp(1, 100);
        let ipfs = match &config.ipfs_api {
            Some(url) => Some(agora_ipfs::Storage::new(url.as_str(), IPFS_TIMEOUT)?),
            None => None,
        };
        let units_asked = std::sync::Mutex::new(None);
        let (max_upload, uploads) = (config.max_upload, tokio::sync::Semaphore::new(MAX_UPLOADS));
        Ok(Self {
            inner: Arc::new(Inner {
                api,
                http,
                provider,
                ipfs,
                page_size,
                max_upload,
                replication: config.replication.clone(),
                uploads,
                units_asked,
            }),
        })
    }

    pub(crate) fn api(&self) -> &agora_api::Client {
        &self.inner.api
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub(crate) fn provider(&self) -> Option<&str> {
        self.inner.provider.as_deref()
    }

    pub(crate) fn ipfs(&self) -> Option<&agora_ipfs::Storage> {
        self.inner.ipfs.as_ref()
    }

    pub(crate) fn page_size(&self) -> u32 {
        self.inner.page_size
    }

    pub(crate) fn replication(&self) -> Option<&agora_client::pins::Replication> {
        self.inner.replication.as_ref()
    }

    pub(crate) fn max_upload(&self) -> u64 {
        self.inner.max_upload
    }

    /// Waits for a turn to stream an upload to Kubo ([`MAX_UPLOADS`] at once).
    pub(crate) async fn upload_permit(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.inner.uploads.acquire().await.ok()
    }
}

/// How often the hub asks the indexer for the currencies' units (a new currency shows in its
/// units within this time).
const UNITS_EVERY: Duration = Duration::from_secs(30);

/// Uploads the hub streams to Kubo at once; more wait their turn.
const MAX_UPLOADS: usize = 4;

/// Longest one Kubo request may take.
const IPFS_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a page may take to render (the indexer's own timeout is shorter).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The hub's router: every page, the job event streams, the static files, and a 404 page for
/// anything else.
pub fn app(hub: Hub) -> Router {
    Router::new()
        .route("/", get(catalogue::catalogue))
        .route("/assets", get(catalogue::catalogue))
        .route("/assets/{id}", get(asset::asset))
        .route("/accounts/{address}", get(account::account))
        .route("/dao", get(dao::dao))
        .route("/dao/proposals/{id}", get(dao::proposal))
        .route("/providers", get(compute::providers))
        .route("/providers/{address}", get(compute::provider))
        .route("/jobs", get(compute::jobs))
        .route("/jobs/new", get(compute::new_job))
        .route("/jobs/{id}", get(compute::job))
        .route("/publish", get(publish::page_view))
        .route("/api/key-holders", get(publish::key_holders))
        .route("/static/{file}", get(assets::file))
        .route("/openapi.json", get(openapi))
        .route("/api/status", get(api::status))
        .route("/api/assets/{id}/providers", get(api::asset_providers))
        .route("/api/revert", axum::routing::post(api::revert))
        .route("/api/disputes/reason", axum::routing::post(api::dispute_reason))
        .route("/health", get(|| async { "ok" }))
        .fallback(|| async { PageError::NotFound("page".into()) })
        .layer(TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, REQUEST_TIMEOUT))
        // The event streams outlive the page timeout, so they are routed outside it.
        .route("/jobs/{id}/events", get(compute::job_events))
        .layer(middleware::from_fn_with_state(hub.clone(), refresh_units))
        .layer(middleware::from_fn(refuse_nul))
        .layer(RequestBodyLimitLayer::new(16 * 1024))
        // Outside the 16 KiB limit: a card's preview and a metadata document (up to what a
        // provider reads), and uploads, which count their own bytes against `--max-upload-mib`.
        .route(
            "/api/markdown",
            axum::routing::post(publish::markdown).layer(RequestBodyLimitLayer::new(MAX_METADATA_BYTES)),
        )
        .route(
            "/api/metadata",
            axum::routing::post(publish::metadata).layer(RequestBodyLimitLayer::new(MAX_METADATA_BYTES)),
        )
        .route("/api/uploads", axum::routing::post(publish::upload))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' https: http: data:; connect-src 'self' https: http:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        // gzip for browsers that ask (the wallet script shrinks to about a third); event streams stay plain.
        .layer(CompressionLayer::new())
        .with_state(hub)
}

/// `GET /openapi.json`: the indexer's API document, which the hub's pages are built on.
async fn openapi(
    axum::extract::State(hub): axum::extract::State<Hub>,
) -> Result<axum::Json<serde_json::Value>, PageError> {
    Ok(axum::Json(hub.api().openapi().await?))
}

/// Asks the indexer for the currencies' units at most every [`UNITS_EVERY`] before a page is
/// rendered, so amounts read in their units ([`format::amount`]); an indexer that does not
/// answer leaves the units known so far.
async fn refresh_units(
    axum::extract::State(hub): axum::extract::State<Hub>,
    request: Request,
    next: Next,
) -> Response {
    let due = {
        let mut asked = hub.inner.units_asked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = asked.is_none_or(|at| at.elapsed() >= UNITS_EVERY);
        if due {
            *asked = Some(std::time::Instant::now());
        }
        due
    };
    if due && let Ok(currencies) = hub.api().currencies().await {
        format::remember_units(&currencies.items);
    }
    next.run(request).await
}

/// A path or query holding `%00` is refused before any handler runs (no service takes NUL).
async fn refuse_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if uri.path().contains("%00") || uri.query().is_some_and(|q| q.contains("%00")) {
        return PageError::BadRequest("the address holds a NUL character (%00)".into()).into_response();
    }
    next.run(request).await
}

/// Serves the hub for `config` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    config: &HubConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let hub = Hub::new(config).map_err(std::io::Error::other)?;
    axum::serve(listener, app(hub)).with_graceful_shutdown(shutdown).await
}
