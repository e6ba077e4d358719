//! Named networks: which chain id each name means and where its RPC endpoint comes from.
//!
//! The built-in list (`deploy/networks.toml`: local anvil, Sepolia, Base Sepolia, Polygon Amoy)
//! can be extended or overridden by a file of the same shape. Before anything is sent, the RPC's
//! chain id is compared with the network's, so a URL pointing at the wrong chain fails early.

use std::{collections::BTreeMap, fs, path::Path};

use alloy::providers::Provider;
use serde::Deserialize;
use url::Url;

use crate::dao::{AllocationConfig, DaoConfig};

/// The networks shipped with Agora.
const BUILT_IN: &str = include_str!("../networks.toml");

/// One named network.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// The chain id the network must report.
    pub chain_id: u64,
    /// A fixed RPC URL (local chains).
    #[serde(default)]
    pub rpc_url: Option<Url>,
    /// The environment variable holding the RPC URL (public networks; URLs often carry API keys).
    #[serde(default)]
    pub rpc_url_env: Option<String>,
    /// Governance settings for a deployment here (over the preset's).
    #[serde(default)]
    pub dao: Option<DaoConfig>,
    /// The AGORA allocation for a deployment here (instead of the preset's).
    #[serde(default)]
    pub allocation: Option<AllocationConfig>,
}

/// A set of named networks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Networks {
    /// Networks by name.
    pub networks: BTreeMap<String, Network>,
}

/// Resolving a network or checking its chain failed.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// No network has this name.
    #[error("unknown network {name:?}; known networks: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names that exist, comma-separated.
        known: String,
    },
    /// The network's RPC URL is not configured.
    #[error("network {name:?} has no RPC URL: set {env} or pass --rpc-url")]
    NoRpcUrl {
        /// The network.
        name: String,
        /// The environment variable that would hold it.
        env: String,
    },
    /// The RPC URL is not a valid URL.
    #[error("the RPC URL for network {name:?} is not a valid URL: {source}")]
    BadRpcUrl {
        /// The network.
        name: String,
        /// Why it does not parse.
        #[source]
        source: url::ParseError,
    },
    /// A networks file could not be read or parsed.
    #[error("networks file {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The RPC could not be asked for its chain id.
    #[error("cannot reach the RPC at {url}: {source}")]
    Unreachable {
        /// The endpoint (without credentials).
        url: String,
        /// The transport error.
        #[source]
        source: alloy::transports::TransportError,
    },
    /// The network's `dao` or `allocation` table cannot be deployed.
    #[error("network {name:?}: {message}")]
    Dao {
        /// The network.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The RPC serves another chain than the network's.
    #[error(
        "wrong chain: the RPC at {url} reports chain id {actual}, but network {name:?} is chain {expected}"
    )]
    WrongChain {
        /// The network.
        name: String,
        /// The endpoint (without credentials).
        url: String,
        /// The network's chain id.
        expected: u64,
        /// The RPC's chain id.
        actual: u64,
    },
}

impl Networks {
    /// The built-in networks.
    pub fn built_in() -> Self {
        // The built-in file is part of the crate and covered by a test; it always parses.
        toml::from_str(BUILT_IN).unwrap_or_else(|_| Self { networks: BTreeMap::new() })
    }

    /// The built-in networks, with those of `path` added or replacing them by name.
    pub fn with_file(path: &Path) -> Result<Self, NetworkError> {
        let file_error = |message: String| NetworkError::File { path: path.display().to_string(), message };
        let text = fs::read_to_string(path).map_err(|err| file_error(err.to_string()))?;
        let extra: Networks = toml::from_str(&text).map_err(|err| file_error(err.message().to_owned()))?;
        let mut networks = Self::built_in();
        networks.networks.extend(extra.networks);
        Ok(networks)
    }

    /// The network called `name`.
    pub fn get(&self, name: &str) -> Result<&Network, NetworkError> {
        self.networks.get(name).ok_or_else(|| NetworkError::Unknown {
            name: name.to_owned(),
            known: self.networks.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }
}

impl Network {
    /// The deployment parameters for this network: `preset` with its `dao` and `allocation`.
    pub fn deploy_params(
        &self,
        name: &str,
        preset: agora_contracts::DeployParams,
    ) -> Result<agora_contracts::DeployParams, NetworkError> {
        crate::dao::apply(preset, self.dao.as_ref(), self.allocation.as_ref())
            .map_err(|message| NetworkError::Dao { name: name.to_owned(), message })
    }

    /// The RPC URL: `override_url` if given, else the fixed URL, else the environment variable's.
    pub fn rpc_url(&self, name: &str, override_url: Option<&Url>) -> Result<Url, NetworkError> {
        if let Some(url) = override_url {
            return Ok(url.clone());
        }
        if let Some(url) = &self.rpc_url {
            return Ok(url.clone());
        }
        let env = self.rpc_url_env.clone().unwrap_or_else(|| format!("{}_RPC_URL", name.to_uppercase()));
        let value = std::env::var(&env)
            .ok()
            .filter(|value| !value.trim().is_empty())
            .ok_or_else(|| NetworkError::NoRpcUrl { name: name.to_owned(), env: env.clone() })?;
        Url::parse(value.trim()).map_err(|source| NetworkError::BadRpcUrl { name: name.to_owned(), source })
    }

    /// Fails unless `provider` (connected to `url`) serves this network's chain.
    pub async fn check_chain(
        &self,
        name: &str,
        url: &Url,
        provider: &impl Provider,
    ) -> Result<(), NetworkError> {
        let shown = redact(url);
        let actual = provider
            .get_chain_id()
            .await
            .map_err(|source| NetworkError::Unreachable { url: shown.clone(), source })?;
        if actual != self.chain_id {
            return Err(NetworkError::WrongChain {
                name: name.to_owned(),
                url: shown,
                expected: self.chain_id,
                actual,
            });
        }
        Ok(())
    }
}

/// `url` without credentials, query or path (RPC URLs often embed an API key), for messages.
pub fn redact(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
        (Some(host), None) => format!("{}://{host}", url.scheme()),
        _ => url.scheme().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use agora_contracts::DeployParams;

    use super::*;

    #[test]
    fn built_in_networks_parse_with_their_chain_ids() {
        let networks = Networks::built_in();
        let ids: Vec<(&str, u64)> =
            networks.networks.iter().map(|(name, network)| (name.as_str(), network.chain_id)).collect();
        assert_eq!(
            ids,
            [("base-sepolia", 84532), ("local", 31337), ("polygon-amoy", 80002), ("sepolia", 11_155_111)]
        );
    }

    #[test]
    fn public_testnets_govern_in_days_and_mint_nothing_to_the_deployer() {
        let networks = Networks::built_in();
        for name in ["sepolia", "base-sepolia", "polygon-amoy"] {
            let params = networks.get(name).unwrap().deploy_params(name, DeployParams::default()).unwrap();
            assert_eq!(
                (params.voting_delay, params.voting_period, params.vote_extension, params.timelock_min_delay),
                (86_400, 432_000, 86_400, 172_800),
                "{name}"
            );
            assert!(params.allocation.grants.is_empty() && params.allocation.vesting.is_empty(), "{name}");
        }
        let local = networks.get("local").unwrap().deploy_params("local", DeployParams::local()).unwrap();
        assert_eq!(local, DeployParams::local(), "the local preset is used as it is");
    }

    #[test]
    fn unknown_network_lists_the_known_ones() {
        let err = Networks::built_in().get("mainnet").unwrap_err().to_string();
        assert!(err.contains("unknown network \"mainnet\"") && err.contains("sepolia"), "{err}");
    }

    #[test]
    fn rpc_url_prefers_the_override_then_the_fixed_url_then_the_environment() {
        let networks = Networks::built_in();
        let local = networks.get("local").unwrap();
        let other = Url::parse("http://10.0.0.1:9545").unwrap();
        assert_eq!(local.rpc_url("local", Some(&other)).unwrap(), other);
        assert_eq!(local.rpc_url("local", None).unwrap().as_str(), "http://127.0.0.1:8545/");

        let custom = Network {
            chain_id: 1,
            rpc_url: None,
            rpc_url_env: Some("AGORA_TEST_UNSET_RPC".into()),
            dao: None,
            allocation: None,
        };
        let err = custom.rpc_url("custom", None).unwrap_err().to_string();
        assert!(err.contains("set AGORA_TEST_UNSET_RPC or pass --rpc-url"), "{err}");
    }

    #[test]
    fn a_file_adds_and_overrides_networks_and_bad_files_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("networks.toml");
        fs::write(&path, "[networks.local]\nchain_id = 1337\nrpc_url = \"http://127.0.0.1:7545\"\n[networks.devnet]\nchain_id = 5\nrpc_url_env = \"DEVNET_RPC\"\n").unwrap();
        let networks = Networks::with_file(&path).unwrap();
        assert_eq!(networks.get("local").unwrap().chain_id, 1337);
        assert_eq!(networks.get("devnet").unwrap().chain_id, 5);
        assert_eq!(networks.get("sepolia").unwrap().chain_id, 11_155_111);

        fs::write(&path, "[networks.x]\nchain_id = \"one\"\n").unwrap();
        let err = Networks::with_file(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("networks file {}", path.display())), "{err}");
        fs::write(&path, "[networks.x]\nchain_id = 1\nrpc = \"typo\"\n").unwrap();
        assert!(Networks::with_file(&path).unwrap_err().to_string().contains("unknown field"));
        let missing = dir.path().join("missing.toml");
        assert!(matches!(Networks::with_file(&missing), Err(NetworkError::File { .. })));
    }

    #[test]
    fn redact_drops_credentials_paths_and_queries() {
        let url = Url::parse("https://user:secret@eth-sepolia.example.com/v2/APIKEY?x=1").unwrap();
        assert_eq!(redact(&url), "https://eth-sepolia.example.com");
    }
}
