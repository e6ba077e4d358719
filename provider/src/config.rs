//! Configuration, layered: defaults → TOML file → `AGORA_PROVIDER_*` environment → flags
//! (applied by the binary). Secrets are not part of it: the key comes from
//! `AGORA_PROVIDER_PRIVATE_KEY` or an encrypted keystore (see `main.rs`) and is never logged.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

use alloy::signers::local::PrivateKeySigner;

use crate::server::Limits;

/// The provider's key could not be loaded. Messages never contain the key or the password.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Neither a key nor a keystore was given.
    #[error("no key: set AGORA_PROVIDER_PRIVATE_KEY, or `keystore` with AGORA_PROVIDER_KEYSTORE_PASSWORD")]
    Missing,
    /// The private key does not parse.
    #[error("AGORA_PROVIDER_PRIVATE_KEY is not a valid secp256k1 private key")]
    InvalidKey,
    /// A keystore without a password.
    #[error("AGORA_PROVIDER_KEYSTORE_PASSWORD must be set to decrypt the keystore {0}")]
    NoPassword(String),
    /// The keystore could not be read or decrypted.
    #[error("could not decrypt the keystore {0} (wrong password or not a keystore)")]
    Keystore(String),
}

/// The provider's key: the hex `private_key` if given, else `keystore` decrypted with
/// `password`.
pub fn load_signer(
    private_key: Option<&str>,
    keystore: Option<&std::path::Path>,
    password: Option<&str>,
) -> Result<PrivateKeySigner, KeyError> {
    if let Some(key) = private_key {
        return key.trim().parse().map_err(|_| KeyError::InvalidKey);
    }
    let keystore = keystore.ok_or(KeyError::Missing)?;
    let display = keystore.display().to_string();
    let password = password.ok_or_else(|| KeyError::NoPassword(display.clone()))?;
    PrivateKeySigner::decrypt_keystore(keystore, password).map_err(|_| KeyError::Keystore(display))
}

/// Environment variables that hold secrets and are never read into [`Config`].
pub const SECRET_ENV: &[&str] = &["private_key", "keystore_password"];

/// The provider's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the HTTP service listens on.
    pub listen: SocketAddr,
    /// The chain's JSON-RPC URL.
    pub rpc_url: String,
    /// The deployment manifest (`deploy/deployments/<chainId>.json`).
    pub deployment: PathBuf,
    /// Kubo's RPC API URL.
    pub ipfs_api: String,
    /// Seconds Kubo may take to answer (and between two chunks of a stream).
    pub ipfs_timeout_secs: u64,
    /// SQLite database file (nonces, served orders).
    pub database: PathBuf,
    /// Encrypted JSON keystore holding the provider's key (password from
    /// `AGORA_PROVIDER_KEYSTORE_PASSWORD`).
    pub keystore: Option<PathBuf>,
    /// Largest request body accepted, bytes.
    pub max_body_bytes: usize,
    /// Downloads streaming at once.
    pub max_concurrent_downloads: usize,
    /// Requests being handled at once.
    pub max_concurrent_requests: usize,
    /// Seconds to produce a response's headers.
    pub request_timeout_secs: u64,
    /// Seconds an asset read from the chain stays cached.
    pub asset_ttl_secs: u64,
    /// Seconds a write to a client may stay blocked before its connection is dropped.
    pub write_stall_secs: u64,
    /// Seconds a client has to send a request's headers.
    pub header_timeout_secs: u64,
    /// Seconds a connection may idle between requests.
    pub idle_timeout_secs: u64,
    /// Compute jobs running at once; 0 turns compute jobs off.
    pub job_workers: usize,
    /// Seconds one job may compute.
    pub job_time_limit_secs: u64,
    /// Folder for per-job work folders.
    pub job_dir: PathBuf,
    /// Embedding models kept loaded.
    pub model_cache: usize,
    /// Seconds between checks for results whose challenge window closed (then finalized).
    pub finalize_every_secs: u64,
    /// What one job may read and allocate (the `[job_limits]` table).
    pub job_limits: JobLimits,
    /// Pinning the assets this provider serves on its own Kubo (the `[replication]` table).
    pub replication: Replication,
    /// The pinning service offered to publishers (the `[pinning]` table).
    pub pinning: PinningService,
}

/// The `[pinning]` table: the IPFS Pinning Service API at `/pinning` ([`crate::pinning`]), for
/// whoever holds one of the operator's tokens. Pins take `[replication]`'s `pin_timeout_secs`
/// and `max_asset_bytes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PinningService {
    /// The SHA-256 (hex) of each bearer token accepted; none turns the service off. Only
    /// digests are configured, so the file gives no token away.
    pub tokens_sha256: Vec<String>,
    /// Pin requests one token may hold.
    pub max_pins_per_token: u64,
    /// Pins run at once.
    pub workers: usize,
}

impl Default for PinningService {
    fn default() -> Self {
        Self { tokens_sha256: Vec::new(), max_pins_per_token: 10_000, workers: 2 }
    }
}

impl PinningService {
    /// The service's settings, or `None` when no token is configured; an entry that is not a
    /// SHA-256 in hex is an error.
    pub fn settings(&self, replication: &Replication) -> Result<Option<crate::pinning::Settings>, String> {
        if self.tokens_sha256.is_empty() {
            return Ok(None);
        }
        let tokens = self
            .tokens_sha256
            .iter()
            .map(|digest| {
                digest.trim().parse::<alloy::primitives::B256>().map_err(|_| {
                    format!("[pinning] tokens_sha256: {digest:?} is not a SHA-256 in hex (64 hex digits)")
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(crate::pinning::Settings {
            tokens,
            max_pins_per_token: self.max_pins_per_token,
            workers: self.workers,
            pin_timeout: Duration::from_secs(replication.pin_timeout_secs.max(1)),
            max_asset_bytes: replication.max_asset_bytes,
        }))
    }
}

/// The `[replication]` table: the provider pins, on its own Kubo, the metadata and content of
/// every asset it can serve (public ones, and encrypted ones whose key is wrapped for it), so
/// they stay available when the publisher's node goes away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Replication {
    /// Whether to pin at all.
    pub enabled: bool,
    /// Seconds between two passes over the registry's new metadata (and the retries of assets
    /// whose content could not be fetched yet).
    pub every_secs: u64,
    /// Seconds one pin (fetching the whole content over bitswap) may take.
    pub pin_timeout_secs: u64,
    /// Largest asset content pinned, bytes (as Kubo's `files stat` of its root reports it);
    /// larger ones are served from the network but not kept.
    pub max_asset_bytes: u64,
}

impl Default for Replication {
    fn default() -> Self {
        Self { enabled: true, every_secs: 15, pin_timeout_secs: 3600, max_asset_bytes: 64 << 30 }
    }
}

impl Replication {
    /// The replicator's settings, or `None` when replication is off.
    pub fn settings(&self) -> Option<crate::replicate::Settings> {
        self.enabled.then(|| crate::replicate::Settings {
            every: Duration::from_secs(self.every_secs.max(1)),
            pin_timeout: Duration::from_secs(self.pin_timeout_secs.max(1)),
            max_asset_bytes: self.max_asset_bytes,
        })
    }
}

/// The `[job_limits]` table. Its own keys bound the built-in kinds, checked before the work:
/// the dataset and model sizes, rows, tokens and the attention scores of an `embed` batch
/// together set a job's memory ceiling; their time limit is `job_time_limit_secs`.
/// `[job_limits.algorithm]` bounds `algorithm` jobs while they run: fuel, memory, wall time
/// (at most `job_time_limit_secs`), output, log and module size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobLimits {
    /// The built-in kinds' limits.
    #[serde(flatten)]
    pub runtime: agora_runtime::Limits,
    /// `algorithm` jobs' limits.
    pub algorithm: agora_sandbox::Limits,
}

impl Default for Config {
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8700)),
            rpc_url: "http://127.0.0.1:8545".into(),
            deployment: PathBuf::from("deploy/deployments/31337.json"),
            ipfs_api: "http://127.0.0.1:5001".into(),
            ipfs_timeout_secs: 30,
            database: PathBuf::from("provider.sqlite"),
            keystore: None,
            max_body_bytes: limits.max_body_bytes,
            max_concurrent_downloads: limits.max_concurrent_downloads,
            max_concurrent_requests: limits.max_concurrent_requests,
            request_timeout_secs: limits.request_timeout.as_secs(),
            asset_ttl_secs: limits.asset_ttl.as_secs(),
            write_stall_secs: limits.write_stall.as_secs(),
            header_timeout_secs: limits.header_timeout.as_secs(),
            idle_timeout_secs: limits.idle_timeout.as_secs(),
            job_workers: 1,
            job_time_limit_secs: 3600,
            job_dir: PathBuf::from("provider-jobs"),
            model_cache: 2,
            finalize_every_secs: 60,
            job_limits: JobLimits::default(),
            replication: Replication::default(),
            pinning: PinningService::default(),
        }
    }
}

impl Config {
    /// Defaults, then `file` (if any), then `AGORA_PROVIDER_*` variables.
    pub fn figment(file: Option<&std::path::Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment.merge(Env::prefixed("AGORA_PROVIDER_").ignore(SECRET_ENV))
    }

    /// Loads the layered configuration.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, Box<figment::Error>> {
        Self::figment(file).extract().map_err(Box::new)
    }

    /// The service limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_body_bytes: self.max_body_bytes,
            max_concurrent_downloads: self.max_concurrent_downloads,
            max_concurrent_requests: self.max_concurrent_requests,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            asset_ttl: Duration::from_secs(self.asset_ttl_secs),
            write_stall: Duration::from_secs(self.write_stall_secs),
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
        }
    }

    /// How compute jobs run, or `None` when they are off.
    pub fn jobs(&self) -> Option<crate::worker::JobsConfig> {
        (self.job_workers > 0).then(|| crate::worker::JobsConfig {
            workers: self.job_workers,
            time_limit: Duration::from_secs(self.job_time_limit_secs),
            work_dir: self.job_dir.clone(),
            model_cache: self.model_cache,
            finalize_every: Duration::from_secs(self.finalize_every_secs.max(1)),
            limits: self.job_limits.runtime.clone(),
            algorithm_limits: self.job_limits.algorithm.clone(),
        })
    }

    /// Kubo's deadline.
    pub fn ipfs_timeout(&self) -> Duration {
        Duration::from_secs(self.ipfs_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_load_from_hex_or_an_encrypted_keystore_and_errors_hide_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = chacha20poly1305::aead::OsRng;
        let (signer, name) =
            PrivateKeySigner::new_keystore(dir.path(), &mut rng, "correct horse", None).unwrap();
        let path = dir.path().join(name);
        let loaded = load_signer(None, Some(&path), Some("correct horse")).unwrap();
        assert_eq!(loaded.address(), signer.address());
        let wrong = load_signer(None, Some(&path), Some("battery staple")).unwrap_err().to_string();
        assert!(!wrong.contains("battery") && !wrong.contains("horse"), "{wrong}");
        assert!(matches!(load_signer(None, Some(&path), None), Err(KeyError::NoPassword(_))));
        assert!(matches!(load_signer(None, None, None), Err(KeyError::Missing)));
        let hex = format!("0x{}", hex::encode(signer.credential().to_bytes()));
        assert_eq!(load_signer(Some(&hex), None, None).unwrap().address(), signer.address());
        let bad = load_signer(Some("0xnot-a-key"), None, None).unwrap_err().to_string();
        assert!(!bad.contains("not-a-key"), "{bad}");
    }

    #[test]
    fn the_example_file_is_the_defaults() {
        let example = concat!(env!("CARGO_MANIFEST_DIR"), "/provider.example.toml");
        let loaded: Config = Figment::from(Toml::file_exact(example)).extract().unwrap();
        assert_eq!(loaded, Config::default());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure signature.
    fn file_then_env_override_defaults_and_secrets_stay_out() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("provider.toml", "ipfs_api = \"http://127.0.0.1:1\"\nmax_body_bytes = 10\n")?;
            jail.set_env("AGORA_PROVIDER_MAX_BODY_BYTES", "20");
            jail.set_env("AGORA_PROVIDER_PRIVATE_KEY", "0xsecret");
            let config =
                Config::load(Some(std::path::Path::new("provider.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.ipfs_api, "http://127.0.0.1:1");
            assert_eq!(config.max_body_bytes, 20);
            assert!(!format!("{config:?}").contains("secret"));
            Ok(())
        });
    }

    #[test]
    fn a_job_limits_table_bounds_what_each_job_may_read_and_allocate() {
        let text =
            "job_time_limit_secs = 5\n[job_limits]\nmax_rows = 10\n[job_limits.algorithm]\nfuel = 99\n";
        let config: Config = Figment::from(Toml::string(text)).extract().unwrap();
        let Some(jobs) = config.jobs() else { panic!("jobs are on by default") };
        assert_eq!(jobs.limits.max_rows, 10);
        let defaults = agora_runtime::Limits::default();
        assert_eq!(jobs.limits.max_attention_bytes, defaults.max_attention_bytes);
        assert_eq!(jobs.time_limit, Duration::from_secs(5));
        assert_eq!(jobs.algorithm_limits.fuel, 99);
        assert_eq!(jobs.algorithm_limits.memory_bytes, agora_sandbox::Limits::default().memory_bytes);
        let typo = "[job_limits.algorithm]\nfuell = 1\n";
        let err = Figment::from(Toml::string(typo)).extract::<Config>().unwrap_err().to_string();
        assert!(err.contains("fuell"), "{err}");
    }
}
