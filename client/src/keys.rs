//! Content keys: who holds a new asset's key, and sealing content under it while it goes to IPFS.
//!
//! The owner's own key always holds a copy (so the owner, not a provider, controls the key),
//! with the providers named by URL, or else every active provider registered on the
//! ComputeMarket. A registered provider's public key is recovered from the signature of its
//! registration transaction, so nothing is taken on a provider's word.

use std::collections::BTreeSet;

use agora_contracts::{Agora, tx};
use agora_provider::{
    crypto::{ContentKey, Encryption, SCHEME, public_key_of},
    storage::{Added, HashingReader, Progress, Storage},
};
use alloy::{primitives::Address, providers::Provider, signers::local::PrivateKeySigner};
use eyre::{Result, bail, eyre};
use tokio::io::AsyncRead;

/// Someone a content key is wrapped for.
#[derive(Debug, Clone)]
pub struct Holder {
    /// Its address (the wrapped key names it).
    pub address: Address,
    /// Its uncompressed secp256k1 public key.
    pub public_key: Vec<u8>,
}

/// A fresh content key and who it is wrapped for.
pub struct Sealing {
    key: ContentKey,
    holders: Vec<Holder>,
}

impl Sealing {
    /// A fresh key for `holders`.
    pub fn new(holders: Vec<Holder>) -> Result<Self> {
        if holders.is_empty() {
            bail!("nobody would hold the content key: the asset could never be read");
        }
        Ok(Self { key: ContentKey::generate(), holders })
    }

    /// The header of `size` bytes of content, its key wrapped for every holder.
    pub fn content_header(&self, size: u64) -> Result<Encryption> {
        let mut header = Encryption::new(size);
        for holder in &self.holders {
            header
                .add_holder(&self.key, holder.address, &holder.public_key)
                .map_err(|err| eyre!("cannot wrap the content key for {}: {err}", holder.address))?;
        }
        Ok(header)
    }

    /// Seals what `plaintext` yields under `header` while adding it to IPFS; what was added
    /// (the plaintext's size and sha-256) and the header.
    pub async fn add<R>(
        &self,
        storage: &Storage,
        plaintext: R,
        header: Encryption,
        progress: Option<Progress>,
    ) -> Result<(Added, Option<Encryption>)>
    where
        R: AsyncRead + Send + Sync + Unpin + 'static,
    {
        let added = add_sealed(storage, plaintext, &self.key, &header, progress).await?;
        Ok((added, Some(header)))
    }
}

/// Who publishes: an address, and its local key when it has one (a hardware wallet has none).
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// The owner's address.
    pub address: Address,
    /// Its local key, which can unwrap a content key.
    pub key: Option<&'a PrivateKeySigner>,
}

/// Who holds a new asset's key: the owner (unless `provider_custody`; a hardware wallet cannot
/// decrypt), and the providers at `urls`, or else every active provider on the ComputeMarket.
pub async fn new_holders(
    agora: &Agora,
    owner: Owner<'_>,
    urls: &[String],
    provider_custody: bool,
) -> Result<Vec<Holder>> {
    let mut holders = Vec::new();
    match (owner.key, provider_custody) {
        (Some(key), _) => holders.push(Holder { address: key.address(), public_key: public_key_of(key) }),
        (None, true) => {}
        (None, false) => bail!(
            "{} is a hardware wallet, which cannot decrypt: the owner's copy of the content key needs a software key \
             (--keystore or AGORA_PRIVATE_KEY), or pass --provider-custody to let only providers hold the key",
            owner.address
        ),
    }
    if urls.is_empty() {
        for provider in active_providers(agora).await? {
            holders.push(registered_provider(agora, provider.address).await?);
        }
    } else {
        let http = crate::provider::http_client();
        for url in urls {
            holders.push(provider_at(&http, url, agora.deployment.chain_id).await?);
        }
    }
    let mut seen = BTreeSet::new();
    holders.retain(|holder| seen.insert(holder.address));
    if holders.is_empty() {
        bail!(
            "nobody would hold the content key: name a provider with --provider, or drop --provider-custody"
        );
    }
    Ok(holders)
}

/// The provider serving at `url`, by its `/v1/info`.
async fn provider_at(
    http: &alloy::transports::http::reqwest::Client,
    url: &str,
    chain_id: u64,
) -> Result<Holder> {
    let info = crate::provider::info(http, url, chain_id).await?;
    if info.scheme != SCHEME {
        bail!("provider {url} decrypts {:?}, not {SCHEME:?}", info.scheme);
    }
    Ok(Holder { address: info.address, public_key: info.public_key })
}

/// A provider registered on the ComputeMarket and not leaving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveProvider {
    /// Its address.
    pub address: Address,
    /// The URL it serves at, as it registered it.
    pub endpoint: String,
    /// What it staked on the ComputeMarket (what it stands to lose if it cheats), in wei.
    pub stake: u128,
}

/// Providers registered on the ComputeMarket and not leaving it, in registration order.
pub async fn active_providers(agora: &Agora) -> Result<Vec<ActiveProvider>> {
    let logs = agora
        .compute_market
        .ProviderRegistered_filter()
        .from_block(agora.deployment.deployment_block)
        .query()
        .await
        .map_err(|err| eyre!("reading the ComputeMarket's registered providers: {err}"))?;
    let mut active = Vec::new();
    for (event, _) in logs {
        if active.iter().any(|known: &ActiveProvider| known.address == event.provider) {
            continue;
        }
        let record =
            tx::call("computeMarket.getProvider", agora.compute_market.getProvider(event.provider)).await?;
        if record.registered && record.exitAvailableAt == 0 {
            active.push(ActiveProvider {
                address: event.provider,
                endpoint: record.endpoint,
                stake: record.stake,
            });
        }
    }
    Ok(active)
}

/// A provider registered on the ComputeMarket, its public key recovered from the signature of
/// the transaction that registered it.
pub async fn registered_provider(agora: &Agora, address: Address) -> Result<Holder> {
    let logs = agora
        .compute_market
        .ProviderRegistered_filter()
        .topic1(address)
        .from_block(agora.deployment.deployment_block)
        .query()
        .await
        .map_err(|err| eyre!("reading provider {address}'s registration: {err}"))?;
    let Some(tx_hash) = logs.last().and_then(|(_, log)| log.transaction_hash) else {
        bail!("{address} never registered on the ComputeMarket: name the provider by its URL instead");
    };
    let registration = agora
        .provider()
        .get_transaction_by_hash(tx_hash)
        .await?
        .ok_or_else(|| eyre!("the chain no longer serves provider {address}'s registration {tx_hash}"))?;
    let envelope = registration.inner.inner();
    let key = envelope
        .signature()
        .recover_from_prehash(&envelope.signature_hash())
        .map_err(|err| eyre!("cannot recover provider {address}'s key from its registration: {err}"))?;
    if Address::from_public_key(&key) != address {
        bail!(
            "provider {address} was registered by a contract, which cannot decrypt: name a provider by its URL"
        );
    }
    Ok(Holder { address, public_key: key.to_encoded_point(false).as_bytes().to_vec() })
}

/// `text` as a provider: an address on the ComputeMarket, or a URL.
pub async fn provider_named(agora: &Agora, text: &str) -> Result<Holder> {
    match text.parse::<Address>() {
        Ok(address) => registered_provider(agora, address).await,
        Err(_) => provider_at(&crate::provider::http_client(), text, agora.deployment.chain_id).await,
    }
}

/// Encrypts what `plaintext` yields under `header` with `key` while adding it to IPFS: what
/// IPFS stores is the ciphertext; the size and sha-256 returned are the plaintext's (the
/// on-chain digest is the plaintext's).
pub async fn add_sealed<R>(
    storage: &Storage,
    plaintext: R,
    key: &ContentKey,
    header: &Encryption,
    progress: Option<Progress>,
) -> Result<Added>
where
    R: AsyncRead + Send + Sync + Unpin + 'static,
{
    let plaintext = HashingReader::new(plaintext, progress);
    let digest = plaintext.digest_handle();
    let ciphertext = header.encrypting_reader(key, plaintext)?;
    let stored = storage.add_reader(ciphertext, None).await?;
    let (sha256, size) = digest.finish();
    Ok(Added { cid: stored.cid, size, sha256 })
}
