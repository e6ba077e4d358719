//! `agora hub`: the web hub against any deployment, configured like the other services: flags,
//! `AGORA_HUB_*` variables and a TOML file, in that order of precedence.

use std::path::PathBuf;

use agora_hub::HubConfig;
use clap::Args;
use eyre::{Result, WrapErr, eyre};
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use url::Url;

/// Serve the web hub (catalogue, assets, accounts, DAO, providers, jobs) over an indexer.
///
/// Example: agora hub --indexer http://127.0.0.1:8080 --provider http://127.0.0.1:8700 --ipfs-api http://127.0.0.1:5001 --listen 127.0.0.1:8000
#[derive(Debug, Args, Serialize)]
pub struct HubArgs {
    /// TOML config file (keys as in the flags, with underscores).
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// The indexer's HTTP API (AGORA_HUB_INDEXER).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indexer: Option<Url>,
    /// A provider to ask for job receipts when a job's own provider is not registered (AGORA_HUB_PROVIDER).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<Url>,
    /// Kubo's RPC API, where the pages put the small documents a transaction names, such as a
    /// dispute's reason (AGORA_HUB_IPFS_API; without it those actions say the hub cannot).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipfs_api: Option<Url>,
    /// Largest file the publish page may upload, in MiB (AGORA_HUB_MAX_UPLOAD_MIB; default 0: the
    /// page takes no uploads). Needs --ipfs-api: the hub pins what it is sent on that Kubo node.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_upload_mib: Option<u64>,
    /// Address to serve on (AGORA_HUB_LISTEN; default 127.0.0.1:8000).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Longest wait for one indexer request, in seconds (AGORA_HUB_INDEXER_TIMEOUT_SECS; default 5).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indexer_timeout_secs: Option<u64>,
    /// Assets per catalogue page, 1 to 100 (AGORA_HUB_PAGE_SIZE; default 24).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
}

/// The hub's settings once flags, environment and file are merged.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    indexer: Url,
    provider: Option<Url>,
    ipfs_api: Option<Url>,
    #[serde(default)]
    max_upload_mib: u64,
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default = "default_timeout")]
    indexer_timeout_secs: u64,
    #[serde(default = "default_page_size")]
    page_size: u32,
}

fn default_page_size() -> u32 {
    24
}

fn default_listen() -> String {
    "127.0.0.1:8000".into()
}

fn default_timeout() -> u64 {
    5
}

/// Runs the hub until Ctrl-C.
pub async fn run(global: &crate::GlobalArgs, args: HubArgs) -> Result<()> {
    let mut figment = Figment::new();
    if let Some(path) = &args.config {
        figment = figment.merge(Toml::file_exact(path));
    }
    let settings: Settings = figment
        .merge(Env::prefixed("AGORA_HUB_"))
        .merge(Serialized::defaults(&args))
        .extract()
        .map_err(|err| {
            if matches!(&err.kind, figment::error::Kind::MissingField(field) if field == "indexer") {
                return eyre!(
                    "the indexer's URL is required: --indexer URL, AGORA_HUB_INDEXER or `indexer` in --config"
                );
            }
            // figment puts where a value came from on a line of its own.
            eyre!("invalid hub configuration: {}", err.to_string().replace('\n', " "))
        })?;
    if settings.indexer_timeout_secs == 0 {
        eyre::bail!("indexer_timeout_secs must be at least 1");
    }
    if !(1..=100).contains(&settings.page_size) {
        eyre::bail!("page_size must be from 1 to 100, not {}", settings.page_size);
    }
    if settings.max_upload_mib > 0 && settings.ipfs_api.is_none() {
        eyre::bail!("max_upload_mib needs ipfs_api: uploads go to that Kubo node");
    }
    let config = HubConfig {
        indexer: settings.indexer,
        provider: settings.provider,
        ipfs_api: settings.ipfs_api,
        max_upload: settings.max_upload_mib.saturating_mul(1024 * 1024),
        indexer_timeout: std::time::Duration::from_secs(settings.indexer_timeout_secs),
        page_size: settings.page_size,
        replication: global.replication()?,
    };
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .wrap_err_with(|| format!("listening on {}", settings.listen))?;
    println!("hub: http://{} (indexer {})", listener.local_addr()?, config.indexer);
    agora_hub::serve(listener, &config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .wrap_err("serving the hub")
}
