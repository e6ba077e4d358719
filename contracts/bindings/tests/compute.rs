//! Compute: a provider stakes and registers; a job is opened on a dataset (spending one of its
//! access tokens and escrowing the price), its result posted and, after the challenge window,
//! finalized; another is refunded after its deadline; a third is disputed and the DAO rules it
//! through a governance proposal; a fourth is disputed and left unruled, and anyone settles it by
//! the default once the ruling deadline has passed.

mod common;

use agora_contracts::{
    ComputeMarket,
    compute_market::IComputeMarket::{self, OpenJobParams},
    tx,
};
use alloy::{
    primitives::{Address, B256, U256, keccak256},
    rpc::types::TransactionReceipt,
    sol_types::SolCall,
};
use common::{Chain, ETHER, fee_of, kind, publish_params};
use eyre::{Result, eyre};

/// `IComputeMarket.JobStatus` values.
const FINALIZED: u8 = 4;
const REFUNDED: u8 = 5;
const RULED_AGAINST_PROVIDER: u8 = 6;

fn job_id(receipt: &TransactionReceipt) -> Result<U256> {
    Ok(receipt
        .decoded_log::<ComputeMarket::JobOpened>()
        .ok_or_else(|| eyre!("no JobOpened event"))?
        .data
        .jobId)
}

async fn job(chain: &Chain, id: U256) -> Result<IComputeMarket::Job> {
    Ok(tx::call("getJob", chain.agora.compute_market.getJob(id)).await?)
}

#[tokio::test]
async fn jobs_are_paid_refunded_or_ruled_by_the_dao() -> Result<()> {
    let chain = Chain::start().await?;
    let publisher = chain.actor(1)?;
    let consumer = chain.actor(2)?;
    let provider = chain.actor(3)?;
    let keeper = chain.actor(4)?; // finalizes and refunds, so the parties' balances move by exact amounts
    let challenger = chain.actor(5)?;
    let params = &chain.params;

    // A dataset and an algorithm; the consumer buys four dataset access tokens.
    let as_publisher = chain.agora_as(&publisher);
    let data_price: u128 = 1_000_000_000_000_000;
    let dataset = as_publisher
        .publish(publish_params(publisher.address, kind::DATASET, Address::ZERO, data_price))
        .await?;
    let algorithm =
        as_publisher.publish(publish_params(publisher.address, kind::ALGORITHM, Address::ZERO, 0)).await?;
    let as_consumer = chain.agora_as(&consumer);
    tx::send(
        "buy dataset access",
        as_consumer
            .marketplace
            .buy(dataset.asset_id, U256::from(4), Address::ZERO, U256::from(data_price))
            .value(U256::from(4 * data_price)),
    )
    .await?;

    // The provider stakes and registers at a price per job.
    let job_price = ETHER / U256::from(20);
    let as_provider = chain.agora_as(&provider);
    tx::send(
        "registerProvider",
        as_provider
            .compute_market
            .registerProvider("http://127.0.0.1:9/compute".into(), Address::ZERO, job_price.to::<u128>())
            .value(params.min_stake),
    )
    .await?;
    let registered =
        tx::call("getProvider", chain.agora.compute_market.getProvider(provider.address)).await?;
    assert!(registered.registered);
    assert_eq!(U256::from(registered.stake), params.min_stake);

    let open = |deadline: u64, spec: &'static str| {
        let market = as_consumer.compute_market.clone();
        let (dataset_id, algorithm_id, provider) = (dataset.asset_id, algorithm.asset_id, provider.address);
        async move {
            let p = OpenJobParams {
                datasetId: dataset_id,
                algorithmId: algorithm_id,
                provider,
                specCid: spec.into(),
                currency: Address::ZERO,
                maxPayment: job_price,
                deadline,
            };
            tx::send("openJob", market.openJob(p).value(job_price)).await
        }
    };
    let dataset_token = as_consumer.access_token_at(dataset.access_token);
    let keeper_market = chain.agora_as(&keeper).compute_market;
    let fee = fee_of(job_price, params.compute_fee_bps);

    // 1. Opened, result posted, finalized after the challenge window: the provider is paid.
    let deadline = chain.now().await? + 3_600;
    let job1 = job_id(&open(deadline, "bafy-spec-1").await?)?;
    assert_eq!(tx::call("balanceOf", dataset_token.balanceOf(consumer.address)).await?, U256::from(3));
    let output = keccak256("embeddings of job 1");
    tx::send("postResult", as_provider.compute_market.postResult(job1, "bafy-result-1".into(), output))
        .await?;
    let err = tx::send("finalize early", keeper_market.finalize(job1))
        .await
        .err()
        .ok_or_else(|| eyre!("finalized early"))?;
    assert!(matches!(
        err.decode_revert::<ComputeMarket::ComputeMarketErrors>(),
        Some(ComputeMarket::ComputeMarketErrors::ComputeMarket__ChallengeWindowOpen(e)) if e.jobId == job1
    ));
    chain.advance_time(params.challenge_window + 1).await?;
    let before = chain.balance(provider.address).await?;
    tx::send("finalize", keeper_market.finalize(job1)).await?;
    assert_eq!(chain.balance(provider.address).await? - before, job_price - fee);
    let j1 = job(&chain, job1).await?;
    assert_eq!(j1.status, FINALIZED);
    assert_eq!(j1.outputHash, output);

    // 2. Opened, nothing posted by the deadline: the consumer is refunded in full.
    let deadline = chain.now().await? + 600;
    let job2 = job_id(&open(deadline, "bafy-spec-2").await?)?;
    chain.advance_time(601).await?;
    let before = chain.balance(consumer.address).await?;
    tx::send("refund", keeper_market.refund(job2)).await?;
    assert_eq!(chain.balance(consumer.address).await? - before, job_price);
    assert_eq!(job(&chain, job2).await?.status, REFUNDED);

    // 4. (Opened now, while the provider's stake is whole.) Result posted and disputed; the DAO
    // never rules it.
    let deadline = chain.now().await? + 3_600;
    let job4 = job_id(&open(deadline, "bafy-spec-4").await?)?;
    tx::send(
        "postResult",
        as_provider.compute_market.postResult(job4, "bafy-result-4".into(), B256::repeat_byte(4)),
    )
    .await?;
    tx::send(
        "dispute",
        chain
            .agora_as(&challenger)
            .compute_market
            .dispute(job4, "bafy-reason-4".into())
            .value(params.dispute_bond),
    )
    .await?;
    let j4 = job(&chain, job4).await?;
    assert_eq!(u64::from(j4.rulingWindow), params.ruling_window);
    let ruling_deadline = j4.challengeEnd + u64::from(j4.rulingWindow);
    let err = tx::send("expire early", keeper_market.expireDispute(job4))
        .await
        .err()
        .ok_or_else(|| eyre!("expired before the ruling deadline"))?;
    assert!(matches!(
        err.decode_revert::<ComputeMarket::ComputeMarketErrors>(),
        Some(ComputeMarket::ComputeMarketErrors::ComputeMarket__RulingWindowOpen(e))
            if e.jobId == job4 && e.rulingDeadline == U256::from(ruling_deadline)
    ));

    // 3. Result posted and disputed; the DAO rules the provider at fault and slashes half its stake.
    let deadline = chain.now().await? + 3_600;
    let job3 = job_id(&open(deadline, "bafy-spec-3").await?)?;
    tx::send(
        "postResult",
        as_provider.compute_market.postResult(job3, "bafy-result-3".into(), B256::repeat_byte(7)),
    )
    .await?;
    tx::send(
        "dispute",
        chain
            .agora_as(&challenger)
            .compute_market
            .dispute(job3, "bafy-reason".into())
            .value(params.dispute_bond),
    )
    .await?;
    chain.give_votes(&chain.deployer, U256::ZERO).await?;
    let slash = params.min_stake / U256::from(2);
    let ruling =
        ComputeMarket::ruleDisputeCall { jobId: job3, providerAtFault: true, slash: slash.to::<u128>() };
    let consumer_before = chain.balance(consumer.address).await?;
    let challenger_before = chain.balance(challenger.address).await?;
    chain
        .pass_proposal(
            &chain.deployer,
            &[&chain.deployer],
            vec![(chain.deployment.contracts.compute_market, U256::ZERO, ruling.abi_encode().into())],
            "Rule job 3: provider at fault",
        )
        .await?;
    assert_eq!(job(&chain, job3).await?.status, RULED_AGAINST_PROVIDER);
    // The ruling credits; each party withdraws its own (so none can block the ruling).
    for (who, before, owed) in
        [(&consumer, consumer_before, job_price), (&challenger, challenger_before, params.dispute_bond)]
    {
        let market = chain.agora_as(who).compute_market;
        assert_eq!(tx::call("claimable", market.claimable(who.address, Address::ZERO)).await?, owed);
        let receipt = tx::send("claim", market.claim(Address::ZERO)).await?;
        let gas = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
        assert_eq!(chain.balance(who.address).await? + gas - before, owed);
    }
    let stake =
        tx::call("getProvider", chain.agora.compute_market.getProvider(provider.address)).await?.stake;
    assert_eq!(U256::from(stake), params.min_stake - slash);

    // 4, continued: past the ruling deadline anyone settles it by default; the result stands (the
    // provider's payout is credited) and the challenger's bond is credited back.
    chain.advance_time(ruling_deadline + 1 - chain.now().await?).await?;
    let receipt = tx::send("expireDispute", keeper_market.expireDispute(job4)).await?;
    let expired = receipt
        .decoded_log::<ComputeMarket::DisputeExpired>()
        .ok_or_else(|| eyre!("no DisputeExpired"))?
        .data;
    assert_eq!((expired.jobId, expired.challenger), (job4, challenger.address));
    assert_eq!((expired.bond, expired.rulingDeadline), (params.dispute_bond, U256::from(ruling_deadline)));
    assert_eq!(job(&chain, job4).await?.status, FINALIZED);
    let market = &chain.agora.compute_market;
    assert_eq!(
        tx::call("claimable", market.claimable(provider.address, Address::ZERO)).await?,
        job_price - fee
    );
    assert_eq!(
        tx::call("claimable", market.claimable(challenger.address, Address::ZERO)).await?,
        params.dispute_bond
    );
    assert_eq!(tx::call("getProvider", market.getProvider(provider.address)).await?.activeJobs, 0);

    // The fees of jobs 1 and 4 and the slash reach the treasury.
    assert_eq!(
        tx::call("accruedFees", chain.agora.compute_market.accruedFees(Address::ZERO)).await?,
        fee + fee + slash
    );
    let treasury = chain.deployment.contracts.timelock;
    let before = chain.balance(treasury).await?;
    tx::send("releaseFees", keeper_market.releaseFees(Address::ZERO)).await?;
    assert_eq!(chain.balance(treasury).await? - before, fee + fee + slash);
    Ok(())
}
