//! Private assets: encrypted before they reach IPFS, the content key wrapped to the
//! provider's key; only that provider can serve them, decrypted, ranges included.

mod common;

use agora_provider::storage::collect;

use agora_provider::{
    Identity,
    crypto::{ContentKey, Encryption},
    metadata::{AssetMetadata, ContentRef},
    storage::sha256,
};
use common::{BUYER, OTHER, Stack, content, expect_refusal};
use eyre::{Result, ensure};

#[tokio::test]
async fn a_private_asset_round_trips_and_ranges_decrypt_from_any_chunk() -> Result<()> {
    let stack = Stack::start().await?;
    let data = content(1024 * 1024 + 4321, 7);
    let (asset, added) = stack.publish_private(&data).await?;

    // What IPFS holds is ciphertext, larger by one tag per 64 KiB chunk.
    let stored = collect(stack.storage.cat(&added.cid, None)).await?;
    ensure!(stored.len() == data.len() + 17 * 16, "ciphertext of {} bytes", stored.len());
    ensure!(!stored.windows(64).any(|w| w == &data[5000..5064]), "plaintext leaked into IPFS");

    let order = stack.buy_and_consume(BUYER, asset, stack.provider_address()).await?;
    let provider = stack.serve().await?;
    let ranged = stack
        .download(&provider, &stack.request(BUYER, asset, order, 1)?, Some("bytes=65530-200000"))
        .await?;
    assert_eq!(ranged.status(), 206);
    assert_eq!(&ranged.bytes().await?[..], &data[65530..=200000]);
    let whole = stack.download(&provider, &stack.request(BUYER, asset, order, 2)?, None).await?;
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.content_length(), Some(data.len() as u64));
    let body = whole.bytes().await?;
    ensure!(sha256(&body) == sha256(&data), "decrypted content differs");
    provider.stop().await
}

#[tokio::test]
async fn a_provider_without_the_wrapped_key_cannot_serve_a_private_asset() -> Result<()> {
    let stack = Stack::start().await?;
    let data = content(10_000, 8);
    // Wrapped only for another provider.
    let other = stack.chain.actor(OTHER)?;
    let key = ContentKey::generate();
    let mut encryption = Encryption::new(data.len() as u64);
    encryption
        .wrapped_keys
        .push(key.wrap_for(other.address, &Identity::new(other.signer.clone()).public_key())?);
    let reader = encryption.encrypting_reader(&key, std::io::Cursor::new(data.clone()))?;
    let added = stack.storage.add_reader(reader, None).await?;
    let metadata = AssetMetadata {
        name: "not for us".into(),
        description: String::new(),
        content: ContentRef {
            cid: added.cid,
            size: data.len() as u64,
            file_name: None,
            encryption: Some(encryption),
        },
        extra: Default::default(),
    };
    let (asset, _) = stack.publish(sha256(&data), &metadata, false, 0).await?;
    let order = stack.buy_and_consume(BUYER, asset, stack.provider_address()).await?;
    let provider = stack.serve().await?;
    let response = stack.download(&provider, &stack.request(BUYER, asset, order, 1)?, None).await?;
    expect_refusal(response, 403, "cannot decrypt").await?;
    provider.stop().await
}
