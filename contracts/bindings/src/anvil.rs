//! DAO decisions taken on a local anvil chain by impersonating the timelock, for tests and local
//! setups that create contracts after the deployment (say, a mock stablecoin) and need the DAO's
//! consent for them without a full governance round (proposal, vote, queue, execute).
//!
//! Only a development node that accepts `anvil_impersonateAccount` and `anvil_setBalance`
//! (anvil, Hardhat) runs these; a real chain refuses them, so they cannot bypass its DAO.

use alloy::{
    contract::RawCallBuilder,
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi},
    rpc::types::TransactionReceipt,
    sol_types::SolCall,
    transports::http::reqwest::Url,
};

use crate::{
    Deployment, Marketplace,
    tx::{self, Error},
};

/// Puts `currency` on the protocol's currency allow-list (`Marketplace.allowCurrency`, which the
/// compute market reads too) as the DAO's timelock, impersonated on the anvil at `rpc_url`.
/// Returns the receipt (with its `CurrencyAllowed` event).
pub async fn allow_currency(
    rpc_url: Url,
    deployment: &Deployment,
    currency: Address,
) -> Result<TransactionReceipt, Error> {
    let call = Marketplace::allowCurrencyCall { currency };
    let action = format!("marketplace.allowCurrency({currency}) as the timelock");
    send_as_timelock(rpc_url, deployment, deployment.contracts.marketplace, call.abi_encode(), action).await
}

/// Takes `currency` off the protocol's currency allow-list (`Marketplace.disallowCurrency`) as
/// the DAO's timelock, impersonated on the anvil at `rpc_url`. Returns the receipt.
pub async fn disallow_currency(
    rpc_url: Url,
    deployment: &Deployment,
    currency: Address,
) -> Result<TransactionReceipt, Error> {
    let call = Marketplace::disallowCurrencyCall { currency };
    let action = format!("marketplace.disallowCurrency({currency}) as the timelock");
    send_as_timelock(rpc_url, deployment, deployment.contracts.marketplace, call.abi_encode(), action).await
}

/// Funds rewards epoch `epoch` with `root` and `total` (`AgoraRewards.fundEpoch`) as the DAO's
/// timelock, impersonated on the anvil at `rpc_url`, instead of by proposal. Returns the receipt.
pub async fn fund_rewards_epoch(
    rpc_url: Url,
    deployment: &Deployment,
    epoch: U256,
    root: alloy::primitives::B256,
    total: U256,
) -> Result<TransactionReceipt, Error> {
    let call = crate::AgoraRewards::fundEpochCall { epoch_: epoch, root, total };
    let action = format!("rewards.fundEpoch({epoch}) as the timelock");
    send_as_timelock(rpc_url, deployment, deployment.contracts.rewards, call.abi_encode(), action).await
}

/// Sends `input` to `to` from the deployment's timelock, which the node signs for while it is
/// impersonated; the timelock is given 1 ETH for gas when it has less.
async fn send_as_timelock(
    rpc_url: Url,
    deployment: &Deployment,
    to: Address,
    input: Vec<u8>,
    action: String,
) -> Result<TransactionReceipt, Error> {
    let timelock = deployment.contracts.timelock;
    // No wallet: the node signs for the impersonated account (eth_sendTransaction).
    let provider = ProviderBuilder::new().connect_http(rpc_url).erased();
    impersonate(&provider, timelock).await?;
    let call = RawCallBuilder::new_raw(provider.clone(), Bytes::from(input)).to(to).from(timelock);
    let sent = tx::send(action, call).await;
    provider
        .anvil_stop_impersonating_account(timelock)
        .await
        .map_err(|source| Error::rpc("stop impersonating the timelock", source))?;
    sent
}

/// Lets the node sign for `account` and makes sure it can pay for gas.
async fn impersonate(provider: &DynProvider, account: Address) -> Result<(), Error> {
    provider
        .anvil_impersonate_account(account)
        .await
        .map_err(|source| Error::rpc(format!("impersonate {account} (is this anvil?)"), source))?;
    let one_ether = U256::from(10u64).pow(U256::from(18));
    let balance = provider
        .get_balance(account)
        .await
        .map_err(|source| Error::rpc(format!("read the balance of {account}"), source))?;
    if balance < one_ether {
        provider
            .anvil_set_balance(account, one_ether)
            .await
            .map_err(|source| Error::rpc(format!("fund {account} for gas"), source))?;
    }
    Ok(())
}
