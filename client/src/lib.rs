//! `agora-client`: the user flows that every surface (the `agora` CLI, the Python package)
//! performs the same way, so each is written once.
//!
//! - [`market`]: buying access tokens (ETH, or an ERC-20 with an EIP-2612 permit: one
//!   signature and one transaction) and spending one for a provider (an access order).
//! - [`provider`]: a provider's `/v1/info`, the EIP-712 download request signed for it, and a
//!   download streamed to a `.part` file that a retry resumes with `Range`, kept only when its
//!   sha-256 is the digest recorded on chain.
//!
//! Failures are one [`Error`] whose variants callers can tell apart (a provider's refusal, a
//! digest mismatch, a revert with its sentence from [`agora_contracts::words`]).

mod error;
pub mod market;
pub mod provider;

pub use error::Error;
