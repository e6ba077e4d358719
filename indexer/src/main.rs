//! `agora-indexer`: sync Agora's contracts into PostgreSQL and serve the HTTP API (`run`), or
//! serve it read-only from a streaming replica (`serve`).

use std::path::PathBuf;

use agora_indexer::service::{self, Config};
use clap::{Parser, Subcommand};
use eyre::WrapErr;
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::Serialize;

/// Mirrors every Agora contract event into PostgreSQL and serves it over HTTP.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Settings every command takes; each overrides the config file and `AGORA_*` variables.
#[derive(Debug, clap::Args, Serialize)]
struct Global {
    /// TOML config file (keys as in the flags, with underscores).
    #[arg(long, global = true)]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// JSON-RPC endpoint, e.g. http://127.0.0.1:8545 (AGORA_RPC_URL).
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    rpc_url: Option<String>,
    /// WebSocket endpoint for new heads, e.g. ws://127.0.0.1:8545 (AGORA_WS_URL).
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    ws_url: Option<String>,
    /// PostgreSQL URL (AGORA_DATABASE_URL).
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    /// Deployment manifest, e.g. deploy/deployments/31337.json (AGORA_MANIFEST).
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest: Option<PathBuf>,
    /// HTTP API address, e.g. 127.0.0.1:8080 (AGORA_LISTEN).
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<String>,
    /// Kubo RPC API for metadata, e.g. http://127.0.0.1:5001 (AGORA_IPFS_API).
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    ipfs_api: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sync and serve until Ctrl-C.
    ///
    /// Example: `agora-indexer run --rpc-url http://127.0.0.1:8545
    /// --database-url postgres://postgres@127.0.0.1/agora --manifest deploy/deployments/31337.json`
    Run(RunArgs),
    /// Serve the HTTP API only, read-only, from a database another `run` writes: typically a
    /// PostgreSQL streaming replica of the writer's primary. Many can run beside one writer.
    ///
    /// Example: `agora-indexer serve --rpc-url http://127.0.0.1:8545
    /// --database-url postgres://postgres@127.0.0.1:5433/agora --manifest deploy/deployments/31337.json
    /// --listen 127.0.0.1:8081`
    Serve,
    /// Delete everything indexed for the manifest's chain.
    ///
    /// Example: `agora-indexer reset --database-url postgres://… --manifest deploy/deployments/31337.json`
    Reset,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Start over when the node's chain was restarted (its genesis differs from the indexed one).
    #[arg(long)]
    reset_on_new_chain: bool,
}

/// The settings `AGORA_<KEY>` environment variables may set.
const ENV_KEYS: [&str; 16] = [
    "rpc_url",
    "ws_url",
    "database_url",
    "manifest",
    "listen",
    "window",
    "max_lag",
    "ipfs_api",
    "reset_on_new_chain",
    "initial_range",
    "max_range",
    "target_logs",
    "head_timeout_secs",
    "metadata_timeout_secs",
    "metadata_max_attempts",
    "metadata_retry_secs",
];

fn load_config(global: &Global, reset_on_new_chain: bool) -> eyre::Result<Config> {
    let mut figment = Figment::new();
    if let Some(path) = &global.config {
        figment = figment.merge(Toml::file_exact(path));
    }
    // Only the indexer's own keys: other AGORA_* variables (the CLI's key, network, …) share the prefix.
    let env = Env::prefixed("AGORA_").only(&ENV_KEYS);
    figment = figment.merge(env).merge(Serialized::globals(global));
    if reset_on_new_chain {
        figment = figment.merge(Serialized::global("reset_on_new_chain", true));
    }
    figment.extract().wrap_err("invalid configuration")
}

#[tokio::main]
async fn main() -> eyre::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Reset => {
            let config = load_config(&cli.global, false)?;
            service::reset(&config).await?;
            tracing::info!("reset done");
        }
        Command::Serve => {
            let config = load_config(&cli.global, false)?;
            let (stop, shutdown) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                let _ = stop.send(true);
            });
            service::serve(config, shutdown).await?;
        }
        Command::Run(args) => {
            let config = load_config(&cli.global, args.reset_on_new_chain)?;
            let (stop, shutdown) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                let _ = stop.send(true);
            });
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} backfill [{bar:40}] block {pos}/{len} {per_sec} eta {eta}",
                )
                .wrap_err("progress template")?,
            );
            service::run(config, bar, shutdown).await?;
        }
    }
    Ok(())
}
