//! Journey 3: a data scientist publishes datasets with a revenue split, one sold in ETH and one
//! in an ERC-20, each encrypted with its key held by the publisher and the provider named;
//! another buys access to both (the ERC-20 one with a permit in the same
//! transaction), downloads each through a provider and gets exactly the published bytes; the
//! contributors release their shares; the indexer shows the sales, the holder and the orders.

use agora_e2e::*;
use alloy::{
    primitives::{Address, U256},
    providers::{Provider, ProviderBuilder},
};
use serde_json::Value;

const PUBLISHER: usize = 1;
const BUYER: usize = 2;
const ALICE: usize = 5;
const BOB: usize = 6;
const OPERATOR: usize = 9;

fn amount(value: &Value) -> U256 {
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not an amount: {value}"))
}

#[test]
fn publish_buy_in_eth_and_erc20_download_and_release_the_split() {
    let (postgres, kubo) = services();
    let mut chain = Chain::deployed();
    chain.ipfs_api = Some(kubo.api_url());
    let provider = provider(&chain, &kubo, OPERATOR);
    let mut indexer = indexer(&chain, &postgres, &kubo);
    let usd = chain.stablecoin(chain.address(BUYER), 100_000_000);

    let (alice, bob) = (chain.address(ALICE), chain.address(BOB));
    let split = [format!("{alice}:7000"), format!("{bob}:3000")];
    let finches = chain.write_file("finches.csv", 3 << 20);
    let published = chain.json(
        PUBLISHER,
        &[
            "asset",
            "publish",
            &finches,
            "--kind",
            "dataset",
            "--price",
            "0.01",
            "--split",
            &split[0],
            "--split",
            &split[1],
            "--provider",
            &provider.url,
        ],
    );
    assert_eq!(published["assetId"], "1");
    let beaks = chain.write_file("beaks.jsonl", 200 << 10);
    let usd_text = usd.to_string();
    let args = [
        "asset",
        "publish",
        &beaks,
        "--kind",
        "dataset",
        "--price",
        "2.5",
        "--currency",
        &usd_text,
        "--provider",
        &provider.url,
    ];
    assert_eq!(chain.json(PUBLISHER, &args)["assetId"], "2");

    let in_eth = chain.json(BUYER, &["asset", "buy", "1"]);
    assert_eq!(amount(&in_eth["paid"]), U256::from(10_000_000_000_000_000u64));
    let in_usd = chain.json(BUYER, &["asset", "buy", "2"]);
    assert_eq!(amount(&in_usd["paid"]), U256::from(2_500_000));

    // Each download spends one access token and is checked against the on-chain digest.
    for (id, source) in [("1", &finches), ("2", &beaks)] {
        let out = chain.dir.path().join(format!("downloaded-{id}"));
        let out_text = out.to_string_lossy().into_owned();
        chain.json(BUYER, &["asset", "download", id, "--provider", &provider.url, "-o", &out_text]);
        let (got, want) = (std::fs::read(&out), std::fs::read(source));
        assert!(
            got.is_ok() && got.ok() == want.ok(),
            "asset {id}: the download differs from what was published"
        );
    }
    // Access was spent: a second download needs another token.
    let again = chain.run(BUYER, &["asset", "download", "1", "--provider", &provider.url, "-o", "again.csv"]);
    assert_one_line_error(&again, "no access token");

    // The contributors release their shares of the ETH sale: 70% and 30% of what the split got.
    let owed = chain.json(BUYER, &["split", "show", "1"]);
    let owed_to = |who: Address| {
        let entries = owed.as_array().cloned().unwrap_or_default();
        let entry = entries
            .iter()
            .find(|e| e["recipient"].as_str().and_then(|r| r.parse::<Address>().ok()) == Some(who));
        amount(&entry.unwrap_or_else(|| panic!("{who} not in {owed}"))["releasable"])
    };
    let (to_alice, to_bob) = (owed_to(alice), owed_to(bob));
    assert!(to_alice > U256::ZERO && to_alice * U256::from(3) / U256::from(7) == to_bob, "{owed}");
    let eth = ProviderBuilder::new().connect_http(chain.anvil.endpoint_url());
    let balance = |who| block_on(eth.get_balance(who)).unwrap_or_else(|err| panic!("{err}"));
    let before = (balance(alice), balance(bob));
    chain.json(BUYER, &["split", "release", "1"]);
    assert_eq!((balance(alice) - before.0, balance(bob) - before.1), (to_alice, to_bob));

    // The indexer saw it all.
    indexer.synced(&chain);
    let asset = indexer.get("/assets/1");
    assert_eq!(asset["sales"].as_array().map(Vec::len), Some(1), "{asset}");
    let buyer = chain.address(BUYER).to_string().to_lowercase();
    assert_eq!(asset["sales"][0]["buyer"], Value::String(buyer.clone()));
    let account = indexer.get(&format!("/accounts/{buyer}"));
    let orders = account["orders"].as_array().map(Vec::len);
    assert_eq!(orders, Some(2), "one consumed order per download: {account}");
    let releases =
        indexer.get(&format!("/accounts/{}", alice.to_string().to_lowercase()))["releases"].clone();
    assert_eq!(releases[0]["amount"], Value::String(to_alice.to_string()), "{releases}");
}
