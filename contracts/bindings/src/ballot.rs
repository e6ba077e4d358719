//! Voting without gas: a holder signs an EIP-712 ballot (`castVoteBySig`) or delegation
//! (`delegateBySig`) off chain, and anyone relays it and pays the gas. The signature names the
//! governor or token contract and the chain in its EIP-712 domain and carries the signer's
//! nonce, so it counts once, on that contract of that chain only.
//!
//! A [`SignedMessage`] is the JSON file `agora dao vote --sign-only` and `agora dao delegate
//! --sign-only` write and `agora dao relay` sends.

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::DynProvider,
    rpc::types::TransactionReceipt,
    signers::Signer,
    sol,
    sol_types::Eip712Domain,
};
use serde::{Deserialize, Serialize};

use crate::{
    Agora,
    erc::IERC5267,
    tx::{self, Error},
};

sol! {
    /// OpenZeppelin Governor's ballot (`BALLOT_TYPEHASH`).
    struct Ballot {
        uint256 proposalId;
        uint8 support;
        address voter;
        uint256 nonce;
    }

    /// OpenZeppelin Votes' delegation (`DELEGATION_TYPEHASH`).
    struct Delegation {
        address delegatee;
        uint256 nonce;
        uint256 expiry;
    }
}

/// A vote or delegation signed off chain, ready for anyone to relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum SignedMessage {
    /// `castVoteBySig(proposalId, support, voter, signature)`.
    Vote {
        /// The chain the signature is for.
        chain_id: u64,
        /// The governor it is for.
        governor: Address,
        /// The proposal, as a decimal string.
        #[serde(with = "decimal")]
        proposal_id: U256,
        /// 0 against, 1 for, 2 abstain.
        support: u8,
        /// Who votes (the signer).
        voter: Address,
        /// The voter's governor nonce it was signed with.
        #[serde(with = "decimal")]
        nonce: U256,
        /// The 65-byte signature.
        signature: Bytes,
    },
    /// `delegateBySig(delegatee, nonce, expiry, v, r, s)`.
    Delegation {
        /// The chain the signature is for.
        chain_id: u64,
        /// The AGORA token it is for.
        token: Address,
        /// Who delegates (the signer).
        delegator: Address,
        /// Who receives the votes.
        delegatee: Address,
        /// The delegator's token nonce it was signed with.
        #[serde(with = "decimal")]
        nonce: U256,
        /// Unix time after which it is refused.
        #[serde(with = "decimal")]
        expiry: U256,
        /// The 65-byte signature.
        signature: Bytes,
    },
}

mod decimal {
    use alloy::primitives::U256;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(value: &U256, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<U256, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(|_| D::Error::custom(format!("{text:?} is not a decimal number")))
    }
}

/// The EIP-712 domain `contract` declares (ERC-5267).
async fn domain(provider: &DynProvider, contract: Address) -> Result<Eip712Domain, Error> {
    let d = tx::call("eip712Domain()", IERC5267::new(contract, provider).eip712Domain()).await?;
    Ok(Eip712Domain::new(
        Some(d.name.into()),
        Some(d.version.into()),
        Some(d.chainId),
        Some(d.verifyingContract),
        None,
    ))
}

/// Signs `signer`'s vote `support` on `proposal_id` for `agora`'s governor, with its current nonce.
pub async fn sign_vote<S: Signer + Sync>(
    signer: &S,
    agora: &Agora,
    proposal_id: U256,
    support: u8,
) -> Result<SignedMessage, Error> {
    let voter = signer.address();
    let governor = *agora.governor.address();
    let domain = domain(agora.provider(), governor).await?;
    let nonce = tx::call("governor.nonces(voter)", agora.governor.nonces(voter)).await?;
    let ballot = Ballot { proposalId: proposal_id, support, voter, nonce };
    let signature = signer
        .sign_typed_data(&ballot, &domain)
        .await
        .map_err(|source| Error::Sign { action: format!("sign a vote on proposal {proposal_id}"), source })?;
    Ok(SignedMessage::Vote {
        chain_id: agora.deployment.chain_id,
        governor,
        proposal_id,
        support,
        voter,
        nonce,
        signature: signature.as_bytes().into(),
    })
}

/// Signs `signer`'s delegation of its AGORA votes to `delegatee`, valid until `expiry`.
pub async fn sign_delegation<S: Signer + Sync>(
    signer: &S,
    agora: &Agora,
    delegatee: Address,
    expiry: U256,
) -> Result<SignedMessage, Error> {
    let delegator = signer.address();
    let token = *agora.token.address();
    let domain = domain(agora.provider(), token).await?;
    let nonce = tx::call("token.nonces(delegator)", agora.token.nonces(delegator)).await?;
    let delegation = Delegation { delegatee, nonce, expiry };
    let signature = signer
        .sign_typed_data(&delegation, &domain)
        .await
        .map_err(|source| Error::Sign { action: format!("sign a delegation to {delegatee}"), source })?;
    Ok(SignedMessage::Delegation {
        chain_id: agora.deployment.chain_id,
        token,
        delegator,
        delegatee,
        nonce,
        expiry,
        signature: signature.as_bytes().into(),
    })
}

/// Why a signed message was not relayed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// It was signed for another chain.
    #[error("the signature is for chain {signed}, this deployment is on chain {deployment}")]
    WrongChain {
        /// The chain it names.
        signed: u64,
        /// The deployment's.
        deployment: u64,
    },
    /// It was signed for another contract.
    #[error("the signature is for {signed}, this deployment's {what} is {deployment}")]
    WrongContract {
        /// Which contract.
        what: &'static str,
        /// The address it names.
        signed: Address,
        /// The deployment's.
        deployment: Address,
    },
    /// The signature is not 65 bytes.
    #[error("the signature is {0} bytes long, not 65")]
    BadSignature(usize),
    /// The transaction failed (the contract's revert says why: a used nonce, an expired
    /// delegation, a closed vote).
    #[error(transparent)]
    Send(Box<Error>),
}

impl From<Error> for RelayError {
    fn from(err: Error) -> Self {
        // Boxed: a revert's data is large, and every check of a message returns this type.
        Self::Send(Box::new(err))
    }
}

impl SignedMessage {
    /// Who signed it.
    pub fn signer(&self) -> Address {
        match self {
            Self::Vote { voter, .. } => *voter,
            Self::Delegation { delegator, .. } => *delegator,
        }
    }

    /// Fails unless it was signed for `agora`'s chain and contract.
    pub fn check(&self, agora: &Agora) -> Result<(), RelayError> {
        let deployment = agora.deployment.chain_id;
        let (chain_id, what, signed, expected, signature) = match self {
            Self::Vote { chain_id, governor, signature, .. } => {
                (*chain_id, "governor", *governor, *agora.governor.address(), signature)
            }
            Self::Delegation { chain_id, token, signature, .. } => {
                (*chain_id, "AGORA token", *token, *agora.token.address(), signature)
            }
        };
        if chain_id != deployment {
            return Err(RelayError::WrongChain { signed: chain_id, deployment });
        }
        if signed != expected {
            return Err(RelayError::WrongContract { what, signed, deployment: expected });
        }
        if signature.len() != 65 {
            return Err(RelayError::BadSignature(signature.len()));
        }
        Ok(())
    }
}

/// Checks `message` against `agora`'s deployment and sends it through `agora`'s provider (the
/// relayer pays the gas; the vote or delegation is the signer's).
pub async fn relay(agora: &Agora, message: &SignedMessage) -> Result<TransactionReceipt, RelayError> {
    message.check(agora)?;
    let receipt = match message {
        SignedMessage::Vote { proposal_id, support, voter, signature, .. } => {
            let call = agora.governor.castVoteBySig(*proposal_id, *support, *voter, signature.clone());
            tx::send("governor.castVoteBySig", call).await?
        }
        SignedMessage::Delegation { delegatee, nonce, expiry, signature, .. } => {
            let (r, s) = (B256::from_slice(&signature[..32]), B256::from_slice(&signature[32..64]));
            // Signatures carry v as 27/28 or as the parity 0/1; the token wants 27/28.
            let v = match signature[64] {
                v @ (27 | 28) => v,
                parity => 27 + (parity & 1),
            };
            let call = agora.token.delegateBySig(*delegatee, *nonce, *expiry, v, r, s);
            tx::send("token.delegateBySig", call).await?
        }
    };
    Ok(receipt)
}
