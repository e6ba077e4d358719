//! The provider's HTTP service: [`app`] builds the router, [`serve`] runs it on a listener
//! until a shutdown future resolves.
//!
//! `POST /v1/download` checks, in order: the body (size, JSON), the download limit (503), the
//! request's expiry, the signature (recovering the consumer), the nonce (once per signer),
//! the asset (exists, not compute-only), the access order on the asset's access token (exists,
//! the signer's, bound to this provider, not expired; single-use: never served and not being
//! served). Then it resolves the metadata, checks that a single-use order's responses stay
//! within [`DOWNLOAD_ALLOWANCE_FACTOR`] times the content's size, and streams the content —
//! decrypted when private — with `Content-Length` and `Range` support. A full download is
//! checked against the on-chain sha-256 while it streams (the last chunk is held back until the digest matches); a ranged
//! download is served only from content already checked end to end once.

use std::{
    collections::HashSet,
    convert::Infallible,
    future::Future,
    sync::{Arc, Mutex, OnceLock, RwLock, atomic::Ordering},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use agora_contracts::Deployment;
use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
    sol_types::Eip712Domain,
};
use axum::{
    Json, Router,
    body::Body,
    error_handling::HandleErrorLayer,
    extract::{DefaultBodyLimit, Path, State, rejection::JsonRejection},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::json;
use tokio::{
    net::TcpListener,
    sync::{Notify, Semaphore},
};
use tower::{BoxError, ServiceBuilder};
use tower_http::cors::{AllowOrigin, CorsLayer};

use agora_runtime::{JobSpec, Progress};

use crate::{
    access::{self, Refusal, SignedRequest},
    bounded::BoundedMap,
    chain::{AssetInfo, ChainReader, JobInfo},
    crypto::{CryptoError, Encryption, SCHEME},
    db::{DbError, JobRow, Store},
    jobs::{
        self, InputRef, JobRefusal, JobStatus, MAX_DOCUMENT_BYTES, SignedJobRequest, SpecDocument, StoredPlan,
    },
    metadata::{AssetMetadata, ContentRef, MAX_METADATA_BYTES},
    metrics::Metrics,
    net::{ConnectionLimits, GuardedListener},
    range::{self, RangeError},
    storage::{ByteStream, Storage, StorageError, verify_digest},
    worker::{Cancelled, Jobs},
};

/// Limits that keep the service up under load and abuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Downloads streaming at once; more get 503.
    pub max_concurrent_downloads: usize,
    /// Requests being handled at once (headers not yet sent); more get 503.
    pub max_concurrent_requests: usize,
    /// Deadline to produce a response's headers (slow request bodies included).
    pub request_timeout: Duration,
    /// How long assets read from the chain stay cached.
    pub asset_ttl: Duration,
    /// How long a write to a client may stay blocked before the connection is dropped (a
    /// client that stops reading a download frees its slot).
    pub write_stall: Duration,
    /// Deadline for a request's head (its headers), from the connection's start or the
    /// request's first byte; slower clients are disconnected.
    pub header_timeout: Duration,
    /// How long a connection may sit idle between requests before it is closed.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024,
            max_concurrent_downloads: 256,
            max_concurrent_requests: 1024,
            request_timeout: Duration::from_secs(30),
            asset_ttl: Duration::from_secs(30),
            write_stall: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// The provider's key: its address and the secret that unwraps content keys.
#[derive(Clone)]
pub struct Identity {
    signer: PrivateKeySigner,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("address", &self.address()).finish_non_exhaustive()
    }
}

impl Identity {
    /// The identity of `signer`.
    pub fn new(signer: PrivateKeySigner) -> Self {
        Self { signer }
    }

    /// The provider's address (orders are bound to it).
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The uncompressed SEC1 public key publishers wrap content keys to.
    pub fn public_key(&self) -> Vec<u8> {
        crate::crypto::public_key_of(&self.signer)
    }

    /// The secret key, wiped from memory when dropped.
    pub(crate) fn secret(&self) -> zeroizing::Secret {
        zeroizing::Secret(self.signer.credential().to_bytes().into())
    }
}

pub(crate) mod zeroizing {
    /// The secret key bytes, wiped when dropped.
    pub(crate) struct Secret(pub(crate) [u8; 32]);

    impl Drop for Secret {
        fn drop(&mut self) {
            // Volatile writes so the wipe is not optimised away.
            for byte in &mut self.0 {
                // SAFETY: `byte` is a valid, aligned, exclusive reference.
                unsafe { std::ptr::write_volatile(byte, 0) };
            }
        }
    }
}

/// Metadata documents kept in memory (each at most `MAX_METADATA_BYTES`, usually about 1 KiB).
const CACHED_METADATA: usize = 1024;
/// Content known to match its digest, kept in memory (SQLite remembers them all).
const CACHED_VERIFIED: usize = 65_536;

/// How many times the content's size a single-use order may be sent in all, over all its
/// responses. A single-use order is marked served only when a response reaches the content's
/// end, so an unfinished download can be resumed with a `Range`; without a cap, ranges that stop
/// short of the end would download the content any number of times on one order. Twice is one
/// full download plus one full retry of an interrupted one (a resume re-sends at most what the
/// broken connection had buffered), and no more.
pub const DOWNLOAD_ALLOWANCE_FACTOR: u64 = 2;
/// How long a stopping provider waits for cut-off single-use downloads to record their bytes.
const SETTLE_ON_SHUTDOWN: Duration = Duration::from_secs(5);

/// Everything the handlers share.
pub struct ProviderState {
    identity: Identity,
    chain_id: u64,
    domain: Eip712Domain,
    deployment: Deployment,
    chain: ChainReader,
    storage: Storage,
    store: Store,
    limits: Limits,
    metrics: Metrics,
    downloads: Arc<Semaphore>,
    in_flight: Mutex<HashSet<(Address, U256)>>,
    /// Woken whenever a single-use order leaves `in_flight`.
    released: Notify,
    metadata: RwLock<BoundedMap<String, Arc<AssetMetadata>>>,
    verified: RwLock<BoundedMap<(String, B256), ()>>,
    jobs: OnceLock<Arc<Jobs>>,
    pinning: OnceLock<Arc<crate::pinning::Pinning>>,
    /// CIDs the replicator pinned (so a removed pin request does not unpin them).
    kept: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for ProviderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderState")
            .field("identity", &self.identity)
            .field("chain_id", &self.chain_id)
            .field("storage", &self.storage)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl ProviderState {
    /// The shared state of a provider with `identity` on `chain_id`.
    pub fn new(
        identity: Identity,
        chain_id: u64,
        deployment: Deployment,
        chain: ChainReader,
        storage: Storage,
        store: Store,
        limits: Limits,
    ) -> Arc<Self> {
        Arc::new(Self {
            domain: access::domain(chain_id, identity.address()),
            downloads: Arc::new(Semaphore::new(limits.max_concurrent_downloads)),
            identity,
            chain_id,
            deployment,
            chain,
            storage,
            store,
            limits,
            metrics: Metrics::default(),
            in_flight: Mutex::default(),
            released: Notify::new(),
            metadata: RwLock::new(BoundedMap::new(CACHED_METADATA)),
            verified: RwLock::new(BoundedMap::new(CACHED_VERIFIED)),
            jobs: OnceLock::new(),
            pinning: OnceLock::new(),
            kept: Mutex::default(),
        })
    }

    /// The provider's address.
    pub fn address(&self) -> Address {
        self.identity.address()
    }

    /// The EIP-712 domain consumers sign download requests for.
    pub fn domain(&self) -> &Eip712Domain {
        &self.domain
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The chain reads (assets, orders, jobs).
    pub fn chain(&self) -> &ChainReader {
        &self.chain
    }

    /// The provider's Kubo.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The SQLite store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Turns compute jobs on (once, at startup); without it `/v1/jobs` answers 503.
    pub fn enable_jobs(&self, jobs: Arc<Jobs>) {
        let _ = self.jobs.set(jobs);
    }

    /// Turns the pinning service on (once, at startup); without it `/pinning` refuses every
    /// request.
    pub fn enable_pinning(&self, pinning: Arc<crate::pinning::Pinning>) {
        let _ = self.pinning.set(pinning);
    }

    /// The pinning service, when on.
    pub fn pinning(&self) -> Option<Arc<crate::pinning::Pinning>> {
        self.pinning.get().cloned()
    }

    /// Records that the replicator keeps `cid` pinned.
    pub fn keep(&self, cid: &str) {
        self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(cid.to_owned());
    }

    /// Whether the replicator keeps `cid` pinned.
    pub fn is_kept(&self, cid: &str) -> bool {
        self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(cid)
    }

    /// Waits, at most `within`, until no single-use download is in flight: a response cut off
    /// by a shutdown records its bytes from a task of its own, before its order is released.
    async fn single_use_idle(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let mut released = std::pin::pin!(self.released.notified());
            released.as_mut().enable();
            let busy = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len();
            if busy == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                tracing::warn!(busy, "single-use downloads still recording their bytes at shutdown");
                return;
            }
        }
    }
}

/// The router: `/health`, `/metrics`, `/v1/info`, `POST /v1/download`, `POST /v1/specs`,
/// `POST /v1/jobs`, `GET`/`DELETE /v1/jobs/{id}`, `GET /v1/jobs/{id}/result`,
/// `GET /v1/jobs/{id}/log`, and the IPFS Pinning Service API under `/pinning`
/// ([`crate::pinning`]).
pub fn app(state: Arc<ProviderState>) -> Router {
    let limits = state.limits.clone();
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/info", get(info))
        .route("/v1/pins/{cid}", get(pin_status))
        .route("/v1/download", post(download))
        .route("/v1/specs", post(put_spec))
        .route("/v1/jobs", post(submit_job))
        .route("/v1/jobs/{id}", get(job_status).delete(cancel_job))
        .route("/v1/jobs/{id}/result", get(job_result))
        .route("/v1/jobs/{id}/log", get(job_log))
        .nest("/pinning", crate::pinning::routes())
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(overload_or_timeout))
                .load_shed()
                .concurrency_limit(limits.max_concurrent_requests)
                .timeout(limits.request_timeout),
        )
        .layer(axum::middleware::map_response(json_errors))
        .layer(cors())
        .with_state(state)
}

/// Any web page may call the provider from a browser: every request that does something carries
/// its own proof (a signed download request, an on-chain job), never a cookie, so another origin
/// gains nothing a script outside a browser would not have. The page reads the headers a resumed,
/// verified download needs.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([header::CONTENT_TYPE, header::RANGE])
        .expose_headers([
            header::CONTENT_LENGTH,
            header::CONTENT_RANGE,
            header::ACCEPT_RANGES,
            HeaderName::from_static("x-content-sha256"),
        ])
        .max_age(Duration::from_secs(3600))
}

async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::BadRequest {
        status: StatusCode::NOT_FOUND,
        message: format!("no route {:?}", uri.path().chars().take(200).collect::<String>()),
    }
}

/// Gives the error responses the framework makes without a body (405 from the router, 413
/// from the body limit) the `{"error": ...}` body every other refusal has.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
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

async fn overload_or_timeout(err: BoxError) -> ApiError {
    if err.is::<tower::timeout::error::Elapsed>() { ApiError::Timeout } else { ApiError::Busy }
}

/// Serves `app(state)` on `listener` until `shutdown` resolves, then drains open requests.
/// Connections whose writes stall for `limits.write_stall`, whose request head takes longer than
/// `limits.header_timeout` or that idle for `limits.idle_timeout` are dropped.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ProviderState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = ConnectionLimits {
        write_stall: state.limits.write_stall,
        header_timeout: state.limits.header_timeout,
        idle_timeout: state.limits.idle_timeout,
    };
    let listener = GuardedListener::new(listener, limits);
    let result = axum::serve(listener, app(state.clone())).with_graceful_shutdown(shutdown).await;
    state.single_use_idle(SETTLE_ON_SHUTDOWN).await;
    result
}

/// Unix time now.
fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Everything a client can be told; internals are logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The access check refused the request.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The job check refused the request.
    #[error(transparent)]
    Job(#[from] JobRefusal),
    /// The job can never run here, and was declined on chain: its payment is refunded.
    #[error("{0}; the job was declined on chain and its payment refunded to the consumer")]
    Declined(JobRefusal),
    /// The body is not a valid request (status from the extractor: 400, 413, 415, 422).
    #[error("{message}")]
    BadRequest {
        /// The status.
        status: StatusCode,
        /// What is wrong.
        message: String,
    },
    /// A single-use order's responses sent, or with this one would send, more than its
    /// allowance ([`DOWNLOAD_ALLOWANCE_FACTOR`] times the content's size).
    #[error(
        "order {order} has used its download allowance: {sent} of {allowance} bytes served, \
         {requested} more requested"
    )]
    AllowanceUsed {
        /// The order.
        order: U256,
        /// Bytes its responses sent so far.
        sent: u64,
        /// The most its responses may send in all.
        allowance: u64,
        /// What this request would send.
        requested: u64,
    },
    /// The `Range` header cannot be served.
    #[error("{source}")]
    Range {
        /// What is wrong.
        source: RangeError,
        /// The content's size, for `Content-Range: bytes */size`.
        size: u64,
    },
    /// At the download or request limit.
    #[error("the provider is busy; retry later")]
    Busy,
    /// The response was not ready in time.
    #[error("the request timed out")]
    Timeout,
    /// IPFS did not deliver the content (or its metadata) within the deadline.
    #[error("the content is not available from IPFS")]
    ContentUnavailable,
    /// The content does not match the asset's on-chain digest.
    #[error("the content does not match the asset's on-chain digest")]
    DigestMismatch,
    /// The asset's metadata is unusable.
    #[error("the asset's metadata is invalid: {0}")]
    BadMetadata(String),
    /// The asset is private but this provider holds no key for it.
    #[error(
        "this provider holds no key for the encrypted asset; its key is held by {}: use one of \
         those providers, or ask the owner to share the key with this one (`agora asset share`)",
        holders_list(.holders)
    )]
    NoKey {
        /// Who does hold the key.
        holders: Vec<Address>,
    },
    /// The chain node could not be read.
    #[error("the chain is not reachable")]
    ChainUnavailable,
    /// IPFS failed otherwise.
    #[error("content storage failed")]
    Storage,
    /// Anything else (database, …).
    #[error("internal error")]
    Internal,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Refused(refusal) => match refusal {
                Refusal::BadSignature | Refusal::RequestExpired(_) => StatusCode::UNAUTHORIZED,
                Refusal::RequestExpiryTooFar => StatusCode::BAD_REQUEST,
                Refusal::NonceReused | Refusal::InProgress => StatusCode::CONFLICT,
                Refusal::UnknownAsset(_) | Refusal::UnknownOrder { .. } => StatusCode::NOT_FOUND,
                Refusal::ComputeOnly(_)
                | Refusal::NotConsumer
                | Refusal::OtherProvider
                | Refusal::JobOrder { .. } => StatusCode::FORBIDDEN,
                Refusal::OrderExpired(_) | Refusal::AlreadyServed => StatusCode::GONE,
            },
            Self::Declined(refusal) => Self::Job(refusal.clone()).status(),
            Self::Job(refusal) => match refusal {
                JobRefusal::Disabled => StatusCode::SERVICE_UNAVAILABLE,
                JobRefusal::UnknownJob(_) => StatusCode::NOT_FOUND,
                JobRefusal::NotConsumer
                | JobRefusal::OtherProvider(_)
                | JobRefusal::AlgorithmNotAllowed { .. }
                | JobRefusal::NoKey { .. }
                | JobRefusal::LogWithheld(_) => StatusCode::FORBIDDEN,
                JobRefusal::NoLog { .. } => StatusCode::NOT_FOUND,
                JobRefusal::NotOpen { .. }
                | JobRefusal::AlreadySubmitted(_)
                | JobRefusal::NoResult { .. }
                | JobRefusal::NotCancellable { .. } => StatusCode::CONFLICT,
                JobRefusal::NotFunded(_) => StatusCode::PAYMENT_REQUIRED,
                JobRefusal::DeadlinePassed { .. } => StatusCode::GONE,
                JobRefusal::BadSpec(_) => StatusCode::UNPROCESSABLE_ENTITY,
            },
            Self::BadRequest { status, .. } => *status,
            Self::AllowanceUsed { .. } => StatusCode::GONE,
            Self::Range { source: RangeError::Malformed, .. } => StatusCode::BAD_REQUEST,
            Self::Range { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::ContentUnavailable => StatusCode::GATEWAY_TIMEOUT,
            Self::DigestMismatch | Self::BadMetadata(_) | Self::Storage | Self::ChainUnavailable => {
                StatusCode::BAD_GATEWAY
            }
            Self::NoKey { .. } => StatusCode::FORBIDDEN,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Addresses as a comma-separated list, or `nobody`.
fn holders_list(holders: &[Address]) -> String {
    if holders.is_empty() {
        return "nobody".into();
    }
    holders.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, Json(json!({ "error": self.to_string() }))).into_response();
        match self {
            Self::Range { size, .. } => {
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, value);
                }
            }
            Self::Busy => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::Timeout { .. }
            | StorageError::NotFound { .. }
            | StorageError::Unavailable { .. } => {
                tracing::warn!(error = %err, "content unavailable");
                Self::ContentUnavailable
            }
            StorageError::DigestMismatch { .. } => {
                tracing::error!(error = %err, "content digest mismatch");
                Self::DigestMismatch
            }
            other => {
                tracing::error!(error = %other, "storage failed");
                Self::Storage
            }
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        tracing::error!(error = %err, "database failed");
        Self::Internal
    }
}

impl From<crate::chain::ChainError> for ApiError {
    fn from(err: crate::chain::ChainError) -> Self {
        tracing::error!(error = %err, "chain read failed");
        Self::ChainUnavailable
    }
}

async fn health(State(state): State<Arc<ProviderState>>) -> Response {
    let ipfs = tokio::time::timeout(Duration::from_secs(2), state.storage.version()).await;
    let ipfs_ok = matches!(ipfs, Ok(Ok(_)));
    Json(json!({ "status": "ok", "ipfs": ipfs_ok })).into_response()
}

async fn metrics(State(state): State<Arc<ProviderState>>) -> Response {
    let busy = state.limits.max_concurrent_downloads.saturating_sub(state.downloads.available_permits());
    state.metrics.in_flight.store(busy as u64, Ordering::Relaxed);
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))],
        state.metrics.render(),
    )
        .into_response()
}

async fn info(State(state): State<Arc<ProviderState>>) -> Response {
    Json(json!({
        "provider": state.address(),
        "chainId": state.chain_id,
        "contracts": state.deployment.contracts,
        "jobKinds": if state.jobs.get().is_some() { vec!["embed", "train", "predict", "algorithm"] } else { Vec::new() },
        // What one job may ask for here: clients check a spec against it before they pay.
        "jobLimits": state.jobs.get().map(|jobs| jobs.limits()),
        "version": env!("CARGO_PKG_VERSION"),
        "encryption": {
            "scheme": SCHEME,
            "keyWrapping": "ecies-secp256k1",
            "publicKey": format!("0x{}", hex::encode(state.identity.public_key())),
        },
        "eip712": {
            "name": access::DOMAIN_NAME,
            "version": access::DOMAIN_VERSION,
            "chainId": state.chain_id,
            "verifyingContract": state.address(),
        },
    }))
    .into_response()
}

/// Whether this provider's Kubo keeps `cid` pinned (`agora asset pins` asks every provider).
async fn pin_status(
    State(state): State<Arc<ProviderState>>,
    axum::extract::Path(cid): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    // CIDs are base32 or base58 text: letters and digits, well under 128 characters.
    if cid.is_empty() || cid.len() > 128 || !cid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::BadRequest {
            status: StatusCode::BAD_REQUEST,
            message: format!("{:?} is not a CID", cid.chars().take(130).collect::<String>()),
        });
    }
    let pinned = state.storage.is_pinned(&cid).await?;
    Ok(Json(json!({ "cid": cid, "pinned": pinned })).into_response())
}

/// A download admitted by the access check, holding what must be released when it ends.
struct Admission {
    state: Arc<ProviderState>,
    _permit: tokio::sync::OwnedSemaphorePermit,
    /// Set for a single-use order: released from `in_flight` on drop.
    single_use: Option<(Address, U256)>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(key) = self.single_use {
            self.state.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&key);
            self.state.released.notify_waiters();
        }
    }
}

/// Refuses a response of `requested` bytes for a single-use order whose responses already sent
/// `sent` bytes, when the total would pass the order's allowance for content of `size` bytes.
fn check_allowance(order: U256, sent: u64, requested: u64, size: u64) -> Result<(), ApiError> {
    let allowance = size.saturating_mul(DOWNLOAD_ALLOWANCE_FACTOR);
    if sent.saturating_add(requested) > allowance {
        return Err(ApiError::AllowanceUsed { order, sent, allowance, requested });
    }
    Ok(())
}

/// What the access check established.
struct Admitted {
    admission: Admission,
    signer: Address,
    asset: AssetInfo,
}

async fn download(
    State(state): State<Arc<ProviderState>>,
    headers: HeaderMap,
    body: Result<Json<SignedRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    Metrics::inc(&state.metrics.download_requests);
    let result = handle_download(&state, &headers, body).await;
    if result.is_err() {
        Metrics::inc(&state.metrics.refusals);
    }
    result
}

async fn handle_download(
    state: &Arc<ProviderState>,
    headers: &HeaderMap,
    body: Result<Json<SignedRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body.map_err(|rejection| ApiError::BadRequest {
        status: rejection.status(),
        message: rejection.body_text(),
    })?;
    let started = Instant::now();
    let mut admitted = check_access(state, &request).await?;
    state.metrics.record_access_check(started.elapsed());

    let metadata = keyed_metadata(state, request.asset_id, &mut admitted.asset).await?;
    let content = &metadata.content;
    let size = content_size(state, content).await?;
    let range = match headers.get(header::RANGE) {
        None => None,
        Some(value) => {
            let value =
                value.to_str().map_err(|_| ApiError::Range { source: RangeError::Malformed, size })?;
            Some(range::parse(value, size).map_err(|source| ApiError::Range { source, size })?)
        }
    };
    let digest = admitted.asset.content_digest;
    // An empty body has no last chunk to hold back: check its digest up front.
    if size == 0 && digest != crate::storage::sha256(&[]) {
        return Err(ApiError::DigestMismatch);
    }
    let (start, end) = range.unwrap_or((0, size.saturating_sub(1)));
    let length = if size == 0 { 0 } else { end - start + 1 };
    // The order stays in flight until its responses' bytes are recorded, so this total is final.
    if let Some((token, order)) = admitted.admission.single_use {
        check_allowance(order, state.store.order_bytes(token, order).await?, length, size)?;
    }
    let body_stream = match range {
        // A CID yields the same bytes forever (Kubo checks every block against it), so content
        // verified once streams without hashing again.
        None if is_verified(state, content, digest).await? => plaintext(state, content, 0, size).await?,
        None => verify_digest(plaintext(state, content, 0, size).await?, content.cid.clone(), digest),
        Some(_) => {
            ensure_verified(state, content, digest).await?;
            plaintext(state, content, start, length).await?
        }
    };
    let reaches_end = size == 0 || end + 1 == size;
    let stream = finish_stream(
        state.clone(),
        admitted,
        body_stream,
        length,
        reaches_end,
        content.cid.clone(),
        range.is_none(),
    );

    Metrics::inc(&state.metrics.downloads_started);
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(value) = HeaderValue::from_str(&digest.to_string()) {
        headers.insert("x-content-sha256", value);
    }
    if range.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")) {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

async fn check_access(state: &Arc<ProviderState>, request: &SignedRequest) -> Result<Admitted, ApiError> {
    let permit = state.downloads.clone().try_acquire_owned().map_err(|_| {
        Metrics::inc(&state.metrics.overloaded);
        ApiError::Busy
    })?;
    let now = now();
    access::check_request_expiry(request.expiry, now)?;
    let signer = request.signer(&state.domain)?;
    if !state.store.use_nonce(signer, request.nonce, request.expiry).await? {
        return Err(Refusal::NonceReused.into());
    }
    let asset = state.chain.asset(request.asset_id).await?.ok_or(Refusal::UnknownAsset(request.asset_id))?;
    if asset.compute_only {
        return Err(Refusal::ComputeOnly(request.asset_id).into());
    }
    let order = state
        .chain
        .order(asset.access_token, request.order_id)
        .await?
        .ok_or(Refusal::UnknownOrder { asset: request.asset_id, order: request.order_id })?;
    // A timed order expires by the chain's clock, which a test chain can move ahead of ours.
    let now = match order.single_use() {
        true => now,
        false => now.max(state.chain.block_time().await?),
    };
    access::check_order(&order, signer, state.address(), now)?;
    if let Some(job) = order.job {
        return Err(Refusal::JobOrder { order: request.order_id, job }.into());
    }
    let mut admission = Admission { state: state.clone(), _permit: permit, single_use: None };
    if order.single_use() {
        // Claimed before "served" is read: a download that reaches the end records "served"
        // before it releases its claim, so whoever takes the claim next reads a final answer.
        // Checking first and claiming after let a request slip in between the two.
        let key = (asset.access_token, request.order_id);
        if !state.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key) {
            return Err(Refusal::InProgress.into());
        }
        // From here the claim is released when `admission` drops, refusal or not.
        admission.single_use = Some(key);
        if state.store.is_served(key.0, key.1).await? {
            return Err(Refusal::AlreadyServed.into());
        }
    }
    Ok(Admitted { admission, signer, asset })
}

/// `POST /v1/jobs`: checks, in order, the request's expiry and signature, the on-chain job
/// (exists; the signer's; for this provider; open; funded; deadline ahead by the chain's
/// clock), that the job is new here and the nonce unused; then the dataset owner's algorithm
/// policy, the spec and the inputs, and queues the job. A job that fails those last checks can
/// never run here, so it is declined on chain and its consumer refunded at once.
async fn submit_job(
    State(state): State<Arc<ProviderState>>,
    body: Result<Json<SignedJobRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body.map_err(|rejection| ApiError::BadRequest {
        status: rejection.status(),
        message: rejection.body_text(),
    })?;
    let service = state.jobs.get().ok_or(JobRefusal::Disabled)?;
    access::check_request_expiry(request.expiry, now())?;
    let signer = request.signer(&state.domain)?;
    let job_id = request.job_id;
    let info = state.chain.job(job_id).await?.ok_or(JobRefusal::UnknownJob(job_id))?;
    jobs::check_job(job_id, &info.job, signer, state.address(), state.chain.block_time().await?)?;
    if state.store.job(job_id).await?.is_some() {
        return Err(JobRefusal::AlreadySubmitted(job_id).into());
    }
    if !state.store.use_nonce(signer, request.nonce, request.expiry).await? {
        return Err(Refusal::NonceReused.into());
    }
    let (dataset, algorithm) = (info.job.datasetId, info.job.algorithmId);
    let planned = match state.chain.is_algorithm_allowed(dataset, algorithm).await? {
        true => plan_job(&state, &info, service.limits(), service.algorithm_limits().max_module_bytes).await,
        false => Err(JobRefusal::AlgorithmNotAllowed { dataset, algorithm }.into()),
    };
    let plan = match planned {
        Ok(plan) => plan,
        // This job can never run here: its consumer is refunded now, not at the deadline.
        Err(ApiError::Job(refusal)) if refusal.never_runs() => {
            return Err(match service.decline(job_id).await {
                true => ApiError::Declined(refusal),
                false => ApiError::Job(refusal),
            });
        }
        Err(other) => return Err(other),
    };
    if !service.submit(job_id, signer, &plan).await? {
        return Err(JobRefusal::AlreadySubmitted(job_id).into());
    }
    tracing::info!(%job_id, consumer = %signer, kind = plan.plan.spec.kind(), "job queued");
    Ok((StatusCode::ACCEPTED, Json(json!({ "jobId": job_id.to_string(), "status": JobStatus::Queued })))
        .into_response())
}

/// `POST /v1/specs`: a job spec document checked against this provider's limits and added to
/// IPFS in its canonical form (the CLI's), before any money moves: a browser, which cannot
/// reach Kubo, opens its job with the CID answered. Only a valid spec within the limits is
/// kept, at most [`MAX_DOCUMENT_BYTES`].
async fn put_spec(
    State(state): State<Arc<ProviderState>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let service = state.jobs.get().ok_or(JobRefusal::Disabled)?;
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(JobRefusal::BadSpec(format!(
            "the spec document is larger than {MAX_DOCUMENT_BYTES} bytes"
        ))
        .into());
    }
    let spec = SpecDocument::parse(&body)?;
    spec.job.check(service.limits()).map_err(|err| JobRefusal::BadSpec(err.to_string()))?;
    let canonical = serde_json::to_vec_pretty(&spec).map_err(|err| JobRefusal::BadSpec(err.to_string()))?;
    let cid = state.storage.add_bytes(canonical).await?.cid;
    Ok((StatusCode::CREATED, Json(json!({ "cid": cid, "kind": spec.job.kind() }))).into_response())
}

/// What a worker needs: the spec document and the inputs named by the job's assets; refused
/// here, before the job is queued, when it could never run: a spec outside `limits`, a dataset
/// larger than they allow, a model manifest that is not one, an `algorithm` job whose
/// algorithm asset is not an algorithm or is larger than `module_limit`.
async fn plan_job(
    state: &ProviderState,
    info: &JobInfo,
    limits: &agora_runtime::Limits,
    module_limit: u64,
) -> Result<StoredPlan, ApiError> {
    let spec =
        state.storage.cat_to_vec(&info.spec_cid, MAX_DOCUMENT_BYTES).await.map_err(|err| match err {
            StorageError::TooLarge { .. } => {
                ApiError::from(JobRefusal::BadSpec("the spec document is too large".into()))
            }
            other => ApiError::from(other),
        })?;
    let spec = SpecDocument::parse(&spec)?;
    spec.job.check(limits).map_err(|err| JobRefusal::BadSpec(err.to_string()))?;
    let dataset_id = info.job.datasetId;
    let (dataset, metadata, dataset_asset) = job_input(state, dataset_id).await?;
    let model = match spec.needs_model() {
        true => Some((info.job.algorithmId, job_input(state, info.job.algorithmId).await?)),
        false => None,
    };
    // A private input is decrypted by the worker, so only with a key wrapped for us.
    let inputs = std::iter::once((dataset_id, &metadata)).chain(model.iter().map(|(id, (_, m, _))| (*id, m)));
    for (asset_id, metadata) in inputs {
        if let Some(encryption) = &metadata.content.encryption
            && !encryption.is_held_by(state.address())
        {
            return Err(JobRefusal::NoKey { asset: asset_id, holders: encryption.holders() }.into());
        }
    }
    if metadata.content.size > limits.max_dataset_bytes {
        return Err(JobRefusal::BadSpec(format!(
            "dataset asset {dataset_id} is {} bytes; this provider takes at most {}",
            metadata.content.size, limits.max_dataset_bytes
        ))
        .into());
    }
    let is_algorithm = matches!(spec.job, JobSpec::Algorithm(_));
    if let Some((id, (_, module, asset))) = model.as_ref().filter(|_| is_algorithm) {
        if asset.kind != crate::chain::ALGORITHM_KIND {
            return Err(JobRefusal::BadSpec(format!(
                "asset {id} is not an algorithm: an `algorithm` job runs an algorithm asset's WebAssembly module"
            ))
            .into());
        }
        if module.content.size > module_limit {
            return Err(JobRefusal::BadSpec(format!(
                "algorithm asset {id} is {} bytes; this provider runs modules of at most {module_limit}",
                module.content.size
            ))
            .into());
        }
    }
    let model = model.as_ref().map(|(id, (input, metadata, _))| (*id, input.clone(), metadata.as_ref()));
    let mut stored = jobs::plan_of(spec.job, info.job.deadline, (dataset, &metadata), model)?;
    stored.share_log = !dataset_asset.compute_only || metadata.algorithm_logs();
    if let Some(model) = stored.plan.model.as_ref().filter(|_| !is_algorithm) {
        let key = match &stored.model_encryption {
            Some(encryption) => {
                let secret = state.identity.secret();
                let key = encryption.content_key(state.address(), &secret.0).map_err(|err| {
                    JobRefusal::BadSpec(format!("the model's content key does not unwrap: {err}"))
                })?;
                Some((encryption, key))
            }
            None => None,
        };
        let sealed = key.as_ref().map(|(encryption, key)| (*encryption, key));
        crate::worker::fetch_manifest(&state.storage, model, sealed).await.map_err(
            |failure| match failure {
                crate::worker::JobFailure::Fetch { source, .. } => ApiError::from(source),
                other => ApiError::from(JobRefusal::BadSpec(other.to_string())),
            },
        )?;
    }
    Ok(stored)
}

/// The content of asset `asset_id` as a job input, its metadata and the asset.
async fn job_input(
    state: &ProviderState,
    asset_id: U256,
) -> Result<(InputRef, Arc<AssetMetadata>, AssetInfo), ApiError> {
    let asset = state.chain.asset(asset_id).await?.ok_or(Refusal::UnknownAsset(asset_id))?;
    let metadata = resolve_metadata(state, &asset.metadata_cid).await?;
    let input = InputRef { cid: metadata.content.cid.clone(), sha256: asset.content_digest };
    Ok((input, metadata, asset))
}

/// A job id as every Agora API writes it: decimal digits.
fn parse_job_id(id: &str) -> Result<U256, ApiError> {
    let invalid = || ApiError::BadRequest {
        status: StatusCode::BAD_REQUEST,
        message: format!(
            "invalid job id {:?}: expected decimal digits",
            id.chars().take(80).collect::<String>()
        ),
    };
    if id.is_empty() || id.len() > 78 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    U256::from_str_radix(id, 10).map_err(|_| invalid())
}

/// `GET /v1/jobs/{id}`: status, failure reason and, while running, progress. With
/// `Accept: text/event-stream`, a server-sent event stream instead: a `status` event carrying
/// the same JSON each time it changes, ending after the first terminal one.
async fn job_status(
    State(state): State<Arc<ProviderState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job_id = parse_job_id(&id)?;
    let service = state.jobs.get().ok_or(JobRefusal::Disabled)?;
    let (row, progress) = service.status(job_id).await?.ok_or(JobRefusal::UnknownJob(job_id))?;
    if wants_event_stream(&headers) {
        // Comments keep an event stream's connection from counting as idle.
        let keep_alive = (state.limits.idle_timeout / 2).min(Duration::from_secs(15));
        return Ok(job_events(service.clone(), job_id, keep_alive).into_response());
    }
    Ok(Json(status_json(job_id, &row, progress)).into_response())
}

fn status_json(job_id: U256, row: &JobRow, progress: Option<Progress>) -> serde_json::Value {
    json!({
        "jobId": job_id.to_string(),
        "status": row.status,
        "reason": row.reason,
        "progress": progress,
        "resultCid": row.result_cid,
        "outputHash": row.output_hash,
    })
}

fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(',').any(|item| item.split(';').next().is_some_and(|m| m.trim() == "text/event-stream"))
    })
}

/// How often an event stream re-reads a job even without a change notification.
const EVENT_RECHECK: Duration = Duration::from_secs(1);

/// The job's status as server-sent events: one each time the JSON of `GET /v1/jobs/{id}`
/// changes, the last one terminal (`succeeded`, `failed`, `cancelled`). A database failure
/// ends the stream with an `error` event.
fn job_events(
    service: Arc<Jobs>,
    job_id: U256,
    keep_alive: Duration,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    struct Watch {
        service: Arc<Jobs>,
        changes: tokio::sync::watch::Receiver<u64>,
        last: Option<serde_json::Value>,
        sent: u64,
        done: bool,
    }
    let changes = service.subscribe();
    let start = Watch { service, changes, last: None, sent: 0, done: false };
    let events = stream::unfold(start, move |mut watch| async move {
        if watch.done {
            return None;
        }
        loop {
            // Marked seen before reading, so a change during the read wakes the next wait.
            watch.changes.borrow_and_update();
            let (snapshot, terminal) = match watch.service.status(job_id).await {
                Ok(Some((row, progress))) => {
                    let terminal = !matches!(
                        JobStatus::parse(&row.status),
                        Some(JobStatus::Queued | JobStatus::Running)
                    );
                    (status_json(job_id, &row, progress), terminal)
                }
                Ok(None) | Err(_) => {
                    watch.done = true;
                    let error = json!({ "error": "the job's status could not be read" });
                    let event = Event::default().event("error").data(error.to_string());
                    return Some((Ok(event), watch));
                }
            };
            if watch.last.as_ref() != Some(&snapshot) {
                watch.sent += 1;
                watch.done = terminal;
                let event =
                    Event::default().event("status").id(watch.sent.to_string()).data(snapshot.to_string());
                watch.last = Some(snapshot);
                return Some((Ok(event), watch));
            }
            // Woken by a change or the recheck; with the sender gone, only the recheck is left.
            if let Ok(Err(_)) = tokio::time::timeout(EVENT_RECHECK, watch.changes.changed()).await {
                tokio::time::sleep(EVENT_RECHECK).await;
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(keep_alive))
}

/// `DELETE /v1/jobs/{id}` with a request signed by the job's consumer: a queued job is
/// cancelled at once (200), a running one stops at its next batch (202). The job stays open
/// on chain, so the consumer's refund after the deadline is untouched.
async fn cancel_job(
    State(state): State<Arc<ProviderState>>,
    Path(id): Path<String>,
    body: Result<Json<SignedJobRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let job_id = parse_job_id(&id)?;
    let Json(request) = body.map_err(|rejection| ApiError::BadRequest {
        status: rejection.status(),
        message: rejection.body_text(),
    })?;
    if request.job_id != job_id {
        return Err(ApiError::BadRequest {
            status: StatusCode::BAD_REQUEST,
            message: "the signed job id is not the one in the path".into(),
        });
    }
    let service = state.jobs.get().ok_or(JobRefusal::Disabled)?;
    access::check_request_expiry(request.expiry, now())?;
    let signer = request.signer(&state.domain)?;
    let row = state.store.job(job_id).await?.ok_or(JobRefusal::UnknownJob(job_id))?;
    if row.consumer != signer.to_string() {
        return Err(JobRefusal::NotConsumer.into());
    }
    if !state.store.use_nonce(signer, request.nonce, request.expiry).await? {
        return Err(Refusal::NonceReused.into());
    }
    let (status, code) = match service.cancel(job_id).await? {
        Some(Cancelled::Now) => (JobStatus::Cancelled, StatusCode::OK),
        Some(Cancelled::Stopping) => (JobStatus::Running, StatusCode::ACCEPTED),
        None => return Err(JobRefusal::NotCancellable { job: job_id, status: row.status }.into()),
    };
    tracing::info!(%job_id, "job cancellation requested");
    Ok((code, Json(json!({ "jobId": job_id.to_string(), "status": status }))).into_response())
}

/// The job whose id is the path's `id`, as this provider records it.
async fn job_row(state: &ProviderState, id: &str) -> Result<(U256, JobRow), ApiError> {
    let job_id = parse_job_id(id)?;
    let service = state.jobs.get().ok_or(JobRefusal::Disabled)?;
    let (row, _) = service.status(job_id).await?.ok_or(JobRefusal::UnknownJob(job_id))?;
    Ok((job_id, row))
}

/// `GET /v1/jobs/{id}/result`: the result CID, the output hash and the signed receipt.
async fn job_result(
    State(state): State<Arc<ProviderState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (job_id, row) = job_row(&state, &id).await?;
    let (Some(result_cid), Some(receipt)) = (row.result_cid, row.receipt) else {
        return Err(JobRefusal::NoResult { job: job_id, status: row.status }.into());
    };
    let receipt: jobs::SignedReceipt = serde_json::from_str(&receipt).map_err(|err| {
        tracing::error!(%job_id, error = %err, "stored receipt unreadable");
        ApiError::Internal
    })?;
    Ok(Json(json!({
        "jobId": job_id.to_string(),
        "resultCid": result_cid,
        "outputHash": row.output_hash,
        "receipt": receipt,
    }))
    .into_response())
}

/// `GET /v1/jobs/{id}/log`: a succeeded algorithm job's stdout and stderr as the sandbox kept
/// them (`x-agora-log-truncated: true` when cut at the cap), unless withheld because the
/// dataset is compute-only and its owner does not allow logs.
async fn job_log(
    State(state): State<Arc<ProviderState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (job_id, row) = job_row(&state, &id).await?;
    let stored: StoredPlan = serde_json::from_str(&row.plan).map_err(|err| {
        tracing::error!(%job_id, error = %err, "stored plan unreadable");
        ApiError::Internal
    })?;
    if !matches!(stored.plan.spec, JobSpec::Algorithm(_)) {
        return Err(JobRefusal::NoLog { job: job_id, kind: stored.plan.spec.kind() }.into());
    }
    if !stored.share_log {
        return Err(JobRefusal::LogWithheld(job_id).into());
    }
    let Some((log, truncated)) = state.store.job_log(job_id).await? else {
        return Err(JobRefusal::NoResult { job: job_id, status: row.status }.into());
    };
    let headers = [
        (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        (header::HeaderName::from_static("x-agora-log-truncated"), if truncated { "true" } else { "false" }),
    ];
    Ok((headers, log).into_response())
}

/// The asset's metadata, checked to hold a key for this provider when it is encrypted. Without
/// one, the asset is read from the chain again once: its owner may just have shared the key in
/// a new metadata version that the cached asset does not name yet.
async fn keyed_metadata(
    state: &ProviderState,
    asset_id: U256,
    asset: &mut AssetInfo,
) -> Result<Arc<AssetMetadata>, ApiError> {
    let lacks_key = |metadata: &AssetMetadata| {
        metadata
            .content
            .encryption
            .as_ref()
            .filter(|e| !e.is_held_by(state.address()))
            .map(Encryption::holders)
    };
    let metadata = resolve_metadata(state, &asset.metadata_cid).await?;
    let Some(holders) = lacks_key(&metadata) else { return Ok(metadata) };
    state.chain.forget_asset(asset_id);
    let fresh = state.chain.asset(asset_id).await?.ok_or(Refusal::UnknownAsset(asset_id))?;
    if fresh.metadata_cid == asset.metadata_cid {
        return Err(ApiError::NoKey { holders });
    }
    *asset = fresh;
    let metadata = resolve_metadata(state, &asset.metadata_cid).await?;
    match lacks_key(&metadata) {
        Some(holders) => Err(ApiError::NoKey { holders }),
        None => Ok(metadata),
    }
}

/// The metadata document `cid`, cached; hostile documents are [`ApiError::BadMetadata`].
pub(crate) async fn resolve_metadata(
    state: &ProviderState,
    cid: &str,
) -> Result<Arc<AssetMetadata>, ApiError> {
    if let Some(found) = state.metadata.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(cid) {
        return Ok(found.clone());
    }
    let bytes = state.storage.cat_to_vec(cid, MAX_METADATA_BYTES).await.map_err(|err| match err {
        StorageError::TooLarge { .. } => ApiError::BadMetadata("larger than allowed".into()),
        other => other.into(),
    })?;
    let metadata: AssetMetadata =
        serde_json::from_slice(&bytes).map_err(|err| ApiError::BadMetadata(err.to_string()))?;
    if let Some(encryption) = &metadata.content.encryption {
        encryption.validate().map_err(|err| ApiError::BadMetadata(err.to_string()))?;
        if encryption.plaintext_size != metadata.content.size {
            return Err(ApiError::BadMetadata("content size differs from the encrypted size".into()));
        }
    }
    let metadata = Arc::new(metadata);
    state
        .metadata
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(cid.to_owned(), metadata.clone());
    Ok(metadata)
}

/// The plaintext size, after checking that IPFS has content of the expected size.
async fn content_size(state: &ProviderState, content: &ContentRef) -> Result<u64, ApiError> {
    let stat = state.storage.stat(&content.cid).await?;
    let stored = match &content.encryption {
        Some(encryption) => encryption.ciphertext_size(),
        None => content.size,
    };
    if stat.size != stored {
        tracing::error!(cid = %content.cid, stat = stat.size, expected = stored, "content size mismatch");
        return Err(ApiError::DigestMismatch);
    }
    Ok(content.size)
}

/// `length` plaintext bytes from `start`, fetched (and decrypted) from IPFS.
async fn plaintext(
    state: &ProviderState,
    content: &ContentRef,
    start: u64,
    length: u64,
) -> Result<ByteStream, ApiError> {
    match &content.encryption {
        None => {
            if start == 0 && length == content.size {
                Ok(state.storage.cat(&content.cid, None))
            } else {
                Ok(state.storage.cat(&content.cid, Some((start, length))))
            }
        }
        Some(encryption) => {
            let secret = state.identity.secret();
            let key = encryption.content_key(state.address(), &secret.0).map_err(|err| match err {
                CryptoError::NotAKeyHolder(_) => ApiError::NoKey { holders: encryption.holders() },
                other => {
                    tracing::warn!(error = %other, cid = %content.cid, "unwrapping the content key failed");
                    ApiError::BadMetadata(format!(
                        "the content key wrapped for this provider does not unwrap with its key ({other})"
                    ))
                }
            })?;
            if length == 0 {
                return Ok(Box::pin(stream::empty()));
            }
            let end = start + length - 1;
            let (offset, cipher_length, first_chunk) = encryption.ciphertext_range(start, end);
            let ciphertext = state.storage.cat(&content.cid, Some((offset, cipher_length)));
            let skip = start - first_chunk * u64::from(encryption.chunk_size);
            encryption
                .decrypting_stream(&key, ciphertext, first_chunk, skip, length)
                .map_err(|err| ApiError::BadMetadata(err.to_string()))
        }
    }
}

/// Whether the content was checked against `digest` before (in memory, else in SQLite).
async fn is_verified(state: &ProviderState, content: &ContentRef, digest: B256) -> Result<bool, ApiError> {
    let key = (content.cid.clone(), digest);
    if state.verified.read().unwrap_or_else(std::sync::PoisonError::into_inner).contains_key(&key) {
        return Ok(true);
    }
    if !state.store.is_verified(&content.cid, digest).await? {
        return Ok(false);
    }
    state.verified.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, ());
    Ok(true)
}

/// Checks the whole content against `digest` once (remembered in memory and SQLite).
async fn ensure_verified(state: &ProviderState, content: &ContentRef, digest: B256) -> Result<(), ApiError> {
    if !is_verified(state, content, digest).await? {
        let whole =
            verify_digest(plaintext(state, content, 0, content.size).await?, content.cid.clone(), digest);
        whole.try_for_each(|_| async { Ok(()) }).await?;
        state.store.mark_verified(&content.cid, digest, now()).await?;
        let key = (content.cid.clone(), digest);
        state.verified.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, ());
    }
    Ok(())
}

/// Counts bytes, and once the last byte is handed to the connection records what the
/// download proved: a single-use order delivered through the content's last byte is served; a
/// full, digest-checked download verifies the content. (With `Content-Length` set the
/// connection may never poll the end of the stream, so completion is detected by length.)
/// However the response ends — complete, failed, or dropped because the client is gone — the
/// bytes it handed to the connection are added to a single-use order's total before the order
/// is released, so the next request on it is checked against the new total. (Bytes still
/// buffered by a connection that breaks count as sent: the allowance leaves room for that.)
fn finish_stream(
    state: Arc<ProviderState>,
    admitted: Admitted,
    inner: ByteStream,
    length: u64,
    reaches_end: bool,
    cid: String,
    full: bool,
) -> impl futures::Stream<Item = Result<bytes::Bytes, StorageError>> + Send + 'static {
    struct Run {
        state: Arc<ProviderState>,
        admitted: Option<Admitted>,
        inner: ByteStream,
        remaining: u64,
        sent: u64,
        reaches_end: bool,
        cid: String,
        full: bool,
    }
    impl Run {
        /// Records the bytes sent while the admission is still held: if the response is dropped
        /// meanwhile, `drop` records them instead (counting twice rather than not at all).
        async fn record(&mut self) {
            if let Some(admitted) = &self.admitted {
                record_sent(&self.state, admitted, self.sent).await;
            }
            self.sent = 0;
        }
    }
    impl Drop for Run {
        // Dropped before it ended: the client went away (or the server stopped) mid-response.
        fn drop(&mut self) {
            let Some(admitted) = self.admitted.take() else { return };
            let (state, sent) = (self.state.clone(), self.sent);
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    // The order is released (`admitted` dropped) only once its bytes are stored.
                    runtime.spawn(async move { record_sent(&state, &admitted, sent).await });
                }
                Err(_) => tracing::error!(sent, "no runtime to record a cut-off download's bytes"),
            }
        }
    }
    let run =
        Run { state, admitted: Some(admitted), inner, remaining: length, sent: 0, reaches_end, cid, full };
    stream::unfold(run, |mut run| async move {
        run.admitted.as_ref()?;
        if run.remaining == 0 {
            run.record().await;
            complete(&run.state, run.admitted.take()?, run.reaches_end, &run.cid, run.full).await;
            return None;
        }
        match run.inner.next().await {
            Some(Ok(chunk)) => {
                run.state.metrics.bytes_served.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                run.sent += chunk.len() as u64;
                run.remaining = run.remaining.saturating_sub(chunk.len() as u64);
                if run.remaining == 0 {
                    // Recorded before the last chunk goes out; the next poll ends the stream.
                    run.record().await;
                    if let Some(admitted) = run.admitted.take() {
                        complete(&run.state, admitted, run.reaches_end, &run.cid, run.full).await;
                    }
                }
                Some((Ok(chunk), run))
            }
            Some(Err(err)) => {
                Metrics::inc(&run.state.metrics.downloads_failed);
                tracing::warn!(error = %err, cid = %run.cid, "download failed mid-stream");
                run.record().await;
                run.admitted = None;
                Some((Err(err), run))
            }
            None => {
                // The source ended before `length` bytes: a short read is a failure.
                Metrics::inc(&run.state.metrics.downloads_failed);
                run.record().await;
                run.admitted = None;
                let err = StorageError::Protocol {
                    action: format!("stream {}", run.cid),
                    reason: format!("ended {} bytes early", run.remaining),
                };
                Some((Err(err), run))
            }
        }
    })
}

/// Adds what a response sent to its single-use order's total.
async fn record_sent(state: &ProviderState, admitted: &Admitted, sent: u64) {
    if let Some((token, order_id)) = admitted.admission.single_use
        && sent > 0
        && let Err(err) = state.store.add_order_bytes(token, order_id, sent, now()).await
    {
        tracing::error!(error = %err, %order_id, sent, "recording a single-use order's bytes failed");
    }
}

async fn complete(state: &ProviderState, admitted: Admitted, reaches_end: bool, cid: &str, full: bool) {
    let now = now();
    if reaches_end
        && let Some((token, order_id)) = admitted.admission.single_use
        && let Err(err) = state.store.mark_served(token, order_id, admitted.signer, now).await
    {
        tracing::error!(error = %err, "recording a served order failed");
    }
    if full {
        let digest = admitted.asset.content_digest;
        if state.store.mark_verified(cid, digest, now).await.is_ok() {
            state
                .verified
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert((cid.to_owned(), digest), ());
        }
    }
    Metrics::inc(&state.metrics.downloads_completed);
}

/// Starting the provider failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The deployment manifest could not be read.
    #[error(transparent)]
    Manifest(#[from] agora_contracts::ManifestError),
    /// A URL in the configuration is invalid.
    #[error("invalid {what} URL {url:?}")]
    Url {
        /// Which URL.
        what: &'static str,
        /// The value.
        url: String,
    },
    /// Kubo's client could not be built.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The database could not be opened.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The chain could not be read.
    #[error(transparent)]
    Chain(#[from] crate::chain::ChainError),
    /// A setting cannot be used.
    #[error("{0}")]
    Config(String),
    /// The node serves another chain than the manifest's.
    #[error("the RPC node is on chain {node}, the deployment manifest on chain {manifest}")]
    WrongChain {
        /// The node's chain id.
        node: u64,
        /// The manifest's chain id.
        manifest: u64,
    },
    /// Binding or serving failed.
    #[error("serving on {addr}: {source}")]
    Io {
        /// The listen address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Builds the provider's state from `config` (connecting to the chain, Kubo and SQLite).
pub async fn build_state(
    config: &crate::config::Config,
    signer: PrivateKeySigner,
) -> Result<Arc<ProviderState>, RunError> {
    let deployment = Deployment::read(&config.deployment)?;
    let rpc_url: alloy::transports::http::reqwest::Url =
        config.rpc_url.parse().map_err(|_| RunError::Url { what: "RPC", url: config.rpc_url.clone() })?;
    let limits = config.limits();
    let chain = ChainReader::new(rpc_url.clone(), &deployment, limits.asset_ttl);
    let node_chain = chain.chain_id().await?;
    if node_chain != deployment.chain_id {
        return Err(RunError::WrongChain { node: node_chain, manifest: deployment.chain_id });
    }
    let storage = Storage::new(&config.ipfs_api, config.ipfs_timeout())?;
    let store = Store::open(&config.database).await?;
    let jobs = config.jobs().map(|jobs_config| {
        Jobs::new(
            jobs_config,
            signer.clone(),
            deployment.chain_id,
            deployment.contracts.compute_market,
            agora_contracts::signing_provider(rpc_url, signer.clone()),
            storage.clone(),
            store.clone(),
        )
    });
    let state = ProviderState::new(
        Identity::new(signer),
        deployment.chain_id,
        deployment,
        chain,
        storage,
        store,
        limits,
    );
    if let Some(jobs) = jobs {
        state.enable_jobs(jobs);
    }
    Ok(state)
}

/// Runs the provider described by `config` until `shutdown` resolves.
pub async fn run(
    config: &crate::config::Config,
    signer: PrivateKeySigner,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let pinning = config.pinning.settings(&config.replication).map_err(RunError::Config)?;
    let state = build_state(config, signer).await?;
    let addr = config.listen.to_string();
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| RunError::Io { addr: addr.clone(), source })?;
    tracing::info!(provider = %state.address(), %addr, "provider listening");
    let store = state.store().clone();
    let workers = match state.jobs.get() {
        Some(jobs) => Some(jobs.start().await?),
        None => None,
    };
    let replicator = match config.replication.settings() {
        Some(settings) => Some(crate::replicate::Replicator::new(state.clone(), settings)?.spawn()),
        None => None,
    };
    let pinners = match pinning {
        Some(settings) => {
            let pinning = crate::pinning::Pinning::new(settings);
            state.enable_pinning(pinning.clone());
            crate::pinning::spawn_workers(state.clone(), pinning).await?
        }
        None => Vec::new(),
    };
    // Nonces are only needed until their requests expire.
    let pruner = tokio::spawn({
        let store = store.clone();
        async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                every.tick().await;
                if let Err(err) = store.prune_nonces(now()).await {
                    tracing::warn!(error = %err, "pruning expired nonces failed");
                }
            }
        }
    });
    let result = serve(listener, state, shutdown).await.map_err(|source| RunError::Io { addr, source });
    pruner.abort();
    for pinner in pinners {
        pinner.abort();
    }
    if let Some(replicator) = replicator {
        replicator.abort();
    }
    if let Some(workers) = workers {
        workers.abort();
    }
    store.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_use_order_is_sent_at_most_twice_its_content() {
        let order = U256::from(3);
        assert!(check_allowance(order, 0, 100, 100).is_ok(), "one full download");
        assert!(check_allowance(order, 60, 100, 100).is_ok(), "a full retry after an interruption");
        assert!(check_allowance(order, 199, 1, 100).is_ok(), "up to the allowance exactly");
        let refused = check_allowance(order, 199, 2, 100).unwrap_err();
        assert_eq!(refused.status(), StatusCode::GONE);
        assert_eq!(
            refused.to_string(),
            "order 3 has used its download allowance: 199 of 200 bytes served, 2 more requested"
        );
        assert!(check_allowance(order, 0, 0, 0).is_ok(), "empty content is still served once");
    }
}
