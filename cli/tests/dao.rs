//! The built `agora` binary taking a DAO decision end to end against a real anvil with the
//! protocol deployed: delegate, propose a fee change, vote, queue, execute, and the status of
//! each step; plus the one-line errors of steps taken too early or on unknown proposals.

mod common;

use common::*;
use std::process::Command;

use agora_contracts::marketplace::Marketplace;
use alloy::providers::ProviderBuilder;

/// anvil's first dev account: it deployed the protocol, so it holds the votes.
const DEPLOYER: usize = 0;

#[test]
fn a_fee_change_is_delegated_proposed_voted_queued_and_executed() {
    let stack = Stack::start();

    let delegated = stack.json(DEPLOYER, &["dao", "delegate"]);
    assert_ne!(delegated["votes"], "0");
    let proposed =
        stack.json(DEPLOYER, &["dao", "propose", "--description", "Fee to 1.5%", "set-fee", "150"]);
    let id = proposed["proposalId"].as_str().unwrap().to_owned();
    assert_eq!(stack.json(DEPLOYER, &["dao", "status", &id])["state"], "pending");
    assert_one_line_error(&stack.agora(DEPLOYER, &["dao", "vote", &id, "for"]), "is pending");

    stack.mine(2);
    stack.json(DEPLOYER, &["dao", "vote", &id, "for"]);
    assert_one_line_error(&stack.agora(DEPLOYER, &["dao", "queue", &id]), "is active");
    stack.mine(51);
    let status = stack.json(DEPLOYER, &["dao", "status", &id]);
    assert_eq!(status["state"], "succeeded");
    assert_eq!(status["for"], delegated["votes"]);

    stack.json(DEPLOYER, &["dao", "queue", &id]);
    stack.advance(2);
    stack.json(DEPLOYER, &["dao", "execute", &id]);
    assert_eq!(stack.json(DEPLOYER, &["dao", "status", &id])["state"], "executed");

    let manifest = stack.deployment();
    let provider = ProviderBuilder::new().connect_http(stack.chain.endpoint_url());
    let marketplace = Marketplace::new(manifest.contracts.marketplace, provider);
    let call = marketplace.protocolFeeBps();
    let fee = tokio::runtime::Runtime::new().unwrap().block_on(async { call.call().await }).unwrap();
    assert_eq!(fee, 150);

    assert_one_line_error(&stack.agora(DEPLOYER, &["dao", "status", "12345"]), "unknown proposal 12345");
    assert_one_line_error(&stack.agora(DEPLOYER, &["dao", "execute", &id]), "is executed");
}

#[test]
fn a_raw_proposal_with_two_calls_is_listed_voted_queued_and_executed() {
    use alloy::sol_types::SolCall;

    let stack = Stack::start();
    let manifest = stack.deployment();
    let market = manifest.contracts.marketplace.to_string();
    let recipient = stack.address(7);
    let set_fee = alloy::hex::encode_prefixed(Marketplace::setProtocolFeeCall { feeBps: 200 }.abi_encode());
    let set_recipient =
        alloy::hex::encode_prefixed(Marketplace::setFeeRecipientCall { recipient }.abi_encode());

    let listed = stack.json(DEPLOYER, &["dao", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(0));
    stack.json(DEPLOYER, &["dao", "delegate"]);
    let raw = |description: &str| {
        stack.json(
            DEPLOYER,
            &[
                "dao",
                "propose",
                "--description",
                description,
                "raw",
                "--target",
                &market,
                "--calldata",
                &set_fee,
                "--target",
                &market,
                "--calldata",
                &set_recipient,
                "--value",
                "0",
                "--value",
                "0",
            ],
        )
    };
    let id = raw("Fee to 2% and a new fee recipient")["proposalId"].as_str().unwrap().to_owned();
    let other = stack.json(DEPLOYER, &["dao", "propose", "--description", "Fee to 3%", "set-fee", "300"]);

    // Both are listed, oldest first, pending with no votes.
    let listed = stack.json(DEPLOYER, &["dao", "list"]);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["proposalId"], id.as_str());
    assert_eq!(listed[0]["actions"], 2);
    assert_eq!(listed[1]["proposalId"], other["proposalId"]);
    assert!(listed.iter().all(|p| p["state"] == "pending" && p["for"] == "0"), "{listed:?}");

    stack.mine(2);
    stack.json(DEPLOYER, &["dao", "vote", &id, "for"]);
    let other_id = other["proposalId"].as_str().unwrap();
    stack.json(DEPLOYER, &["dao", "vote", other_id, "against"]);
    stack.mine(51);
    let listed = stack.json(DEPLOYER, &["dao", "list"]);
    assert_eq!(listed[0]["state"], "succeeded");
    assert_ne!(listed[0]["for"], "0");
    assert_eq!(listed[1]["state"], "defeated");
    assert_eq!(listed[1]["against"], listed[0]["for"]);

    stack.json(DEPLOYER, &["dao", "queue", &id]);
    stack.advance(2);
    stack.json(DEPLOYER, &["dao", "execute", &id]);
    assert_eq!(stack.json(DEPLOYER, &["dao", "list"])[0]["state"], "executed");
    let table = stack.agora(DEPLOYER, &["dao", "list"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("executed"));

    let provider = ProviderBuilder::new().connect_http(stack.chain.endpoint_url());
    let marketplace = Marketplace::new(manifest.contracts.marketplace, provider);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fee = runtime.block_on(async { marketplace.protocolFeeBps().call().await }).unwrap();
    assert_eq!(fee, 200);
    let fee_recipient = runtime.block_on(async { marketplace.feeRecipient().call().await }).unwrap();
    assert_eq!(fee_recipient, recipient);
}

#[test]
fn a_malformed_raw_proposal_is_a_one_line_error() {
    // Checked before any network access: no chain runs here.
    let dir = tempfile::tempdir().unwrap();
    let propose = |extra: &[&str]| {
        let mut args = vec!["dao", "propose", "--description", "bad", "raw"];
        args.extend_from_slice(extra);
        let out = Command::new(env!("CARGO_BIN_EXE_agora"))
            .current_dir(dir.path())
            .env_remove("AGORA_NETWORK")
            .env("AGORA_RPC_URL", "http://127.0.0.1:9")
            .env("AGORA_PRIVATE_KEY", DEV_KEY)
            .args(&args)
            .output();
        out.unwrap_or_else(|err| panic!("running agora: {err}"))
    };
    let target = DEV_ADDRESS;
    assert_one_line_error(&propose(&["--target", "0x1234"]), "--target \"0x1234\" is not an address");
    assert_one_line_error(
        &propose(&["--target", "0x0000000000000000000000000000000000000000"]),
        "must not be the zero address",
    );
    assert_one_line_error(&propose(&["--target", target, "--calldata", "0xzz112233"]), "is not hex");
    assert_one_line_error(&propose(&["--target", target, "--calldata", "6f8c0000"]), "must start with 0x");
    assert_one_line_error(&propose(&["--target", target, "--calldata", "0x6f8c"]), "4-byte selector");
    assert_one_line_error(&propose(&["--target", target, "--value", "1.5"]), "not an amount in wei");
    assert_one_line_error(
        &propose(&["--target", target, "--target", target, "--calldata", "0x"]),
        "1 --calldata for 2 --target",
    );
}

#[test]
fn the_treasury_shows_held_and_accrued_fees_per_currency_and_anyone_releases_them() {
    let stack = Stack::with_kubo();
    let (publisher, buyer) = (1, 2);
    let (file, _) = write_file(stack.dir.path(), "notes.csv", 1000);
    stack.json(publisher, &["asset", "publish", &file, "--kind", "dataset", "--price", "0.01", "--public"]);
    stack.json(buyer, &["asset", "buy", "1"]);
    let usd = stack.stablecoin(0, stack.address(buyer), 1_000_000);
    let fee = "250000000000000"; // 2.5 % of 0.01 ETH

    let before = stack.json(buyer, &["dao", "treasury"]);
    let lines = before.as_array().cloned().unwrap_or_default();
    assert_eq!(lines.len(), 2, "ETH and the allowed mUSD: {before}");
    assert_eq!(lines[0]["symbol"], "ETH");
    assert_eq!(lines[0]["accruedSales"], fee);
    let amount = |value: &serde_json::Value| value.as_str().and_then(|v| v.parse::<u128>().ok()).unwrap();
    let held = amount(&lines[0]["held"]);
    assert_eq!(address_of(&lines[1]["currency"]), usd);
    let table = stdout(&stack.agora(buyer, &["dao", "treasury"]));
    assert!(table.contains("agora dao treasury --release"), "{table}");

    let released = stack.json(buyer, &["dao", "treasury", "--release"]);
    assert_eq!(released[0]["released"], fee);
    assert_eq!(
        amount(&released[0]["held"]),
        held + amount(&serde_json::json!(fee)),
        "the fee reached the treasury"
    );
    assert_eq!(released[0]["accruedSales"], "0");
    let again = stack.json(buyer, &["dao", "treasury", "--release"]);
    assert_eq!(again[0]["released"], "0", "nothing accrued since: nothing sent");
}
