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
    /// Remote pinning services an asset published here must be kept by before it is minted.
    #[serde(default)]
    pub pinning: Option<PinningConfig>,
}

/// `[networks.<name>.pinning]`: before an asset published on this network goes on chain, its
/// metadata and content are pinned by at least `replicas` of these IPFS Pinning Service API
/// services, asked through the publisher's Kubo (`ipfs pin remote add`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinningConfig {
    /// How many services must report every CID pinned (the replication target).
    pub replicas: usize,
    /// How long publishing waits for them, seconds.
    #[serde(default = "default_pinning_wait")]
    pub wait_secs: u64,
    /// The services, asked in this order.
    pub services: Vec<PinningServiceConfig>,
}

fn default_pinning_wait() -> u64 {
    600
}

/// One pinning service: a name the publisher's Kubo knows it by; with `endpoint` and `key_env`
/// Agora (re)registers it there with the key from that environment variable, without them it
/// must already be configured (`ipfs pin remote service add`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinningServiceConfig {
    /// Its name in Kubo.
    pub name: String,
    /// Its Pinning Service API endpoint (e.g. `https://provider.example/pinning`).
    #[serde(default)]
    pub endpoint: Option<Url>,
    /// The environment variable holding its access token.
    #[serde(default)]
    pub key_env: Option<String>,
}

/// A pinning service ready to ask: its name, and the endpoint and key to register it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinningService {
    /// Its name in Kubo.
    pub name: String,
    /// Endpoint and key, when Agora registers it.
    pub register: Option<(Url, String)>,
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
    /// The network's `pinning` table cannot be used.
    #[error("network {name:?}, [pinning]: {message}")]
    Pinning {
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

    /// The network's pinning services with their keys read from the environment, the replica
    /// count and the wait; `None` when it names none. The target itself is checked where it is
    /// used (`agora_client::pins::Replication::new`), the same for every surface.
    pub fn pinning_services(
        &self,
        name: &str,
    ) -> Result<Option<(Vec<PinningService>, usize, std::time::Duration)>, NetworkError> {
        let Some(config) = &self.pinning else { return Ok(None) };
        let wrong = |message: String| NetworkError::Pinning { name: name.to_owned(), message };
        let mut services = Vec::with_capacity(config.services.len());
        for service in &config.services {
            let register = match (&service.endpoint, &service.key_env) {
                (None, None) => None,
                (Some(endpoint), Some(env)) => {
                    let key =
                        std::env::var(env).ok().filter(|key| !key.trim().is_empty()).ok_or_else(|| {
                            wrong(format!("service {:?} needs its access token in ${env}", service.name))
                        })?;
                    Some((endpoint.clone(), key.trim().to_owned()))
                }
                _ => {
                    return Err(wrong(format!(
                        "service {:?}: give both endpoint and key_env, or neither (then your Kubo must know it)",
                        service.name
                    )));
                }
            };
            services.push(PinningService { name: service.name.clone(), register });
        }
        Ok(Some((services, config.replicas, std::time::Duration::from_secs(config.wait_secs))))
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
            pinning: None,
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
    fn a_pinning_table_names_services_with_keys_from_the_environment() {
        let network = |table: &str| -> Network {
            toml::from_str(&format!("chain_id = 1\n[pinning]\n{table}")).unwrap_or_else(|err| panic!("{err}"))
        };
        // SAFETY: no other test reads or writes these variables.
        unsafe { std::env::set_var("AGORA_TEST_PIN_KEY", " token-1 ") };
        let two = "replicas = 1\n[[pinning.services]]\nname = \"a\"\nendpoint = \"https://pin.example/pinning\"\nkey_env = \"AGORA_TEST_PIN_KEY\"\n[[pinning.services]]\nname = \"b\"\n";
        let (services, replicas, wait) = network(two).pinning_services("x").unwrap().unwrap();
        assert_eq!((replicas, wait.as_secs()), (1, 600));
        assert_eq!(
            services[0].register.as_ref().map(|(url, key)| (url.as_str(), key.as_str())),
            Some(("https://pin.example/pinning", "token-1"))
        );
        assert_eq!(services[1], PinningService { name: "b".into(), register: None });
        assert_eq!(Networks::built_in().get("local").unwrap().pinning_services("local").unwrap(), None);

        let refused = [
            (
                "replicas = 1\n[[pinning.services]]\nname = \"a\"\nendpoint = \"https://x\"\n",
                "both endpoint and key_env",
            ),
            (
                "replicas = 1\n[[pinning.services]]\nname = \"a\"\nkey_env = \"AGORA_TEST_PIN_KEY\"\n",
                "both endpoint and key_env",
            ),
            (
                "replicas = 1\n[[pinning.services]]\nname = \"a\"\nendpoint = \"https://x\"\nkey_env = \"AGORA_TEST_UNSET_PIN_KEY\"\n",
                "$AGORA_TEST_UNSET_PIN_KEY",
            ),
        ];
        for (table, message) in refused {
            let err = network(table).pinning_services("x").unwrap_err().to_string();
            assert!(err.contains(message), "{table}: {err}");
        }
        assert!(
            toml::from_str::<Network>("chain_id = 1\n[pinning]\nreplicas = 1\nservices = []\ncopies = 2\n")
                .is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn redact_drops_credentials_paths_and_queries() {
        let url = Url::parse("https://user:secret@eth-sepolia.example.com/v2/APIKEY?x=1").unwrap();
        assert_eq!(redact(&url), "https://eth-sepolia.example.com");
    }
}
