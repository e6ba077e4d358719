//! One module per command, each with its `Args` and a `run`.

pub mod deploy;
pub mod wallet;
