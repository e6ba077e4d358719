//! `agora provider`: running a compute provider — its configuration file, its registration and
//! stake on the ComputeMarket, the service itself (agora-provider's `server::run`, in this
//! process), its state on chain and at its URL, and taking its money out.

use std::{net::SocketAddr, path::PathBuf};

use agora_contracts::{Agora, tx};
use agora_deploy::protocol::manifest_path;
use agora_provider::config::{Config, load_signer};
use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use clap::{Args, Subcommand};
use eyre::{Result, WrapErr, bail, eyre};
use serde::Serialize;
use serde_json::{Value, json};
use url::Url;

use crate::{
    GlobalArgs, chain,
    cmd::{asset::IpfsArgs, job::Service},
    currency::{Currency, Units},
    output, revert,
    wallet::{PRIVATE_KEY_ENV, SignerArgs},
};

/// Provider commands.
#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Write a provider configuration file for the selected network and its deployment.
    ///
    /// Example: agora --network local provider init --config provider.toml --listen 0.0.0.0:8700
    Init(InitArgs),
    /// Register as a compute provider on the ComputeMarket, staking ETH.
    ///
    /// Example: agora provider register --endpoint https://provider.example.org --price 0.05
    Register(RegisterArgs),
    /// Run the provider service (downloads and compute jobs) until Ctrl-C.
    ///
    /// Example: agora provider run --config provider.toml --keystore operator
    Run(RunArgs),
    /// A provider's registration, stake and credited balances; with --url, its service's health.
    ///
    /// Example: agora provider status 0x70997970… --url http://127.0.0.1:8700
    Status(StatusArgs),
    /// Claim balances dispute rulings credited to you; with --unstake, leave and take back the stake.
    ///
    /// Example: agora provider withdraw --unstake
    Withdraw(WithdrawArgs),
    /// Make an access token for this provider's pinning service (the IPFS Pinning Service API
    /// at <URL>/pinning): prints the token, for the publisher (shown once, kept nowhere), and its
    /// SHA-256, for `[pinning] tokens_sha256` in provider.toml.
    ///
    /// Example: agora provider pinning-token
    PinningToken,
}

/// Arguments of `provider init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The file to write.
    #[arg(long, default_value = "provider.toml")]
    pub config: PathBuf,
    /// Address the service listens on.
    #[arg(long, default_value = "127.0.0.1:8700")]
    pub listen: SocketAddr,
    /// SQLite database file.
    #[arg(long, default_value = "provider.sqlite")]
    pub database: PathBuf,
    /// Folder for per-job work folders.
    #[arg(long, default_value = "provider-jobs")]
    pub job_dir: PathBuf,
    /// Compute jobs running at once (0 turns compute jobs off).
    #[arg(long, default_value_t = 1)]
    pub job_workers: usize,
    /// Encrypted JSON keystore file holding the provider's key (recorded in the file).
    #[arg(long)]
    pub keystore_file: Option<PathBuf>,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
    /// The Kubo node.
    #[command(flatten)]
    pub ipfs: IpfsArgs,
}

/// Arguments of `provider register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The service's public URL, recorded on chain for consumers.
    #[arg(long)]
    pub endpoint: Url,
    /// Price of one job in the currency's units (e.g. 0.05 for 0.05 ETH).
    #[arg(long)]
    pub price: String,
    /// Currency jobs are paid in: `eth` or an ERC-20's address.
    #[arg(long, default_value = "eth")]
    pub currency: String,
    /// ETH to stake [default: the market's minimum].
    #[arg(long)]
    pub stake: Option<String>,
    /// The signer (the provider's key).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Arguments of `provider run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file (as written by `agora provider init`; `AGORA_PROVIDER_*` variables override it).
    #[arg(long, env = "AGORA_PROVIDER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Listen address, overriding the file's.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// The signer (the provider's key) [default keystore: the file's `keystore`].
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Arguments of `provider status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The provider [default: the signer's address].
    pub address: Option<Address>,
    /// Also ask the service at this URL for its /health and /v1/info.
    #[arg(long)]
    pub url: Option<Url>,
    /// The signer, when no address is given.
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Arguments of `provider withdraw`.
#[derive(Debug, Args)]
pub struct WithdrawArgs {
    /// Also leave the market: request the exit, or once its cooldown passed, withdraw the stake.
    #[arg(long)]
    pub unstake: bool,
    /// The signer (the provider).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Runs a provider command.
pub async fn run(global: &GlobalArgs, command: ProviderCommand) -> Result<()> {
    match command {
        ProviderCommand::Init(args) => init(global, args),
        ProviderCommand::Register(args) => register(global, args).await,
        ProviderCommand::Run(args) => serve(args).await,
        ProviderCommand::Status(args) => status(global, args).await,
        ProviderCommand::Withdraw(args) => withdraw(global, args).await,
        ProviderCommand::PinningToken => pinning_token(global),
    }
}

fn init(global: &GlobalArgs, args: InitArgs) -> Result<()> {
    if args.config.exists() && !args.force {
        bail!("{} already exists: pass --force to overwrite it", args.config.display());
    }
    let (network, rpc_url) = global.network()?;
    let manifest = manifest_path(&global.deployments_dir, network.chain_id);
    if !manifest.is_file() {
        bail!(
            "no deployment of Agora on chain {}: {} does not exist (run `agora deploy`, or pass --deployments-dir)",
            network.chain_id,
            manifest.display()
        );
    }
    let manifest = std::path::absolute(&manifest)?;
    let defaults = Config::default();
    let config = Config {
        listen: args.listen,
        rpc_url: rpc_url.to_string(),
        deployment: manifest,
        ipfs_api: args.ipfs.api.clone(),
        database: args.database,
        keystore: args.keystore_file,
        job_workers: args.job_workers,
        job_dir: args.job_dir,
        ..defaults
    };
    std::fs::write(&args.config, render(&config, &global.network)?)
        .wrap_err_with(|| format!("writing {}", args.config.display()))?;
    // What was written must load as the provider loads it.
    Config::load(Some(&args.config))
        .map_err(|err| eyre!("the written {} does not load: {err}", args.config.display()))?;
    if global.json {
        return output::json(&json!({ "config": args.config, "provider": config }));
    }
    println!("wrote {} for network {} (chain {})", args.config.display(), global.network, network.chain_id);
    println!("next: agora provider register --endpoint <public URL> --price <per job>");
    println!("      agora provider run --config {}", args.config.display());
    Ok(())
}

/// `provider pinning-token`: 32 random bytes as hex, and their SHA-256 as the provider lists it.
fn pinning_token(global: &GlobalArgs) -> Result<()> {
    use sha2::Digest;
    let token = alloy::hex::encode(rand::random::<[u8; 32]>());
    let digest = alloy::hex::encode(sha2::Sha256::digest(token.as_bytes()));
    if global.json {
        return output::json(&json!({ "token": token, "sha256": digest }));
    }
    println!("token   {token}");
    println!("        give it to the publisher; it is not kept anywhere, so store it now");
    println!("sha256  {digest}");
    println!(
        "        add it to provider.toml: [pinning] tokens_sha256 = [\"{digest}\"], then restart the provider"
    );
    Ok(())
}

/// The provider's example configuration: its comments, its keys in their order.
const EXAMPLE: &str = include_str!("../../../provider/provider.example.toml");

/// `config` as a TOML file in the shape of provider.example.toml: the example's comments and
/// layout with each key's value replaced (keys the example lacks are appended).
fn render(config: &Config, network: &str) -> Result<String> {
    let value = serde_json::to_value(config)?;
    let values = value.as_object().ok_or_else(|| eyre!("the provider configuration is not a table"))?;
    let mut out = format!(
        "# agora-provider configuration for network {network}, written by `agora provider init`.\n\
         # Serve it with `agora provider run --config <this file>`, which also signs with --keystore\n\
         # or AGORA_PRIVATE_KEY.\n"
    );
    // Top-level keys the example does not show go before its first table.
    let shown: std::collections::HashSet<&str> = EXAMPLE
        .lines()
        .filter_map(|line| line.strip_prefix("# ").unwrap_or(line).split_once(" = ").map(|(key, _)| key))
        .collect();
    let mut extra = String::new();
    for (key, value) in values {
        // Tables (e.g. [job_limits]) come over from the example as they are, with their defaults.
        if !value.is_null() && !value.is_object() && !shown.contains(key.as_str()) {
            extra.push_str(&format!("{key} = {}\n", toml_value(key, value)?));
        }
    }
    let mut in_table = false;
    // The example's first line says every value is a default, which is no longer so.
    for line in EXAMPLE.lines().skip(1) {
        if line.starts_with('[') && !in_table {
            in_table = true;
            out.push_str(&std::mem::take(&mut extra));
        }
        let candidate = line.strip_prefix("# ").unwrap_or(line);
        let top_level = candidate
            .split_once(" = ")
            .filter(|_| !in_table)
            .and_then(|(key, _)| Some((key, values.get(key)?)));
        match top_level {
            Some((key, value)) if !value.is_null() => {
                out.push_str(&format!("{key} = {}\n", toml_value(key, value)?))
            }
            _ => out.push_str(&format!("{line}\n")),
        }
    }
    out.push_str(&extra);
    Ok(out)
}

/// A scalar as TOML (JSON strings, numbers and booleans are valid TOML values).
fn toml_value(key: &str, value: &Value) -> Result<String> {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(value.to_string()),
        _ => bail!("the provider setting {key} is not a plain value"),
    }
}

async fn register(global: &GlobalArgs, args: RegisterArgs) -> Result<()> {
    let currency = Currency::parse(&args.currency)?;
    let (agora, signer) = chain::writer(global, &args.signer).await?;
    let units = currency.units(agora.provider()).await?;
    let price = units.parse(&args.price)?;
    let price = u128::try_from(price)
        .map_err(|_| eyre!("price {} is above the largest the market stores", args.price))?;
    let min_stake =
        U256::from(tx::call("computeMarket.params", agora.compute_market.params()).await?.minStake);
    let stake = match &args.stake {
        Some(text) => Units::eth().parse(text)?,
        None => min_stake,
    };
    let endpoint = args.endpoint.to_string();
    let call =
        agora.compute_market.registerProvider(endpoint.clone(), currency.address(), price).value(stake);
    let receipt =
        tx::send("computeMarket.registerProvider", call).await.map_err(|e| revert::explain(e, &units))?;
    let report = json!({
        "provider": signer.address,
        "endpoint": endpoint,
        "currency": currency.address(),
        "price": price.to_string(),
        "stake": stake.to_string(),
        "txHash": receipt.transaction_hash,
    });
    if global.json {
        return output::json(&report);
    }
    println!("registered {} as a compute provider", signer.address);
    output::table(&[
        ("endpoint".into(), endpoint),
        ("price per job".into(), units.format(U256::from(price))),
        ("stake".into(), output::ether(stake)),
    ]);
    Ok(())
}

async fn serve(args: RunArgs) -> Result<()> {
    let mut config = match &args.config {
        Some(path) if !path.is_file() => {
            bail!("no provider configuration at {} (write one with `agora provider init`)", path.display())
        }
        path => {
            Config::load(path.as_deref()).map_err(|err| eyre!("loading the provider configuration: {err}"))?
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let key = provider_key(&config, &args.signer).await?;
    let address = key.address();
    let deployment = agora_contracts::Deployment::read(&config.deployment)
        .wrap_err_with(|| format!("reading the deployment manifest {}", config.deployment.display()))?;
    let rpc_url: Url = config.rpc_url.parse().map_err(|_| eyre!("invalid rpc_url {:?}", config.rpc_url))?;
    let agora = Agora::new(
        deployment,
        alloy::providers::Provider::erased(alloy::providers::ProviderBuilder::new().connect_http(rpc_url)),
    );
    let record = tx::call("computeMarket.getProvider", agora.compute_market.getProvider(address)).await?;
    if !record.registered {
        eprintln!(
            "note: {} is not registered on the ComputeMarket yet; consumers find it after `agora provider register`",
            address
        );
    }
    println!("provider {} serving on http://{} (Ctrl-C stops it)", address, config.listen);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    agora_provider::server::run(&config, key, shutdown).await?;
    println!("stopped");
    Ok(())
}

/// The provider's key: as the configuration file says (`AGORA_PROVIDER_PRIVATE_KEY`, or its
/// `keystore` with `AGORA_PROVIDER_KEYSTORE_PASSWORD`) when those are set and no --keystore is
/// given; otherwise the command's signer (--keystore, `AGORA_PRIVATE_KEY`, then the file's
/// `keystore` with its password from --password-file or a prompt).
async fn provider_key(config: &Config, signer: &SignerArgs) -> Result<PrivateKeySigner> {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.trim().is_empty());
    let (key, password) = (env("AGORA_PROVIDER_PRIVATE_KEY"), env("AGORA_PROVIDER_KEYSTORE_PASSWORD"));
    if signer.keystore.is_none() && (key.is_some() || (config.keystore.is_some() && password.is_some())) {
        return Ok(load_signer(key.as_deref(), config.keystore.as_deref(), password.as_deref())?);
    }
    let mut signer = signer.clone();
    if signer.keystore.is_none()
        && env(PRIVATE_KEY_ENV).is_none()
        && let Some(keystore) = &config.keystore
    {
        signer.keystore = Some(keystore.to_string_lossy().into_owned());
    }
    signer.signer().await?.key.ok_or_else(|| {
        eyre!("a provider signs receipts with a local key: use --keystore or AGORA_PRIVATE_KEY")
    })
}

/// A provider as `provider status` prints it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProviderView {
    address: Address,
    registered: bool,
    endpoint: String,
    currency: Address,
    /// Base units.
    price: String,
    /// Wei.
    stake: String,
    active_jobs: u32,
    exit_available_at: u64,
    /// Per currency, base units.
    claimable: Vec<Claimable>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<Value>,
}

#[derive(Serialize)]
struct Claimable {
    currency: Address,
    amount: String,
    #[serde(skip)]
    display: String,
}

async fn status(global: &GlobalArgs, args: StatusArgs) -> Result<()> {
    let agora = chain::reader(global).await?;
    let address = match args.address {
        Some(address) => address,
        None => args.signer.signer().await.wrap_err("no provider address given and no signer")?.address,
    };
    let record = tx::call("computeMarket.getProvider", agora.compute_market.getProvider(address)).await?;
    let units = Currency::from_address(record.currency).units(agora.provider()).await?;
    let claimable = claimable(&agora, address, record.currency).await?;
    let service = match &args.url {
        Some(url) => {
            let service = Service::new(Some(url), "")?;
            let health = service.get("/health", "health check").await?;
            let info = service.check_identity(address, agora.deployment.chain_id).await?;
            Some(json!({ "health": health, "info": info }))
        }
        None => None,
    };
    let view = ProviderView {
        address,
        registered: record.registered,
        endpoint: record.endpoint.clone(),
        currency: record.currency,
        price: record.price.to_string(),
        stake: record.stake.to_string(),
        active_jobs: record.activeJobs.to(),
        exit_available_at: record.exitAvailableAt,
        claimable,
        service,
    };
    if global.json {
        return output::json(&view);
    }
    let mut rows = vec![("provider".into(), address.to_string())];
    if record.registered {
        rows.extend([
            ("registered".into(), "yes".into()),
            ("endpoint".into(), view.endpoint.clone()),
            ("price per job".into(), units.format(U256::from(record.price))),
            ("stake".into(), output::ether(U256::from(record.stake))),
            ("active jobs".into(), view.active_jobs.to_string()),
            (
                "exit".into(),
                match record.exitAvailableAt {
                    0 => "not requested".into(),
                    at => format!("stake withdrawable from {at} (unix time)"),
                },
            ),
        ]);
    } else {
        rows.push(("registered".into(), "no (see `agora provider register`)".into()));
    }
    for entry in &view.claimable {
        rows.push(("claimable".into(), entry.display.clone()));
    }
    if let Some(service) = &view.service {
        let ipfs = if service["health"]["ipfs"].as_bool() == Some(true) { "IPFS up" } else { "IPFS down" };
        rows.push((
            "service".into(),
            format!("{} ({ipfs})", service["health"]["status"].as_str().unwrap_or("?")),
        ));
        let kinds = service["info"]["jobKinds"]
            .as_array()
            .map(|k| k.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "));
        rows.push(("job kinds".into(), kinds.filter(|k| !k.is_empty()).unwrap_or_else(|| "none".into())));
        rows.push(("version".into(), service["info"]["version"].as_str().unwrap_or("?").to_owned()));
    }
    output::table(&rows);
    Ok(())
}

/// What rulings credited to `address` in ETH and in the provider's currency.
async fn claimable(agora: &Agora, address: Address, currency: Address) -> Result<Vec<Claimable>> {
    let mut currencies = vec![Address::ZERO];
    if !currency.is_zero() {
        currencies.push(currency);
    }
    let mut out = Vec::new();
    for currency in currencies {
        let amount =
            tx::call("computeMarket.claimable", agora.compute_market.claimable(address, currency)).await?;
        let units = Currency::from_address(currency).units(agora.provider()).await?;
        out.push(Claimable { currency, amount: amount.to_string(), display: units.format(amount) });
    }
    Ok(out)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Withdrawal {
    action: &'static str,
    currency: Address,
    /// Base units.
    amount: String,
    tx_hash: B256,
    #[serde(skip_serializing_if = "Option::is_none")]
    available_at: Option<u64>,
}

async fn withdraw(global: &GlobalArgs, args: WithdrawArgs) -> Result<()> {
    let (agora, signer) = chain::writer(global, &args.signer).await?;
    let me = signer.address;
    let record = tx::call("computeMarket.getProvider", agora.compute_market.getProvider(me)).await?;
    let mut done = Vec::new();
    let mut lines = Vec::new();
    for entry in claimable(&agora, me, record.currency).await? {
        if entry.amount == "0" {
            continue;
        }
        let units = Currency::from_address(entry.currency).units(agora.provider()).await?;
        let receipt = tx::send("computeMarket.claim", agora.compute_market.claim(entry.currency))
            .await
            .map_err(|e| revert::explain(e, &units))?;
        lines.push(format!("claimed {}", entry.display));
        done.push(Withdrawal {
            action: "claim",
            currency: entry.currency,
            amount: entry.amount,
            tx_hash: receipt.transaction_hash,
            available_at: None,
        });
    }
    if args.unstake {
        if !record.registered {
            bail!("{me} is not a registered provider: there is no stake to withdraw");
        }
        let eth = Units::eth();
        if record.exitAvailableAt == 0 {
            let receipt = tx::send("computeMarket.requestExit", agora.compute_market.requestExit())
                .await
                .map_err(|e| revert::explain(e, &eth))?;
            let after = tx::call("computeMarket.getProvider", agora.compute_market.getProvider(me)).await?;
            lines.push(format!(
                "exit requested: no new jobs; run this again from {} (unix time) to withdraw the stake of {}",
                after.exitAvailableAt,
                output::ether(U256::from(record.stake))
            ));
            done.push(Withdrawal {
                action: "requestExit",
                currency: Address::ZERO,
                amount: "0".into(),
                tx_hash: receipt.transaction_hash,
                available_at: Some(after.exitAvailableAt),
            });
        } else {
            let receipt = tx::send("computeMarket.withdrawStake", agora.compute_market.withdrawStake())
                .await
                .map_err(|e| revert::explain(e, &eth))?;
            lines.push(format!(
                "withdrew the stake of {} and left the market",
                output::ether(U256::from(record.stake))
            ));
            done.push(Withdrawal {
                action: "withdrawStake",
                currency: Address::ZERO,
                amount: record.stake.to_string(),
                tx_hash: receipt.transaction_hash,
                available_at: None,
            });
        }
    }
    if done.is_empty() {
        bail!(
            "nothing to withdraw: no balance is credited to {me} (pass --unstake to leave and take back the stake)"
        );
    }
    if global.json {
        return output::json(&done);
    }
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rendered_file_holds_every_setting() {
        let config = Config {
            rpc_url: "http://127.0.0.1:9545/".into(),
            keystore: Some("keys/op \"1\".json".into()),
            job_workers: 3,
            ..Config::default()
        };
        let text = render(&config, "local").unwrap();
        assert!(text.contains("\n# Compute jobs:"), "the example's comments are kept: {text}");
        for (key, value) in serde_json::to_value(&config).unwrap().as_object().unwrap() {
            let shown = match value {
                serde_json::Value::Null => true,
                serde_json::Value::Object(_) => text.contains(&format!("\n[{key}]\n")),
                _ => text.contains(&format!("\n{key} = ")),
            };
            assert!(shown, "{key} missing: {text}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("provider.toml");
        std::fs::write(&path, text).unwrap();
        assert_eq!(Config::load(Some(&path)).unwrap(), config);
    }
}
