//! Deploying the protocol on a real anvil: the manifest is complete and the wiring leaves the
//! DAO's timelock in charge with nothing left to the deployer.

mod common;

use agora_contracts::{
    Agora, AgoraVestingWallet, DeployParams, Deployment,
    deploy::{CREATE2_FACTORY, Grant, Vesting, plan},
    deploy_protocol, tx,
};
use alloy::{
    node_bindings::Anvil,
    primitives::{Address, U256},
    providers::Provider,
};
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
    let addresses = c.all();
    for (i, address) in addresses.iter().enumerate() {
        assert_ne!(*address, Address::ZERO);
        assert!(!addresses[..i].contains(address), "duplicate address {address}");
        let code = alloy::providers::Provider::get_code_at(chain.provider(), *address).await?;
        assert!(!code.is_empty(), "no code at {address}");
    }
    // 8 deployments, 3 role changes, 1 initialize, 1 reserve transfer; every transaction in the
    // manifest.
    assert_eq!(d.transactions.len(), 13);
    assert_eq!(d.transactions[0].step, "deploy AgoraTimelock");
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
    assert_eq!(tx::call("CLOCK_MODE", agora.token.CLOCK_MODE()).await?, "mode=timestamp");
    assert_eq!(tx::call("proposalGuardian", agora.governor.proposalGuardian()).await?, c.timelock);
    assert_eq!(
        tx::call("lateQuorumVoteExtension", agora.governor.lateQuorumVoteExtension()).await?,
        alloy::primitives::aliases::U48::from(chain.params.vote_extension)
    );
    assert_eq!(d.governance, Some(chain.params.governance(c.timelock)));
    assert_eq!(d.allocation.as_ref(), Some(&chain.params.allocation));
    Ok(())
}

/// Every line of a declared allocation is on chain after the deployment, the supply is their
/// sum, and a deployer that grants itself nothing holds nothing.
#[tokio::test]
async fn the_supply_goes_to_the_declared_allocation_and_none_to_the_deployer() -> Result<()> {
    let chain = Chain::start().await?;
    let team = chain.actor(7)?.address;
    let grantee = chain.actor(8)?.address;
    let now = chain.now().await?;
    let mut params =
        DeployParams { salt: alloy::primitives::B256::repeat_byte(0x44), ..DeployParams::default() };
    params.allocation.vesting.push(Vesting {
        beneficiary: team,
        amount: U256::from(5u128 * 10u128.pow(24)),
        start: now,
        duration: 1000,
        cliff: 100,
    });
    params.allocation.grants.push(Grant { holder: grantee, amount: U256::from(10u128.pow(24)) });
    let d = deploy_protocol(chain.provider(), chain.deployer.address, &params).await?;
    let agora = Agora::new(d.clone(), chain.provider().clone());
    let balance = |who: Address| {
        let call = agora.token.balanceOf(who);
        async move { tx::call("balanceOf", call).await }
    };
    let a = &params.allocation;
    assert_eq!(tx::call("totalSupply", agora.token.totalSupply()).await?, a.supply());
    assert_eq!(balance(d.contracts.timelock).await?, a.treasury);
    assert_eq!(balance(d.contracts.rewards).await?, a.rewards_reserve);
    assert_eq!(balance(grantee).await?, U256::from(10u128.pow(24)));
    assert_eq!(d.vesting_wallets.len(), 1);
    let wallet = d.vesting_wallets[0];
    assert_eq!(wallet.beneficiary, team);
    assert_eq!(balance(wallet.wallet).await?, U256::from(5u128 * 10u128.pow(24)));
    assert_eq!(balance(d.deployer).await?, U256::ZERO, "the deployer keeps nothing by default");
    let vesting = AgoraVestingWallet::new(wallet.wallet, chain.provider().clone());
    assert_eq!(tx::call("owner", vesting.owner()).await?, team);
    assert_eq!(tx::call("cliff", vesting.cliff()).await?, U256::from(now + 100));
    let rewards = &agora.rewards;
    assert_eq!(tx::call("token", rewards.token()).await?, d.contracts.agora_token);
    assert_eq!(tx::call("owner", rewards.owner()).await?, d.contracts.timelock);
    assert_eq!(tx::call("unallocated", rewards.unallocated()).await?, a.rewards_reserve);

    // A re-run sends nothing: in particular the reserve is not transferred twice.
    let again = deploy_protocol(chain.provider(), chain.deployer.address, &params).await?;
    assert!(again.transactions.is_empty(), "re-run sent {:?}", again.transactions);

    // An allocation that cannot be minted is refused before anything is sent.
    let mut bad = DeployParams { salt: alloy::primitives::B256::repeat_byte(0x45), ..params.clone() };
    bad.allocation.grants.push(Grant { holder: grantee, amount: U256::ZERO });
    let before = chain.provider().get_block_number().await?;
    let err = deploy_protocol(chain.provider(), chain.deployer.address, &bad).await.err();
    assert!(matches!(err, Some(tx::Error::InvalidAllocation(_))), "{err:?}");
    assert_eq!(chain.provider().get_block_number().await?, before);
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
        assert_eq!(first.constructor_args.get(&contract.name), Some(&contract.constructor_args));
        let initcode = [
            contract.initcode[..contract.initcode.len() - contract.constructor_args.len()].as_ref(),
            first.constructor_args[&contract.name].as_ref(),
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
    assert_eq!(copy.transactions.len(), 13);
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
