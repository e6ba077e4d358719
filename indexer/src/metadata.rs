//! Asset metadata from IPFS: each CID an asset names is fetched once (through a
//! [`MetadataFetcher`], in production Kubo's RPC API), with a timeout; the JSON document and a
//! full-text vector of its strings are stored, or the failure is recorded so a bad CID never
//! stalls the indexer.

use std::{future::Future, time::Duration};

use alloy::transports::http::reqwest;
use serde_json::Value;
use sqlx::{PgPool, Row};

/// Fetching one document failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request failed, timed out or got an error status.
    #[error("fetching {cid}: {message}")]
    Request {
        /// The CID.
        cid: String,
        /// What went wrong.
        message: String,
    },
    /// The content is not a JSON object.
    #[error("{cid} is not a JSON object: {message}")]
    NotJson {
        /// The CID.
        cid: String,
        /// Why it does not parse.
        message: String,
    },
}

/// Where metadata documents come from.
pub trait MetadataFetcher: Send + Sync {
    /// The raw bytes stored under `cid`.
    fn fetch(&self, cid: &str) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send;
}

/// Kubo's RPC API: `POST /api/v0/cat?arg=<cid>`.
#[derive(Debug, Clone)]
pub struct KuboFetcher {
    client: reqwest::Client,
    api: String,
    max_bytes: usize,
}

impl KuboFetcher {
    /// A fetcher for the Kubo RPC API at `api` (e.g. `http://127.0.0.1:5001`), giving up on a
    /// document after `timeout`.
    pub fn new(api: impl Into<String>, timeout: Duration) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder().timeout(timeout).build().map_err(|err| {
            FetchError::Request { cid: String::new(), message: format!("building the HTTP client: {err}") }
        })?;
        Ok(Self { client, api: api.into().trim_end_matches('/').to_owned(), max_bytes: 1 << 20 })
    }
}

impl MetadataFetcher for KuboFetcher {
    async fn fetch(&self, cid: &str) -> Result<Vec<u8>, FetchError> {
        let err = |message: String| FetchError::Request { cid: cid.to_owned(), message };
        let mut url =
            reqwest::Url::parse(&format!("{}/api/v0/cat", self.api)).map_err(|e| err(e.to_string()))?;
        url.query_pairs_mut().append_pair("arg", cid).append_pair("length", &self.max_bytes.to_string());
        let response = self.client.post(url).send().await.map_err(|e| err(e.to_string()))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(err(format!("{status}: {}", body.chars().take(200).collect::<String>())));
        }
        Ok(response.bytes().await.map_err(|e| err(e.to_string()))?.to_vec())
    }
}

/// Parses a metadata document: it must be a JSON object.
pub fn parse_document(cid: &str, bytes: &[u8]) -> Result<Value, FetchError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(FetchError::NotJson { cid: cid.to_owned(), message: "not an object".into() }),
        Err(err) => Err(FetchError::NotJson { cid: cid.to_owned(), message: err.to_string() }),
    }
}

/// What one pass of [`fetch_pending`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FetchReport {
    /// Documents stored.
    pub fetched: usize,
    /// Failures recorded.
    pub failed: usize,
}

/// Fetches up to `limit` metadata CIDs that assets name and that were never tried.
pub async fn fetch_pending(
    pool: &PgPool,
    fetcher: &impl MetadataFetcher,
    limit: i64,
) -> Result<FetchReport, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT DISTINCT a.metadata_cid FROM assets a
         WHERE NOT EXISTS (SELECT 1 FROM asset_metadata m WHERE m.cid = a.metadata_cid)
         LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut report = FetchReport::default();
    for row in rows {
        let cid: String = row.get(0);
        let result = match fetcher.fetch(&cid).await {
            Ok(bytes) => parse_document(&cid, &bytes),
            Err(err) => Err(err),
        };
        match result {
            Ok(document) => {
                sqlx::query(
                    "INSERT INTO asset_metadata (cid, status, document, search, attempts)
                     VALUES ($1, 'ok', $2, jsonb_to_tsvector('simple', $2, '[\"string\"]'), 1)
                     ON CONFLICT (cid) DO NOTHING",
                )
                .bind(&cid)
                .bind(&document)
                .execute(pool)
                .await?;
                report.fetched += 1;
            }
            Err(err) => {
                tracing::warn!(cid, error = %err, "metadata fetch failed");
                sqlx::query(
                    "INSERT INTO asset_metadata (cid, status, error, attempts) VALUES ($1, 'failed', $2, 1)
                     ON CONFLICT (cid) DO NOTHING",
                )
                .bind(&cid)
                .bind(err.to_string())
                .execute(pool)
                .await?;
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_must_be_json_objects() {
        assert!(parse_document("c", br#"{"name":"x"}"#).is_ok());
        assert!(matches!(parse_document("c", b"[1]"), Err(FetchError::NotJson { .. })));
        assert!(matches!(parse_document("c", b"not json"), Err(FetchError::NotJson { .. })));
    }
}
