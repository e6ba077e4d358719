//! Printing results: aligned two-column tables for people, JSON for scripts.

use serde::Serialize;

/// Prints `value` as pretty JSON.
pub fn json(value: &impl Serialize) -> eyre::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Prints `rows` as a two-column table, the first column padded to its widest cell.
pub fn table(rows: &[(String, String)]) {
    let width = rows.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    for (key, value) in rows {
        println!("{key:<width$}  {value}");
    }
}

pub use agora_contracts::words::{duration, ether};

#[cfg(test)]
mod tests {
    use alloy::primitives::U256;

    #[test]
    fn ether_rounds_to_six_decimals_and_drops_trailing_zeros() {
        assert_eq!(super::ether(U256::from(1_500_000_000_000_000_000u128)), "1.5 ETH");
        assert_eq!(super::ether(U256::from(1_234_567_890_000_000u128)), "0.001234 ETH");
        assert_eq!(super::ether(U256::ZERO), "0 ETH");
    }
}
