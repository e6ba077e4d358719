//! A seeded fuzz of every route of the provider against real anvil + Kubo: thousands of
//! generated paths, query strings, headers and bodies (malformed, hostile, oversized, and
//! well-formed ones naming real and unknown assets, orders and jobs). No request may get a 5xx,
//! every refusal carries a JSON message, and the provider still serves a real download after.
//! Replay a run with `AGORA_PROVIDER_FUZZ_SEED`.

mod common;

use std::{collections::BTreeMap, time::Duration};

use agora_provider::worker::JobsConfig;
use common::{BUYER, PROVIDER, Stack, content, now};
use eyre::{Result, ensure};
use serde_json::{Value, json};

const REQUESTS: usize = 3_000;

/// xorshift64*: the same seed, the same requests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// An id as a client might send it: real, unknown, hex, negative, huge, not a number at all.
fn id(rng: &mut Rng, real: &[String]) -> String {
    match rng.next() % 10 {
        0..=2 => rng.pick(real).clone(),
        3 => (rng.next() % 1000).to_string(),
        4 => format!("0x{:x}", rng.next() % 100),
        5 => "-1".into(),
        6 => "1".repeat(100),
        7 => "115792089237316195423570985008687907853269984665640564039457584007913129639936".into(),
        8 => "%00".into(),
        _ => rng.pick(&["abc", "%E2%82%AC", "..", "%2F..%2F", "1.5", " 1", "", "ＡＢ"]).to_string(),
    }
}

/// A JSON or raw body: a well-shaped request with hostile fields, or something else entirely.
fn body(rng: &mut Rng, real: &[String]) -> Vec<u8> {
    let number = |rng: &mut Rng| -> Value {
        match rng.next() % 10 {
            0..=4 => json!(rng.pick(real)),
            5 => json!(rng.next().to_string()),
            6 => json!(-1),
            7 => json!("0x".to_owned() + &"f".repeat(70)),
            8 => json!(null),
            _ => json!(1.5),
        }
    };
    let signature = |rng: &mut Rng| -> Value {
        match rng.next() % 5 {
            0 | 4 => json!(format!(
                "0x{}",
                (0..65).map(|_| format!("{:02x}", rng.next() & 0xff)).collect::<String>()
            )),
            1 => json!("0x00"),
            2 => json!(format!("0x{}", "1b".repeat(200))),
            _ => json!("not hex"),
        }
    };
    match rng.next() % 9 {
        0..=2 => json!({
            "assetId": number(rng), "orderId": number(rng), "nonce": number(rng),
            "expiry": now() + rng.next() % 100_000, "signature": signature(rng),
        })
        .to_string()
        .into_bytes(),
        3..=4 => json!({
            "jobId": number(rng), "nonce": number(rng), "expiry": now() + rng.next() % 1000,
            "signature": signature(rng),
        })
        .to_string()
        .into_bytes(),
        5 => "[".repeat(10_000).into_bytes(),
        6 => vec![b'x'; 64 * 1024],
        7 => (0..rng.next() % 512).map(|_| (rng.next() & 0xff) as u8).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn seeded_fuzz_of_every_route_never_gets_a_5xx_and_the_provider_keeps_serving() -> Result<()> {
    let stack = Stack::start().await?;
    let data = content(5000, 1);
    let (asset, _) = stack.publish_public(&data, 0).await?;
    let me = stack.provider_address();
    let order = stack.buy_and_consume(BUYER, asset, me).await?;
    stack.register_provider(&stack.chain.actor(PROVIDER)?, 1_000).await?;
    let work = tempfile::tempdir()?;
    let jobs = JobsConfig {
        workers: 1,
        time_limit: Duration::from_secs(10),
        work_dir: work.path().join("jobs"),
        model_cache: 0,
        finalize_every: Duration::from_secs(3600),
        limits: agora_runtime::Limits::default(),
        algorithm_limits: agora_sandbox::Limits::default(),
    };
    let provider = stack.serve_jobs(jobs).await?;

    let seed = std::env::var("AGORA_PROVIDER_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_f022_u64);
    println!("provider fuzz seed {seed} (set AGORA_PROVIDER_FUZZ_SEED to replay)");
    let mut rng = Rng(seed);
    let real = vec![
        asset.to_string(),
        order.to_string(),
        "1".to_owned(),
        "2".to_owned(),
        format!("{asset:#x}"),
        format!("{order:#x}"),
    ];
    let routes = [
        "/health",
        "/metrics",
        "/v1/info",
        "/v1/download",
        "/v1/jobs",
        "/v1/jobs/{id}",
        "/v1/jobs/{id}/result",
        "/v1/pins/{id}",
    ];
    let methods = [
        reqwest::Method::GET,
        reqwest::Method::POST,
        reqwest::Method::DELETE,
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::OPTIONS,
        reqwest::Method::HEAD,
    ];
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let mut statuses = BTreeMap::<u16, usize>::new();
    let mut server_errors = Vec::new();
    for i in 0..REQUESTS {
        let mut path = rng.pick(&routes).replace("{id}", &id(&mut rng, &real));
        match rng.next() % 8 {
            0 => path.push_str(&format!("?{}={}", id(&mut rng, &real), id(&mut rng, &real))),
            1 => path.push('/'),
            2 => path = format!("{path}/{}", id(&mut rng, &real)),
            3 => path = path.replace("/v1", "/v2"),
            _ => {}
        }
        let method = match path.as_str() {
            "/v1/download" | "/v1/jobs" if !rng.next().is_multiple_of(4) => reqwest::Method::POST,
            _ => rng.pick(&methods).clone(),
        };
        let mut request = client.request(method.clone(), format!("{}{path}", provider.url));
        match rng.next() % 6 {
            0 => {
                request = request.header(
                    "range",
                    *rng.pick(&[
                        "bytes=0-",
                        "bytes=-5",
                        "bytes=9-1",
                        "bytes=a-b",
                        "bytes=0-1,4-5",
                        "bytes=99999999999999999999-",
                    ]),
                )
            }
            1 => request = request.header("accept", "text/event-stream"),
            2 => {
                request = request.header(
                    "content-type",
                    *rng.pick(&["application/json", "text/plain", "application/json; charset=utf-16", "∅"]),
                )
            }
            _ => {}
        }
        if matches!(
            method,
            reqwest::Method::POST | reqwest::Method::PUT | reqwest::Method::DELETE | reqwest::Method::PATCH
        ) {
            request = request.header("content-type", "application/json").body(body(&mut rng, &real));
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let event_stream = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        *statuses.entry(status).or_default() += 1;
        if status >= 500 {
            let text = response.text().await.unwrap_or_default();
            server_errors.push(format!("#{i} {method} {path}: {status} {text}"));
        } else if status >= 400 && method != reqwest::Method::HEAD && !event_stream {
            let text = response.text().await.unwrap_or_default();
            let message =
                serde_json::from_str::<Value>(&text).ok().and_then(|v| v["error"].as_str().map(str::len));
            ensure!(
                message.is_some_and(|len| len > 0),
                "#{i} {method} {path}: {status} without a JSON message: {text:?}"
            );
        }
    }
    println!("{REQUESTS} requests: statuses {statuses:?}, {} answered 5xx", server_errors.len());
    ensure!(server_errors.is_empty(), "5xx answers:\n{}", server_errors.join("\n"));

    // Still serving: a real download of a real order.
    let response = stack.download(&provider, &stack.request(BUYER, asset, order, 9_999_999)?, None).await?;
    ensure!(response.status() == 200, "after the fuzz: {}", response.status());
    ensure!(response.bytes().await? == data, "after the fuzz the download differs");
    provider.stop().await
}
