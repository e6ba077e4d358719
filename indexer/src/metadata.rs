//! Asset metadata from IPFS: each CID an asset names is fetched once (through a
//! [`MetadataFetcher`], in production Kubo's RPC API), with a timeout; the JSON document and a
//! full-text vector of its strings are stored, or the failure is recorded so a bad CID never
//! stalls the indexer. Failed CIDs are tried again with exponential backoff, a bounded number
//! of times (a document added to IPFS after its asset was indexed, a Kubo that hung).

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

/// How failed fetches are retried: attempt `n` (1-based) that fails waits
/// `base * 2^(n-1)`, capped at `max_delay`, before the next; after `max_attempts` the failure
/// is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Wait after the first failure.
    pub base: Duration,
    /// Longest wait between attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 6, base: Duration::from_secs(30), max_delay: Duration::from_secs(3_600) }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based), or `None` when it was the last.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        Some(self.base.saturating_mul(factor).min(self.max_delay))
    }
}

/// What one pass of [`fetch_pending`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FetchReport {
    /// Documents stored.
    pub fetched: usize,
    /// Failures recorded (retries included).
    pub failed: usize,
}

/// Fetches up to `limit` metadata CIDs that assets name and that were never tried, or whose
/// last failure's backoff has passed; a failure is recorded with its attempt count and, while
/// `policy` allows another attempt, when to try again.
pub async fn fetch_pending(
    pool: &PgPool,
    fetcher: &impl MetadataFetcher,
    policy: &RetryPolicy,
    limit: i64,
) -> Result<FetchReport, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT cid, attempts FROM (
           SELECT DISTINCT a.metadata_cid AS cid, 0 AS attempts FROM assets a
           WHERE NOT EXISTS (SELECT 1 FROM asset_metadata m WHERE m.cid = a.metadata_cid)
           UNION ALL
           SELECT cid, attempts FROM asset_metadata
           WHERE status = 'failed' AND next_attempt_at <= now()
         ) due
         LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut report = FetchReport::default();
    for row in rows {
        let cid: String = row.get(0);
        let attempt = u32::try_from(row.get::<i32, _>(1)).unwrap_or(0).saturating_add(1);
        let result = match fetcher.fetch(&cid).await {
            Ok(bytes) => parse_document(&cid, &bytes),
            Err(err) => Err(err),
        };
        match result {
            Ok(document) => {
                sqlx::query(
                    "INSERT INTO asset_metadata (cid, status, document, search, attempts)
                     VALUES ($1, 'ok', $2, jsonb_to_tsvector('simple', $2, '[\"string\"]'), $3)
                     ON CONFLICT (cid) DO UPDATE SET status = 'ok', document = EXCLUDED.document,
                       search = EXCLUDED.search, error = NULL, attempts = EXCLUDED.attempts,
                       next_attempt_at = NULL, fetched_at = now()
                     WHERE asset_metadata.status = 'failed'",
                )
                .bind(&cid)
                .bind(&document)
                .bind(i32::try_from(attempt).unwrap_or(i32::MAX))
                .execute(pool)
                .await?;
                tracing::info!(cid, attempt, "metadata fetched");
                report.fetched += 1;
            }
            Err(err) => {
                let retry = policy.delay_after(attempt);
                match retry {
                    Some(delay) => {
                        tracing::warn!(cid, attempt, retry_in = ?delay, error = %err, "metadata fetch failed")
                    }
                    None => tracing::warn!(cid, attempt, error = %err, "metadata fetch failed; giving up"),
                }
                let retry_ms = retry.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                sqlx::query(
                    "INSERT INTO asset_metadata (cid, status, error, attempts, next_attempt_at)
                     VALUES ($1, 'failed', $2, $3, now() + $4 * interval '1 millisecond')
                     ON CONFLICT (cid) DO UPDATE SET error = EXCLUDED.error, attempts = EXCLUDED.attempts,
                       next_attempt_at = EXCLUDED.next_attempt_at, fetched_at = now()
                     WHERE asset_metadata.status = 'failed'",
                )
                .bind(&cid)
                .bind(err.to_string())
                .bind(i32::try_from(attempt).unwrap_or(i32::MAX))
                .bind(retry_ms)
                .execute(pool)
                .await?;
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// Fetches pending metadata every `interval` until `shutdown` turns true: the task `run`
/// keeps beside the sync, so a slow or absent Kubo never holds up indexing.
pub async fn follow(
    pool: PgPool,
    fetcher: impl MetadataFetcher,
    policy: RetryPolicy,
    interval: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        match fetch_pending(&pool, &fetcher, &policy, 32).await {
            // A full pass may have left more behind: go on at once.
            Ok(report) if report.fetched + report.failed >= 32 => continue,
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "metadata pass failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {},
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
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

    #[test]
    fn retries_back_off_and_stop() {
        let policy =
            RetryPolicy { max_attempts: 4, base: Duration::from_secs(1), max_delay: Duration::from_secs(3) };
        assert_eq!(policy.delay_after(1), Some(Duration::from_secs(1)));
        assert_eq!(policy.delay_after(2), Some(Duration::from_secs(2)));
        assert_eq!(policy.delay_after(3), Some(Duration::from_secs(3)));
        assert_eq!(policy.delay_after(4), None);
        let long = RetryPolicy { max_attempts: 100, ..policy };
        assert_eq!(long.delay_after(60), Some(Duration::from_secs(3)));
    }
}
