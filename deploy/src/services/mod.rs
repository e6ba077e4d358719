//! Local services started as child processes on loopback ports, each stopped when dropped,
//! and the model folder installed for compute.

pub mod anvil;
pub mod kubo;
pub mod model;
pub mod postgres;
