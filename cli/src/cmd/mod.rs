//! One module per command, each with its `Args` and a `run`.

pub mod algorithm;
pub mod asset;
pub mod dao;
pub mod deploy;
pub mod dev;
pub mod hub;
pub mod job;
pub mod provider;
pub mod rewards;
pub mod split;
pub mod wallet;
