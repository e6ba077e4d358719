//! `agora asset algorithms`: which algorithms and models may run on a dataset — any (the
//! market's default) or, once its owner restricts it, only those the owner allowed. The
//! ComputeMarket keeps the policy (`setAlgorithmRestricted`, `setAlgorithmsAllowed`); the
//! current state is read back from its events, so it lists every allowed algorithm.

use std::collections::BTreeMap;

use agora_contracts::{Agora, ComputeMarket, tx};
use alloy::{
    primitives::{B256, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use clap::Args;
use eyre::{Result, WrapErr, bail};
use serde_json::json;

use crate::{GlobalArgs, chain, currency::Units, output, revert, wallet::SignerArgs};

/// Arguments of `asset algorithms`.
#[derive(Debug, Args)]
pub struct AlgorithmsArgs {
    /// The dataset.
    pub dataset: U256,
    /// Let only the allowed algorithms and models run on it.
    #[arg(long, conflicts_with = "open")]
    pub restrict: bool,
    /// Let any algorithm or model run on it (the default for a new dataset).
    #[arg(long)]
    pub open: bool,
    /// An algorithm or model asset to allow (repeat it for several).
    #[arg(long = "allow", value_name = "ASSET")]
    pub allow: Vec<U256>,
    /// An algorithm or model asset to allow no longer (repeat it for several).
    #[arg(long = "disallow", value_name = "ASSET")]
    pub disallow: Vec<U256>,
    /// The signer (the dataset's owner), for a change.
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// A dataset's algorithm policy as the market's events record it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Policy {
    restricted: bool,
    allowed: Vec<U256>,
}

pub(super) async fn algorithms(global: &GlobalArgs, args: AlgorithmsArgs) -> Result<()> {
    if let Some(both) = args.allow.iter().find(|id| args.disallow.contains(id)) {
        bail!("asset {both} is both --allow and --disallow");
    }
    let changes = args.restrict || args.open || !args.allow.is_empty() || !args.disallow.is_empty();
    let agora = match changes {
        true => {
            let (agora, _) = chain::writer(global, &args.signer).await?;
            change(&agora, &args).await?;
            agora
        }
        false => chain::reader(global).await?,
    };
    let policy = policy(&agora, args.dataset).await?;
    if global.json {
        return output::json(&json!({
            "datasetId": args.dataset.to_string(),
            "restricted": policy.restricted,
            "allowed": policy.allowed.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }));
    }
    match (policy.restricted, policy.allowed.is_empty()) {
        (false, _) => println!("dataset {}: any algorithm or model may run on it", args.dataset),
        (true, true) => println!(
            "dataset {}: restricted, and no algorithm is allowed: no job can run on it",
            args.dataset
        ),
        (true, false) => println!(
            "dataset {}: only these algorithms and models may run on it: {}",
            args.dataset,
            policy.allowed.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ),
    }
    Ok(())
}

/// Sends the changes the flags ask for: allowances first, so a dataset being restricted never
/// passes through a moment where nothing may run that the owner meant to allow.
async fn change(agora: &Agora, args: &AlgorithmsArgs) -> Result<()> {
    let units = Units::eth();
    let market = &agora.compute_market;
    for (ids, allowed) in [(&args.allow, true), (&args.disallow, false)] {
        if !ids.is_empty() {
            let call = market.setAlgorithmsAllowed(args.dataset, ids.clone(), allowed);
            tx::send("computeMarket.setAlgorithmsAllowed", call)
                .await
                .map_err(|e| revert::explain(e, &units))?;
        }
    }
    if args.restrict || args.open {
        let call = market.setAlgorithmRestricted(args.dataset, args.restrict);
        tx::send("computeMarket.setAlgorithmRestricted", call)
            .await
            .map_err(|e| revert::explain(e, &units))?;
    }
    Ok(())
}

/// The dataset's policy, replayed from the market's `AlgorithmPolicyUpdated` and
/// `AlgorithmAllowed` events since its deployment.
async fn policy(agora: &Agora, dataset: U256) -> Result<Policy> {
    let filter = Filter::new()
        .address(*agora.compute_market.address())
        .event_signature(vec![
            ComputeMarket::AlgorithmPolicyUpdated::SIGNATURE_HASH,
            ComputeMarket::AlgorithmAllowed::SIGNATURE_HASH,
        ])
        .topic1(B256::from(dataset))
        .from_block(agora.deployment.deployment_block);
    let logs = agora
        .provider()
        .get_logs(&filter)
        .await
        .wrap_err_with(|| format!("reading dataset {dataset}'s algorithm policy"))?;
    let mut restricted = false;
    let mut allowed = BTreeMap::new();
    for log in logs.iter().filter(|log| !log.removed) {
        if let Ok(updated) = log.log_decode::<ComputeMarket::AlgorithmPolicyUpdated>() {
            restricted = updated.inner.data.restricted;
        } else if let Ok(allowance) = log.log_decode::<ComputeMarket::AlgorithmAllowed>() {
            allowed.insert(allowance.inner.data.algorithmId, allowance.inner.data.allowed);
        }
    }
    let allowed = allowed.into_iter().filter_map(|(id, on)| on.then_some(id)).collect();
    Ok(Policy { restricted, allowed })
}
