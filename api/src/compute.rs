//! Compute: the providers that run jobs, and the jobs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::names;

/// A compute provider registered with the compute market.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComputeProvider {
    /// The provider: a lowercase 0x-prefixed address.
    pub provider: String,
    /// Its HTTP endpoint, as it registered it.
    pub endpoint: String,
    /// The currency of its price: a lowercase 0x-prefixed address, the zero address for ETH.
    pub currency: String,
    /// The price of one job: a decimal uint256 in the currency's base units.
    pub price: String,
    /// Its stake: a decimal uint256 in wei.
    pub stake: String,
    /// When its stake may be withdrawn after it asked to exit, in unix seconds; null (or 0)
    /// while it has not asked.
    pub exit_available_at: Option<i64>,
    /// Whether it takes jobs.
    pub active: bool,
    /// Jobs opened with it.
    pub jobs_count: i64,
    /// Of those, the jobs that paid it (finalized after the challenge window, or after a
    /// dispute that was rejected or expired): the ones with a `providerPayout`.
    pub finalized_count: i64,
    /// Of those, the jobs whose result was ever disputed, whatever the outcome.
    pub disputed_count: i64,
    /// Of those, the disputes the DAO ruled against it (the consumer refunded, its stake
    /// slashed when the ruling said so): status `ruled_against_provider`.
    pub ruled_against_count: i64,
}

/// Where a compute job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Opened and paid; waiting for the provider's result.
    Open,
    /// The provider posted a result; the challenge window is open until `challengeEnd`.
    ResultPosted,
    /// The result was challenged; waiting for the DAO's ruling.
    Disputed,
    /// Paid out to the provider.
    Finalized,
    /// The consumer was refunded (no result by the deadline).
    Refunded,
    /// The DAO ruled the provider at fault: consumer refunded, provider slashed.
    RuledAgainstProvider,
    /// The DAO rejected the dispute: the provider is paid.
    DisputeRejected,
    /// The DAO did not rule in time: the outcome fixed at the deadline applies.
    DisputeExpired,
    /// The provider declined the job: the consumer was refunded.
    Declined,
}

names!(JobStatus {
    Open => "open",
    ResultPosted => "result_posted",
    Disputed => "disputed",
    Finalized => "finalized",
    Refunded => "refunded",
    RuledAgainstProvider => "ruled_against_provider",
    DisputeRejected => "dispute_rejected",
    DisputeExpired => "dispute_expired",
    Declined => "declined",
});

impl JobStatus {
    /// Every status.
    pub const ALL: [JobStatus; 9] = [
        JobStatus::Open,
        JobStatus::ResultPosted,
        JobStatus::Disputed,
        JobStatus::Finalized,
        JobStatus::Refunded,
        JobStatus::RuledAgainstProvider,
        JobStatus::DisputeRejected,
        JobStatus::DisputeExpired,
        JobStatus::Declined,
    ];
}

/// A compute job: an algorithm run by a provider on a dataset, paid for up front.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// The job id: a decimal uint256.
    pub job_id: String,
    /// Who opened and paid for it: a lowercase 0x-prefixed address.
    pub consumer: String,
    /// The provider running it: a lowercase 0x-prefixed address.
    pub provider: String,
    /// The input dataset asset: a decimal uint256.
    pub dataset_id: String,
    /// The algorithm (or model) asset: a decimal uint256.
    pub algorithm_id: String,
    /// The access order spent on the dataset: a decimal uint256.
    pub order_id: String,
    /// The access order spent on the algorithm: a decimal uint256; null when it was free (no
    /// token spent).
    pub algorithm_order_id: Option<String>,
    /// The currency of the payment: a lowercase 0x-prefixed address, the zero address for ETH.
    pub currency: String,
    /// What the consumer paid: a decimal uint256 in the currency's base units.
    pub payment: String,
    /// The provider must post a result by then, in unix seconds.
    pub deadline: i64,
    /// The IPFS CID of the job's spec.
    pub spec_cid: String,
    /// Where the job stands.
    pub status: JobStatus,
    /// The IPFS CID of the posted result; null until posted.
    pub result_cid: Option<String>,
    /// The hash of the posted output: 0x-prefixed lowercase hex of 32 bytes; null until posted.
    pub output_hash: Option<String>,
    /// When the challenge window of the posted result closes, in unix seconds; null until
    /// posted.
    pub challenge_end: Option<i64>,
    /// What the provider was paid: a decimal uint256 in base units; null until paid.
    pub provider_payout: Option<String>,
    /// The protocol fee taken: a decimal uint256 in base units; null until paid.
    pub fee: Option<String>,
    /// What the consumer got back: a decimal uint256 in base units; null unless refunded.
    pub refunded: Option<String>,
    /// Who challenged the result: a lowercase 0x-prefixed address; null when unchallenged.
    pub challenger: Option<String>,
    /// The block the job was opened in.
    pub opened_block: i64,
    /// The block of the job's last change.
    pub updated_block: i64,
    /// Every input asset of the job with the order spent on it: the dataset, then the
    /// algorithm or model (the same assets as `datasetId` and `algorithmId`).
    pub inputs: Vec<JobInput>,
    /// When the job was opened: unix seconds of `openedBlock`; null when the node gave no time
    /// for it.
    pub opened_at: Option<i64>,
    /// When the job last changed: unix seconds of `updatedBlock`; null when the node gave no
    /// time for it.
    pub updated_at: Option<i64>,
}

/// One input asset of a compute job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobInput {
    /// The asset: a decimal uint256.
    pub asset_id: String,
    /// Its role in the job: `dataset` (the data read) or `algorithm` (the algorithm or model
    /// run), the roles a derived asset's lineage names.
    pub role: String,
    /// The access order spent on it: a decimal uint256; null when none was (a free algorithm
    /// or model).
    pub order_id: Option<String>,
}
