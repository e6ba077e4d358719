//! Buying access tokens and spending one for a provider.

use agora_contracts::{
    AccessToken, Agora,
    erc::{IERC20, IERC20Metadata},
    marketplace::Marketplace,
    permit::sign_permit,
    tx,
    words::Units,
};
use alloy::{
    primitives::{Address, TxHash, U256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
};

use crate::Error;

/// How long a buyer's EIP-2612 permit stays valid.
const PERMIT_LIFETIME_SECS: u64 = 3600;

/// What one purchase asks for.
#[derive(Debug, Clone)]
pub struct Purchase<'a> {
    /// The asset.
    pub asset: U256,
    /// Access tokens to buy (at least 1).
    pub amount: U256,
    /// The currency paid in (address(0) for ETH), as listed.
    pub currency: Address,
    /// The highest unit price accepted: the slippage guard.
    pub max_price: U256,
    /// The buyer's address.
    pub buyer: Address,
    /// The buyer's local key, which signs a permit for an ERC-20 purchase; without one (a
    /// hardware wallet) an `approve` transaction comes first.
    pub key: Option<&'a PrivateKeySigner>,
}

/// A purchase as the chain recorded it.
#[derive(Debug, Clone)]
pub struct Purchased {
    /// The `Purchased` event.
    pub event: Marketplace::Purchased,
    /// The transaction.
    pub tx_hash: TxHash,
}

/// Buys `purchase.amount` access tokens, checking an ETH buyer's balance first so that a
/// shortfall reads as one, not as a node's error. `units` words amounts in the currency.
pub async fn buy(agora: &Agora, purchase: &Purchase<'_>, units: &Units) -> Result<Purchased, Error> {
    let explain = |err| Error::contract(err, units);
    let Purchase { asset, amount, currency, max_price, buyer, key } = *purchase;
    let quote = tx::call("marketplace.quote", agora.marketplace.quote(asset, buyer, amount))
        .await
        .map_err(explain)?;
    let cost = quote.cost;
    let receipt = if currency.is_zero() {
        let balance = agora
            .provider()
            .get_balance(buyer)
            .await
            .map_err(|source| explain(agora_contracts::Error::rpc("eth_getBalance", source)))?;
        if balance < cost {
            return Err(Error::InsufficientFunds {
                holder: buyer,
                has: units.format(balance),
                cost: units.format(cost),
                amount,
            });
        }
        let call = agora.marketplace.buy(asset, amount, currency, max_price).value(cost);
        tx::send("marketplace.buy", call).await.map_err(explain)?
    } else {
        let marketplace = *agora.marketplace.address();
        match key {
            Some(key) => {
                let deadline = U256::from(unix_now() + PERMIT_LIFETIME_SECS);
                let permit = sign_permit(key, agora.provider(), currency, marketplace, cost, deadline)
                    .await
                    .map_err(explain)?;
                let call = agora.marketplace.buyWithPermit(asset, amount, currency, max_price, permit);
                tx::send("marketplace.buyWithPermit", call).await.map_err(explain)?
            }
            None => {
                let erc20 = IERC20::new(currency, agora.provider().clone());
                tx::send("approve", erc20.approve(marketplace, cost)).await.map_err(explain)?;
                let call = agora.marketplace.buy(asset, amount, currency, max_price);
                tx::send("marketplace.buy", call).await.map_err(explain)?
            }
        }
    };
    let event = receipt.decoded_log::<Marketplace::Purchased>().map(|log| log.data).ok_or_else(|| {
        explain(agora_contracts::Error::MissingEvent { action: "marketplace.buy".into(), event: "Purchased" })
    })?;
    Ok(Purchased { event, tx_hash: receipt.transaction_hash })
}

/// Spends one of `consumer`'s access tokens of asset `asset` (whose token is `token`) for
/// `provider`: the new access order's id.
pub async fn consume(
    agora: &Agora,
    asset: U256,
    token: Address,
    consumer: Address,
    provider: Address,
) -> Result<U256, Error> {
    let explain = |err| Error::contract(err, &Units::eth());
    let token = agora.access_token_at(token);
    let balance = tx::call("accessToken.balanceOf", token.balanceOf(consumer)).await.map_err(explain)?;
    if balance.is_zero() {
        return Err(Error::NoAccessToken { asset, holder: consumer });
    }
    let receipt = tx::send("accessToken.consume", token.consume(provider)).await.map_err(explain)?;
    let consumed = receipt.decoded_log::<AccessToken::AccessConsumed>().ok_or_else(|| {
        explain(agora_contracts::Error::MissingEvent {
            action: "accessToken.consume".into(),
            event: "AccessConsumed",
        })
    })?;
    Ok(consumed.data.orderId)
}

/// The units amounts of `currency` are written in: ETH for address(0), else the ERC-20's symbol
/// and decimals read from the token.
pub async fn units(provider: &DynProvider, currency: Address) -> Result<Units, Error> {
    if currency.is_zero() {
        return Ok(Units::eth());
    }
    let erc20 = IERC20Metadata::new(currency, provider);
    let decimals = erc20.decimals().call().await.map_err(|_| Error::NotACurrency { token: currency })?;
    let symbol = erc20.symbol().call().await.unwrap_or_else(|_| currency.to_string());
    Ok(Units { symbol, decimals })
}

/// Seconds since the Unix epoch by this machine's clock.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
