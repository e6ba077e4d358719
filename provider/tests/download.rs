//! `POST /v1/download` against real anvil + Kubo: a buyer buys and consumes on chain, the
//! provider checks the order and streams the content; every refusal has its status and message.

mod common;

use std::time::Duration;

use agora_provider::Limits;
use alloy::primitives::{Bytes, U256};
use common::{BUYER, OTHER, Stack, content, expect_refusal, now, public_metadata};
use eyre::{Result, ensure};

#[tokio::test]
async fn a_single_use_order_downloads_once_even_across_a_provider_restart() -> Result<()> {
    let stack = Stack::start().await?;
    let data = content(2 * 1024 * 1024 + 5, 9);
    let (asset, added) = stack.publish_public(&data, 0).await?;
    let order = stack.buy_and_consume(BUYER, asset, stack.provider_address()).await?;
    let provider = stack.serve().await?;

    let response = stack.download(&provider, &stack.request(BUYER, asset, order, 1)?, None).await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(data.len() as u64));
    assert_eq!(response.headers()["accept-ranges"], "bytes");
    assert_eq!(response.headers()["x-content-sha256"], added.sha256.to_string().as_str());
    let body = response.bytes().await?;
    ensure!(
        agora_provider::storage::sha256(&body) == added.sha256,
        "downloaded bytes do not match the digest"
    );

    let again = stack.download(&provider, &stack.request(BUYER, asset, order, 2)?, None).await?;
    expect_refusal(again, 410, "already served").await?;

    // A restarted provider remembers both the served order and the used nonces.
    provider.stop().await?;
    let provider = stack.serve().await?;
    let after_restart = stack.download(&provider, &stack.request(BUYER, asset, order, 3)?, None).await?;
    expect_refusal(after_restart, 410, "already served").await?;
    let replay = stack.download(&provider, &stack.request(BUYER, asset, order, 1)?, None).await?;
    expect_refusal(replay, 409, "nonce already used").await?;
    provider.stop().await
}

#[tokio::test]
async fn every_refusal_has_its_status_and_message() -> Result<()> {
    let stack = Stack::start().await?;
    let me = stack.provider_address();
    let data = content(300_000, 4);
    let (asset, _) = stack.publish_public(&data, 3600).await?;
    let order = stack.buy_and_consume(BUYER, asset, me).await?;
    let provider = stack.serve().await?;
    let url = format!("{}/v1/download", provider.url);

    // A page on another origin (the hub) may ask: the preflight allows the JSON body and a Range,
    // and the answer lets the page read what a verified, resumable download needs.
    let http = reqwest::Client::new();
    let preflight = http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://hub.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,range")
        .send()
        .await?;
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let allowed =
        |name: &str| preflight.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert_eq!(allowed("access-control-allow-origin"), "*");
    assert!(allowed("access-control-allow-headers").contains("range"), "{:?}", preflight.headers());
    let signed = stack.request(BUYER, asset, order, 9)?;
    let answer = http.post(&url).header("origin", "http://hub.example").json(&signed).send().await?;
    let exposed = answer.headers().get("access-control-expose-headers").and_then(|v| v.to_str().ok());
    assert!(
        exposed.is_some_and(|v| v.contains("x-content-sha256") && v.contains("content-range")),
        "{exposed:?}"
    );
    assert_eq!(answer.bytes().await?.len(), data.len());

    // A timed order serves repeatedly; the same signed request does not.
    let signed = stack.request(BUYER, asset, order, 10)?;
    assert_eq!(stack.download(&provider, &signed, None).await?.bytes().await?.len(), data.len());
    assert_eq!(
        stack.download(&provider, &stack.request(BUYER, asset, order, 11)?, None).await?.status(),
        200
    );
    expect_refusal(stack.download(&provider, &signed, None).await?, 409, "nonce already used").await?;

    // Signatures: malformed, forged (another key), for another chain, for another provider.
    let mut malformed = stack.request(BUYER, asset, order, 12)?;
    malformed.signature = Bytes::from(vec![1u8; 10]);
    expect_refusal(stack.download(&provider, &malformed, None).await?, 401, "invalid signature").await?;
    // OTHER signs a request for BUYER's order.
    let forged = stack.request(OTHER, asset, order, 13)?;
    expect_refusal(stack.download(&provider, &forged, None).await?, 403, "does not belong to the signer")
        .await?;
    let buyer = stack.chain.actor(BUYER)?.signer;
    let message = stack.request(BUYER, asset, order, 14)?.message();
    let other_chain = agora_provider::access::domain(1, me);
    let wrong_chain = agora_provider::access::SignedRequest::sign(&message, &other_chain, &buyer)?;
    expect_refusal(
        stack.download(&provider, &wrong_chain, None).await?,
        403,
        "does not belong to the signer",
    )
    .await?;
    let mut expired_request = stack.request(BUYER, asset, order, 15)?;
    expired_request.expiry = now() - 10;
    let domain = agora_provider::access::domain(stack.chain.deployment.chain_id, me);
    let expired_request =
        agora_provider::access::SignedRequest::sign(&expired_request.message(), &domain, &buyer)?;
    expect_refusal(stack.download(&provider, &expired_request, None).await?, 401, "request expired").await?;
    let mut far = stack.request(BUYER, asset, order, 27)?.message();
    far.expiry = now() + 2 * agora_provider::access::MAX_REQUEST_LIFETIME;
    let far = agora_provider::access::SignedRequest::sign(&far, &domain, &buyer)?;
    expect_refusal(stack.download(&provider, &far, None).await?, 400, "expiry is more than").await?;

    // Orders: of another consumer, bound to another provider, unknown; unknown asset.
    let others_order = stack.buy_and_consume(OTHER, asset, me).await?;
    expect_refusal(
        stack.download(&provider, &stack.request(BUYER, asset, others_order, 16)?, None).await?,
        403,
        "does not belong to the signer",
    )
    .await?;
    let elsewhere = stack.buy_and_consume(BUYER, asset, stack.chain.actor(OTHER)?.address).await?;
    expect_refusal(
        stack.download(&provider, &stack.request(BUYER, asset, elsewhere, 17)?, None).await?,
        403,
        "bound to another provider",
    )
    .await?;
    expect_refusal(
        stack.download(&provider, &stack.request(BUYER, asset, U256::from(999), 18)?, None).await?,
        404,
        "unknown access order",
    )
    .await?;
    expect_refusal(
        stack.download(&provider, &stack.request(BUYER, U256::from(777), order, 19)?, None).await?,
        404,
        "unknown asset 777",
    )
    .await?;

    // Compute-only assets are never served.
    let added = stack.storage.add_bytes(b"weights".to_vec()).await?;
    let (compute_only, _) = stack.publish(added.sha256, &public_metadata(&added), true, 0).await?;
    let compute_order = stack.buy_and_consume(BUYER, compute_only, me).await?;
    expect_refusal(
        stack.download(&provider, &stack.request(BUYER, compute_only, compute_order, 20)?, None).await?,
        403,
        "compute-only",
    )
    .await?;

    // Content that IPFS does not have within the deadline.
    let mut missing = public_metadata(&added);
    missing.content.cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy".into();
    let (unavailable, _) = stack.publish(added.sha256, &missing, false, 0).await?;
    let unavailable_order = stack.buy_and_consume(BUYER, unavailable, me).await?;
    expect_refusal(
        stack.download(&provider, &stack.request(BUYER, unavailable, unavailable_order, 21)?, None).await?,
        504,
        "not available from IPFS",
    )
    .await?;

    // Bodies: malformed JSON, missing fields, oversized.
    let http = &stack.http;
    let bad_json =
        http.post(&url).header("content-type", "application/json").body("{not json").send().await?;
    expect_refusal(bad_json, 400, "error").await?;
    let missing_fields =
        http.post(&url).header("content-type", "application/json").body(r#"{"assetId":"1"}"#).send().await?;
    expect_refusal(missing_fields, 422, "missing field").await?;
    let huge = format!(r#"{{"assetId":"1","pad":"{}"}}"#, "x".repeat(64 * 1024));
    let oversized = http.post(&url).header("content-type", "application/json").body(huge).send().await?;
    expect_refusal(oversized, 413, "").await?;

    // Ranges: a valid one resumes; tampered ones are refused precisely.
    let ranged =
        stack.download(&provider, &stack.request(BUYER, asset, order, 22)?, Some("bytes=1000-1999")).await?;
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.headers()["content-range"], format!("bytes 1000-1999/{}", data.len()).as_str());
    assert_eq!(&ranged.bytes().await?[..], &data[1000..2000]);
    let tail =
        stack.download(&provider, &stack.request(BUYER, asset, order, 23)?, Some("bytes=-100")).await?;
    assert_eq!(&tail.bytes().await?[..], &data[data.len() - 100..]);
    let beyond =
        stack.download(&provider, &stack.request(BUYER, asset, order, 24)?, Some("bytes=999999-")).await?;
    assert_eq!(beyond.headers()["content-range"], format!("bytes */{}", data.len()).as_str());
    expect_refusal(beyond, 416, "not satisfiable").await?;
    let garbage =
        stack.download(&provider, &stack.request(BUYER, asset, order, 25)?, Some("bytes=abc")).await?;
    expect_refusal(garbage, 400, "malformed Range").await?;
    let inverted =
        stack.download(&provider, &stack.request(BUYER, asset, order, 26)?, Some("bytes=50-10")).await?;
    expect_refusal(inverted, 400, "malformed Range").await?;

    // Info, health and metrics.
    let info: serde_json::Value = http.get(format!("{}/v1/info", provider.url)).send().await?.json().await?;
    assert_eq!(info["provider"].as_str().map(str::to_lowercase), Some(me.to_string().to_lowercase()));
    assert_eq!(info["chainId"], stack.chain.deployment.chain_id);
    let health: serde_json::Value = http.get(format!("{}/health", provider.url)).send().await?.json().await?;
    assert_eq!(health["ipfs"], true);
    let metrics = http.get(format!("{}/metrics", provider.url)).send().await?.text().await?;
    ensure!(metrics.contains("agora_provider_refusals_total"), "{metrics}");
    ensure!(!metrics.contains("agora_provider_downloads_completed_total 0\n"), "{metrics}");
    provider.stop().await
}

#[tokio::test]
async fn a_timed_order_expires() -> Result<()> {
    let stack = Stack::start().await?;
    let (asset, _) = stack.publish_public(b"short-lived", 2).await?;
    let order = stack.buy_and_consume(BUYER, asset, stack.provider_address()).await?;
    let provider = stack.serve().await?;
    assert_eq!(stack.download(&provider, &stack.request(BUYER, asset, order, 1)?, None).await?.status(), 200);
    let token = stack.chain.agora.access_token(asset).await?;
    let orders = stack.chain.agora.orders_for_provider(stack.provider_address(), 0).await?;
    let expires_at = orders.iter().find(|o| o.access_token == *token.address()).map_or(0, |o| o.expires_at);
    while now() <= expires_at {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    expect_refusal(
        stack.download(&provider, &stack.request(BUYER, asset, order, 2)?, None).await?,
        410,
        "expired",
    )
    .await?;
    provider.stop().await
}

#[tokio::test]
async fn downloads_beyond_the_limit_get_503_and_others_are_served_after() -> Result<()> {
    let stack = Stack::start().await?;
    let data = content(32 * 1024 * 1024, 5);
    let (asset, _) = stack.publish_public(&data, 3600).await?;
    let order = stack.buy_and_consume(BUYER, asset, stack.provider_address()).await?;
    let limits = Limits { max_concurrent_downloads: 1, ..Limits::default() };
    let provider = stack.serve_with(limits).await?;

    // The first download holds the only slot while its body is not read.
    let first = stack.download(&provider, &stack.request(BUYER, asset, order, 1)?, None).await?;
    assert_eq!(first.status(), 200);
    let busy = stack.download(&provider, &stack.request(BUYER, asset, order, 2)?, None).await?;
    assert_eq!(busy.headers()["retry-after"], "1");
    expect_refusal(busy, 503, "busy").await?;
    assert_eq!(first.bytes().await?.len(), data.len());
    // Released once the first finished.
    let mut served = false;
    for nonce in 3..50 {
        let next = stack.download(&provider, &stack.request(BUYER, asset, order, nonce)?, None).await?;
        if next.status() == 200 {
            assert_eq!(next.bytes().await?.len(), data.len());
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ensure!(served, "the slot was never released");
    provider.stop().await
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_and_frees_its_slot() -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let stack = Stack::start().await?;
    let data = content(64 * 1024 * 1024, 6);
    let (asset, _) = stack.publish_public(&data, 3600).await?;
    let order = stack.buy_and_consume(BUYER, asset, stack.provider_address()).await?;
    let limits =
        Limits { max_concurrent_downloads: 1, write_stall: Duration::from_millis(500), ..Limits::default() };
    let provider = stack.serve_with(limits).await?;

    // A raw client sends its request, reads the headers, then stops reading.
    let body = serde_json::to_vec(&stack.request(BUYER, asset, order, 1)?)?;
    let host = provider.url.trim_start_matches("http://");
    let mut slow = tokio::net::TcpStream::connect(host).await?;
    let head = format!(
        "POST /v1/download HTTP/1.1\r\nHost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await?;
    slow.write_all(&body).await?;
    let mut first = [0u8; 12];
    slow.read_exact(&mut first).await?;
    assert_eq!(&first, b"HTTP/1.1 200");

    // Its slot frees once the provider gives up on it.
    let started = std::time::Instant::now();
    let mut served = false;
    for nonce in 2..200 {
        let next = stack.download(&provider, &stack.request(BUYER, asset, order, nonce)?, None).await?;
        if next.status() == 200 {
            assert_eq!(next.bytes().await?.len(), data.len());
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(served, "the stalled client kept its slot for {:?}", started.elapsed());
    drop(slow);
    provider.stop().await
}

#[tokio::test]
async fn an_interrupted_single_use_download_resumes_with_a_range_and_then_counts_as_served() -> Result<()> {
    use futures::StreamExt;

    let stack = Stack::start().await?;
    let data = content(16 * 1024 * 1024, 13);
    let (asset, added) = stack.publish_public(&data, 0).await?;
    let order = stack.buy_and_consume(BUYER, asset, stack.provider_address()).await?;
    let provider = stack.serve().await?;

    // The first attempt breaks off after a few MiB.
    let response = stack.download(&provider, &stack.request(BUYER, asset, order, 1)?, None).await?;
    let mut body = response.bytes_stream();
    let mut first = Vec::new();
    while first.len() < 3 * 1024 * 1024 {
        first.extend_from_slice(&body.next().await.ok_or_else(|| eyre::eyre!("ended early"))??);
    }
    drop(body);

    // The rest, with a fresh signed request and a Range (retried while the provider notices
    // the dropped connection and frees the order).
    let range = format!("bytes={}-", first.len());
    let mut rest = None;
    for nonce in 2..100 {
        let response =
            stack.download(&provider, &stack.request(BUYER, asset, order, nonce)?, Some(&range)).await?;
        if response.status() == 206 {
            rest = Some(response.bytes().await?);
            break;
        }
        assert_eq!(response.status(), 409, "only an in-progress download may delay the resume");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rest = rest.ok_or_else(|| eyre::eyre!("the download never resumed"))?;
    first.extend_from_slice(&rest);
    ensure!(agora_provider::storage::sha256(&first) == added.sha256, "resumed download differs");

    let after = stack.download(&provider, &stack.request(BUYER, asset, order, 200)?, None).await?;
    expect_refusal(after, 410, "already served").await?;
    provider.stop().await
}

#[tokio::test]
async fn the_configured_provider_starts_from_a_manifest_and_refuses_a_wrong_chain() -> Result<()> {
    use agora_provider::{config::Config, server::RunError};

    let stack = Stack::start().await?;
    let dir = tempfile::tempdir()?;
    let manifest = dir.path().join("deployment.json");
    stack.chain.deployment.write(&manifest)?;
    let config = Config {
        rpc_url: stack.chain.anvil.endpoint(),
        deployment: manifest.clone(),
        ipfs_api: stack.kubo.api_url(),
        database: dir.path().join("provider.sqlite"),
        ..Config::default()
    };
    let state = agora_provider::server::build_state(&config, stack.provider_key.clone()).await?;
    assert_eq!(state.address(), stack.provider_address());

    let mut other = stack.chain.deployment.clone();
    other.chain_id = 1;
    other.write(&manifest)?;
    match agora_provider::server::build_state(&config, stack.provider_key.clone()).await {
        Err(RunError::WrongChain { node, manifest }) => {
            assert_eq!((node, manifest), (stack.chain.deployment.chain_id, 1));
            Ok(())
        }
        other => Err(eyre::eyre!("expected a wrong-chain error, got {:?}", other.map(|_| ()))),
    }
}

/// Reads what the server sends until it closes the connection; fails if it is still open after
/// `within`. Returns the bytes and when the connection closed.
async fn until_closed(stream: &mut tokio::net::TcpStream, within: Duration) -> Result<(Vec<u8>, Duration)> {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(within.saturating_sub(started.elapsed()), stream.read(&mut buf)).await {
            Err(_) => eyre::bail!(
                "the connection was still open after {within:?}, having sent {:?}",
                String::from_utf8_lossy(&received)
            ),
            Ok(Ok(0) | Err(_)) => return Ok((received, started.elapsed())),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn slow_and_idle_clients_are_disconnected_and_others_are_still_served() -> Result<()> {
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpStream,
    };

    let stack = Stack::start().await?;
    let limits = Limits {
        header_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let provider = stack.serve_with(limits).await?;
    let host = provider.url.trim_start_matches("http://").to_owned();
    let limit = Duration::from_secs(5);

    // Connects and sends nothing: dropped once the head is overdue.
    let mut silent = TcpStream::connect(&host).await?;
    let (got, after) = until_closed(&mut silent, limit).await?;
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(after >= Duration::from_millis(400), "dropped after {after:?}, before the header timeout");

    // Slowloris: a header line every 100 ms, the head never finished.
    let mut trickle = TcpStream::connect(&host).await?;
    let started = std::time::Instant::now();
    trickle.write_all(format!("POST /v1/download HTTP/1.1\r\nHost: {host}\r\n").as_bytes()).await?;
    let mut dropped = false;
    for line in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if trickle.write_all(format!("x-pad-{line}: y\r\n").as_bytes()).await.is_err() {
            dropped = true;
            break;
        }
        let mut probe = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(5), trickle.read(&mut probe)).await {
            Ok(Ok(0) | Err(_)) => {
                dropped = true;
                break;
            }
            Ok(Ok(_)) => eyre::bail!("the provider answered an unfinished head"),
            Err(_) => {}
        }
    }
    ensure!(dropped, "a client trickling headers kept its connection for {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(3), "dropped only after {:?}", started.elapsed());

    // A body that never finishes: 408, and the connection is closed.
    let mut stalled = TcpStream::connect(&host).await?;
    let head = format!(
        "POST /v1/download HTTP/1.1\r\nHost: {host}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n"
    );
    stalled.write_all(head.as_bytes()).await?;
    stalled.write_all(b"{\"assetId\":").await?;
    let (got, _) = until_closed(&mut stalled, limit).await?;
    let answer = String::from_utf8_lossy(&got);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("the request timed out"), "{answer}");

    // An answered connection left idle is closed after the idle timeout.
    let mut idle = TcpStream::connect(&host).await?;
    idle.write_all(format!("GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes()).await?;
    let (got, after) = until_closed(&mut idle, limit).await?;
    let answer = String::from_utf8_lossy(&got);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(after >= Duration::from_millis(900), "closed after {after:?}, before the idle timeout");

    // The provider keeps serving.
    let health = stack.http.get(format!("{}/health", provider.url)).send().await?;
    ensure!(health.status() == 200, "health: {}", health.status());
    provider.stop().await
}

#[tokio::test]
async fn short_ranges_on_a_single_use_order_stop_at_twice_the_content_even_across_a_restart() -> Result<()> {
    let stack = Stack::start().await?;
    let data = content(100_000, 21);
    let size = data.len() as u64;
    let (asset, _) = stack.publish_public(&data, 0).await?;
    let order = stack.buy_and_consume(BUYER, asset, stack.provider_address()).await?;
    let provider = stack.serve().await?;

    // Everything but the last byte, again and again: the order is never served, but what its
    // responses send is capped at twice the content.
    let short = format!("bytes=0-{}", size - 2);
    let mut nonce = 1;
    let refusal = loop {
        let request = stack.request(BUYER, asset, order, nonce)?;
        nonce += 1;
        let response = stack.download(&provider, &request, Some(&short)).await?;
        if response.status() != 206 {
            break response;
        }
        assert_eq!(&response.bytes().await?[..], &data[..data.len() - 1]);
        ensure!(nonce < 10, "short ranges were never refused");
    };
    assert_eq!(nonce, 4, "two short ranges fit in the allowance, the third does not");
    let refused = format!(
        "order {order} has used its download allowance: {} of {} bytes served",
        2 * (size - 1),
        2 * size
    );
    expect_refusal(refusal, 410, &refused).await?;

    // A restarted provider keeps the count: still refused, and only what fits is served.
    provider.stop().await?;
    let provider = stack.serve().await?;
    let after_restart =
        stack.download(&provider, &stack.request(BUYER, asset, order, nonce)?, Some(&short)).await?;
    expect_refusal(after_restart, 410, &refused).await?;
    let fits =
        stack.download(&provider, &stack.request(BUYER, asset, order, nonce + 1)?, Some("bytes=0-1")).await?;
    assert_eq!(fits.status(), 206);
    assert_eq!(&fits.bytes().await?[..], &data[..2]);
    let whole = stack.download(&provider, &stack.request(BUYER, asset, order, nonce + 2)?, None).await?;
    expect_refusal(whole, 410, &format!("{0} of {0} bytes served, {size} more requested", 2 * size)).await?;
    provider.stop().await
}
