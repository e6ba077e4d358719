//! A provider as a consumer meets it: its `/v1/info`, the EIP-712 download request signed for
//! it, and a download streamed to a `.part` file that a retry resumes with `Range`, kept only
//! when its sha-256 is the digest recorded on chain.

use std::{
    io::{Read, Write},
    path::Path,
    time::Duration,
};

use agora_provider::access::{self, DownloadRequest, SignedRequest};
use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
    sol_types::Eip712Domain,
    transports::http::reqwest,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{Error, error::cause, market::unix_now};

/// How long a signed download request stays valid (the provider allows up to a day).
const REQUEST_LIFETIME_SECS: u64 = 600;

/// How long to wait to connect to a provider, and for each read of a download.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// A resumed single-use download may find its previous connection still open on the provider
/// (409, in progress) until the provider notices it closed: retry this often, this far apart.
const IN_PROGRESS_RETRIES: u32 = 60;
const IN_PROGRESS_WAIT: Duration = Duration::from_millis(500);

/// What a provider says about itself (`GET /v1/info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// Its address: orders are bound to it, requests signed for its EIP-712 domain.
    pub address: Address,
    /// The uncompressed secp256k1 public key content keys are wrapped to.
    pub public_key: Vec<u8>,
    /// The encryption scheme it decrypts.
    pub scheme: String,
}

/// The HTTP client for providers: bounded connect and read times.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .build()
        // Only a TLS backend that fails to initialise errs here; the defaults then still work.
        .unwrap_or_default()
}

/// `url` without a trailing slash, so paths can be appended.
fn base_url(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// How long a provider has to answer `/health` when providers are ranked.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// A registered provider that can serve an asset, as [`candidates`] ranks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its address.
    pub address: Address,
    /// The URL it registered.
    pub endpoint: String,
    /// Its stake on the ComputeMarket, in wei.
    pub stake: u128,
    /// Whether it answered `/health` within two seconds.
    pub healthy: bool,
}

/// The providers that can serve an asset whose content key is held by `holders` (`None`: a
/// public asset, which every provider can serve), best first. The rule every surface follows:
/// only active providers (registered on the ComputeMarket and not leaving it) that hold the key;
/// those answering `/health` within two seconds first; then the largest stake first (what a
/// provider stands to lose if it cheats); then registration order.
pub async fn candidates(
    agora: &agora_contracts::Agora,
    holders: Option<&[Address]>,
) -> eyre::Result<Vec<Candidate>> {
    Ok(rank(crate::keys::active_providers(agora).await?, holders).await)
}

/// [`candidates`] over `active` (active providers in registration order, however they were
/// read: from the chain, or from the indexer as the hub reads them).
pub async fn rank(active: Vec<crate::keys::ActiveProvider>, holders: Option<&[Address]>) -> Vec<Candidate> {
    let http = reqwest::Client::builder().timeout(HEALTH_TIMEOUT).build().unwrap_or_default();
    let serving = active
        .into_iter()
        .filter(|provider| holders.is_none_or(|holders| holders.contains(&provider.address)));
    // Asked all at once: a dead provider costs the timeout once, not once per provider.
    let mut ranked = futures::future::join_all(serving.map(|provider| {
        let http = &http;
        async move {
            let health = http.get(format!("{}/health", base_url(&provider.endpoint))).send().await;
            let healthy = health.is_ok_and(|response| response.status().is_success());
            Candidate {
                address: provider.address,
                endpoint: provider.endpoint,
                stake: provider.stake,
                healthy,
            }
        }
    }))
    .await;
    // Stable: registration order breaks ties.
    ranked.sort_by(|a, b| b.healthy.cmp(&a.healthy).then(b.stake.cmp(&a.stake)));
    ranked
}

/// Whether the provider at `url` pins `cid` on its Kubo (`GET /v1/pins/{cid}`).
pub async fn pinned(http: &reqwest::Client, url: &str, cid: &str) -> crate::pins::Held {
    use crate::pins::Held;
    let response = match http.get(format!("{}/v1/pins/{cid}", base_url(url))).send().await {
        Ok(response) => response,
        Err(err) => return Held::Unreachable(cause(&err)),
    };
    if !response.status().is_success() {
        return Held::Unreachable(format!("/v1/pins answered {}", response.status()));
    }
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<Value>(&text).ok().and_then(|body| body["pinned"].as_bool()) {
        Some(true) => Held::Pinned,
        Some(false) => Held::NotPinned,
        None => Held::Unreachable("/v1/pins did not answer {\"pinned\": true|false}".into()),
    }
}

/// Reads the provider's `/v1/info` and checks it serves `chain_id`.
pub async fn info(http: &reqwest::Client, url: &str, chain_id: u64) -> Result<ProviderInfo, Error> {
    let unreachable =
        |err: &dyn std::error::Error| Error::Unreachable { url: url.to_owned(), cause: cause(err) };
    let malformed = |problem: String| Error::NotAProvider { url: url.to_owned(), problem };
    let response =
        http.get(format!("{}/v1/info", base_url(url))).send().await.map_err(|err| unreachable(&err))?;
    if !response.status().is_success() {
        return Err(malformed(format!("/v1/info answered {}", response.status())));
    }
    let text = response.text().await.map_err(|err| unreachable(&err))?;
    let info: Value = serde_json::from_str(&text)
        .map_err(|_| malformed("/v1/info is not JSON: is it an Agora provider?".into()))?;
    let missing = |what: &str| malformed(format!("/v1/info has no valid {what}"));
    let address: Address =
        info["provider"].as_str().and_then(|text| text.parse().ok()).ok_or_else(|| missing("provider"))?;
    let served = info["chainId"].as_u64().ok_or_else(|| missing("chainId"))?;
    if served != chain_id {
        return Err(Error::WrongChain { url: url.to_owned(), served, expected: chain_id });
    }
    let public_key = info["encryption"]["publicKey"]
        .as_str()
        .and_then(|text| alloy::hex::decode(text).ok())
        .ok_or_else(|| missing("encryption.publicKey"))?;
    let scheme =
        info["encryption"]["scheme"].as_str().ok_or_else(|| missing("encryption.scheme"))?.to_owned();
    Ok(ProviderInfo { address, public_key, scheme })
}

/// How far a download has come: bytes in the `.part` file and the total expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes written so far (a resumed download starts at its offset).
    pub done: u64,
    /// The content's size.
    pub total: u64,
}

/// One download: from which provider, as whom, with which order.
pub struct Download<'a> {
    /// The HTTP client ([`http_client`]).
    pub http: &'a reqwest::Client,
    /// The provider's URL.
    pub url: &'a str,
    /// The provider's EIP-712 domain ([`ProviderInfo::domain`]).
    pub domain: Eip712Domain,
    /// The consumer's key, which signs each request.
    pub key: &'a PrivateKeySigner,
    /// The asset.
    pub asset_id: U256,
    /// The access order, consumed for this provider.
    pub order_id: U256,
}

impl ProviderInfo {
    /// The provider's EIP-712 domain on `chain_id`, which download requests are signed for.
    pub fn domain(&self, chain_id: u64) -> Eip712Domain {
        access::domain(chain_id, self.address)
    }
}

impl Download<'_> {
    /// A freshly signed request (a new nonce every time: the provider takes each once).
    fn request(&self) -> Result<SignedRequest, Error> {
        let message = DownloadRequest {
            assetId: self.asset_id,
            orderId: self.order_id,
            nonce: U256::from_be_bytes(rand::random::<[u8; 32]>()),
            expiry: unix_now() + REQUEST_LIFETIME_SECS,
        };
        SignedRequest::sign(&message, &self.domain, self.key)
            .map_err(|source| Error::Sign { what: "download request", source })
    }

    /// Streams the content into `part`, from its current length on (a `Range` request) when it
    /// already holds some, reporting to `progress` as bytes arrive. Returns the offset the
    /// download resumed at. A download that breaks off keeps `part` for the next call.
    pub async fn fetch(
        &self,
        part: &Path,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<u64, Error> {
        let url = self.url;
        let io = |what: &str, source| Error::Io { what: format!("{what} {}", part.display()), source };
        let mut waits = 0;
        loop {
            let offset = std::fs::metadata(part).map(|meta| meta.len()).unwrap_or(0);
            let body = serde_json::to_vec(&self.request()?).unwrap_or_default();
            let mut request = self
                .http
                .post(format!("{}/v1/download", base_url(url)))
                .header("content-type", "application/json")
                .body(body);
            if offset > 0 {
                request = request.header("range", format!("bytes={offset}-"));
            }
            let mut response = request
                .send()
                .await
                .map_err(|err| Error::Unreachable { url: url.to_owned(), cause: cause(&err) })?;
            let status = response.status().as_u16();
            match status {
                200 | 206 => {}
                416 if offset > 0 => {
                    // A `.part` that already holds the whole content has nothing left to fetch.
                    let total = response
                        .headers()
                        .get("content-range")
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| value.strip_prefix("bytes */"))
                        .and_then(|size| size.parse::<u64>().ok());
                    if total == Some(offset) {
                        return Ok(offset);
                    }
                    return Err(Error::PartTooLong { part: part.display().to_string(), held: offset });
                }
                _ => {
                    let message = refusal_message(response).await;
                    if status == 409 && message.contains("in progress") && waits < IN_PROGRESS_RETRIES {
                        // Our own interrupted attempt, not yet noticed by the provider.
                        waits += 1;
                        tokio::time::sleep(IN_PROGRESS_WAIT).await;
                        continue;
                    }
                    return Err(Error::Refused { action: "download", status, message });
                }
            }
            let resumed = if status == 206 { offset } else { 0 };
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(part)
                .map_err(|source| io("cannot write", source))?;
            if resumed == 0 {
                file.set_len(0).map_err(|source| io("cannot truncate", source))?;
            }
            let total = resumed + response.content_length().unwrap_or(0);
            let mut done = resumed;
            progress(Progress { done, total });
            let broke_off = loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        file.write_all(&chunk).map_err(|source| io("cannot write", source))?;
                        done += chunk.len() as u64;
                        progress(Progress { done, total });
                    }
                    Ok(None) => break None,
                    Err(err) => break Some(cause(&err)),
                }
            };
            file.flush().map_err(|source| io("cannot write", source))?;
            let reason = match broke_off {
                Some(reason) => reason,
                None if done < total => format!("{} bytes missing", total - done),
                None => return Ok(resumed),
            };
            return Err(Error::BrokenOff { written: done, reason });
        }
    }
}

/// Checks that the file at `path` is asset `asset`'s content, whose digest on chain is
/// `expected`; its size when it is. A mismatch deletes the file: the bytes are wrong whichever
/// attempt brought them, so there is nothing to resume from.
pub fn verify(path: &Path, asset: U256, expected: B256) -> Result<u64, Error> {
    let (actual, size) = sha256_file(path)?;
    if actual != expected {
        let _ = std::fs::remove_file(path);
        return Err(Error::DigestMismatch { asset, expected, actual });
    }
    Ok(size)
}

/// sha-256 and length of the file at `path`.
fn sha256_file(path: &Path) -> Result<(B256, u64), Error> {
    let io = |source| Error::Io { what: format!("cannot read {}", path.display()), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buf).map_err(io)?;
        if read == 0 {
            break;
        }
        hasher.update(&buf[..read]);
        size += read as u64;
    }
    Ok((B256::from_slice(&hasher.finalize()), size))
}

/// The provider's `{"error": …}` message, or the status text.
async fn refusal_message(response: reqwest::Response) -> String {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|body| body["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("no reason given").to_owned())
}
