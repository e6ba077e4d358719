//! Deploying the protocol on a real anvil: the manifest is complete and the wiring leaves the
//! DAO's timelock in charge with nothing left to the deployer.

mod common;

use agora_contracts::{Deployment, tx};
use alloy::primitives::Address;
use common::Chain;
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
