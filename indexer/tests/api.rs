//! The HTTP API over a database synced from a real anvil: each endpoint, each bad parameter,
//! pagination, search over fetched metadata, and a database failure that does not leak.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use agora_api::{
    AssetKind, AssetQuery, Client, ClientError, CursorQuery, JobStatus, ListQuery, MetadataStatus,
    ProposalStatus, Url,
};
use agora_contracts::tx;
use agora_indexer::{
    api::{self, AppState, ChainReads},
    db,
    metadata::{FetchError, MetadataFetcher, RetryPolicy, fetch_pending},
};
use alloy::{
    primitives::{Address, Bytes, U256, keccak256},
    providers::Provider,
    sol_types::SolCall,
    transports::http::reqwest,
};
use common::{
    ALGORITHM_CID, Chain, DATASET_CID, DATASET_CID_V2, Db, Scenario, Server, count, publish_params, scenario,
    small_ranges, sync_to_head,
};
use serde_json::Value;

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
    let state = AppState {
        pool: db.pool.clone(),
        chain_id: chain.deployment.chain_id,
        metrics: None,
        max_lag: 5,
        contracts: None,
        chain: Some(ChainReads {
            provider: chain.reader.clone(),
            splitter: chain.deployment.contracts.revenue_splitter,
        }),
    };
    let server = Server::start(state).await;
    (chain, db, s, server)
}

/// What the splitter says `account` can release, read directly: (asset, currency, amount) above 0.
async fn releasable_on_chain(
    chain: &Chain,
    assets: &[U256],
    account: Address,
) -> Vec<(String, String, String)> {
    let splitter = agora_contracts::RevenueSplitter::new(
        chain.deployment.contracts.revenue_splitter,
        chain.reader.clone(),
    );
    let mut found = Vec::new();
    for asset in assets {
        for currency in splitter.currenciesOf(*asset).call().await.unwrap() {
            let amount = splitter.releasable(*asset, currency, account).call().await.unwrap();
            if !amount.is_zero() {
                found.push((asset.to_string(), format!("{currency:#x}"), amount.to_string()));
            }
        }
    }
    found
}

fn waiting(body: &Value) -> Vec<(String, String, String)> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["assetId"].as_str().unwrap().to_owned(),
                w["currency"].as_str().unwrap().to_owned(),
                w["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn revenue_waiting_is_what_the_splitter_says_and_a_release_clears_it() {
    let (chain, db, s, server) = setup().await;
    let assets = [s.dataset, s.algorithm];
    for who in [&s.publisher, &s.friend, &s.buyer, &s.provider] {
        let body = server.ok(&format!("/accounts/{:#x}/revenue", who.address)).await;
        assert_eq!(body["account"], format!("{:#x}", who.address));
        assert_eq!(waiting(&body), releasable_on_chain(&chain, &assets, who.address).await, "{body}");
    }
    // The publisher is paid by the sales: something waits, until it releases it.
    let publisher = format!("/accounts/{:#x}/revenue", s.publisher.address);
    let before = waiting(&server.ok(&publisher).await);
    assert!(!before.is_empty(), "the scenario's sales leave the publisher revenue to release");
    let splitter = chain.as_actor(&s.publisher).splitter;
    for (asset, currency, _) in &before {
        let call = splitter.release(asset.parse().unwrap(), currency.parse().unwrap(), s.publisher.address);
        tx::send("release", call).await.unwrap();
    }
    assert_eq!(waiting(&server.ok(&publisher).await), Vec::new());

    let (status, body) = server.get("/accounts/nobody/revenue").await;
    assert_eq!(
        (status, body["error"].as_str().is_some_and(|e| e.contains("address"))),
        (400, true),
        "{body}"
    );
    // An API without an RPC URL says so.
    let readless = Server::start(AppState {
        pool: db.pool.clone(),
        chain_id: chain.deployment.chain_id,
        metrics: None,
        max_lag: 5,
        contracts: None,
        chain: None,
    })
    .await;
    let (status, body) = readless.get(&publisher).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("RPC URL")), "{body}");
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
        contracts: None,
        chain: None,
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

/// Every route the router serves, as the OpenAPI document names it.
const ROUTES: &[&str] = &[
    "/health",
    "/ready",
    "/status",
    "/metrics",
    "/openapi.json",
    "/currencies",
    "/assets",
    "/assets/facets",
    "/assets/{id}",
    "/assets/{id}/sales",
    "/assets/{id}/holders",
    "/accounts/{address}",
    "/accounts/{address}/orders",
    "/accounts/{address}/revenue",
    "/governance",
    "/proposals",
    "/proposals/{id}",
    "/proposals/{id}/votes",
    "/rewards/usage",
    "/providers",
    "/providers/{address}",
    "/jobs",
    "/jobs/{id}",
];

/// Where `value` departs from the resolved `schema`: its type, enum, required and undocumented
/// properties, and the same for each property and item (`at` names the place).
fn departures(at: &str, schema: &Value, value: &Value) -> Vec<String> {
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        return if options.iter().any(|o| departures(at, o, value).is_empty()) {
            Vec::new()
        } else {
            vec![format!("{at}: {value} matches no oneOf of {schema}")]
        };
    }
    let kind = |t: &str| match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("{at}: schema type {other}"),
    };
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| kind(t)) {
        return vec![format!("{at}: {value} is not {types:?}")];
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return vec![format!("{at}: {value} is not one of {allowed:?}")];
    }
    let mut out = Vec::new();
    if let (Some(properties), Some(object)) = (schema["properties"].as_object(), value.as_object()) {
        for required in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !object.contains_key(required) {
                out.push(format!("{at}: lacks the required {required}"));
            }
        }
        for (key, field) in object {
            match properties.get(key) {
                Some(property) => out.extend(departures(&format!("{at}.{key}"), property, field)),
                None => out.push(format!("{at}: {key} is not documented")),
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items").filter(|i| i.is_object()), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            out.extend(departures(&format!("{at}[{i}]"), items, item));
        }
    }
    out
}

/// The OpenAPI document is derived: it names exactly the routes served, every 200 of a JSON
/// route has a schema in the components (and the real answers of the scenario match it), every
/// error is an `ErrorBody`, and every response type is a named component.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route_and_every_answer() {
    let (_chain, _db, s, server) = setup().await;
    let doc = server.ok("/openapi.json").await;
    assert_eq!(doc, api::openapi_document(), "/openapi.json serves the derived document");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Agora indexer");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    // Exactly the routes served: each documented path answers GET (and only GET: another method
    // is a 405, not the fallback's 404), and the router is built from the same list.
    let mut documented: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    documented.sort_unstable();
    let mut served = ROUTES.to_vec();
    served.sort_unstable();
    assert_eq!(documented, served);
    let (dataset, buyer) = (s.dataset.to_string(), format!("{:#x}", s.buyer.address));
    let provider = format!("{:#x}", s.provider.address);
    let real = |route: &str| {
        route
            .replace("/providers/{address}", &format!("/providers/{provider}"))
            .replace("{address}", &buyer)
            .replace("/assets/{id}", &format!("/assets/{dataset}"))
            .replace("/proposals/{id}", &format!("/proposals/{}", s.proposal_id))
            .replace("/jobs/{id}", &format!("/jobs/{}", s.job_id))
    };
    for route in ROUTES {
        let operations = doc["paths"][route].as_object().unwrap();
        assert_eq!(operations.keys().collect::<Vec<_>>(), ["get"], "{route}");
        let path = real(route);
        // A limit of 1 gives the lists a next cursor, so both of its types are checked.
        let url = if route_params(route).contains(&"limit") {
            format!("{path}?limit=1")
        } else if *route == "/rewards/usage" {
            format!("{path}?start=0&end=31536000")
        } else {
            path.clone()
        };
        let response = server.client.get(format!("{}{url}", server.base)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "GET {url}");
        let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_owned();
        let ok = &doc["paths"][route]["get"]["responses"]["200"]["content"];
        if *route == "/metrics" {
            assert!(content_type.starts_with("text/plain"), "{content_type}");
            assert_eq!(ok["text/plain"]["schema"]["type"], "string");
        } else {
            assert!(content_type.starts_with("application/json"), "GET {url}: {content_type}");
            let schema = &ok["application/json"]["schema"];
            if *route == "/openapi.json" {
                assert_eq!(schema["type"], "object");
            } else {
                let name = schema["$ref"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{route}: 200 without a $ref: {schema}"));
                let name = name.strip_prefix("#/components/schemas/").unwrap();
                assert!(doc["components"]["schemas"][name].is_object(), "{route}: {name}");
            }
            let body: Value = response.json().await.unwrap();
            let departures = departures(&url, &common::response_schema(&doc, route), &body);
            assert!(departures.is_empty(), "GET {url} departs from its schema:\n{}", departures.join("\n"));
        }
        for (status, response) in doc["paths"][route]["get"]["responses"].as_object().unwrap() {
            // Every error is an `ErrorBody`, but for a not-ready indexer's readiness.
            if (status.starts_with('4') || status.starts_with('5'))
                && (*route, status.as_str()) != ("/ready", "503")
            {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/ErrorBody", "{route} {status}");
            }
        }
        let (status, body) = {
            let response = server.client.post(format!("{}{path}", server.base)).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        };
        assert_eq!(status, 405, "POST {path}: {body}");
    }
    let ready_503 =
        &doc["paths"]["/ready"]["get"]["responses"]["503"]["content"]["application/json"]["schema"];
    assert_eq!(ready_503["$ref"], "#/components/schemas/Ready");
    let (status, body) = server.get("/assets/1/owners").await;
    assert_eq!((status, body["error"].as_str().unwrap()), (404, r#"route "/assets/1/owners" not found"#));

    // Every response type is a named schema.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "Asset",
        "AssetDetail",
        "AssetVersion",
        "AssetKind",
        "MetadataStatus",
        "Sale",
        "Holder",
        "LineageLink",
        "SplitShare",
        "Revenue",
        "AssetFacets",
        "FacetCount",
        "Contracts",
        "Account",
        "AccessTokenBalance",
        "Order",
        "Release",
        "RevenueWaiting",
        "Waiting",
        "Currencies",
        "CurrencyUnits",
        "Proposal",
        "ProposalDetail",
        "ProposalStatus",
        "ProposalAction",
        "ActionArg",
        "Governance",
        "TreasuryInflow",
        "Vote",
        "ComputeProvider",
        "Job",
        "JobInput",
        "JobStatus",
        "Health",
        "Ready",
        "Status",
        "ErrorBody",
        "Page_Asset",
        "Page_Sale",
        "Page_Holder",
        "Page_Order",
        "Page_Proposal",
        "Page_Vote",
        "Page_ComputeProvider",
        "Page_Job",
    ] {
        assert!(schemas.contains_key(name), "components.schemas lacks {name}: {:?}", schemas.keys());
    }
    // A page's items are its item type's component, not a copy.
    assert_eq!(schemas["Page_Asset"]["properties"]["items"]["items"]["$ref"], "#/components/schemas/Asset");
    // Field docs are the descriptions, units included.
    let price = &schemas["Asset"]["properties"]["price"];
    assert!(price["description"].as_str().unwrap().contains("decimal uint256"), "{price}");
    assert_eq!(schemas["Asset"]["properties"]["kind"]["$ref"], "#/components/schemas/AssetKind");
    let kinds: Vec<&str> =
        schemas["AssetKind"]["enum"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(kinds, ["dataset", "model", "algorithm", "app", "notebook", "unknown"]);
    // The query parameters, each described.
    let params = doc["paths"]["/assets"]["get"]["parameters"].as_array().unwrap();
    let names: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, route_params("/assets"));
    assert!(params.iter().all(|p| p["in"] == "query" && p["description"].is_string()), "{params:?}");
    let params = doc["paths"]["/assets/facets"]["get"]["parameters"].as_array().unwrap();
    let names: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, route_params("/assets/facets"));
    for route in ["/proposals", "/jobs"] {
        let params = doc["paths"][route]["get"]["parameters"].as_array().unwrap();
        let names: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["cursor", "limit", "status"], "{route}");
    }
    let params = doc["paths"]["/providers"]["get"]["parameters"].as_array().unwrap();
    assert_eq!(params.iter().map(|p| p["name"].as_str().unwrap()).collect::<Vec<_>>(), ["cursor", "limit"]);
}

/// The typed client reads every route of a real indexer into `agora-api`'s types, and sorts
/// failures: an error status with its message, an indexer that is not there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typed_client_reads_every_route() {
    let (chain, db, s, server) = setup().await;
    let client = Client::new(Url::parse(&server.base).unwrap());
    let (dataset, algorithm) = (s.dataset.to_string(), s.algorithm.to_string());
    let lower = |a: Address| format!("{a:#x}");
    let head = chain.head().await;

    // Service routes.
    assert_eq!(client.health().await.unwrap().status, "ok");
    let ready = client.ready().await.unwrap();
    assert_eq!((ready.ready, ready.reason.as_str(), ready.lag, ready.max_lag), (true, "ok", Some(0), 5));
    let status = client.status().await.unwrap();
    assert_eq!(status.chain_id, chain.deployment.chain_id);
    assert_eq!((status.indexed_block, status.lag, status.reorgs), (Some(head), Some(0), None));
    assert!(client.metrics().await.unwrap().contains(&format!("agora_indexer_indexed_block {head}")));
    assert_eq!(client.openapi().await.unwrap(), api::openapi_document());

    // The catalogue: filters, sort and cursor.
    let listed = client.assets(&AssetQuery::default()).await.unwrap();
    assert_eq!(listed.items.iter().map(|a| a.asset_id.as_str()).collect::<Vec<_>>(), [dataset.as_str()]);
    assert_eq!(listed.next_cursor, None);
    let asset = &listed.items[0];
    assert_eq!(
        (asset.kind, asset.version, asset.metadata_cid.as_str()),
        (AssetKind::Dataset, 2, DATASET_CID_V2)
    );
    assert_eq!(asset.owner, lower(s.publisher.address));
    assert_eq!(asset.metadata_status, MetadataStatus::Fetched);
    assert_eq!(asset.metadata.as_ref().unwrap()["name"], "Bird songs");
    assert_eq!(asset.encrypted, Some(false));
    let by_price = AssetQuery {
        include_delisted: Some(true),
        sort: Some("price_desc".into()),
        limit: Some("1".into()),
        ..AssetQuery::default()
    };
    let first = client.assets(&by_price).await.unwrap();
    assert_eq!(first.items[0].asset_id, dataset);
    let cursor = first.next_cursor.clone().expect("a full page has a cursor");
    assert_eq!(cursor, format!("{}:{dataset}", first.items[0].price.as_deref().unwrap()));
    let second = client.assets(&AssetQuery { cursor: Some(cursor), ..by_price.clone() }).await.unwrap();
    assert_eq!(second.items[0].asset_id, algorithm);
    assert!(second.items[0].delisted);
    let algorithms =
        AssetQuery { kind: Some("algorithm".into()), include_delisted: Some(true), ..Default::default() };
    assert_eq!(client.assets(&algorithms).await.unwrap().items[0].kind, AssetKind::Algorithm);

    // One asset: versions dated from their blocks, each with its own document when fetched.
    let detail = client.asset(&dataset).await.unwrap();
    assert_eq!(&detail.asset, asset);
    assert_eq!(detail.history_count, 2);
    let cids: Vec<&str> = detail.history.iter().map(|v| v.metadata_cid.as_str()).collect();
    assert_eq!(cids, [DATASET_CID_V2, DATASET_CID]);
    for version in &detail.history {
        let number = u64::try_from(version.block_number).unwrap();
        let block = chain.provider().get_block_by_number(number.into()).await;
        let time = block.unwrap().unwrap().header.timestamp;
        assert_eq!(version.timestamp, Some(i64::try_from(time).unwrap()), "version {}", version.version);
    }
    assert_eq!(detail.history[0].metadata.as_ref().unwrap()["name"], "Bird songs");
    assert_eq!(detail.history[1].metadata, None, "the first document was never fetched");
    let amounts: Vec<&str> = detail.sales.iter().map(|s| s.amount.as_str()).collect();
    assert_eq!((amounts, detail.sales_count, detail.holders_count), (vec!["1", "1", "4"], 3, 2));
    assert!(detail.sales.iter().all(|sale| sale.buyer == lower(s.buyer.address)));
    assert!(detail.upstream.is_empty() && detail.downstream.is_empty());

    // Its sales and holders page by page, the same rows as the detail embeds.
    let page = client.asset_sales(&dataset, &CursorQuery::page(None, 2)).await.unwrap();
    assert_eq!(page.items, detail.sales[..2]);
    let last = &page.items[1];
    assert_eq!(page.next_cursor, Some(format!("{}:{}", last.block_number, last.log_index)));
    let rest = client.asset_sales(&dataset, &CursorQuery::page(page.next_cursor, 2)).await.unwrap();
    assert_eq!((rest.items.as_slice(), rest.next_cursor), (&detail.sales[2..], None));
    let holders = client.asset_holders(&dataset, &CursorQuery::default()).await.unwrap();
    assert_eq!(holders.items, detail.holders);

    // Accounts.
    let account = client.account(&s.buyer.address.to_string()).await.unwrap();
    assert_eq!(account.address, lower(s.buyer.address));
    assert_eq!(account.access_tokens.len(), 1);
    assert_eq!(account.access_tokens[0].asset_id, dataset);
    assert_eq!(account.access_tokens[0].token, lower(s.dataset_token));
    assert_eq!((account.orders.len(), account.orders_count, account.delegate.as_deref()), (4, 4, None));
    let orders = client.account_orders(&lower(s.buyer.address), &CursorQuery::page(None, 3)).await.unwrap();
    assert_eq!(orders.items, account.orders[..3]);
    assert!(orders.next_cursor.is_some());
    let voter = client.account(&lower(s.voter.address)).await.unwrap();
    assert_eq!(voter.delegate, Some(lower(s.voter.address)));
    let friend = client.account(&lower(s.friend.address)).await.unwrap();
    assert_eq!((friend.releases.len(), friend.releases[0].asset_id.as_deref()), (1, Some(dataset.as_str())));
    let publisher = client.account(&lower(s.publisher.address)).await.unwrap();
    assert_eq!((publisher.assets.len(), publisher.assets_count), (2, 2));
    let currencies = client.currencies().await.unwrap();
    assert_eq!((currencies.items[0].symbol.as_str(), currencies.items[0].decimals), ("ETH", 18));
    let waiting = client.revenue_waiting(&lower(s.publisher.address)).await.unwrap();
    assert_eq!(waiting.account, lower(s.publisher.address));
    assert!(waiting.items.iter().all(|w| w.asset_id == dataset && w.amount != "0"), "{waiting:?}");
    assert!(!waiting.items.is_empty(), "the publisher's sales wait in the splitter");

    // Governance.
    let proposals = client.proposals(&ListQuery::default()).await.unwrap();
    assert_eq!(proposals.items.len(), 1);
    assert_eq!(
        (proposals.items[0].proposal_id.clone(), proposals.items[0].status),
        (s.proposal_id.to_string(), ProposalStatus::Executed)
    );
    assert!(
        client
            .proposals(&ListQuery::default().with_status(ProposalStatus::Queued))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let proposal = client.proposal(&s.proposal_id.to_string()).await.unwrap();
    assert_eq!(proposal.proposal, proposals.items[0]);
    assert_eq!((proposal.votes.len(), proposal.votes_count), (1, 1));
    let vote = &proposal.votes[0];
    assert_eq!((vote.voter.clone(), vote.support, vote.reason.as_str()), (lower(s.voter.address), 1, "yes"));
    assert_eq!(proposal.proposal.votes_for, vote.weight);
    let votes = client.proposal_votes(&s.proposal_id.to_string(), &CursorQuery::default()).await.unwrap();
    assert_eq!((votes.items, votes.next_cursor), (proposal.votes.clone(), None));

    // Compute.
    let providers = client.providers(&ListQuery::page(None, 1)).await.unwrap();
    assert_eq!(providers.items[0].provider, lower(s.provider.address));
    assert!(providers.items[0].active);
    assert_eq!(providers.next_cursor, Some(lower(s.provider.address)));
    let jobs = client.jobs(&ListQuery::default()).await.unwrap();
    assert_eq!(jobs.items.len(), 3);
    let ruled =
        client.jobs(&ListQuery::default().with_status(JobStatus::RuledAgainstProvider)).await.unwrap();
    assert_eq!(ruled.items.iter().map(|j| j.job_id.clone()).collect::<Vec<_>>(), [s.job_id.to_string()]);
    let job = client.job(&s.job_id.to_string()).await.unwrap();
    assert_eq!(job, ruled.items[0]);
    assert_eq!(
        (job.status, job.dataset_id.as_str(), job.consumer.clone()),
        (JobStatus::RuledAgainstProvider, dataset.as_str(), lower(s.buyer.address))
    );
    assert_eq!(job.challenger, Some(lower(s.buyer.address)));
    assert_eq!(client.job(&s.finalized_job.to_string()).await.unwrap().status, JobStatus::Finalized);

    // Errors: the indexer's status and message.
    let api_error = |err: ClientError| match err {
        ClientError::Api { status, message } => (status, message),
        other => panic!("not an API error: {other:?}"),
    };
    let missing = client.asset("999").await.unwrap_err();
    assert!(missing.is_not_found());
    assert_eq!(api_error(missing), (404, "asset 999 not found".to_owned()));
    assert_eq!(api_error(client.job("999").await.unwrap_err()), (404, "job 999 not found".to_owned()));
    assert_eq!(api_error(client.proposal_votes("12345", &CursorQuery::default()).await.unwrap_err()).0, 404);
    let (status, message) = api_error(client.asset("abc").await.unwrap_err());
    assert_eq!(
        (status, message.as_str()),
        (400, r#"asset id: "abc" is not a decimal unsigned 256-bit integer"#)
    );
    let bad_kind = AssetQuery { kind: Some("song".into()), ..AssetQuery::default() };
    let (status, message) = api_error(client.assets(&bad_kind).await.unwrap_err());
    assert_eq!(
        (status, message.as_str()),
        (400, r#"kind: "song" is not one of dataset, model, algorithm, app, notebook"#)
    );
    let (status, message) = api_error(client.jobs(&ListQuery::page(None, 0)).await.unwrap_err());
    assert_eq!((status, message.as_str()), (400, r#"limit: "0" must be an integer from 1 to 500"#));
    let (status, message) =
        api_error(client.providers(&ListQuery::default().with_status("open")).await.unwrap_err());
    assert_eq!((status, message.as_str()), (400, "status: not a filter of /providers"));
    // An id is one path segment, whatever it holds: never another route, never a NUL.
    let (status, message) = api_error(client.asset(&format!("{dataset}/sales")).await.unwrap_err());
    assert_eq!(
        (status, message),
        (400, format!(r#"asset id: "{dataset}/sales" is not a decimal unsigned 256-bit integer"#))
    );
    assert_eq!(api_error(client.account("%00").await.unwrap_err()).0, 400);
    assert_eq!(api_error(client.job("..").await.unwrap_err()).0, 400);

    // A lagging indexer is not ready, which is an answer, not an error.
    db::set_head(&db.pool, chain.deployment.chain_id, head + 100).await.unwrap();
    let ready = client.ready().await.unwrap();
    assert_eq!(
        (ready.ready, ready.reason.as_str(), ready.lag),
        (false, "lagging behind the head", Some(100))
    );

    // No indexer there at all: unreachable, naming the URL asked for; and a short timeout.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let gone = Client::new(Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap());
    match gone.asset(&dataset).await.unwrap_err() {
        ClientError::Unreachable { url, source } => {
            assert_eq!(url, format!("http://127.0.0.1:{port}/assets/{dataset}"));
            assert!(source.is_connect(), "{source:?}");
        }
        other => panic!("not unreachable: {other:?}"),
    }
    // A listener that accepts and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = Url::parse(&format!("http://{}", silent.local_addr().unwrap())).unwrap();
    let hung = Client::new(silent_url).with_timeout(std::time::Duration::from_millis(300));
    match hung.health().await.unwrap_err() {
        ClientError::Unreachable { source, .. } => assert!(source.is_timeout(), "{source:?}"),
        other => panic!("not unreachable: {other:?}"),
    }
    drop(silent);
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
    chain.advance(chain.params.voting_delay + 1).await;
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
    let schema = common::response_schema(&openapi, "/assets/{id}");
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
    let server = Server::start(AppState {
        pool,
        chain_id: chain.deployment.chain_id,
        metrics: None,
        max_lag: 5,
        contracts: None,
        chain: None,
    })
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

/// Asserts `path` answers `status` with a JSON `{"error": ...}` body mentioning `needle`.
async fn json_error(server: &Server, method: reqwest::Method, path: &str, status: u16, needle: &str) {
    let response =
        server.client.request(method.clone(), format!("{}{path}", server.base)).send().await.unwrap();
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text:?}"));
    assert_eq!(got, status, "{method} {path}: {body}");
    let message = body["error"].as_str().unwrap_or_else(|| panic!("{method} {path}: no message: {body}"));
    assert!(message.contains(needle), "{method} {path}: {message:?} should mention {needle:?}");
}

/// A NUL in any text parameter was a 500 (PostgreSQL refuses it), a missing job or an unknown
/// route an empty 404, a wrong method an empty 405, and ids parsed as hex too: every error is a
/// 4xx with a JSON message, and ids are decimal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_json_4xx_never_a_500() {
    let (_chain, _db, s, server) = setup().await;
    let get = reqwest::Method::GET;
    for path in [
        "/assets?q=%00",
        "/assets?q=whale%00",
        "/assets?license=%00",
        "/assets?sort=%00",
        "/assets?cursor=%001",
        "/jobs?status=%00",
        "/proposals?status=a%00",
        "/providers?cursor=%00",
        "/assets/1/sales?cursor=%00",
        "/assets/%00",
        "/accounts/%00/orders",
    ] {
        json_error(&server, get.clone(), path, 400, "NUL").await;
    }
    json_error(&server, get.clone(), &format!("/assets?q={}", "a".repeat(2_000)), 400, "q").await;
    json_error(&server, get.clone(), &format!("/assets?license={}", "b".repeat(2_000)), 400, "license").await;
    json_error(&server, get.clone(), "/jobs/999", 404, "job 999 not found").await;
    json_error(&server, get.clone(), "/no/such/route", 404, "not found").await;
    json_error(&server, get.clone(), "/assets/1/nothing", 404, "not found").await;
    json_error(&server, reqwest::Method::POST, "/assets", 405, "method not allowed").await;
    json_error(&server, reqwest::Method::DELETE, "/jobs/1", 405, "method not allowed").await;
    // Decimal ids only: the hex spelling of an id is refused, not read as another id.
    json_error(&server, get.clone(), "/assets/0x1", 400, "decimal").await;
    json_error(&server, get.clone(), "/jobs/0x1", 400, "decimal").await;
    json_error(&server, get.clone(), "/assets?min_price=0x10", 400, "min_price").await;
    json_error(&server, get.clone(), &format!("/proposals/{}", "9".repeat(79)), 400, "proposal id").await;
    let over = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
    json_error(&server, get.clone(), &format!("/assets/{over}"), 400, "asset id").await;
    // A body over the limit gets a JSON 413.
    let response = server
        .client
        .get(format!("{}/assets", server.base))
        .body(vec![b'x'; api::BODY_LIMIT + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    // The new job detail.
    let job = server.ok(&format!("/jobs/{}", s.job_id)).await;
    assert_eq!(job["jobId"], s.job_id.to_string());
    assert_eq!(job["status"], "ruled_against_provider");
}

/// Values the fuzzer puts in paths and queries: real ids and addresses, NULs, huge and
/// overflowing numbers, hex, unicode, invalid UTF-8, search syntax, cursor shapes.
fn fuzz_value(rng: &mut common::Rng, real: &[String]) -> String {
    const FIXED: &[&str] = &[
        "",
        "%00",
        "a%00b",
        "%00%00",
        "0",
        "1",
        "2",
        "-1",
        "+5",
        "1.5",
        "1e5",
        "NaN",
        "true",
        "false",
        "maybe",
        "18446744073709551616",
        "9223372036854775807",
        "-9223372036854775808",
        "115792089237316195423570985008687907853269984665640564039457584007913129639935",
        "115792089237316195423570985008687907853269984665640564039457584007913129639936",
        "0x10",
        "0x",
        "0b1",
        "0o7",
        "0x123",
        "0xgggggggggggggggggggggggggggggggggggggggg",
        "0x0000000000000000000000000000000000000000",
        "%C3%BC%E5%90%8D%F0%9F%8E%89",
        "%FF%FE%FD",
        "%C3",
        "%",
        "%%",
        "%2",
        "ü名🎉",
        "'",
        "\"",
        "\\",
        "&&",
        "=",
        "a:b",
        "1:2",
        "1:2:3",
        "1:2:3:4",
        ":",
        "::",
        "99999999999999999999:1",
        "1:-1",
        "1e78:0x00",
        "%22foo%22%20-bar%20OR%20(",
        "!%26%7C:*",
        "dataset",
        "model",
        "algorithm",
        "id_desc",
        "price_asc",
        "price_desc",
        "open",
        "finalized",
        "executed",
        "ruled_against_provider",
        "500",
        "501",
        "%20",
        "whale%20OR%20finch",
        "..",
        ".",
        "%2F",
        "%2e%2e",
    ];
    let n = rng.next();
    match n % 12 {
        0..=4 => FIXED[(n / 10 % FIXED.len() as u64) as usize].to_owned(),
        5 | 6 => real[(n / 10 % real.len() as u64) as usize].clone(),
        10 | 11 => {
            // A NUL inside something otherwise plausible.
            let around = |k: u64| FIXED[(k % FIXED.len() as u64) as usize];
            format!("{}%00{}", around(n / 10), around(n / 1_000))
        }
        7 => {
            // Huge: up to 8 KiB of one repeated piece (URLs stay under http's 64 KiB).
            let piece = ["a", "9", "%00", "%E5%90%8D", "ab%20", "0"][(n / 10 % 6) as usize];
            piece.repeat(1 + (n / 100 % (8_000 / piece.len() as u64)) as usize)
        }
        8 => {
            // Random bytes, percent-encoded.
            let len = n / 10 % 40;
            (0..len).map(|_| format!("%{:02X}", rng.next() as u8)).collect()
        }
        _ => {
            // Random printable ASCII that is safe in a URL as is.
            const SAFE: &[u8] = b"abcxyzABCXYZ0123456789-._~!$'()*+,;:@";
            let len = n / 10 % 30;
            (0..len).map(|_| SAFE[(rng.next() % SAFE.len() as u64) as usize] as char).collect()
        }
    }
}

/// The query parameters `route` reads.
fn route_params(route: &str) -> &'static [&'static str] {
    match route {
        "/assets" => &[
            "q",
            "kind",
            "owner",
            "min_price",
            "max_price",
            "license",
            "include_delisted",
            "encrypted",
            "tag",
            "priced",
            "compute_only",
            "sort",
            "cursor",
            "limit",
        ],
        "/assets/facets" => &[
            "q",
            "kind",
            "owner",
            "min_price",
            "max_price",
            "license",
            "include_delisted",
            "encrypted",
            "tag",
            "priced",
            "compute_only",
        ],
        "/proposals" | "/jobs" | "/providers" => &["cursor", "limit", "status"],
        r if r.ends_with("/sales")
            || r.ends_with("/holders")
            || r.ends_with("/orders")
            || r.ends_with("/votes") =>
        {
            &["cursor", "limit"]
        }
        _ => &[],
    }
}

/// A value `name` accepts.
fn valid_value(rng: &mut common::Rng, name: &str, real: &[String]) -> String {
    let pick = |rng: &mut common::Rng, values: &[&str]| {
        values[(rng.next() % values.len() as u64) as usize].to_owned()
    };
    match name {
        "id" => pick(rng, &[&real[0], &real[1], &real[2], &real[3], "1", "999"]),
        "owner" => pick(rng, &[&real[4], &real[5], &real[6]]),
        "q" => pick(rng, &["finch", "recordings%20OR%20songs", "bird%20-song", "%22bird%20songs%22"]),
        "kind" => pick(rng, &["dataset", "algorithm"]),
        "min_price" | "max_price" => pick(rng, &["0", "1000", "1000000000000000000"]),
        "license" => pick(rng, &["MIT", "CC-BY-4.0"]),
        "include_delisted" | "encrypted" => pick(rng, &["true", "false"]),
        "sort" => pick(rng, &["id_asc", "id_desc", "price_asc", "price_desc"]),
        "cursor" => pick(rng, &["1", "0", &real[7], &real[8]]),
        "limit" => pick(rng, &["1", "2", "500"]),
        "status" => pick(rng, &["open", "executed", "finalized"]),
        _ => String::new(),
    }
}

/// Seeded fuzzing of every route: thousands of generated paths, query strings, methods,
/// headers and bodies. No request gets a 5xx, every error is a JSON `{"error": ...}`, and the
/// server still answers afterwards. Set `AGORA_API_FUZZ_SEED` to replay another sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_fuzz_of_every_route_never_gets_a_5xx() {
    const REQUESTS: usize = 3_000;
    const ROUTES: &[&str] = &[
        "/health",
        "/ready",
        "/status",
        "/metrics",
        "/openapi.json",
        "/currencies",
        "/assets",
        "/assets/{id}",
        "/assets/{id}/sales",
        "/assets/{id}/holders",
        "/accounts/{address}",
        "/accounts/{address}/orders",
        "/accounts/{address}/revenue",
        "/governance",
        "/proposals",
        "/proposals/{id}",
        "/proposals/{id}/votes",
        "/providers",
        "/providers/{address}",
        "/jobs",
        "/jobs/{id}",
    ];
    const PARAMS: &[&str] = &[
        "q",
        "kind",
        "owner",
        "min_price",
        "max_price",
        "license",
        "include_delisted",
        "encrypted",
        "sort",
        "cursor",
        "limit",
        "status",
        "colour",
        "",
    ];
    let (_chain, _db, s, server) = setup().await;
    let seed =
        std::env::var("AGORA_API_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0xa90a_f022_u64);
    println!("API fuzz seed {seed} (set AGORA_API_FUZZ_SEED to replay)");
    let mut rng = common::Rng(seed);
    let real: Vec<String> = vec![
        s.dataset.to_string(),
        s.algorithm.to_string(),
        s.proposal_id.to_string(),
        s.job_id.to_string(),
        format!("{}", s.publisher.address),
        format!("{:#x}", s.buyer.address),
        format!("{:#x}", s.provider.address).to_uppercase().replacen("0X", "0x", 1),
        format!("1:{}", s.buyer.address),
        "1000000000000000:1".into(),
    ];
    let methods = [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
        reqwest::Method::HEAD,
        reqwest::Method::OPTIONS,
    ];
    let (mut sent, mut five_xx, mut failures, mut skipped) = (0usize, 0usize, Vec::new(), Vec::new());
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut resent = 0usize;
    for i in 0..REQUESTS {
        // The path: a route with generated ids, sometimes bent out of shape.
        // The richest route, `/assets`, a third of the time.
        let route = if rng.next().is_multiple_of(3) {
            "/assets"
        } else {
            ROUTES[(rng.next() % ROUTES.len() as u64) as usize]
        };
        let well_formed = rng.next().is_multiple_of(2);
        let (id, address) = if well_formed {
            (valid_value(&mut rng, "id", &real), valid_value(&mut rng, "owner", &real))
        } else {
            (fuzz_value(&mut rng, &real), fuzz_value(&mut rng, &real))
        };
        let mut path = route.replace("{id}", &id).replace("{address}", &address);
        match if well_formed { 12 } else { rng.next() % 12 } {
            0 => path.push('/'),
            1 => path.push_str(&format!("/{}", fuzz_value(&mut rng, &real))),
            2 => path = format!("/{}{path}", fuzz_value(&mut rng, &real)),
            3 => path = path.replace('/', "//"),
            _ => {}
        }
        // The query: for a well-formed request, the route's own parameters with valid values
        // but one generated (so the handler gets as far as the database); otherwise up to six
        // parameters, known or not, repeated, malformed.
        let mut query = Vec::new();
        let own = route_params(route);
        if well_formed && !own.is_empty() {
            let bent = (rng.next() % own.len() as u64) as usize;
            for (k, name) in own.iter().enumerate() {
                if k == bent {
                    query.push(format!("{name}={}", fuzz_value(&mut rng, &real)));
                } else if rng.next().is_multiple_of(2) {
                    query.push(format!("{name}={}", valid_value(&mut rng, name, &real)));
                }
            }
        } else {
            for _ in 0..rng.next() % 7 {
                let name = PARAMS[(rng.next() % PARAMS.len() as u64) as usize];
                let value = fuzz_value(&mut rng, &real);
                query.push(match rng.next() % 10 {
                    0 => name.to_owned(),
                    1 => format!("{name}={value}={value}"),
                    2 => format!("{}={value}", fuzz_value(&mut rng, &real)),
                    _ => format!("{name}={value}"),
                });
            }
        }
        let url = if query.is_empty() && rng.next().is_multiple_of(2) {
            format!("{}{path}", server.base)
        } else {
            format!("{}{path}?{}", server.base, query.join("&"))
        };
        let method = if rng.next().is_multiple_of(8) {
            methods[(rng.next() % 6) as usize].clone()
        } else {
            reqwest::Method::GET
        };
        let mut request = server.client.request(method.clone(), &url);
        for _ in 0..rng.next() % 4 {
            let value: String =
                (0..rng.next() % 200).map(|_| (b' ' + (rng.next() % 95) as u8) as char).collect();
            let value = value.trim().to_owned();
            let name = [
                "content-type",
                "accept",
                "x-fuzz",
                "content-encoding",
                "accept-encoding",
                "cookie",
                "range",
            ][(rng.next() % 7) as usize];
            let value =
                if name == "x-fuzz" && rng.next().is_multiple_of(4) { "v".repeat(8_000) } else { value };
            request = request.header(name, value);
        }
        match rng.next() % 6 {
            0 => request = request.body(r#"{"q":"\u0000","limit":-1}"#),
            1 => {
                request =
                    request.body((0..rng.next() % 20_000).map(|_| rng.next() as u8).collect::<Vec<u8>>())
            }
            _ => {}
        }
        // A server that answers before reading a body it does not need may close the
        // connection under a client still writing it: that request is sent once more.
        let again = request.try_clone();
        let response = match request.send().await {
            Ok(response) => response,
            // A URL or header the client itself refuses to send.
            Err(err) if err.is_builder() => {
                if skipped.is_empty() {
                    println!("the client refused #{i} {url:.120}: {}", err.without_url());
                }
                skipped.push(i);
                continue;
            }
            Err(first) => match again {
                Some(again) => match again.send().await {
                    Ok(response) => {
                        resent += 1;
                        response
                    }
                    Err(err) => {
                        failures.push(format!("#{i} {method} {url:.200}: no response: {first}; then {err}"));
                        continue;
                    }
                },
                None => {
                    failures.push(format!("#{i} {method} {url:.200}: no response: {first}"));
                    continue;
                }
            },
        };
        sent += 1;
        let status = response.status();
        *statuses.entry(status.as_u16()).or_default() += 1;
        let text = response.text().await.unwrap_or_default();
        if status.is_server_error() {
            five_xx += 1;
            failures.push(format!("#{i} {method} {url:.200}: {status} {text:.200}"));
        } else if status.is_client_error() && method != reqwest::Method::HEAD {
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if !body["error"].is_string() {
                failures
                    .push(format!("#{i} {method} {url:.200}: {status} without a JSON error: {text:.200}"));
            }
        }
    }
    println!(
        "API fuzz: {sent} requests sent ({resent} sent again after a reset), {five_xx} answered 5xx, {} failures, {} not sendable; statuses {statuses:?}",
        failures.len(),
        skipped.len()
    );
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(server.ok("/health").await["status"], "ok");
    assert_eq!(ids(&server.ok("/assets").await), vec![s.dataset.to_string()]);
}
