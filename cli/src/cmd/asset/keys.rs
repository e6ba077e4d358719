//! Who holds an encrypted asset's content key after it is published (who holds it at publish is
//! [`agora_client::keys::new_holders`]'s choice).
//!
//! - `agora asset share` ([`share`]): the owner unwraps its copy and wraps it for one more
//!   provider; a new metadata version names it, no content is re-uploaded.
//! - `agora asset rekey` ([`rekey`]): the owner decrypts the content from IPFS, seals it under a
//!   fresh key for itself and the providers that keep it, and publishes the new ciphertext as a
//!   new metadata version. A dropped provider keeps what it already decrypted, and the old
//!   ciphertext still opens with the old key, which it may have kept: rekeying stops future
//!   access through the current metadata, it cannot take back what was already readable.

use agora_client::{
    keys::{Holder, Sealing, provider_named, registered_provider},
    publish::MANIFEST_FILE_NAME,
};
use agora_contracts::{Agora, tx};
use agora_provider::{
    crypto::{ContentKey, CryptoError, Encryption, public_key_of},
    jobs::{MAX_DOCUMENT_BYTES, ModelFile, ModelManifest},
    metadata::AssetMetadata,
    storage::{Added, Storage, StorageError, collect, sha256},
};
use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use clap::Args;
use eyre::{Result, bail, eyre};
use futures::StreamExt;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::{IPFS_TIMEOUT, IpfsArgs, asset, metadata, publish::holders_text};
use crate::{
    GlobalArgs, chain,
    currency::Units,
    output, revert,
    wallet::{Signer, SignerArgs},
};

/// Arguments of `asset share`.
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// The asset's id.
    pub id: U256,
    /// The provider to give the key, by URL (its `/v1/info`) or by the address it registered on
    /// the ComputeMarket with (repeat it for several).
    #[arg(long = "provider", value_name = "URL|ADDRESS", required = true)]
    pub providers: Vec<String>,
    /// The Kubo node.
    #[command(flatten)]
    pub ipfs: IpfsArgs,
    /// The signer (the asset's owner, holding its copy of the key).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Arguments of `asset rekey`.
#[derive(Debug, Args)]
pub struct RekeyArgs {
    /// The asset's id.
    pub id: U256,
    /// A provider that must not hold the new key (repeat it for several).
    #[arg(long = "drop-provider", value_name = "ADDRESS")]
    pub drop: Vec<Address>,
    /// The Kubo node.
    #[command(flatten)]
    pub ipfs: IpfsArgs,
    /// The signer (the asset's owner, holding its copy of the key).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// An asset the signer owns, its metadata and the content key its copy unwraps to.
struct Owned {
    key: PrivateKeySigner,
    stored: agora_contracts::asset_registry::IAssetRegistry::Asset,
    metadata: AssetMetadata,
    encryption: Encryption,
    content_key: ContentKey,
}

async fn owned(agora: &Agora, storage: &Storage, signer: &Signer, id: U256, verb: &str) -> Result<Owned> {
    let key = signer.key.clone().ok_or_else(|| {
        eyre!("a hardware wallet cannot decrypt the owner's key copy: {verb} with the software key it was published with")
    })?;
    let stored = asset(agora, id).await?;
    let owner = tx::call("registry.ownerOf", agora.registry.ownerOf(id)).await?;
    if owner != signer.address {
        bail!("asset {id} is owned by {owner}, not {}: only its owner can {verb} it", signer.address);
    }
    let metadata = metadata(storage, &stored.metadataCid).await?;
    let Some(encryption) = metadata.content.encryption.clone() else {
        bail!(
            "asset {id} is not encrypted: its content is readable by anyone from IPFS, there is no key to {verb}"
        );
    };
    let content_key = encryption.content_key_for(&key).map_err(|err| match err {
        CryptoError::NotAKeyHolder(_) => eyre!(
            "you hold no copy of asset {id}'s key (it is wrapped for {}): it was published without an owner's copy",
            holders_text(&encryption.holders(), owner)
        ),
        other => eyre!("your copy of asset {id}'s key does not unwrap: {other}"),
    })?;
    Ok(Owned { key, stored, metadata, encryption, content_key })
}

/// Publishes `metadata` as asset `id`'s next version with `digest`, once the network's pinning
/// services keep it; the new metadata CID.
async fn publish_version(
    global: &GlobalArgs,
    agora: &Agora,
    storage: &Storage,
    id: U256,
    metadata: &AssetMetadata,
    digest: B256,
) -> Result<(String, u32)> {
    let cid = storage.add_bytes(serde_json::to_vec_pretty(metadata)?).await?.cid;
    super::keep_version(global, storage, id, &cid, Some(&metadata.content.cid)).await?;
    let call = agora.registry.updateMetadata(id, cid.clone(), digest);
    tx::send("registry.updateMetadata", call).await.map_err(|e| revert::explain(e, &Units::eth()))?;
    Ok((cid, asset(agora, id).await?.version))
}

pub(super) async fn share(global: &GlobalArgs, args: ShareArgs) -> Result<()> {
    let storage = Storage::new(&args.ipfs.api, IPFS_TIMEOUT)?;
    let (agora, signer) = chain::writer(global, &args.signer).await?;
    let mut owned = owned(&agora, &storage, &signer, args.id, "share").await?;
    let mut added = Vec::new();
    for name in &args.providers {
        let holder = provider_named(&agora, name).await?;
        if owned.encryption.add_holder(&owned.content_key, holder.address, &holder.public_key)? {
            added.push(holder.address);
        }
    }
    let holders = owned.encryption.holders();
    if added.is_empty() {
        if global.json {
            return output::json(
                &json!({ "assetId": args.id.to_string(), "added": added, "keyHolders": holders }),
            );
        }
        println!("asset {}'s key is already held by every provider named; nothing sent", args.id);
        return Ok(());
    }
    owned.metadata.content.encryption = Some(owned.encryption);
    let (cid, version) =
        publish_version(global, &agora, &storage, args.id, &owned.metadata, owned.stored.contentDigest)
            .await?;
    if global.json {
        return output::json(&json!({
            "assetId": args.id.to_string(),
            "added": added,
            "keyHolders": holders,
            "metadataCid": cid,
            "version": version,
        }));
    }
    println!("asset {} is at metadata version {version}: {cid}", args.id);
    println!("the key is now wrapped for {}", holders_text(&holders, signer.address));
    Ok(())
}

pub(super) async fn rekey(global: &GlobalArgs, args: RekeyArgs) -> Result<()> {
    let storage = Storage::new(&args.ipfs.api, IPFS_TIMEOUT)?;
    let (agora, signer) = chain::writer(global, &args.signer).await?;
    let owned = owned(&agora, &storage, &signer, args.id, "rekey").await?;
    let old_holders = owned.encryption.holders();
    if let Some(stranger) = args.drop.iter().find(|address| !old_holders.contains(address)) {
        bail!(
            "{stranger} holds no key of asset {}: its holders are {}",
            args.id,
            holders_text(&old_holders, signer.address)
        );
    }
    let mut holders = vec![Holder { address: owned.key.address(), public_key: public_key_of(&owned.key) }];
    let mut lost = Vec::new();
    for address in old_holders.iter().filter(|a| **a != owned.key.address() && !args.drop.contains(a)) {
        match registered_provider(&agora, *address).await {
            Ok(holder) => holders.push(holder),
            Err(err) => lost.push((*address, format!("{err:#}"))),
        }
    }
    let sealing = Sealing::new(holders)?;
    let content = &owned.metadata.content;
    let is_manifest = content.file_name.as_deref() == Some(MANIFEST_FILE_NAME)
        && owned.stored.kind == super::Kind::Model as u8;
    let (added, encryption, files) = if is_manifest {
        reseal_model(&storage, &owned, &sealing).await?
    } else {
        let header = sealing.content_header(owned.encryption.plaintext_size)?;
        let old = (&owned.encryption, &owned.content_key);
        let (added, encryption) = reseal(&storage, &sealing, old, &content.cid, header).await?;
        (added, encryption, None)
    };
    if !is_manifest && added.sha256 != owned.stored.contentDigest {
        bail!(
            "asset {}'s decrypted content has sha-256 {}, not its on-chain digest {}: nothing was published",
            args.id,
            added.sha256,
            owned.stored.contentDigest
        );
    }
    let mut metadata = owned.metadata.clone();
    metadata.content.cid = added.cid.clone();
    metadata.content.size = added.size;
    metadata.content.encryption = encryption;
    if let Some(files) = files {
        metadata.extra.insert("files".into(), files);
    }
    let holders = metadata.content.encryption.as_ref().map(Encryption::holders).unwrap_or_default();
    let (cid, version) = publish_version(global, &agora, &storage, args.id, &metadata, added.sha256).await?;
    if global.json {
        return output::json(&json!({
            "assetId": args.id.to_string(),
            "contentCid": added.cid,
            "contentDigest": added.sha256,
            "metadataCid": cid,
            "version": version,
            "keyHolders": holders,
            "dropped": args.drop,
            "notRewrapped": lost.iter().map(|(address, _)| address).collect::<Vec<_>>(),
        }));
    }
    println!("asset {} is re-encrypted under a fresh key, at metadata version {version}: {cid}", args.id);
    println!("the new key is wrapped for {}", holders_text(&holders, signer.address));
    for (address, why) in &lost {
        println!("not re-wrapped for {address} ({why}); give it the key again with `agora asset share`");
    }
    println!(
        "a dropped provider keeps what it already decrypted and the old ciphertext with its old key: rekeying stops access through the current version only"
    );
    Ok(())
}

/// Decrypts the sealed content at `cid` (under `old`, with `key`) from IPFS and seals it again
/// under `new` with `sealing`'s key while adding it; what was added and the new header.
async fn reseal(
    storage: &Storage,
    sealing: &Sealing,
    (old, key): (&Encryption, &ContentKey),
    cid: &str,
    new: Encryption,
) -> Result<(Added, Option<Encryption>)> {
    let mut plaintext = old.decrypting_stream(key, storage.cat(cid, None), 0, 0, old.plaintext_size)?;
    // The ciphertext is piped in by a task: a failure there ends the reader early, and its
    // reason is what is reported.
    let (mut writer, reader) = tokio::io::duplex(1 << 20);
    let feeder = tokio::spawn(async move {
        while let Some(chunk) = plaintext.next().await {
            let chunk = chunk?;
            writer
                .write_all(&chunk)
                .await
                .map_err(|source| StorageError::Io { action: "re-encrypting".into(), source })?;
        }
        Ok::<_, StorageError>(())
    });
    let added = sealing.add(storage, reader, new, None).await;
    match feeder.await {
        Ok(Err(err)) => bail!("decrypting {cid}: {err}"),
        Err(err) => bail!("decrypting {cid}: {err}"),
        Ok(Ok(())) => added,
    }
}

/// Re-seals a private model: its manifest decrypted with the old key, each file decrypted and
/// sealed under the new key with a header of its own, the new manifest sealed as the content.
async fn reseal_model(
    storage: &Storage,
    owned: &Owned,
    sealing: &Sealing,
) -> Result<(Added, Option<Encryption>, Option<serde_json::Value>)> {
    let (encryption, cid) = (&owned.encryption, owned.metadata.content.cid.as_str());
    if encryption.plaintext_size > MAX_DOCUMENT_BYTES as u64 {
        bail!("the model manifest {cid} is larger than {MAX_DOCUMENT_BYTES} bytes");
    }
    let stream = encryption.decrypting_stream(
        &owned.content_key,
        storage.cat(cid, None),
        0,
        0,
        encryption.plaintext_size,
    )?;
    let bytes = collect(stream).await?;
    if sha256(&bytes) != owned.stored.contentDigest {
        bail!("the model manifest {cid} does not match the asset's on-chain digest");
    }
    let manifest = ModelManifest::parse(&bytes)
        .map_err(|reason| eyre!("the model manifest {cid} is invalid: {reason}"))?;
    let mut files = Vec::with_capacity(manifest.files.len());
    let mut listed = Vec::with_capacity(manifest.files.len());
    for file in manifest.files {
        let Some(header) = &file.encryption else {
            // A file left in the clear stays as it is: rekeying cannot make it secret.
            listed.push(json!({ "name": file.name, "cid": file.cid, "sha256": file.sha256 }));
            files.push(file);
            continue;
        };
        header.validate()?;
        let new = Encryption::new(header.plaintext_size);
        let (added, header) = reseal(storage, sealing, (header, &owned.content_key), &file.cid, new).await?;
        if added.sha256 != file.sha256 {
            bail!(
                "model file {} decrypts to sha-256 {}, not the {} its manifest lists",
                file.name,
                added.sha256,
                file.sha256
            );
        }
        listed
            .push(json!({ "name": file.name, "cid": added.cid, "size": added.size, "sha256": added.sha256 }));
        files.push(ModelFile { name: file.name, cid: added.cid, sha256: added.sha256, encryption: header });
    }
    let manifest = serde_json::to_vec_pretty(&ModelManifest { files })?;
    let header = sealing.content_header(manifest.len() as u64)?;
    let (added, header) = sealing.add(storage, std::io::Cursor::new(manifest), header, None).await?;
    Ok((added, header, Some(serde_json::Value::Array(listed))))
}
