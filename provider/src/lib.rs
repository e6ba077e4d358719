//! agora-provider: token-gated data access and compute jobs over IPFS.
//!
//! A provider holds assets' content in a Kubo node and serves it to consumers who spent an
//! access token for it on chain (`AccessToken.consume`, which emits `AccessConsumed`).
//!
//! - [`storage`]: Kubo's RPC API, the workspace's one IPFS client (`agora-ipfs`) — streaming
//!   add/cat/get, pins, stat, sha-256 checked while streaming.
//! - [`crypto`]: private assets — ChaCha20-Poly1305 STREAM encryption in 64 KiB chunks (so a
//!   byte range decrypts on its own) with the content key wrapped by ECIES to each trusted
//!   provider's secp256k1 key; the header lives in the asset's metadata JSON on IPFS.
//! - [`metadata`]: the asset metadata document (content CID, size, encryption header).
//! - [`jobs`]: compute jobs — the EIP-712 job request, the spec document, the checks of an
//!   on-chain job, the signed receipt; [`worker`]: the bounded pool that fetches inputs, runs
//!   `agora-runtime`, adds the result to IPFS, posts it on chain, signs the receipt and, once
//!   the challenge window closed, finalizes the job to collect the payment; [`algorithm`]:
//!   `algorithm` jobs, the consumer's own WebAssembly module run in `agora-sandbox`.
//! - [`access`]: the EIP-712 download request and the pure checks of an order against it.
//! - [`chain`]: cached reads of assets and orders through alloy.
//! - [`replicate`]: pins, on the provider's own Kubo, every asset it serves (public, or keyed
//!   for it), following the registry's events, so content outlives its publisher's node.
//! - [`pinning`]: the IPFS Pinning Service API at `/pinning`, over the provider's Kubo, for
//!   the publishers the operator gave a token (`ipfs pin remote add`).
//! - [`db`]: SQLite (sqlx) for used nonces, served single-use orders and verified content.
//! - [`range`]: HTTP `Range` parsing.
//! - [`server`]: the axum service (`app`, `serve`); [`net`]: dropping clients that stop
//!   reading, send their headers too slowly or sit idle; [`config`]: file + env configuration.
//!
//! Policy decisions worth knowing:
//! - A single-use order counts as served once a response has streamed through the content's
//!   last byte; an interrupted download can therefore be resumed with a fresh signed
//!   request and a `Range`, and only one download of a single-use order runs at a time.
//! - The on-chain digest is the sha-256 of the plaintext. A full download holds back its last
//!   chunk until the digest matches, so a wrong file never arrives complete. Ranged downloads
//!   are served only from content that has been checked end to end once (remembered per CID
//!   and digest).

pub mod access;
pub mod algorithm;
mod bounded;
pub mod chain;
pub mod config;
pub mod crypto;
pub mod db;
pub mod jobs;
pub mod metadata;
pub mod metrics;
pub mod net;
pub mod pinning;
pub mod range;
pub mod replicate;
pub mod server;
pub mod verify;
pub mod worker;

pub use agora_ipfs as storage;
pub use server::{ApiError, Identity, Limits, ProviderState, app, serve};
