//! Pure decoding: which Agora contract emitted a log, the typed event it carries, and the DAO
//! setting it changes; [`calls`] decodes the calls a governance proposal makes.
//!
//! Nothing here touches the network or the database, so every rule is unit-tested.
//!
//! Every string an event carries (a metadata CID, a vote reason, a proposal description, a
//! provider endpoint, a job's spec or result CID, a delist or dispute reason) is chosen by
//! whoever sent the transaction, and the contracts accept any bytes. [`decode`] hands out only
//! strings PostgreSQL can store, so no transaction can stop the sync: alloy already decodes
//! invalid UTF-8 lossily (each bad sequence becomes U+FFFD), and [`decode`] replaces each NUL,
//! the one valid character PostgreSQL's `text` and `jsonb` refuse, with U+FFFD as well.

pub mod calls;

use std::collections::HashMap;

use agora_contracts::{
    AccessToken::AccessTokenEvents, AgoraGovernor::AgoraGovernorEvents, AgoraRewards::AgoraRewardsEvents,
    AgoraTimelock::AgoraTimelockEvents, AgoraToken::AgoraTokenEvents, AssetRegistry::AssetRegistryEvents,
    ComputeMarket::ComputeMarketEvents, ContractAddresses, Deployment, Marketplace::MarketplaceEvents,
    RevenueSplitter::RevenueSplitterEvents,
};
use alloy::{
    primitives::{Address, B256, Bytes, U256},
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
    /// `AgoraRewards`: epochs funded and rewards claimed (kept as raw events).
    Rewards,
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
            Self::Rewards => "AgoraRewards",
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
    /// From `AgoraRewards`.
    Rewards(AgoraRewardsEvents),
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
    /// Unix time of the block: the log's `blockTimestamp` (or the header the sync read);
    /// `None` when the node gave neither.
    pub block_timestamp: Option<u64>,
    /// The sender of the transaction, read (from its receipt) only for the logs whose rows
    /// record it: votes, where it tells a relayer from the voter. `None` for the others.
    pub tx_from: Option<Address>,
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
            block_timestamp: log.block_timestamp,
            tx_from: None,
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

/// Decodes `log` as emitted by a contract of role `source`, its strings made storable
/// ([`sanitize`]).
///
/// This is the only place events are decoded: the batch writers (COPY, array-bound and
/// row-by-row), the discovery of access-token clones and the reorg rollback, which decodes the
/// stored raw logs again, all see the same values.
pub fn decode(source: Source, topics: &[B256], data: &[u8]) -> Decoded {
    macro_rules! dec {
        ($enum:ty, $variant:ident) => {{
            let name = topics.first().and_then(|t| <$enum>::name_by_selector(t.0)).unwrap_or("unknown");
            let event = <$enum>::decode_raw_log(topics, data).ok().map(Event::$variant).map(sanitize);
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
        Source::Rewards => dec!(AgoraRewardsEvents, Rewards),
    }
}

/// What replaces each NUL of an event's strings: U+FFFD REPLACEMENT CHARACTER, what alloy
/// already puts in place of invalid UTF-8, so every byte the indexer cannot keep reads the same.
///
/// Replacing rather than dropping keeps the value visibly altered (`bafy\0x` does not turn into
/// the different, possibly valid, `bafyx`); keeping the string at all, rather than skipping the
/// event, keeps the asset, vote or job it belongs to. A metadata CID holding U+FFFD is no CID,
/// and the metadata fetcher records it as a failure without asking IPFS.
pub const NUL_REPLACEMENT: char = '\u{fffd}';

/// The signatures of the events whose strings [`sanitize`] cleans: every event of the
/// protocol's contracts with a `string` (or `string[]`) parameter. A unit test checks the list
/// against the bindings, so an event that gains a string cannot be missed.
pub const EVENTS_WITH_STRINGS: &[&str] = &[
    "ProposalCreated(uint256,address,address[],uint256[],string[],bytes[],uint256,uint256,string)",
    "VoteCast(address,uint256,uint8,uint256,string)",
    "VoteCastWithParams(address,uint256,uint8,uint256,string,bytes)",
    "AssetPublished(uint256,address,address,uint8,bool,uint32,bytes32,string)",
    "MetadataUpdated(uint256,uint32,bytes32,string)",
    "AssetDelisted(uint256,string)",
    "AssetRelisted(uint256,string)",
    "ProviderRegistered(address,string,address,uint256,uint256)",
    "ProviderUpdated(address,string,address,uint256)",
    "JobOpened(uint256,address,address,uint256,uint256,uint256,uint256,address,uint256,uint64,string)",
    "ResultPosted(uint256,string,bytes32,uint64)",
    "JobDisputed(uint256,address,uint256,string)",
];

/// Replaces each NUL of `s` with [`NUL_REPLACEMENT`].
fn clean(s: &mut String) {
    if s.contains('\0') {
        *s = s.replace('\0', NUL_REPLACEMENT.encode_utf8(&mut [0; 4]));
    }
}

/// `event` with every string it carries free of NUL characters (see [`NUL_REPLACEMENT`]); the
/// events listed in [`EVENTS_WITH_STRINGS`] are the ones that carry any.
pub fn sanitize(mut event: Event) -> Event {
    use AgoraGovernorEvents as G;
    use AssetRegistryEvents as R;
    use ComputeMarketEvents as C;
    use MarketplaceEvents as M;
    match &mut event {
        Event::Governor(G::ProposalCreated(e)) => {
            e.signatures.iter_mut().for_each(clean);
            clean(&mut e.description);
        }
        Event::Governor(G::VoteCast(e)) => clean(&mut e.reason),
        Event::Governor(G::VoteCastWithParams(e)) => clean(&mut e.reason),
        Event::Registry(R::AssetPublished(e)) => clean(&mut e.metadataCid),
        Event::Registry(R::MetadataUpdated(e)) => clean(&mut e.metadataCid),
        Event::Marketplace(M::AssetDelisted(e)) => clean(&mut e.reasonCid),
        Event::Marketplace(M::AssetRelisted(e)) => clean(&mut e.reasonCid),
        Event::Compute(C::ProviderRegistered(e)) => clean(&mut e.endpoint),
        Event::Compute(C::ProviderUpdated(e)) => clean(&mut e.endpoint),
        Event::Compute(C::JobOpened(e)) => clean(&mut e.specCid),
        Event::Compute(C::ResultPosted(e)) => clean(&mut e.resultCid),
        Event::Compute(C::JobDisputed(e)) => clean(&mut e.reasonCid),
        _ => {}
    }
    event
}

/// A DAO setting some event changes, as the `setting` column of `governance_settings` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setting {
    /// The marketplace's fee on sales, in basis points (`ProtocolFeeUpdated`).
    ProtocolFeeBps,
    /// The compute market's fee on job payments, in basis points (`ParamsUpdated`).
    ComputeFeeBps,
    /// Blocks between a proposal and its vote (`VotingDelaySet`).
    VotingDelay,
    /// Blocks a vote lasts (`VotingPeriodSet`).
    VotingPeriod,
    /// Votes needed to propose (`ProposalThresholdSet`).
    ProposalThreshold,
    /// The quorum, in percent of the supply (`QuorumNumeratorUpdated`).
    QuorumPercent,
    /// Seconds between queueing and executing (the timelock's `MinDelayChange`).
    TimelockDelay,
}

impl Setting {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProtocolFeeBps => "protocol_fee_bps",
            Self::ComputeFeeBps => "compute_fee_bps",
            Self::VotingDelay => "voting_delay",
            Self::VotingPeriod => "voting_period",
            Self::ProposalThreshold => "proposal_threshold",
            Self::QuorumPercent => "quorum_percent",
            Self::TimelockDelay => "timelock_delay",
        }
    }

    /// The setting `event` changes, with its new value.
    pub fn changed_by(event: &Event) -> Option<(Setting, U256)> {
        use AgoraGovernorEvents as G;
        Some(match event {
            Event::Marketplace(MarketplaceEvents::ProtocolFeeUpdated(e)) => {
                (Setting::ProtocolFeeBps, U256::from(e.newFeeBps))
            }
            Event::Compute(ComputeMarketEvents::ParamsUpdated(e)) => {
                (Setting::ComputeFeeBps, U256::from(e.params.feeBps))
            }
            Event::Governor(G::VotingDelaySet(e)) => (Setting::VotingDelay, e.newVotingDelay),
            Event::Governor(G::VotingPeriodSet(e)) => (Setting::VotingPeriod, e.newVotingPeriod),
            Event::Governor(G::ProposalThresholdSet(e)) => {
                (Setting::ProposalThreshold, e.newProposalThreshold)
            }
            Event::Governor(G::QuorumNumeratorUpdated(e)) => (Setting::QuorumPercent, e.newQuorumNumerator),
            Event::Timelock(AgoraTimelockEvents::MinDelayChange(e)) => {
                (Setting::TimelockDelay, e.newDuration)
            }
            _ => return None,
        })
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
            (c.rewards, Source::Rewards),
        ]
        .into_iter()
        // A manifest from before AgoraRewards names the zero address for it.
        .filter(|(address, _)| !address.is_zero())
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
            rewards: a(9),
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

    /// Every event of the bindings with a string parameter is one [`sanitize`] cleans.
    #[test]
    fn every_event_with_a_string_is_sanitized() {
        let all = [
            AgoraTokenEvents::SIGNATURES,
            AgoraTimelockEvents::SIGNATURES,
            AgoraGovernorEvents::SIGNATURES,
            AssetRegistryEvents::SIGNATURES,
            MarketplaceEvents::SIGNATURES,
            RevenueSplitterEvents::SIGNATURES,
            ComputeMarketEvents::SIGNATURES,
            AccessTokenEvents::SIGNATURES,
            AgoraRewardsEvents::SIGNATURES,
        ];
        let mut with_strings: Vec<&str> =
            all.concat().into_iter().filter(|signature| signature.contains("string")).collect();
        with_strings.sort_unstable();
        with_strings.dedup();
        let mut listed = EVENTS_WITH_STRINGS.to_vec();
        listed.sort_unstable();
        assert_eq!(with_strings, listed);
    }

    /// Decodes `event` as emitted by `source`; panics when it does not decode.
    fn round_trip(source: Source, event: &impl SolEvent) -> Event {
        let log = event.encode_log_data();
        decode(source, log.topics(), &log.data).event.expect("decodes")
    }

    #[test]
    fn nul_characters_in_every_event_string_are_replaced() {
        use agora_contracts::{AgoraGovernor, ComputeMarket};
        let bad = || "a\0b\0".to_owned();
        let events = [
            round_trip(
                Source::Governor,
                &AgoraGovernor::ProposalCreated {
                    signatures: vec![bad(), "ok".into()],
                    description: bad(),
                    ..Default::default()
                },
            ),
            round_trip(Source::Governor, &AgoraGovernor::VoteCast { reason: bad(), ..Default::default() }),
            round_trip(
                Source::Governor,
                &AgoraGovernor::VoteCastWithParams { reason: bad(), ..Default::default() },
            ),
            round_trip(
                Source::Registry,
                &AssetRegistry::AssetPublished { metadataCid: bad(), ..Default::default() },
            ),
            round_trip(
                Source::Registry,
                &AssetRegistry::MetadataUpdated { metadataCid: bad(), ..Default::default() },
            ),
            round_trip(
                Source::Marketplace,
                &Marketplace::AssetDelisted { reasonCid: bad(), ..Default::default() },
            ),
            round_trip(
                Source::Marketplace,
                &Marketplace::AssetRelisted { reasonCid: bad(), ..Default::default() },
            ),
            round_trip(
                Source::Compute,
                &ComputeMarket::ProviderRegistered { endpoint: bad(), ..Default::default() },
            ),
            round_trip(
                Source::Compute,
                &ComputeMarket::ProviderUpdated { endpoint: bad(), ..Default::default() },
            ),
            round_trip(Source::Compute, &ComputeMarket::JobOpened { specCid: bad(), ..Default::default() }),
            round_trip(
                Source::Compute,
                &ComputeMarket::ResultPosted { resultCid: bad(), ..Default::default() },
            ),
            round_trip(
                Source::Compute,
                &ComputeMarket::JobDisputed { reasonCid: bad(), ..Default::default() },
            ),
        ];
        assert_eq!(events.len(), EVENTS_WITH_STRINGS.len());
        for event in &events {
            // Debug escapes a NUL as `\0` and prints U+FFFD as itself.
            let debug = format!("{event:?}");
            assert!(!debug.contains("\\0") && debug.contains("a\u{fffd}b\u{fffd}"), "{debug}");
        }
        match &events[0] {
            Event::Governor(AgoraGovernorEvents::ProposalCreated(e)) => {
                assert_eq!(e.signatures, ["a\u{fffd}b\u{fffd}", "ok"]);
                assert_eq!(e.description, "a\u{fffd}b\u{fffd}");
            }
            other => panic!("decoded as {other:?}"),
        }
    }

    /// alloy decodes a string lossily: invalid UTF-8 becomes U+FFFD, never an error, so an
    /// event with such a string is kept, and every string [`decode`] hands out is valid UTF-8.
    #[test]
    fn invalid_utf8_is_replaced_and_the_event_kept() {
        let event = AssetRegistry::AssetPublished { metadataCid: "bafyXYZ".into(), ..Default::default() };
        let log = event.encode_log_data();
        let mut data = log.data.to_vec();
        let at = data.windows(3).position(|w| w == b"XYZ").expect("the placeholder");
        data[at..at + 3].copy_from_slice(&[0xff, 0x00, 0xc3]);
        let decoded = decode(Source::Registry, log.topics(), &data);
        match decoded.event {
            Some(Event::Registry(AssetRegistryEvents::AssetPublished(e))) => {
                assert_eq!(e.metadataCid, "bafy\u{fffd}\u{fffd}\u{fffd}");
            }
            other => panic!("decoded as {other:?}"),
        }
    }

    #[test]
    fn settings_are_read_from_the_events_that_change_them() {
        use agora_contracts::{AgoraTimelock, compute_market::IComputeMarket::Params};
        let fee = round_trip(
            Source::Marketplace,
            &Marketplace::ProtocolFeeUpdated { oldFeeBps: 250, newFeeBps: 150 },
        );
        assert_eq!(Setting::changed_by(&fee), Some((Setting::ProtocolFeeBps, U256::from(150))));
        let params = Params {
            minStake: 1,
            disputeBond: 2,
            challengeWindow: 3,
            exitCooldown: 4,
            feeBps: 75,
            rulingWindow: 6,
        };
        let compute = round_trip(Source::Compute, &agora_contracts::ComputeMarket::ParamsUpdated { params });
        assert_eq!(Setting::changed_by(&compute), Some((Setting::ComputeFeeBps, U256::from(75))));
        let delay = AgoraTimelock::MinDelayChange { oldDuration: U256::ZERO, newDuration: U256::from(3_600) };
        let delay = round_trip(Source::Timelock, &delay);
        assert_eq!(Setting::changed_by(&delay), Some((Setting::TimelockDelay, U256::from(3_600))));
        assert_eq!(Setting::TimelockDelay.as_str(), "timelock_delay");
        let delisted = Marketplace::AssetDelisted { assetId: U256::from(1), reasonCid: String::new() };
        assert_eq!(Setting::changed_by(&round_trip(Source::Marketplace, &delisted)), None);
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
        assert_eq!(book.all_addresses().len(), 9);
        assert_eq!(book.fixed_addresses().len(), 8);
        book.forget_clones_after(9);
        assert_eq!(book.source_of(clone), None);
        assert_eq!(book.clone_count(), 0);
    }
}
