//! Replication over bitswap between real Kubo daemons peered on loopback, rerunnable with
//! `cargo bench -p agora-provider --bench replication` (`AGORA_BENCH_MIB` sets the size, 512 by
//! default). Four networked daemons, as in `cli/tests/replication.rs`: the publisher's (A), two
//! providers' (B, C) and a reader's (D).
//!
//! 1. Replication: B and C pin the content A added (at once, as two providers would), each
//!    fetching it over bitswap; the time until both hold it.
//! 2. Reading with the publisher gone: A stopped, D reads the whole content (`cat`), fetching it
//!    from B and C, vs B reading its own pinned copy (one healthy node holding it), best of two.
//!
//! On these machines the daemons, the reader and the hashing share two cores, so the figures are
//! those of one machine playing four nodes, not of a network.

use std::time::{Duration, Instant};

use agora_deploy::services::kubo::KuboDaemon;
use agora_provider::storage::Storage;
use eyre::{Result, ensure};
use futures::StreamExt;

const MIB: usize = 1024 * 1024;

fn daemon() -> Result<KuboDaemon> {
    KuboDaemon::start_networked()
        .map_err(|err| eyre::eyre!("cannot start Kubo ({err}); run ./scripts/setup.sh"))
}

/// Reads `cid` whole through `storage`; the bytes read and the time taken.
async fn read(storage: &Storage, cid: &str) -> Result<(usize, Duration)> {
    let started = Instant::now();
    let mut stream = storage.cat(cid, None);
    let mut bytes = 0;
    while let Some(chunk) = stream.next().await {
        bytes += chunk?.len();
    }
    Ok((bytes, started.elapsed()))
}

fn rate(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / MIB as f64 / time.as_secs_f64()
}

#[tokio::main]
async fn main() -> Result<()> {
    let mib: usize = std::env::var("AGORA_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(512);
    let size = mib * MIB;
    let mut nodes = Vec::new();
    for _ in 0..4 {
        nodes.push(daemon()?);
    }
    for a in &nodes {
        for b in &nodes {
            if a.api_url() != b.api_url() {
                a.peer_with(b)?;
            }
        }
    }
    let long = Duration::from_secs(3600);
    let storages: Vec<Storage> =
        nodes.iter().map(|node| Storage::new(&node.api_url(), long)).collect::<Result<_, _>>()?;

    // Content no two runs share: a counter in every 256 KiB.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("replicated.bin");
    {
        use std::io::Write;
        let seed = std::process::id() as u64;
        let mut file = std::io::BufWriter::with_capacity(4 * MIB, std::fs::File::create(&path)?);
        let mut block: Vec<u8> = (0..MIB).map(|i| (i * 31 + 7) as u8).collect();
        for index in 0..mib {
            for quarter in 0..4 {
                let at = quarter * 256 * 1024;
                block[at..at + 8].copy_from_slice(&(seed << 32 | (index * 4 + quarter) as u64).to_le_bytes());
            }
            file.write_all(&block)?;
        }
        file.flush()?;
    }
    let added = storages[0].add_file(&path, None).await?;

    let started = Instant::now();
    let (b, c) = tokio::join!(storages[1].pin_add(&added.cid), storages[2].pin_add(&added.cid));
    b?;
    c?;
    let replicated = started.elapsed();

    nodes[0].stop()?;
    let mut from_peers = Duration::MAX;
    let mut local = Duration::MAX;
    for round in 0..2 {
        if round == 1 {
            // D's copy from the first round is cached: collect it so the second read fetches again.
            let gc = nodes[3].command().args(["repo", "gc", "--quiet"]).output()?;
            ensure!(gc.status.success(), "ipfs repo gc on D failed");
        }
        let (bytes, time) = read(&storages[3], &added.cid).await?;
        ensure!(bytes == size, "D read {bytes} bytes of {size}");
        from_peers = from_peers.min(time);
        let (bytes, time) = read(&storages[1], &added.cid).await?;
        ensure!(bytes == size, "B read {bytes} bytes of {size}");
        local = local.min(time);
    }

    println!("replication over bitswap on loopback, {mib} MiB (4 Kubo daemons on one machine)");
    println!(
        "  1. B and C pin what A added: {:.2?} ({:.0} MiB/s per provider)",
        replicated,
        rate(size, replicated)
    );
    println!(
        "  2. A stopped: D reads from B and C  {:>8.0} MiB/s ({from_peers:.2?})",
        rate(size, from_peers)
    );
    println!("               B reads its own copy   {:>8.0} MiB/s ({local:.2?})", rate(size, local));
    println!(
        "               from peers vs its own copy: {:.2}×",
        local.as_secs_f64() / from_peers.as_secs_f64()
    );
    Ok(())
}
