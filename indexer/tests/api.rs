//! The HTTP API over a database synced from a real anvil: each endpoint, each bad parameter,
//! pagination, search over fetched metadata, and a database failure that does not leak.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use agora_indexer::{
    api::{self, AppState},
    db,
    metadata::{FetchError, MetadataFetcher, RetryPolicy, fetch_pending},
};
use alloy::transports::http::reqwest;
use common::{
    ALGORITHM_CID, Chain, DATASET_CID, DATASET_CID_V2, Db, Scenario, scenario, small_ranges, sync_to_head,
};
use serde_json::Value;
use tokio::net::TcpListener;

/// Metadata documents by CID; anything else fails like a missing IPFS block.
struct Documents(HashMap<&'static str, &'static str>);

impl MetadataFetcher for Documents {
    async fn fetch(&self, cid: &str) -> Result<Vec<u8>, FetchError> {
        self.0
            .get(cid)
            .map(|doc| doc.as_bytes().to_vec())
            .ok_or_else(|| FetchError::Request { cid: cid.to_owned(), message: "not found".into() })
    }
}

struct Server {
    base: String,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    async fn start(state: AppState) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(api::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        Server { base, client: reqwest::Client::new(), _stop: stop }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn bad(&self, path: &str, needle: &str) {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 400, "GET {path}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "GET {path}: {message:?} should mention {needle:?}");
    }
}

async fn setup() -> (Chain, Db, Scenario, Server) {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let s = scenario(&chain).await;
    sync_to_head(&chain, &db.pool, small_ranges(8)).await;
    let docs = Documents(HashMap::from([
        (
            DATASET_CID_V2,
            r#"{"name":"Bird songs","description":"Ten thousand recordings of finches","license":"CC-BY-4.0"}"#,
        ),
        (
            ALGORITHM_CID,
            r#"{"name":"Song classifier","description":"Classifies finch recordings","license":"MIT"}"#,
        ),
    ]));
    let report = fetch_pending(&db.pool, &docs, &RetryPolicy::default(), 10).await.unwrap();
    assert_eq!((report.fetched, report.failed), (2, 0));
    let state =
        AppState { pool: db.pool.clone(), chain_id: chain.deployment.chain_id, metrics: None, max_lag: 5 };
    let server = Server::start(state).await;
    (chain, db, s, server)
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|a| a["assetId"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_and_bad_parameters_get_400() {
    let (chain, db, s, server) = setup().await;
    let (dataset, algorithm) = (s.dataset.to_string(), s.algorithm.to_string());
    let head = chain.head().await;

    // Service endpoints.
    assert_eq!(server.ok("/health").await["status"], "ok");
    assert_eq!(server.ok("/ready").await["ready"], true);
    let status = server.ok("/status").await;
    assert_eq!(status["indexedBlock"], head);
    assert_eq!(status["lag"], 0);
    let (_, metrics) = server.get("/metrics").await;
    assert!(metrics.as_str().unwrap().contains(&format!("agora_indexer_indexed_block {head}")));
    let openapi = server.ok("/openapi.json").await;
    assert!(openapi["paths"]["/assets"]["get"]["parameters"].is_array());

    // Assets: delisted hidden unless asked; filters; sorting; cursor pagination.
    assert_eq!(ids(&server.ok("/assets").await), vec![dataset.clone()]);
    assert_eq!(
        ids(&server.ok("/assets?include_delisted=true").await),
        vec![dataset.clone(), algorithm.clone()]
    );
    assert_eq!(
        ids(&server.ok("/assets?include_delisted=true&kind=algorithm").await),
        vec![algorithm.clone()]
    );
    let owner = format!("{}", s.publisher.address);
    assert_eq!(ids(&server.ok(&format!("/assets?include_delisted=true&owner={owner}")).await).len(), 2);
    assert_eq!(ids(&server.ok(&format!("/assets?owner={}", s.buyer.address)).await).len(), 0);
    assert_eq!(ids(&server.ok("/assets?include_delisted=true&min_price=1").await), vec![dataset.clone()]);
    assert_eq!(ids(&server.ok("/assets?include_delisted=true&max_price=0").await), vec![algorithm.clone()]);
    assert_eq!(ids(&server.ok("/assets?include_delisted=true&q=recordings").await).len(), 2);
    assert_eq!(ids(&server.ok("/assets?include_delisted=true&q=classifier").await), vec![algorithm.clone()]);
    assert_eq!(
        ids(&server.ok("/assets?include_delisted=true&license=CC-BY-4.0").await),
        vec![dataset.clone()]
    );
    let first = server.ok("/assets?include_delisted=true&sort=price_desc&limit=1").await;
    assert_eq!(ids(&first), vec![dataset.clone()]);
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    let second =
        server.ok(&format!("/assets?include_delisted=true&sort=price_desc&limit=1&cursor={cursor}")).await;
    assert_eq!(ids(&second), vec![algorithm.clone()]);
    let first = server.ok("/assets?include_delisted=true&sort=id_desc&limit=1").await;
    assert_eq!(ids(&first), vec![algorithm.clone()]);
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    assert_eq!(
        ids(&server.ok(&format!("/assets?include_delisted=true&sort=id_desc&limit=1&cursor={cursor}")).await),
        vec![dataset.clone()]
    );
    assert_eq!(
        ids(&server.ok("/assets?include_delisted=true&sort=price_asc").await),
        vec![algorithm.clone(), dataset.clone()]
    );

    // One asset: current state, metadata, history, sales and holders.
    let asset = server.ok(&format!("/assets/{dataset}")).await;
    assert_eq!(asset["kind"], "dataset");
    assert_eq!(asset["version"], 2);
    assert_eq!(asset["metadataCid"], DATASET_CID_V2);
    assert_eq!(asset["metadata"]["name"], "Bird songs");
    let history = asset["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["metadataCid"], DATASET_CID);
    assert_eq!(asset["sales"].as_array().unwrap().len(), 1);
    assert_eq!(asset["sales"][0]["amount"], "4");
    let holders = asset["holders"].as_array().unwrap();
    assert_eq!(holders.len(), 2, "{holders:?}");
    assert_eq!(server.ok(&format!("/assets/{algorithm}")).await["delisted"], true);
    let (status, _) = server.get("/assets/999").await;
    assert_eq!(status, 404);

    // An account.
    let buyer = server.ok(&format!("/accounts/{}", s.buyer.address)).await;
    assert_eq!(buyer["accessTokens"].as_array().unwrap().len(), 1);
    assert_eq!(buyer["accessTokens"][0]["assetId"], dataset.as_str());
    assert_eq!(buyer["orders"].as_array().unwrap().len(), 2);
    assert_eq!(server.ok(&format!("/accounts/{owner}")).await["assets"].as_array().unwrap().len(), 2);
    let voter = server.ok(&format!("/accounts/{}", s.voter.address)).await;
    assert_eq!(voter["delegate"].as_str().unwrap().to_lowercase(), format!("{:#x}", s.voter.address));
    let friend = server.ok(&format!("/accounts/{}", s.friend.address)).await;
    assert_eq!(friend["releases"].as_array().unwrap().len(), 1);
    assert_eq!(friend["releases"][0]["assetId"], dataset.as_str());
    assert!(buyer["delegate"].is_null());

    // Governance, providers, jobs.
    let proposals = server.ok("/proposals").await;
    assert_eq!(proposals["items"].as_array().unwrap().len(), 1);
    assert_eq!(proposals["items"][0]["status"], "executed");
    assert_eq!(server.ok("/proposals?status=queued").await["items"].as_array().unwrap().len(), 0);
    let proposal = server.ok(&format!("/proposals/{}", s.proposal_id)).await;
    assert_eq!(proposal["votes"].as_array().unwrap().len(), 1);
    assert_eq!(proposal["votes"][0]["reason"], "yes");
    assert_eq!(proposal["votesFor"], proposal["votes"][0]["weight"]);
    assert_eq!(server.get("/proposals/12345").await.0, 404);
    let providers = server.ok("/providers?limit=1").await;
    assert_eq!(
        providers["items"][0]["provider"].as_str().unwrap().to_lowercase(),
        format!("{:#x}", s.provider.address)
    );
    let cursor = providers["nextCursor"].as_str().unwrap().to_owned();
    assert_eq!(server.ok(&format!("/providers?cursor={cursor}")).await["items"].as_array().unwrap().len(), 0);
    let jobs = server.ok("/jobs?status=result_posted").await;
    assert_eq!(jobs["items"][0]["jobId"], s.job_id.to_string());
    assert_eq!(server.ok("/jobs?cursor=1").await["items"].as_array().unwrap().len(), 0);

    // Bad parameters: 400 with a message naming the parameter.
    server.bad("/assets?limit=0", "limit").await;
    server.bad("/assets?limit=abc", "limit").await;
    server.bad("/assets?limit=501", "limit").await;
    server.bad("/assets?sort=cheapest", "sort").await;
    server.bad("/assets?kind=song", "kind").await;
    server.bad("/assets?owner=0x123", "owner").await;
    server.bad("/assets?min_price=-1", "min_price").await;
    server.bad("/assets?max_price=lots", "max_price").await;
    server.bad("/assets?cursor=notanumber", "cursor").await;
    server.bad("/assets?sort=price_asc&cursor=12", "cursor").await;
    server.bad("/assets?include_delisted=maybe", "include_delisted").await;
    server.bad("/assets?colour=red", "colour").await;
    server.bad("/assets/abc", "asset id").await;
    server.bad("/accounts/nobody", "address").await;
    server.bad("/proposals?status=won", "status").await;
    server.bad("/proposals/x", "proposal id").await;
    server.bad("/providers?cursor=7", "cursor").await;
    server.bad("/providers?status=open", "status").await;
    server.bad("/jobs?status=lost", "status").await;
    server.bad("/jobs?cursor=-3", "cursor").await;

    // With the syncer's counters (as `agora-indexer run` serves them): rate, reorgs, totals.
    let metrics = std::sync::Arc::new(agora_indexer::sync::Metrics::default());
    metrics.events.store(1_000, std::sync::atomic::Ordering::Relaxed);
    metrics.reorgs.store(2, std::sync::atomic::Ordering::Relaxed);
    let live = Server::start(AppState {
        pool: db.pool.clone(),
        chain_id: chain.deployment.chain_id,
        metrics: Some(metrics),
        max_lag: 5,
    })
    .await;
    let status = live.ok("/status").await;
    assert!(status["eventsPerSecond"].as_f64().unwrap() > 0.0, "{status}");
    assert_eq!(status["reorgs"], 2);
    let (_, text) = live.get("/metrics").await;
    let text = text.as_str().unwrap();
    assert!(text.contains("agora_indexer_events_total 1000"), "{text}");
    assert!(text.contains("agora_indexer_reorgs_total 2"), "{text}");

    // Readiness turns false when the head runs ahead of the index.
    db::set_head(&db.pool, chain.deployment.chain_id, head + 100).await.unwrap();
    let (status, body) = server.get("/ready").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["lag"], 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_recorded_and_the_database_never_leaks() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    scenario(&chain).await;
    sync_to_head(&chain, &db.pool, small_ranges(8)).await;
    // Only one document resolves: the other CID's failure is recorded, retried only after its backoff.
    let docs = Documents(HashMap::from([(ALGORITHM_CID, r#"{"name":"x"}"#)]));
    let report = fetch_pending(&db.pool, &docs, &RetryPolicy::default(), 10).await.unwrap();
    assert_eq!((report.fetched, report.failed), (1, 1));
    let report = fetch_pending(&db.pool, &docs, &RetryPolicy::default(), 10).await.unwrap();
    assert_eq!((report.fetched, report.failed), (0, 0));
    let error: String = sqlx::query_scalar("SELECT error FROM asset_metadata WHERE status = 'failed'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(error.contains("not found"), "{error}");

    // A closed pool: requests fail with a bare 500, no driver text.
    let pool = db.another().await;
    pool.close().await;
    let server =
        Server::start(AppState { pool, chain_id: chain.deployment.chain_id, metrics: None, max_lag: 5 })
            .await;
    for path in ["/assets", "/status", "/assets/1", "/jobs", "/proposals", "/providers", "/ready"] {
        let (status, body) = server.get(path).await;
        assert_eq!(status, 500, "{path}: {body}");
        assert_eq!(body["error"], "internal error", "{path}");
    }
}
