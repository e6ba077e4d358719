//! `agora dev`: the whole system on one machine — anvil, PostgreSQL, Kubo, the protocol deployed,
//! the indexer and a provider running, a demo catalogue published — until Ctrl-C.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use agora_contracts::{DeployParams, signing_provider};
use agora_deploy::{
    protocol,
    services::{anvil, kubo::KuboDaemon, postgres::PostgresCluster},
};
use alloy::{node_bindings::Anvil, signers::local::PrivateKeySigner};
use clap::Args;
use eyre::{Result, WrapErr, bail, eyre};
use tokio::process::{Child, Command};

use crate::{GlobalArgs, output};

/// Bring up the whole local system: anvil, PostgreSQL (`DATABASE_URL` if given, else a throwaway
/// cluster), Kubo, the contracts, the indexer, a provider and a demo catalogue; Ctrl-C stops it.
///
/// Example: agora dev --rpc-port 8545
#[derive(Debug, Args)]
pub struct DevArgs {
    /// anvil's port.
    #[arg(long, default_value_t = 8545)]
    pub rpc_port: u16,
    /// The indexer's HTTP API address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub indexer_listen: String,
    /// The provider's HTTP address.
    #[arg(long, default_value = "127.0.0.1:8700")]
    pub provider_listen: String,
    /// Use this PostgreSQL database instead of a throwaway cluster.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Skip publishing the demo catalogue.
    #[arg(long)]
    pub no_demo: bool,
}

/// anvil's dev accounts: 0 deploys and publishes the demo, 1 runs the provider.
const DEPLOYER: usize = 0;
const PROVIDER: usize = 1;

/// Runs `agora dev` until Ctrl-C.
pub async fn run(global: &GlobalArgs, args: DevArgs) -> Result<()> {
    let bin_dir = std::env::current_exe()?.parent().map(Path::to_path_buf).unwrap_or_default();
    let indexer_bin = sibling(&bin_dir, "agora-indexer")?;
    let provider_bin = sibling(&bin_dir, "agora-provider")?;
    let state = tempfile::Builder::new().prefix("agora-dev-").tempdir()?;

    let chain = Anvil::at(anvil::binary_path()?)
        .port(args.rpc_port)
        .try_spawn()
        .wrap_err_with(|| format!("starting anvil on port {}", args.rpc_port))?;
    let rpc = chain.endpoint_url();
    let ws = chain.ws_endpoint();
    let key = |index: usize| -> Result<PrivateKeySigner> {
        Ok(PrivateKeySigner::from(
            chain.keys().get(index).ok_or_else(|| eyre!("anvil account {index}"))?.clone(),
        ))
    };
    let deployer = key(DEPLOYER)?;
    let provider_key = key(PROVIDER)?;

    let deployer_provider = signing_provider(rpc.clone(), deployer.clone());
    let deployment = protocol::deploy(
        &deployer_provider,
        deployer.address(),
        &DeployParams::local(),
        &global.deployments_dir,
        option_env!("AGORA_GIT_REVISION"),
    )
    .await?;
    // Absolute: the services run in their own working folders.
    let manifest =
        std::path::absolute(protocol::manifest_path(&global.deployments_dir, deployment.chain_id))?;

    let cluster;
    let database_url = match &args.database_url {
        Some(url) => url.clone(),
        None => {
            cluster = PostgresCluster::start()?;
            cluster.fresh_database()?
        }
    };
    let ipfs = KuboDaemon::start()?;

    let indexer = Command::new(&indexer_bin)
        .args(["run", "--rpc-url", rpc.as_str(), "--ws-url", &ws, "--database-url", &database_url])
        .arg("--manifest")
        .arg(&manifest)
        .args(["--listen", &args.indexer_listen, "--ipfs-api", &ipfs.api_url()])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .wrap_err("starting agora-indexer")?;
    let provider = Command::new(&provider_bin)
        .env("AGORA_PROVIDER_PRIVATE_KEY", alloy::hex::encode_prefixed(provider_key.to_bytes()))
        .args(["--rpc-url", rpc.as_str(), "--ipfs-api", &ipfs.api_url()])
        .arg("--deployment")
        .arg(&manifest)
        .args(["--listen", &args.provider_listen])
        .arg("--database")
        .arg(state.path().join("provider.sqlite"))
        .current_dir(state.path())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .wrap_err("starting agora-provider")?;
    let mut children = [("agora-indexer", indexer), ("agora-provider", provider)];
    wait_http(&format!("http://{}/health", args.indexer_listen), "agora-indexer", &mut children).await?;
    wait_http(&format!("http://{}/health", args.provider_listen), "agora-provider", &mut children).await?;

    if !args.no_demo {
        publish_demo(global, &rpc, &ipfs.api_url(), &deployer, state.path()).await?;
    }

    let c = deployment.contracts;
    output::table(&[
        ("chain (anvil)".into(), format!("{rpc} (chain {})", deployment.chain_id)),
        ("manifest".into(), manifest.display().to_string()),
        ("indexer API".into(), format!("http://{}/assets", args.indexer_listen)),
        ("provider".into(), format!("http://{}/v1/info", args.provider_listen)),
        ("IPFS (Kubo API)".into(), ipfs.api_url()),
        ("PostgreSQL".into(), database_url.clone()),
        ("Marketplace".into(), c.marketplace.to_string()),
        ("dev account 0 (deployer)".into(), deployer.address().to_string()),
        ("dev account 1 (provider)".into(), provider_key.address().to_string()),
    ]);
    println!("funded dev accounts: anvil's ten, 10000 ETH each (keys: anvil's well-known test mnemonic)");
    println!("try:  AGORA_PRIVATE_KEY=<a dev key> agora asset list");
    println!("      agora asset buy 1 --max-price 0.01");
    println!("ready (Ctrl-C to stop)");

    tokio::select! {
        signal = tokio::signal::ctrl_c() => signal.wrap_err("waiting for Ctrl-C")?,
        (name, status) = first_exit(&mut children) => bail!("{name} stopped unexpectedly ({status})"),
    }
    for (_, child) in &mut children {
        child.kill().await.ok();
    }
    println!("stopped");
    Ok(())
}

/// `name` next to this binary, where `cargo build` puts the workspace's binaries.
fn sibling(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    if !path.is_file() {
        bail!("{} not found: build it with `cargo build -p {name}` (./scripts/dev.sh does)", path.display());
    }
    Ok(path)
}

/// Waits until `url` answers 2xx, failing early if a child exits.
async fn wait_http(url: &str, name: &str, children: &mut [(&'static str, Child)]) -> Result<()> {
    for _ in 0..300 {
        if let Ok(Ok(response)) = tokio::time::timeout(Duration::from_secs(1), reqwest_get(url)).await
            && response
        {
            return Ok(());
        }
        for (child_name, child) in children.iter_mut() {
            if let Some(status) = child.try_wait()? {
                bail!("{child_name} exited while starting ({status})");
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{name} did not answer {url} within 30 s")
}

async fn reqwest_get(url: &str) -> Result<bool> {
    let response = alloy::transports::http::reqwest::get(url).await?;
    Ok(response.status().is_success())
}

async fn first_exit(children: &mut [(&'static str, Child)]) -> (&'static str, String) {
    loop {
        for (name, child) in children.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return (name, status.to_string());
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A small text dataset (and, when it is installed, the MiniLM model) published as dev account 0
/// through `agora asset publish`, the same path a user takes.
async fn publish_demo(
    global: &GlobalArgs,
    rpc: &url::Url,
    ipfs_api: &str,
    deployer: &PrivateKeySigner,
    dir: &Path,
) -> Result<()> {
    let dataset = dir.join("finch-notes.jsonl");
    let lines: Vec<String> = (0..200)
        .map(|i| {
            format!(
                "{{\"text\": \"Field note {i}: a finch with a {} beak was seen on island {}.\"}}",
                ["short", "long", "curved", "thick"][i % 4],
                i % 13
            )
        })
        .collect();
    std::fs::write(&dataset, lines.join("\n") + "\n")?;
    let mut items = vec![(dataset, "dataset", "0.01", "Finch field notes (demo)")];
    let model = std::env::var_os("AGORA_MODEL_DIR").map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/agora/models/all-MiniLM-L6-v2"))
    });
    if let Some(weights) = model.map(|dir| dir.join("model.safetensors")).filter(|path| path.is_file()) {
        items.push((weights, "model", "0.05", "all-MiniLM-L6-v2 weights (demo)"));
    }
    let exe = std::env::current_exe()?;
    for (path, kind, price, name) in items {
        let status = Command::new(&exe)
            .env("AGORA_PRIVATE_KEY", alloy::hex::encode_prefixed(deployer.to_bytes()))
            .arg("--rpc-url")
            .arg(rpc.as_str())
            .arg("--deployments-dir")
            .arg(&global.deployments_dir)
            .args(["asset", "publish"])
            .arg(&path)
            .args([
                "--kind",
                kind,
                "--price",
                price,
                "--name",
                name,
                "--license",
                "MIT",
                "--ipfs-api",
                ipfs_api,
            ])
            .stdout(Stdio::null())
            .status()
            .await?;
        if !status.success() {
            bail!("publishing the demo {kind} failed ({status})");
        }
    }
    Ok(())
}
