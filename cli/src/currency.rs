//! What a price is paid in: ETH or an ERC-20, and amounts in its units ("0.01 ETH", "2.5 mUSD").

use agora_contracts::erc::IERC20Metadata;
use alloy::{
    primitives::{
        Address, U256,
        utils::{format_units, parse_units},
    },
    providers::DynProvider,
};
use eyre::{Result, bail, eyre};

/// A sale currency as the user names it: `eth`, or an ERC-20's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Currency {
    /// Native ETH (address(0) on chain).
    Eth,
    /// An ERC-20 token.
    Token(Address),
}

impl Currency {
    /// Parses `eth` (any case) or a hex address.
    pub fn parse(text: &str) -> Result<Self> {
        if text.eq_ignore_ascii_case("eth") {
            return Ok(Self::Eth);
        }
        text.parse()
            .map(Self::from_address)
            .map_err(|_| eyre!("currency {text:?} is neither `eth` nor an ERC-20 address"))
    }

    /// The currency the protocol stores as `address` (address(0) is ETH).
    pub fn from_address(address: Address) -> Self {
        if address.is_zero() { Self::Eth } else { Self::Token(address) }
    }

    /// The on-chain form.
    pub fn address(self) -> Address {
        match self {
            Self::Eth => Address::ZERO,
            Self::Token(address) => address,
        }
    }

    /// The currency's units, read from the token for an ERC-20.
    pub async fn units(self, provider: &DynProvider) -> Result<Units> {
        let Self::Token(token) = self else { return Ok(Units::eth()) };
        let erc20 = IERC20Metadata::new(token, provider);
        let decimals = erc20
            .decimals()
            .call()
            .await
            .map_err(|_| eyre!("currency {token} is not an ERC-20 token (it has no decimals())"))?;
        let symbol = erc20.symbol().call().await.unwrap_or_else(|_| token.to_string());
        Ok(Units { symbol, decimals })
    }
}

/// How amounts of one currency are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Units {
    /// Ticker, e.g. `ETH`.
    pub symbol: String,
    /// Decimals of the smallest unit.
    pub decimals: u8,
}

impl Units {
    /// ETH: 18 decimals.
    pub fn eth() -> Self {
        Self { symbol: "ETH".into(), decimals: 18 }
    }

    /// `amount` base units with up to 6 decimals, e.g. `0.012345 ETH`.
    pub fn format(&self, amount: U256) -> String {
        let Ok(text) = format_units(amount, self.decimals) else {
            return format!("{amount} base units of {}", self.symbol);
        };
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let fraction = fraction.get(..6).unwrap_or(fraction).trim_end_matches('0');
        if fraction.is_empty() {
            format!("{whole} {}", self.symbol)
        } else {
            format!("{whole}.{fraction} {}", self.symbol)
        }
    }

    /// Parses a decimal amount (`0.01`) into base units.
    pub fn parse(&self, text: &str) -> Result<U256> {
        // parse_units would silently drop the digits beyond the currency's precision.
        let fraction = text.split_once('.').map_or("", |(_, fraction)| fraction);
        let decimals = self.decimals;
        if fraction.len() > usize::from(decimals) {
            bail!("{text:?} has more decimals than {} has ({decimals})", self.symbol);
        }
        parse_units(text, decimals).map(Into::into).map_err(|_| {
            eyre!("{text:?} is not an amount of {} (up to {} decimals)", self.symbol, self.decimals)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_trip_through_their_units() {
        let usd = Units { symbol: "mUSD".into(), decimals: 6 };
        assert_eq!(usd.parse("2.5").unwrap(), U256::from(2_500_000));
        assert_eq!(usd.format(U256::from(2_500_000)), "2.5 mUSD");
        assert_eq!(Units::eth().format(Units::eth().parse("0.01").unwrap()), "0.01 ETH");
        assert!(usd.parse("0.0000001").unwrap_err().to_string().contains("more decimals"));
        assert!(usd.parse("lots").is_err());
    }

    #[test]
    fn currencies_are_eth_or_an_address() {
        assert_eq!(Currency::parse("ETH").unwrap(), Currency::Eth);
        let token = "0x00000000000000000000000000000000000000aa";
        assert_eq!(Currency::parse(token).unwrap(), Currency::Token(token.parse().unwrap()));
        assert_eq!(Currency::from_address(Address::ZERO), Currency::Eth);
        assert!(Currency::parse("dollars").unwrap_err().to_string().contains("neither"));
    }
}
