//! How values read on a page: amounts with their decimals, short addresses, identicons, times.

use std::{collections::BTreeMap, fmt::Write as _, sync::RwLock};

use maud::{Markup, PreEscaped, html};

/// The zero address: the native currency (ETH) wherever a currency is named.
pub(crate) const NATIVE: &str = "0x0000000000000000000000000000000000000000";

/// `raw` base units (a decimal uint256) with `decimals` decimals, trailing zeros dropped:
/// `("1500000000000000000", 18)` → `1.5`.
pub(crate) fn units(raw: &str, decimals: usize) -> String {
    let digits = raw.trim_start_matches('0');
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return if digits.is_empty() { "0".into() } else { raw.into() };
    }
    let padded = format!("{digits:0>width$}", width = decimals + 1);
    let (whole, fraction) = padded.split_at(padded.len() - decimals);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() { whole.to_owned() } else { format!("{whole}.{fraction}") }
}

/// The symbol and decimals of each ERC-20 the indexer has read (`GET /currencies`), by lowercase
/// address. A token's units never change, so one map serves every page; the hub refreshes it
/// ([`remember_units`]) as new currencies appear.
static TOKEN_UNITS: RwLock<BTreeMap<String, (String, u8)>> = RwLock::new(BTreeMap::new());

/// Records the units of `currencies` for [`amount`].
pub(crate) fn remember_units(currencies: &[agora_api::CurrencyUnits]) {
    let mut known = TOKEN_UNITS.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    for c in currencies.iter().filter(|c| !c.symbol.is_empty()) {
        known.insert(c.currency.to_ascii_lowercase(), (c.symbol.clone(), c.decimals));
    }
}

/// An amount of `currency`: ETH for the native currency, a token's amount in its units when the
/// indexer has read them (`2.5 mUSD`), else base units of the token.
pub(crate) fn amount(raw: &str, currency: Option<&str>) -> String {
    match currency {
        None | Some(NATIVE) => format!("{} ETH", units(raw, 18)),
        Some(token) => {
            let known = TOKEN_UNITS.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            match known.get(&token.to_ascii_lowercase()) {
                Some((symbol, decimals)) => format!("{} {symbol}", units(raw, usize::from(*decimals))),
                None => format!("{} units of {}", units(raw, 0), short(token)),
            }
        }
    }
}

/// `0x1234…abcd`.
pub(crate) fn short(address: &str) -> String {
    if address.len() <= 13 || !address.is_ascii() {
        return address.to_owned();
    }
    format!("{}…{}", &address[..6], &address[address.len() - 4..])
}

/// A short hash or CID: its first 10 and last 6 characters.
pub(crate) fn short_hash(hash: &str) -> String {
    if hash.len() <= 20 || !hash.is_ascii() {
        return hash.to_owned();
    }
    format!("{}…{}", &hash[..10], &hash[hash.len() - 6..])
}

/// A deterministic 5×5 mirrored identicon of an address as inline SVG: the same account always
/// looks the same, different ones rarely alike.
pub(crate) fn identicon(address: &str) -> Markup {
    let nibbles: Vec<u8> = address
        .trim_start_matches("0x")
        .bytes()
        .filter_map(|b| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok()))
        .collect();
    let at = |i: usize| nibbles.get(i % nibbles.len().max(1)).copied().unwrap_or(0);
    let hue = (u32::from(at(0)) * 16 + u32::from(at(1))) * 360 / 256;
    let mut cells = String::new();
    for row in 0..5 {
        for col in 0..3 {
            if at(2 + row * 3 + col) % 2 == 0 {
                let _ = write!(cells, "<rect x=\"{col}\" y=\"{row}\" width=\"1\" height=\"1\"/>");
                if col < 2 {
                    let _ = write!(cells, "<rect x=\"{}\" y=\"{row}\" width=\"1\" height=\"1\"/>", 4 - col);
                }
            }
        }
    }
    html! {
        svg.identicon viewBox="0 0 5 5" width="20" height="20" aria-hidden="true" fill=(format!("hsl({hue} 55% 45%)")) {
            (PreEscaped(cells))
        }
    }
}

/// An address as a link to its account page, with its identicon and a copy button.
pub(crate) fn address(address: &str) -> Markup {
    html! {
        span.address {
            (identicon(address))
            a href=(format!("/accounts/{address}")) title=(address) { code { (short(address)) } }
            button.copy type="button" data-copy=(address) aria-label=(format!("Copy address {address}")) { "Copy" }
        }
    }
}

/// A hash or CID in full, wrapped, with a copy button.
pub(crate) fn hash(label: &str, value: &str) -> Markup {
    html! {
        span.hash {
            code { (value) }
            button.copy type="button" data-copy=(value) aria-label=(format!("Copy {label}")) { "Copy" }
        }
    }
}

/// A byte count for people: `1.5 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

pub(crate) use agora_contracts::words::{duration, time};

/// Basis points as a percentage: `250` → `2.5 %`, `125` → `1.25 %`.
pub(crate) fn percent(bps: u64) -> String {
    let (whole, rest) = (bps / 100, bps % 100);
    match rest {
        0 => format!("{whole} %"),
        r if r % 10 == 0 => format!("{whole}.{} %", r / 10),
        r => format!("{whole}.{r:02} %"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(units("1500000000000000000", 18), "1.5");
        assert_eq!(units("0", 18), "0");
        assert_eq!(units("1", 18), "0.000000000000000001");
        assert_eq!(units("10000000000000000", 18), "0.01");
        assert_eq!(
            units("115792089237316195423570985008687907853269984665640564039457584007913129639935", 18).len(),
            79
        );
        assert_eq!(units("42", 0), "42");
        assert_eq!(amount("10000000000000000", Some(NATIVE)), "0.01 ETH");
        assert_eq!(amount("5", Some("0x5fbdb2315678afecb367f032d93f642f64180aa3")), "5 units of 0x5fbd…0aa3");
    }

    #[test]
    fn sizes_and_percentages() {
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(12), "12 B");
        assert_eq!(percent(250), "2.5 %");
        assert_eq!(percent(10_000), "100 %");
        assert_eq!(percent(125), "1.25 %");
    }

    #[test]
    fn identicons_differ() {
        let a = identicon("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266").into_string();
        let b = identicon("0x70997970c51812dc3a010c7d01b50e0d17dc79c8").into_string();
        assert_ne!(a, b);
        assert_eq!(a, identicon("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266").into_string());
        // Hostile input never breaks out of the SVG.
        assert!(!identicon("<script>").into_string().contains("<script"));
    }
}
