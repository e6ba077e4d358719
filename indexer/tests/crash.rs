//! Crash safety of the real binary: `agora-indexer run` is killed with SIGKILL at seeded
//! random moments during backfill (at a random block still to come, plus a random few
//! milliseconds, so however fast the backfill the kills land inside it), twice per round for 20
//! rounds, then allowed to finish; the database equals a clean run's, row for row. Also checks
//! `agora-indexer reset`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use alloy::primitives::U256;
use common::{Chain, Db, Rng, count, dump, eventually, scenario, small_ranges, sync_to_head};
use futures::FutureExt;

fn indexer(chain: &Chain, database_url: &str, manifest: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agora-indexer"));
    cmd.env("AGORA_RPC_URL", chain.anvil.endpoint())
        .env("AGORA_DATABASE_URL", database_url)
        .env("AGORA_MANIFEST", manifest)
        .env("AGORA_LISTEN", "127.0.0.1:0")
        .env("AGORA_WINDOW", "4")
        .env("AGORA_INITIAL_RANGE", "1")
        .env("AGORA_MAX_RANGE", "2")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_indexer_at_random_moments_loses_and_duplicates_nothing() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let s = scenario(&chain).await;
    // Many small blocks with access-token transfers, so a run has a lot of commits to be killed in.
    let (to_friend, to_buyer) = (chain.as_actor(&s.buyer), chain.as_actor(&s.friend));
    for i in 0..150 {
        let (from, to) =
            if i % 2 == 0 { (&to_friend, s.friend.address) } else { (&to_buyer, s.buyer.address) };
        agora_contracts::tx::send(
            "transfer",
            from.access_token_at(s.dataset_token).transfer(to, U256::from(1)),
        )
        .await
        .unwrap();
    }
    chain.mine(100).await;
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("31337.json");
    chain.deployment.write(&manifest).unwrap();

    let clean = db.another().await;
    sync_to_head(&chain, &clean, small_ranges(4)).await;
    let expected = dump(&clean).await;
    let head = i64::try_from(chain.head().await).unwrap();
    let indexed = |pool: sqlx::PgPool| async move {
        count(&pool, "SELECT COALESCE(max(indexed_block), 0) FROM chain_state").await
    };

    // How long an uninterrupted backfill of the binary takes: waiting for a kill point stops there.
    let started = std::time::Instant::now();
    let mut child = indexer(&chain, &db.url, &manifest).arg("run").spawn().expect("start agora-indexer");
    eventually(60, "an uninterrupted backfill", || {
        indexed(db.pool.clone()).then(|n| async move { n == head })
    })
    .await;
    let full = u64::try_from(started.elapsed().as_millis()).unwrap().max(1);
    // At the head, the binary still reads each proposal's quorum (once its snapshot has passed)
    // in its next idle step: wait for the rows to settle before comparing.
    eventually(30, "the binary's rows to equal a clean sync's", || {
        let (pool, expected) = (db.pool.clone(), expected.clone());
        async move { dump(&pool).await == expected }
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(dump(&db.pool).await, expected);

    let seed = std::env::var("AGORA_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_a90a_u64);
    println!("crash seed {seed} (set AGORA_CRASH_SEED to replay); a full backfill takes {full} ms");
    let mut rng = Rng(seed);
    let mut killed_at = Vec::new();
    for _ in 0..20 {
        // Each round: a fresh database, the binary killed at a random moment of its backfill,
        // killed again after a restart, then allowed to finish.
        let (url, pool) = db.another_with_url().await;
        for _ in 0..2 {
            // A kill point: a random block still to come (a quarter of the time none, so some
            // kills land while the binary starts), then a random few milliseconds, so kills fall
            // between, during and right after commits however fast the backfill runs.
            let done = indexed(pool.clone()).await;
            let ahead = u64::try_from(head - done).unwrap();
            let target = match rng.next() % 4 {
                _ if ahead == 0 => None,
                0 => None,
                _ => Some(done + 1 + i64::try_from(rng.next() % ahead).unwrap()),
            };
            let delay = Duration::from_millis(rng.next() % 10);
            let mut child = indexer(&chain, &url, &manifest).arg("run").spawn().expect("start agora-indexer");
            if let Some(target) = target.filter(|&t| t < head) {
                let deadline = std::time::Instant::now() + Duration::from_millis(full * 4);
                while indexed(pool.clone()).await < target && std::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            tokio::time::sleep(delay).await;
            child.kill().expect("SIGKILL");
            child.wait().unwrap();
            killed_at.push(indexed(pool.clone()).await);
        }
        sync_to_head(&chain, &pool, small_ranges(4)).await;
        assert_eq!(dump(&pool).await, expected, "kills at indexed blocks {killed_at:?}");
        pool.close().await;
    }
    println!("indexed block at each kill (head {head}): {killed_at:?}");
    assert!(
        killed_at.iter().filter(|&&n| n > 0 && n < head).count() >= 10,
        "too few kills landed mid-backfill: {killed_at:?}"
    );

    // `agora-indexer reset` deletes the chain's rows.
    let status = indexer(&chain, &db.url, &manifest).arg("reset").status().unwrap();
    assert!(status.success());
    assert_eq!(count(&db.pool, "SELECT count(*) FROM events").await, 0);
    assert_eq!(count(&db.pool, "SELECT count(*) FROM chain_state").await, 0);
}
