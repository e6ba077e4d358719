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
    expect_refusal(response, 403, "holds no key for the encrypted asset").await?;
    provider.stop().await
}

/// Publishes `ciphertext` under `header` (whatever it claims) as a private asset whose on-chain
/// digest is the plaintext's, and has the buyer spend an order on it for this provider.
async fn publish_sealed(
    stack: &Stack,
    plaintext: &[u8],
    ciphertext: Vec<u8>,
    header: Encryption,
    size: u64,
) -> Result<(alloy::primitives::U256, alloy::primitives::U256)> {
    let added = stack.storage.add_bytes(ciphertext).await?;
    let metadata = AssetMetadata {
        name: "hostile".into(),
        description: String::new(),
        content: ContentRef { cid: added.cid, size, file_name: None, encryption: Some(header) },
        extra: Default::default(),
    };
    let (asset, _) = stack.publish(sha256(plaintext), &metadata, false, 0).await?;
    let order = stack.buy_and_consume(BUYER, asset, stack.provider_address()).await?;
    Ok((asset, order))
}

#[tokio::test]
async fn hostile_keys_headers_and_ciphertexts_each_get_a_precise_refusal_and_no_plaintext() -> Result<()> {
    let stack = Stack::start().await?;
    let provider = stack.serve().await?;
    let data = content(3 * 64 * 1024 + 500, 9);
    let me = stack.provider_address();
    let my_public_key = Identity::new(stack.provider_key.clone()).public_key();
    let key = ContentKey::generate();
    let sealed = |header: &Encryption| {
        let header = header.clone();
        let (key, data) = (key.clone(), data.clone());
        async move {
            let mut reader = header.encrypting_reader(&key, std::io::Cursor::new(data))?;
            let mut out = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut out).await?;
            Ok::<_, eyre::Report>(out)
        }
    };
    let mut honest = Encryption::new(data.len() as u64);
    honest.wrapped_keys.push(key.wrap_for(me, &my_public_key)?);
    let ciphertext = sealed(&honest).await?;
    let chunk = 64 * 1024 + 16;
    // Each request takes a nonce of its own.
    let nonces = std::sync::atomic::AtomicU64::new(1);
    let nonce = || nonces.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // What a download got: no plaintext beyond what was authenticated, never the whole.
    let leaked =
        |body: &[u8]| body.len() >= data.len() || body.windows(64).any(|w| w == &data[100_000..100_064]);

    // A key said to be this provider's but wrapped to another public key.
    let other = stack.chain.actor(OTHER)?;
    let mut forged = honest.clone();
    forged.wrapped_keys = vec![key.wrap_for(me, &Identity::new(other.signer.clone()).public_key())?];
    let (asset, order) = publish_sealed(&stack, &data, ciphertext.clone(), forged, data.len() as u64).await?;
    let response = stack.download(&provider, &stack.request(BUYER, asset, order, nonce())?, None).await?;
    expect_refusal(response, 502, "does not unwrap with its key").await?;

    // A truncated ciphertext (its last chunk dropped): the stored size gives it away.
    let truncated = ciphertext[..2 * chunk].to_vec();
    let (asset, order) = publish_sealed(&stack, &data, truncated, honest.clone(), data.len() as u64).await?;
    let response = stack.download(&provider, &stack.request(BUYER, asset, order, nonce())?, None).await?;
    expect_refusal(response, 502, "does not match the asset's on-chain digest").await?;

    // Two chunks swapped, or the right chunks under a wrong nonce prefix: authentication fails
    // at the first chunk, and the download breaks off without its plaintext.
    let mut reordered = ciphertext.clone();
    let (first, rest) = reordered.split_at_mut(chunk);
    first.swap_with_slice(&mut rest[..chunk]);
    let mut wrong_prefix = honest.clone();
    let mut prefix = wrong_prefix.nonce_prefix.to_vec();
    prefix[0] ^= 1;
    wrong_prefix.nonce_prefix = prefix.into();
    for (what, bytes, header) in
        [("reordered", reordered, honest.clone()), ("wrong nonce prefix", ciphertext.clone(), wrong_prefix)]
    {
        let (asset, order) = publish_sealed(&stack, &data, bytes, header, data.len() as u64).await?;
        let response = stack.download(&provider, &stack.request(BUYER, asset, order, nonce())?, None).await?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        ensure!(!leaked(&body), "{what}: {status}, {} bytes served", body.len());
    }

    // A plaintext size that lies: to the content's size, or with it (then the ciphertext's size
    // does not add up).
    let mut lying = honest.clone();
    lying.plaintext_size += 100;
    let (asset, order) =
        publish_sealed(&stack, &data, ciphertext.clone(), lying.clone(), data.len() as u64).await?;
    let response = stack.download(&provider, &stack.request(BUYER, asset, order, nonce())?, None).await?;
    expect_refusal(response, 502, "content size differs from the encrypted size").await?;
    let (asset, order) = publish_sealed(&stack, &data, ciphertext, lying, data.len() as u64 + 100).await?;
    let response = stack.download(&provider, &stack.request(BUYER, asset, order, nonce())?, None).await?;
    expect_refusal(response, 502, "does not match the asset's on-chain digest").await?;

    // The provider still serves an honest private asset afterwards.
    let (asset, _) = stack.publish_private(&data).await?;
    let order = stack.buy_and_consume(BUYER, asset, me).await?;
    let whole = stack.download(&provider, &stack.request(BUYER, asset, order, nonce())?, None).await?;
    ensure!(whole.status() == 200, "status {}", whole.status());
    ensure!(sha256(&whole.bytes().await?) == sha256(&data), "the honest asset differs");
    provider.stop().await
}
