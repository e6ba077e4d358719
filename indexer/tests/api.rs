//! The HTTP API over a database synced from a real anvil: each endpoint, each bad parameter,
//! pagination, search over fetched metadata, and a database failure that does not leak.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use agora_contracts::tx;
use agora_indexer::{
    api::{self, AppState},
    db,
    metadata::{FetchError, MetadataFetcher, RetryPolicy, fetch_pending},
};
use alloy::{
    primitives::{Address, Bytes, U256, keccak256},
    sol_types::SolCall,
    transports::http::reqwest,
};
use common::{
    ALGORITHM_CID, Chain, DATASET_CID, DATASET_CID_V2, Db, Scenario, count, publish_params, scenario,
    small_ranges, sync_to_head,
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
    assert_eq!(history[0]["metadataCid"], DATASET_CID_V2, "newest version first");
    assert_eq!(history[1]["metadataCid"], DATASET_CID);
    // Newest first: one at the new price, the free one, the first purchase.
    let amounts: Vec<&Value> = asset["sales"].as_array().unwrap().iter().map(|s| &s["amount"]).collect();
    assert_eq!(amounts, ["1", "1", "4"]);
    let holders = asset["holders"].as_array().unwrap();
    assert_eq!(holders.len(), 2, "{holders:?}");
    assert_eq!(
        (&asset["historyCount"], &asset["salesCount"], &asset["holdersCount"]),
        (&2.into(), &3.into(), &2.into())
    );
    assert_eq!(server.ok(&format!("/assets/{algorithm}")).await["delisted"], true);
    let (status, _) = server.get("/assets/999").await;
    assert_eq!(status, 404);

    // An account.
    let buyer = server.ok(&format!("/accounts/{}", s.buyer.address)).await;
    assert_eq!(buyer["accessTokens"].as_array().unwrap().len(), 1);
    assert_eq!(buyer["accessTokens"][0]["assetId"], dataset.as_str());
    // One consume and three jobs.
    assert_eq!(buyer["orders"].as_array().unwrap().len(), 4);
    assert_eq!(buyer["ordersCount"], 4);
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
    assert_eq!(proposal["votesCount"], 1);
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
    assert_eq!(server.ok("/jobs?status=result_posted").await["items"], serde_json::json!([]));
    let jobs = server.ok("/jobs?status=ruled_against_provider").await;
    assert_eq!(jobs["items"][0]["jobId"], s.job_id.to_string());
    let status = |page: &Value| -> Vec<(String, String)> {
        let items = page["items"].as_array().unwrap();
        items
            .iter()
            .map(|j| (j["jobId"].as_str().unwrap().into(), j["status"].as_str().unwrap().into()))
            .collect()
    };
    let after_first = server.ok("/jobs?cursor=1").await;
    let expected = [(s.finalized_job, "finalized"), (s.refunded_job, "refunded")];
    assert_eq!(status(&after_first), expected.map(|(id, st)| (id.to_string(), st.to_owned())));
    assert_eq!(
        status(&server.ok("/jobs?status=refunded").await),
        [(s.refunded_job.to_string(), "refunded".into())]
    );

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

/// Every item of a paged list, `limit` at a time: each page but the last is full and has a cursor.
async fn every_page(server: &Server, path: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let url = match &cursor {
            None => format!("{path}?limit={limit}"),
            Some(cursor) => format!("{path}?limit={limit}&cursor={cursor}"),
        };
        let page = server.ok(&url).await;
        let got = page["items"].as_array().unwrap();
        items.extend(got.iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => {
                assert_eq!(got.len(), limit, "GET {url}: only a full page has a next cursor");
                cursor = Some(next.to_owned());
            }
            None => {
                assert!(got.len() < limit, "GET {url}: a full page needs a next cursor");
                return items;
            }
        }
    }
    panic!("{path}: the cursors never ended");
}

/// The `keys` of each item, as text, to compare a list with rows read from the database.
fn keys(items: &[Value], keys: &[&str]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|item| {
            keys.iter()
                .map(|key| match &item[*key] {
                    Value::String(text) => text.to_lowercase(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", alloy::primitives::hex::encode(bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detail_lists_are_bounded_and_counted_and_their_pages_return_every_row_once() {
    let (chain, db, s, server) = setup().await;

    // A free asset bought and consumed in more blocks than a detail response embeds, then bought
    // by four more accounts: two of them hold the same balance.
    let popular = chain
        .as_actor(&s.publisher)
        .publish(publish_params(s.publisher.address, 0, 0, "bafkreipopular", None))
        .await
        .expect("publish");
    let as_buyer = chain.as_actor(&s.buyer);
    for _ in 0..101 {
        let call = as_buyer.marketplace.buyAndConsume(
            popular.asset_id,
            s.provider.address,
            Address::ZERO,
            U256::ZERO,
        );
        tx::send("buyAndConsume", call).await.expect("buy and consume");
    }
    for (index, amount) in [(6, 3u64), (7, 3), (8, 12), (9, 1)] {
        let as_holder = chain.as_actor(&chain.actor(index));
        let call = as_holder.marketplace.buy(popular.asset_id, U256::from(amount), Address::ZERO, U256::ZERO);
        tx::send("buy", call).await.expect("buy");
    }
    // A second proposal, voted on by five accounts, one vote per block.
    let as_voter = chain.as_actor(&s.voter);
    let calldata = agora_contracts::Marketplace::setProtocolFeeCall { feeBps: 100 }.abi_encode();
    let (targets, values, calldatas) =
        (vec![chain.deployment.contracts.marketplace], vec![U256::ZERO], vec![Bytes::from(calldata)]);
    let description = "a fee of 1%".to_owned();
    let proposal_id = tx::call(
        "hashProposal",
        as_voter.governor.hashProposal(
            targets.clone(),
            values.clone(),
            calldatas.clone(),
            keccak256(description.as_bytes()),
        ),
    )
    .await
    .expect("hash proposal");
    tx::send("propose", as_voter.governor.propose(targets, values, calldatas, description))
        .await
        .expect("propose");
    chain.mine(u64::from(chain.params.voting_delay) + 1).await;
    for index in [5, 6, 7, 8, 9] {
        let as_member = chain.as_actor(&chain.actor(index));
        let call = as_member.governor.castVoteWithReason(proposal_id, 1, "aye".into());
        tx::send("castVote", call).await.expect("vote");
    }
    sync_to_head(&chain, &db.pool, small_ranges(8)).await;
    let chain_id = chain.deployment.chain_id;
    let (id, proposal_id) = (popular.asset_id.to_string(), proposal_id.to_string());

    // Sales: newest first, 100 embedded, the rest paged through.
    let sales = every_page(&server, &format!("/assets/{id}/sales"), 20).await;
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT block_number, log_index FROM purchases WHERE chain_id = $1 AND asset_id = $2::numeric
         ORDER BY block_number DESC, log_index DESC",
    )
    .bind(i64::try_from(chain_id).unwrap())
    .bind(&id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 105);
    let expected: Vec<Vec<String>> = rows.iter().map(|(b, l)| vec![b.to_string(), l.to_string()]).collect();
    assert_eq!(keys(&sales, &["blockNumber", "logIndex"]), expected);
    assert!(sales.windows(2).all(|w| w[0]["blockNumber"].as_i64() > w[1]["blockNumber"].as_i64()));
    let asset = server.ok(&format!("/assets/{id}")).await;
    assert_eq!(asset["sales"].as_array().unwrap().as_slice(), &sales[..100]);
    assert_eq!(asset["salesCount"], 105);

    // Holders: by balance, ties by address, both descending.
    let holders = every_page(&server, &format!("/assets/{id}/holders"), 3).await;
    let rows: Vec<(Vec<u8>, String)> = sqlx::query_as(
        "SELECT b.holder, b.balance::text FROM access_balances b
         WHERE b.chain_id = $1 AND b.token = $2 AND b.balance > 0 ORDER BY b.balance DESC, b.holder DESC",
    )
    .bind(i64::try_from(chain_id).unwrap())
    .bind(popular.access_token.as_slice())
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let expected: Vec<Vec<String>> = rows.iter().map(|(h, b)| vec![hex(h), b.clone()]).collect();
    assert_eq!(keys(&holders, &["holder", "balance"]), expected);
    let balances: Vec<&str> = holders.iter().map(|h| h["balance"].as_str().unwrap()).collect();
    assert_eq!(balances, ["12", "3", "3", "1"], "numeric order, not text");
    let mut tied = [chain.actor(6).address, chain.actor(7).address];
    tied.sort();
    let tied: Vec<String> = tied.iter().rev().map(|a| hex(a.as_slice())).collect();
    assert_eq!(keys(&holders[1..3], &["holder"]).concat(), tied);
    // A page that ends exactly at the last holder: its cursor leads to an empty last page.
    assert_eq!(every_page(&server, &format!("/assets/{id}/holders"), 4).await, holders);
    assert_eq!(asset["holders"].as_array().unwrap().as_slice(), holders.as_slice());
    assert_eq!(asset["holdersCount"], 4);
    assert_eq!(asset["historyCount"], 1);

    // Orders: the buyer's four from the scenario and 101 more, newest first.
    let orders = every_page(&server, &format!("/accounts/{}/orders", s.buyer.address), 10).await;
    let rows: Vec<(i64, String, Vec<u8>)> = sqlx::query_as(
        "SELECT o.block_number, o.order_id::text, o.token FROM access_orders o
         WHERE o.chain_id = $1 AND o.consumer = $2 ORDER BY o.block_number DESC, o.order_id DESC, o.token DESC",
    )
    .bind(i64::try_from(chain_id).unwrap())
    .bind(s.buyer.address.as_slice())
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 105);
    let expected: Vec<Vec<String>> =
        rows.iter().map(|(b, o, t)| vec![b.to_string(), o.clone(), hex(t)]).collect();
    assert_eq!(keys(&orders, &["blockNumber", "orderId", "token"]), expected);
    let account = server.ok(&format!("/accounts/{}", s.buyer.address)).await;
    assert_eq!(account["orders"].as_array().unwrap().as_slice(), &orders[..100]);
    assert_eq!(account["ordersCount"], 105);

    // Votes: newest first.
    let votes = every_page(&server, &format!("/proposals/{proposal_id}/votes"), 2).await;
    let voters: Vec<String> =
        [9, 8, 7, 6, 5].into_iter().map(|i| hex(chain.actor(i).address.as_slice())).collect();
    assert_eq!(keys(&votes, &["voter"]).concat(), voters);
    let proposal = server.ok(&format!("/proposals/{proposal_id}")).await;
    assert_eq!(proposal["votes"].as_array().unwrap().as_slice(), votes.as_slice());
    assert_eq!(proposal["votesCount"], 5);

    // Proposals page in numeric order of their ids.
    let listed = every_page(&server, "/proposals", 1).await;
    let mut ids: Vec<U256> =
        [s.proposal_id.to_string(), proposal_id.clone()].iter().map(|id| id.parse().unwrap()).collect();
    ids.sort();
    let ids: Vec<String> = ids.iter().map(U256::to_string).collect();
    assert_eq!(keys(&listed, &["proposalId"]).concat(), ids);

    // Every embedded count is the table's count.
    let accounts =
        [s.publisher.address, s.buyer.address, s.friend.address, s.voter.address, chain.actor(6).address];
    for address in accounts {
        let account = server.ok(&format!("/accounts/{address}")).await;
        let who = alloy::primitives::hex::encode(address);
        let counted = [
            ("assets", format!("SELECT count(*) FROM assets WHERE owner = '\\x{who}'")),
            (
                "accessTokens",
                format!("SELECT count(*) FROM access_balances WHERE holder = '\\x{who}' AND balance > 0"),
            ),
            ("orders", format!("SELECT count(*) FROM access_orders WHERE consumer = '\\x{who}'")),
            ("releases", format!("SELECT count(*) FROM releases WHERE recipient = '\\x{who}'")),
        ];
        for (list, sql) in counted {
            let n = count(&db.pool, &sql).await;
            assert_eq!(account[format!("{list}Count")], n, "{address} {list}");
            assert_eq!(
                account[list].as_array().unwrap().len(),
                usize::try_from(n.min(100)).unwrap(),
                "{address} {list}"
            );
        }
    }
    for asset_id in [s.dataset.to_string(), s.algorithm.to_string(), id.clone()] {
        let asset = server.ok(&format!("/assets/{asset_id}")).await;
        let token: Vec<u8> =
            sqlx::query_scalar("SELECT access_token FROM assets WHERE asset_id = $1::numeric")
                .bind(&asset_id)
                .fetch_one(&db.pool)
                .await
                .unwrap();
        let token = alloy::primitives::hex::encode(token);
        let counted = [
            ("history", format!("SELECT count(*) FROM asset_versions WHERE asset_id = {asset_id}")),
            ("sales", format!("SELECT count(*) FROM purchases WHERE asset_id = {asset_id}")),
            (
                "holders",
                format!("SELECT count(*) FROM access_balances WHERE token = '\\x{token}' AND balance > 0"),
            ),
        ];
        for (list, sql) in counted {
            assert_eq!(asset[format!("{list}Count")], count(&db.pool, &sql).await, "asset {asset_id} {list}");
        }
    }
    for id in [s.proposal_id.to_string(), proposal_id.clone()] {
        let n = count(&db.pool, &format!("SELECT count(*) FROM votes WHERE proposal_id = {id}")).await;
        assert_eq!(server.ok(&format!("/proposals/{id}")).await["votesCount"], n);
    }

    // The OpenAPI document describes the lists and the counts.
    let openapi = server.ok("/openapi.json").await;
    for path in
        ["/assets/{id}/sales", "/assets/{id}/holders", "/accounts/{address}/orders", "/proposals/{id}/votes"]
    {
        let params =
            openapi["paths"][path]["get"]["parameters"].as_array().unwrap_or_else(|| panic!("{path}"));
        let names: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names[1..], ["cursor", "limit"], "{path}");
    }
    let schema =
        &openapi["paths"]["/assets/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(schema["properties"]["salesCount"]["type"], "integer");

    // Bad parameters: 400 naming the parameter; unknown ids: 404.
    let buyer = s.buyer.address;
    for (path, needle) in [
        (format!("/assets/{id}/sales?limit=0"), "limit"),
        (format!("/assets/{id}/sales?limit=501"), "limit"),
        (format!("/assets/{id}/sales?limit=ten"), "limit"),
        (format!("/assets/{id}/sales?cursor=12"), "cursor"),
        (format!("/assets/{id}/sales?cursor=12:x"), "cursor"),
        (format!("/assets/{id}/sales?cursor=-1:0"), "cursor"),
        (format!("/assets/{id}/sales?cursor=1:2:3"), "cursor"),
        (format!("/assets/{id}/sales?sort=oldest"), "sort"),
        ("/assets/abc/sales".to_owned(), "asset id"),
        (format!("/assets/{id}/holders?limit=-1"), "limit"),
        (format!("/assets/{id}/holders?cursor=5"), "cursor"),
        (format!("/assets/{id}/holders?cursor=5:0x12"), "cursor"),
        (format!("/assets/{id}/holders?cursor=lots:{buyer}"), "cursor"),
        ("/assets/-1/holders".to_owned(), "asset id"),
        (format!("/accounts/{buyer}/orders?limit=1000"), "limit"),
        (format!("/accounts/{buyer}/orders?cursor=1:2"), "cursor"),
        (format!("/accounts/{buyer}/orders?cursor=1:x:{buyer}"), "cursor"),
        (format!("/accounts/{buyer}/orders?cursor=1:2:0xzz"), "cursor"),
        (format!("/accounts/{buyer}/orders?status=open"), "status"),
        ("/accounts/nobody/orders".to_owned(), "address"),
        (format!("/proposals/{proposal_id}/votes?limit="), "limit"),
        (format!("/proposals/{proposal_id}/votes?cursor=abc"), "cursor"),
        (format!("/proposals/{proposal_id}/votes?cursor=3:{buyer}:1"), "cursor"),
        ("/proposals/x/votes".to_owned(), "proposal id"),
    ] {
        server.bad(&path, needle).await;
    }
    for path in ["/assets/999/sales", "/assets/999/holders", "/proposals/12345/votes"] {
        let (status, body) = server.get(path).await;
        assert_eq!(status, 404, "GET {path}: {body}");
        assert!(body["error"].as_str().unwrap().contains("not found"), "GET {path}: {body}");
    }
    // An account without orders is an empty list, as its detail is an empty account.
    let nobody = server.ok(&format!("/accounts/{}/orders", Address::repeat_byte(7))).await;
    assert_eq!((nobody["items"].as_array().unwrap().len(), &nobody["nextCursor"]), (0, &Value::Null));
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
    let orders = format!("/accounts/{}/orders", Address::ZERO);
    let paths = ["/assets", "/status", "/assets/1", "/assets/1/sales", "/assets/1/holders", &orders];
    for path in paths.into_iter().chain(["/jobs", "/proposals", "/proposals/1/votes", "/providers", "/ready"])
    {
        let (status, body) = server.get(path).await;
        assert_eq!(status, 500, "{path}: {body}");
        assert_eq!(body["error"], "internal error", "{path}");
    }
}
