//! One writer, many readers, on PostgreSQL's own streaming replication: the writer
//! (`agora-indexer run`) on a primary; a hot standby made from it with `pg_basebackup -R`; two
//! read-only APIs (`agora-indexer serve`) on the standby. After catch-up they answer every route
//! as the writer's API does, report themselves read-only with their replay lag in `/status`, and
//! nothing can write through them; the writer refuses a standby, and `serve` a database whose
//! schema is not its version's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
};

use alloy::transports::http::reqwest;
use common::{Chain, Db, eventually, scenario};
use serde_json::Value;

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn indexer(chain: &Chain, database_url: &str, manifest: &Path, listen: &str, command: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agora-indexer"));
    cmd.arg(command)
        .env("AGORA_RPC_URL", chain.anvil.endpoint())
        .env("AGORA_DATABASE_URL", database_url)
        .env("AGORA_MANIFEST", manifest)
        .env("AGORA_LISTEN", listen)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

/// Starts `agora-indexer <command>` serving on a free port: the process and the API's base URL.
fn start(chain: &Chain, database_url: &str, manifest: &Path, command: &str) -> (Process, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let child =
        indexer(chain, database_url, manifest, &listen, command).stderr(Stdio::null()).spawn().unwrap();
    (Process(child), format!("http://{listen}"))
}

async fn get(base: &str, path: &str) -> Option<Value> {
    let response = reqwest::get(format!("{base}{path}")).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// Runs `agora-indexer <command>` to its end: whether it failed, and what it wrote to stderr.
fn refused(chain: &Chain, database_url: &str, manifest: &Path, command: &str) -> String {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut cmd = indexer(chain, database_url, manifest, &listen, command);
    let output = cmd.stderr(Stdio::piped()).output().unwrap();
    assert!(!output.status.success(), "agora-indexer {command} on {database_url} should refuse to start");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_answer_as_the_writer_report_their_lag_and_refuse_writes() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let s = scenario(&chain).await;
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.json");
    chain.deployment.write(&manifest).unwrap();

    // The standby is made from the primary before the writer has indexed anything: all it
    // shows afterwards reached it by streaming replication.
    let cluster = &db.cluster;
    let standby = tokio::task::block_in_place(|| cluster.start_replica()).expect("a streaming replica");
    let database = db.url.rsplit('/').next().unwrap();
    let replica_url = standby.url_of(database);

    let (_writer, writer) = start(&chain, &db.url, &manifest, "run");
    let (_first, first) = start(&chain, &replica_url, &manifest, "serve");
    let (_second, second) = start(&chain, &replica_url, &manifest, "serve");
    let head = chain.head().await;
    eventually(60, "the writer indexes to the head", || async {
        get(&writer, "/status").await.and_then(|s| s["indexedBlock"].as_u64()) == Some(head)
    })
    .await;
    for replica in [&first, &second] {
        eventually(60, "a replica's API shows the writer's progress", || async {
            get(replica, "/status").await.and_then(|s| s["indexedBlock"].as_u64()) == Some(head)
        })
        .await;
    }
    // Metadata is not fetched (no Kubo here): every row the routes read is the sync's.
    let (dataset, account) = (s.dataset.to_string(), format!("{:#x}", s.buyer.address));
    let routes = [
        "/assets".to_owned(),
        format!("/assets/{dataset}"),
        format!("/assets/{dataset}/sales"),
        format!("/accounts/{account}"),
        "/governance".to_owned(),
        "/proposals".to_owned(),
        format!("/proposals/{}", s.proposal_id),
        format!("/proposals/{}/votes", s.proposal_id),
        "/providers".to_owned(),
        "/jobs".to_owned(),
        format!("/jobs/{}", s.job_id),
        "/assets?q=dataset".to_owned(),
        "/assets/facets".to_owned(),
        format!("/assets/{dataset}/holders"),
        format!("/accounts/{account}/orders"),
        "/currencies".to_owned(),
    ];
    for route in &routes {
        let expected = get(&writer, route).await.unwrap_or_else(|| panic!("the writer answers {route}"));
        for replica in [&first, &second] {
            assert_eq!(get(replica, route).await, Some(expected.clone()), "{route} on {replica}");
        }
    }

    let status = get(&writer, "/status").await.unwrap();
    assert_eq!(status["readOnly"], false, "{status}");
    assert_eq!(status["replicationLagSeconds"], Value::Null, "{status}");
    for replica in [&first, &second] {
        let status = get(replica, "/status").await.unwrap();
        assert_eq!(status["readOnly"], true, "{status}");
        let lag = status["replicationLagSeconds"].as_f64().unwrap_or(-1.0);
        assert!((0.0..60.0).contains(&lag), "{status}");
        assert_eq!(status["eventsPerSecond"], Value::Null, "a reader syncs nothing: {status}");
    }

    // Nothing writes through a replica: not SQL on its connection, not an HTTP method, not the
    // writer itself; and a reader refuses a database the writer has not migrated.
    let pool = sqlx::PgPool::connect(&replica_url).await.unwrap();
    let err = sqlx::query("DELETE FROM chain_state").execute(&pool).await.unwrap_err();
    assert!(err.to_string().contains("read-only transaction"), "{err}");
    let client = reqwest::Client::new();
    let post = client.post(format!("{first}/assets")).send().await.unwrap();
    assert_eq!(post.status().as_u16(), 405);
    let said = refused(&chain, &replica_url, &manifest, "run");
    assert!(said.contains("the database is read-only"), "{said}");
    let empty = db.cluster.fresh_database().unwrap();
    let said = refused(&chain, &empty, &manifest, "serve");
    assert!(said.contains("schema is at migration None"), "{said}");

    // A reader on the primary is read-only too: its sessions are.
    let (_on_primary, on_primary) = start(&chain, &db.url, &manifest, "serve");
    eventually(30, "a reader on the primary answers", || async {
        get(&on_primary, "/status").await.is_some()
    })
    .await;
    let status = get(&on_primary, "/status").await.unwrap();
    assert_eq!(
        (status["readOnly"].clone(), status["replicationLagSeconds"].clone()),
        (Value::Bool(true), Value::Null)
    );
}
