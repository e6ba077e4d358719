//! The deployment manifest: where one deployment of the protocol lives, as JSON that every
//! other component (indexer, provider, CLI) reads instead of hard-coding addresses.

use std::{collections::BTreeMap, fs, io, path::Path};

use alloy::primitives::{Address, Bytes, TxHash, U256};
use serde::{Deserialize, Serialize};

pub use crate::deploy::Allocation;

/// One deployment of the whole protocol on one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The chain the contracts live on.
    pub chain_id: u64,
    /// Block of the first deployment transaction; indexers start syncing here.
    pub deployment_block: u64,
    /// The account that sent every deployment transaction (it keeps no role afterwards).
    pub deployer: Address,
    /// The protocol's contracts.
    pub contracts: ContractAddresses,
    /// Each created contract's ABI-encoded constructor arguments, by contract name, so anyone can
    /// rebuild its initcode and check the CREATE2 address or verify the source.
    #[serde(default)]
    pub constructor_args: BTreeMap<String, Bytes>,
    /// Every transaction of the deployment, in the order sent.
    pub transactions: Vec<DeploymentTransaction>,
    /// The AGORA allocation minted at deployment; absent from manifests written before the
    /// allocation existed (their deployer received the whole supply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation: Option<Allocation>,
    /// The vesting wallets of the allocation, in its order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vesting_wallets: Vec<VestingWallet>,
    /// The governance settings deployed (seconds), as `agora deploy --dry-run` printed them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governance: Option<GovernanceSettings>,
    /// Git revision of the contracts' sources, when the deployer knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_revision: Option<String>,
}

/// Addresses of the protocol's contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractAddresses {
    /// `AgoraToken`, the governance token (ERC20Votes).
    pub agora_token: Address,
    /// `AgoraTimelock`, which owns the protocol and holds the treasury.
    pub timelock: Address,
    /// `AgoraGovernor`, the DAO's governor (proposes to the timelock).
    pub governor: Address,
    /// `AssetRegistry`, the ERC-721 of assets.
    pub asset_registry: Address,
    /// `AccessToken` implementation that every asset's access-token clone delegates to.
    pub access_token_implementation: Address,
    /// `Marketplace`, where access tokens are bought.
    pub marketplace: Address,
    /// `RevenueSplitter`, deployed by the marketplace; pays contributors.
    pub revenue_splitter: Address,
    /// `ComputeMarket`, compute providers, jobs and their escrow.
    pub compute_market: Address,
    /// `AgoraRewards`, the rewards reserve paid out by epoch (the zero address in manifests
    /// written before it existed).
    #[serde(default)]
    pub rewards: Address,
}

impl ContractAddresses {
    /// Every contract above, in the order of the fields.
    pub fn all(&self) -> [Address; 9] {
        [
            self.agora_token,
            self.timelock,
            self.governor,
            self.asset_registry,
            self.access_token_implementation,
            self.marketplace,
            self.revenue_splitter,
            self.compute_market,
            self.rewards,
        ]
    }
}

/// One vesting wallet of a deployment's allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VestingWallet {
    /// Who it releases to.
    pub beneficiary: Address,
    /// The `AgoraVestingWallet`.
    pub wallet: Address,
}

/// The DAO's settings at deployment. Durations are seconds (the governor's clock is the block
/// timestamp).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GovernanceSettings {
    /// Seconds between a proposal and its vote.
    pub voting_delay: u64,
    /// Seconds a vote lasts.
    pub voting_period: u64,
    /// Seconds a vote stays open at least after a late quorum.
    pub vote_extension: u64,
    /// Seconds between queueing and executing.
    pub timelock_delay: u64,
    /// Votes needed to propose, in AGORA base units.
    pub proposal_threshold: U256,
    /// Quorum in percent of the supply.
    pub quorum_percent: u64,
    /// Who may cancel any proposal.
    pub guardian: Address,
    /// When rewards epoch 0 starts (unix seconds).
    pub rewards_epoch_start: u64,
    /// Seconds per rewards epoch.
    pub rewards_epoch_length: u64,
}

/// One transaction sent while deploying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentTransaction {
    /// What it did, e.g. `deploy AgoraToken` or `timelock.grantRole(PROPOSER_ROLE, governor)`.
    pub step: String,
    /// Its hash.
    pub tx_hash: TxHash,
    /// The block it was included in.
    pub block_number: u64,
}

/// Reading or writing a manifest failed.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read or written.
    #[error("deployment manifest {path}: {source}")]
    Io {
        /// The manifest's path.
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is not a valid manifest.
    #[error("deployment manifest {path} is not valid: {source}")]
    Json {
        /// The manifest's path.
        path: String,
        /// What is wrong with it.
        #[source]
        source: serde_json::Error,
    },
}

impl Deployment {
    /// Parses a manifest from JSON.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The manifest as pretty-printed JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and numbers into a String cannot fail.
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }

    /// Reads a manifest file.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, ManifestError> {
        let path = path.as_ref();
        let display = || path.display().to_string();
        let json =
            fs::read_to_string(path).map_err(|source| ManifestError::Io { path: display(), source })?;
        Self::from_json(&json).map_err(|source| ManifestError::Json { path: display(), source })
    }

    /// Writes the manifest to a file, creating its folder if needed.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), ManifestError> {
        let path = path.as_ref();
        let io_err = |source| ManifestError::Io { path: path.display().to_string(), source };
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io_err)?;
        }
        fs::write(path, self.to_json()).map_err(io_err)
    }

    /// The same deployment, labelled with the git revision of its sources.
    pub fn with_git_revision(mut self, revision: impl Into<String>) -> Self {
        self.git_revision = Some(revision.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{address, b256};

    fn sample() -> Deployment {
        let a = address!("0x00000000000000000000000000000000000000a1");
        Deployment {
            chain_id: 31337,
            deployment_block: 1,
            deployer: a,
            contracts: ContractAddresses {
                agora_token: a,
                timelock: a,
                governor: a,
                asset_registry: a,
                access_token_implementation: a,
                marketplace: a,
                revenue_splitter: a,
                compute_market: a,
                rewards: a,
            },
            constructor_args: BTreeMap::from([("AgoraToken".to_owned(), Bytes::from_static(&[1, 2]))]),
            transactions: vec![DeploymentTransaction {
                step: "deploy AgoraToken".into(),
                tx_hash: b256!("0x00000000000000000000000000000000000000000000000000000000000000ff"),
                block_number: 1,
            }],
            allocation: None,
            vesting_wallets: Vec::new(),
            governance: None,
            git_revision: None,
        }
    }

    #[test]
    fn json_round_trips_with_camel_case_keys() {
        let deployment = sample().with_git_revision("abc123");
        let json = deployment.to_json();
        for key in ["chainId", "deploymentBlock", "agoraToken", "constructorArgs", "txHash", "gitRevision"] {
            assert!(json.contains(&format!("\"{key}\"")), "missing {key} in {json}");
        }
        assert_eq!(Deployment::from_json(&json).unwrap(), deployment);
    }

    #[test]
    fn git_revision_is_optional() {
        let json = sample().to_json();
        assert!(!json.contains("gitRevision"));
        assert_eq!(Deployment::from_json(&json).unwrap().git_revision, None);
    }

    #[test]
    fn read_and_write_a_file() {
        let dir = std::env::temp_dir().join(format!("agora-manifest-{}", std::process::id()));
        let path = dir.join("deployments/31337.json");
        sample().write(&path).unwrap();
        assert_eq!(Deployment::read(&path).unwrap(), sample());
        fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(Deployment::read(&path), Err(ManifestError::Io { .. })));
    }
}
