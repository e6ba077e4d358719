//! The asset metadata document on IPFS (the registry's `metadataCid`), as far as the provider
//! reads it: where the content is and, for a private asset, how it is encrypted. Other fields
//! (name, description, license, …) are kept but not interpreted here.

use serde::{Deserialize, Serialize};

use crate::crypto::Encryption;

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

impl AssetMetadata {
    /// Whether the owner lets algorithm jobs over this dataset return their log
    /// ([`ALGORITHM_LOGS`]); absent or anything but `true` means no.
    pub fn algorithm_logs(&self) -> bool {
        self.extra.get(ALGORITHM_LOGS).and_then(serde_json::Value::as_bool).unwrap_or(false)
    }
}
