//! Deploying to a named network on a real anvil: the chain-id check, the manifest and its
//! idempotent re-runs, a refused mismatching manifest, and a dry run on a fork that leaves the
//! network untouched.

use agora_contracts::{DeployParams, Deployment, deploy::plan, signing_provider};
use agora_deploy::{
    network::{NetworkError, Networks},
    protocol::{self, DeployError},
    services::anvil,
};
use alloy::{
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, B256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use eyre::{Result, WrapErr, eyre};

const SEPOLIA: u64 = 11_155_111;

fn start_anvil(chain_id: u64) -> Result<AnvilInstance> {
    let path = anvil::binary_path()?;
    Anvil::at(path).chain_id(chain_id).try_spawn().wrap_err("spawning anvil")
}

fn deployer_of(anvil: &AnvilInstance) -> Result<(Address, alloy::providers::DynProvider)> {
    let key = anvil.keys().first().ok_or_else(|| eyre!("anvil has no accounts"))?;
    let signer = PrivateKeySigner::from(key.clone());
    Ok((signer.address(), signing_provider(anvil.endpoint_url(), signer)))
}

#[tokio::test]
async fn deploys_to_a_sepolia_chain_writes_the_manifest_and_reruns_idempotently() -> Result<()> {
    let anvil = start_anvil(SEPOLIA)?;
    let (deployer, provider) = deployer_of(&anvil)?;
    let networks = Networks::built_in();
    let sepolia = networks.get("sepolia")?;
    let url = anvil.endpoint_url();
    sepolia.check_chain("sepolia", &url, &provider).await?;

    let dir = tempfile::tempdir()?;
    let params = DeployParams::local();
    let first = protocol::deploy(&provider, deployer, &params, dir.path(), Some("abc123")).await?;
    let path = protocol::manifest_path(dir.path(), SEPOLIA);
    assert_eq!(Deployment::read(&path)?, first);
    assert_eq!(first.chain_id, SEPOLIA);
    assert_eq!(first.git_revision.as_deref(), Some("abc123"));
    // 8 contracts, 3 role changes, 1 initialize, the rewards reserve handed to AgoraRewards.
    assert_eq!(first.transactions.len(), 13);
    assert_eq!(first.contracts, plan(deployer, &params).addresses);
    assert_eq!(first.constructor_args.len(), 8);

    // Again: nothing is sent and the manifest keeps its history.
    let before = provider.get_block_number().await?;
    let second = protocol::deploy(&provider, deployer, &params, dir.path(), Some("abc123")).await?;
    assert_eq!(second, first);
    assert_eq!(provider.get_block_number().await?, before);

    // A manifest of another deployment (another salt) is refused, not overwritten.
    let other = DeployParams { salt: B256::repeat_byte(9), ..params };
    let err = protocol::deploy(&provider, deployer, &other, dir.path(), None)
        .await
        .err()
        .ok_or_else(|| eyre!("overwrote another deployment's manifest"))?;
    assert!(matches!(err, DeployError::ManifestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("another --salt"), "{err}");
    assert_eq!(Deployment::read(&path)?, first);
    Ok(())
}

#[tokio::test]
async fn the_chain_id_is_checked_before_anything_is_sent() -> Result<()> {
    let anvil = start_anvil(31337)?;
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint_url());
    let networks = Networks::built_in();
    let err = networks
        .get("sepolia")?
        .check_chain("sepolia", &anvil.endpoint_url(), &provider)
        .await
        .err()
        .ok_or_else(|| eyre!("a 31337 chain passed as Sepolia"))?;
    assert!(matches!(err, NetworkError::WrongChain { expected: SEPOLIA, actual: 31337, .. }), "{err}");
    assert!(err.to_string().starts_with("wrong chain: the RPC at http://localhost:"), "{err}");

    // An RPC that is not there is a clear error too.
    let port = anvil.port();
    drop(anvil);
    let gone = url::Url::parse(&format!("http://127.0.0.1:{port}"))?;
    let provider = ProviderBuilder::new().connect_http(gone.clone());
    let err = networks.get("local")?.check_chain("local", &gone, &provider).await.err();
    assert!(matches!(err, Some(NetworkError::Unreachable { .. })), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn a_dry_run_measures_gas_on_a_fork_and_leaves_the_network_untouched() -> Result<()> {
    let network = start_anvil(SEPOLIA)?;
    // A deployer with no key here and no ETH: the fork impersonates it.
    let deployer = Address::repeat_byte(0xd7);
    let params = DeployParams::default();
    let report =
        protocol::dry_run(&anvil::binary_path()?, &network.endpoint_url(), deployer, &params).await?;
    assert_eq!(report.chain_id, SEPOLIA);
    assert_eq!(report.transactions.len(), 13);
    assert!(report.transactions.iter().all(|(_, gas)| *gas > 21_000));
    assert_eq!(report.total_gas, report.transactions.iter().map(|(_, gas)| gas).sum::<u64>());
    assert_eq!(
        report.cost,
        alloy::primitives::U256::from(report.total_gas) * alloy::primitives::U256::from(report.gas_price)
    );
    assert!(report.deployer_balance.is_zero());
    assert_eq!(report.deployment.contracts, plan(deployer, &params).addresses);

    let provider = ProviderBuilder::new().connect_http(network.endpoint_url());
    let code = provider.get_code_at(report.deployment.contracts.marketplace).await?;
    assert!(code.is_empty(), "the dry run deployed to the network itself");
    Ok(())
}
