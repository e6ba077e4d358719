//! Governance: the DAO's proposals and their votes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
}

/// One proposal (`/proposals/{id}`) with its newest votes (at most 100) and how many there are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProposalDetail {
    /// The proposal's fields, as `/proposals` lists them.
    #[serde(flatten)]
    pub proposal: Proposal,
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
}
