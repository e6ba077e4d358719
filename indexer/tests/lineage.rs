//! Lineage over a database synced from a real anvil: the `derivedFrom` of an asset published
//! from a compute job's output becomes its upstream in `/assets/{id}` and its inputs'
//! downstream, compared with the indexed job; it follows the asset's current metadata version;
//! hostile `derivedFrom` values record nothing (or only their valid inputs) and never fail the
//! metadata pass; documents stored before lineage existed are derived again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use agora_contracts::tx;
use agora_indexer::{
    api::AppState,
    metadata::{FetchError, MetadataFetcher, RetryPolicy, fetch_pending},
};
use alloy::primitives::{U256, keccak256};
use common::{
    ALGORITHM_CID, Chain, DATASET_CID_V2, Db, Server, count, publish_params, scenario, small_ranges,
    sync_to_head,
};
use serde_json::{Value, json};

/// Metadata documents by CID; anything else fails like a missing IPFS block.
struct Documents(HashMap<String, String>);

impl MetadataFetcher for Documents {
    async fn fetch(&self, cid: &str) -> Result<Vec<u8>, FetchError> {
        self.0
            .get(cid)
            .map(|doc| doc.as_bytes().to_vec())
            .ok_or_else(|| FetchError::Request { cid: cid.to_owned(), message: "not found".into() })
    }
}

/// A metadata document whose `derivedFrom` is `from`.
fn derived(name: &str, from: Value) -> String {
    json!({ "name": name, "content": { "cid": "bafkreicontent", "size": 1 }, "derivedFrom": from })
        .to_string()
}

/// An upstream or downstream entry.
fn link(asset: impl ToString, role: Option<&str>, job: Option<U256>, matches: bool) -> Value {
    json!({ "assetId": asset.to_string(), "role": role, "jobId": job.map(|j| j.to_string()), "matchesJob": matches })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_assets_link_up_and_downstream_and_hostile_lineage_records_nothing() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let s = scenario(&chain).await;
    let chain_id = chain.deployment.chain_id;
    let (dataset, algorithm) = (s.dataset, s.algorithm);
    let (posted, ruled) = (format!("0x{}", "07".repeat(32)), format!("0x{}", "09".repeat(32)));
    let input = |id: U256, role: &str| json!({ "assetId": id.to_string(), "role": role });
    let over = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
    // Assets 3 to 9, in this order; 9 later moves to a document without lineage.
    let documents = [
        // The finalized job's output, as `agora asset publish --from-job` records it.
        (
            "bafkreichild",
            derived(
                "Embeddings",
                json!({
                    "jobId": s.finalized_job.to_string(), "chainId": chain_id, "outputCid": "bafyout", "outputHash": posted,
                    "inputs": [input(dataset, "dataset"), input(algorithm, "algorithm")], "upstreamShareBps": 1000,
                }),
            ),
        ),
        // Claims the algorithm was the job's dataset: not what the job says.
        (
            "bafkreispoof",
            derived(
                "Spoof",
                json!({
                    "jobId": s.finalized_job.to_string(), "chainId": chain_id, "outputHash": posted,
                    "inputs": [input(algorithm, "dataset")],
                }),
            ),
        ),
        // The job the DAO ruled against.
        (
            "bafkreiruled",
            derived(
                "Ruled",
                json!({
                    "jobId": s.job_id.to_string(), "chainId": chain_id, "outputHash": ruled,
                    "inputs": [input(dataset, "dataset")],
                }),
            ),
        ),
        // Hostile values: only the inputs whose ids are uint256s are kept.
        (
            "bafkreihostile",
            derived(
                "Hostile",
                json!({
                    "jobId": { "drop": "table" }, "chainId": chain_id, "outputHash": 5,
                    "inputs": [{ "assetId": "-1" }, { "assetId": "1e3" }, { "assetId": over }, { "assetId": "9".repeat(79) },
                               { "assetId": dataset.to_string(), "role": "<script>alert(1)</script>" }, "junk", 7,
                               { "assetId": null }, { "assetId": dataset.to_string(), "role": "dataset" }],
                }),
            ),
        ),
        // Another chain's job: no link here.
        (
            "bafkreiotherchain",
            derived(
                "Elsewhere",
                json!({
                    "jobId": "1", "chainId": chain_id + 1, "inputs": [input(dataset, "dataset")],
                }),
            ),
        ),
        // Names itself: not its own upstream.
        (
            "bafkreiself",
            derived(
                "Self",
                json!({
                    "jobId": "1", "chainId": chain_id, "inputs": [input(U256::from(8), "dataset"), input(algorithm, "algorithm")],
                }),
            ),
        ),
        (
            "bafkreimoving",
            derived(
                "Moving",
                json!({
                    "jobId": s.finalized_job.to_string(), "chainId": chain_id, "outputHash": posted,
                    "inputs": [input(dataset, "dataset")],
                }),
            ),
        ),
    ];
    // Not lineages at all, yet stored documents.
    let junk = [
        ("bafkreinotanobject", derived("Not an object", json!("derived from everything"))),
        ("bafkreiinputsnotalist", derived("Inputs", json!({ "chainId": chain_id, "inputs": { "0": "1" } }))),
        ("bafkreichainzero", derived("Zero", json!({ "chainId": 0, "inputs": [input(dataset, "dataset")] }))),
        ("bafkreiplain", json!({ "name": "Plain" }).to_string()),
    ];
    let publisher = chain.actor(1);
    let as_publisher = chain.as_actor(&publisher);
    let mut ids = Vec::new();
    for (cid, _) in documents.iter().chain(&junk[..3]) {
        ids.push(
            as_publisher.publish(publish_params(publisher.address, 0, 0, cid, None)).await.unwrap().asset_id,
        );
    }
    assert_eq!(ids[0], U256::from(3));
    let [child, spoof, ruled_child, hostile, _other, own, moving] = ids[..7].try_into().unwrap();
    // A hundred more assets share the child's document: the downstream list is bounded.
    for _ in 0..101 {
        as_publisher.publish(publish_params(publisher.address, 0, 0, "bafkreichild", None)).await.unwrap();
    }
    sync_to_head(&chain, &db.pool, small_ranges(8)).await;
    let scenario_docs = [DATASET_CID_V2, ALGORITHM_CID].map(|cid| (cid, json!({ "name": cid }).to_string()));
    let docs = Documents(
        documents
            .iter()
            .chain(&junk)
            .chain(&scenario_docs)
            .map(|(cid, doc)| ((*cid).to_owned(), doc.clone()))
            .collect(),
    );
    let report = fetch_pending(&db.pool, &docs, &RetryPolicy::default(), 100).await.unwrap();
    assert_eq!((report.fetched, report.failed), (documents.len() + 3 + 2, 0), "{report:?}");

    let state = AppState {
        pool: db.pool.clone(),
        chain_id,
        metrics: None,
        max_lag: 1_000,
        contracts: None,
        chain: None,
    };
    let server = Server::start(state).await;
    let detail = |id: U256| {
        let server = &server;
        async move { server.ok(&format!("/assets/{id}")).await }
    };
    let job = Some(s.finalized_job);
    let upstream = [link(dataset, Some("dataset"), job, true), link(algorithm, Some("algorithm"), job, true)];
    let asset = detail(child).await;
    assert_eq!(asset["upstream"], json!(upstream), "{}", asset["upstream"]);
    assert_eq!(
        (&asset["upstreamCount"], &asset["downstream"], &asset["downstreamCount"]),
        (&2.into(), &json!([]), &0.into())
    );
    assert_eq!(detail(spoof).await["upstream"], json!([link(algorithm, Some("dataset"), job, false)]));
    assert_eq!(
        detail(ruled_child).await["upstream"],
        json!([link(dataset, Some("dataset"), Some(s.job_id), false)])
    );
    let hostile_asset = detail(hostile).await;
    assert_eq!(hostile_asset["metadataStatus"], "fetched");
    assert_eq!(
        hostile_asset["upstream"],
        json!([link(dataset, None, None, false), link(dataset, Some("dataset"), None, false)])
    );
    for id in [ids[4], ids[7], ids[8], ids[9]] {
        let asset = detail(id).await;
        assert_eq!(
            (&asset["metadataStatus"], &asset["upstream"]),
            (&"fetched".into(), &json!([])),
            "{asset}"
        );
    }
    let own_asset = detail(own).await;
    assert_eq!(
        own_asset["upstream"],
        json!([link(algorithm, Some("algorithm"), Some(U256::from(1)), false)])
    );
    assert_eq!((&own_asset["upstreamCount"], &own_asset["downstream"]), (&1.into(), &json!([])));

    // Downstream: by asset id, the copies of the child's document included, 100 at most.
    let dataset_detail = detail(dataset).await;
    let down = dataset_detail["downstream"].as_array().unwrap();
    assert_eq!(dataset_detail["downstreamCount"], 5 + 101, "{}", dataset_detail["downstreamCount"]);
    assert_eq!(down.len(), 100);
    assert_eq!(
        down[..6],
        [
            link(child, Some("dataset"), job, true),
            link(ruled_child, Some("dataset"), Some(s.job_id), false),
            link(hostile, None, None, false),
            link(hostile, Some("dataset"), None, false),
            link(moving, Some("dataset"), job, true),
            link(ids[9] + U256::from(1), Some("dataset"), job, true),
        ]
    );
    let algorithm_detail = detail(algorithm).await;
    let down = algorithm_detail["downstream"].as_array().unwrap();
    assert_eq!(
        down[..3],
        [
            link(child, Some("algorithm"), job, true),
            link(spoof, Some("dataset"), job, false),
            link(own, Some("algorithm"), Some(U256::from(1)), false)
        ]
    );

    // A new metadata version without lineage: the links go with the old one.
    tx::send(
        "updateMetadata",
        as_publisher.registry.updateMetadata(moving, "bafkreiplain".into(), keccak256("plain")),
    )
    .await
    .unwrap();
    sync_to_head(&chain, &db.pool, small_ranges(8)).await;
    let report = fetch_pending(&db.pool, &docs, &RetryPolicy::default(), 100).await.unwrap();
    assert_eq!((report.fetched, report.failed), (1, 0));
    assert_eq!(
        (&detail(moving).await["upstream"], &detail(moving).await["upstreamCount"]),
        (&json!([]), &0.into())
    );
    let down = detail(dataset).await["downstream"].clone();
    assert!(!down.as_array().unwrap().iter().any(|l| l["assetId"] == moving.to_string()), "{down}");

    // Documents stored before lineage was derived get it on the next pass, from the stored copy.
    let links = count(&db.pool, "SELECT count(*) FROM asset_lineage").await;
    sqlx::query("DELETE FROM asset_lineage").execute(&db.pool).await.unwrap();
    sqlx::query("UPDATE asset_metadata SET derived_version = 1").execute(&db.pool).await.unwrap();
    let stored = count(&db.pool, "SELECT count(*) FROM asset_metadata WHERE status = 'ok'").await;
    let report = fetch_pending(&db.pool, &docs, &RetryPolicy::default(), 100).await.unwrap();
    assert_eq!((report.rederived, report.fetched, report.failed), (usize::try_from(stored).unwrap(), 0, 0));
    assert_eq!(count(&db.pool, "SELECT count(*) FROM asset_lineage").await, links);
    assert_eq!(detail(child).await["upstream"], json!(upstream));

    // The OpenAPI document describes both lists.
    let openapi = server.ok("/openapi.json").await;
    let detail = common::response_schema(&openapi, "/assets/{id}");
    let properties = &detail["properties"];
    for field in ["upstream", "upstreamCount", "downstream", "downstreamCount"] {
        assert!(properties[field].is_object(), "/assets/{{id}} lacks {field}");
    }
}
