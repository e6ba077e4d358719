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
