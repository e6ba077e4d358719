//! What can go wrong in a user flow, in words.

use agora_contracts::words::{self, Units};
use alloy::primitives::{Address, B256, U256};

/// A user flow failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The provider could not be reached (refused connection, DNS, timeout).
    #[error("provider {url} is unreachable: {cause}")]
    Unreachable {
        /// The provider's URL.
        url: String,
        /// The transport error and its causes on one line.
        cause: String,
    },
    /// The URL answers, but not as an Agora provider.
    #[error("provider {url}: {problem}")]
    NotAProvider {
        /// The URL.
        url: String,
        /// What is wrong with its answer.
        problem: String,
    },
    /// The service at the URL is another provider than the one asked for.
    #[error("wrong provider: the service at {url} is {serves}, not {expected}")]
    WrongProvider {
        /// The URL.
        url: String,
        /// Whom it serves as (an address, or what it is instead).
        serves: String,
        /// The provider asked for.
        expected: Address,
    },
    /// The provider serves another chain.
    #[error("provider {url} serves chain {served}, not chain {expected}")]
    WrongChain {
        /// The provider's URL.
        url: String,
        /// The chain it serves.
        served: u64,
        /// The chain of the deployment in use.
        expected: u64,
    },
    /// The provider refused the request, with its reason.
    #[error("provider refused the {action} ({status}): {message}")]
    Refused {
        /// What was asked ("download", "job request", …).
        action: &'static str,
        /// The HTTP status.
        status: u16,
        /// The provider's `error` message.
        message: String,
    },
    /// Spending an access token needs one.
    #[error(
        "no access token: {holder} holds no access token of asset {asset} (buy one with `agora asset buy {asset}`)"
    )]
    NoAccessToken {
        /// The asset.
        asset: U256,
        /// Who holds none.
        holder: Address,
    },
    /// A currency address that is not an ERC-20 token.
    #[error("currency {token} is not an ERC-20 token (it has no decimals())")]
    NotACurrency {
        /// The address.
        token: Address,
    },
    /// The buyer cannot pay.
    #[error("insufficient funds: {holder} has {has}, buying {amount} access token(s) costs {cost}")]
    InsufficientFunds {
        /// The buyer.
        holder: Address,
        /// Its balance, in the currency's units.
        has: String,
        /// The cost, in the currency's units.
        cost: String,
        /// Access tokens asked for.
        amount: U256,
    },
    /// A transaction or call failed; a revert of the protocol reads as its sentence.
    #[error("{}", contract_message(.source, .units))]
    Contract {
        /// The failure.
        #[source]
        source: Box<agora_contracts::Error>,
        /// The units amounts in the sentence are written in.
        units: Units,
    },
    /// The download stopped before its end; what arrived is kept for a resume.
    #[error("the download broke off after {written} bytes ({reason})")]
    BrokenOff {
        /// Bytes in the `.part` file.
        written: u64,
        /// Why.
        reason: String,
    },
    /// A `.part` file holds more bytes than the content has.
    #[error("{part} holds {held} bytes, more than the content has: delete it and retry")]
    PartTooLong {
        /// The `.part` file.
        part: String,
        /// Its length.
        held: u64,
    },
    /// The bytes are not the ones recorded on chain.
    #[error(
        "sha-256 mismatch: the downloaded content has {actual}, asset {asset} records {expected} on chain"
    )]
    DigestMismatch {
        /// The asset.
        asset: U256,
        /// The digest on chain.
        expected: B256,
        /// The digest of what arrived.
        actual: B256,
    },
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Signing with the local key failed.
    #[error("signing the {what}: {source}")]
    Sign {
        /// What was being signed.
        what: &'static str,
        /// The signer's error.
        #[source]
        source: alloy::signers::Error,
    },
}

impl Error {
    /// A contract failure, its amounts in `units`.
    pub fn contract(source: agora_contracts::Error, units: &Units) -> Self {
        Self::Contract { source: Box::new(source), units: units.clone() }
    }

    /// The name of the protocol's custom error behind a contract failure
    /// (`Marketplace__PriceAboveMax`), when it reverted with one.
    pub fn revert_name(&self) -> Option<String> {
        let Self::Contract { source, .. } = self else { return None };
        let decoded = words::decoded(source.revert()?);
        let end = decoded.find([' ', '{', '(']).unwrap_or(decoded.len());
        Some(decoded[..end].to_owned())
    }
}

/// A revert's sentence when it has one, otherwise the failure as the bindings word it.
fn contract_message(source: &agora_contracts::Error, units: &Units) -> String {
    source.revert().and_then(|revert| words::sentence(revert, units)).unwrap_or_else(|| source.to_string())
}

/// An error and its causes on one line ("error sending request: … connection refused").
pub(crate) fn cause(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text = format!("{text}: {inner_text}");
        }
        source = inner.source();
    }
    text
}
