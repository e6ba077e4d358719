//! Journey 1: someone deploying to a testnet. The protocol goes to a chain with Sepolia's chain
//! id through `--network sepolia` and `SEPOLIA_RPC_URL`, exactly as the README says for the real
//! network: a dry run first, then the deployment, a re-run that sends nothing, the manifest, the
//! Timelock owning every parameter, and an indexer that follows the deployment from its manifest;
//! Base Sepolia and Polygon Amoy go through the same path.

use agora_contracts::{
    agora_timelock::AgoraTimelock, compute_market::ComputeMarket, deploy::DeployParams,
    marketplace::Marketplace,
};
use agora_e2e::*;
use alloy::{
    primitives::U256,
    providers::{Provider, ProviderBuilder},
};

const SEPOLIA: u64 = 11_155_111;

#[test]
fn deploy_to_a_sepolia_chain_then_rerun_and_index_it() {
    let chain = Chain::start(SEPOLIA);
    let agora = |args: &[&str]| {
        chain
            .agora()
            .env_remove("AGORA_RPC_URL")
            .env("SEPOLIA_RPC_URL", chain.anvil.endpoint())
            .env("AGORA_PRIVATE_KEY", chain.key(0))
            .args(["--network", "sepolia", "--json"])
            .args(args)
            .output()
            .unwrap_or_else(|err| panic!("running agora: {err}"))
    };
    let deployer = chain.address(0);
    let nonce = || {
        block_on(
            ProviderBuilder::new().connect_http(chain.anvil.endpoint_url()).get_transaction_count(deployer),
        )
        .unwrap_or_else(|err| panic!("nonce: {err}"))
    };

    // The dry run prices the deployment on a fork and sends nothing.
    let dry = agora(&["deploy", "--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    let dry: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap_or_else(|err| panic!("{err}"));
    assert!(dry["totalGas"].as_u64().is_some_and(|gas| gas > 1_000_000), "{dry}");
    // The dry run names the allocation and every governance setting, in seconds.
    assert_eq!(dry["governance"]["votingPeriod"], 432_000, "{dry}");
    assert_eq!(dry["governance"]["timelockDelay"], 172_800, "{dry}");
    assert_eq!(dry["allocation"]["grants"], serde_json::json!([]), "{dry}");
    assert_eq!(nonce(), 0, "a dry run sent a transaction");
    assert!(!chain.manifest_path().exists(), "a dry run wrote a manifest");

    let first = agora(&["deploy"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let manifest = chain.manifest();
    assert_eq!(manifest.chain_id, SEPOLIA);
    assert_eq!(manifest.deployer, deployer);
    assert_eq!(manifest.transactions.len() as u64, nonce(), "the manifest lists every transaction sent");
    assert!(manifest.git_revision.as_deref().is_some_and(|r| r.len() == 40), "{:?}", manifest.git_revision);
    // The addresses are the CREATE2 ones anyone can compute offline from the deployer and the salt.
    let plan = agora_contracts::deploy::plan(deployer, &DeployParams::default());
    assert_eq!(manifest.contracts, plan.addresses);
    for planned in &plan.contracts {
        let recorded = manifest.constructor_args.get(&planned.name);
        assert_eq!(recorded, Some(&planned.constructor_args), "{}: constructor arguments", planned.name);
    }

    // The Timelock owns every protocol parameter; the deployer keeps no role.
    let c = manifest.contracts;
    let provider = ProviderBuilder::new().connect_http(chain.anvil.endpoint_url());
    block_on(async {
        let market = Marketplace::new(c.marketplace, &provider);
        assert_eq!(market.owner().call().await.unwrap_or_else(|err| panic!("{err}")), c.timelock);
        let compute = ComputeMarket::new(c.compute_market, &provider);
        assert_eq!(compute.owner().call().await.unwrap_or_else(|err| panic!("{err}")), c.timelock);
        let timelock = AgoraTimelock::new(c.timelock, &provider);
        for role in [
            timelock.DEFAULT_ADMIN_ROLE().call().await.unwrap_or_else(|err| panic!("{err}")),
            timelock.PROPOSER_ROLE().call().await.unwrap_or_else(|err| panic!("{err}")),
            timelock.CANCELLER_ROLE().call().await.unwrap_or_else(|err| panic!("{err}")),
        ] {
            let held = timelock.hasRole(role, deployer).call().await.unwrap_or_else(|err| panic!("{err}"));
            assert!(!held, "the deployer kept timelock role {role}");
        }
    });

    // The supply went to the declared allocation: 60 % to the treasury, 40 % to the rewards
    // reserve, none to the deployer.
    let allocation =
        manifest.allocation.clone().unwrap_or_else(|| panic!("the manifest records the allocation"));
    block_on(async {
        let token = agora_contracts::AgoraToken::new(c.agora_token, &provider);
        let balance = |who| {
            let call = token.balanceOf(who);
            async move { call.call().await.unwrap_or_else(|err| panic!("{err}")) }
        };
        assert_eq!(balance(c.timelock).await, allocation.treasury);
        assert_eq!(balance(c.rewards).await, allocation.rewards_reserve);
        assert_eq!(balance(deployer).await, U256::ZERO, "the deployer holds no AGORA");
        assert_eq!(
            token.totalSupply().call().await.unwrap_or_else(|err| panic!("{err}")),
            allocation.supply()
        );
        assert_eq!(token.CLOCK_MODE().call().await.unwrap_or_else(|err| panic!("{err}")), "mode=timestamp");
    });

    // A re-run finds everything in place, sends nothing and leaves the manifest as it was.
    let sent = nonce();
    let second = agora(&["deploy"]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(nonce(), sent, "a re-run sent a transaction");
    assert_eq!(chain.manifest(), manifest, "a re-run changed the manifest");

    // Another network's name against this RPC is refused before anything is sent.
    let wrong = chain
        .agora()
        .env_remove("AGORA_RPC_URL")
        .env("BASE_SEPOLIA_RPC_URL", chain.anvil.endpoint())
        .env("AGORA_PRIVATE_KEY", chain.key(0))
        .args(["--network", "base-sepolia", "deploy"])
        .output()
        .unwrap_or_else(|err| panic!("running agora: {err}"));
    assert_one_line_error(&wrong, "reports chain id 11155111, but network \"base-sepolia\" is chain 84532");
    assert_eq!(nonce(), sent);

    // An indexer follows the deployment from its manifest alone.
    let (postgres, kubo) = services();
    let mut indexer = indexer(&chain, &postgres, &kubo);
    indexer.synced(&chain);
    let status = indexer.get("/status");
    assert_eq!(status["chainId"], SEPOLIA, "{status}");
    assert_eq!(indexer.get("/assets")["items"].as_array().map(Vec::len), Some(0));
}

#[test]
fn the_other_named_testnets_deploy_through_the_same_path() {
    for (network, rpc_env, chain_id) in
        [("base-sepolia", "BASE_SEPOLIA_RPC_URL", 84_532), ("polygon-amoy", "POLYGON_AMOY_RPC_URL", 80_002)]
    {
        let chain = Chain::start(chain_id);
        let out = chain
            .agora()
            .env_remove("AGORA_RPC_URL")
            .env(rpc_env, chain.anvil.endpoint())
            .env("AGORA_PRIVATE_KEY", chain.key(0))
            .args(["--network", network, "deploy"])
            .output()
            .unwrap_or_else(|err| panic!("running agora: {err}"));
        assert!(out.status.success(), "{network}: {}", stderr(&out));
        let manifest = chain.manifest();
        assert_eq!(manifest.chain_id, chain_id);
        // The same deployer and salt give the same addresses on every chain.
        let plan = agora_contracts::deploy::plan(chain.address(0), &DeployParams::default());
        assert_eq!(manifest.contracts, plan.addresses, "{network}");
    }
}
