//! `agora asset download`: spend an access token for a provider (or reuse a remembered order),
//! sign the EIP-712 request, stream to a `.part` file that a rerun resumes with a `Range`, and
//! keep the file only when its sha-256 is the one recorded on chain. Also the provider's
//! `/v1/info`, which publishing reads to wrap content keys.

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    time::Duration,
};

use agora_contracts::{AccessToken, Agora, tx};
use agora_provider::access::{self, DownloadRequest, SignedRequest};
use alloy::{
    primitives::{Address, B256, U256},
    transports::http::reqwest,
};
use clap::Args;
use eyre::{Result, WrapErr, bail, eyre};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::asset;
use crate::{GlobalArgs, chain, currency::Units, output, revert, wallet::SignerArgs};

/// How long a signed download request stays valid (the provider allows up to a day).
const REQUEST_LIFETIME_SECS: u64 = 600;

/// How long to wait to connect to a provider, and for each read of a download.
const PROVIDER_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const PROVIDER_READ_TIMEOUT: Duration = Duration::from_secs(120);

/// A resumed single-use download may find its previous connection still open on the provider
/// (409, in progress) until the provider notices it closed: retry this often, this far apart.
const IN_PROGRESS_RETRIES: u32 = 60;
const IN_PROGRESS_WAIT: Duration = Duration::from_millis(500);

/// Arguments of `asset download`.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The asset's id.
    pub id: U256,
    /// The provider's URL.
    #[arg(long, value_name = "URL", env = "AGORA_PROVIDER_URL")]
    pub provider: String,
    /// Where to write the content [default: asset-<id> in the current folder].
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Use this access order (already consumed for the provider) instead of spending a token.
    #[arg(long, value_name = "ORDER_ID")]
    pub order: Option<U256>,
    /// The signer (the consumer; it signs the download request).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// What a provider says about itself (`GET /v1/info`).
pub(super) struct ProviderInfo {
    /// Its address: orders are bound to it, requests signed for its EIP-712 domain.
    pub(super) address: Address,
    /// The uncompressed secp256k1 public key content keys are wrapped to.
    pub(super) public_key: Vec<u8>,
    /// The encryption scheme it decrypts.
    pub(super) scheme: String,
}

pub(super) fn provider_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(PROVIDER_CONNECT_TIMEOUT)
        .read_timeout(PROVIDER_READ_TIMEOUT)
        .build()
        .wrap_err("building the HTTP client")
}

/// `url` without a trailing slash, so paths can be appended.
fn base_url(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// Reads the provider's `/v1/info` and checks it serves `chain_id`.
pub(super) async fn provider_info(http: &reqwest::Client, url: &str, chain_id: u64) -> Result<ProviderInfo> {
    let response = http
        .get(format!("{}/v1/info", base_url(url)))
        .send()
        .await
        .map_err(|err| eyre!("provider {url} is unreachable: {}", cause(&err)))?;
    if !response.status().is_success() {
        bail!("provider {url} answered /v1/info with {}", response.status());
    }
    let text = response.text().await.map_err(|err| eyre!("provider {url}: {}", cause(&err)))?;
    let info: Value = serde_json::from_str(&text)
        .map_err(|_| eyre!("provider {url}: /v1/info is not JSON: is it an Agora provider?"))?;
    let malformed = |what: &str| eyre!("provider {url}: /v1/info has no valid {what}");
    let address: Address =
        info["provider"].as_str().and_then(|text| text.parse().ok()).ok_or_else(|| malformed("provider"))?;
    let served = info["chainId"].as_u64().ok_or_else(|| malformed("chainId"))?;
    if served != chain_id {
        bail!("provider {url} serves chain {served}, not chain {chain_id}");
    }
    let public_key = info["encryption"]["publicKey"]
        .as_str()
        .and_then(|text| alloy::hex::decode(text).ok())
        .ok_or_else(|| malformed("encryption.publicKey"))?;
    let scheme =
        info["encryption"]["scheme"].as_str().ok_or_else(|| malformed("encryption.scheme"))?.to_owned();
    Ok(ProviderInfo { address, public_key, scheme })
}

/// An order spent for a download that has not finished yet, remembered next to its `.part`
/// file so that a rerun resumes with it instead of spending another access token.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PendingOrder {
    asset_id: U256,
    order_id: U256,
    provider: Address,
}

pub(super) async fn download(global: &GlobalArgs, args: DownloadArgs) -> Result<()> {
    let output = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("asset-{}", args.id)));
    if output.exists() {
        bail!("{} already exists: choose another --output or remove it", output.display());
    }
    let part = with_suffix(&output, ".part");
    let pending_path = with_suffix(&output, ".part.order");
    let (agora, signer) = chain::writer(global, &args.signer).await?;
    let key = signer.key.clone().ok_or_else(|| {
        eyre!("download requests are signed with a local key (--keystore or AGORA_PRIVATE_KEY), not a hardware wallet")
    })?;
    let stored = asset(&agora, args.id).await?;
    if stored.computeOnly {
        bail!("asset {} is compute-only: its content never leaves a provider", args.id);
    }
    // Reach the provider before spending a token on it.
    let http = provider_client()?;
    let chain_id = agora.deployment.chain_id;
    let info = provider_info(&http, &args.provider, chain_id).await?;

    let remembered = read_pending(&pending_path)
        .filter(|pending| pending.asset_id == args.id && pending.provider == info.address)
        .map(|pending| pending.order_id);
    let order_id = match args.order.or(remembered) {
        Some(order) => order,
        None => consume(&agora, stored.accessToken, signer.address, info.address, args.id).await?,
    };
    let pending = PendingOrder { asset_id: args.id, order_id, provider: info.address };
    std::fs::write(&pending_path, serde_json::to_vec(&pending)?)
        .wrap_err_with(|| format!("cannot write {}", pending_path.display()))?;

    let target = Target {
        http: &http,
        url: &args.provider,
        domain: access::domain(chain_id, info.address),
        key: &key,
        asset_id: args.id,
        order_id,
        remembered: (args.order.is_none() && remembered.is_some()).then_some(pending_path.as_path()),
    };
    let resumed_from = fetch(&target, &part).await?;

    let (digest, size) = sha256_file(&part)?;
    if digest != stored.contentDigest {
        // The bytes are wrong whichever attempt brought them: nothing to resume from.
        let _ = std::fs::remove_file(&part);
        let _ = std::fs::remove_file(&pending_path);
        bail!(
            "sha-256 mismatch: the downloaded content has {digest}, asset {} records {} on chain; deleted {}",
            args.id,
            stored.contentDigest,
            part.display()
        );
    }
    std::fs::rename(&part, &output)
        .wrap_err_with(|| format!("cannot rename {} to {}", part.display(), output.display()))?;
    let _ = std::fs::remove_file(&pending_path);
    if global.json {
        return output::json(&json!({
            "assetId": args.id.to_string(),
            "orderId": order_id.to_string(),
            "provider": info.address,
            "path": output,
            "size": size,
            "sha256": digest,
            "resumedFrom": resumed_from,
        }));
    }
    let resumed = if resumed_from > 0 { format!(", resumed at byte {resumed_from}") } else { String::new() };
    println!(
        "downloaded asset {} to {} ({size} bytes, sha-256 {digest} as on chain{resumed})",
        args.id,
        output.display()
    );
    Ok(())
}

/// `path` with `suffix` appended to its file name (`x.csv` → `x.csv.part`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn read_pending(path: &Path) -> Option<PendingOrder> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Spends one of `consumer`'s access tokens for `provider`; the new order's id.
async fn consume(
    agora: &Agora,
    token: Address,
    consumer: Address,
    provider: Address,
    id: U256,
) -> Result<U256> {
    let token = agora.access_token_at(token);
    let balance = tx::call("accessToken.balanceOf", token.balanceOf(consumer)).await?;
    if balance.is_zero() {
        bail!(
            "no access token: {consumer} holds no access token of asset {id} (buy one with `agora asset buy {id}`)"
        );
    }
    let receipt = tx::send("accessToken.consume", token.consume(provider))
        .await
        .map_err(|e| revert::explain(e, &Units::eth()))?;
    let consumed = receipt
        .decoded_log::<AccessToken::AccessConsumed>()
        .ok_or_else(|| eyre!("accessToken.consume: the receipt has no AccessConsumed event"))?;
    Ok(consumed.data.orderId)
}

/// One download: where, as whom, with which order.
struct Target<'a> {
    http: &'a reqwest::Client,
    url: &'a str,
    domain: alloy::sol_types::Eip712Domain,
    key: &'a alloy::signers::local::PrivateKeySigner,
    asset_id: U256,
    order_id: U256,
    /// The file the order was remembered in, when it was (a refusal then says how to drop it).
    remembered: Option<&'a Path>,
}

impl Target<'_> {
    /// A freshly signed request (a new nonce every time: the provider takes each once).
    fn request(&self) -> Result<SignedRequest> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let message = DownloadRequest {
            assetId: self.asset_id,
            orderId: self.order_id,
            nonce: U256::from_be_bytes(rand::random::<[u8; 32]>()),
            expiry: now + REQUEST_LIFETIME_SECS,
        };
        SignedRequest::sign(&message, &self.domain, self.key).wrap_err("signing the download request")
    }
}

/// Streams the content into `part`, from its current length on (a `Range` request) when it
/// already holds some. Returns the offset the download resumed at.
async fn fetch(target: &Target<'_>, part: &Path) -> Result<u64> {
    let url = target.url;
    let mut waits = 0;
    loop {
        let offset = std::fs::metadata(part).map(|meta| meta.len()).unwrap_or(0);
        let body = serde_json::to_vec(&target.request()?)?;
        let mut request = target
            .http
            .post(format!("{}/v1/download", base_url(url)))
            .header("content-type", "application/json")
            .body(body);
        if offset > 0 {
            request = request.header("range", format!("bytes={offset}-"));
        }
        let mut response =
            request.send().await.map_err(|err| eyre!("provider {url} is unreachable: {}", cause(&err)))?;
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
                bail!(
                    "{} holds {offset} bytes, more than the content has: delete it and rerun",
                    part.display()
                );
            }
            _ => {
                let message = refusal_message(response).await;
                if status == 409 && message.contains("in progress") && waits < IN_PROGRESS_RETRIES {
                    // Our own interrupted attempt, not yet noticed by the provider.
                    waits += 1;
                    tokio::time::sleep(IN_PROGRESS_WAIT).await;
                    continue;
                }
                let hint = match target.remembered {
                    Some(path) if matches!(status, 403 | 404 | 410) => format!(
                        " (order {} was remembered in {}: delete it to spend a new access token)",
                        target.order_id,
                        path.display()
                    ),
                    _ => String::new(),
                };
                bail!("provider refused the download ({status}): {message}{hint}");
            }
        }
        let resumed = if status == 206 { offset } else { 0 };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(part)
            .wrap_err_with(|| format!("cannot write {}", part.display()))?;
        if resumed == 0 {
            file.set_len(0).wrap_err_with(|| format!("cannot truncate {}", part.display()))?;
        }
        let expected = resumed + response.content_length().unwrap_or(0);
        let bar = ProgressBar::new(expected).with_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(format!("downloading asset {}", target.asset_id));
        bar.set_position(resumed);
        let mut written = resumed;
        let broke_off = loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    file.write_all(&chunk).wrap_err_with(|| format!("cannot write {}", part.display()))?;
                    written += chunk.len() as u64;
                    bar.set_position(written);
                }
                Ok(None) => break None,
                Err(err) => break Some(cause(&err)),
            }
        };
        bar.finish_and_clear();
        file.flush().wrap_err_with(|| format!("cannot write {}", part.display()))?;
        let reason = match broke_off {
            Some(reason) => reason,
            None if written < expected => format!("{} bytes missing", expected - written),
            None => return Ok(resumed),
        };
        bail!(
            "the download broke off after {written} bytes ({reason}); {} is kept: rerun the same command to resume",
            part.display()
        );
    }
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

/// sha-256 and length of the file at `path`.
fn sha256_file(path: &Path) -> Result<(B256, u64)> {
    let mut file = std::fs::File::open(path).wrap_err_with(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buf).wrap_err_with(|| format!("cannot read {}", path.display()))?;
        if read == 0 {
            break;
        }
        hasher.update(&buf[..read]);
        size += read as u64;
    }
    Ok((B256::from_slice(&hasher.finalize()), size))
}

/// An HTTP error and its causes on one line ("error sending request: … connection refused").
pub(super) fn cause(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text = format!("{text}: {inner_text}");
        }
        source = inner.source();
    }
    text
}
