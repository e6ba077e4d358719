//! The provider as a pinning service (the IPFS Pinning Service API at `/pinning`) against a real
//! anvil and Kubo. Kubo's own client (`ipfs pin remote`, through agora-ipfs) registers the
//! service, asks it to pin and pages through its requests; by hand, every refusal: no token, a
//! wrong one, another token's request, malformed, hostile and oversized bodies and queries,
//! content over the size limit, a token over its quota. Concurrent requests for one CID each
//! get their own request, and the CID stays pinned until the last one is removed.

mod common;

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use agora_provider::{
    pinning::{Pinning, Settings, spawn_workers},
    storage::sha256,
};
use common::{Stack, expect_refusal};
use eyre::{Result, ensure, eyre};
use serde_json::{Value, json};

const TOKEN: &str = "publisher-token-1";
const OTHER: &str = "publisher-token-2";
const QUOTA: u64 = 80;

/// Polls `GET /pinning/pins/{id}` until the request is no longer queued or pinning.
async fn settled(stack: &Stack, endpoint: &str, id: &str) -> Result<Value> {
    for _ in 0..300 {
        let status: Value = stack
            .http
            .get(format!("{endpoint}/pins/{id}"))
            .bearer_auth(TOKEN)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if status["status"] != "queued" && status["status"] != "pinning" {
            return Ok(status);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(eyre!("pin request {id} never settled"))
}

async fn post_pin(stack: &Stack, endpoint: &str, token: &str, pin: Value) -> Result<reqwest::Response> {
    Ok(stack.http.post(format!("{endpoint}/pins")).bearer_auth(token).json(&pin).send().await?)
}

#[tokio::test]
async fn kubo_pins_through_the_provider_and_bad_requests_are_refused() -> Result<()> {
    let stack = Stack::start().await?;
    let provider = stack.serve().await?;
    let endpoint = format!("{}/pinning", provider.url);

    // Off until tokens are configured.
    let off = stack.http.get(format!("{endpoint}/pins")).bearer_auth(TOKEN).send().await?;
    expect_refusal(off, 401, "runs no pinning service").await?;

    let pinning = Pinning::new(Settings {
        tokens: [sha256(TOKEN.as_bytes()), sha256(OTHER.as_bytes())].into(),
        max_pins_per_token: QUOTA,
        workers: 2,
        pin_timeout: Duration::from_secs(10),
        max_asset_bytes: 1 << 20,
    });
    provider.state.enable_pinning(Arc::clone(&pinning));
    let workers = spawn_workers(provider.state.clone(), pinning).await?;

    // Kubo registers the service (twice: the second replaces the first) and asks it to pin
    // content it no longer pins itself.
    stack.storage.set_remote_service("agora", &endpoint, TOKEN).await?;
    stack.storage.set_remote_service("agora", &endpoint, TOKEN).await?;
    let services = stack.storage.remote_services().await?;
    ensure!(services.len() == 1 && services[0].name == "agora", "{services:?}");
    let added = stack.storage.add_bytes(b"kept by the provider".to_vec()).await?;
    stack.storage.pin_rm(&added.cid).await?;
    let asked = stack.storage.remote_pin_add("agora", &added.cid, "asset-1-content").await?;
    ensure!(asked.cid == added.cid && asked.name == "asset-1-content", "{asked:?}");
    let mut pinned = false;
    for _ in 0..300 {
        let pins = stack.storage.remote_pins("agora", &[&added.cid]).await?;
        if pins.iter().any(|pin| pin.status == "pinned") {
            pinned = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(pinned, "the service never reported {} pinned", added.cid);
    ensure!(stack.storage.is_pinned(&added.cid).await?, "the provider's Kubo pins it");

    // 24 more: Kubo pages through them ten at a time by `created`, and misses none.
    let mut cids = BTreeSet::from([added.cid.clone()]);
    for i in 0..24 {
        let cid = stack.storage.add_bytes(format!("pin {i}").into_bytes()).await?.cid;
        stack.storage.remote_pin_add("agora", &cid, &format!("pin-{i}")).await?;
        cids.insert(cid);
    }
    let listed: BTreeSet<String> =
        stack.storage.remote_pins("agora", &[]).await?.into_iter().map(|pin| pin.cid).collect();
    ensure!(listed == cids, "listed {} of {}", listed.len(), cids.len());

    // Sixteen requests for one CID at once: sixteen requests, each with its own id and time.
    let shared = stack.storage.add_bytes(b"shared by many requests".to_vec()).await?.cid;
    let posts = (0..16)
        .map(|i| post_pin(&stack, &endpoint, TOKEN, json!({ "cid": shared, "name": format!("same-{i}") })));
    let mut ids = BTreeSet::new();
    let mut created = BTreeSet::new();
    for response in futures::future::join_all(posts).await {
        let response = response?;
        ensure!(response.status() == 202, "{}", response.status());
        let status: Value = response.json().await?;
        ensure!(status["delegates"].as_array().is_some(), "{status}");
        ids.insert(status["requestid"].as_str().unwrap_or_default().to_owned());
        created.insert(status["created"].as_str().unwrap_or_default().to_owned());
    }
    ensure!(ids.len() == 16 && created.len() == 16, "{ids:?} {created:?}");
    for id in &ids {
        let status = settled(&stack, &endpoint, id).await?;
        ensure!(status["status"] == "pinned", "{status}");
    }
    // The CID stays pinned until its last request goes.
    let ids: Vec<String> = ids.into_iter().collect();
    for (i, id) in ids.iter().enumerate() {
        let gone = stack.http.delete(format!("{endpoint}/pins/{id}")).bearer_auth(TOKEN).send().await?;
        ensure!(gone.status() == 202, "{}", gone.status());
        let last = i + 1 == ids.len();
        ensure!(stack.storage.is_pinned(&shared).await? != last, "after removing {} of 16", i + 1);
    }
    let again = stack.http.delete(format!("{endpoint}/pins/{}", ids[0])).bearer_auth(TOKEN).send().await?;
    expect_refusal(again, 404, "NOT_FOUND").await?;

    // Replacing a request: a new id, the old one gone, the new CID pinned.
    let first =
        post_pin(&stack, &endpoint, TOKEN, json!({ "cid": added.cid })).await?.json::<Value>().await?;
    let first_id = first["requestid"].as_str().unwrap_or_default().to_owned();
    let newer = stack.storage.add_bytes(b"a newer version".to_vec()).await?.cid;
    let replaced: Value = stack
        .http
        .post(format!("{endpoint}/pins/{first_id}"))
        .bearer_auth(TOKEN)
        .json(&json!({ "cid": newer, "name": "v2", "meta": { "asset": "1" } }))
        .send()
        .await?
        .json()
        .await?;
    let new_id = replaced["requestid"].as_str().unwrap_or_default().to_owned();
    ensure!(new_id != first_id && replaced["pin"]["meta"]["asset"] == "1", "{replaced}");
    let old = stack.http.get(format!("{endpoint}/pins/{first_id}")).bearer_auth(TOKEN).send().await?;
    expect_refusal(old, 404, "NOT_FOUND").await?;
    ensure!(settled(&stack, &endpoint, &new_id).await?["status"] == "pinned");
    let by_meta: Value = stack
        .http
        .get(format!("{endpoint}/pins?meta=%7B%22asset%22%3A%221%22%7D&status=pinned"))
        .bearer_auth(TOKEN)
        .send()
        .await?
        .json()
        .await?;
    ensure!(by_meta["count"] == 1 && by_meta["results"][0]["requestid"] == new_id.as_str(), "{by_meta}");

    // Content over max_asset_bytes fails, and says why.
    let large = stack.storage.add_bytes(vec![7; 2 << 20]).await?.cid;
    let big: Value = post_pin(&stack, &endpoint, TOKEN, json!({ "cid": large })).await?.json().await?;
    let big = settled(&stack, &endpoint, big["requestid"].as_str().unwrap_or_default()).await?;
    ensure!(big["status"] == "failed", "{big}");
    ensure!(big["info"]["status_details"].as_str().is_some_and(|d| d.contains("max_asset_bytes")), "{big}");

    // Another token sees none of these, and cannot remove them.
    let theirs: Value =
        stack.http.get(format!("{endpoint}/pins")).bearer_auth(OTHER).send().await?.json().await?;
    ensure!(theirs["count"] == 0, "{theirs}");
    let steal = stack.http.delete(format!("{endpoint}/pins/{new_id}")).bearer_auth(OTHER).send().await?;
    expect_refusal(steal, 404, "NOT_FOUND").await?;

    // Refusals, each in the API's shape.
    let pins = format!("{endpoint}/pins");
    let none = stack.http.get(&pins).send().await?;
    expect_refusal(none, 401, r#""reason":"UNAUTHORIZED""#).await?;
    let wrong = stack.http.get(&pins).bearer_auth("guess").send().await?;
    expect_refusal(wrong, 401, "not accepted").await?;
    let basic = stack.http.get(&pins).basic_auth("user", Some(TOKEN)).send().await?;
    expect_refusal(basic, 401, "Bearer").await?;
    let bad_bodies = [
        (json!({ "cid": "not-a-cid" }), "is not a CID"),
        (json!({ "cid": "../../etc/passwd" }), "is not a CID"),
        (json!({ "cid": newer, "name": "n".repeat(256) }), "longer than 255"),
        (json!({ "cid": newer, "origins": vec!["/ip4/127.0.0.1/tcp/1"; 21] }), "more than 20 origins"),
        (json!({ "cid": newer, "origins": ["http://evil"] }), "not a multiaddr"),
        (json!({ "cid": newer, "meta": { "k": 5 } }), "not a Pin object"),
        (json!({ "cid": newer, "extra": true }), "not a Pin object"),
        (json!(["cid"]), "BAD_REQUEST"),
        (json!(null), "not a Pin object"),
    ];
    for (body, message) in bad_bodies {
        expect_refusal(post_pin(&stack, &endpoint, TOKEN, body).await?, 400, message).await?;
    }
    let garbage = stack.http.post(&pins).bearer_auth(TOKEN).body("{\"cid\":").send().await?;
    expect_refusal(garbage, 400, "BAD_REQUEST").await?;
    let huge = stack.http.post(&pins).bearer_auth(TOKEN).body(vec![b' '; 1 << 20]).send().await?;
    ensure!(huge.status() == 413, "{}", huge.status());
    for query in ["limit=0", "limit=5000", "status=lost", "before=soon", "cid=x", "meta=%5B%5D", "sort=asc"] {
        let refused = stack.http.get(format!("{pins}?{query}")).bearer_auth(TOKEN).send().await?;
        expect_refusal(refused, 400, "BAD_REQUEST").await?;
    }
    let long_id = stack.http.get(format!("{pins}/{}", "f".repeat(5000))).bearer_auth(TOKEN).send().await?;
    expect_refusal(long_id, 404, "NOT_FOUND").await?;
    let put = stack.http.put(&pins).bearer_auth(TOKEN).send().await?;
    ensure!(put.status() == 405, "{}", put.status());

    // A token holds at most its quota of requests.
    for _ in 0..QUOTA {
        let response = post_pin(&stack, &endpoint, OTHER, json!({ "cid": newer })).await?;
        ensure!(response.status() == 202, "{}", response.status());
    }
    let over = post_pin(&stack, &endpoint, OTHER, json!({ "cid": newer })).await?;
    expect_refusal(over, 429, "PIN_LIMIT_REACHED").await?;

    // The provider still serves.
    let health = stack.http.get(format!("{}/health", provider.url)).send().await?;
    ensure!(health.status() == 200, "{}", health.status());
    for worker in workers {
        worker.abort();
    }
    provider.stop().await
}
