//! Asset metadata from IPFS: each CID an asset names is fetched once (through a
//! [`MetadataFetcher`], in production Kubo's RPC API), with a timeout; the JSON document, what
//! is derived from it ([`Derived`]: a bounded full-text vector of its human fields, whether the
//! content is encrypted, the wrapped keys' holders, the license and tags the catalogue filters
//! and counts, the [`Lineage`] of an asset published from a compute job's output) are stored, or the failure is recorded so a bad CID never stalls the
//! indexer.
//!
//! Every CID's outcome is its own: a document that cannot be fetched, parsed or stored is
//! recorded as a failure of that CID, with its reason and attempt count, and the pass goes on
//! with the next one. Failures that cannot succeed on a retry ([`FetchError::is_permanent`]:
//! not a valid CID ([`check_cid`]: e.g. one whose NUL the decoder replaced), not JSON, not an
//! object, nested too deep, too large, a NUL character, refused by PostgreSQL) are final at
//! once; the others (a document added to IPFS after its asset was
//! indexed, a Kubo that hung) are tried again with exponential backoff, a bounded number of
//! times.
//!
//! NUL characters (`\u0000`) are refused, not stripped: PostgreSQL's `jsonb` cannot store them,
//! and a stripped document would no longer be the one its CID names.

use std::{future::Future, time::Duration};

use agora_ipfs::{Storage, StorageError};
use alloy::primitives::{Address, B256, U256};
use serde_json::{Map, Value};
use sqlx::{PgConnection, PgPool};

/// Largest metadata document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// Deepest nesting of arrays and objects accepted in a document (the document itself is 1).
pub const MAX_DEPTH: usize = 64;
/// Most bytes of text the search vector of a document is built from.
pub const MAX_SEARCH_TEXT: usize = 16 * 1024;
/// Most bytes of text one field contributes to the search text, so a long description leaves
/// room for the fields after it.
pub const MAX_FIELD_TEXT: usize = 4 * 1024;
/// Longest failure reason stored.
const MAX_ERROR_CHARS: usize = 1_000;
/// The version of [`derive`] whose results are stored; rows derived by an older one are
/// derived again from their stored document. 2: the [`Lineage`]; 3: the license and tags.
pub const DERIVED_VERSION: i32 = 3;
/// Most input assets of one `derivedFrom` recorded; the others are ignored.
pub const MAX_LINEAGE_INPUTS: usize = 16;
/// Most tags of a document the catalogue filters and counts (as many as `agora asset publish`
/// takes); the others are ignored.
pub const MAX_TAGS: usize = 20;
/// Longest tag the catalogue filters and counts, in bytes (`agora asset publish` takes 32
/// characters); longer ones are ignored.
pub const MAX_TAG_BYTES: usize = 64;
/// Longest license the catalogue filters and counts, in bytes; a longer one is ignored. With
/// [`MAX_TAGS`] and [`MAX_TAG_BYTES`] this keeps what the catalogue reads of a document small
/// enough for one B-tree index entry beside its CID (`asset_metadata_facets`, at most 2704
/// bytes), whatever the document holds.
pub const MAX_LICENSE_BYTES: usize = 128;

/// Fetching, checking or storing one document failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request failed, timed out or got an error status: worth another attempt.
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
    /// The content is JSON but not a document the indexer stores: too large, nested too deep,
    /// or holding a NUL character.
    #[error("{cid} is refused: {reason}")]
    Refused {
        /// The CID.
        cid: String,
        /// Why.
        reason: String,
    },
    /// The CID is not the text of a CID at all ([`check_cid`]), so it is never asked for.
    #[error("{cid:?} is not a valid CID: {reason}")]
    InvalidCid {
        /// The CID as the chain has it.
        cid: String,
        /// What no CID can contain.
        reason: String,
    },
    /// PostgreSQL refused to store the document.
    #[error("storing {cid}: {message}")]
    Store {
        /// The CID.
        cid: String,
        /// The database's message.
        message: String,
    },
}

impl FetchError {
    /// Whether another attempt would fail the same way: the same CID always names the same
    /// bytes, so only a failed request is worth retrying.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Request { .. })
    }
}

/// Where metadata documents come from.
pub trait MetadataFetcher: Send + Sync {
    /// The raw bytes stored under `cid`.
    fn fetch(&self, cid: &str) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send;
}

/// Kubo's RPC API, through the workspace's one IPFS client ([`agora_ipfs::Storage`]).
#[derive(Debug, Clone)]
pub struct KuboFetcher {
    storage: Storage,
    max_bytes: usize,
}

impl KuboFetcher {
    /// A fetcher for the Kubo RPC API at `api` (e.g. `http://127.0.0.1:5001`), giving up on a
    /// document when Kubo is silent for `timeout`.
    pub fn new(api: impl Into<String>, timeout: Duration) -> Result<Self, FetchError> {
        let storage = Storage::new(&api.into(), timeout)
            .map_err(|err| FetchError::Request { cid: String::new(), message: err.to_string() })?;
        Ok(Self { storage, max_bytes: MAX_DOCUMENT_BYTES })
    }
}

impl MetadataFetcher for KuboFetcher {
    async fn fetch(&self, cid: &str) -> Result<Vec<u8>, FetchError> {
        // Reading stops as soon as the document passes the limit.
        self.storage.cat_to_vec(cid, self.max_bytes).await.map_err(|err| match err {
            StorageError::TooLarge { limit, .. } => {
                FetchError::Refused { cid: cid.to_owned(), reason: format!("larger than {limit} bytes") }
            }
            other => FetchError::Request { cid: cid.to_owned(), message: other.to_string() },
        })
    }
}

/// Refuses a CID no IPFS node can resolve, before asking one: the text of a CID is a multibase
/// string, ASCII letters and digits (base32, base36, base58btc, base16) and at most `+/-_=`
/// (the base64 alphabets), so anything else (a U+FFFD that stands for a NUL or invalid UTF-8
/// in the event, whitespace, a control character) makes it invalid for good. A string that
/// passes may still name nothing; IPFS says so, and that failure is retried.
pub fn check_cid(cid: &str) -> Result<(), FetchError> {
    let invalid = |reason: String| FetchError::InvalidCid { cid: cid.to_owned(), reason };
    if cid.is_empty() {
        return Err(invalid("empty".into()));
    }
    match cid.chars().find(|c| !(c.is_ascii_alphanumeric() || "+/-_=".contains(*c))) {
        Some(c) => Err(invalid(format!("contains {c:?} ({})", c.escape_unicode()))),
        None => Ok(()),
    }
}

/// Parses and checks a metadata document: at most [`MAX_DOCUMENT_BYTES`], a JSON object,
/// nested at most [`MAX_DEPTH`] deep, without a NUL character in any key or string.
pub fn parse_document(cid: &str, bytes: &[u8]) -> Result<Value, FetchError> {
    let refused = |reason: String| FetchError::Refused { cid: cid.to_owned(), reason };
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(refused(format!("larger than {MAX_DOCUMENT_BYTES} bytes")));
    }
    let document = match serde_json::from_slice::<Value>(bytes) {
        Ok(value @ Value::Object(_)) => value,
        Ok(_) => return Err(FetchError::NotJson { cid: cid.to_owned(), message: "not an object".into() }),
        Err(err) => return Err(FetchError::NotJson { cid: cid.to_owned(), message: err.to_string() }),
    };
    check(&document, 1).map_err(refused)?;
    Ok(document)
}

/// Refuses what PostgreSQL's `jsonb` cannot store (NUL) and nesting deeper than [`MAX_DEPTH`].
/// serde_json stops at 128 levels, so the recursion is bounded.
fn check(value: &Value, depth: usize) -> Result<(), String> {
    const NUL: &str = "contains a NUL character (\\u0000), which PostgreSQL cannot store";
    match value {
        Value::String(s) if s.contains('\0') => Err(NUL.into()),
        Value::Array(_) | Value::Object(_) if depth > MAX_DEPTH => {
            Err(format!("nested deeper than {MAX_DEPTH} levels"))
        }
        Value::Array(items) => items.iter().try_for_each(|item| check(item, depth + 1)),
        Value::Object(map) => {
            map.iter().try_for_each(
                |(key, item)| {
                    if key.contains('\0') { Err(NUL.into()) } else { check(item, depth + 1) }
                },
            )
        }
        _ => Ok(()),
    }
}

/// What the indexer derives from a document and stores beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Derived {
    /// The text the search vector is built from: the human fields only, at most
    /// [`MAX_SEARCH_TEXT`] bytes ([`search_text`]).
    pub search_text: String,
    /// Whether `content.encryption` is present: the content on IPFS is ciphertext.
    pub encrypted: bool,
    /// The holders of `content.encryption.wrappedKeys` (`holder`, or `provider` in older
    /// documents), as lowercase 0x-prefixed addresses, in document order, each once; entries
    /// that are not addresses are skipped.
    pub key_holders: Vec<String>,
    /// `license`, when it is a string of at most [`MAX_LICENSE_BYTES`]: what the catalogue's
    /// license filter matches and its facet counts.
    pub license: Option<String>,
    /// The strings of `tags` (a list) of at most [`MAX_TAG_BYTES`], in document order, each
    /// once, the first [`MAX_TAGS`] of them: what the catalogue's tag filter matches and its
    /// facet counts.
    pub tags: Vec<String>,
    /// What `derivedFrom` says the asset was computed from ([`lineage`]).
    pub lineage: Option<Lineage>,
}

/// The input assets an asset published from a compute job's output derives from, as its
/// document's `derivedFrom` claims (`agora asset publish --from-job` writes it): the job, the
/// chain the job and the inputs live on, the output hash, and the inputs. A claim, not a fact:
/// the API compares it with the indexed job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lineage {
    /// The chain of the job and the input assets.
    pub chain_id: i64,
    /// The job, a decimal uint256; `None` when the document's is not one.
    pub job_id: Option<String>,
    /// The output hash the job posted, when the document gives a 32-byte hex one.
    pub output_hash: Option<B256>,
    /// The input assets in document order, each (asset, role) once, at most
    /// [`MAX_LINEAGE_INPUTS`].
    pub inputs: Vec<LineageInput>,
}

/// One input asset of a [`Lineage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineageInput {
    /// The asset id, a decimal uint256.
    pub asset_id: String,
    /// `dataset` or `algorithm`; `None` for any other role a document names.
    pub role: Option<&'static str>,
}

/// What a document's `derivedFrom` says, when it names a chain (a positive integer) and at
/// least one input whose `assetId` is a uint256 (a decimal string or a non-negative integer);
/// inputs that are not are skipped, and nothing else about the document can make this fail.
pub fn lineage(document: &Value) -> Option<Lineage> {
    let from = document.get("derivedFrom")?.as_object()?;
    let chain_id =
        from.get("chainId").and_then(uint).and_then(|id| i64::try_from(id).ok()).filter(|id| *id > 0)?;
    let mut inputs: Vec<LineageInput> = Vec::new();
    for input in from.get("inputs").and_then(Value::as_array).into_iter().flatten() {
        let Some(asset_id) = input.get("assetId").and_then(uint256) else { continue };
        let role = match input.get("role").and_then(Value::as_str) {
            Some("dataset") => Some("dataset"),
            Some("algorithm") => Some("algorithm"),
            _ => None,
        };
        let input = LineageInput { asset_id, role };
        if !inputs.contains(&input) {
            inputs.push(input);
        }
        if inputs.len() == MAX_LINEAGE_INPUTS {
            break;
        }
    }
    if inputs.is_empty() {
        return None;
    }
    let output_hash = from.get("outputHash").and_then(Value::as_str).and_then(|hash| {
        let digits = hash.strip_prefix("0x")?;
        (digits.len() == 64).then(|| hash.parse::<B256>().ok()).flatten()
    });
    Some(Lineage { chain_id, job_id: from.get("jobId").and_then(uint256), output_hash, inputs })
}

/// A uint256 in decimal, from a string of 1 to 78 digits or a non-negative JSON integer.
fn uint256(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        Value::String(s) if (1..=78).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<U256>().ok().map(|n| n.to_string())
        }
        _ => None,
    }
}

/// A u64 from a JSON integer or a decimal string.
fn uint(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

/// What [`Derived`] holds for `document`.
pub fn derive(document: &Value) -> Derived {
    let encryption = document.get("content").and_then(|c| c.get("encryption")).filter(|e| !e.is_null());
    let mut key_holders: Vec<String> = Vec::new();
    let wrapped = encryption.and_then(|e| e.get("wrappedKeys")).and_then(Value::as_array);
    for entry in wrapped.into_iter().flatten() {
        let holder = entry.get("holder").or_else(|| entry.get("provider")).and_then(Value::as_str);
        if let Some(address) = holder.and_then(|h| h.trim().parse::<Address>().ok()) {
            let address = format!("{address:#x}");
            if !key_holders.contains(&address) {
                key_holders.push(address);
            }
        }
    }
    let license = document.get("license").and_then(Value::as_str).filter(|l| l.len() <= MAX_LICENSE_BYTES);
    let mut tags: Vec<String> = Vec::new();
    let listed = document.get("tags").and_then(Value::as_array).into_iter().flatten();
    for tag in listed.filter_map(Value::as_str).filter(|t| t.len() <= MAX_TAG_BYTES) {
        if tags.len() == MAX_TAGS {
            break;
        }
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_owned());
        }
    }
    Derived {
        search_text: search_text(document),
        encrypted: encryption.is_some(),
        key_holders,
        license: license.map(str::to_owned),
        tags,
        lineage: lineage(document),
    }
}

/// Top-level fields searched first, in this order; the others follow in key order.
const SEARCHED_FIRST: &[&str] =
    &["name", "title", "kind", "license", "tags", "keywords", "categories", "author", "description"];
/// Parts of a top-level key that mark its value as not for the search: key material,
/// identifiers, digests.
const NOT_SEARCHED: &[&str] =
    &["content", "key", "cid", "nonce", "encrypt", "cipher", "hash", "digest", "signature", "secret"];

/// The text a document's search vector is built from: the top-level strings and lists of
/// strings meant for people (name, title, kind, license, tags, keywords, categories, author,
/// description, then any other top-level text field whose key does not name key material, an
/// identifier or a digest), never anything under `content` (CIDs, sizes, the encryption
/// envelope), without words that look like hex blobs or CIDs; each field at most
/// [`MAX_FIELD_TEXT`] bytes, all of it at most [`MAX_SEARCH_TEXT`] (PostgreSQL refuses a
/// `tsvector` over 1 MiB).
pub fn search_text(document: &Value) -> String {
    let Some(fields) = document.as_object() else { return String::new() };
    let others = fields.keys().filter(|key| {
        let lower = key.to_ascii_lowercase();
        !SEARCHED_FIRST.contains(&lower.as_str()) && !NOT_SEARCHED.iter().any(|part| lower.contains(part))
    });
    let keys = SEARCHED_FIRST.iter().map(|k| (*k).to_owned()).chain(others.cloned());
    let mut text = String::new();
    for key in keys {
        let mut field = String::new();
        for value in field_strings(fields, &key) {
            for word in value.split_whitespace().filter(|w| !looks_like_blob(w)) {
                push_bounded(&mut field, word, MAX_FIELD_TEXT);
            }
        }
        push_bounded(&mut text, &field, MAX_SEARCH_TEXT);
    }
    text
}

/// The strings of top-level field `key`: the value itself, or the strings of a list.
fn field_strings<'a>(fields: &'a Map<String, Value>, key: &str) -> Vec<&'a str> {
    match fields.get(key) {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Appends `word` (after a space) when it fits in `limit` bytes; a word that does not is cut
/// at a character boundary, and nothing is appended once the limit is reached.
fn push_bounded(out: &mut String, word: &str, limit: usize) {
    if word.is_empty() {
        return;
    }
    let room = limit.saturating_sub(out.len() + usize::from(!out.is_empty()));
    if room == 0 {
        return;
    }
    let mut end = word.len().min(room);
    while !word.is_char_boundary(end) {
        end -= 1;
    }
    if end == 0 {
        return;
    }
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(&word[..end]);
}

/// A word no one searches for: a hex blob (`0x…`, or 32+ hex digits), a CID, or anything
/// longer than 100 bytes.
fn looks_like_blob(word: &str) -> bool {
    let word = word.trim_matches(|c: char| !c.is_alphanumeric());
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    let alnum = word.bytes().all(|b| b.is_ascii_alphanumeric());
    word.len() > 100
        || (word.len() >= 10 && (word.starts_with("0x") || word.starts_with("0X")) && hex(&word[2..]))
        || (word.len() >= 32 && hex(word))
        || (word.len() == 46 && word.starts_with("Qm") && alnum)
        || (word.len() >= 50 && word.starts_with('b') && alnum)
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
    /// Failures recorded (retries and permanent failures included).
    pub failed: usize,
    /// Stored documents derived again by the current [`derive`].
    pub rederived: usize,
}

/// Fetches up to `limit` metadata CIDs that assets name and that were never tried, or whose
/// last failure's backoff has passed, never-tried ones first; each CID's outcome is recorded on
/// its own: its document and what [`derive`] finds in it, or its failure with the attempt
/// count and, when it is not permanent and `policy` allows another attempt, when to try again.
/// Before that, up to `limit` stored documents derived by an older [`derive`] are derived
/// again. Only a database that cannot be reached at all ends a pass early.
pub async fn fetch_pending(
    pool: &PgPool,
    fetcher: &impl MetadataFetcher,
    policy: &RetryPolicy,
    limit: i64,
) -> Result<FetchReport, sqlx::Error> {
    let mut report = FetchReport { rederived: rederive(pool, limit).await?, ..FetchReport::default() };
    let due: Vec<(String, i32)> = sqlx::query_as(
        "SELECT cid, attempts FROM (
           SELECT DISTINCT a.metadata_cid AS cid, 0 AS attempts FROM assets a
           WHERE NOT EXISTS (SELECT 1 FROM asset_metadata m WHERE m.cid = a.metadata_cid)
           UNION ALL
           SELECT cid, attempts FROM asset_metadata
           WHERE status = 'failed' AND next_attempt_at <= now()
         ) due
         ORDER BY attempts, cid
         LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    for (cid, attempts) in due {
        let attempt = u32::try_from(attempts).unwrap_or(0).saturating_add(1);
        let document = match check_cid(&cid) {
            Ok(()) => match fetcher.fetch(&cid).await {
                Ok(bytes) => parse_document(&cid, &bytes),
                Err(err) => Err(err),
            },
            Err(err) => Err(err),
        };
        let outcome = match document {
            Ok(document) => match store(pool, &cid, &document, attempt).await {
                Ok(()) => Ok(()),
                // The server refused this document: it would refuse it again.
                Err(sqlx::Error::Database(err)) => {
                    Err(FetchError::Store { cid: cid.clone(), message: err.message().to_owned() })
                }
                Err(err) => {
                    Err(FetchError::Request { cid: cid.clone(), message: format!("database: {err}") })
                }
            },
            Err(err) => Err(err),
        };
        match outcome {
            Ok(()) => {
                tracing::info!(cid, attempt, "metadata fetched");
                report.fetched += 1;
            }
            Err(err) => {
                record_failure(pool, &cid, &err, attempt, policy).await?;
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

fn attempts_column(attempt: u32) -> i32 {
    i32::try_from(attempt).unwrap_or(i32::MAX)
}

/// Stores `document` as the one `cid` names, with what [`derive`] finds in it (also how
/// [`crate::testing`] stores its synthetic documents, so they are searched like fetched ones).
pub(crate) async fn store(
    pool: &PgPool,
    cid: &str,
    document: &Value,
    attempt: u32,
) -> Result<(), sqlx::Error> {
    let derived = derive(document);
    let mut tx = pool.begin().await?;
    let stored = sqlx::query(
        "INSERT INTO asset_metadata (cid, status, document, search, encrypted, key_holders, license, tags,
           derived_version, attempts)
         VALUES ($1, 'ok', $2, to_tsvector('simple', $3), $4, $5, $6, $7, $8, $9)
         ON CONFLICT (cid) DO UPDATE SET status = 'ok', document = EXCLUDED.document,
           search = EXCLUDED.search, encrypted = EXCLUDED.encrypted, key_holders = EXCLUDED.key_holders,
           license = EXCLUDED.license, tags = EXCLUDED.tags, derived_version = EXCLUDED.derived_version,
           error = NULL, attempts = EXCLUDED.attempts, next_attempt_at = NULL, fetched_at = now()
         WHERE asset_metadata.status = 'failed'",
    )
    .bind(cid)
    .bind(document)
    .bind(&derived.search_text)
    .bind(derived.encrypted)
    .bind(&derived.key_holders)
    .bind(derived.license.as_deref())
    .bind(&derived.tags)
    .bind(DERIVED_VERSION)
    .bind(attempts_column(attempt))
    .execute(&mut *tx)
    .await?;
    // A document already stored (fetched twice at once) keeps its rows.
    if stored.rows_affected() > 0 {
        store_lineage(&mut tx, cid, derived.lineage.as_ref()).await?;
    }
    tx.commit().await
}

/// Replaces the `asset_lineage` rows of `cid` with `lineage`'s inputs.
async fn store_lineage(
    db: &mut PgConnection,
    cid: &str,
    lineage: Option<&Lineage>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM asset_lineage WHERE cid = $1").bind(cid).execute(&mut *db).await?;
    let Some(lineage) = lineage else { return Ok(()) };
    for (position, input) in lineage.inputs.iter().enumerate() {
        sqlx::query(
            "INSERT INTO asset_lineage (cid, position, chain_id, parent_id, role, job_id, output_hash)
             VALUES ($1, $2, $3, $4::numeric, $5, $6::numeric, $7)",
        )
        .bind(cid)
        .bind(i16::try_from(position).unwrap_or(i16::MAX))
        .bind(lineage.chain_id)
        .bind(&input.asset_id)
        .bind(input.role)
        .bind(lineage.job_id.as_deref())
        .bind(lineage.output_hash.map(|hash| hash.to_vec()))
        .execute(&mut *db)
        .await?;
    }
    Ok(())
}

/// Records failed attempt `attempt` of `cid`: final when `err` is permanent or `policy`
/// allows no more attempts, otherwise due again after the policy's delay. The reason is stored
/// without NUL characters and at most [`MAX_ERROR_CHARS`] long.
async fn record_failure(
    pool: &PgPool,
    cid: &str,
    err: &FetchError,
    attempt: u32,
    policy: &RetryPolicy,
) -> Result<(), sqlx::Error> {
    let retry = if err.is_permanent() { None } else { policy.delay_after(attempt) };
    match retry {
        Some(delay) => tracing::warn!(cid, attempt, retry_in = ?delay, error = %err, "metadata fetch failed"),
        None if err.is_permanent() => {
            tracing::warn!(cid, attempt, error = %err, "metadata refused; not retried")
        }
        None => tracing::warn!(cid, attempt, error = %err, "metadata fetch failed; giving up"),
    }
    let reason: String = err
        .to_string()
        .chars()
        .map(|c| if c == '\0' { '\u{fffd}' } else { c })
        .take(MAX_ERROR_CHARS)
        .collect();
    let retry_ms = retry.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    sqlx::query(
        "INSERT INTO asset_metadata (cid, status, error, attempts, next_attempt_at)
         VALUES ($1, 'failed', $2, $3, now() + $4 * interval '1 millisecond')
         ON CONFLICT (cid) DO UPDATE SET error = EXCLUDED.error, attempts = EXCLUDED.attempts,
           next_attempt_at = EXCLUDED.next_attempt_at, fetched_at = now()
         WHERE asset_metadata.status = 'failed'",
    )
    .bind(cid)
    .bind(reason)
    .bind(attempts_column(attempt))
    .bind(retry_ms)
    .execute(pool)
    .await?;
    Ok(())
}

/// Derives again, from the stored document, up to `limit` rows derived by an older [`derive`];
/// returns how many.
async fn rederive(pool: &PgPool, limit: i64) -> Result<usize, sqlx::Error> {
    let rows: Vec<(String, Value)> = sqlx::query_as(
        "SELECT cid, document FROM asset_metadata
         WHERE status = 'ok' AND derived_version < $1 AND document IS NOT NULL
         ORDER BY cid LIMIT $2",
    )
    .bind(DERIVED_VERSION)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    for (cid, document) in &rows {
        let derived = derive(document);
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE asset_metadata SET search = to_tsvector('simple', $2), encrypted = $3,
               key_holders = $4, license = $5, tags = $6, derived_version = $7
             WHERE cid = $1",
        )
        .bind(cid)
        .bind(&derived.search_text)
        .bind(derived.encrypted)
        .bind(&derived.key_holders)
        .bind(derived.license.as_deref())
        .bind(&derived.tags)
        .bind(DERIVED_VERSION)
        .execute(&mut *tx)
        .await?;
        store_lineage(&mut tx, cid, derived.lineage.as_ref()).await?;
        tx.commit().await?;
    }
    Ok(rows.len())
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
    const PASS: usize = 32;
    loop {
        if *shutdown.borrow() {
            return;
        }
        match fetch_pending(&pool, &fetcher, &policy, PASS as i64).await {
            // A full pass may have left more behind: go on at once.
            Ok(report) if report.fetched + report.failed >= PASS || report.rederived >= PASS => continue,
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
    use serde_json::json;

    use super::*;

    #[test]
    fn documents_must_be_json_objects() {
        assert!(parse_document("c", br#"{"name":"x"}"#).is_ok());
        assert!(matches!(parse_document("c", b"[1]"), Err(FetchError::NotJson { .. })));
        assert!(matches!(parse_document("c", b"not json"), Err(FetchError::NotJson { .. })));
    }

    #[test]
    fn nul_deep_and_large_documents_are_refused_for_good() {
        for doc in [r#"{"name":"a\u0000b"}"#, r#"{"a\u0000":1}"#, r#"{"x":[{"y":"\u0000"}]}"#] {
            let err = parse_document("c", doc.as_bytes()).unwrap_err();
            assert!(err.to_string().contains("NUL"), "{err}");
            assert!(err.is_permanent());
        }
        let deep = format!("{}{}{}", "{\"a\":".repeat(MAX_DEPTH), "1", "}".repeat(MAX_DEPTH));
        assert!(parse_document("c", deep.as_bytes()).is_ok());
        let deeper = format!("{}{}{}", "{\"a\":".repeat(MAX_DEPTH + 1), "1", "}".repeat(MAX_DEPTH + 1));
        assert!(parse_document("c", deeper.as_bytes()).unwrap_err().to_string().contains("deeper"));
        let large = format!("{{\"d\":\"{}\"}}", "x".repeat(MAX_DOCUMENT_BYTES));
        assert!(parse_document("c", large.as_bytes()).unwrap_err().to_string().contains("larger"));
        assert!(!FetchError::Request { cid: "c".into(), message: "timeout".into() }.is_permanent());
        assert!(FetchError::NotJson { cid: "c".into(), message: "eof".into() }.is_permanent());
    }

    #[test]
    fn cids_with_characters_no_cid_has_are_invalid_for_good() {
        for cid in [
            "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
            "QmYwAPJzv5CZsnA",
            "mAXASIA+/=",
            "uAXASIA-_",
        ] {
            assert!(check_cid(cid).is_ok(), "{cid}");
        }
        for cid in ["", "bafy\u{fffd}nul", "bafy nul", "bafy\nx", "bafyé", "bafy\0x"] {
            let err = check_cid(cid).unwrap_err();
            assert!(err.is_permanent() && err.to_string().contains("not a valid CID"), "{err}");
        }
        let err = check_cid("bafy\u{fffd}nul").unwrap_err().to_string();
        assert!(err.contains("\\u{fffd}"), "{err}");
    }

    #[test]
    fn search_text_is_human_fields_only_and_bounded() {
        let doc = json!({
            "name": "Whale calls",
            "description": "Recordings 0xdeadbeefcafebabe0011 bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
            "tags": ["ocean", 7, "sound"],
            "license": "CC0-1.0",
            "keyMaterial": "secretword",
            "noncePrefix": "0x0102",
            "homepage": "example",
            "content": { "cid": "bafyinner", "fileName": "inside.csv",
                         "encryption": { "wrappedKeys": [{ "holder": "0x1", "key": "0xabcd" }] } },
        });
        let text = search_text(&doc);
        assert_eq!(text, "Whale calls CC0-1.0 ocean sound Recordings example");
        let words: Vec<String> = (0..200_000).map(|i| format!("w{i}")).collect();
        let huge = json!({ "name": "big", "description": words.join(" "), "license": "MIT" });
        let text = search_text(&huge);
        assert!(text.len() <= MAX_SEARCH_TEXT && text.starts_with("big MIT w0 w1"), "{}", &text[..40]);
        let unicode = json!({ "name": "é".repeat(MAX_FIELD_TEXT) });
        assert!(search_text(&unicode).len() <= MAX_FIELD_TEXT);
    }

    #[test]
    fn encryption_and_key_holders_are_derived() {
        let a = "0x00000000000000000000000000000000000000aa";
        let b = "0x00000000000000000000000000000000000000BB";
        let doc = json!({ "name": "x", "content": { "cid": "c", "encryption": { "wrappedKeys": [
            { "holder": a, "key": "0x01" }, { "provider": b, "key": "0x02" },
            { "holder": "nobody", "key": "0x03" }, { "holder": a, "key": "0x04" },
        ] } } });
        let derived = derive(&doc);
        assert!(derived.encrypted);
        assert_eq!(derived.key_holders, [a.to_owned(), b.to_lowercase()]);
        let plain = derive(&json!({ "name": "x", "content": { "cid": "c" } }));
        assert!(!plain.encrypted && plain.key_holders.is_empty());
    }

    #[test]
    fn license_and_tags_are_derived_deduplicated_and_bounded() {
        let doc =
            json!({ "license": "MIT", "tags": ["audio", 7, "", "vision", "audio", null, ["x"], "vision"] });
        let derived = derive(&doc);
        assert_eq!(derived.license.as_deref(), Some("MIT"));
        assert_eq!(derived.tags, ["audio", "", "vision"]);
        // Not a string, not a list of strings: nothing.
        for (license, tags) in
            [(json!(5), json!("audio")), (json!(null), json!({ "a": "b" })), (json!(["MIT"]), json!(null))]
        {
            let derived = derive(&json!({ "license": license, "tags": tags }));
            assert_eq!((derived.license, derived.tags), (None, Vec::<String>::new()), "{license} {tags}");
        }
        assert_eq!(derive(&json!({ "name": "x" })).tags, Vec::<String>::new());
        // Too long: ignored. Past the first MAX_TAGS distinct ones: ignored.
        let (long_tag, longest_tag) = ("é".repeat(MAX_TAG_BYTES / 2 + 1), "t".repeat(MAX_TAG_BYTES));
        let (long_license, longest_license) =
            ("é".repeat(MAX_LICENSE_BYTES / 2 + 1), "l".repeat(MAX_LICENSE_BYTES));
        let derived = derive(&json!({ "license": long_license, "tags": [long_tag, longest_tag, "a"] }));
        assert_eq!((derived.license, derived.tags), (None, vec![longest_tag.clone(), "a".to_owned()]));
        assert_eq!(derive(&json!({ "license": longest_license })).license, Some(longest_license));
        let many: Vec<String> = (0..10_000).map(|i| format!("t{}", i % (MAX_TAGS + 5))).collect();
        let derived = derive(&json!({ "tags": many }));
        assert_eq!(derived.tags, many[..MAX_TAGS]);
    }

    #[test]
    fn lineage_keeps_the_valid_inputs_of_a_derived_from_and_ignores_the_rest() {
        let hash = format!("0x{}", "07".repeat(32));
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        let over = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
        let doc = json!({ "name": "x", "derivedFrom": { "jobId": "7", "chainId": 31337, "outputHash": hash, "inputs": [
            { "assetId": "1", "role": "dataset" }, { "assetId": 2, "role": "algorithm" },
            { "assetId": "1", "role": "dataset" }, { "assetId": "01", "role": "model" }, { "assetId": max },
            { "assetId": "-1" }, { "assetId": "1e3" }, { "assetId": "0x02" }, { "assetId": 1.5 }, { "assetId": -4 },
            { "assetId": over }, { "assetId": "9".repeat(79) }, { "assetId": "" }, { "assetId": null },
            { "assetId": { "id": 5 } }, { "assetId": ["6"] }, "3", 4, null, { "role": "dataset" },
        ] } });
        let found = lineage(&doc).unwrap();
        let input = |asset_id: &str, role| LineageInput { asset_id: asset_id.into(), role };
        assert_eq!(found.chain_id, 31337);
        assert_eq!(found.job_id.as_deref(), Some("7"));
        assert_eq!(found.output_hash, Some(B256::repeat_byte(7)));
        assert_eq!(
            found.inputs,
            [input("1", Some("dataset")), input("2", Some("algorithm")), input("1", None), input(max, None)]
        );
        assert_eq!(derive(&doc).lineage, Some(found));

        // A job id and an output hash that are not: recorded without them.
        let odd = json!({ "derivedFrom": { "jobId": -3, "chainId": "5", "outputHash": "0x07",
            "inputs": [{ "assetId": "9" }] } });
        let odd = lineage(&odd).unwrap();
        assert_eq!((odd.chain_id, odd.job_id, odd.output_hash), (5, None, None));

        // No chain, or no valid input: no lineage.
        let inputs = json!([{ "assetId": "1", "role": "dataset" }]);
        for from in [
            json!("job 7"),
            json!(["1"]),
            json!({ "inputs": inputs }),
            json!({ "chainId": 0, "inputs": inputs }),
            json!({ "chainId": -1, "inputs": inputs }),
            json!({ "chainId": "x", "inputs": inputs }),
            json!({ "chainId": 18446744073709551615u64, "inputs": inputs }),
            json!({ "chainId": 1, "inputs": "all of them" }),
            json!({ "chainId": 1, "inputs": [] }),
            json!({ "chainId": 1, "inputs": [{ "assetId": "one" }] }),
        ] {
            assert_eq!(lineage(&json!({ "derivedFrom": from })), None, "{from}");
        }
        assert_eq!(lineage(&json!({ "name": "plain" })), None);

        // Bounded.
        let many: Vec<Value> =
            (0..10_000).map(|i| json!({ "assetId": i.to_string(), "role": "dataset" })).collect();
        let bounded = lineage(&json!({ "derivedFrom": { "chainId": 1, "inputs": many } })).unwrap();
        assert_eq!(bounded.inputs.len(), MAX_LINEAGE_INPUTS);
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
