//! What a price is paid in: ETH or an ERC-20, and amounts in its units ("0.01 ETH", "2.5 mUSD").

pub use agora_contracts::words::Units;
use alloy::{primitives::Address, providers::DynProvider};
use eyre::{Result, eyre};

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
        Ok(agora_client::market::units(provider, self.address()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_eth_or_an_address() {
        assert_eq!(Currency::parse("ETH").unwrap(), Currency::Eth);
        let token = "0x00000000000000000000000000000000000000aa";
        assert_eq!(Currency::parse(token).unwrap(), Currency::Token(token.parse().unwrap()));
        assert_eq!(Currency::from_address(Address::ZERO), Currency::Eth);
        assert!(Currency::parse("dollars").unwrap_err().to_string().contains("neither"));
    }
}
