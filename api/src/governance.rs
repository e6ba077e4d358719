//! Governance: the DAO's settings and treasury inflows, its proposals with their actions, and
//! their votes; the points of rewards by use.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::names;

/// Where a proposal stands, as its events say (a proposal that was never queued stays
/// `created`, whatever the vote's outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProposalStatus {
    /// Proposed; voting pending, running or over.
    Created,
    /// Passed and queued in the timelock until its `eta`.
    Queued,
    /// Executed.
    Executed,
    /// Canceled.
    Canceled,
}

names!(ProposalStatus {
    Created => "created",
    Queued => "queued",
    Executed => "executed",
    Canceled => "canceled",
});

impl ProposalStatus {
    /// Every status, in the order of a proposal's life.
    pub const ALL: [ProposalStatus; 4] =
        [ProposalStatus::Created, ProposalStatus::Queued, ProposalStatus::Executed, ProposalStatus::Canceled];
}

/// A governance proposal with its tallies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Proposal {
    /// The proposal id (the governor's hash of the proposal): a decimal uint256.
    pub proposal_id: String,
    /// Who proposed it: a lowercase 0x-prefixed address.
    pub proposer: String,
    /// The proposal's description.
    pub description: String,
    /// The block voting opens at: a decimal uint256.
    pub vote_start: String,
    /// The block voting closes at: a decimal uint256.
    pub vote_end: String,
    /// Where the proposal stands.
    pub status: ProposalStatus,
    /// When a queued proposal may be executed, in unix seconds (a decimal uint256); null until
    /// queued.
    pub eta: Option<String>,
    /// Votes for: a decimal uint256 of voting weight (governance-token base units).
    pub votes_for: String,
    /// Votes against: a decimal uint256 of voting weight.
    pub votes_against: String,
    /// Abstentions: a decimal uint256 of voting weight.
    pub votes_abstain: String,
    /// The block the proposal was created in.
    pub created_block: i64,
    /// When it was created: unix seconds of its block; null when the node gave no time for it.
    pub created_at: Option<i64>,
    /// The votes needed for it to pass (for and abstain votes count): the governor's
    /// `quorum(voteStart)`, a decimal uint256 of voting weight. The governor can only answer once
    /// the snapshot block `voteStart` is in the past, so the indexer asks then, once per
    /// proposal; null until it has (and again for a moment after a reorg across the snapshot).
    pub quorum: Option<String>,
    /// When it was queued: unix seconds of the block of its `ProposalQueued`; null until queued
    /// (or when the node gave no time for that block).
    pub queued_at: Option<i64>,
    /// When it was executed: unix seconds of the block of its `ProposalExecuted`; null until
    /// executed (or when the node gave no time for that block).
    pub executed_at: Option<i64>,
}

/// One proposal (`/proposals/{id}`) with its actions, its newest votes (at most 100) and how
/// many votes there are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProposalDetail {
    /// The proposal's fields, as `/proposals` lists them.
    #[serde(flatten)]
    pub proposal: Proposal,
    /// What it does once executed: the calls the timelock makes, in order, as its
    /// `ProposalCreated` event lists them.
    pub actions: Vec<ProposalAction>,
    /// The newest votes, newest first (at most 100); all of them: `/proposals/{id}/votes`.
    #[schema(max_items = 100)]
    pub votes: Vec<Vote>,
    /// How many votes there are in all.
    pub votes_count: i64,
}

/// One vote on a proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Vote {
    /// The voter: a lowercase 0x-prefixed address.
    pub voter: String,
    /// 0 against, 1 for, 2 abstain.
    pub support: i16,
    /// The voting weight cast: a decimal uint256 (governance-token base units).
    pub weight: String,
    /// The reason the voter gave; empty when none.
    pub reason: String,
    /// The block of the vote.
    pub block_number: i64,
    /// Who sent the vote's transaction when it was not the voter: the account that relayed the
    /// voter's EIP-712 signature (`castVoteBySig`) and paid its gas; a lowercase 0x-prefixed
    /// address. Null when the voter sent it, or for votes indexed before senders were recorded.
    pub relayer: Option<String>,
}

/// One call a proposal makes when it is executed (sent by the timelock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProposalAction {
    /// The contract or account called: a lowercase 0x-prefixed address.
    pub target: String,
    /// Which of the protocol's contracts the target is: `Marketplace`, `ComputeMarket`,
    /// `AssetRegistry`, `RevenueSplitter`, `AgoraGovernor`, `AgoraTimelock` or `AgoraToken`;
    /// null for any other address (an ERC-20, a recipient of ETH, ...).
    pub target_name: Option<String>,
    /// The wei the call sends from the treasury: a decimal uint256.
    pub value: String,
    /// The call's calldata as proposed: 0x-prefixed lowercase hex (`0x` for a plain transfer of
    /// ETH).
    pub calldata: String,
    /// The function called, e.g. `setProtocolFee`, decoded against the ABI of the target's
    /// contract (an ERC-20's `transfer`, `approve` or `transferFrom` for a target that is none of
    /// the protocol's contracts); null when the calldata is empty or decodes as no function of
    /// that ABI.
    pub function: Option<String>,
    /// The decoded arguments, in order; empty when `function` is null. The governance functions
    /// (a fee, a fee recipient, a delisting, a currency, a dispute ruling, the compute market's
    /// parameters, the governor's settings, the timelock's delay and roles, token transfers) are
    /// named as in the contracts' ABI (`feeBps`, `assetId`, `jobId`, ...; the compute market's
    /// `setParams` lists the fields of its `Params`); any other function's are named `arg0`,
    /// `arg1`, ...
    pub args: Vec<ActionArg>,
}

/// One decoded argument of a [`ProposalAction`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionArg {
    /// The parameter's name in the ABI, e.g. `feeBps`.
    pub name: String,
    /// Its value: integers in decimal, addresses and bytes as 0x-prefixed lowercase hex, booleans
    /// `true` or `false`, strings as they are; arrays and tuples as `[a, b]` and `(a, b)` of the
    /// same.
    pub value: String,
}

/// The DAO as the indexed events say (`/governance`): its contracts, its settings, its proposals
/// and what the treasury was paid.
///
/// A setting is the newest value its contract emitted; null when no event ever carried it (the
/// indexer never asks the chain for it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Governance {
    /// `AgoraGovernor`: a lowercase 0x-prefixed address, from the deployment manifest.
    pub governor: String,
    /// `AgoraTimelock`, which executes proposals, owns the protocol and holds the treasury.
    pub timelock: String,
    /// `AgoraToken`, the votes token.
    pub token: String,
    /// The marketplace's protocol fee on each sale, in basis points: the newest
    /// `ProtocolFeeUpdated`, else the fee the marketplace was deployed with (its constructor emits
    /// no event; read from the manifest's constructor arguments); null when neither is known.
    pub protocol_fee_bps: Option<u32>,
    /// The compute market's fee on each job payment, in basis points: the `feeBps` of its newest
    /// `ParamsUpdated` (emitted at deployment too).
    pub compute_fee_bps: Option<u32>,
    /// Blocks between a proposal and the start of its vote: the newest `VotingDelaySet`
    /// (emitted at deployment too).
    pub voting_delay: Option<i64>,
    /// Blocks a vote lasts: the newest `VotingPeriodSet` (emitted at deployment too).
    pub voting_period: Option<i64>,
    /// Votes needed to make a proposal: the newest `ProposalThresholdSet`, a decimal uint256 of
    /// voting weight.
    pub proposal_threshold: Option<String>,
    /// The quorum in percent of the token's supply at a proposal's snapshot: the newest
    /// `QuorumNumeratorUpdated` (the governor's denominator is 100).
    pub quorum_percent: Option<i64>,
    /// Seconds between queueing a passed proposal and executing it: the timelock's newest
    /// `MinDelayChange`.
    pub timelock_delay: Option<i64>,
    /// How many proposals were made.
    pub proposals_count: i64,
    /// The protocol fees paid out to the treasury, per currency, smallest currency address
    /// first: the sum of every `FeesReleased` of the revenue splitter (fees on sales) and of the
    /// compute market (fees on jobs, slashed stakes, forfeited dispute bonds), whatever fee
    /// recipient they went to (the timelock unless the DAO named another). This is what flowed
    /// in, not the treasury's balance: fees still accrued in those contracts and what the DAO
    /// spent are not counted.
    pub treasury: Vec<TreasuryInflow>,
}

/// The protocol fees released to the treasury in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TreasuryInflow {
    /// The currency: a lowercase 0x-prefixed address, the zero address for ETH.
    pub currency: String,
    /// All released fees in this currency: a decimal integer in base units.
    pub amount: String,
    /// Of which from the revenue splitter (fees on sales).
    pub from_sales: String,
    /// Of which from the compute market (fees on jobs, slashes, forfeited bonds).
    pub from_compute: String,
}

/// Points earned by use between two times (`/rewards/usage`), by the formula of
/// `agora_contracts::rewards`: what an epoch's AGORA is shared by. The same as a recomputation
/// from the chain's raw logs, only faster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RewardsUsage {
    /// The window's first second (unix), included.
    pub start: i64,
    /// The window's end (unix), excluded.
    pub end: i64,
    /// Every account with points, smallest address first.
    pub accounts: Vec<AccountPoints>,
}

/// One account's points in a rewards window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountPoints {
    /// A lowercase 0x-prefixed address.
    pub account: String,
    /// Its points.
    pub points: u64,
}

/// The window of `/rewards/usage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RewardsWindow {
    /// The first second (unix), included.
    pub start: i64,
    /// The end (unix), excluded.
    pub end: i64,
}
