//! The hub's server time over a large catalogue, side by side with the indexer API call each
//! page wraps: `cargo bench -p agora-hub --bench pages` (`AGORA_BENCH_ASSETS`, default 10,000
//! synthetic assets; `AGORA_BENCH_ITERATIONS`, default 300 requests per case).
//!
//! A throwaway PostgreSQL cluster is seeded with the indexer's synthetic catalogue (documents
//! stored by the metadata loop's own code, so the search vectors are the real ones); the
//! indexer's API and the hub are served in this process on loopback ports, and each case is
//! requested over HTTP alternately from the API and the hub, after a warm-up. Printed: p50 and
//! p99 of each, and the hub's time over the API's (its own overhead: rendering, plus the
//! API call it makes).

use std::time::{Duration, Instant};

use agora_deploy::services::postgres::PostgresCluster;
use agora_hub::HubConfig;
use agora_indexer::{
    api::{self, AppState},
    db,
    testing::{DESCRIPTION_WORDS, seed_synthetic_catalogue},
};
use tokio::net::TcpListener;

/// A chain id no indexer writes.
const CHAIN: u64 = 990_001;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

async fn timed(client: &reqwest::Client, url: &str) -> Result<Duration, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let response = client.get(url).send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status}: {}", String::from_utf8_lossy(&body)).into());
    }
    Ok(start.elapsed())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let assets = env_number("AGORA_BENCH_ASSETS", 10_000);
    let iterations = env_number("AGORA_BENCH_ITERATIONS", 300) as usize;
    let cluster = PostgresCluster::start()?;
    let url = cluster.fresh_database()?;
    let pool = db::connect(&url, 16).await?;
    let seeding = Instant::now();
    seed_synthetic_catalogue(&pool, CHAIN, assets).await?;
    println!("seeded {assets} synthetic assets in {:.1} s", seeding.elapsed().as_secs_f64());

    let state = AppState { pool, chain_id: CHAIN, metrics: None, max_lag: 5, contracts: None, chain: None };
    let indexer = TcpListener::bind("127.0.0.1:0").await?;
    let indexer_url = format!("http://{}", indexer.local_addr()?);
    tokio::spawn(api::serve(indexer, state, std::future::pending()));
    let hub = TcpListener::bind("127.0.0.1:0").await?;
    let hub_url = format!("http://{}", hub.local_addr()?);
    let config = HubConfig::new(indexer_url.parse()?);
    tokio::spawn(async move { agora_hub::serve(hub, &config, std::future::pending()).await });

    let frequent = DESCRIPTION_WORDS[0];
    let rare = DESCRIPTION_WORDS[DESCRIPTION_WORDS.len() - 1];
    let middle = assets / 2;
    let cases = [
        ("catalogue, first page", "/assets?sort=id_desc&limit=24".to_owned(), "/".to_owned()),
        (
            "search, frequent word",
            format!("/assets?q={frequent}&sort=id_desc&limit=24"),
            format!("/assets?q={frequent}"),
        ),
        ("search, rare word", format!("/assets?q={rare}&sort=id_desc&limit=24"), format!("/assets?q={rare}")),
        (
            "filtered: models, by price",
            "/assets?kind=model&sort=price_desc&limit=24".to_owned(),
            "/assets?kind=model&sort=price_desc".to_owned(),
        ),
        ("asset page", format!("/assets/{middle}"), format!("/assets/{middle}")),
    ];
    let client = reqwest::Client::builder().pool_max_idle_per_host(4).build()?;
    println!(
        "{:<28} {:>11} {:>11} {:>11} {:>11} {:>9}",
        "case", "API p50", "API p99", "hub p50", "hub p99", "hub/API"
    );
    for (name, api_path, hub_path) in cases {
        let (api_url, hub_url) = (format!("{indexer_url}{api_path}"), format!("{hub_url}{hub_path}"));
        for _ in 0..20 {
            timed(&client, &api_url).await?;
            timed(&client, &hub_url).await?;
        }
        let (mut api_times, mut hub_times) = (Vec::with_capacity(iterations), Vec::with_capacity(iterations));
        for _ in 0..iterations {
            api_times.push(timed(&client, &api_url).await?);
            hub_times.push(timed(&client, &hub_url).await?);
        }
        api_times.sort();
        hub_times.sort();
        let (api50, api99) = (percentile(&api_times, 0.5), percentile(&api_times, 0.99));
        let (hub50, hub99) = (percentile(&hub_times, 0.5), percentile(&hub_times, 0.99));
        println!(
            "{name:<28} {:>11} {:>11} {:>11} {:>11} {:>8.2}×",
            ms(api50),
            ms(api99),
            ms(hub50),
            ms(hub99),
            hub50.as_secs_f64() / api50.as_secs_f64()
        );
    }
    Ok(())
}
