//! The indexer as a service: its configuration; `run`, the writer, which syncs, fetches metadata
//! and serves the API until shutdown; and `serve`, an API that only reads, over a streaming
//! replica of the writer's PostgreSQL (PostgreSQL's own replication; nothing home-made).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use agora_contracts::{Deployment, ManifestError};
use alloy::transports::http::reqwest::Url;
use serde::{Deserialize, Serialize};
use tokio::{net::TcpListener, sync::watch};

use crate::{
    api::{self, AppState},
    db::{self, DbError},
    metadata::{self, KuboFetcher, RetryPolicy},
    sync::{self, SyncConfig, SyncError, Syncer},
};

/// Everything `run` needs; layered defaults → file → `AGORA_*` env → flags by the binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// JSON-RPC endpoint over HTTP.
    pub rpc_url: String,
    /// Optional WebSocket endpoint for `newHeads` (polling is the fallback).
    #[serde(default)]
    pub ws_url: Option<String>,
    /// PostgreSQL URL.
    pub database_url: String,
    /// The deployment manifest (`deploy/deployments/<chainId>.json`).
    pub manifest: PathBuf,
    /// Where the HTTP API listens.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Reorg window, in blocks.
    #[serde(default = "default_window")]
    pub window: u64,
    /// `/ready` is false beyond this lag, in blocks.
    #[serde(default = "default_max_lag")]
    pub max_lag: u64,
    /// Kubo RPC API for metadata (`http://127.0.0.1:5001`); no metadata fetching without it.
    #[serde(default)]
    pub ipfs_api: Option<String>,
    /// Start over when the node's genesis differs from the indexed one.
    #[serde(default)]
    pub reset_on_new_chain: bool,
    /// First `eth_getLogs` range, in blocks (it adapts from there).
    #[serde(default = "default_initial_range")]
    pub initial_range: u64,
    /// Largest `eth_getLogs` range, in blocks.
    #[serde(default = "default_max_range")]
    pub max_range: u64,
    /// Logs one `eth_getLogs` response should hold; ranges are sized to it (bounds memory).
    #[serde(default = "default_target_logs")]
    pub target_logs: u64,
    /// With `ws_url`: seconds without a new head before the node is polled and, if the chain
    /// moved, the subscription replaced.
    #[serde(default = "default_head_timeout_secs")]
    pub head_timeout_secs: u64,
    /// Seconds before one metadata fetch from Kubo gives up.
    #[serde(default = "default_metadata_timeout_secs")]
    pub metadata_timeout_secs: u64,
    /// Attempts to fetch one metadata CID before its failure is final.
    #[serde(default = "default_metadata_max_attempts")]
    pub metadata_max_attempts: u32,
    /// Seconds to wait after a CID's first failed fetch; doubles after each further failure.
    #[serde(default = "default_metadata_retry_secs")]
    pub metadata_retry_secs: u64,
}

fn default_head_timeout_secs() -> u64 {
    SyncConfig::default().head_timeout.as_secs()
}

fn default_metadata_timeout_secs() -> u64 {
    10
}

fn default_metadata_max_attempts() -> u32 {
    RetryPolicy::default().max_attempts
}

fn default_metadata_retry_secs() -> u64 {
    RetryPolicy::default().base.as_secs()
}

fn default_initial_range() -> u64 {
    SyncConfig::default().initial_range
}

fn default_max_range() -> u64 {
    SyncConfig::default().max_range
}

fn default_target_logs() -> u64 {
    SyncConfig::default().target_logs
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_window() -> u64 {
    64
}

fn default_max_lag() -> u64 {
    10
}

/// The service stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The manifest could not be read.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The RPC URL is not a URL.
    #[error("rpc url {url:?}: {message}")]
    RpcUrl {
        /// The URL given.
        url: String,
        /// Why it is invalid.
        message: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Syncing stopped.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The metadata fetcher could not be set up.
    #[error("metadata fetcher: {0}")]
    Metadata(#[source] metadata::FetchError),
    /// The HTTP listener failed.
    #[error("http api on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Syncs, fetches metadata and serves the API until `shutdown` turns true.
pub async fn run(
    config: Config,
    progress: indicatif::ProgressBar,
    shutdown: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let deployment = Deployment::read(&config.manifest)?;
    let url = Url::parse(&config.rpc_url)
        .map_err(|e| RunError::RpcUrl { url: config.rpc_url.clone(), message: e.to_string() })?;
    let fetcher = match &config.ipfs_api {
        Some(ipfs) => {
            tracing::info!(ipfs, "fetching asset metadata from Kubo");
            let timeout = Duration::from_secs(config.metadata_timeout_secs);
            Some(KuboFetcher::new(ipfs.clone(), timeout).map_err(RunError::Metadata)?)
        }
        None => None,
    };
    let pool = db::connect(&config.database_url, 16).await?;
    let provider = sync::http_provider(url);
    let sync_config = SyncConfig {
        window: config.window,
        reset_on_new_chain: config.reset_on_new_chain,
        initial_range: config.initial_range,
        max_range: config.max_range,
        target_logs: config.target_logs.max(1),
        head_timeout: Duration::from_secs(config.head_timeout_secs.max(1)),
        ..SyncConfig::default()
    };
    let mut syncer = Syncer::new(provider.clone(), pool.clone(), &deployment, sync_config)
        .with_progress(progress)
        .with_ws(config.ws_url.clone());
    let state = AppState {
        pool: pool.clone(),
        chain_id: deployment.chain_id,
        metrics: Some(syncer.metrics()),
        max_lag: config.max_lag,
        contracts: Some(deployment.contracts),
        chain: Some(api::ChainReads {
            provider: provider.clone(),
            splitter: deployment.contracts.revenue_splitter,
        }),
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| RunError::Listen { addr: config.listen, source })?;
    tracing::info!(addr = %config.listen, "http api listening");
    let mut api_shutdown = shutdown.clone();
    let server = tokio::spawn(api::serve(listener, state, async move {
        let _ = api_shutdown.wait_for(|stop| *stop).await;
    }));
    let metadata_task = fetcher.map(|fetcher| {
        let policy = RetryPolicy {
            max_attempts: config.metadata_max_attempts.max(1),
            base: Duration::from_secs(config.metadata_retry_secs),
            ..RetryPolicy::default()
        };
        tokio::spawn(metadata::follow(
            pool.clone(),
            fetcher,
            policy,
            Duration::from_secs(2),
            shutdown.clone(),
        ))
    });
    let result = syncer.run(shutdown).await;
    if result.is_err() {
        server.abort();
    } else {
        let _ = server.await;
    }
    if let Some(task) = metadata_task {
        task.abort();
    }
    Ok(result?)
}

/// Serves the API, and nothing else, from `config.database_url` until `shutdown` turns true: a
/// database the writer (`run`) fills, typically a streaming replica of its primary. Every session
/// is read-only and no migration runs; the schema must be this version's
/// ([`db::connect_read_only`]). `/status` says it is read-only and, on a replica, how far its
/// replay trails; the RPC URL serves the routes that read the chain.
pub async fn serve(config: Config, shutdown: watch::Receiver<bool>) -> Result<(), RunError> {
    let deployment = Deployment::read(&config.manifest)?;
    let url = Url::parse(&config.rpc_url)
        .map_err(|e| RunError::RpcUrl { url: config.rpc_url.clone(), message: e.to_string() })?;
    let pool = db::connect_read_only(&config.database_url, 16).await?;
    let state = AppState {
        pool,
        chain_id: deployment.chain_id,
        metrics: None,
        max_lag: config.max_lag,
        contracts: Some(deployment.contracts),
        chain: Some(api::ChainReads {
            provider: sync::http_provider(url),
            splitter: deployment.contracts.revenue_splitter,
        }),
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| RunError::Listen { addr: config.listen, source })?;
    tracing::info!(addr = %config.listen, "read-only http api listening");
    let mut shutdown = shutdown;
    api::serve(listener, state, async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    })
    .await
    .map_err(|source| RunError::Listen { addr: config.listen, source })
}

/// Deletes everything indexed for the manifest's chain.
pub async fn reset(config: &Config) -> Result<(), RunError> {
    let deployment = Deployment::read(&config.manifest)?;
    let pool = db::connect(&config.database_url, 2).await?;
    db::reset(&pool, deployment.chain_id).await?;
    Ok(())
}
