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
//!
//! Failures are one [`Error`] whose variants callers can tell apart (a provider's refusal, a
//! digest mismatch, a revert with its sentence from [`agora_contracts::words`]).

pub mod card;
mod error;
pub mod keys;
pub mod market;
pub mod provider;
pub mod publish;

pub use error::Error;
