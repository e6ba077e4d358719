//! Metadata from a real Kubo: a published asset's metadata JSON is fetched once by CID over the
//! Kubo RPC API and becomes searchable through the API's query; a CID no node has times out
//! and is recorded as a failure instead of stalling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{io::Write as _, time::Duration};

use agora_deploy::services::kubo::KuboDaemon;
use agora_indexer::metadata::{KuboFetcher, MetadataFetcher, fetch_pending};
use common::{Chain, Db, publish_params, small_ranges, sync_to_head};

/// Adds `content` to Kubo's repository and returns its CID.
fn ipfs_add(kubo: &KuboDaemon, content: &str) -> String {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(content.as_bytes()).unwrap();
    let output = kubo
        .command()
        .args(["add", "-Q", "--cid-version", "1"])
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
    let report = fetch_pending(&db.pool, &fetcher, 10).await.unwrap();
    assert_eq!((report.fetched, report.failed), (1, 1));
    // Each CID is tried once.
    let report = fetch_pending(&db.pool, &fetcher, 10).await.unwrap();
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
