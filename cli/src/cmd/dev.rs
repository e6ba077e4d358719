//! `agora dev`: the whole system on one machine — anvil, PostgreSQL, Kubo, the protocol deployed,
//! the indexer and a provider running and registered on the ComputeMarket, a demo catalogue
//! (field notes, the MiniLM model, a Go algorithm and finch measurements) published — until
//! Ctrl-C; it prints the commands to try next.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use agora_contracts::{DeployParams, signing_provider};
use agora_deploy::{
    demo, protocol,
    services::{algorithms, anvil, kubo::KuboDaemon, model, postgres::PostgresCluster},
};
use alloy::{node_bindings::Anvil, primitives::Address, signers::local::PrivateKeySigner};
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
    /// The web hub's address.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub hub_listen: String,
    /// Use this PostgreSQL database instead of a throwaway cluster.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Skip publishing the demo catalogue.
    #[arg(long)]
    pub no_demo: bool,
}

/// anvil's dev accounts: 0 deploys and publishes the demo, 1 runs the provider, 2 is the
/// consumer the printed commands act as.
const DEPLOYER: usize = 0;
const PROVIDER: usize = 1;
const CONSUMER: usize = 2;

/// What the dev provider charges per compute job, in ETH.
const JOB_PRICE: &str = "0.01";

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

    let provider_url = format!("http://{}", args.provider_listen);
    let hub_url = serve_hub(&args, &provider_url, &ipfs.api_url()).await?;
    let hub_url_for_session = hub_url.clone();
    register_provider(global, &rpc, &provider_key, &provider_url).await?;
    let demo = match args.no_demo {
        true => None,
        false => Some(publish_demo(global, &rpc, &ipfs.api_url(), &deployer, state.path()).await?),
    };

    let c = deployment.contracts;
    let mut rows = vec![
        ("hub (web)".into(), hub_url),
        ("chain (anvil)".into(), format!("{rpc} (chain {})", deployment.chain_id)),
        ("manifest".into(), manifest.display().to_string()),
        ("indexer API".into(), format!("http://{}/assets", args.indexer_listen)),
        ("provider".into(), format!("{provider_url}/v1/info")),
        (
            "provider on the market".into(),
            format!("{} registered, {JOB_PRICE} ETH per job", provider_key.address()),
        ),
        ("IPFS (Kubo API)".into(), ipfs.api_url()),
        ("PostgreSQL".into(), database_url.clone()),
        ("Marketplace".into(), c.marketplace.to_string()),
        ("ComputeMarket".into(), c.compute_market.to_string()),
        ("dev account 0 (deployer)".into(), deployer.address().to_string()),
        ("dev account 1 (provider)".into(), provider_key.address().to_string()),
    ];
    if let Some(demo) = &demo {
        rows.push(("demo dataset".into(), format!("asset {}", demo.dataset)));
        if let Some(model) = &demo.model {
            rows.push(("demo model".into(), format!("asset {model}")));
        }
    }
    output::table(&rows);
    println!("funded dev accounts: anvil's ten, 10000 ETH each (keys: anvil's well-known test mnemonic)");
    let consumer = key(CONSUMER)?;
    let session = Session {
        bin_dir: bin_dir.clone(),
        rpc: rpc.to_string(),
        deployments_dir: manifest.parent().map(Path::to_path_buf).unwrap_or_default(),
        ipfs_api: ipfs.api_url(),
        consumer_key: alloy::hex::encode_prefixed(consumer.to_bytes()),
        provider: provider_key.address(),
        provider_url,
    };
    for line in next_steps(&session, demo.as_ref()) {
        println!("{line}");
    }
    // What `agora.Hub.local()` (the Python package) reads, so a newcomer types nothing there.
    let described = DevSession {
        chain_id: deployment.chain_id,
        rpc_url: rpc.to_string(),
        indexer_url: format!("http://{}", args.indexer_listen),
        provider_url: session.provider_url.clone(),
        hub_url: hub_url_for_session,
        ipfs_api: session.ipfs_api.clone(),
        manifest: manifest.clone(),
        consumer_key: session.consumer_key.clone(),
    };
    let session_file = described.write()?;
    println!("session for agora.Hub.local(): {}", session_file.display());
    println!("ready (Ctrl-C to stop)");

    tokio::select! {
        signal = tokio::signal::ctrl_c() => signal.wrap_err("waiting for Ctrl-C")?,
        (name, status) = first_exit(&mut children) => bail!("{name} stopped unexpectedly ({status})"),
    }
    for (_, child) in &mut children {
        child.kill().await.ok();
    }
    std::fs::remove_file(&session_file).ok();
    println!("stopped");
    Ok(())
}

/// The running stack as JSON: where the Python package's `Hub.local()`
/// finds the chain, the indexer, the provider, Kubo, the manifest and the dev consumer's key
/// (one of anvil's well-known test keys, never a real one).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct DevSession {
    chain_id: u64,
    rpc_url: String,
    indexer_url: String,
    provider_url: String,
    hub_url: String,
    ipfs_api: String,
    manifest: PathBuf,
    consumer_key: String,
}

/// `$AGORA_DEV_SESSION`, else `$XDG_STATE_HOME/agora/dev.json`, else
/// `~/.local/state/agora/dev.json` (the Python package looks in the same places).
fn dev_session_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("AGORA_DEV_SESSION") {
        return Some(PathBuf::from(path));
    }
    let state = match std::env::var_os("XDG_STATE_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".local/state"),
    };
    Some(state.join("agora/dev.json"))
}

impl DevSession {
    /// Writes the session (readable by its owner only: it holds a key) and returns its path.
    fn write(&self) -> Result<PathBuf> {
        let path = dev_session_path().ok_or_else(|| eyre!("no HOME: set AGORA_DEV_SESSION"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).wrap_err_with(|| format!("writing {}", path.display()))?;
        std::io::Write::write_all(&mut file, &serde_json::to_vec_pretty(self)?)
            .wrap_err_with(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

/// Starts the web hub in this process over the dev indexer and provider; it stops with it.
async fn serve_hub(args: &DevArgs, provider_url: &str, ipfs_api: &str) -> Result<String> {
    let mut config = agora_hub::HubConfig::new(format!("http://{}", args.indexer_listen).parse()?);
    config.provider = Some(provider_url.parse()?);
    config.ipfs_api = Some(ipfs_api.parse()?);
    // The dev hub's publish page takes files up to 1 GiB.
    config.max_upload = 1 << 30;
    let listener = tokio::net::TcpListener::bind(&args.hub_listen)
        .await
        .wrap_err_with(|| format!("listening for the hub on {}", args.hub_listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        if let Err(err) = agora_hub::serve(listener, &config, std::future::pending()).await {
            eprintln!("hub stopped: {err}");
        }
    });
    Ok(url)
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

/// `agora` (this binary) against the dev chain, signing as `key`, printing JSON.
fn agora_as(global: &GlobalArgs, rpc: &url::Url, key: &PrivateKeySigner) -> Result<Command> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .env("AGORA_PRIVATE_KEY", alloy::hex::encode_prefixed(key.to_bytes()))
        .env_remove("AGORA_KEYSTORE")
        .arg("--rpc-url")
        .arg(rpc.as_str())
        .arg("--deployments-dir")
        .arg(&global.deployments_dir)
        .arg("--json")
        // Its errors and progress bars go to this terminal.
        .stderr(Stdio::inherit());
    Ok(command)
}

/// Runs an `agora --json` command to completion; what it printed.
async fn json_of(command: &mut Command, what: &str) -> Result<serde_json::Value> {
    let out =
        command.stdout(Stdio::piped()).output().await.wrap_err_with(|| format!("{what}: starting agora"))?;
    if !out.status.success() {
        bail!("{what} failed ({})", out.status);
    }
    serde_json::from_slice(&out.stdout).wrap_err_with(|| format!("{what}: agora printed no JSON"))
}

/// Registers the dev provider on the ComputeMarket (staking the minimum) through
/// `agora provider register`, the same path an operator takes.
async fn register_provider(
    global: &GlobalArgs,
    rpc: &url::Url,
    provider: &PrivateKeySigner,
    url: &str,
) -> Result<()> {
    let mut command = agora_as(global, rpc, provider)?;
    command.args(["provider", "register", "--endpoint", url, "--price", JOB_PRICE]);
    json_of(&mut command, "registering the dev provider").await?;
    Ok(())
}

/// The demo catalogue's asset ids.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Demo {
    dataset: String,
    /// `None` when the model is not installed.
    model: Option<String>,
    /// The column-statistics algorithm and the measurements it runs on; `None` when the example
    /// algorithms are not built.
    algorithm: Option<(String, String)>,
}

/// Two small datasets (field notes to embed, measurements for algorithms: [`demo`]) and, when
/// they are installed, the MiniLM model (a folder, published as the manifest of its files, as
/// compute jobs read it) and the Go column-statistics algorithm (examples/algorithms/stats-go,
/// a WebAssembly module), published as dev account 0 through `agora asset publish`, the same
/// path a user takes: all are priced, so all are encrypted, their keys held by dev account 0
/// and the dev provider (registered before). The datasets' owner allows any algorithm on them
/// (the market's default), so the demo algorithm runs on the measurements.
async fn publish_demo(
    global: &GlobalArgs,
    rpc: &url::Url,
    ipfs_api: &str,
    deployer: &PrivateKeySigner,
    dir: &Path,
) -> Result<Demo> {
    let notes = dir.join("finch-notes.jsonl");
    std::fs::write(&notes, demo::finch_notes())?;
    let measurements = dir.join("finch-measurements.csv");
    std::fs::write(&measurements, demo::finch_measurements())?;
    let mut items = vec![("notes", notes, "dataset", "0.01", "Finch field notes (demo)")];
    let installed = model::minilm_path();
    match stage_model(&installed, &dir.join("all-MiniLM-L6-v2"))? {
        Some(staged) => items.push(("model", staged, "model", "0.05", "all-MiniLM-L6-v2 (demo)")),
        None => println!(
            "note: the all-MiniLM-L6-v2 model is not installed at {}: the demo has no model (./scripts/model.sh installs it)",
            installed.display()
        ),
    }
    match algorithms::example("stats-go") {
        Ok(module) => {
            items.push(("algorithm", module, "algorithm", "0.02", "Column statistics, Go (demo)"));
            items.push(("measurements", measurements, "dataset", "0.01", "Finch measurements (demo)"));
        }
        Err(missing) => println!("note: the demo has no algorithm: {missing}"),
    }
    let mut ids = std::collections::HashMap::new();
    for (role, path, kind, price, name) in items {
        let mut command = agora_as(global, rpc, deployer)?;
        command.args(["asset", "publish"]).arg(&path).args([
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
        ]);
        let published = json_of(&mut command, &format!("publishing the demo {kind}")).await?;
        let id =
            published["assetId"].as_str().ok_or_else(|| eyre!("publishing the demo {kind}: no asset id"))?;
        ids.insert(role, id.to_owned());
    }
    Ok(Demo {
        dataset: ids.remove("notes").unwrap_or_default(),
        model: ids.remove("model"),
        algorithm: ids.remove("algorithm").zip(ids.remove("measurements")),
    })
}

/// Links (or copies) the files of `installed` that `embed` reads ([`model::MINILM_FILES`]) into
/// the new folder `staged`; `None` when the model is not installed there. The installed folder
/// also holds sentence-transformers' `1_Pooling/` and a `.source` stamp, which a model manifest
/// (plain files of one folder) cannot list, hence a folder of their own.
fn stage_model(installed: &Path, staged: &Path) -> Result<Option<PathBuf>> {
    if !model::MINILM_FILES[..model::MINILM_REQUIRED_FILES].iter().all(|name| installed.join(name).is_file())
    {
        return Ok(None);
    }
    std::fs::create_dir_all(staged)?;
    for name in model::MINILM_FILES {
        let (from, to) = (installed.join(name), staged.join(name));
        if from.is_file() {
            std::fs::hard_link(&from, &to)
                .or_else(|_| std::fs::copy(&from, &to).map(drop))
                .wrap_err_with(|| format!("staging {} for the demo", from.display()))?;
        }
    }
    Ok(Some(staged.to_path_buf()))
}

/// Where the printed commands point: the dev chain, its services, and who acts.
struct Session {
    /// The folder of this `agora` binary, put on the printed `PATH`.
    bin_dir: PathBuf,
    rpc: String,
    deployments_dir: PathBuf,
    ipfs_api: String,
    /// Dev account 2's key: anvil's well-known test key, not a secret.
    consumer_key: String,
    provider: Address,
    provider_url: String,
}

/// The commands to try next, as a consumer: buy the dataset, download it, run an `embed` job
/// over it with the model and an `algorithm` job with the demo algorithm on the dev provider,
/// and fetch the results (jobs are numbered in the order they are submitted).
fn next_steps(session: &Session, demo: Option<&Demo>) -> Vec<String> {
    let mut lines = vec![
        "try it as dev account 2, a consumer (anvil's well-known test key):".to_owned(),
        format!(
            "  export PATH=\"{}:$PATH\" AGORA_RPC_URL={} AGORA_DEPLOYMENTS_DIR={} AGORA_IPFS_API={} AGORA_PRIVATE_KEY={}",
            session.bin_dir.display(),
            session.rpc,
            session.deployments_dir.display(),
            session.ipfs_api,
            session.consumer_key
        ),
        "  agora asset list".to_owned(),
    ];
    let Some(demo) = demo else {
        lines.push("  agora asset publish ./notes.jsonl --kind dataset --price 0.01".to_owned());
        lines.push("  agora asset publish ./my-model-folder --kind model --price 0.05".to_owned());
        return lines;
    };
    let dataset = &demo.dataset;
    lines.extend([
        format!("  agora asset buy {dataset} --amount 2 --max-price 0.01"),
        format!("  agora asset download {dataset} --provider {} -o finch-notes.jsonl", session.provider_url),
    ]);
    let mut job = 0;
    match &demo.model {
        Some(model) => {
            job += 1;
            lines.extend([
                format!(
                    "  agora job submit --dataset {dataset} --model {model} --provider {} --spec '{{\"kind\":\"embed\"}}'",
                    session.provider
                ),
                format!("  agora job result {job} --wait 300 --output embeddings"),
            ]);
        }
        None => lines
            .push("  (install the model with ./scripts/model.sh and restart to try an embed job)".to_owned()),
    }
    match &demo.algorithm {
        Some((algorithm, measurements)) => {
            job += 1;
            lines.extend([
                format!(
                    "  agora job submit --dataset {measurements} --algorithm {algorithm} --provider {} --spec '{{\"kind\":\"algorithm\"}}'",
                    session.provider
                ),
                format!("  agora job result {job} --wait 300 --output stats && agora job log {job}"),
            ]);
        }
        None => lines.push(
            "  (build the example algorithms with ./scripts/setup.sh and restart to try an algorithm job)"
                .to_owned(),
        ),
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            bin_dir: PathBuf::from("/repo/target/debug"),
            rpc: "http://127.0.0.1:8545/".into(),
            deployments_dir: PathBuf::from("/tmp/deployments"),
            ipfs_api: "http://127.0.0.1:5001".into(),
            consumer_key: "0x5de4".into(),
            provider: Address::repeat_byte(0x70),
            provider_url: "http://127.0.0.1:8700".into(),
        }
    }

    #[test]
    fn next_steps_buy_download_and_embed_with_the_demo_assets() {
        let demo =
            Demo { dataset: "1".into(), model: Some("2".into()), algorithm: Some(("3".into(), "4".into())) };
        let lines = next_steps(&session(), Some(&demo));
        assert!(lines[1].contains("AGORA_DEPLOYMENTS_DIR=/tmp/deployments") && lines[1].contains("=0x5de4"));
        assert!(
            lines[1].contains(r#"export PATH="/repo/target/debug:$PATH""#),
            "agora is on the printed PATH"
        );
        assert!(lines.iter().any(|l| l.ends_with("agora asset buy 1 --amount 2 --max-price 0.01")));
        assert!(lines.iter().any(|l| l.contains("agora asset download 1 --provider http://127.0.0.1:8700")));
        let submit =
            format!("agora job submit --dataset 1 --model 2 --provider {}", Address::repeat_byte(0x70));
        assert!(lines.iter().any(|l| l.contains(&submit) && l.ends_with(r#"--spec '{"kind":"embed"}'"#)));

        let algorithm =
            format!("agora job submit --dataset 4 --algorithm 3 --provider {}", Address::repeat_byte(0x70));
        assert!(
            lines.iter().any(|l| l.contains(&algorithm) && l.ends_with(r#"--spec '{"kind":"algorithm"}'"#))
        );
        assert!(lines.iter().any(|l| l.contains("agora job result 2 --wait 300 --output stats")));

        let without_model = next_steps(&session(), Some(&Demo { model: None, ..demo.clone() }));
        assert!(!without_model.iter().any(|l| l.contains("--spec '{\"kind\":\"embed\"}'")));
        assert!(without_model.iter().any(|l| l.contains("agora job result 1 --wait 300 --output stats")));
        let bare = next_steps(&session(), Some(&Demo { model: None, algorithm: None, ..demo }));
        assert!(!bare.iter().any(|l| l.contains("job submit")));
        assert!(next_steps(&session(), None).iter().any(|l| l.contains("--kind model")));
    }

    #[test]
    fn only_the_files_embed_reads_are_staged_and_a_missing_model_is_none() {
        let installed = tempfile::tempdir().unwrap();
        let staged = installed.path().join("staged");
        assert_eq!(stage_model(installed.path(), &staged).unwrap(), None);
        for name in ["config.json", "tokenizer.json", "model.safetensors", "modules.json", ".source"] {
            std::fs::write(installed.path().join(name), name).unwrap();
        }
        std::fs::create_dir(installed.path().join("1_Pooling")).unwrap();
        assert_eq!(stage_model(installed.path(), &staged).unwrap(), Some(staged.clone()));
        let mut names: Vec<_> = std::fs::read_dir(&staged)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["config.json", "model.safetensors", "tokenizer.json"]);
    }
}
