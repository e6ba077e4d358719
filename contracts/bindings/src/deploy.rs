//! Deploys the whole protocol in its fixed order and wires it so that the DAO's timelock owns
//! everything and the deployer keeps no role.

use alloy::{
    contract::{CallBuilder, CallDecoder, RawCallBuilder},
    primitives::{Address, U256, aliases::U48},
    providers::{DynProvider, Provider},
    rpc::types::TransactionReceipt,
};

use crate::{
    AccessToken, AgoraGovernor, AgoraTimelock, AgoraToken, AssetRegistry, ComputeMarket, Marketplace,
    manifest::{ContractAddresses, Deployment, DeploymentTransaction},
    tx::{self, Error},
};

/// One AGORA (18 decimals) or one ether, in base units.
const UNIT: u128 = 1_000_000_000_000_000_000;

/// The protocol's numeric settings at deployment; afterwards only the DAO changes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployParams {
    /// AGORA minted to the deployer, in base units.
    pub initial_supply: U256,
    /// Seconds between queueing and executing a DAO decision.
    pub timelock_min_delay: u64,
    /// Blocks between a proposal and the start of its vote.
    pub voting_delay: u32,
    /// Blocks a vote lasts.
    pub voting_period: u32,
    /// Votes needed to make a proposal, in AGORA base units.
    pub proposal_threshold: U256,
    /// Quorum, in percent of the AGORA supply.
    pub quorum_percent: u64,
    /// Marketplace fee on each sale, in basis points.
    pub marketplace_fee_bps: u16,
    /// Compute-market fee on each job payment, in basis points.
    pub compute_fee_bps: u16,
    /// Stake a compute provider must lock, in wei.
    pub min_stake: U256,
    /// Seconds a posted compute result can be challenged.
    pub challenge_window: u64,
    /// Seconds a provider waits between announcing an exit and withdrawing its stake.
    pub exit_cooldown: u64,
    /// Bond a challenger puts up to dispute a result, in wei.
    pub dispute_bond: U256,
}

impl Default for DeployParams {
    fn default() -> Self {
        Self {
            initial_supply: U256::from(100_000_000u128 * UNIT),
            timelock_min_delay: 60 * 60,
            voting_delay: 1,
            voting_period: 50,
            proposal_threshold: U256::ZERO,
            quorum_percent: 4,
            marketplace_fee_bps: 250,
            compute_fee_bps: 250,
            min_stake: U256::from(UNIT),
            challenge_window: 24 * 60 * 60,
            exit_cooldown: 7 * 24 * 60 * 60,
            dispute_bond: U256::from(UNIT / 10),
        }
    }
}

impl DeployParams {
    /// Settings for a local chain: the same as [`Default`] but with a one-second timelock
    /// delay, so a DAO decision executes as soon as it is queued.
    pub fn local() -> Self {
        Self { timelock_min_delay: 1, ..Self::default() }
    }
}

/// Deploys and wires the protocol from `deployer`, the account `provider` signs with.
///
/// Order: AgoraToken, AgoraTimelock, AgoraGovernor; the governor becomes the timelock's
/// proposer and canceller and the deployer renounces its admin role; AssetRegistry,
/// Marketplace (which deploys the RevenueSplitter), ComputeMarket, the AccessToken
/// implementation; finally `registry.initialize`. The timelock owns the marketplace and the
/// compute market and receives their fees.
pub async fn deploy_protocol(
    provider: &DynProvider,
    deployer: Address,
    params: &DeployParams,
) -> Result<Deployment, Error> {
    let mut run = Run::default();
    let p = provider.clone();

    let token = run
        .deploy("AgoraToken", AgoraToken::deploy_builder(p.clone(), deployer, params.initial_supply))
        .await?;
    let timelock = run
        .deploy(
            "AgoraTimelock",
            AgoraTimelock::deploy_builder(
                p.clone(),
                U256::from(params.timelock_min_delay),
                Vec::new(),
                vec![Address::ZERO],
                deployer,
            ),
        )
        .await?;
    let governor = run
        .deploy(
            "AgoraGovernor",
            AgoraGovernor::deploy_builder(
                p.clone(),
                token,
                timelock,
                U48::from(params.voting_delay),
                params.voting_period,
                params.proposal_threshold,
                U256::from(params.quorum_percent),
            ),
        )
        .await?;

    let timelock_contract = AgoraTimelock::new(timelock, p.clone());
    let proposer_role = tx::call("read PROPOSER_ROLE", timelock_contract.PROPOSER_ROLE()).await?;
    let canceller_role = tx::call("read CANCELLER_ROLE", timelock_contract.CANCELLER_ROLE()).await?;
    let admin_role = tx::call("read DEFAULT_ADMIN_ROLE", timelock_contract.DEFAULT_ADMIN_ROLE()).await?;
    run.send(
        "timelock.grantRole(PROPOSER_ROLE, governor)",
        timelock_contract.grantRole(proposer_role, governor),
    )
    .await?;
    run.send(
        "timelock.grantRole(CANCELLER_ROLE, governor)",
        timelock_contract.grantRole(canceller_role, governor),
    )
    .await?;
    run.send(
        "timelock.renounceRole(DEFAULT_ADMIN_ROLE, deployer)",
        timelock_contract.renounceRole(admin_role, deployer),
    )
    .await?;

    let registry = run.deploy("AssetRegistry", AssetRegistry::deploy_builder(p.clone(), deployer)).await?;
    let marketplace = run
        .deploy(
            "Marketplace",
            Marketplace::deploy_builder(p.clone(), registry, timelock, timelock, params.marketplace_fee_bps),
        )
        .await?;
    let splitter =
        tx::call("read marketplace.splitter()", Marketplace::new(marketplace, p.clone()).splitter()).await?;
    let compute_market = run
        .deploy(
            "ComputeMarket",
            ComputeMarket::deploy_builder(
                p.clone(),
                registry,
                timelock,
                timelock,
                params.compute_fee_bps,
                params.min_stake,
                params.challenge_window,
                params.exit_cooldown,
                params.dispute_bond,
            ),
        )
        .await?;
    let access_token_implementation = run
        .deploy("AccessToken", AccessToken::deploy_builder(p.clone(), registry, marketplace, compute_market))
        .await?;
    run.send(
        "registry.initialize(marketplace, computeMarket, accessTokenImplementation)",
        AssetRegistry::new(registry, p.clone()).initialize(
            marketplace,
            compute_market,
            access_token_implementation,
        ),
    )
    .await?;

    let chain_id = provider.get_chain_id().await.map_err(|source| Error::rpc("read the chain id", source))?;
    let deployment_block = run.transactions.first().map_or(0, |tx| tx.block_number);
    Ok(Deployment {
        chain_id,
        deployment_block,
        deployer,
        contracts: ContractAddresses {
            agora_token: token,
            timelock,
            governor,
            asset_registry: registry,
            access_token_implementation,
            marketplace,
            revenue_splitter: splitter,
            compute_market,
        },
        transactions: run.transactions,
        git_revision: None,
    })
}

/// The transactions of one deployment so far.
#[derive(Default)]
struct Run {
    transactions: Vec<DeploymentTransaction>,
}

impl Run {
    async fn deploy(&mut self, name: &str, builder: RawCallBuilder<DynProvider>) -> Result<Address, Error> {
        let step = format!("deploy {name}");
        let receipt = tx::send(step.clone(), builder).await?;
        let address = receipt.contract_address.ok_or_else(|| Error::NoContractCreated {
            action: step.clone(),
            tx_hash: receipt.transaction_hash,
        })?;
        self.record(step, &receipt);
        Ok(address)
    }

    async fn send<P: Provider, D: CallDecoder>(
        &mut self,
        step: &str,
        call: CallBuilder<P, D>,
    ) -> Result<(), Error> {
        let receipt = tx::send(step, call).await?;
        self.record(step.to_owned(), &receipt);
        Ok(())
    }

    fn record(&mut self, step: String, receipt: &TransactionReceipt) {
        self.transactions.push(DeploymentTransaction {
            step,
            tx_hash: receipt.transaction_hash,
            block_number: receipt.block_number.unwrap_or_default(),
        });
    }
}
