//! Metadata from a real Kubo: a published asset's metadata JSON is fetched once by CID over the
//! Kubo RPC API and becomes searchable through the API's query; a CID no node has times out
//! and is recorded as a failure instead of stalling, then retried with backoff: a document
//! added after its asset was indexed, or served by a Kubo that hung and came back, ends up
//! searchable, and a CID that never appears is given up after the bounded attempts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{io::Write as _, time::Duration};

use agora_deploy::services::kubo::KuboDaemon;
use agora_indexer::metadata::{self, KuboFetcher, MetadataFetcher, RetryPolicy, fetch_pending};
use common::{Chain, Db, count, eventually, publish_params, small_ranges, sync_to_head};
use sqlx::PgPool;

/// Adds `content` to Kubo's repository and returns its CID.
fn ipfs_add(kubo: &KuboDaemon, content: &str) -> String {
    ipfs_add_with(kubo, content, &[])
}

/// The CID `content` would get, without storing it.
fn ipfs_cid_of(kubo: &KuboDaemon, content: &str) -> String {
    ipfs_add_with(kubo, content, &["--only-hash"])
}

fn ipfs_add_with(kubo: &KuboDaemon, content: &str, extra: &[&str]) -> String {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(content.as_bytes()).unwrap();
    let output = kubo
        .command()
        .args(["add", "-Q", "--cid-version", "1"])
        .args(extra)
        .arg(file.path())
        .output()
        .expect("run ipfs add");
    assert!(output.status.success(), "ipfs add: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_fetched_from_kubo_once_and_failures_are_recorded() {
    let kubo = KuboDaemon::start().unwrap_or_else(|err| panic!("Kubo: {err}"));
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let cid = ipfs_add(
        &kubo,
        r#"{"name":"Whale calls","description":"Hydrophone recordings","license":"CC0-1.0"}"#,
    );
    // A well-formed CID that no node has: an offline Kubo searches until the timeout.
    let absent = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

    let publisher = chain.actor(1);
    let as_publisher = chain.as_actor(&publisher);
    as_publisher.publish(publish_params(publisher.address, 0, 1, &cid, None)).await.unwrap();
    as_publisher.publish(publish_params(publisher.address, 1, 1, absent, None)).await.unwrap();
    sync_to_head(&chain, &db.pool, small_ranges(8)).await;

    let fetcher = KuboFetcher::new(kubo.api_url(), Duration::from_secs(1)).unwrap();
    assert!(fetcher.fetch(&cid).await.unwrap().starts_with(b"{\"name\""));
    let policy = RetryPolicy::default();
    let report = fetch_pending(&db.pool, &fetcher, &policy, 10).await.unwrap();
    assert_eq!((report.fetched, report.failed), (1, 1));
    // A fetched CID is never fetched again; a failed one waits for its backoff.
    let report = fetch_pending(&db.pool, &fetcher, &policy, 10).await.unwrap();
    assert_eq!((report.fetched, report.failed), (0, 0));

    let name: String = sqlx::query_scalar("SELECT document->>'name' FROM asset_metadata WHERE cid = $1")
        .bind(&cid)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(name, "Whale calls");
    let found: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM asset_metadata WHERE search @@ websearch_to_tsquery('simple', 'hydrophone')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(found, 1);
    let (status, error): (String, String) =
        sqlx::query_as("SELECT status, error FROM asset_metadata WHERE cid = $1")
            .bind(absent)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    assert!(error.contains(absent), "{error}");
}

async fn searchable(pool: &PgPool, word: &str) -> i64 {
    count(
        pool,
        &format!(
            "SELECT count(*) FROM asset_metadata WHERE status = 'ok' \
             AND search @@ websearch_to_tsquery('simple', '{word}')"
        ),
    )
    .await
}

async fn attempts(pool: &PgPool, cid: &str) -> (String, i32, bool) {
    sqlx::query_as("SELECT status, attempts, next_attempt_at IS NOT NULL FROM asset_metadata WHERE cid = $1")
        .bind(cid)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The fetch loop `run` keeps beside the sync: a document added to IPFS only after its asset
/// was indexed, and one served by a Kubo that hung (SIGSTOP) and resumed, are retried with
/// backoff until they are searchable; a CID that never appears is given up after the bounded
/// attempts, each recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_fetches_are_retried_with_backoff_until_searchable() {
    let mut kubo = KuboDaemon::start().unwrap_or_else(|err| panic!("Kubo: {err}"));
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let late_doc = r#"{"name":"Late narwhal survey","description":"Arctic narwhal sightings"}"#;
    let late = ipfs_cid_of(&kubo, late_doc);
    let hung = ipfs_add(&kubo, r#"{"name":"Hung","description":"Walrus haul-out counts"}"#);
    let absent = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

    let publisher = chain.actor(1);
    let as_publisher = chain.as_actor(&publisher);
    for (i, cid) in [&late, &hung, &absent.to_owned()].into_iter().enumerate() {
        as_publisher.publish(publish_params(publisher.address, i as u8 % 3, 1, cid, None)).await.unwrap();
    }
    sync_to_head(&chain, &db.pool, small_ranges(8)).await;

    // Kubo hangs while the first attempts run: every one times out and is recorded.
    kubo.pause().unwrap();
    let policy =
        RetryPolicy { max_attempts: 3, base: Duration::from_secs(2), max_delay: Duration::from_secs(2) };
    let fetcher = KuboFetcher::new(kubo.api_url(), Duration::from_millis(400)).unwrap();
    let report = fetch_pending(&db.pool, &fetcher, &policy, 10).await.unwrap();
    assert_eq!((report.fetched, report.failed), (0, 3));
    for cid in [&late, &hung] {
        assert_eq!(attempts(&db.pool, cid).await, ("failed".into(), 1, true));
    }
    // Not due yet: nothing is tried again at once.
    let report = fetch_pending(&db.pool, &fetcher, &policy, 10).await.unwrap();
    assert_eq!((report.fetched, report.failed), (0, 0));

    // Kubo comes back and the late document is added; the loop of `run` picks both up.
    kubo.resume().unwrap();
    assert_eq!(ipfs_add(&kubo, late_doc), late);
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let follower = tokio::spawn(metadata::follow(
        db.pool.clone(),
        fetcher,
        policy,
        Duration::from_millis(100),
        shutdown,
    ));
    eventually(20, "the late and the hung documents fetched", || async {
        searchable(&db.pool, "narwhal").await == 1 && searchable(&db.pool, "walrus").await == 1
    })
    .await;
    assert_eq!(attempts(&db.pool, &late).await, ("ok".into(), 2, false));
    assert_eq!(attempts(&db.pool, &hung).await, ("ok".into(), 2, false));
    // The absent CID is tried `max_attempts` times in all, then given up, the failure kept.
    eventually(20, "the absent CID given up", || async {
        attempts(&db.pool, absent).await == ("failed".into(), 3, false)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(attempts(&db.pool, absent).await, ("failed".into(), 3, false));
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), follower).await.expect("the loop stops").unwrap();
}
