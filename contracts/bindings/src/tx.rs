//! Sending transactions and reading state, with failures that say which step failed and, for
//! reverts, which custom error of the protocol was raised with what values.

use std::time::Duration;

use alloy::{
    contract::{CallBuilder, CallDecoder},
    primitives::{Bytes, TxHash},
    providers::{PendingTransactionError, Provider},
    rpc::types::TransactionReceipt,
    sol_types::SolInterface,
    transports::TransportError,
};

use crate::Revert;

/// A protocol interaction failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A transaction or call was rejected before inclusion; for a revert, `revert` holds the
    /// decoded custom error when one of the protocol's contracts declares it.
    #[error("{action}: {}", describe(source, revert.as_ref()))]
    Contract {
        /// What was being done.
        action: String,
        /// The underlying error.
        #[source]
        source: alloy::contract::Error,
        /// The decoded custom error, if the call reverted with one of the protocol's errors.
        revert: Option<Revert>,
    },
    /// The transaction was sent but its receipt could not be obtained.
    #[error("{action}: waiting for the receipt: {source}")]
    Receipt {
        /// What was being done.
        action: String,
        /// The underlying error.
        #[source]
        source: PendingTransactionError,
    },
    /// The transaction was included but reverted.
    #[error("{action}: transaction {tx_hash} reverted")]
    Reverted {
        /// What was being done.
        action: String,
        /// The reverted transaction.
        tx_hash: TxHash,
    },
    /// A deployment transaction succeeded but its receipt names no contract.
    #[error("{action}: transaction {tx_hash} created no contract")]
    NoContractCreated {
        /// What was being done.
        action: String,
        /// The deployment transaction.
        tx_hash: TxHash,
    },
    /// A successful transaction did not emit the event the protocol promises.
    #[error("{action}: the receipt has no {event} event")]
    MissingEvent {
        /// What was being done.
        action: String,
        /// The event expected.
        event: &'static str,
    },
    /// A signer refused or failed to sign.
    #[error("{action}: {source}")]
    Sign {
        /// What was being signed.
        action: String,
        /// The underlying error.
        #[source]
        source: alloy::signers::Error,
    },
    /// The chain lacks the standard CREATE2 factory that deterministic deployment goes through.
    #[error(
        "chain {chain_id} has no CREATE2 factory at {factory}; deploy Arachnid's deterministic-deployment proxy there first"
    )]
    NoCreate2Factory {
        /// The chain.
        chain_id: u64,
        /// Where the factory should be.
        factory: alloy::primitives::Address,
    },
    /// The deployment's AGORA allocation cannot be minted as declared.
    #[error("the AGORA allocation is not valid: {0}")]
    InvalidAllocation(String),
    /// A plain RPC request failed.
    #[error("{action}: {source}")]
    Rpc {
        /// What was being done.
        action: String,
        /// The underlying error.
        #[source]
        source: TransportError,
    },
}

fn describe(source: &alloy::contract::Error, revert: Option<&Revert>) -> String {
    match revert {
        Some(revert) => format!("reverted with {}", crate::words::decoded(revert)),
        None => source.to_string(),
    }
}

impl Error {
    /// Wraps a contract error, decoding its revert data if it has any.
    pub fn contract(action: impl Into<String>, source: alloy::contract::Error) -> Self {
        let revert = source.as_revert_data().and_then(|data| Revert::decode(&data));
        Self::Contract { action: action.into(), source, revert }
    }

    /// Wraps a plain RPC error.
    pub fn rpc(action: impl Into<String>, source: TransportError) -> Self {
        Self::Rpc { action: action.into(), source }
    }

    /// The decoded custom error, if this is a revert with one of the protocol's errors.
    pub fn revert(&self) -> Option<&Revert> {
        match self {
            Self::Contract { revert, .. } => revert.as_ref(),
            _ => None,
        }
    }

    /// The raw revert data, if this is a revert that returned any.
    pub fn revert_data(&self) -> Option<Bytes> {
        match self {
            Self::Contract { source, .. } => source.as_revert_data(),
            _ => None,
        }
    }

    /// Decodes the revert into one contract's error enum, e.g. `Marketplace::MarketplaceErrors`.
    pub fn decode_revert<E: SolInterface>(&self) -> Option<E> {
        match self {
            Self::Contract { source, .. } => source.as_decoded_interface_error::<E>(),
            _ => None,
        }
    }
}

/// How long [`send`] waits for a receipt before giving up, so a transaction that is never
/// mined (a nonce gap, a stalled node) fails instead of hanging its caller.
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// Sends a contract transaction and waits (at most [`RECEIPT_TIMEOUT`]) for its successful receipt.
pub async fn send<P, D>(
    action: impl Into<String>,
    call: CallBuilder<P, D>,
) -> Result<TransactionReceipt, Error>
where
    P: Provider,
    D: CallDecoder,
{
    let action = action.into();
    let pending = match call.send().await {
        Ok(pending) => pending,
        Err(source) => return Err(Error::contract(action, source)),
    };
    let receipt = match pending.with_timeout(Some(RECEIPT_TIMEOUT)).get_receipt().await {
        Ok(receipt) => receipt,
        Err(source) => return Err(Error::Receipt { action, source }),
    };
    if !receipt.status() {
        return Err(Error::Reverted { action, tx_hash: receipt.transaction_hash });
    }
    Ok(receipt)
}

/// Performs a read-only call and decodes its result.
pub async fn call<P, D>(action: impl Into<String>, call: CallBuilder<P, D>) -> Result<D::CallOutput, Error>
where
    P: Provider,
    D: CallDecoder,
{
    call.call().await.map_err(|source| Error::contract(action, source))
}
