//! Agora's contracts from Rust.
//!
//! - The bindings: one module per contract of `contracts/src` (and [`mocks`] for the test
//!   doubles of `contracts/test/mocks`), generated at build time by alloy's `sol!` from the
//!   artifacts foundry-compilers makes with `foundry.toml`'s settings and the pinned solc (the
//!   same bytecode as `forge build`, tested), so the Rust side can never drift from the Solidity. Each contract type (e.g. [`Marketplace`]) has `deploy`, `new` (an instance at an
//!   address), one builder per function, and typed events and errors. [`erc`] holds the
//!   standard interfaces (ERC-20, EIP-2612, ERC-5267, ERC-721) from the same compilation.
//! - [`Revert`] decodes revert data into the custom error of whichever contract raised it.
//! - [`manifest`]: the [`Deployment`] manifest, the JSON that says where a deployment lives.
//! - [`deploy`]: [`deploy_protocol`], the one place that knows the deployment order and wiring;
//!   deterministic CREATE2 addresses ([`deploy::plan`]) and idempotent re-runs.
//! - [`client`]: [`Agora`], the protocol's contracts as typed instances over one provider.
//! - [`ballot`]: votes and delegations signed off chain (EIP-712) and relayed by anyone.
//! - [`permit`]: signing EIP-2612 permits for paying with a stablecoin in one transaction.
//! - [`rewards`]: AGORA earned by use, per epoch, from the chain's own records, and the Merkle
//!   tree `AgoraRewards` pays it by.
//! - [`tx`]: sending transactions with errors that carry the step and the decoded revert.
//! - [`words`]: custom errors as sentences, job and proposal states by name, amounts in their
//!   currency's units: the one table the CLI, the hub and the Python package share.
//! - [`anvil`]: DAO decisions on a local anvil by impersonating the timelock (tests, local
//!   setups), e.g. [`anvil::allow_currency`] for a stablecoin created after the deployment.

mod generated {
    #![allow(missing_docs, unreachable_pub, clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/contracts.rs"));
}

pub mod anvil;
pub mod ballot;
pub mod client;
pub mod deploy;
pub mod manifest;
pub mod permit;
pub mod rewards;
pub mod tx;
pub mod words;

pub use client::{Agora, signing_provider};
pub use deploy::{DeployParams, deploy_protocol};
pub use generated::*;
pub use manifest::{ContractAddresses, Deployment, ManifestError};
pub use tx::Error;

/// A job's parameters as the marketplace's bindings name them, for its `buyAndOpenJob` (each
/// contract's bindings declare the struct anew).
impl From<compute_market::IComputeMarket::OpenJobParams> for marketplace::IComputeMarket::OpenJobParams {
    fn from(p: compute_market::IComputeMarket::OpenJobParams) -> Self {
        Self {
            datasetId: p.datasetId,
            algorithmId: p.algorithmId,
            provider: p.provider,
            specCid: p.specCid,
            currency: p.currency,
            maxPayment: p.maxPayment,
            deadline: p.deadline,
        }
    }
}
