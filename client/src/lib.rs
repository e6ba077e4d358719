//! `agora-client`: the user flows that every surface (the `agora` CLI, the Python package)
//! performs the same way, so each is written once.
//!
//! - [`market`]: buying access tokens (ETH, or an ERC-20 with an EIP-2612 permit: one
//!   signature and one transaction) and spending one for a provider (an access order).
//! - [`provider`]: a provider's `/v1/info`, the EIP-712 download request signed for it, and a
//!   download streamed to a `.part` file that a retry resumes with `Range`, kept only when its
//!   sha-256 is the digest recorded on chain.
//! - [`keys`] and [`publish`]: who holds a new asset's content key, sealing content under it on
//!   its way to IPFS (one format for every surface), the metadata document and the asset on
//!   chain; [`card`] checks what the metadata shows people (card, tags, sample).
//! - [`pins`]: which known nodes (the user's Kubo, every active provider) keep an asset's
//!   metadata and content pinned.
//! - [`job`]: a compute job priced and checked before anything is signed, opened (buying the
//!   access tokens it spends in the same transaction), followed at its provider, its receipt and
//!   output checked against the chain, and re-executed locally to confirm or dispute it.
//!
//! Failures are one [`Error`] whose variants callers can tell apart (a provider's refusal, a
//! digest mismatch, a revert with its sentence from [`agora_contracts::words`]).

pub mod card;
mod error;
pub mod job;
pub mod keys;
pub mod market;
pub mod pins;
pub mod provider;
pub mod publish;

pub use error::Error;

use agora_provider::{
    metadata::{AssetMetadata, MAX_METADATA_BYTES},
    storage::Storage,
};

/// Asset metadata document `cid`, read from IPFS within the protocol's size bound.
pub async fn metadata(storage: &Storage, cid: &str) -> eyre::Result<AssetMetadata> {
    let bytes = storage
        .cat_to_vec(cid, MAX_METADATA_BYTES)
        .await
        .map_err(|err| eyre::eyre!("cannot read metadata {cid} from IPFS: {err}"))?;
    serde_json::from_slice(&bytes)
        .map_err(|err| eyre::eyre!("metadata {cid} is not an asset metadata document: {err}"))
}
