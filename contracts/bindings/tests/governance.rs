//! Governance: AGORA holders delegate, propose `Marketplace.setProtocolFee` through the
//! governor, vote, queue on the timelock and execute; the next purchase pays the new fee, which
//! reaches the treasury.

mod common;

use agora_contracts::{Marketplace, tx};
use alloy::{
    primitives::{Address, U256},
    sol_types::SolCall,
};
use common::{Chain, ETHER, fee_of, kind, publish_params};
use eyre::{Result, eyre};

#[tokio::test]
async fn the_dao_changes_the_protocol_fee_and_the_next_purchase_pays_it_to_the_treasury() -> Result<()> {
    let chain = Chain::start().await?;
    let alice = chain.actor(1)?;
    let publisher = chain.actor(2)?;
    let buyer = chain.actor(3)?;

    // Two voters, the deployer and Alice, each holding AGORA from the local allocation's grants;
    // votes count once delegated, by the token's timestamp clock.
    let held = tx::call("balanceOf", chain.agora.token.balanceOf(alice.address)).await?;
    assert!(held > U256::ZERO, "the local allocation grants every dev account AGORA");
    chain.give_votes(&alice, U256::ZERO).await?;
    chain.give_votes(&chain.deployer, U256::ZERO).await?;
    chain.advance_time(1).await?;
    let now = chain.now().await?;
    let votes =
        tx::call("getPastVotes", chain.agora.token.getPastVotes(alice.address, U256::from(now - 1))).await?;
    assert_eq!(votes, held);
    assert_eq!(tx::call("CLOCK_MODE", chain.agora.governor.CLOCK_MODE()).await?, "mode=timestamp");

    let old_fee = tx::call("protocolFeeBps", chain.agora.marketplace.protocolFeeBps()).await?;
    assert_eq!(old_fee, chain.params.marketplace_fee_bps);
    let new_fee: u16 = 500;
    let calldata = Marketplace::setProtocolFeeCall { feeBps: new_fee }.abi_encode();
    chain
        .pass_proposal(
            &alice,
            &[&chain.deployer, &alice],
            vec![(chain.deployment.contracts.marketplace, U256::ZERO, calldata.into())],
            "Raise the marketplace fee to 5%",
        )
        .await?;
    assert_eq!(tx::call("protocolFeeBps", chain.agora.marketplace.protocolFeeBps()).await?, new_fee);

    // The next purchase pays the new fee, and releasing fees pays the treasury.
    let price = ETHER / U256::from(100);
    let asset = chain
        .agora_as(&publisher)
        .publish(publish_params(publisher.address, kind::DATASET, Address::ZERO, price.to::<u128>()))
        .await?;
    let receipt = tx::send(
        "buy",
        chain
            .agora_as(&buyer)
            .marketplace
            .buy(asset.asset_id, U256::from(1), Address::ZERO, price)
            .value(price),
    )
    .await?;
    let purchased =
        receipt.decoded_log::<Marketplace::Purchased>().ok_or_else(|| eyre!("no Purchased event"))?.data;
    let expected_fee = fee_of(price, new_fee);
    assert_eq!(purchased.fee, expected_fee);
    assert_eq!(expected_fee, price / U256::from(20));

    let treasury = chain.deployment.contracts.timelock;
    let before = chain.balance(treasury).await?;
    tx::send("releaseFees", chain.agora_as(&buyer).splitter.releaseFees(Address::ZERO)).await?;
    assert_eq!(chain.balance(treasury).await? - before, expected_fee);

    // The fee can only change through the DAO.
    let err = tx::send("setProtocolFee directly", chain.agora.marketplace.setProtocolFee(0))
        .await
        .err()
        .ok_or_else(|| eyre!("the deployer changed the fee"))?;
    let revert = format!("{:?}", err.revert());
    assert!(revert.contains("OwnableUnauthorizedAccount"), "{revert}");
    Ok(())
}
