//! `agora deploy`: the whole protocol on one network, idempotently, with a manifest.

use agora_contracts::{DeployParams, signing_provider};
use agora_deploy::{network::redact, protocol, services::anvil};
use alloy::{primitives::B256, providers::ProviderBuilder};
use clap::{Args, ValueEnum};
use eyre::{Result, WrapErr};
use serde::Serialize;

use crate::{GlobalArgs, output, wallet::SignerArgs};

/// Deploy the protocol: deterministic CREATE2 addresses, the timelock owning every parameter,
/// the manifest written to `<deployments-dir>/<chainId>.json`. Re-running skips what exists.
///
/// Example: agora --network sepolia deploy --keystore deployer --dry-run
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Deploy to a throwaway anvil fork and print each transaction's gas and the total cost
    /// at the network's gas price; nothing is sent to the network and no key is needed.
    #[arg(long)]
    pub dry_run: bool,
    /// Parameter preset: `public` (one-hour timelock) or `local` (one-second timelock, for dev chains).
    #[arg(long, value_enum, default_value_t = Preset::Public)]
    pub preset: Preset,
    /// CREATE2 salt (32-byte hex); another salt deploys an independent copy.
    #[arg(long)]
    pub salt: Option<B256>,
    /// Deployer address for --dry-run when no signer is configured.
    #[arg(long)]
    pub from: Option<alloy::primitives::Address>,
    /// The signer.
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Deployment parameter presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// Parameters for public networks.
    Public,
    /// Parameters for local development chains.
    Local,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DryRunReport {
    chain_id: u64,
    transactions: Vec<DryRunTx>,
    total_gas: u64,
    gas_price_wei: String,
    cost_wei: String,
    deployer_balance_wei: String,
    contracts: agora_contracts::ContractAddresses,
}

#[derive(Serialize)]
struct DryRunTx {
    step: String,
    gas: u64,
}

/// Runs `agora deploy`.
pub async fn run(global: &GlobalArgs, args: DeployArgs) -> Result<()> {
    let (network, url) = global.network()?;
    let mut params = match args.preset {
        Preset::Public => DeployParams::default(),
        Preset::Local => DeployParams::local(),
    };
    if let Some(salt) = args.salt {
        params.salt = salt;
    }
    let reader = ProviderBuilder::new().connect_http(url.clone());
    network.check_chain(&global.network, &url, &reader).await?;

    if args.dry_run {
        let deployer = match args.from {
            Some(address) => address,
            None => args.signer.signer().await.wrap_err("--dry-run needs --from or a signer")?.address,
        };
        let report = protocol::dry_run(&anvil::binary_path()?, &url, deployer, &params).await?;
        if global.json {
            return output::json(&DryRunReport {
                chain_id: report.chain_id,
                transactions: report
                    .transactions
                    .iter()
                    .map(|(step, gas)| DryRunTx { step: step.clone(), gas: *gas })
                    .collect(),
                total_gas: report.total_gas,
                gas_price_wei: report.gas_price.to_string(),
                cost_wei: report.cost.to_string(),
                deployer_balance_wei: report.deployer_balance.to_string(),
                contracts: report.deployment.contracts,
            });
        }
        let mut rows: Vec<(String, String)> =
            report.transactions.iter().map(|(step, gas)| (step.clone(), format!("{gas} gas"))).collect();
        rows.push(("total".into(), format!("{} gas", report.total_gas)));
        rows.push(("gas price".into(), format!("{} gwei", report.gas_price as f64 / 1e9)));
        rows.push(("cost".into(), output::ether(report.cost)));
        rows.push(("deployer balance".into(), output::ether(report.deployer_balance)));
        println!(
            "dry run of a deployment to {} (chain {}) from {deployer}:",
            global.network, report.chain_id
        );
        output::table(&rows);
        if report.deployer_balance < report.cost {
            println!("warning: the deployer cannot pay for this deployment at the current gas price");
        }
        return Ok(());
    }

    let signer = args.signer.signer().await?;
    let provider = signing_provider(url.clone(), signer.wallet);
    let deployment = protocol::deploy(
        &provider,
        signer.address,
        &params,
        &global.deployments_dir,
        option_env!("AGORA_GIT_REVISION"),
    )
    .await?;
    let path = protocol::manifest_path(&global.deployments_dir, deployment.chain_id);
    if global.json {
        return output::json(&deployment);
    }
    let c = deployment.contracts;
    println!(
        "deployed to {} (chain {}, {}); manifest {}",
        global.network,
        deployment.chain_id,
        redact(&url),
        path.display()
    );
    output::table(&[
        ("AgoraToken".into(), c.agora_token.to_string()),
        ("AgoraTimelock".into(), c.timelock.to_string()),
        ("AgoraGovernor".into(), c.governor.to_string()),
        ("AssetRegistry".into(), c.asset_registry.to_string()),
        ("Marketplace".into(), c.marketplace.to_string()),
        ("RevenueSplitter".into(), c.revenue_splitter.to_string()),
        ("ComputeMarket".into(), c.compute_market.to_string()),
        ("AccessToken (implementation)".into(), c.access_token_implementation.to_string()),
        ("deployment block".into(), deployment.deployment_block.to_string()),
    ]);
    Ok(())
}
