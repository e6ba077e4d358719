//! The asset metadata document on IPFS (the registry's `metadataCid`), as far as the provider
//! reads it: where the content is and, for a private asset, how it is encrypted. Other fields
//! (name, description, license, …) are kept but not interpreted here, except [`DerivedFrom`],
//! the lineage of an asset published from a compute job's output.

use alloy::primitives::B256;
use serde::{Deserialize, Serialize};

use crate::{crypto::Encryption, jobs::SignedReceipt};

/// Largest metadata document the provider fetches.
pub const MAX_METADATA_BYTES: usize = 256 * 1024;

/// An asset's metadata JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetMetadata {
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// Human-readable description.
    #[serde(default)]
    pub description: String,
    /// The content.
    pub content: ContentRef,
    /// Everything else, preserved.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Where an asset's content lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentRef {
    /// CID of the content (the ciphertext for a private asset).
    pub cid: String,
    /// Size of the (plaintext) content in bytes.
    pub size: u64,
    /// File name offered to downloaders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Present for private assets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

/// The metadata key by which a compute-only dataset's owner lets algorithm jobs return their
/// log (stdout and stderr) to the consumer: `"algorithmLogs": true`.
pub const ALGORITHM_LOGS: &str = "algorithmLogs";

/// The metadata key of the publisher's Markdown card (a README: what the asset is, how it was
/// made, how to use it), which the hub renders sanitized.
pub const CARD: &str = "card";

/// The metadata key of the asset's tags: an array of short lowercase words.
pub const TAGS: &str = "tags";

/// The metadata key of a public preview of a tabular asset: [`Sample`].
pub const SAMPLE: &str = "sample";

/// Most rows a [`Sample`] holds.
pub const MAX_SAMPLE_ROWS: usize = 20;
/// Most columns a [`Sample`] holds.
pub const MAX_SAMPLE_COLUMNS: usize = 40;
/// Longest cell of a [`Sample`], in characters (longer ones end with `…`).
pub const MAX_SAMPLE_CELL_CHARS: usize = 200;

/// A public preview of a tabular asset: the first rows of a sample file the publisher chose
/// (`agora asset publish --sample`), shown by the hub to anyone, so never the priced content
/// itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// The sample file's name.
    pub file_name: String,
    /// The column names.
    pub columns: Vec<String>,
    /// The first rows, each with one cell per column (empty where a row has none).
    pub rows: Vec<Vec<String>>,
}

/// The metadata key of an asset published from a compute job's output: [`DerivedFrom`].
pub const DERIVED_FROM: &str = "derivedFrom";

/// Where an asset published from a compute job's output comes from (`agora asset publish
/// --from-job`): the job, its output as posted on chain, the input assets it ran on, and the
/// provider's signed receipt when it served one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DerivedFrom {
    /// The ComputeMarket's job id, in decimal.
    pub job_id: String,
    /// The chain the job (and the input assets) live on.
    pub chain_id: u64,
    /// The output folder's CID, as the job's `ResultPosted` event names it.
    pub output_cid: String,
    /// The output hash posted on chain, which the published files were checked against.
    pub output_hash: B256,
    /// The one output file published, when the content is a single file of the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_file: Option<String>,
    /// The job's input assets.
    pub inputs: Vec<DerivedInput>,
    /// The part of every sale, in basis points, that the asset's split gives to the inputs'
    /// split recipients (as they were at publish time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_share_bps: Option<u16>,
    /// The provider's signed receipt for the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<SignedReceipt>,
}

/// One input asset of the job an asset was derived from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DerivedInput {
    /// The asset id, in decimal.
    pub asset_id: String,
    /// `dataset` or `algorithm` (the job's algorithm or model), as the ComputeMarket names them.
    pub role: String,
}

impl AssetMetadata {
    /// The document's [`DerivedFrom`]: `None` when it has none, an error when it is not one.
    pub fn derived_from(&self) -> Option<Result<DerivedFrom, serde_json::Error>> {
        self.extra.get(DERIVED_FROM).map(DerivedFrom::deserialize)
    }

    /// Whether the owner lets algorithm jobs over this dataset return their log
    /// ([`ALGORITHM_LOGS`]); absent or anything but `true` means no.
    pub fn algorithm_logs(&self) -> bool {
        self.extra.get(ALGORITHM_LOGS).and_then(serde_json::Value::as_bool).unwrap_or(false)
    }
}
