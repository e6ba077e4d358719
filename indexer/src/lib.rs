//! agora-indexer: every Agora contract event mirrored into PostgreSQL, reorg-safe and
//! exactly-once, and served over HTTP.
//!
//! - [`decode`]: pure code from a log to the typed event of the contract that emitted it, and
//!   the book of which address plays which role (fixed contracts, access-token clones).
//! - [`sync`]: follows the chain through alloy (ranged backfill with clone discovery, then
//!   block by block at the tip with reorg detection) and hands batches to [`db`].
//! - [`db`]: migrations, the checkpoint, raw events and the derived tables, each batch in one
//!   transaction; rollbacks recompute the derived tables from the raw events.
//! - [`pgcopy`]: PostgreSQL's binary `COPY` format, which [`db`] streams the append-only
//!   tables in with.
//! - [`metadata`]: asset metadata documents fetched once from IPFS (Kubo) for full-text search.
//! - [`api`]: the axum router over the tables, answering with `agora-api`'s types; its OpenAPI
//!   document is derived from the same routes.
//! - [`service`]: configuration and `run`, which wires the above together for the binary.
//! - [`testing`]: a synthetic catalogue of any size written straight into the tables, for the
//!   read side's benchmarks and tests.

pub mod api;
pub mod db;
pub mod decode;
pub mod metadata;
pub mod pgcopy;
pub mod service;
pub mod sync;
pub mod testing;
