//! The provider binary: parse flags, load the layered config and the key, run until Ctrl-C.

use std::path::PathBuf;

/// Jobs allocate a buffer per tensor op: mimalloc reuses them where glibc returned them to the
/// kernel and faulted them in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use agora_provider::config::{Config, load_signer};
use alloy::signers::local::PrivateKeySigner;
use clap::Parser;
use eyre::{Result, WrapErr};

/// Serves token-gated downloads of Agora assets from a Kubo node, and runs compute jobs.
///
/// Example: `AGORA_PROVIDER_PRIVATE_KEY=0x… agora-provider --config provider.toml`
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// TOML configuration file (keys as in `Config`; `AGORA_PROVIDER_*` variables override it).
    #[arg(long, env = "AGORA_PROVIDER_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address, e.g. 127.0.0.1:8700.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Chain JSON-RPC URL.
    #[arg(long)]
    rpc_url: Option<String>,
    /// Deployment manifest.
    #[arg(long)]
    deployment: Option<PathBuf>,
    /// Kubo RPC API URL.
    #[arg(long)]
    ipfs_api: Option<String>,
    /// SQLite database file.
    #[arg(long)]
    database: Option<PathBuf>,
    /// Encrypted JSON keystore with the provider's key.
    #[arg(long)]
    keystore: Option<PathBuf>,
}

fn main() -> Result<()> {
    // SAFETY: first thing in main, before any other thread.
    unsafe { agora_runtime::tune_cpu_threads() };
    tokio::runtime::Runtime::new().wrap_err("starting the async runtime")?.block_on(serve())
}

async fn serve() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let mut config = Config::load(args.config.as_deref()).wrap_err("loading the configuration")?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(rpc_url) = args.rpc_url {
        config.rpc_url = rpc_url;
    }
    if let Some(deployment) = args.deployment {
        config.deployment = deployment;
    }
    if let Some(ipfs_api) = args.ipfs_api {
        config.ipfs_api = ipfs_api;
    }
    if let Some(database) = args.database {
        config.database = database;
    }
    if args.keystore.is_some() {
        config.keystore = args.keystore;
    }
    let signer = load_key(&config)?;
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    agora_provider::server::run(&config, signer, shutdown).await?;
    Ok(())
}

/// The provider's key: `AGORA_PROVIDER_PRIVATE_KEY`, or the keystore decrypted with
/// `AGORA_PROVIDER_KEYSTORE_PASSWORD`. Never logged.
fn load_key(config: &Config) -> Result<PrivateKeySigner> {
    let key = std::env::var("AGORA_PROVIDER_PRIVATE_KEY").ok();
    let password = std::env::var("AGORA_PROVIDER_KEYSTORE_PASSWORD").ok();
    Ok(load_signer(key.as_deref(), config.keystore.as_deref(), password.as_deref())?)
}
