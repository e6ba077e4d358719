//! Revenue split: sales of an asset with three contributors are released to each exactly as
//! their shares say, rounding dust to the first, and released plus fees equals what was paid.

mod common;

use agora_contracts::{RevenueSplitter, tx};
use alloy::primitives::{Address, U256};
use common::{Chain, fee_of, kind, publish_params};
use eyre::{Result, eyre};

#[tokio::test]
async fn sales_are_split_among_three_recipients_exactly_and_value_is_conserved() -> Result<()> {
    let chain = Chain::start().await?;
    let owner = chain.actor(1)?;
    let buyer = chain.actor(2)?;
    let keeper = chain.actor(6)?; // anyone may trigger releases; recipients pay no gas here
    let mut recipients = [chain.actor(3)?.address, chain.actor(4)?.address, chain.actor(5)?.address];
    recipients.sort();
    let bps: [u16; 3] = [5_000, 3_333, 1_667];

    // An odd price so that the shares do not divide evenly.
    let price: u128 = 1_000_000_000_000_007;
    let mut params = publish_params(owner.address, kind::DATASET, Address::ZERO, price);
    params.splitRecipients = recipients.to_vec();
    params.splitBps = bps.to_vec();
    let asset = chain.agora_as(&owner).publish(params).await?;

    let splitter = &chain.agora_as(&keeper).splitter;
    let split = tx::call("getSplit", splitter.getSplit(asset.asset_id)).await?;
    assert_eq!(split.iter().map(|s| s.recipient).collect::<Vec<_>>(), recipients.to_vec());
    assert_eq!(split.iter().map(|s| s.bps).collect::<Vec<_>>(), bps.to_vec());

    // Three purchases of 1, 2 and 4 tokens.
    let mut paid = U256::ZERO;
    let mut fees = U256::ZERO;
    for amount in [1u64, 2, 4] {
        let cost = U256::from(price) * U256::from(amount);
        tx::send(
            "buy",
            chain
                .agora_as(&buyer)
                .marketplace
                .buy(asset.asset_id, U256::from(amount), Address::ZERO, U256::from(price))
                .value(cost),
        )
        .await?;
        paid += cost;
        fees += fee_of(cost, chain.params.marketplace_fee_bps);
    }
    let net = paid - fees;
    assert_eq!(tx::call("totalReceived", splitter.totalReceived(asset.asset_id, Address::ZERO)).await?, net);
    assert_eq!(tx::call("accruedFees", splitter.accruedFees(Address::ZERO)).await?, fees);
    assert_eq!(chain.balance(chain.deployment.contracts.revenue_splitter).await?, paid);

    // Anyone may settle; then each recipient but the first gets floor(net * bps / 10000) and the
    // first the rest, rounding dust included.
    tx::send("settle", splitter.settle(asset.asset_id)).await?;
    let others: Vec<U256> = bps[1..].iter().map(|b| net * U256::from(*b) / U256::from(10_000)).collect();
    let first = net - others.iter().fold(U256::ZERO, |a, b| a + *b);
    let expected = [first, others[0], others[1]];

    let mut released = U256::ZERO;
    for (recipient, share) in recipients.iter().zip(expected) {
        assert_eq!(
            tx::call("releasable", splitter.releasable(asset.asset_id, Address::ZERO, *recipient)).await?,
            share
        );
        let before = chain.balance(*recipient).await?;
        let receipt =
            tx::send("release", splitter.release(asset.asset_id, Address::ZERO, *recipient)).await?;
        let event = receipt
            .decoded_log::<RevenueSplitter::Released>()
            .ok_or_else(|| eyre!("no Released event"))?
            .data;
        assert_eq!((event.recipient, event.amount), (*recipient, share));
        assert_eq!(chain.balance(*recipient).await? - before, share, "recipient {recipient}");
        released += share;
    }
    assert_eq!(released, net);
    assert_eq!(tx::call("totalReleased", splitter.totalReleased(asset.asset_id, Address::ZERO)).await?, net);

    // Nothing is left to release twice; the typed error says for whom.
    let err = tx::send("release again", splitter.release(asset.asset_id, Address::ZERO, recipients[0]))
        .await
        .err()
        .ok_or_else(|| eyre!("a second release succeeded"))?;
    assert!(matches!(
        err.decode_revert::<RevenueSplitter::RevenueSplitterErrors>(),
        Some(RevenueSplitter::RevenueSplitterErrors::RevenueSplitter__NothingToRelease(e)) if e.recipient == recipients[0]
    ));

    // The fees go to the treasury (the timelock); the splitter ends empty: value is conserved.
    let treasury = chain.deployment.contracts.timelock;
    let before = chain.balance(treasury).await?;
    tx::send("releaseFees", splitter.releaseFees(Address::ZERO)).await?;
    assert_eq!(chain.balance(treasury).await? - before, fees);
    assert_eq!(chain.balance(chain.deployment.contracts.revenue_splitter).await?, U256::ZERO);
    assert_eq!(released + fees, paid);
    Ok(())
}
