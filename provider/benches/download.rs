//! Provider benchmarks against real anvil + Kubo, rerunnable with
//! `cargo bench -p agora-provider --bench download` (set `AGORA_BENCH_GIB` to change the size).
//!
//! 1. Throughput: a 1 GiB public asset through the provider vs `ipfs cat` of the same CID from
//!    the same Kubo (best of two), the provider's first download (hashing against the on-chain
//!    digest as it streams) and its second (the CID already verified) (goal ≥ 0.9×).
//! 2. Memory: peak RSS of this process (provider + client) above idle while the provider
//!    streams 1 GiB (goal < 64 MiB).
//! 3. Access-check latency over a warm connection: server-side p50/p99 over 1,000 requests,
//!    and client-side end-to-end latency of the same requests (goal p99 < 5 ms).
//! 4. 200 concurrent downloads: no errors, peak RSS.
//! 5. Encrypted: publishing the same 1 GiB sealed (ChaCha20-Poly1305 while adding, as
//!    `agora asset publish` does) vs the plain `ipfs add`; the provider's decrypting download vs
//!    `ipfs cat` of the same ciphertext (best of two each; goal ≥ 0.85×).

#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    io::Write,
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use agora_provider::{
    Identity, Limits,
    crypto::{ContentKey, Encryption},
    metadata::{AssetMetadata, ContentRef},
    storage::HashingReader,
};
use alloy::primitives::U256;
use common::{BUYER, RunningProvider, Stack, content, public_metadata};
use eyre::{Result, ensure};
use futures::StreamExt;

const MIB: usize = 1024 * 1024;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// Samples RSS every 10 ms until dropped; `peak` is the highest seen.
struct MemorySampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MemorySampler {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_kib()));
        let thread = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kib(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        Self { stop, peak, thread: Some(thread) }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

async fn download_len(
    stack: &Stack,
    provider: &RunningProvider,
    asset: U256,
    order: U256,
    nonce: u64,
) -> Result<usize> {
    let response = stack.download(provider, &stack.request(BUYER, asset, order, nonce)?, None).await?;
    ensure!(response.status() == 200, "download refused: {}", response.status());
    let mut body = response.bytes_stream();
    let mut received = 0;
    while let Some(chunk) = body.next().await {
        received += chunk?.len();
    }
    Ok(received)
}

#[tokio::main]
async fn main() -> Result<()> {
    let gib: usize = std::env::var("AGORA_BENCH_GIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let size = gib * 1024 * MIB;
    let stack = Stack::start().await?;
    let provider = stack.serve_with(Limits::default()).await?;
    let me = stack.provider_address();

    // The big asset, written to disk and added by streaming.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("big.bin");
    {
        let mut file = std::io::BufWriter::with_capacity(4 * MIB, std::fs::File::create(&path)?);
        let mut block = content(MIB, 1);
        for index in 0..size / MIB {
            for quarter in 0..4 {
                let at = quarter * 256 * 1024;
                block[at..at + 8].copy_from_slice(&((index * 4 + quarter) as u64).to_le_bytes());
            }
            file.write_all(&block)?;
        }
        file.flush()?;
    }
    let started = Instant::now();
    let added = stack.storage.add_file(&path, None).await?;
    let add_time = started.elapsed();
    // 5, publishing: the same file sealed while it is added, its plaintext hashed on the way.
    let key = ContentKey::generate();
    let mut header = Encryption::new(size as u64);
    header.add_holder(&key, me, &Identity::new(stack.provider_key.clone()).public_key())?;
    let started = Instant::now();
    let plaintext = HashingReader::new(tokio::fs::File::open(&path).await?, None);
    let digest = plaintext.digest_handle();
    let sealed = stack.storage.add_reader(header.encrypting_reader(&key, plaintext)?, None).await?;
    let sealed_add_time = started.elapsed();
    ensure!(digest.finish().0 == added.sha256, "the sealed upload hashed other bytes");
    std::fs::remove_file(&path)?;
    let (asset, _) = stack.publish(added.sha256, &public_metadata(&added), false, 3600).await?;
    let order = stack.buy_and_consume(BUYER, asset, me).await?;

    // 1 + 2: `ipfs cat` vs the provider, best of two; memory during the provider runs.
    let mut cat_best = Duration::MAX;
    for _ in 0..2 {
        let mut cat = stack.kubo.command();
        cat.args(["cat", &added.cid]).stdout(Stdio::null()).stderr(Stdio::null());
        let started = Instant::now();
        let status = tokio::task::spawn_blocking(move || cat.status()).await??;
        ensure!(status.success(), "ipfs cat failed");
        cat_best = cat_best.min(started.elapsed());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle_kib = rss_kib();
    let sampler = MemorySampler::start();
    // The first download hashes the content against its digest as it streams; once verified,
    // the same CID streams without hashing.
    let mut provider_runs = Vec::new();
    for nonce in 1..=2 {
        let started = Instant::now();
        let received = download_len(&stack, &provider, asset, order, nonce).await?;
        ensure!(received == size, "received {received} of {size} bytes");
        provider_runs.push(started.elapsed());
    }
    let peak_kib = sampler.finish();
    let mib_s = |d: Duration| size as f64 / MIB as f64 / d.as_secs_f64();

    // 5, downloading: `ipfs cat` of the ciphertext vs the provider decrypting it.
    let private = AssetMetadata {
        name: "sealed".into(),
        description: String::new(),
        content: ContentRef {
            cid: sealed.cid.clone(),
            size: size as u64,
            file_name: None,
            encryption: Some(header),
        },
        extra: Default::default(),
    };
    let (sealed_asset, _) = stack.publish(added.sha256, &private, false, 3600).await?;
    let sealed_order = stack.buy_and_consume(BUYER, sealed_asset, me).await?;
    let mut sealed_cat_best = Duration::MAX;
    for _ in 0..2 {
        let mut cat = stack.kubo.command();
        cat.args(["cat", &sealed.cid]).stdout(Stdio::null()).stderr(Stdio::null());
        let started = Instant::now();
        let status = tokio::task::spawn_blocking(move || cat.status()).await??;
        ensure!(status.success(), "ipfs cat failed");
        sealed_cat_best = sealed_cat_best.min(started.elapsed());
    }
    let mut sealed_runs = Vec::new();
    for nonce in 3..=4 {
        let started = Instant::now();
        let received = download_len(&stack, &provider, sealed_asset, sealed_order, nonce).await?;
        ensure!(received == size, "received {received} of {size} decrypted bytes");
        sealed_runs.push(started.elapsed());
    }

    // 3: access checks on a warm connection, 1 KiB asset.
    let small = content(1024, 2);
    let (small_asset, _) = stack.publish_public(&small, 3600).await?;
    let small_order = stack.buy_and_consume(BUYER, small_asset, me).await?;
    for nonce in 100..120 {
        download_len(&stack, &provider, small_asset, small_order, nonce).await?;
    }
    let requests: Vec<_> = (1000..2000)
        .map(|nonce| stack.request(BUYER, small_asset, small_order, nonce))
        .collect::<Result<_>>()?;
    let mut client = Vec::with_capacity(requests.len());
    for request in &requests {
        let started = Instant::now();
        let response = stack.download(&provider, request, None).await?;
        ensure!(response.status() == 200, "access check refused: {}", response.status());
        let body = response.bytes().await?;
        client.push(started.elapsed());
        ensure!(body.len() == small.len(), "short body");
    }
    client.sort();
    let mut server = provider.state.metrics().recent_access_checks();
    let keep = server.len().saturating_sub(requests.len());
    server.drain(..keep);
    server.sort();

    // 4: 200 concurrent downloads of an 8 MiB asset.
    let medium = content(8 * MIB, 3);
    let (medium_asset, _) = stack.publish_public(&medium, 3600).await?;
    let medium_order = stack.buy_and_consume(BUYER, medium_asset, me).await?;
    let idle_concurrent_kib = rss_kib();
    let sampler = MemorySampler::start();
    let started = Instant::now();
    let stack = Arc::new(stack);
    let provider = Arc::new(provider);
    let mut tasks = Vec::new();
    for nonce in 5000..5200 {
        let (stack, provider) = (stack.clone(), provider.clone());
        tasks.push(tokio::spawn(async move {
            download_len(&stack, &provider, medium_asset, medium_order, nonce).await
        }));
    }
    let mut failures = 0;
    for task in tasks {
        match task.await? {
            Ok(received) if received == medium.len() => {}
            _ => failures += 1,
        }
    }
    let concurrent_time = started.elapsed();
    let concurrent_peak = sampler.finish();

    println!("## agora-provider download benchmark ({gib} GiB, release build)");
    println!("ipfs add (from disk, streamed):     {add_time:.2?}");
    println!("ipfs cat (best of 2):               {cat_best:.2?}  {:.0} MiB/s", mib_s(cat_best));
    for (run, what) in provider_runs.iter().zip(["1st, digest checked", "2nd, already verified"]) {
        println!(
            "provider download ({what}): {run:.2?}  {:.0} MiB/s  {:.2}x ipfs cat",
            mib_s(*run),
            cat_best.as_secs_f64() / run.as_secs_f64()
        );
    }
    println!(
        "peak RSS above idle while streaming: {:.1} MiB (idle {:.1} MiB; provider and client in one process)",
        peak_kib.saturating_sub(idle_kib) as f64 / 1024.0,
        idle_kib as f64 / 1024.0
    );
    println!(
        "access check, server side (n={}):   p50 {:.2?}  p99 {:.2?}  max {:.2?}",
        server.len(),
        percentile(&server, 0.5),
        percentile(&server, 0.99),
        server.last().copied().unwrap_or_default()
    );
    println!(
        "whole request incl. 1 KiB body:      p50 {:.2?}  p99 {:.2?}",
        percentile(&client, 0.5),
        percentile(&client, 0.99)
    );
    println!(
        "200 concurrent 8 MiB downloads:      {concurrent_time:.2?}, {failures} failed, peak RSS +{:.1} MiB",
        concurrent_peak.saturating_sub(idle_concurrent_kib) as f64 / 1024.0
    );
    println!(
        "encrypted publish (seal + ipfs add):  {sealed_add_time:.2?}  {:.2}x the plain ipfs add's time",
        sealed_add_time.as_secs_f64() / add_time.as_secs_f64()
    );
    println!(
        "ipfs cat of the ciphertext (best of 2): {sealed_cat_best:.2?}  {:.0} MiB/s",
        mib_s(sealed_cat_best)
    );
    for (run, what) in sealed_runs.iter().zip(["1st, digest checked", "2nd, already verified"]) {
        println!(
            "encrypted download ({what}): {run:.2?}  {:.0} MiB/s  {:.2}x ipfs cat of the ciphertext",
            mib_s(*run),
            sealed_cat_best.as_secs_f64() / run.as_secs_f64()
        );
    }
    ensure!(failures == 0, "{failures} concurrent downloads failed");
    Ok(())
}
