//! agora-deploy: deploys the protocol and starts the local stack's services.
//!
//! - [`dao`]: a network's governance settings and AGORA allocation from `networks.toml`.
//! - [`demo`]: the generated data of `agora dev`'s demo catalogue.
//! - [`network`]: named networks (local anvil, Sepolia, Base Sepolia, Polygon Amoy) and the
//!   chain-id check made before anything is sent.
//! - [`protocol`]: deploying to a network and keeping its manifest `deployments/<chainId>.json`;
//!   dry runs on an anvil fork.
//! - [`services`]: throwaway local PostgreSQL clusters and Kubo daemons, used by `agora dev`
//!   and by every crate's tests.

pub mod dao;
pub mod demo;
pub mod network;
pub mod protocol;
pub mod services;
