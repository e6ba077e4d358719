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
use common::{Chain, Db, Server, count, eventually, publish_params, small_ranges, sync_to_head};
use serde_json::Value;
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

fn api_server_state(chain: &Chain, db: &Db) -> agora_indexer::api::AppState {
    agora_indexer::api::AppState {
        pool: db.pool.clone(),
        chain_id: chain.deployment.chain_id,
        metrics: None,
        max_lag: 1_000,
        contracts: None,
        chain: None,
    }
}

/// Every asset of `/assets` (delisted ones included), by metadata CID.
async fn assets_by_cid(server: &Server, query: &str) -> std::collections::HashMap<String, Value> {
    let page = server.ok(&format!("/assets?include_delisted=true&limit=500{query}")).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["metadataCid"].as_str().unwrap().to_owned(), a.clone()))
        .collect()
}

/// `n` distinct lowercase four-letter words.
fn distinct_words(n: u32) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut digits = i;
            (0..4)
                .map(|_| {
                    let c = char::from(b'a' + (digits % 26) as u8);
                    digits /= 26;
                    c
                })
                .collect()
        })
        .collect()
}

/// One publisher could freeze metadata for everyone: a document PostgreSQL refuses (a string
/// holding `\u0000`; ~200k distinct words, too many for a tsvector) failed the whole pass,
/// nothing was recorded and it came first again on every pass. Now each CID's outcome is its
/// own: the NUL document and invalid JSON fail for good, with their reasons, and are not
/// retried; the huge document is stored with a bounded search vector; an absent CID is still
/// retried; and the normal asset published after them all is fetched and searchable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_document_never_blocks_the_others_and_bad_ones_fail_for_good() {
    let kubo = KuboDaemon::start().unwrap_or_else(|err| panic!("Kubo: {err}"));
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let nul = ipfs_add(&kubo, r#"{"name":"Nul","description":"before\u0000after"}"#);
    let words = distinct_words(200_000);
    let huge_doc = format!(r#"{{"name":"Lexicon dump","description":"{}"}}"#, words.join(" "));
    assert!(huge_doc.len() < 1 << 20, "{}", huge_doc.len());
    let huge = ipfs_add(&kubo, &huge_doc);
    let invalid = ipfs_add(&kubo, r#"{"name":"Broken","description": "#);
    let placeholder = ipfs_add(&kubo, r#"{"name":"Placeholder"}"#);
    let normal = ipfs_add(&kubo, r#"{"name":"Orca pods","description":"Killer whale acoustic tags"}"#);
    let absent = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

    let publisher = chain.actor(1);
    let as_publisher = chain.as_actor(&publisher);
    for cid in [&nul, &huge, &invalid] {
        as_publisher.publish(publish_params(publisher.address, 0, 1, cid, None)).await.unwrap();
    }
    // The normal asset comes last, and through an update of its metadata.
    let last =
        as_publisher.publish(publish_params(publisher.address, 1, 1, &placeholder, None)).await.unwrap();
    agora_contracts::tx::send(
        "updateMetadata",
        as_publisher.registry.updateMetadata(
            last.asset_id,
            normal.clone(),
            alloy::primitives::keccak256("normal"),
        ),
    )
    .await
    .unwrap();
    as_publisher.publish(publish_params(publisher.address, 2, 1, absent, None)).await.unwrap();
    sync_to_head(&chain, &db.pool, small_ranges(8)).await;

    // Transient failures are due again at once under this policy; permanent ones never.
    let policy = RetryPolicy { max_attempts: 5, base: Duration::ZERO, max_delay: Duration::ZERO };
    let fetcher = KuboFetcher::new(kubo.api_url(), Duration::from_millis(500)).unwrap();
    let report = fetch_pending(&db.pool, &fetcher, &policy, 10).await.unwrap();
    assert_eq!((report.fetched, report.failed), (2, 3), "{report:?}");
    let report = fetch_pending(&db.pool, &fetcher, &policy, 10).await.unwrap();
    assert_eq!((report.fetched, report.failed), (0, 1), "only the absent CID is tried again: {report:?}");

    let server = Server::start(api_server_state(&chain, &db)).await;
    let assets = assets_by_cid(&server, "").await;
    let orca = &assets[&normal];
    assert_eq!(orca["metadataStatus"], "fetched");
    assert_eq!(orca["metadata"]["name"], "Orca pods");
    assert_eq!((&orca["metadataError"], &orca["metadataAttempts"]), (&Value::Null, &1.into()));
    for (cid, reason) in [(&nul, "NUL"), (&invalid, "not a JSON object")] {
        let asset = &assets[cid];
        assert_eq!(asset["metadataStatus"], "failed", "{asset}");
        assert!(asset["metadataError"].as_str().unwrap().contains(reason), "{asset}");
        assert_eq!(asset["metadataAttempts"], 1, "not retried: {asset}");
        assert_eq!(asset["metadata"], Value::Null);
    }
    assert_eq!(attempts(&db.pool, &nul).await, ("failed".into(), 1, false));
    assert_eq!(attempts(&db.pool, &invalid).await, ("failed".into(), 1, false));
    // The absent CID: a transient failure, still pending, retried.
    let waiting = &assets[absent];
    assert_eq!((&waiting["metadataStatus"], &waiting["metadataAttempts"]), (&"pending".into(), &2.into()));
    assert!(waiting["metadataError"].as_str().unwrap().contains(absent), "{waiting}");
    // The huge document is stored; its search covers the start of it, bounded.
    assert_eq!(assets[&huge]["metadataStatus"], "fetched");
    let huge_id = assets[&huge]["assetId"].as_str().unwrap().to_owned();
    let found = |page: Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|a| a["assetId"].as_str().unwrap().to_owned()).collect()
    };
    let orca_id = orca["assetId"].as_str().unwrap().to_owned();
    assert_eq!(
        found(server.ok("/assets?include_delisted=true&q=orca").await),
        std::slice::from_ref(&orca_id)
    );
    assert_eq!(found(server.ok("/assets?include_delisted=true&q=acoustic").await), [orca_id]);
    assert_eq!(
        found(server.ok("/assets?include_delisted=true&q=lexicon").await),
        std::slice::from_ref(&huge_id)
    );
    assert_eq!(found(server.ok(&format!("/assets?q={}", words[1])).await), [huge_id]);
    assert!(found(server.ok(&format!("/assets?q={}", words[199_999])).await).is_empty());
    // The detail says the same.
    let detail = server.ok(&format!("/assets/{}", assets[&nul]["assetId"].as_str().unwrap())).await;
    assert_eq!(detail["metadataStatus"], "failed");
    assert!(detail["metadataError"].as_str().unwrap().contains("NUL"));
}

const HOLDER: &str = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01";
const OLD_PROVIDER: &str = "0x00000000000000000000000000000000000000f7";
const NONCE: &str = "0x5eedc0ffee0ddba11f00d123";
const CONTENT_CID: &str = "bafkreicontentcipherblobzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";

/// A 65-byte ECIES-like ciphertext in hex, from a repeated pattern.
fn wrapped_key(pattern: &str) -> String {
    format!("0x04{}", pattern.repeat(16))
}

async fn only(server: &Server, query: &str) -> Vec<String> {
    assets_by_cid(server, query).await.into_keys().collect()
}

/// What the API says of the sealed and the open asset, and what search finds.
async fn check_encryption(server: &Server, sealed: &str, open: &str) {
    let assets = assets_by_cid(server, "").await;
    let (s, o) = (&assets[sealed], &assets[open]);
    assert_eq!(s["encrypted"], true, "{s}");
    assert_eq!(s["keyHolders"], serde_json::json!([HOLDER.to_lowercase(), OLD_PROVIDER]), "{s}");
    assert_eq!((&o["encrypted"], &o["keyHolders"]), (&false.into(), &serde_json::json!([])), "{o}");
    assert_eq!(only(server, "&encrypted=true").await, [sealed]);
    assert_eq!(only(server, "&encrypted=false").await, [open]);
    assert_eq!(only(server, "&q=sonar").await.len(), 2);
    assert_eq!(only(server, "&q=navy").await, [sealed]);
    assert_eq!(only(server, "&tag=navy").await, [sealed]);
    assert_eq!(only(server, "&license=MIT").await, [sealed]);
    let (key_a, key_b) = (wrapped_key("a1b2c3d4"), wrapped_key("9f8e7d6c"));
    for secret in [&key_a, &key_a[4..40], &key_b, NONCE, &NONCE[2..], CONTENT_CID, "pings.bin", "aes"] {
        assert!(only(server, &format!("&q={secret}")).await.is_empty(), "{secret} is searchable");
    }
    let detail = server.ok(&format!("/assets/{}", s["assetId"].as_str().unwrap())).await;
    assert_eq!(detail["encrypted"], true);
    assert_eq!(detail["keyHolders"][0], HOLDER.to_lowercase());
    assert_eq!(detail["metadataStatus"], "fetched");
}

/// An encrypted asset's metadata names its content CID, nonce prefix and wrapped keys: the API
/// says it is encrypted and who holds keys (`holder`, or `provider` in older documents), the
/// `encrypted` filter selects it, and none of that material is searchable, also for a row
/// indexed before (re-derived from the stored document).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_metadata_is_described_and_its_key_material_never_searchable() {
    let kubo = KuboDaemon::start().unwrap_or_else(|err| panic!("Kubo: {err}"));
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let (holder, old_provider, nonce, content_cid) = (HOLDER, OLD_PROVIDER, NONCE, CONTENT_CID);
    let (key_a, key_b) = (wrapped_key("a1b2c3d4"), wrapped_key("9f8e7d6c"));
    let sealed_doc = serde_json::json!({
        "name": "Sealed sonar",
        "description": "Encrypted sonar pings",
        "license": "MIT",
        "tags": ["sonar", "navy"],
        "content": {
            "cid": content_cid,
            "size": 4096,
            "fileName": "pings.bin",
            "encryption": {
                "scheme": "aes-256-gcm+ecies-secp256k1",
                "noncePrefix": nonce,
                "wrappedKeys": [
                    { "holder": holder, "key": key_a },
                    { "provider": old_provider, "key": key_b },
                ],
            },
        },
    });
    let sealed = ipfs_add(&kubo, &sealed_doc.to_string());
    let open = ipfs_add(
        &kubo,
        r#"{"name":"Open sonar","description":"Plain sonar pings","content":{"cid":"bafkreiopen","size":1,"fileName":"p.bin"}}"#,
    );
    let publisher = chain.actor(1);
    let as_publisher = chain.as_actor(&publisher);
    for cid in [&sealed, &open] {
        as_publisher.publish(publish_params(publisher.address, 0, 1, cid, None)).await.unwrap();
    }
    sync_to_head(&chain, &db.pool, small_ranges(8)).await;
    let fetcher = KuboFetcher::new(kubo.api_url(), Duration::from_secs(2)).unwrap();
    let report = fetch_pending(&db.pool, &fetcher, &RetryPolicy::default(), 10).await.unwrap();
    assert_eq!((report.fetched, report.failed), (2, 0));

    let server = Server::start(api_server_state(&chain, &db)).await;
    check_encryption(&server, &sealed, &open).await;
    server.bad("/assets?encrypted=maybe", "encrypted").await;

    // A row indexed by the older code: every string searched, nothing derived. The next pass
    // derives it again from the stored document.
    sqlx::query(
        "UPDATE asset_metadata SET derived_version = 0, encrypted = NULL, key_holders = NULL,
           license = NULL, tags = NULL, search = jsonb_to_tsvector('simple', document, '[\"string\"]')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    assert_eq!(assets_by_cid(&server, &format!("&q={key_a}")).await.len(), 1, "the old vector had the key");
    let report = fetch_pending(&db.pool, &fetcher, &RetryPolicy::default(), 10).await.unwrap();
    assert_eq!((report.rederived, report.fetched, report.failed), (2, 0, 0));
    check_encryption(&server, &sealed, &open).await;

    // The OpenAPI document lists the new fields and the filter.
    let openapi = server.ok("/openapi.json").await;
    let (detail, page) =
        (common::response_schema(&openapi, "/assets/{id}"), common::response_schema(&openapi, "/assets"));
    let asset = &detail["properties"];
    let row = &page["properties"]["items"]["items"]["properties"];
    for field in ["encrypted", "keyHolders", "metadataStatus", "metadataError", "metadataAttempts"] {
        assert!(asset[field].is_object(), "/assets/{{id}} lacks {field}");
        assert!(row[field].is_object(), "/assets lacks {field}");
    }
    assert_eq!(row["metadataStatus"]["enum"], serde_json::json!(["pending", "fetched", "failed"]));
    let params = openapi["paths"]["/assets"]["get"]["parameters"].as_array().unwrap();
    assert!(params.iter().any(|p| p["name"] == "encrypted"));
}
