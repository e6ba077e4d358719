//! `agora`: one command for every user of the hub.
//!
//! - [`Cli`]: global options (network, RPC URL, output format) flattened into every command,
//!   one `Args` struct per subcommand in `cmd/<name>.rs`.
//! - [`wallet`]: where a command's signing key comes from — an encrypted JSON keystore
//!   (password from a prompt or a file, never a flag), `AGORA_PRIVATE_KEY`, or a hardware
//!   wallet behind the `ledger`/`trezor` features. Keys are never printed or logged.
//! - [`chain`]: the selected network's contracts (chain id checked, deployment manifest read),
//!   as a reader or as the command's signer.
//! - [`currency`]: ETH or an ERC-20, and amounts written in its units.
//! - [`revert`]: the protocol's custom errors as sentences ("price changed: …").
//! - [`output`]: tables for people, `--json` for scripts.

pub mod chain;
pub mod cmd;
pub mod currency;
pub mod output;
pub mod revert;
pub mod wallet;

use std::path::PathBuf;

use agora_deploy::network::{Network, Networks};
use clap::{Args, Parser, Subcommand};
use eyre::Result;
use url::Url;

/// Agora: a decentralized hub for datasets, models and compute.
#[derive(Debug, Parser)]
#[command(name = "agora", version, about, propagate_version = true)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Named network (local, sepolia, base-sepolia, polygon-amoy, or one from --networks-file).
    #[arg(long, global = true, env = "AGORA_NETWORK", default_value = "local")]
    pub network: String,
    /// RPC URL, overriding the network's.
    #[arg(long, global = true, env = "AGORA_RPC_URL")]
    pub rpc_url: Option<Url>,
    /// Extra or overriding network definitions (TOML, same shape as deploy/networks.toml).
    #[arg(long, global = true, env = "AGORA_NETWORKS_FILE")]
    pub networks_file: Option<PathBuf>,
    /// Folder of deployment manifests (`<chainId>.json`).
    #[arg(long, global = true, env = "AGORA_DEPLOYMENTS_DIR", default_value = "deploy/deployments")]
    pub deployments_dir: PathBuf,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

impl GlobalArgs {
    /// The selected network and its RPC URL.
    pub fn network(&self) -> Result<(Network, Url)> {
        let network = self.network_definition()?;
        let url = network.rpc_url(&self.network, self.rpc_url.as_ref())?;
        Ok((network, url))
    }

    /// The selected network's definition, without resolving its RPC URL.
    fn network_definition(&self) -> Result<Network> {
        let networks = match &self.networks_file {
            Some(path) => Networks::with_file(path)?,
            None => Networks::built_in(),
        };
        Ok(networks.get(&self.network)?.clone())
    }

    /// The pinning services the selected network has an asset kept by before it is minted
    /// (its `[pinning]` table), their keys read from the environment; `None` without one.
    pub fn replication(&self) -> Result<Option<agora_client::pins::Replication>> {
        let network = self.network_definition()?;
        let Some((services, replicas, wait)) = network.pinning_services(&self.network)? else {
            return Ok(None);
        };
        let services = services
            .into_iter()
            .map(|service| agora_client::pins::RemoteService {
                name: service.name,
                register: service.register.map(|(endpoint, key)| (endpoint.to_string(), key)),
            })
            .collect();
        Ok(Some(agora_client::pins::Replication::new(services, replicas, wait)?))
    }
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring up the whole system locally (anvil, PostgreSQL, Kubo, contracts, indexer, provider, demo).
    ///
    /// Example: agora dev --rpc-port 8545
    Dev(cmd::dev::DevArgs),
    /// Deploy the protocol to a network (idempotent; --dry-run prints gas and cost).
    ///
    /// Example: SEPOLIA_RPC_URL=https://… agora --network sepolia deploy --keystore deployer
    Deploy(cmd::deploy::DeployArgs),
    /// Serve the web hub over an indexer (and a provider for receipts).
    ///
    /// Example: agora hub --indexer http://127.0.0.1:8080 --provider http://127.0.0.1:8700
    Hub(cmd::hub::HubArgs),
    /// Manage encrypted keystores.
    ///
    /// Example: agora wallet new --name alice
    #[command(subcommand)]
    Wallet(cmd::wallet::WalletCommand),
    /// Publish, inspect, buy, download and grant assets.
    ///
    /// Example: agora asset buy 1 --max-price 0.01
    #[command(subcommand)]
    Asset(cmd::asset::AssetCommand),
    /// Algorithms for compute jobs: start a project that builds into a WASI module.
    ///
    /// Example: agora algorithm new --lang go wordcount
    #[command(subcommand)]
    Algorithm(cmd::algorithm::AlgorithmCommand),
    /// Revenue splits: who is owed what, and paying it out.
    ///
    /// Example: agora split release 1
    #[command(subcommand)]
    Split(cmd::split::SplitCommand),
    /// Governance: delegate, propose, vote, queue, execute, status, list.
    ///
    /// Example: agora dao propose --description "Fee to 1.5%" set-fee 150
    #[command(subcommand)]
    Dao(cmd::dao::DaoCommand),
    /// Compute providers: configure, register and stake, run the service, status, withdraw.
    ///
    /// Example: agora provider register --endpoint https://provider.example --price 0.05
    #[command(subcommand)]
    Provider(cmd::provider::ProviderCommand),
    /// Compute jobs: submit, status, result, verify (re-execute locally), dispute, refund.
    ///
    /// Example: agora job verify 3 --dataset notes.jsonl
    #[command(subcommand)]
    Job(cmd::job::JobCommand),
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Dev(args) => cmd::dev::run(&cli.global, args).await,
        Command::Deploy(args) => cmd::deploy::run(&cli.global, args).await,
        Command::Hub(args) => cmd::hub::run(&cli.global, args).await,
        Command::Wallet(command) => cmd::wallet::run(&cli.global, command),
        Command::Asset(command) => cmd::asset::run(&cli.global, command).await,
        Command::Algorithm(command) => cmd::algorithm::run(&cli.global, command),
        Command::Split(command) => cmd::split::run(&cli.global, command).await,
        Command::Dao(command) => cmd::dao::run(&cli.global, command).await,
        Command::Provider(command) => cmd::provider::run(&cli.global, command).await,
        Command::Job(command) => cmd::job::run(&cli.global, command).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every command and command group shows an `Example:` line in its `--help`.
    #[test]
    fn every_command_has_an_example_in_its_help() {
        fn walk(command: &mut clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in command.get_subcommands_mut().filter(|sub| sub.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                let help = sub.render_long_help().to_string();
                if !help
                    .lines()
                    .any(|line| line.trim_start().starts_with("Example: ") && line.contains("agora "))
                {
                    missing.push(path.clone());
                }
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&mut super::Cli::command(), "agora", &mut missing);
        assert!(missing.is_empty(), "no example in the help of: {missing:?}");
    }
}
