//! `agora dao rewards`: AGORA earned by use. `compute` recomputes an ended epoch's distribution
//! from the chain's raw logs (the formula is `agora_contracts::rewards`'), `claim` pays the
//! signer its share of a funded epoch; `agora dao propose … rewards-epoch N` funds one.

use agora_api::RewardsWindow;
use agora_contracts::{
    Agora,
    rewards::{self, DEFAULT_CAP_BPS, Distribution},
    tx,
    words::{Units, time},
};
use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider as _,
};
use clap::{Args, Subcommand};
use eyre::{Result, bail, eyre};
use serde::Serialize;

use crate::{GlobalArgs, chain, output, revert, wallet::SignerArgs};

/// Rewards commands.
#[derive(Debug, Subcommand)]
pub enum RewardsCommand {
    /// What every account earned in an ended epoch, and the Merkle root and total that fund it,
    /// recomputed from the chain's logs (anyone gets the same answer).
    ///
    /// Example: agora dao rewards compute --epoch 3 --json
    Compute(EpochArgs),
    /// Claim your share of a funded epoch (the tokens carry no votes until you delegate).
    ///
    /// Example: agora dao rewards claim --epoch 3
    Claim(ClaimArgs),
}

/// Which epoch, and how its budget is shared.
#[derive(Debug, Clone, Args)]
pub struct EpochArgs {
    /// The epoch (see `AgoraRewards.epochWindow`).
    #[arg(long)]
    pub epoch: u64,
    /// AGORA shared among the epoch's accounts [default: 0.5 % of the deployment's rewards
    /// reserve]; the funding proposal names it.
    #[arg(long)]
    pub budget: Option<String>,
    /// The most of the budget one account receives, in basis points.
    #[arg(long, default_value_t = DEFAULT_CAP_BPS, value_parser = clap::value_parser!(u16).range(1..=10_000))]
    pub cap_bps: u16,
    /// Read the epoch's points from this indexer's `/rewards/usage` (fast) instead of the chain's
    /// raw logs; both give the same points.
    #[arg(long, value_name = "URL")]
    pub indexer: Option<url::Url>,
}

/// Arguments of `dao rewards claim`.
#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// The epoch and its budget, as funded.
    #[command(flatten)]
    pub epoch: EpochArgs,
    /// The signer (the account that earned the reward; anyone may send a claim, the tokens go
    /// to the account).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// One epoch's distribution, computed.
pub struct Computed {
    /// The epoch.
    pub epoch: u64,
    /// Its window `[start, end)`, unix seconds.
    pub window: (u64, u64),
    /// The budget, AGORA base units.
    pub budget: U256,
    /// Points per account.
    pub usage: rewards::Usage,
    /// Amounts, tree and proofs.
    pub distribution: Distribution,
}

/// Computes epoch `args.epoch` of `agora`'s deployment from raw logs; refuses an epoch that has
/// not ended (its usage is not final).
pub async fn compute(agora: &Agora, args: &EpochArgs) -> Result<Computed> {
    let units = Units::agora();
    let explain = |err| revert::explain(err, &units);
    if agora.deployment.contracts.rewards.is_zero() {
        bail!("this deployment predates AgoraRewards: it has no rewards reserve");
    }
    let budget = match &args.budget {
        Some(text) => units.parse(text)?,
        None => rewards::default_budget(&agora.deployment),
    };
    let window = rewards::window(&agora.rewards, args.epoch).await.map_err(explain)?;
    let head = agora.provider().get_block_by_number(Default::default()).await?;
    let now = head.map(|b| b.header.timestamp).unwrap_or_default();
    if now < window.1 {
        bail!(
            "rewards epoch {} runs until {}: its usage is not final yet",
            args.epoch,
            time(window.1 as i64)
        );
    }
    let usage = match &args.indexer {
        Some(url) => {
            let query = RewardsWindow { start: window.0 as i64, end: window.1 as i64 };
            let answer = agora_api::Client::new(url.clone())
                .rewards_usage(&query)
                .await
                .map_err(|err| eyre!("the indexer at {url}: {err}"))?;
            answer
                .accounts
                .iter()
                .map(|a| {
                    Ok((
                        a.account
                            .parse()
                            .map_err(|_| eyre!("the indexer sent {:?} as an address", a.account))?,
                        a.points,
                    ))
                })
                .collect::<Result<rewards::Usage>>()?
        }
        None => {
            rewards::usage_from_logs(agora.provider(), &agora.deployment, window).await.map_err(explain)?
        }
    };
    let distribution = Distribution::new(rewards::allocate(&usage, budget, args.cap_bps));
    Ok(Computed { epoch: args.epoch, window, budget, usage, distribution })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    epoch: u64,
    start: u64,
    end: u64,
    budget: String,
    cap_bps: u16,
    root: B256,
    total: String,
    accounts: Vec<Line<'a>>,
}

#[derive(Serialize)]
struct Line<'a> {
    account: Address,
    points: u64,
    amount: String,
    proof: &'a [B256],
}

/// Runs a rewards command.
pub async fn run(global: &GlobalArgs, command: RewardsCommand) -> Result<()> {
    let units = Units::agora();
    match command {
        RewardsCommand::Compute(args) => {
            let agora = chain::reader(global).await?;
            let c = compute(&agora, &args).await?;
            let proofs: Vec<(Address, u64, U256, Vec<B256>)> = c
                .distribution
                .amounts
                .keys()
                .filter_map(|a| {
                    c.distribution.proof(*a).map(|(amount, proof)| (*a, c.usage[a], amount, proof))
                })
                .collect();
            if global.json {
                return output::json(&Report {
                    epoch: c.epoch,
                    start: c.window.0,
                    end: c.window.1,
                    budget: c.budget.to_string(),
                    cap_bps: args.cap_bps,
                    root: c.distribution.root(),
                    total: c.distribution.total().to_string(),
                    accounts: proofs
                        .iter()
                        .map(|(account, points, amount, proof)| Line {
                            account: *account,
                            points: *points,
                            amount: amount.to_string(),
                            proof,
                        })
                        .collect(),
                });
            }
            println!(
                "rewards epoch {} ({} to {}): budget {}, at most {} bps each",
                c.epoch,
                time(c.window.0 as i64),
                time(c.window.1 as i64),
                units.format(c.budget),
                args.cap_bps
            );
            let mut rows = vec![
                ("root".to_owned(), c.distribution.root().to_string()),
                ("total".to_owned(), units.format(c.distribution.total())),
            ];
            for (account, points, amount, _) in &proofs {
                rows.push((account.to_string(), format!("{} ({points} points)", units.format(*amount))));
            }
            output::table(&rows);
            if proofs.is_empty() {
                println!("nobody earned anything in this epoch: there is nothing to fund");
            }
            Ok(())
        }
        RewardsCommand::Claim(args) => {
            let (agora, signer) = chain::writer(global, &args.signer).await?;
            let explain = |err| revert::explain(err, &units);
            let epoch = U256::from(args.epoch.epoch);
            let funded = tx::call("rewards.epoch", agora.rewards.epoch(epoch)).await.map_err(explain)?;
            if funded.root.is_zero() {
                bail!("rewards epoch {epoch} is not funded yet: the DAO funds an epoch by proposal");
            }
            let c = compute(&agora, &args.epoch).await?;
            if c.distribution.root() != funded.root {
                bail!(
                    "the funded root of epoch {epoch} is {}, but this budget and cap give {}: pass the --budget \
                     and --cap-bps the funding proposal names",
                    funded.root,
                    c.distribution.root()
                );
            }
            let Some((amount, proof)) = c.distribution.proof(signer.address) else {
                bail!("{} earned nothing in rewards epoch {epoch}", signer.address);
            };
            let call = agora.rewards.claim(epoch, signer.address, amount, proof);
            let receipt = tx::send("rewards.claim", call).await.map_err(explain)?;
            if global.json {
                return output::json(&serde_json::json!({
                    "epoch": args.epoch.epoch,
                    "account": signer.address,
                    "amount": amount.to_string(),
                    "txHash": receipt.transaction_hash,
                }));
            }
            println!("claimed {} for epoch {epoch}", units.format(amount));
            println!("claimed AGORA carries no votes until delegated: agora dao delegate");
            Ok(())
        }
    }
}
