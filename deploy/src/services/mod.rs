//! Local services started as child processes on loopback ports, each stopped when dropped.

pub mod anvil;
pub mod kubo;
pub mod postgres;
