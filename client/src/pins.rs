//! Where an asset is kept: which known nodes pin each of its CIDs (its metadata document and its
//! content). The known nodes are the user's own Kubo and every active provider registered on the
//! ComputeMarket, each asked `GET /v1/pins/{cid}` at its registered endpoint; providers pin what
//! they serve on their own Kubo (`agora_provider::replicate`). A node that does not answer is
//! reported as such, never as holding nothing.

use agora_contracts::{Agora, tx};
use agora_provider::storage::Storage;
use alloy::primitives::{Address, U256};
use eyre::{Result, eyre};
use serde::Serialize;

use crate::keys::active_providers;

/// Whether one node keeps one CID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state", content = "reason")]
pub enum Held {
    /// Pinned (recursively): the node keeps it.
    Pinned,
    /// The node answered that it does not pin it.
    NotPinned,
    /// The node did not answer; why.
    Unreachable(String),
}

/// One known node and what it keeps of the asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// `kubo` for the user's own node, `provider` for a registered provider.
    pub kind: &'static str,
    /// The provider's address; `None` for the user's Kubo.
    pub address: Option<Address>,
    /// Its API URL.
    pub url: String,
    /// Each of the asset's CIDs, in [`Placement::cids`]' order.
    pub held: Vec<Held>,
}

/// Which nodes keep an asset's CIDs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// The asset.
    pub asset_id: U256,
    /// Its metadata document's CID, then its content's.
    pub cids: Vec<String>,
    /// The user's Kubo first, then the providers in registration order.
    pub nodes: Vec<Node>,
}

impl Placement {
    /// How many nodes pin `cid`.
    pub fn replicas(&self, index: usize) -> usize {
        self.nodes.iter().filter(|node| node.held.get(index) == Some(&Held::Pinned)).count()
    }
}

/// Asks every known node which of asset `asset_id`'s CIDs it pins. The metadata is read from
/// `storage`, which fetches it from the network when it does not hold it.
pub async fn locate(agora: &Agora, storage: &Storage, asset_id: U256) -> Result<Placement> {
    let asset = tx::call("registry.getAsset", agora.registry.getAsset(asset_id))
        .await
        .map_err(|err| eyre!("asset {asset_id}: {err}"))?;
    let metadata = crate::metadata(storage, &asset.metadataCid).await?;
    let cids = vec![asset.metadataCid.clone(), metadata.content.cid];
    let mut nodes = Vec::new();
    let mut held = Vec::new();
    for cid in &cids {
        held.push(match storage.is_pinned(cid).await {
            Ok(true) => Held::Pinned,
            Ok(false) => Held::NotPinned,
            Err(err) => Held::Unreachable(err.to_string()),
        });
    }
    nodes.push(Node { kind: "kubo", address: None, url: storage.api_url().to_owned(), held });
    let http = crate::provider::http_client();
    for provider in active_providers(agora).await? {
        let mut held = Vec::new();
        for cid in &cids {
            held.push(crate::provider::pinned(&http, &provider.endpoint, cid).await);
        }
        nodes.push(Node { kind: "provider", address: Some(provider.address), url: provider.endpoint, held });
    }
    Ok(Placement { asset_id, cids, nodes })
}
