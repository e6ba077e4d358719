//! Pure decoding: which Agora contract emitted a log, and the typed event it carries.
//!
//! Nothing here touches the network or the database, so every rule is unit-tested.

use std::collections::HashMap;

use agora_contracts::{
    AccessToken::AccessTokenEvents, AgoraGovernor::AgoraGovernorEvents, AgoraTimelock::AgoraTimelockEvents,
    AgoraToken::AgoraTokenEvents, AssetRegistry::AssetRegistryEvents, ComputeMarket::ComputeMarketEvents,
    ContractAddresses, Deployment, Marketplace::MarketplaceEvents, RevenueSplitter::RevenueSplitterEvents,
};
use alloy::{
    primitives::{Address, B256, Bytes},
    sol_types::SolEventInterface,
};

/// The contract a log came from, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// `AgoraToken`.
    Token,
    /// `AgoraTimelock`.
    Timelock,
    /// `AgoraGovernor`.
    Governor,
    /// `AssetRegistry`.
    Registry,
    /// `Marketplace`.
    Marketplace,
    /// `RevenueSplitter`.
    Splitter,
    /// `ComputeMarket`.
    Compute,
    /// One asset's access-token clone.
    AccessToken,
}

impl Source {
    /// The name stored with each event.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "AgoraToken",
            Self::Timelock => "AgoraTimelock",
            Self::Governor => "AgoraGovernor",
            Self::Registry => "AssetRegistry",
            Self::Marketplace => "Marketplace",
            Self::Splitter => "RevenueSplitter",
            Self::Compute => "ComputeMarket",
            Self::AccessToken => "AccessToken",
        }
    }
}

/// A typed event of one of the protocol's contracts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// From `AgoraToken`.
    Token(AgoraTokenEvents),
    /// From `AgoraTimelock`.
    Timelock(AgoraTimelockEvents),
    /// From `AgoraGovernor`.
    Governor(AgoraGovernorEvents),
    /// From `AssetRegistry`.
    Registry(AssetRegistryEvents),
    /// From `Marketplace`.
    Marketplace(MarketplaceEvents),
    /// From `RevenueSplitter`.
    Splitter(RevenueSplitterEvents),
    /// From `ComputeMarket`.
    Compute(ComputeMarketEvents),
    /// From an access-token clone.
    AccessToken(AccessTokenEvents),
}

/// A log as the sync hands it over: where it is, who emitted it and its raw contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLog {
    /// Block number.
    pub block_number: u64,
    /// Block hash.
    pub block_hash: B256,
    /// Index of the log within its block.
    pub log_index: u64,
    /// Transaction that emitted it.
    pub tx_hash: B256,
    /// Emitting contract.
    pub address: Address,
    /// Topics (the first is the event's signature hash).
    pub topics: Vec<B256>,
    /// Non-indexed data.
    pub data: Bytes,
}

impl RawLog {
    /// Converts an RPC log; `None` for a pending log (no block or position yet).
    pub fn from_rpc(log: &alloy::rpc::types::Log) -> Option<Self> {
        Some(Self {
            block_number: log.block_number?,
            block_hash: log.block_hash?,
            log_index: log.log_index?,
            tx_hash: log.transaction_hash?,
            address: log.address(),
            topics: log.topics().to_vec(),
            data: log.data().data.clone(),
        })
    }
}

/// A log decoded against its source's ABI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The emitting contract's role.
    pub source: Source,
    /// Event name, or `"unknown"` when the source's ABI has no event with this signature.
    pub name: &'static str,
    /// The typed event; `None` for an unknown signature or data that does not decode.
    pub event: Option<Event>,
}

/// Decodes `log` as emitted by a contract of role `source`.
pub fn decode(source: Source, topics: &[B256], data: &[u8]) -> Decoded {
    macro_rules! dec {
        ($enum:ty, $variant:ident) => {{
            let name = topics.first().and_then(|t| <$enum>::name_by_selector(t.0)).unwrap_or("unknown");
            let event = <$enum>::decode_raw_log(topics, data).ok().map(Event::$variant);
            Decoded { source, name, event }
        }};
    }
    match source {
        Source::Token => dec!(AgoraTokenEvents, Token),
        Source::Timelock => dec!(AgoraTimelockEvents, Timelock),
        Source::Governor => dec!(AgoraGovernorEvents, Governor),
        Source::Registry => dec!(AssetRegistryEvents, Registry),
        Source::Marketplace => dec!(MarketplaceEvents, Marketplace),
        Source::Splitter => dec!(RevenueSplitterEvents, Splitter),
        Source::Compute => dec!(ComputeMarketEvents, Compute),
        Source::AccessToken => dec!(AccessTokenEvents, AccessToken),
    }
}

/// Which address plays which role: the deployment's fixed contracts plus every access-token
/// clone discovered so far.
#[derive(Debug, Clone, Default)]
pub struct AddressBook {
    fixed: HashMap<Address, Source>,
    clones: HashMap<Address, u64>,
}

impl AddressBook {
    /// The fixed contracts of `deployment` (the access-token implementation emits nothing of
    /// interest: only its clones do).
    pub fn new(deployment: &Deployment) -> Self {
        Self::from_contracts(&deployment.contracts)
    }

    /// The fixed contracts at `c`.
    pub fn from_contracts(c: &ContractAddresses) -> Self {
        let fixed = [
            (c.agora_token, Source::Token),
            (c.timelock, Source::Timelock),
            (c.governor, Source::Governor),
            (c.asset_registry, Source::Registry),
            (c.marketplace, Source::Marketplace),
            (c.revenue_splitter, Source::Splitter),
            (c.compute_market, Source::Compute),
        ]
        .into_iter()
        .collect();
        Self { fixed, clones: HashMap::new() }
    }

    /// The role of `address`, if it is one of ours.
    pub fn source_of(&self, address: Address) -> Option<Source> {
        self.fixed
            .get(&address)
            .copied()
            .or_else(|| self.clones.contains_key(&address).then_some(Source::AccessToken))
    }

    /// Records a clone created in block `block`; false when it was known already.
    pub fn add_clone(&mut self, address: Address, block: u64) -> bool {
        self.clones.insert(address, block).is_none()
    }

    /// Forgets clones created after `block` (a reorg removed them).
    pub fn forget_clones_after(&mut self, block: u64) {
        self.clones.retain(|_, created| *created <= block);
    }

    /// Whether `address` is a known clone.
    pub fn is_clone(&self, address: &Address) -> bool {
        self.clones.contains_key(address)
    }

    /// The fixed contracts' addresses.
    pub fn fixed_addresses(&self) -> Vec<Address> {
        let mut all: Vec<Address> = self.fixed.keys().copied().collect();
        all.sort();
        all
    }

    /// Every address to query: fixed contracts and clones.
    pub fn all_addresses(&self) -> Vec<Address> {
        let mut all: Vec<Address> = self.fixed.keys().chain(self.clones.keys()).copied().collect();
        all.sort();
        all
    }

    /// Number of known clones.
    pub fn clone_count(&self) -> usize {
        self.clones.len()
    }
}

/// The access-token clone an event announces, if it is the registry's `AssetPublished`.
pub fn published_clone(event: &Decoded) -> Option<Address> {
    match &event.event {
        Some(Event::Registry(AssetRegistryEvents::AssetPublished(e))) => Some(e.accessToken),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_contracts::{AccessToken, AssetRegistry, Marketplace};
    use alloy::{
        primitives::{U256, address, b256},
        sol_types::SolEvent,
    };

    fn contracts() -> ContractAddresses {
        let a = |n: u8| Address::with_last_byte(n);
        ContractAddresses {
            agora_token: a(1),
            timelock: a(2),
            governor: a(3),
            asset_registry: a(4),
            access_token_implementation: a(5),
            marketplace: a(6),
            revenue_splitter: a(7),
            compute_market: a(8),
        }
    }

    #[test]
    fn decodes_asset_published_and_finds_its_clone() {
        let clone = address!("0x00000000000000000000000000000000000000c1");
        let event = AssetRegistry::AssetPublished {
            assetId: U256::from(7),
            owner: address!("0x00000000000000000000000000000000000000a1"),
            accessToken: clone,
            kind: 1,
            computeOnly: false,
            accessDuration: 3600,
            contentDigest: b256!("0x0101010101010101010101010101010101010101010101010101010101010101"),
            metadataCid: "bafy".into(),
        };
        let log = event.encode_log_data();
        let decoded = decode(Source::Registry, log.topics(), &log.data);
        assert_eq!(decoded.name, "AssetPublished");
        assert_eq!(published_clone(&decoded), Some(clone));
        match decoded.event {
            Some(Event::Registry(AssetRegistryEvents::AssetPublished(e))) => assert_eq!(e, event),
            other => panic!("decoded as {other:?}"),
        }
    }

    #[test]
    fn decodes_marketplace_and_access_token_events() {
        let purchased = Marketplace::Purchased {
            assetId: U256::from(1),
            buyer: Address::with_last_byte(10),
            currency: Address::ZERO,
            amount: U256::from(2),
            freeAmount: U256::ZERO,
            paid: U256::from(200),
            fee: U256::from(5),
        };
        let log = purchased.encode_log_data();
        let decoded = decode(Source::Marketplace, log.topics(), &log.data);
        assert_eq!(decoded.name, "Purchased");
        assert_eq!(decoded.event, Some(Event::Marketplace(MarketplaceEvents::Purchased(purchased))));

        let consumed = AccessToken::AccessConsumed {
            orderId: U256::from(1),
            consumer: Address::with_last_byte(10),
            provider: Address::with_last_byte(11),
            expiresAt: 0,
        };
        let log = consumed.encode_log_data();
        let decoded = decode(Source::AccessToken, log.topics(), &log.data);
        assert_eq!(decoded.name, "AccessConsumed");
        assert!(published_clone(&decoded).is_none());
    }

    #[test]
    fn unknown_signatures_and_bad_data_are_kept_as_unknown() {
        let topics = [B256::repeat_byte(0xee)];
        let decoded = decode(Source::Registry, &topics, &[]);
        assert_eq!(decoded.name, "unknown");
        assert!(decoded.event.is_none());

        // A known signature whose data is truncated keeps its name but has no typed event.
        let topics = [Marketplace::Purchased::SIGNATURE_HASH];
        let decoded = decode(Source::Marketplace, &topics, &[1, 2, 3]);
        assert_eq!(decoded.name, "Purchased");
        assert!(decoded.event.is_none());
    }

    #[test]
    fn address_book_knows_fixed_contracts_and_clones() {
        let mut book = AddressBook::from_contracts(&contracts());
        assert_eq!(book.source_of(Address::with_last_byte(6)), Some(Source::Marketplace));
        // The implementation is not followed: only clones emit per-asset events.
        assert_eq!(book.source_of(Address::with_last_byte(5)), None);
        let clone = Address::with_last_byte(50);
        assert!(book.add_clone(clone, 10));
        assert!(!book.add_clone(clone, 10));
        assert_eq!(book.source_of(clone), Some(Source::AccessToken));
        assert_eq!(book.all_addresses().len(), 8);
        assert_eq!(book.fixed_addresses().len(), 7);
        book.forget_clones_after(9);
        assert_eq!(book.source_of(clone), None);
        assert_eq!(book.clone_count(), 0);
    }
}
