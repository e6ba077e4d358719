//! Publishing and buying access: with ETH, with a stablecoin through an EIP-2612 permit, and
//! consuming a token so that the provider sees the order; plus typed revert decoding.

mod common;

use agora_contracts::{
    Marketplace, Revert,
    anvil::allow_currency,
    marketplace::Marketplace::{
        Marketplace__CurrencyNotAllowed, Marketplace__PriceAboveMax, MarketplaceErrors,
    },
    mocks::MockStablecoin,
    permit::sign_permit,
    tx,
};
use alloy::primitives::{Address, U256};
use common::{Chain, fee_of, kind, publish_params};
use eyre::{Result, ensure, eyre};

const ONE_DAY: u32 = 24 * 60 * 60;

#[tokio::test]
async fn publish_buy_with_eth_and_permit_then_consume_and_the_provider_sees_the_orders() -> Result<()> {
    let chain = Chain::start().await?;
    let publisher = chain.actor(1)?;
    let buyer = chain.actor(2)?;
    let provider = chain.actor(3)?;
    let as_publisher = chain.agora_as(&publisher);
    let as_buyer = chain.agora_as(&buyer);
    let fee_bps = chain.params.marketplace_fee_bps;

    // A dataset sold for ETH with timed access, and a model sold for a 6-decimal stablecoin.
    let price_eth: u128 = 10_000_000_000_000_000; // 0.01 ETH
    let mut eth_params = publish_params(publisher.address, kind::DATASET, Address::ZERO, price_eth);
    eth_params.accessDuration = ONE_DAY;
    let dataset = as_publisher.publish(eth_params).await?;
    ensure!(dataset.asset_id == U256::from(1), "first asset id is {}", dataset.asset_id);

    // Created after the deployment, so not on the DAO's currency allow-list until the DAO (here its
    // timelock, impersonated on anvil) allows it.
    let usd = MockStablecoin::deploy(chain.deployer.provider.clone()).await?;
    let price_usd: u128 = 5_000_000; // 5 mUSD
    let err = as_publisher
        .publish(publish_params(publisher.address, kind::MODEL, *usd.address(), price_usd))
        .await
        .err()
        .ok_or_else(|| eyre!("published in a currency the DAO has not allowed"))?;
    assert_eq!(
        err.revert(),
        Some(&Revert::Marketplace(MarketplaceErrors::Marketplace__CurrencyNotAllowed(
            Marketplace__CurrencyNotAllowed { currency: *usd.address() }
        )))
    );
    let receipt = allow_currency(chain.anvil.endpoint_url(), &chain.deployment, *usd.address()).await?;
    let allowed =
        receipt.decoded_log::<Marketplace::CurrencyAllowed>().ok_or_else(|| eyre!("no CurrencyAllowed"))?;
    assert_eq!(allowed.data.currency, *usd.address());
    assert!(tx::call("isCurrencyAllowed", chain.agora.marketplace.isCurrencyAllowed(*usd.address())).await?);
    let model = as_publisher
        .publish(publish_params(publisher.address, kind::MODEL, *usd.address(), price_usd))
        .await?;
    let asset = tx::call("getAsset", chain.agora.registry.getAsset(model.asset_id)).await?;
    assert_eq!(asset.accessToken, model.access_token);
    assert_eq!(asset.version, 1);

    // Buy two dataset tokens with ETH.
    let paid = U256::from(2 * price_eth);
    let receipt = tx::send(
        "buy with ETH",
        as_buyer
            .marketplace
            .buy(dataset.asset_id, U256::from(2), Address::ZERO, U256::from(price_eth))
            .value(paid),
    )
    .await?;
    let purchased =
        receipt.decoded_log::<Marketplace::Purchased>().ok_or_else(|| eyre!("no Purchased event"))?.data;
    assert_eq!(purchased.buyer, buyer.address);
    assert_eq!(purchased.amount, U256::from(2));
    assert_eq!(purchased.paid, paid);
    assert_eq!(purchased.fee, fee_of(paid, fee_bps));
    let dataset_token = as_buyer.access_token_at(dataset.access_token);
    assert_eq!(tx::call("balanceOf", dataset_token.balanceOf(buyer.address)).await?, U256::from(2));

    // Buy three model tokens with the stablecoin, approving through a permit in the same call.
    tx::send("mint mUSD", usd.mint(buyer.address, U256::from(1_000_000_000u64))).await?;
    let cost = U256::from(3 * price_usd);
    let deadline = U256::from(chain.now().await? + 3600);
    let marketplace = chain.deployment.contracts.marketplace;
    let permit =
        sign_permit(&buyer.signer, &buyer.provider, *usd.address(), marketplace, cost, deadline).await?;
    let splitter = chain.deployment.contracts.revenue_splitter;
    let splitter_before = tx::call("balanceOf", usd.balanceOf(splitter)).await?;
    tx::send(
        "buyWithPermit",
        as_buyer.marketplace.buyWithPermit(
            model.asset_id,
            U256::from(3),
            *usd.address(),
            U256::from(price_usd),
            permit,
        ),
    )
    .await?;
    assert_eq!(
        tx::call("balanceOf", usd.balanceOf(buyer.address)).await?,
        U256::from(1_000_000_000u64) - cost
    );
    assert_eq!(tx::call("balanceOf", usd.balanceOf(splitter)).await?, splitter_before + cost);
    assert_eq!(tx::call("allowance", usd.allowance(buyer.address, marketplace)).await?, U256::ZERO);
    let model_token = as_buyer.access_token_at(model.access_token);
    assert_eq!(tx::call("balanceOf", model_token.balanceOf(buyer.address)).await?, U256::from(3));

    // Consume one dataset token for the provider: a timed order.
    let receipt = tx::send("consume", dataset_token.consume(provider.address)).await?;
    let consumed_at = chain.timestamp_of(&receipt).await?;
    assert_eq!(tx::call("balanceOf", dataset_token.balanceOf(buyer.address)).await?, U256::from(1));
    assert_eq!(tx::call("ordersIssued", dataset_token.ordersIssued()).await?, U256::from(1));

    // Buy-and-consume a model token in one call with a fresh permit: a single-use order.
    let permit = sign_permit(
        &buyer.signer,
        &buyer.provider,
        *usd.address(),
        marketplace,
        U256::from(price_usd),
        deadline,
    )
    .await?;
    tx::send(
        "buyAndConsumeWithPermit",
        as_buyer.marketplace.buyAndConsumeWithPermit(
            model.asset_id,
            provider.address,
            *usd.address(),
            U256::from(price_usd),
            permit,
        ),
    )
    .await?;
    assert_eq!(tx::call("balanceOf", model_token.balanceOf(buyer.address)).await?, U256::from(3));

    // The provider sees both orders, and nothing bound to anyone else.
    let as_provider = chain.agora_as(&provider);
    let orders = as_provider.orders_for_provider(provider.address, chain.deployment.deployment_block).await?;
    assert_eq!(orders.len(), 2, "{orders:?}");
    let timed = &orders[0];
    assert_eq!(timed.asset_id, dataset.asset_id);
    assert_eq!(timed.access_token, dataset.access_token);
    assert_eq!(timed.order_id, U256::from(1));
    assert_eq!(timed.consumer, buyer.address);
    assert_eq!(timed.provider, provider.address);
    assert_eq!(timed.expires_at, consumed_at + u64::from(ONE_DAY));
    let single_use = &orders[1];
    assert_eq!(single_use.asset_id, model.asset_id);
    assert_eq!(single_use.order_id, U256::from(1));
    assert_eq!(single_use.consumer, buyer.address);
    assert_eq!(single_use.expires_at, 0);
    let stranger = chain.actor(4)?.address;
    assert!(as_provider.orders_for_provider(stranger, 0).await?.is_empty());

    // Only the registry's clones count as access tokens: not an account, not another contract.
    assert_eq!(as_provider.asset_of_access_token(dataset.access_token).await?, Some(dataset.asset_id));
    assert_eq!(as_provider.asset_of_access_token(stranger).await?, None);
    assert_eq!(as_provider.asset_of_access_token(marketplace).await?, None);
    let implementation = chain.deployment.contracts.access_token_implementation;
    assert_eq!(as_provider.asset_of_access_token(implementation).await?, None);
    Ok(())
}

#[tokio::test]
async fn a_revert_decodes_into_the_typed_error_with_its_values() -> Result<()> {
    let chain = Chain::start().await?;
    let publisher = chain.actor(1)?;
    let buyer = chain.actor(2)?;
    let price: u128 = 1_000_000_000_000_000;
    let asset = chain
        .agora_as(&publisher)
        .publish(publish_params(publisher.address, kind::DATASET, Address::ZERO, price))
        .await?;

    let max_price = U256::from(price - 1);
    let err = tx::send(
        "buy below price",
        chain
            .agora_as(&buyer)
            .marketplace
            .buy(asset.asset_id, U256::from(1), Address::ZERO, max_price)
            .value(max_price),
    )
    .await
    .err()
    .ok_or_else(|| eyre!("buying below the price succeeded"))?;

    let expected =
        Marketplace__PriceAboveMax { assetId: asset.asset_id, price: U256::from(price), maxPrice: max_price };
    assert_eq!(
        err.revert(),
        Some(&Revert::Marketplace(MarketplaceErrors::Marketplace__PriceAboveMax(expected.clone())))
    );
    assert_eq!(
        err.decode_revert::<MarketplaceErrors>(),
        Some(MarketplaceErrors::Marketplace__PriceAboveMax(expected))
    );
    let message = err.to_string();
    assert!(message.starts_with("buy below price: reverted with"), "{message}");
    assert!(message.contains("Marketplace__PriceAboveMax"), "{message}");

    // Unknown data decodes to nothing rather than to a wrong error.
    assert_eq!(Revert::decode(&[0xde, 0xad, 0xbe, 0xef]), None);
    Ok(())
}
