//! Where an asset is kept: which known nodes pin each of its CIDs (its metadata document and its
//! content). The known nodes are the user's own Kubo and every active provider registered on the
//! ComputeMarket, each asked `GET /v1/pins/{cid}` at its registered endpoint; providers pin what
//! they serve on their own Kubo (`agora_provider::replicate`). A node that does not answer is
//! reported as such, never as holding nothing. Remote pinning services (the IPFS Pinning
//! Service API, reached through the user's Kubo with `ipfs pin remote`) are listed too, when
//! the caller names them.
//!
//! [`replicate`] is the other direction: before an asset is minted, it asks a network's
//! pinning services to keep its CIDs and waits until enough of them say `pinned`.

use std::time::{Duration, Instant};

use agora_contracts::{Agora, tx};
use agora_provider::storage::{RemotePin, Storage};
use alloy::primitives::{Address, U256};
use eyre::{Result, bail, eyre};
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
    /// A pinning service has the request and is not done: `queued` or `pinning`.
    Pending(String),
    /// A pinning service tried and failed.
    Failed,
    /// The node did not answer; why.
    Unreachable(String),
}

/// One known node and what it keeps of the asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// `kubo` for the user's own node, `provider` for a registered provider, `service` for a
    /// remote pinning service.
    pub kind: &'static str,
    /// The provider's address; `None` for the others.
    pub address: Option<Address>,
    /// A pinning service's name in the user's Kubo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
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
    /// The user's Kubo first, then the providers in registration order, then the pinning
    /// services asked about.
    pub nodes: Vec<Node>,
}

impl Placement {
    /// How many nodes pin `cid`.
    pub fn replicas(&self, index: usize) -> usize {
        self.nodes.iter().filter(|node| node.held.get(index) == Some(&Held::Pinned)).count()
    }
}

/// Asks every known node, and the pinning services named `services` in the user's Kubo, which of
/// asset `asset_id`'s CIDs it pins. The metadata is read from `storage`, which fetches it from
/// the network when it does not hold it.
pub async fn locate(
    agora: &Agora,
    storage: &Storage,
    asset_id: U256,
    services: &[String],
) -> Result<Placement> {
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
    nodes.push(Node { kind: "kubo", address: None, service: None, url: storage.api_url().to_owned(), held });
    let http = crate::provider::http_client();
    for provider in active_providers(agora).await? {
        let mut held = Vec::new();
        for cid in &cids {
            held.push(crate::provider::pinned(&http, &provider.endpoint, cid).await);
        }
        nodes.push(Node {
            kind: "provider",
            address: Some(provider.address),
            service: None,
            url: provider.endpoint,
            held,
        });
    }
    if !services.is_empty() {
        let known = storage.remote_services().await.unwrap_or_default();
        let refs: Vec<&str> = cids.iter().map(String::as_str).collect();
        for name in services {
            let url = known.iter().find(|s| &s.name == name).map(|s| s.endpoint.clone()).unwrap_or_default();
            let held = match storage.remote_pins(name, &refs).await {
                Ok(pins) => cids.iter().map(|cid| remote_held(&pins, cid)).collect(),
                Err(err) => vec![Held::Unreachable(err.to_string()); cids.len()],
            };
            nodes.push(Node { kind: "service", address: None, service: Some(name.clone()), url, held });
        }
    }
    Ok(Placement { asset_id, cids, nodes })
}

/// What a pinning service's requests for `cid` amount to: pinned if any is, else pending if any
/// is, else failed if any did, else not asked.
fn remote_held(pins: &[RemotePin], cid: &str) -> Held {
    let statuses: Vec<&str> =
        pins.iter().filter(|pin| pin.cid == cid).map(|pin| pin.status.as_str()).collect();
    if statuses.contains(&"pinned") {
        Held::Pinned
    } else if let Some(pending) = statuses.iter().find(|status| matches!(**status, "queued" | "pinning")) {
        Held::Pending((*pending).to_owned())
    } else if statuses.contains(&"failed") {
        Held::Failed
    } else {
        Held::NotPinned
    }
}

/// A pinning service to ask, by its name in the user's Kubo; with `register`, the endpoint and
/// access token to (re)register it under that name first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteService {
    /// Its name in Kubo.
    pub name: String,
    /// Endpoint and token.
    pub register: Option<(String, String)>,
}

/// What [`replicate`] asks: which services (in this order), how many must confirm, how long
/// to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication {
    services: Vec<RemoteService>,
    replicas: usize,
    wait: Duration,
}

impl Replication {
    /// `replicas` of `services` (named once each, endpoints over http or https) must keep every
    /// CID within `wait`; at least one, and no more than there are services.
    pub fn new(services: Vec<RemoteService>, replicas: usize, wait: Duration) -> Result<Self> {
        if services.is_empty() || replicas == 0 || replicas > services.len() {
            bail!(
                "pinning: replicas = {replicas} with {} services: it must be at least 1 and at most the number of services",
                services.len()
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for service in &services {
            let name = &service.name;
            if name.trim().is_empty() || name.len() > 255 || !seen.insert(name.as_str()) {
                bail!("pinning: service name {name:?} is empty, too long or given twice");
            }
            if let Some((endpoint, key)) = &service.register {
                if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                    bail!("pinning: service {name:?}: endpoint {endpoint:?} is not an http(s) URL");
                }
                if key.trim().is_empty() {
                    bail!("pinning: service {name:?} has an empty access token");
                }
            }
        }
        if wait.is_zero() {
            bail!("pinning: the wait must be at least a second");
        }
        Ok(Self { services, replicas, wait })
    }
}

/// One service's answer for the CIDs [`replicate`] asked it to keep, in their order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replica {
    /// The service's name in Kubo.
    pub service: String,
    /// `pinned`, `queued`, `pinning`, `failed`, `missing` (the service lost the request) or
    /// `unreachable: why`, per CID.
    pub statuses: Vec<String>,
}

impl Replica {
    fn holds_all(&self) -> bool {
        self.statuses.iter().all(|status| status == "pinned")
    }

    fn gave_up(&self) -> bool {
        self.statuses
            .iter()
            .any(|status| status == "failed" || status == "missing" || status.starts_with("unreachable"))
    }
}

/// Asks each of `replication`'s services, through the Kubo at `storage` (which holds the
/// content), to pin every one of `cids` (CID and request name), and waits until
/// `replication.replicas` of them report all pinned. A CID a service already has a live
/// request for is not asked again. Fails, with each service's answer, once the target can no
/// longer be met or the wait is over; `progress` hears every round of answers.
pub async fn replicate(
    storage: &Storage,
    replication: &Replication,
    cids: &[(String, String)],
    progress: &(dyn Fn(&[Replica]) + Send + Sync),
) -> Result<Vec<Replica>> {
    for service in &replication.services {
        if let Some((endpoint, key)) = &service.register {
            storage.set_remote_service(&service.name, endpoint, key).await?;
        }
    }
    let known = storage.remote_services().await?;
    let mut replicas = Vec::with_capacity(replication.services.len());
    let refs: Vec<&str> = cids.iter().map(|(cid, _)| cid.as_str()).collect();
    for service in &replication.services {
        let name = &service.name;
        if !known.iter().any(|s| &s.name == name) {
            bail!(
                "pinning service {name:?} is not configured in your Kubo: `ipfs pin remote service add {name} ENDPOINT KEY`, \
                 or give its endpoint and key_env in the network's [pinning] table"
            );
        }
        let statuses = match ask(storage, name, cids, &refs).await {
            Ok(()) => vec!["queued".to_owned(); cids.len()],
            Err(err) => vec![format!("unreachable: {err}"); cids.len()],
        };
        replicas.push(Replica { service: name.clone(), statuses });
    }
    let started = Instant::now();
    let mut silent = std::collections::BTreeMap::new();
    loop {
        progress(&replicas);
        let held = replicas.iter().filter(|replica| replica.holds_all()).count();
        let open = replicas.iter().filter(|replica| !replica.holds_all() && !replica.gave_up()).count();
        if held >= replication.replicas {
            return Ok(replicas);
        }
        let why = if held + open < replication.replicas {
            "too many services failed"
        } else if started.elapsed() >= replication.wait {
            "the wait is over"
        } else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            for replica in replicas.iter_mut().filter(|replica| !replica.gave_up() && !replica.holds_all()) {
                // A service that does not answer one round keeps its last statuses until the
                // wait is over; why is told if it ends there.
                match storage.remote_pins(&replica.service, &refs).await {
                    Ok(pins) => {
                        replica.statuses = cids.iter().map(|(cid, _)| remote_status(&pins, cid)).collect();
                        silent.remove(&replica.service);
                    }
                    Err(err) => {
                        silent.insert(replica.service.clone(), err.to_string());
                    }
                }
            }
            continue;
        };
        let answers: Vec<String> = replicas
            .iter()
            .map(|replica| {
                let mut statuses = replica.statuses.clone();
                statuses.dedup();
                match silent.get(&replica.service) {
                    Some(err) => {
                        format!("{}: {} (then no answer: {err})", replica.service, statuses.join(", "))
                    }
                    None => format!("{}: {}", replica.service, statuses.join(", ")),
                }
            })
            .collect();
        bail!(
            "{held} of the {} pinning services the network asks for keep every CID ({why}, after {}s): {}",
            replication.replicas,
            started.elapsed().as_secs(),
            answers.join("; ")
        );
    }
}

/// Asks `service` to pin each of `cids` it has no live request for.
async fn ask(storage: &Storage, service: &str, cids: &[(String, String)], refs: &[&str]) -> Result<()> {
    let pins = storage.remote_pins(service, refs).await?;
    for (cid, name) in cids {
        if !pins.iter().any(|pin| &pin.cid == cid && pin.status != "failed") {
            storage.remote_pin_add(service, cid, name).await?;
        }
    }
    Ok(())
}

/// A service's status for `cid` as [`Replica::statuses`] gives it.
fn remote_status(pins: &[RemotePin], cid: &str) -> String {
    match remote_held(pins, cid) {
        Held::Pinned => "pinned".into(),
        Held::Pending(status) => status,
        Held::Failed => "failed".into(),
        Held::NotPinned | Held::Unreachable(_) => "missing".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, register: Option<(&str, &str)>) -> RemoteService {
        RemoteService { name: name.into(), register: register.map(|(e, k)| (e.into(), k.into())) }
    }

    #[test]
    fn a_replication_target_is_reachable_and_its_services_well_formed() {
        let minute = Duration::from_secs(60);
        let two = vec![service("a", Some(("https://pin.example/pinning", "t"))), service("b", None)];
        assert!(Replication::new(two.clone(), 2, minute).is_ok());
        let refused = [
            (two.clone(), 3, minute, "at most the number of services"),
            (two.clone(), 0, minute, "at least 1"),
            (Vec::new(), 1, minute, "at least 1"),
            (vec![service("a", None), service("a", None)], 1, minute, "given twice"),
            (vec![service(" ", None)], 1, minute, "empty"),
            (vec![service("a", Some(("ftp://x", "t")))], 1, minute, "not an http(s) URL"),
            (vec![service("a", Some(("https://x", " ")))], 1, minute, "empty access token"),
            (two, 1, Duration::ZERO, "at least a second"),
        ];
        for (services, replicas, wait, message) in refused {
            let err = Replication::new(services, replicas, wait).unwrap_err().to_string();
            assert!(err.contains(message), "{err}");
        }
    }

    #[test]
    fn a_services_requests_for_a_cid_sum_up_to_its_best_status() {
        let pin = |cid: &str, status: &str| RemotePin {
            cid: cid.into(),
            name: String::new(),
            status: status.into(),
        };
        let pins = [
            pin("a", "failed"),
            pin("a", "pinned"),
            pin("b", "failed"),
            pin("b", "queued"),
            pin("c", "failed"),
        ];
        assert_eq!(remote_held(&pins, "a"), Held::Pinned);
        assert_eq!(remote_held(&pins, "b"), Held::Pending("queued".into()));
        assert_eq!(remote_held(&pins, "c"), Held::Failed);
        assert_eq!(remote_held(&pins, "d"), Held::NotPinned);
        assert_eq!(remote_status(&pins, "d"), "missing", "a request the service lost");
    }
}
