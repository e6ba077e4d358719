//! Replication on IPFS itself: the provider pins, on its own Kubo, the metadata and content of
//! every asset it can serve, so an asset outlives the node it was published from.
//!
//! The [`Replicator`] follows the registry's `AssetPublished` and `MetadataUpdated` events from
//! the deployment block on. For each asset's newest metadata it decides whether this provider
//! serves it — a public asset, or an encrypted one whose content key is wrapped for this
//! provider; an encrypted asset keyed for others only is none of its business — and then pins
//! the metadata document and the content (recursively: a model's folder whole) with Kubo's
//! `pin add`, which fetches the blocks over bitswap from whichever peer holds them.
//!
//! Content that cannot be fetched yet (the publisher's node is offline, no peer has it) stays
//! pending and is tried again after a back-off that doubles per failure, up to
//! [`MAX_BACKOFF_PASSES`] passes. Metadata that is not an asset document is skipped for good.
//! Content larger than [`Settings::max_asset_bytes`] (by its root's cumulative size, which
//! `files stat` reads without fetching the rest) is not kept: the provider still serves it
//! from the network. Pins of superseded versions are kept (orders bought before an update may
//! still name them). The position is not persisted: a restarted provider scans again from the
//! deployment block, and pinning what is already pinned costs Kubo nothing.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use alloy::primitives::U256;
use tokio::task::JoinHandle;

use crate::{
    metadata::AssetMetadata,
    server::{ApiError, ProviderState, resolve_metadata},
    storage::{Storage, StorageError},
};

/// Blocks asked for in one `eth_getLogs`.
const LOG_RANGE: u64 = 10_000;

/// Most passes a failing asset waits before its next try.
pub const MAX_BACKOFF_PASSES: u32 = 64;

/// How the replicator runs (from the provider's `[replication]` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Time between two passes.
    pub every: Duration,
    /// How long one pin may take.
    pub pin_timeout: Duration,
    /// Largest content kept, bytes.
    pub max_asset_bytes: u64,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// CIDs pinned (metadata, then content, per asset).
    pub pinned: Vec<String>,
    /// Assets that are not this provider's to keep (encrypted for others, too large, not an
    /// asset document).
    pub skipped: Vec<U256>,
    /// Assets whose pins failed this time; they stay pending.
    pub failed: Vec<U256>,
}

/// An asset's newest metadata that is not pinned yet.
#[derive(Debug, Clone)]
struct Pending {
    metadata_cid: String,
    failures: u32,
    /// Passes to wait before the next try.
    wait: u32,
}

/// What became of one asset.
enum Outcome {
    Pinned(Vec<String>),
    Skipped(String),
}

/// Follows the registry and pins what this provider serves.
#[derive(Debug)]
pub struct Replicator {
    state: Arc<ProviderState>,
    /// The provider's Kubo with the pin deadline.
    storage: Storage,
    settings: Settings,
    next_block: u64,
    pending: BTreeMap<U256, Pending>,
}

impl Replicator {
    /// A replicator for `state`'s deployment, starting at its deployment block.
    pub fn new(state: Arc<ProviderState>, settings: Settings) -> Result<Self, StorageError> {
        let storage = Storage::new(state.storage().api_url(), settings.pin_timeout)?;
        let next_block = state.chain().deployment_block();
        Ok(Self { state, storage, settings, next_block, pending: BTreeMap::new() })
    }

    /// Runs a pass every [`Settings::every`] until the handle is aborted.
    pub fn spawn(mut self) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(self.settings.every);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match self.pass().await {
                    Ok(pass) if !pass.pinned.is_empty() || !pass.failed.is_empty() => {
                        tracing::info!(
                            pinned = pass.pinned.len(),
                            failed = pass.failed.len(),
                            "replication pass"
                        );
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "replication pass failed; trying again"),
                }
            }
        })
    }

    /// Reads the metadata named since the last pass and pins what this provider serves, with
    /// the assets still pending from earlier passes.
    pub async fn pass(&mut self) -> Result<Pass, crate::chain::ChainError> {
        let head = self.state.chain().head().await?;
        while self.next_block <= head {
            let to = head.min(self.next_block.saturating_add(LOG_RANGE - 1));
            for (asset, metadata_cid) in self.state.chain().metadata_named(self.next_block, to).await? {
                // A newer version replaces an older one not pinned yet.
                self.pending.insert(asset, Pending { metadata_cid, failures: 0, wait: 0 });
            }
            self.next_block = to + 1;
        }
        let mut pass = Pass::default();
        let due: Vec<(U256, String)> = self
            .pending
            .iter_mut()
            .filter_map(|(asset, pending)| {
                if pending.wait > 0 {
                    pending.wait -= 1;
                    return None;
                }
                Some((*asset, pending.metadata_cid.clone()))
            })
            .collect();
        for (asset, metadata_cid) in due {
            match self.replicate(&metadata_cid).await {
                Ok(Outcome::Pinned(cids)) => {
                    tracing::debug!(%asset, ?cids, "pinned");
                    self.pending.remove(&asset);
                    pass.pinned.extend(cids);
                }
                Ok(Outcome::Skipped(why)) => {
                    tracing::debug!(%asset, why, "not kept");
                    self.pending.remove(&asset);
                    pass.skipped.push(asset);
                }
                Err(err) => {
                    if let Some(pending) = self.pending.get_mut(&asset) {
                        pending.failures += 1;
                        pending.wait = (1u32 << pending.failures.min(6)).min(MAX_BACKOFF_PASSES) - 1;
                        tracing::warn!(%asset, error = %err, failures = pending.failures, "pinning failed; will retry");
                    }
                    pass.failed.push(asset);
                }
            }
        }
        Ok(pass)
    }

    /// Pins `metadata_cid` and its content when this provider serves the asset.
    async fn replicate(&self, metadata_cid: &str) -> Result<Outcome, String> {
        let metadata = match resolve_metadata(&self.state, metadata_cid).await {
            Ok(metadata) => metadata,
            Err(ApiError::BadMetadata(why)) => return Ok(Outcome::Skipped(format!("bad metadata: {why}"))),
            Err(err) => return Err(err.to_string()),
        };
        if let Some(why) = self.not_served(&metadata) {
            return Ok(Outcome::Skipped(why));
        }
        let content = &metadata.content.cid;
        let size = self.storage.stat(content).await.map_err(|err| err.to_string())?.cumulative_size;
        if size > self.settings.max_asset_bytes {
            return Ok(Outcome::Skipped(format!(
                "{size} bytes is more than max_asset_bytes ({})",
                self.settings.max_asset_bytes
            )));
        }
        for cid in [metadata_cid, content.as_str()] {
            self.storage.pin_add(cid).await.map_err(|err| err.to_string())?;
            self.state.keep(cid);
        }
        Ok(Outcome::Pinned(vec![metadata_cid.to_owned(), content.clone()]))
    }

    /// Why this provider does not serve an asset with `metadata`, if it does not.
    fn not_served(&self, metadata: &AssetMetadata) -> Option<String> {
        let encryption = metadata.content.encryption.as_ref()?;
        (!encryption.is_held_by(self.state.address())).then(|| "encrypted for other holders".to_owned())
    }
}
