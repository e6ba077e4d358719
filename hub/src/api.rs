//! The JSON the page scripts ask the hub for, under `/api/`: where the deployment is and how far
//! the indexer has come (to await a transaction's indexing instead of guessing), and a revert
//! explained with the protocol's one table of sentences ([`agora_contracts::words`]), so the page
//! says what the CLI says.

use agora_contracts::{
    Revert,
    words::{self, Units},
};
use alloy::primitives::hex;
use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use crate::Hub;

/// Longest revert data explained: a custom error with a few words of arguments, with room to
/// spare (the body limit of the whole hub is 16 KiB).
const MAX_REVERT_BYTES: usize = 4096;
/// Longest currency symbol taken from a page.
const MAX_SYMBOL_CHARS: usize = 32;

/// `GET /api/status`: the indexer's status (chain, contracts, indexed block) and the provider the
/// hub sends downloads to.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HubStatus {
    #[serde(flatten)]
    indexer: agora_api::Status,
    /// The provider pages download from and submit jobs to; null when the hub has none.
    provider: Option<String>,
}

pub(crate) async fn status(State(hub): State<Hub>) -> Result<Json<HubStatus>, ApiError> {
    let indexer = hub.api().status().await.map_err(|err| ApiError::Indexer(err.to_string()))?;
    Ok(Json(HubStatus { indexer, provider: hub.provider().map(str::to_owned) }))
}

/// One provider the page may download an asset from, in the order it tries them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DownloadProvider {
    /// Its URL, without a trailing slash.
    endpoint: String,
    /// Its address on the ComputeMarket; null for the hub's own provider when it is not an
    /// active registered one holding the key (the page reads its address from `/v1/info`).
    address: Option<String>,
    /// Whether it answered `/health` within two seconds; null when not asked.
    healthy: Option<bool>,
}

/// `GET /api/assets/{id}/providers`: where the page downloads asset `id` from, in the order it
/// tries them when one does not answer: the hub's own provider (when it has one), then the
/// active providers that hold the asset's key (every one, for a public asset), ranked as every
/// surface ranks them ([`agora_client::provider::rank`]: answering `/health` first, then the
/// largest stake; the indexer lists providers by address, which breaks the remaining ties).
pub(crate) async fn asset_providers(
    State(hub): State<Hub>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<Vec<DownloadProvider>>, ApiError> {
    if id.is_empty() || id.len() > 78 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::BadRequest("the asset id must be decimal digits".into()));
    }
    let all = agora_api::ListQuery::page(None, 100);
    let (asset, providers) =
        tokio::try_join!(hub.api().asset(&id), hub.api().providers(&all)).map_err(|err| match err {
            agora_api::ClientError::Api { status: 404, .. } => ApiError::NotFound(format!("no asset {id}")),
            err => ApiError::Indexer(err.to_string()),
        })?;
    let holders: Option<Vec<alloy::primitives::Address>> = match asset.asset.encrypted {
        Some(true) => Some(
            asset
                .asset
                .key_holders
                .unwrap_or_default()
                .iter()
                .filter_map(|holder| holder.parse().ok())
                .collect(),
        ),
        _ => None,
    };
    let active = providers
        .items
        .into_iter()
        .filter(|provider| provider.active)
        .filter_map(|provider| {
            Some(agora_client::keys::ActiveProvider {
                address: provider.provider.parse().ok()?,
                endpoint: provider.endpoint,
                stake: provider.stake.parse().ok()?,
            })
        })
        .collect();
    let ranked = agora_client::provider::rank(active, holders.as_deref()).await;
    let mut order: Vec<DownloadProvider> = hub
        .provider()
        .map(|own| DownloadProvider {
            endpoint: own.trim_end_matches('/').to_owned(),
            address: None,
            healthy: None,
        })
        .into_iter()
        .collect();
    for candidate in ranked {
        // Paths are appended to it.
        let entry = DownloadProvider {
            endpoint: candidate.endpoint.trim_end_matches('/').to_owned(),
            address: Some(candidate.address.to_string()),
            healthy: Some(candidate.healthy),
        };
        match order.iter_mut().find(|known| known.endpoint == entry.endpoint) {
            Some(own) => *own = entry,
            None => order.push(entry),
        }
    }
    Ok(Json(order))
}

/// `POST /api/revert` body: revert data and the currency amounts in it are written in.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RevertQuery {
    /// 0x-prefixed hex revert data (selector and arguments).
    data: String,
    /// The currency's ticker (default ETH).
    symbol: Option<String>,
    /// Its decimals (default 18).
    decimals: Option<u8>,
}

/// What `/api/revert` answers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Explained {
    /// The sentence, or the decoded error when the table has none; null when no contract of the
    /// protocol declares the error (the page then shows what its wallet library decoded).
    message: Option<String>,
}

pub(crate) async fn revert(
    body: Result<Json<RevertQuery>, JsonRejection>,
) -> Result<Json<Explained>, ApiError> {
    let Json(query) = body.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let hex_data = query.data.trim();
    if hex_data.len() > 2 + 2 * MAX_REVERT_BYTES {
        return Err(ApiError::BadRequest(format!("revert data longer than {MAX_REVERT_BYTES} bytes")));
    }
    let data =
        hex::decode(hex_data).map_err(|_| ApiError::BadRequest("`data` is not 0x-prefixed hex".into()))?;
    let symbol = query.symbol.unwrap_or_else(|| "ETH".into());
    if symbol.is_empty() || symbol.chars().count() > MAX_SYMBOL_CHARS || symbol.chars().any(char::is_control)
    {
        return Err(ApiError::BadRequest(format!(
            "`symbol` must be 1 to {MAX_SYMBOL_CHARS} printable characters"
        )));
    }
    let units = Units { symbol, decimals: query.decimals.unwrap_or(18) };
    let message = Revert::decode(&data).map(|revert| words::describe(&revert, &units));
    Ok(Json(Explained { message }))
}

/// Longest dispute reason taken from a page, in characters.
const MAX_REASON_CHARS: usize = 2000;

/// `POST /api/disputes/reason` body: why a job's posted result is wrong.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DisputeReason {
    /// The job, in decimal digits.
    job_id: String,
    /// The challenger's words.
    reason: String,
}

/// What `/api/disputes/reason` answers: the CID `ComputeMarket.dispute` names.
#[derive(Debug, Serialize)]
pub(crate) struct Added {
    cid: String,
}

/// `POST /api/disputes/reason`: puts a dispute's reason on IPFS as the CLI's `agora job dispute`
/// does (`{"jobId": "…", "reason": "…"}`), so the page can name its CID on chain. Only this
/// small document is taken: the hub is not an open pinning service.
pub(crate) async fn dispute_reason(
    State(hub): State<Hub>,
    body: Result<Json<DisputeReason>, JsonRejection>,
) -> Result<(StatusCode, Json<Added>), ApiError> {
    let Json(body) = body.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let job_id = body.job_id.trim();
    if job_id.is_empty() || job_id.len() > 78 || !job_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::BadRequest("`jobId` must be a job id in decimal digits".into()));
    }
    let reason = body.reason.trim();
    let printable = |c: char| !c.is_control() || c == '\n' || c == '\t';
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS || !reason.chars().all(printable) {
        return Err(ApiError::BadRequest(format!(
            "the reason must be 1 to {MAX_REASON_CHARS} printable characters"
        )));
    }
    let ipfs = hub.ipfs().ok_or(ApiError::NoIpfs)?;
    let document = serde_json::json!({ "jobId": job_id, "reason": reason });
    let bytes = serde_json::to_vec_pretty(&document).unwrap_or_default();
    let added = ipfs.add_bytes(bytes).await.map_err(|err| ApiError::Ipfs(err.to_string()))?;
    Ok((StatusCode::CREATED, Json(Added { cid: added.cid })))
}

/// A failed `/api/` request: a status and `{"error": "..."}`.
#[derive(Debug)]
pub(crate) enum ApiError {
    BadRequest(String),
    NotFound(String),
    Indexer(String),
    /// The hub was started without Kubo.
    NoIpfs,
    Ipfs(String),
    /// What the hub was asked for is turned off here.
    Unavailable(String),
    /// An upload over the hub's limit, in bytes.
    TooLarge(u64),
    /// The network's pinning services did not keep a new asset.
    Pinning(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error) = match self {
            Self::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            Self::NotFound(message) => (StatusCode::NOT_FOUND, message),
            Self::Indexer(message) => (StatusCode::BAD_GATEWAY, format!("the indexer failed: {message}")),
            Self::NoIpfs => (
                StatusCode::SERVICE_UNAVAILABLE,
                "this hub has no IPFS node to put the document on (its operator sets one with `agora hub --ipfs-api URL`)"
                    .to_owned(),
            ),
            Self::Ipfs(message) => (StatusCode::BAD_GATEWAY, format!("IPFS failed: {message}")),
            Self::Unavailable(message) => (StatusCode::SERVICE_UNAVAILABLE, message),
            Self::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the upload is larger than this hub takes ({limit} bytes)"),
            ),
            Self::Pinning(message) => (
                StatusCode::BAD_GATEWAY,
                format!("{message}; so nothing was sent to your wallet (no new asset or version)"),
            ),
        };
        (status, Json(serde_json::json!({ "error": error }))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use agora_contracts::marketplace::Marketplace;
    use alloy::{
        primitives::{U256, hex},
        sol_types::SolError,
    };
    use serde_json::{Value, json};

    use super::*;

    async fn explain(body: Value) -> Result<Option<String>, String> {
        let query: RevertQuery = serde_json::from_value(body).map_err(|err| err.to_string())?;
        match revert(Ok(Json(query))).await {
            Ok(Json(explained)) => Ok(explained.message),
            Err(
                ApiError::BadRequest(message)
                | ApiError::NotFound(message)
                | ApiError::Indexer(message)
                | ApiError::Ipfs(message),
            ) => Err(message),
            Err(ApiError::NoIpfs) => Err("no IPFS".into()),
            Err(ApiError::Unavailable(message)) => Err(message),
            Err(ApiError::TooLarge(limit)) => Err(format!("too large: {limit}")),
            Err(ApiError::Pinning(message)) => Err(message),
        }
    }

    fn price_above_max() -> String {
        let error = Marketplace::Marketplace__PriceAboveMax {
            assetId: U256::from(1),
            price: U256::from(2_000_000),
            maxPrice: U256::from(1_000_000),
        };
        hex::encode_prefixed(error.abi_encode())
    }

    #[tokio::test]
    async fn a_protocol_revert_reads_as_the_clis_sentence_in_the_pages_currency() {
        let message = explain(json!({ "data": price_above_max(), "symbol": "mUSD", "decimals": 6 })).await;
        assert_eq!(message, Ok(Some("price changed: you allowed 1 mUSD, it is now 2 mUSD".into())));
        // Without units, amounts are ETH (as the CLI's default).
        let message = explain(json!({ "data": price_above_max() })).await;
        assert!(message.is_ok_and(|m| m.is_some_and(|m| m.ends_with("ETH"))));
    }

    #[tokio::test]
    async fn data_no_contract_declares_has_no_message() {
        assert_eq!(explain(json!({ "data": "0xdeadbeef" })).await, Ok(None));
        assert_eq!(explain(json!({ "data": "0x" })).await, Ok(None));
    }

    #[tokio::test]
    async fn wrong_hostile_and_oversized_input_is_refused_with_a_reason() {
        let cases = [
            (json!({ "data": "not hex" }), "hex"),
            (json!({ "data": format!("0x{}", "00".repeat(MAX_REVERT_BYTES + 1)) }), "longer than"),
            (json!({ "data": price_above_max(), "symbol": "" }), "symbol"),
            (json!({ "data": price_above_max(), "symbol": "x".repeat(33) }), "symbol"),
            (json!({ "data": price_above_max(), "symbol": "ET\u{0}H" }), "symbol"),
            (json!({ "data": price_above_max(), "decimals": 300 }), "expected u8"),
            (json!({ "data": price_above_max(), "extra": 1 }), "unknown field"),
            (json!({ "symbol": "ETH" }), "missing field `data`"),
        ];
        for (body, needle) in cases {
            let result = explain(body.clone()).await;
            assert!(result.as_ref().is_err_and(|m| m.contains(needle)), "{body}: {result:?}");
        }
    }
}
