//! The replicator against a real anvil and Kubo: it pins the metadata and content of the assets
//! this provider serves (public, or keyed for it) and nothing else — not an asset keyed for
//! another provider, not a metadata document that is no asset's, not content over its size
//! limit; content no node has is retried after a back-off and pinned once it appears; a new
//! metadata version is followed. `/v1/pins/{cid}` answers what is pinned and refuses what is no
//! CID.

mod common;

use std::time::Duration;

use agora_contracts::tx;
use agora_provider::{
    Identity,
    crypto::{ContentKey, Encryption},
    metadata::{AssetMetadata, ContentRef},
    replicate::{Replicator, Settings},
    storage::sha256,
};
use alloy::primitives::U256;
use common::{DATASET, OTHER, PUBLISHER, Stack, content, expect_refusal, public_metadata};
use eyre::{Result, ensure};

/// Publishes a dataset whose metadata document is `metadata_cid`, whatever it holds.
async fn publish_raw(stack: &Stack, metadata_cid: String) -> Result<U256> {
    let digest = sha256(metadata_cid.as_bytes());
    Ok(stack.publish_cid(DATASET, digest, metadata_cid, false, 0).await?.0)
}

/// Adds `metadata` to IPFS; its CID.
async fn add_metadata(stack: &Stack, metadata: &AssetMetadata) -> Result<String> {
    Ok(stack.storage.add_bytes(serde_json::to_vec(metadata)?).await?.cid)
}

/// Removes every recursive pin: the blocks stay until the garbage is collected.
async fn unpin_everything(stack: &Stack) -> Result<()> {
    for cid in stack.storage.pin_ls().await?.keys() {
        stack.storage.pin_rm(cid).await?;
    }
    Ok(())
}

#[tokio::test]
async fn the_provider_pins_what_it_serves_and_nothing_else() -> Result<()> {
    let stack = Stack::start().await?;
    let provider = stack.serve().await?;
    let settings = Settings {
        every: Duration::from_secs(1),
        pin_timeout: Duration::from_secs(5),
        max_asset_bytes: 1 << 20,
    };
    // Content that no node holds: added, unpinned and collected before anything else is added.
    let later = content(7_000, 5);
    let missing = stack.storage.add_bytes(later.clone()).await?;
    stack.storage.pin_rm(&missing.cid).await?;
    let gc = stack.kubo.command().args(["repo", "gc", "--quiet"]).output()?;
    ensure!(gc.status.success(), "ipfs repo gc: {}", String::from_utf8_lossy(&gc.stderr));

    let (public, public_added) = stack.publish_public(&content(10_000, 1), 0).await?;
    let (_, private_added) = stack.publish_private(&content(10_000, 2)).await?;
    // Keyed for another provider only.
    let other = stack.chain.actor(OTHER)?;
    let key = ContentKey::generate();
    let mut encryption = Encryption::new(5_000);
    encryption
        .wrapped_keys
        .push(key.wrap_for(other.address, &Identity::new(other.signer.clone()).public_key())?);
    let sealed = stack.storage.add_bytes(content(5_016, 3)).await?;
    let keyed_elsewhere = AssetMetadata {
        name: "not ours".into(),
        description: String::new(),
        content: ContentRef {
            cid: sealed.cid.clone(),
            size: 5_000,
            file_name: None,
            encryption: Some(encryption),
        },
        extra: Default::default(),
    };
    let keyed_elsewhere = publish_raw(&stack, add_metadata(&stack, &keyed_elsewhere).await?).await?;
    // A document that is no asset metadata; content over the limit.
    let junk =
        publish_raw(&stack, stack.storage.add_bytes(b"{\"not\": \"metadata\"".to_vec()).await?.cid).await?;
    let large = stack.storage.add_bytes(content(2 << 20, 4)).await?;
    let too_large = publish_raw(&stack, add_metadata(&stack, &public_metadata(&large)).await?).await?;
    let missing_metadata = add_metadata(&stack, &public_metadata(&missing)).await?;
    let unavailable = publish_raw(&stack, missing_metadata.clone()).await?;
    // What the replicator pins, it pins itself.
    unpin_everything(&stack).await?;

    let mut replicator = Replicator::new(provider.state.clone(), settings)?;
    let pass = replicator.pass().await?;
    let public_metadata_cid = stack.chain.agora.registry.getAsset(public).call().await?.metadataCid;
    let private_metadata_cid = stack.chain.agora.registry.getAsset(U256::from(2)).call().await?.metadataCid;
    let mut pinned = pass.pinned.clone();
    pinned.sort();
    let mut expected = vec![
        public_metadata_cid.clone(),
        public_added.cid.clone(),
        private_metadata_cid,
        private_added.cid.clone(),
    ];
    expected.sort();
    assert_eq!(pinned, expected, "{pass:?}");
    let mut skipped = pass.skipped.clone();
    skipped.sort();
    assert_eq!(skipped, vec![keyed_elsewhere, junk, too_large], "{pass:?}");
    assert_eq!(pass.failed, vec![unavailable], "{pass:?}");
    for cid in &expected {
        ensure!(stack.storage.is_pinned(cid).await?, "{cid} is not pinned");
    }
    for cid in [&sealed.cid, &large.cid] {
        ensure!(!stack.storage.is_pinned(cid).await?, "{cid} was pinned");
    }

    // The missing content appears; after one pass of back-off it is pinned.
    stack.storage.add_bytes(later).await?;
    stack.storage.pin_rm(&missing.cid).await?;
    let waiting = replicator.pass().await?;
    assert!(waiting.pinned.is_empty() && waiting.failed.is_empty(), "backing off: {waiting:?}");
    let retried = replicator.pass().await?;
    assert_eq!(retried.pinned, vec![missing_metadata, missing.cid.clone()]);

    // A new version of the public asset: its new content is pinned, the old stays pinned.
    let next = stack.storage.add_bytes(content(3_000, 6)).await?;
    let next_metadata = add_metadata(&stack, &public_metadata(&next)).await?;
    stack.storage.pin_rm(&next.cid).await?;
    let publisher = stack.chain.actor(PUBLISHER)?;
    let as_publisher = stack.chain.agora_as(&publisher);
    let update = as_publisher.registry.updateMetadata(public, next_metadata.clone(), next.sha256);
    tx::send("updateMetadata", update).await?;
    let followed = replicator.pass().await?;
    assert_eq!(followed.pinned, vec![next_metadata, next.cid.clone()]);
    ensure!(stack.storage.is_pinned(&public_added.cid).await?, "the old version stays pinned");
    assert_eq!(replicator.pass().await?, Default::default(), "nothing new: nothing done");

    // What `agora asset pins` asks.
    let http = reqwest::Client::new();
    let answer: serde_json::Value =
        http.get(format!("{}/v1/pins/{}", provider.url, next.cid)).send().await?.json().await?;
    assert_eq!(answer, serde_json::json!({ "cid": next.cid, "pinned": true }));
    let answer: serde_json::Value =
        http.get(format!("{}/v1/pins/{}", provider.url, sealed.cid)).send().await?.json().await?;
    assert_eq!(answer["pinned"], false);
    for bad in ["not-a-cid", "%2e%2e%2fetc", &"b".repeat(200)] {
        let response = http.get(format!("{}/v1/pins/{bad}", provider.url)).send().await?;
        expect_refusal(response, 400, "is not a CID").await?;
    }
    provider.stop().await
}
