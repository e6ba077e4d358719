//! Deploying the protocol on a real anvil: the manifest is complete and the wiring leaves the
//! DAO's timelock in charge with nothing left to the deployer.

mod common;

use agora_contracts::{
    DeployParams, Deployment,
    deploy::{CREATE2_FACTORY, plan},
    deploy_protocol, tx,
};
use alloy::{node_bindings::Anvil, primitives::Address, providers::Provider};
use common::{Chain, anvil_path};
use eyre::Result;

#[tokio::test]
async fn deploys_and_wires_the_protocol() -> Result<()> {
    let chain = Chain::start().await?;
    let d = &chain.deployment;
    let c = d.contracts;
    let agora = &chain.agora;

    assert_eq!(d.chain_id, chain.anvil.chain_id());
    assert_eq!(d.deployer, chain.deployer.address);
    assert!(d.deployment_block >= 1);
    let addresses = [
        c.agora_token,
        c.timelock,
        c.governor,
        c.asset_registry,
        c.access_token_implementation,
        c.marketplace,
        c.revenue_splitter,
        c.compute_market,
    ];
    for (i, address) in addresses.iter().enumerate() {
        assert_ne!(*address, Address::ZERO);
        assert!(!addresses[..i].contains(address), "duplicate address {address}");
        let code = alloy::providers::Provider::get_code_at(chain.provider(), *address).await?;
        assert!(!code.is_empty(), "no code at {address}");
    }
    // 7 deployments, 3 role changes, 1 initialize; every transaction in the manifest.
    assert_eq!(d.transactions.len(), 11);
    assert_eq!(d.transactions[0].step, "deploy AgoraToken");
    assert!(d.transactions.windows(2).all(|w| w[0].block_number <= w[1].block_number));
    assert_eq!(Deployment::from_json(&d.to_json())?, *d);

    // Registry wiring.
    assert_eq!(tx::call("marketplace", agora.registry.marketplace()).await?, c.marketplace);
    assert_eq!(tx::call("computeMarket", agora.registry.computeMarket()).await?, c.compute_market);
    assert_eq!(
        tx::call("accessTokenImplementation", agora.registry.accessTokenImplementation()).await?,
        c.access_token_implementation
    );
    assert_eq!(tx::call("splitter", agora.registry.splitter()).await?, c.revenue_splitter);
    assert_eq!(tx::call("splitter", agora.marketplace.splitter()).await?, c.revenue_splitter);

    // The timelock owns the markets; the governor proposes to it; the deployer keeps nothing.
    assert_eq!(tx::call("owner", agora.marketplace.owner()).await?, c.timelock);
    assert_eq!(tx::call("owner", agora.compute_market.owner()).await?, c.timelock);
    let timelock = &agora.timelock;
    let admin = tx::call("DEFAULT_ADMIN_ROLE", timelock.DEFAULT_ADMIN_ROLE()).await?;
    let proposer = tx::call("PROPOSER_ROLE", timelock.PROPOSER_ROLE()).await?;
    let canceller = tx::call("CANCELLER_ROLE", timelock.CANCELLER_ROLE()).await?;
    let executor = tx::call("EXECUTOR_ROLE", timelock.EXECUTOR_ROLE()).await?;
    for role in [admin, proposer, canceller, executor] {
        assert!(!tx::call("hasRole", timelock.hasRole(role, d.deployer)).await?, "deployer kept role {role}");
    }
    assert!(tx::call("hasRole", timelock.hasRole(admin, c.timelock)).await?, "timelock administers itself");
    assert!(tx::call("hasRole", timelock.hasRole(proposer, c.governor)).await?);
    assert!(tx::call("hasRole", timelock.hasRole(canceller, c.governor)).await?);
    assert!(tx::call("hasRole", timelock.hasRole(executor, Address::ZERO)).await?, "anyone executes");
    assert_eq!(
        tx::call("getMinDelay", timelock.getMinDelay()).await?,
        alloy::primitives::U256::from(chain.params.timelock_min_delay)
    );

    // Governance parameters and the token.
    assert_eq!(tx::call("token", agora.governor.token()).await?, c.agora_token);
    assert_eq!(tx::call("timelock", agora.governor.timelock()).await?, c.timelock);
    assert_eq!(tx::call("symbol", agora.token.symbol()).await?, "AGORA");
    assert_eq!(tx::call("name", agora.token.name()).await?, "Agora");
    assert_eq!(tx::call("balanceOf", agora.token.balanceOf(d.deployer)).await?, chain.params.initial_supply);
    Ok(())
}

/// Sepolia's chain id: the deployment path is the same one a testnet sees.
const SEPOLIA: u64 = 11_155_111;

#[tokio::test]
async fn deploys_at_planned_addresses_and_a_rerun_sends_nothing() -> Result<()> {
    let chain = Chain::start_on(Anvil::at(anvil_path()).chain_id(SEPOLIA), DeployParams::local()).await?;
    let first = &chain.deployment;
    assert_eq!(first.chain_id, SEPOLIA);
    // Every address is the CREATE2 address the pure plan predicts, and the manifest carries
    // the constructor arguments that rebuild each initcode.
    let planned = plan(chain.deployer.address, &chain.params);
    assert_eq!(first.contracts, planned.addresses);
    for contract in &planned.contracts {
        assert_eq!(first.constructor_args.get(contract.name), Some(&contract.constructor_args));
        let initcode = [
            contract.initcode[..contract.initcode.len() - contract.constructor_args.len()].as_ref(),
            first.constructor_args[contract.name].as_ref(),
        ]
        .concat();
        assert_eq!(CREATE2_FACTORY.create2_from_code(chain.params.salt, initcode), contract.address);
    }

    // A second run finds everything in place: no transaction, same addresses, same start block.
    let block_before = chain.provider().get_block_number().await?;
    let again = deploy_protocol(chain.provider(), chain.deployer.address, &chain.params).await?;
    assert!(again.transactions.is_empty(), "re-run sent {:?}", again.transactions);
    assert_eq!(again.contracts, first.contracts);
    assert_eq!(again.deployment_block, first.deployment_block);
    assert_eq!(chain.provider().get_block_number().await?, block_before);
    Ok(())
}

#[tokio::test]
async fn a_different_salt_deploys_an_independent_copy() -> Result<()> {
    let chain = Chain::start().await?;
    let params = DeployParams { salt: alloy::primitives::B256::repeat_byte(0x42), ..chain.params.clone() };
    let copy = deploy_protocol(chain.provider(), chain.deployer.address, &params).await?;
    assert_eq!(copy.transactions.len(), 11);
    assert_ne!(copy.contracts.marketplace, chain.deployment.contracts.marketplace);
    assert_eq!(copy.contracts, plan(chain.deployer.address, &params).addresses);
    Ok(())
}

/// A deployment allows the currencies it is given (say, a chain's stablecoin) from the start.
#[tokio::test]
async fn a_deployment_allows_its_initial_currencies() -> Result<()> {
    let chain = Chain::start().await?;
    let usd = agora_contracts::mocks::MockStablecoin::deploy(chain.provider().clone()).await?;
    let params = DeployParams {
        salt: alloy::primitives::B256::repeat_byte(0x43),
        allowed_currencies: vec![*usd.address()],
        ..chain.params.clone()
    };
    let copy = deploy_protocol(chain.provider(), chain.deployer.address, &params).await?;
    let marketplace = agora_contracts::Marketplace::new(copy.contracts.marketplace, chain.provider().clone());
    assert!(tx::call("isCurrencyAllowed", marketplace.isCurrencyAllowed(*usd.address())).await?);
    assert!(tx::call("isCurrencyAllowed", marketplace.isCurrencyAllowed(Address::ZERO)).await?);
    // The first deployment, given none, allows only ETH.
    assert!(!tx::call("isCurrencyAllowed", chain.agora.marketplace.isCurrencyAllowed(*usd.address())).await?);
    let compute = tx::call("params", chain.agora.compute_market.params()).await?;
    assert_eq!(compute.rulingWindow, chain.params.ruling_window);
    Ok(())
}

#[tokio::test]
async fn refuses_a_chain_without_the_create2_factory() -> Result<()> {
    let chain = Chain::start().await?;
    alloy::providers::ext::AnvilApi::anvil_set_code(chain.provider(), CREATE2_FACTORY, Default::default())
        .await?;
    let params = DeployParams { salt: alloy::primitives::B256::repeat_byte(1), ..chain.params.clone() };
    let err = deploy_protocol(chain.provider(), chain.deployer.address, &params)
        .await
        .err()
        .ok_or_else(|| eyre::eyre!("deployed without a factory"))?;
    assert!(matches!(err, tx::Error::NoCreate2Factory { chain_id: 31337, .. }), "{err}");
    Ok(())
}
