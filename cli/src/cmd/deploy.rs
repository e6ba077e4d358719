//! `agora deploy`: the whole protocol on one network, idempotently, with a manifest.

use agora_contracts::{DeployParams, Deployment, signing_provider, words::Units};
use agora_deploy::{network::redact, protocol, services::anvil};
use alloy::{
    primitives::{B256, U256},
    providers::ProviderBuilder,
};
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
    /// Parameter preset: `public` (days: a day's voting delay, five days of voting, a two-day
    /// timelock; the supply to the treasury and the rewards reserve) or `local` (seconds, and AGORA
    /// granted to the dev accounts). The network's `dao` and `allocation` tables in networks.toml
    /// override it.
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
    allocation: Option<agora_contracts::deploy::Allocation>,
    vesting_wallets: Vec<agora_contracts::manifest::VestingWallet>,
    governance: Option<agora_contracts::manifest::GovernanceSettings>,
}

#[derive(Serialize)]
struct DryRunTx {
    step: String,
    gas: u64,
}

/// Runs `agora deploy`.
pub async fn run(global: &GlobalArgs, args: DeployArgs) -> Result<()> {
    let (network, url) = global.network()?;
    let preset = match args.preset {
        Preset::Public => DeployParams::default(),
        Preset::Local => DeployParams::local(),
    };
    let mut params = network.deploy_params(&global.network, preset)?;
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
                allocation: report.deployment.allocation.clone(),
                vesting_wallets: report.deployment.vesting_wallets.clone(),
                governance: report.deployment.governance.clone(),
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
        println!();
        print_dao(&report.deployment);
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
        ("AgoraRewards".into(), c.rewards.to_string()),
        ("deployment block".into(), deployment.deployment_block.to_string()),
    ]);
    println!();
    print_dao(&deployment);
    Ok(())
}

/// The allocation and the governance settings a deployment mints and sets.
fn print_dao(deployment: &Deployment) {
    let units = Units::agora();
    if let Some(allocation) = &deployment.allocation {
        let supply = allocation.supply();
        let share = |amount: U256| {
            let bps = if supply.is_zero() { U256::ZERO } else { amount * U256::from(10_000) / supply };
            format!("{} ({}.{:02} %)", units.format(amount), bps / U256::from(100), bps % U256::from(100))
        };
        let c = deployment.contracts;
        let mut rows = vec![
            ("supply".to_owned(), units.format(supply)),
            (format!("treasury (timelock {})", c.timelock), share(allocation.treasury)),
            (format!("rewards reserve (AgoraRewards {})", c.rewards), share(allocation.rewards_reserve)),
        ];
        for (v, wallet) in allocation.vesting.iter().zip(&deployment.vesting_wallets) {
            rows.push((
                format!("vesting {} (wallet {})", v.beneficiary, wallet.wallet),
                format!(
                    "{}, from unix {} over {}, cliff {}",
                    share(v.amount),
                    v.start,
                    output::duration(v.duration),
                    output::duration(v.cliff)
                ),
            ));
        }
        for g in &allocation.grants {
            let who = if g.holder == deployment.deployer {
                format!("{} (the deployer)", g.holder)
            } else {
                g.holder.to_string()
            };
            rows.push((format!("grant {who}"), share(g.amount)));
        }
        let to_deployer: U256 =
            allocation.grants.iter().filter(|g| g.holder == deployment.deployer).map(|g| g.amount).sum();
        rows.push(("the deployer keeps".to_owned(), units.format(to_deployer)));
        println!("AGORA allocation:");
        output::table(&rows);
        println!();
    }
    if let Some(g) = &deployment.governance {
        println!("governance (time in seconds, the block timestamp's clock):");
        output::table(&[
            ("voting delay".into(), output::duration(g.voting_delay)),
            ("voting period".into(), output::duration(g.voting_period)),
            ("late-quorum extension".into(), output::duration(g.vote_extension)),
            ("timelock delay".into(), output::duration(g.timelock_delay)),
            ("quorum".into(), format!("{} % of the supply", g.quorum_percent)),
            ("proposal threshold".into(), units.format(g.proposal_threshold)),
            ("proposal guardian".into(), g.guardian.to_string()),
            (
                "rewards epochs".into(),
                format!(
                    "{} each, from unix {}",
                    output::duration(g.rewards_epoch_length),
                    g.rewards_epoch_start
                ),
            ),
        ]);
    }
}
