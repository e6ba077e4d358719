//! EIP-2612 permits: a buyer signs an allowance off chain and the marketplace (or any spender)
//! submits it in the same transaction as the purchase.

use alloy::{
    primitives::{Address, B256, U256},
    providers::DynProvider,
    signers::Signer,
    sol,
    sol_types::Eip712Domain,
};

use crate::{
    erc::{IERC20Permit, IERC5267},
    marketplace::IMarketplace,
    tx::{self, Error},
};

sol! {
    /// The EIP-2612 typed-data struct a permit signs (fixed by the standard, not by our contracts).
    struct Permit {
        address owner;
        address spender;
        uint256 value;
        uint256 nonce;
        uint256 deadline;
    }
}

/// Signs a permit letting `spender` move `value` of `token` from `signer`'s account until
/// `deadline` (a unix time), reading the token's EIP-712 domain (ERC-5267) and the signer's
/// current nonce from the chain.
pub async fn sign_permit<S: Signer + Sync>(
    signer: &S,
    provider: &DynProvider,
    token: Address,
    spender: Address,
    value: U256,
    deadline: U256,
) -> Result<IMarketplace::Permit, Error> {
    let owner = signer.address();
    let domain = tx::call("token.eip712Domain()", IERC5267::new(token, provider).eip712Domain()).await?;
    let nonce = tx::call("token.nonces(owner)", IERC20Permit::new(token, provider).nonces(owner)).await?;
    let domain = Eip712Domain::new(
        Some(domain.name.into()),
        Some(domain.version.into()),
        Some(domain.chainId),
        Some(domain.verifyingContract),
        None,
    );
    let permit = Permit { owner, spender, value, nonce, deadline };
    let signature = signer
        .sign_typed_data(&permit, &domain)
        .await
        .map_err(|source| Error::Sign { action: format!("sign a permit for {token}"), source })?;
    Ok(IMarketplace::Permit {
        value,
        deadline,
        v: 27 + u8::from(signature.v()),
        r: B256::from(signature.r()),
        s: B256::from(signature.s()),
    })
}
