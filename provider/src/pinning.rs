//! The provider as a pinning service: the IPFS Pinning Service API (v1.0.0) at `/pinning`,
//! over the provider's own Kubo, so a publisher's Kubo can ask it to keep content with
//! `ipfs pin remote add` (and `agora asset publish` does, for the services its network names).
//!
//! - Access: `Authorization: Bearer <token>`, where the SHA-256 of the token is one the
//!   operator lists in `[pinning] tokens_sha256`. Each token sees and removes only its own
//!   requests, and holds at most `max_pins_per_token` of them.
//! - `POST /pins` queues a request and answers at once (`queued`, with this node's multiaddrs
//!   as `delegates`); `GET /pins/{requestid}`, `GET /pins` (filters `cid`, `name` with `match`,
//!   `status`, `before`, `after`, `meta`, `limit`, newest first; pages by the unique `created`),
//!   `POST /pins/{requestid}` (replace) and `DELETE /pins/{requestid}`.
//! - [`spawn_workers`] pin queued requests, oldest first: each dials the request's `origins`,
//!   refuses content whose root reports more than `[replication] max_asset_bytes`, and pins
//!   within `[replication] pin_timeout_secs` (`failed` with the reason in
//!   `info.status_details` otherwise). A request a restart interrupted is queued again.
//! - A removed or replaced request unpins its CID unless another request or the replicator
//!   ([`crate::replicate`]) still keeps it: a Kubo pin is one per CID, so the provider counts
//!   its holders itself.
//! - Refusals have the API's own shape, `{"error": {"reason": ..., "details": ...}}`, since
//!   Kubo is their reader.

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy::primitives::B256;
use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::{
    db::{DbError, NameMatch, NewPin, PinFilter, PinRow},
    server::ProviderState,
    storage::{Storage, sha256},
};

/// Longest pin name (the API's limit).
pub const MAX_NAME_CHARS: usize = 255;
/// Most origins one request may give.
pub const MAX_ORIGINS: usize = 20;
/// Most CIDs one `GET /pins` may filter by (the API's limit).
pub const MAX_CID_FILTERS: usize = 10;
/// Most `meta` entries one request may carry.
pub const MAX_META_ENTRIES: usize = 100;
/// Longest CID, multiaddr, `meta` key or value taken.
pub const MAX_FIELD_CHARS: usize = 2048;
/// Results per `GET /pins` page when `limit` is not given, and at most.
pub const DEFAULT_LIMIT: usize = 10;
/// The most one page may hold.
pub const MAX_LIMIT: usize = 1000;
/// How long dialing one origin may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// How the pinning service runs (from `[pinning]` and `[replication]`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The SHA-256 of each token accepted.
    pub tokens: HashSet<B256>,
    /// Requests one token may hold.
    pub max_pins_per_token: u64,
    /// Pins run at once.
    pub workers: usize,
    /// How long one pin may take.
    pub pin_timeout: Duration,
    /// Largest content pinned, bytes (its root's cumulative size).
    pub max_asset_bytes: u64,
}

/// The running service's shared part.
#[derive(Debug)]
pub struct Pinning {
    settings: Settings,
    /// Wakes the workers when a request is queued.
    queued: tokio::sync::Notify,
    /// This node's multiaddrs with its peer id, once Kubo told them.
    delegates: tokio::sync::OnceCell<Vec<String>>,
}

impl Pinning {
    /// The service with `settings`.
    pub fn new(settings: Settings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            queued: tokio::sync::Notify::new(),
            delegates: tokio::sync::OnceCell::new(),
        })
    }
}

/// A refusal in the API's shape.
#[derive(Debug)]
pub struct PinError {
    status: StatusCode,
    reason: &'static str,
    details: String,
}

impl PinError {
    fn bad(details: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, reason: "BAD_REQUEST", details: details.into() }
    }

    fn not_found(request_id: &str) -> Self {
        let shown: String = request_id.chars().take(80).collect();
        Self {
            status: StatusCode::NOT_FOUND,
            reason: "NOT_FOUND",
            details: format!("no pin request {shown:?} made with this token"),
        }
    }

    fn unauthorized(details: &str) -> Self {
        Self { status: StatusCode::UNAUTHORIZED, reason: "UNAUTHORIZED", details: details.to_owned() }
    }

    fn internal(err: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %err, "pinning service");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            reason: "INTERNAL_SERVER_ERROR",
            details: "the pinning service failed; try again".into(),
        }
    }
}

impl From<DbError> for PinError {
    fn from(err: DbError) -> Self {
        Self::internal(&err)
    }
}

impl IntoResponse for PinError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "reason": self.reason, "details": self.details } });
        (self.status, Json(body)).into_response()
    }
}

/// The routes, to nest at `/pinning`.
pub fn routes() -> Router<Arc<ProviderState>> {
    Router::new()
        .route("/pins", get(list).post(add))
        .route("/pins/{requestid}", get(status).post(replace).delete(remove))
}

/// The service and the SHA-256 of the request's token, or why not.
fn authorize(state: &ProviderState, headers: &HeaderMap) -> Result<(Arc<Pinning>, B256), PinError> {
    let Some(pinning) = state.pinning() else {
        return Err(PinError::unauthorized("this provider runs no pinning service (no [pinning] tokens)"));
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| PinError::unauthorized("send Authorization: Bearer <token>"))?;
    let owner = sha256(token.as_bytes());
    if !pinning.settings.tokens.contains(&owner) {
        return Err(PinError::unauthorized("this token is not accepted here"));
    }
    Ok((pinning, owner))
}

/// The `Pin` object of a request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinBody {
    cid: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    origins: Vec<String>,
    #[serde(default)]
    meta: BTreeMap<String, String>,
}

/// A checked `Pin` object, its lists serialized for the store.
struct CheckedPin {
    cid: String,
    name: Option<String>,
    origins: String,
    meta: String,
}

impl CheckedPin {
    /// The request to store, as `request_id`.
    fn with_id<'a>(&'a self, request_id: &'a str) -> NewPin<'a> {
        NewPin {
            request_id,
            cid: &self.cid,
            name: self.name.as_deref(),
            origins: &self.origins,
            meta: &self.meta,
        }
    }
}

/// Whether `cid` looks like a CID: CIDv0 (`Qm…`, base58btc) or a multibase CIDv1 in base32
/// (`b…`, what Kubo sends) or base36 (`k…`). Kubo decides the rest when it pins.
fn is_cid(cid: &str) -> bool {
    let base58 = |c: char| c.is_ascii_alphanumeric() && !matches!(c, '0' | 'O' | 'I' | 'l');
    match cid.as_bytes().first() {
        Some(b'Q') => cid.len() == 46 && cid.starts_with("Qm") && cid.chars().all(base58),
        Some(b'b') => {
            (8..=MAX_FIELD_CHARS).contains(&cid.len())
                && cid[1..].chars().all(|c| matches!(c, 'a'..='z' | '2'..='7'))
        }
        Some(b'k') => {
            (8..=MAX_FIELD_CHARS).contains(&cid.len())
                && cid[1..].chars().all(|c| matches!(c, 'a'..='z' | '0'..='9'))
        }
        _ => false,
    }
}

fn check_pin(body: &Bytes) -> Result<CheckedPin, PinError> {
    let pin: PinBody = serde_json::from_slice(body)
        .map_err(|err| PinError::bad(format!("the body is not a Pin object: {err}")))?;
    if !is_cid(&pin.cid) {
        return Err(PinError::bad(format!(
            "cid {:?} is not a CID",
            pin.cid.chars().take(80).collect::<String>()
        )));
    }
    if let Some(name) = &pin.name
        && name.chars().count() > MAX_NAME_CHARS
    {
        return Err(PinError::bad(format!("name is longer than {MAX_NAME_CHARS} characters")));
    }
    if pin.origins.len() > MAX_ORIGINS {
        return Err(PinError::bad(format!("more than {MAX_ORIGINS} origins")));
    }
    if let Some(origin) =
        pin.origins.iter().find(|origin| !origin.starts_with('/') || origin.len() > MAX_FIELD_CHARS)
    {
        return Err(PinError::bad(format!(
            "origin {:?} is not a multiaddr",
            origin.chars().take(80).collect::<String>()
        )));
    }
    if pin.meta.len() > MAX_META_ENTRIES {
        return Err(PinError::bad(format!("more than {MAX_META_ENTRIES} meta entries")));
    }
    if pin.meta.iter().any(|(key, value)| key.len() > MAX_FIELD_CHARS || value.len() > MAX_FIELD_CHARS) {
        return Err(PinError::bad(format!("a meta key or value is longer than {MAX_FIELD_CHARS} bytes")));
    }
    Ok(CheckedPin {
        cid: pin.cid,
        name: pin.name,
        origins: serde_json::to_string(&pin.origins).map_err(|err| PinError::internal(&err))?,
        meta: serde_json::to_string(&pin.meta).map_err(|err| PinError::internal(&err))?,
    })
}

/// Now, microseconds since the epoch.
fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// A fresh request id: 128 random bits, hex.
fn request_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The `PinStatus` object of `row`.
fn pin_status(row: &PinRow, delegates: &[String]) -> Value {
    let created = DateTime::<Utc>::from_timestamp_micros(row.created)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true);
    let origins: Value = serde_json::from_str(&row.origins).unwrap_or_else(|_| json!([]));
    let meta: Value = serde_json::from_str(&row.meta).unwrap_or_else(|_| json!({}));
    let mut pin = json!({ "cid": row.cid, "origins": origins, "meta": meta });
    if let Some(name) = &row.name {
        pin["name"] = json!(name);
    }
    let mut out = json!({
        "requestid": row.request_id,
        "status": row.status,
        "created": created,
        "pin": pin,
        "delegates": delegates,
    });
    if let Some(details) = &row.details {
        out["info"] = json!({ "status_details": details });
    }
    out
}

/// This node's multiaddrs that name its peer, for `delegates` (asked of Kubo once).
async fn delegates(state: &ProviderState, pinning: &Pinning) -> Vec<String> {
    pinning
        .delegates
        .get_or_try_init(|| async {
            let addresses = state.storage().addresses().await?;
            Ok::<_, crate::storage::StorageError>(
                addresses
                    .into_iter()
                    .filter(|a| a.contains("/p2p/") && !a.contains("/p2p-circuit"))
                    .collect(),
            )
        })
        .await
        .cloned()
        .unwrap_or_else(|err| {
            tracing::warn!(error = %err, "asking Kubo for its addresses");
            Vec::new()
        })
}

async fn add(
    State(state): State<Arc<ProviderState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PinError> {
    let (pinning, owner) = authorize(&state, &headers)?;
    let pin = check_pin(&body)?;
    let id = request_id();
    let row = state
        .store()
        .insert_pin(owner, &pin.with_id(&id), now_micros(), pinning.settings.max_pins_per_token)
        .await?
        .ok_or_else(|| PinError {
            status: StatusCode::TOO_MANY_REQUESTS,
            reason: "PIN_LIMIT_REACHED",
            details: format!(
                "this token holds {} pin requests, the most this provider keeps for one token; remove some",
                pinning.settings.max_pins_per_token
            ),
        })?;
    Ok(accepted(&state, &pinning, &row).await)
}

/// `202 Accepted` with the new request's status; the workers are woken for it.
async fn accepted(state: &ProviderState, pinning: &Pinning, row: &PinRow) -> Response {
    pinning.queued.notify_waiters();
    let delegates = delegates(state, pinning).await;
    (StatusCode::ACCEPTED, Json(pin_status(row, &delegates))).into_response()
}

async fn status(
    State(state): State<Arc<ProviderState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, PinError> {
    let (pinning, owner) = authorize(&state, &headers)?;
    let row = state.store().pin(owner, &id).await?.ok_or_else(|| PinError::not_found(&id))?;
    Ok(Json(pin_status(&row, &delegates(&state, &pinning).await)))
}

async fn replace(
    State(state): State<Arc<ProviderState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PinError> {
    let (pinning, owner) = authorize(&state, &headers)?;
    let pin = check_pin(&body)?;
    let new_id = request_id();
    let (added, removed) = state
        .store()
        .replace_pin(owner, &id, &pin.with_id(&new_id), now_micros())
        .await?
        .ok_or_else(|| PinError::not_found(&id))?;
    if removed.cid != added.cid {
        release(&state, &removed.cid).await;
    }
    Ok(accepted(&state, &pinning, &added).await)
}

async fn remove(
    State(state): State<Arc<ProviderState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, PinError> {
    let (_, owner) = authorize(&state, &headers)?;
    let removed = state.store().delete_pin(owner, &id).await?.ok_or_else(|| PinError::not_found(&id))?;
    release(&state, &removed.cid).await;
    Ok(StatusCode::ACCEPTED)
}

/// Unpins `cid` from the provider's Kubo unless a pin request or the replicator keeps it.
async fn release(state: &ProviderState, cid: &str) {
    match state.store().is_pin_requested(cid).await {
        Ok(false) if !state.is_kept(cid) => {
            if let Err(err) = state.storage().pin_rm(cid).await {
                // Not pinned (a failed or unfinished request): nothing to release.
                tracing::debug!(%cid, error = %err, "unpinning a released CID");
            }
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(%cid, error = %err, "checking who else keeps a CID; it stays pinned"),
    }
}

/// `GET /pins`' query.
fn parse_list_query(query: Option<&str>) -> Result<(PinFilter, BTreeMap<String, String>, usize), PinError> {
    let mut filter = PinFilter::default();
    let mut meta = BTreeMap::new();
    let mut limit = DEFAULT_LIMIT;
    let mut name = None;
    let mut how = NameMatch::Exact;
    let time = |key: &str, value: &str| -> Result<i128, PinError> {
        DateTime::parse_from_rfc3339(value)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
            .map(i128::from)
            .ok_or_else(|| PinError::bad(format!("{key} {value:?} is not an RFC 3339 timestamp")))
    };
    let list = |value: &str| {
        value.split(',').map(str::trim).filter(|part| !part.is_empty()).map(str::to_owned).collect::<Vec<_>>()
    };
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "cid" => filter.cids.extend(list(&value)),
            "name" => name = Some(value.into_owned()),
            "match" => {
                how = match value.as_ref() {
                    "exact" => NameMatch::Exact,
                    "iexact" => NameMatch::IExact,
                    "partial" => NameMatch::Partial,
                    "ipartial" => NameMatch::IPartial,
                    other => {
                        return Err(PinError::bad(format!(
                            "match {other:?}: one of exact, iexact, partial, ipartial"
                        )));
                    }
                }
            }
            "status" => {
                for status in list(&value) {
                    let known = crate::storage::REMOTE_PIN_STATUSES
                        .into_iter()
                        .find(|known| *known == status)
                        .ok_or_else(|| {
                            PinError::bad(format!(
                                "status {status:?}: one of queued, pinning, pinned, failed"
                            ))
                        })?;
                    filter.statuses.push(known);
                }
            }
            // created < before ⇔ created·1000 < before (ns): round up to a microsecond.
            "before" => {
                let nanos = time("before", &value)?;
                filter.before_micros =
                    Some(i64::try_from((nanos + 999).div_euclid(1000)).unwrap_or(i64::MAX));
            }
            "after" => {
                filter.after_micros =
                    Some(i64::try_from(time("after", &value)?.div_euclid(1000)).unwrap_or(i64::MAX))
            }
            "limit" => {
                limit =
                    value.parse().ok().filter(|limit| (1..=MAX_LIMIT).contains(limit)).ok_or_else(|| {
                        PinError::bad(format!("limit {value:?}: a number from 1 to {MAX_LIMIT}"))
                    })?;
            }
            "meta" => {
                meta = serde_json::from_str(&value)
                    .map_err(|_| PinError::bad("meta: a JSON object of strings, e.g. {\"app_id\":\"99\"}"))?;
            }
            other => {
                return Err(PinError::bad(format!(
                    "unknown query parameter {:?}",
                    other.chars().take(40).collect::<String>()
                )));
            }
        }
    }
    if filter.cids.len() > MAX_CID_FILTERS {
        return Err(PinError::bad(format!("at most {MAX_CID_FILTERS} CIDs per query")));
    }
    if let Some(bad) = filter.cids.iter().find(|cid| !is_cid(cid)) {
        return Err(PinError::bad(format!(
            "cid {:?} is not a CID",
            bad.chars().take(80).collect::<String>()
        )));
    }
    if let Some(name) = name {
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(PinError::bad(format!("name is longer than {MAX_NAME_CHARS} characters")));
        }
        filter.name = Some((name, how));
    }
    Ok((filter, meta, limit))
}

async fn list(
    State(state): State<Arc<ProviderState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, PinError> {
    let (pinning, owner) = authorize(&state, &headers)?;
    let (filter, meta, limit) = parse_list_query(query.as_deref())?;
    let mut rows = state.store().pins(owner, &filter).await?;
    if !meta.is_empty() {
        rows.retain(|row| {
            let held: BTreeMap<String, String> = serde_json::from_str(&row.meta).unwrap_or_default();
            meta.iter().all(|(key, value)| held.get(key) == Some(value))
        });
    }
    let delegates = delegates(&state, &pinning).await;
    let results: Vec<Value> = rows.iter().take(limit).map(|row| pin_status(row, &delegates)).collect();
    Ok(Json(json!({ "count": rows.len(), "results": results })))
}

/// Starts the workers that pin queued requests; at startup, requests a restart interrupted are
/// queued again.
pub async fn spawn_workers(
    state: Arc<ProviderState>,
    pinning: Arc<Pinning>,
) -> Result<Vec<JoinHandle<()>>, crate::storage::StorageError> {
    match state.store().requeue_pins().await {
        Ok(0) => {}
        Ok(requeued) => tracing::info!(requeued, "pin requests interrupted by the restart queued again"),
        Err(err) => tracing::warn!(error = %err, "requeueing interrupted pin requests"),
    }
    let storage = Storage::new(state.storage().api_url(), pinning.settings.pin_timeout)?;
    let dialer = Storage::new(state.storage().api_url(), DIAL_TIMEOUT)?;
    Ok((0..pinning.settings.workers.max(1))
        .map(|_| {
            let (state, pinning) = (state.clone(), pinning.clone());
            let (storage, dialer) = (storage.clone(), dialer.clone());
            tokio::spawn(async move {
                loop {
                    let woken = pinning.queued.notified();
                    match state.store().claim_pin().await {
                        Ok(Some(row)) => pin_one(&state, &pinning, &storage, &dialer, &row).await,
                        Ok(None) => {
                            // New requests wake the workers; the timer covers a missed wake-up.
                            let _ = tokio::time::timeout(Duration::from_secs(5), woken).await;
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "taking a queued pin request");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            })
        })
        .collect())
}

/// Pins one claimed request (through `storage`, after dialing its origins through `dialer`)
/// and records how it ended.
async fn pin_one(
    state: &ProviderState,
    pinning: &Pinning,
    storage: &Storage,
    dialer: &Storage,
    row: &PinRow,
) {
    let origins: Vec<String> = serde_json::from_str(&row.origins).unwrap_or_default();
    for origin in origins.iter().filter(|origin| origin.contains("/p2p/")) {
        if let Err(err) = dialer.connect(origin).await {
            tracing::debug!(%origin, error = %err, "dialing a pin request's origin");
        }
    }
    let outcome = async {
        let size = storage.stat(&row.cid).await.map_err(|err| err.to_string())?.cumulative_size;
        let max = pinning.settings.max_asset_bytes;
        if size > max {
            return Err(format!(
                "the content is {size} bytes; this provider keeps at most {max} (max_asset_bytes)"
            ));
        }
        storage.pin_add(&row.cid).await.map_err(|err| err.to_string())
    }
    .await;
    let (pinned, details) = match &outcome {
        Ok(()) => (true, None),
        Err(why) => (false, Some(why.as_str())),
    };
    match state.store().finish_pin(&row.request_id, pinned, details).await {
        Ok(true) => {
            tracing::info!(cid = %row.cid, request = %row.request_id, pinned, details, "pin request done")
        }
        // Removed or replaced while it was pinned.
        Ok(false) if pinned => release(state, &row.cid).await,
        Ok(false) => {}
        Err(err) => {
            tracing::warn!(request = %row.request_id, error = %err, "recording a pin request's outcome")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cids_are_told_from_what_is_not_one() {
        assert!(is_cid("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"));
        assert!(is_cid("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"));
        assert!(is_cid("k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8"));
        for bad in [
            "",
            "b",
            "bafy!",
            "Qm0000",
            "../etc/passwd",
            "BAFY",
            "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdl",
        ] {
            assert!(!is_cid(bad), "{bad:?}");
        }
    }

    #[test]
    fn list_queries_are_read_as_kubo_writes_them_and_refused_otherwise() {
        let (filter, meta, limit) = parse_list_query(Some(
            "cid=bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy&limit=1000&status=queued%2Cpinning%2Cpinned%2Cfailed\
             &before=2026-12-07T16%3A00%3A00.000001500Z&name=x&match=ipartial&meta=%7B%22a%22%3A%22b%22%7D",
        ))
        .unwrap_or_else(|err| panic!("{err:?}"));
        assert_eq!(filter.cids.len(), 1);
        assert_eq!(filter.statuses, ["queued", "pinning", "pinned", "failed"]);
        assert_eq!(limit, 1000);
        assert_eq!(meta.get("a").map(String::as_str), Some("b"));
        assert_eq!(filter.name, Some(("x".into(), NameMatch::IPartial)));
        // 1.5 µs: created values of 1 µs pass, 2 µs do not.
        let base = DateTime::parse_from_rfc3339("2026-12-07T16:00:00Z")
            .map(|t| t.timestamp_micros())
            .unwrap_or_default();
        assert_eq!(filter.before_micros, Some(base + 2));
        let (filter, _, _) = parse_list_query(Some("before=2026-12-07T16%3A00%3A00.000001Z"))
            .unwrap_or_else(|err| panic!("{err:?}"));
        assert_eq!(filter.before_micros, Some(base + 1), "a whole microsecond is its own bound");
        for bad in [
            "limit=0",
            "limit=1001",
            "limit=x",
            "status=done",
            "match=regex",
            "before=yesterday",
            "meta=[1]",
            "cid=nope",
            "color=red",
        ] {
            let refused = parse_list_query(Some(bad)).err().unwrap_or_else(|| panic!("{bad} accepted"));
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        let eleven = ["cid=bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"; 11].join("&");
        assert!(parse_list_query(Some(&eleven)).is_err());
    }
}
