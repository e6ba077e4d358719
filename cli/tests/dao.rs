//! The built `agora` binary taking a DAO decision end to end against a real anvil with the
//! protocol deployed: delegate, propose a fee change, vote, queue, execute, and the status of
//! each step; plus the one-line errors of steps taken too early or on unknown proposals.

mod common;

use common::*;
use std::process::{Command, Output};

use agora_contracts::{Deployment, marketplace::Marketplace};
use alloy::{
    node_bindings::{Anvil, AnvilInstance},
    providers::{Provider, ProviderBuilder},
};
use serde_json::Value;

fn agora(chain: &AnvilInstance, dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agora"))
        .current_dir(dir)
        .env_remove("AGORA_NETWORK")
        .env_remove("AGORA_KEYSTORE")
        .env("AGORA_RPC_URL", chain.endpoint())
        .env("AGORA_PRIVATE_KEY", DEV_KEY)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("running agora: {err}"))
}

fn json(chain: &AnvilInstance, dir: &std::path::Path, args: &[&str]) -> Value {
    let mut with_json = vec!["--json"];
    with_json.extend_from_slice(args);
    let out = agora(chain, dir, &with_json);
    assert!(out.status.success(), "agora {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("{err}"))
}

/// Runs an anvil control request (`anvil_mine`, `evm_increaseTime`).
fn control(chain: &AnvilInstance, method: &'static str, param: u64) {
    let provider = ProviderBuilder::new().connect_http(chain.endpoint_url());
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|err| panic!("tokio: {err}"));
    runtime
        .block_on(provider.raw_request::<_, Value>(method.into(), [param]))
        .unwrap_or_else(|err| panic!("{method}: {err}"));
}

#[test]
fn a_fee_change_is_delegated_proposed_voted_queued_and_executed() {
    let chain = Anvil::at(anvil_path()).spawn();
    let dir = tempfile::tempdir().unwrap();
    let deployed = agora(&chain, dir.path(), &["deploy", "--preset", "local"]);
    assert!(deployed.status.success(), "{}", String::from_utf8_lossy(&deployed.stderr));

    let delegated = json(&chain, dir.path(), &["dao", "delegate"]);
    assert_ne!(delegated["votes"], "0");
    let proposed =
        json(&chain, dir.path(), &["dao", "propose", "--description", "Fee to 1.5%", "set-fee", "150"]);
    let id = proposed["proposalId"].as_str().unwrap().to_owned();
    assert_eq!(json(&chain, dir.path(), &["dao", "status", &id])["state"], "pending");
    assert_one_line_error(&agora(&chain, dir.path(), &["dao", "vote", &id, "for"]), "is pending");

    control(&chain, "anvil_mine", 2);
    json(&chain, dir.path(), &["dao", "vote", &id, "for"]);
    assert_one_line_error(&agora(&chain, dir.path(), &["dao", "queue", &id]), "is active");
    control(&chain, "anvil_mine", 51);
    let status = json(&chain, dir.path(), &["dao", "status", &id]);
    assert_eq!(status["state"], "succeeded");
    assert_eq!(status["for"], delegated["votes"]);

    json(&chain, dir.path(), &["dao", "queue", &id]);
    control(&chain, "evm_increaseTime", 2);
    control(&chain, "anvil_mine", 1);
    json(&chain, dir.path(), &["dao", "execute", &id]);
    assert_eq!(json(&chain, dir.path(), &["dao", "status", &id])["state"], "executed");

    let manifest = Deployment::read(dir.path().join("deploy/deployments/31337.json")).unwrap();
    let provider = ProviderBuilder::new().connect_http(chain.endpoint_url());
    let marketplace = Marketplace::new(manifest.contracts.marketplace, provider);
    let call = marketplace.protocolFeeBps();
    let fee = tokio::runtime::Runtime::new().unwrap().block_on(async { call.call().await }).unwrap();
    assert_eq!(fee, 150);

    assert_one_line_error(&agora(&chain, dir.path(), &["dao", "status", "12345"]), "unknown proposal 12345");
    assert_one_line_error(&agora(&chain, dir.path(), &["dao", "execute", &id]), "is executed");
}

#[test]
fn a_raw_proposal_with_two_calls_is_listed_voted_queued_and_executed() {
    use alloy::sol_types::SolCall;

    let chain = Anvil::at(anvil_path()).spawn();
    let dir = tempfile::tempdir().unwrap();
    let deployed = agora(&chain, dir.path(), &["deploy", "--preset", "local"]);
    assert!(deployed.status.success(), "{}", String::from_utf8_lossy(&deployed.stderr));
    let manifest = Deployment::read(dir.path().join("deploy/deployments/31337.json")).unwrap();
    let market = manifest.contracts.marketplace.to_string();
    let recipient = chain.addresses()[7];
    let set_fee = alloy::hex::encode_prefixed(Marketplace::setProtocolFeeCall { feeBps: 200 }.abi_encode());
    let set_recipient =
        alloy::hex::encode_prefixed(Marketplace::setFeeRecipientCall { recipient }.abi_encode());

    let listed = json(&chain, dir.path(), &["dao", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(0));
    json(&chain, dir.path(), &["dao", "delegate"]);
    let raw = |description: &str| {
        json(
            &chain,
            dir.path(),
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
    let other = json(&chain, dir.path(), &["dao", "propose", "--description", "Fee to 3%", "set-fee", "300"]);

    // Both are listed, oldest first, pending with no votes.
    let listed = json(&chain, dir.path(), &["dao", "list"]);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["proposalId"], id.as_str());
    assert_eq!(listed[0]["actions"], 2);
    assert_eq!(listed[1]["proposalId"], other["proposalId"]);
    assert!(listed.iter().all(|p| p["state"] == "pending" && p["for"] == "0"), "{listed:?}");

    control(&chain, "anvil_mine", 2);
    json(&chain, dir.path(), &["dao", "vote", &id, "for"]);
    let other_id = other["proposalId"].as_str().unwrap();
    json(&chain, dir.path(), &["dao", "vote", other_id, "against"]);
    control(&chain, "anvil_mine", 51);
    let listed = json(&chain, dir.path(), &["dao", "list"]);
    assert_eq!(listed[0]["state"], "succeeded");
    assert_ne!(listed[0]["for"], "0");
    assert_eq!(listed[1]["state"], "defeated");
    assert_eq!(listed[1]["against"], listed[0]["for"]);

    json(&chain, dir.path(), &["dao", "queue", &id]);
    control(&chain, "evm_increaseTime", 2);
    control(&chain, "anvil_mine", 1);
    json(&chain, dir.path(), &["dao", "execute", &id]);
    assert_eq!(json(&chain, dir.path(), &["dao", "list"])[0]["state"], "executed");
    let table = agora(&chain, dir.path(), &["dao", "list"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("executed"));

    let provider = ProviderBuilder::new().connect_http(chain.endpoint_url());
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
