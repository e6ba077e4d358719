//! Deploying the protocol to a network and keeping its manifest, `deployments/<chainId>.json`.
//!
//! [`deploy`] runs [`agora_contracts::deploy_protocol`] (deterministic CREATE2 addresses,
//! idempotent) and merges the result into the chain's manifest: a re-run that finds everything
//! in place leaves the manifest's history as it was; a run that finishes an interrupted
//! deployment appends the transactions it sent. A manifest that describes another deployment
//! (other parameters, salt or deployer) is never overwritten silently.
//!
//! [`dry_run`] deploys to a throwaway anvil fork of the network instead, impersonating the
//! deployer (so it needs no key), and reports each transaction's gas and the cost at the
//! network's current gas price.

use std::path::{Path, PathBuf};

use agora_contracts::{DeployParams, Deployment, ManifestError, deploy::plan, deploy_protocol};
use alloy::{
    node_bindings::Anvil,
    primitives::{Address, TxHash, U256},
    providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi},
};
use url::Url;

/// Deploying failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A protocol transaction or read failed.
    #[error(transparent)]
    Protocol(#[from] agora_contracts::Error),
    /// The manifest could not be read or written.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The chain's manifest describes a different deployment.
    #[error(
        "{path} describes another deployment (its marketplace is {existing}, this one's is {planned}); \
         deploy with another --salt, or move that manifest away"
    )]
    ManifestMismatch {
        /// The manifest.
        path: String,
        /// Its marketplace address.
        existing: Address,
        /// The marketplace address of the deployment asked for.
        planned: Address,
    },
    /// The anvil fork for a dry run could not be started or driven.
    #[error("dry run: {0}")]
    Fork(String),
    /// An RPC read failed.
    #[error("{action}: {source}")]
    Rpc {
        /// What was being read.
        action: &'static str,
        /// The transport error.
        #[source]
        source: alloy::transports::TransportError,
    },
}

/// Where the manifest of `chain_id` lives under `dir`.
pub fn manifest_path(dir: &Path, chain_id: u64) -> PathBuf {
    dir.join(format!("{chain_id}.json"))
}

/// Deploys (or finishes deploying) the protocol from `deployer` through `provider` and writes the
/// merged manifest to `dir/<chainId>.json`, labelled with `git_revision`. Returns the manifest.
pub async fn deploy(
    provider: &DynProvider,
    deployer: Address,
    params: &DeployParams,
    dir: &Path,
    git_revision: Option<&str>,
) -> Result<Deployment, DeployError> {
    let chain_id = provider
        .get_chain_id()
        .await
        .map_err(|source| DeployError::Rpc { action: "read the chain id", source })?;
    let path = manifest_path(dir, chain_id);
    let previous = if path.exists() { Some(Deployment::read(&path)?) } else { None };
    let planned = plan(deployer, params).addresses;
    if let Some(previous) = &previous
        && previous.contracts != planned
    {
        return Err(DeployError::ManifestMismatch {
            path: path.display().to_string(),
            existing: previous.contracts.marketplace,
            planned: planned.marketplace,
        });
    }

    let fresh = deploy_protocol(provider, deployer, params).await?;
    let mut merged = match previous {
        Some(mut previous) => {
            previous.deployment_block = previous.deployment_block.min(fresh.deployment_block);
            previous.transactions.extend(fresh.transactions);
            previous.constructor_args = fresh.constructor_args;
            previous.allocation = fresh.allocation;
            previous.vesting_wallets = fresh.vesting_wallets;
            previous.governance = fresh.governance;
            previous
        }
        None => fresh,
    };
    if let Some(revision) = git_revision {
        merged.git_revision = Some(revision.to_owned());
    }
    merged.write(&path)?;
    Ok(merged)
}

/// What a deployment would cost, measured on a fork.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRun {
    /// The network's chain id.
    pub chain_id: u64,
    /// Each transaction that would be sent, with the gas it used on the fork.
    pub transactions: Vec<(String, u64)>,
    /// Their total gas.
    pub total_gas: u64,
    /// The network's gas price now, in wei.
    pub gas_price: u128,
    /// Total gas times the gas price, in wei.
    pub cost: U256,
    /// The deployer's balance on the network, in wei.
    pub deployer_balance: U256,
    /// The addresses the deployment would have.
    pub deployment: Deployment,
}

/// Deploys to an anvil fork of `rpc_url` (started from `anvil`) as `deployer`, without a key and
/// without touching the network, and measures gas and cost.
pub async fn dry_run(
    anvil: &Path,
    rpc_url: &Url,
    deployer: Address,
    params: &DeployParams,
) -> Result<DryRun, DeployError> {
    let network = ProviderBuilder::new().connect_http(rpc_url.clone()).erased();
    let gas_price = network
        .get_gas_price()
        .await
        .map_err(|source| DeployError::Rpc { action: "read the gas price", source })?;
    let deployer_balance = network
        .get_balance(deployer)
        .await
        .map_err(|source| DeployError::Rpc { action: "read the deployer's balance", source })?;

    let fork = Anvil::at(anvil).fork(rpc_url.as_str()).try_spawn().map_err(|err| {
        DeployError::Fork(format!("starting an anvil fork with {}: {err}", anvil.display()))
    })?;
    let forked = ProviderBuilder::new().connect_http(fork.endpoint_url()).erased();
    let fork_err =
        |what: &str, err: alloy::transports::TransportError| DeployError::Fork(format!("{what}: {err}"));
    forked
        .anvil_impersonate_account(deployer)
        .await
        .map_err(|err| fork_err("impersonating the deployer", err))?;
    // The fork measures gas, not solvency: the real balance is reported beside the cost.
    forked
        .anvil_set_balance(deployer, U256::from(10u128.pow(24)))
        .await
        .map_err(|err| fork_err("funding the deployer on the fork", err))?;

    let deployment = deploy_protocol(&forked, deployer, params).await?;
    let mut transactions = Vec::with_capacity(deployment.transactions.len());
    for tx in &deployment.transactions {
        transactions.push((tx.step.clone(), gas_used(&forked, tx.tx_hash).await?));
    }
    let total_gas = transactions.iter().map(|(_, gas)| gas).sum::<u64>();
    Ok(DryRun {
        chain_id: deployment.chain_id,
        cost: U256::from(total_gas) * U256::from(gas_price),
        transactions,
        total_gas,
        gas_price,
        deployer_balance,
        deployment,
    })
}

async fn gas_used(provider: &DynProvider, tx: TxHash) -> Result<u64, DeployError> {
    let receipt = provider
        .get_transaction_receipt(tx)
        .await
        .map_err(|err| DeployError::Fork(format!("reading the receipt of {tx}: {err}")))?
        .ok_or_else(|| DeployError::Fork(format!("no receipt for {tx}")))?;
    Ok(receipt.gas_used)
}
