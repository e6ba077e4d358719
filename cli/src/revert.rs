//! CLI errors from protocol failures: a revert with a sentence in [`agora_contracts::words`]
//! reads as that sentence; anything else keeps the decoded error's own form.

use agora_contracts::words::{Units, sentence};

/// `err` as one error: its sentence when the revert has one, otherwise the error itself.
pub fn explain(err: agora_contracts::Error, units: &Units) -> eyre::Report {
    match err.revert().and_then(|revert| sentence(revert, units)) {
        Some(text) => eyre::eyre!(text),
        None => err.into(),
    }
}
