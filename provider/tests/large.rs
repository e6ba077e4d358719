//! Streaming at size: a 1 GiB public asset goes from disk through Kubo and the provider to
//! the consumer without being held in memory; Kubo dying mid-stream fails that download
//! loudly and the provider keeps serving once Kubo is back.

mod common;

use std::{
    io::Write,
    time::{Duration, Instant},
};

use agora_provider::storage::sha256;
use alloy::primitives::B256;
use common::{BUYER, Stack, content, public_metadata};
use eyre::{Result, ensure, eyre};
use futures::StreamExt;
use sha2::{Digest, Sha256};

const MIB: usize = 1024 * 1024;

/// Writes `size` bytes of non-repeating content to `path` (each 256 KiB IPFS chunk differs)
/// and returns its sha-256.
fn write_content(path: &std::path::Path, size: usize) -> Result<B256> {
    let base = content(MIB, 11);
    let mut file = std::io::BufWriter::with_capacity(4 * MIB, std::fs::File::create(path)?);
    let mut hasher = Sha256::new();
    let mut block = base.clone();
    for index in 0..size / MIB {
        for quarter in 0..4 {
            let at = quarter * 256 * 1024;
            block[at..at + 8].copy_from_slice(&((index * 4 + quarter) as u64).to_le_bytes());
        }
        hasher.update(&block);
        file.write_all(&block)?;
    }
    file.flush()?;
    Ok(B256::from_slice(&hasher.finalize()))
}

#[tokio::test]
async fn a_1_gib_asset_streams_through_the_provider_and_matches_its_digest() -> Result<()> {
    let stack = Stack::start().await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("big.bin");
    let size = 1024 * MIB;
    let digest = write_content(&path, size)?;

    let started = Instant::now();
    let added = stack.storage.add_file(&path, None).await?;
    eprintln!("ipfs add of 1 GiB: {:.1?}", started.elapsed());
    ensure!(added.sha256 == digest && added.size == size as u64, "add saw other bytes");
    std::fs::remove_file(&path)?;
    let (asset, _) = stack.publish(digest, &public_metadata(&added), false, 0).await?;
    let order = stack.buy_and_consume(BUYER, asset, stack.provider_address()).await?;
    let provider = stack.serve().await?;

    let started = Instant::now();
    let response = stack.download(&provider, &stack.request(BUYER, asset, order, 1)?, None).await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(size as u64));
    let mut hasher = Sha256::new();
    let mut received = 0usize;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        received += chunk.len();
        hasher.update(&chunk);
    }
    let elapsed = started.elapsed();
    eprintln!(
        "provider download of 1 GiB: {elapsed:.1?} ({:.0} MiB/s)",
        size as f64 / MIB as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(received, size);
    ensure!(B256::from_slice(&hasher.finalize()) == digest, "downloaded bytes do not match the digest");
    provider.stop().await
}

#[tokio::test]
async fn kubo_dying_mid_stream_fails_that_download_and_the_provider_serves_again_after() -> Result<()> {
    let mut stack = Stack::start().await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("mid.bin");
    let size = 256 * MIB;
    let digest = write_content(&path, size)?;
    let added = stack.storage.add_file(&path, None).await?;
    let (asset, _) = stack.publish(digest, &public_metadata(&added), false, 3600).await?;
    let order = stack.buy_and_consume(BUYER, asset, stack.provider_address()).await?;
    let small = content(50_000, 3);
    let (small_asset, _) = stack.publish_public(&small, 3600).await?;
    let small_order = stack.buy_and_consume(BUYER, small_asset, stack.provider_address()).await?;
    let provider = stack.serve().await?;

    let response = stack.download(&provider, &stack.request(BUYER, asset, order, 1)?, None).await?;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut received = 0usize;
    while received < 8 * MIB {
        received += body.next().await.ok_or_else(|| eyre!("stream ended early"))??.len();
    }
    stack.kubo.kill()?;
    let outcome = loop {
        match body.next().await {
            Some(Ok(chunk)) => received += chunk.len(),
            Some(Err(err)) => break Err(err),
            None => break Ok(()),
        }
    };
    ensure!(outcome.is_err(), "the download ended cleanly after Kubo died ({received} bytes)");
    ensure!(received < size, "all {received} bytes arrived although Kubo died");

    // The provider itself is up, and serves again once Kubo is back.
    let health = stack.http.get(format!("{}/health", provider.url)).send().await?;
    assert_eq!(health.status(), 200);
    stack.kubo.restart()?;
    let again = stack.download(&provider, &stack.request(BUYER, small_asset, small_order, 2)?, None).await?;
    assert_eq!(again.status(), 200);
    ensure!(sha256(&again.bytes().await?) == sha256(&small), "content differs after the restart");
    provider.stop().await
}

#[tokio::test]
async fn a_hung_kubo_gives_504_within_the_deadline_and_stalls_mid_stream_fail() -> Result<()> {
    let mut stack = Stack::start().await?;
    let data = content(64 * MIB, 12);
    let (asset, _) = stack.publish_public(&data, 3600).await?;
    let order = stack.buy_and_consume(BUYER, asset, stack.provider_address()).await?;
    let storage = agora_provider::storage::Storage::new(&stack.kubo.api_url(), Duration::from_secs(1))?;
    let provider = stack.serve_custom(agora_provider::Limits::default(), storage).await?;

    // Warm the metadata cache, then freeze Kubo: the next request cannot stat the content.
    assert_eq!(
        stack.download(&provider, &stack.request(BUYER, asset, order, 1)?, Some("bytes=0-9")).await?.status(),
        206
    );
    stack.kubo.pause()?;
    let started = Instant::now();
    let response = stack.download(&provider, &stack.request(BUYER, asset, order, 2)?, None).await?;
    let waited = started.elapsed();
    stack.kubo.resume()?;
    common::expect_refusal(response, 504, "not available from IPFS").await?;
    ensure!(waited < Duration::from_secs(5), "the deadline took {waited:?}");

    // Frozen mid-stream: the idle deadline ends the download with an error.
    let response = stack.download(&provider, &stack.request(BUYER, asset, order, 3)?, None).await?;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut received = body.next().await.ok_or_else(|| eyre!("no body"))??.len();
    stack.kubo.pause()?;
    let outcome = loop {
        match body.next().await {
            Some(Ok(chunk)) => received += chunk.len(),
            Some(Err(err)) => break Err(err),
            None => break Ok(()),
        }
    };
    stack.kubo.resume()?;
    ensure!(
        outcome.is_err() && received < data.len(),
        "the stalled download ended cleanly ({received} bytes)"
    );
    let again = stack.download(&provider, &stack.request(BUYER, asset, order, 4)?, None).await?;
    assert_eq!(again.bytes().await?.len(), data.len());
    provider.stop().await
}
