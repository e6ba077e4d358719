//! Shared harness: a real anvil from the repository's pinned Foundry, one provider per
//! account, the protocol deployed by `deploy_protocol`, and the chain-control helpers
//! (mining, time travel, governance proposals) the scenarios need.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use agora_contracts::{Agora, DeployParams, Deployment, deploy_protocol, signing_provider, tx};
use alloy::{
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, Bytes, U256, keccak256},
    providers::{DynProvider, Provider, ext::AnvilApi},
    signers::local::PrivateKeySigner,
};
use eyre::{Result, WrapErr, ensure, eyre};

/// One ether (or one AGORA) in base units.
pub const ETHER: U256 = U256::from_limbs([1_000_000_000_000_000_000, 0, 0, 0]);

/// Roles the anvil accounts play in the scenarios (index into anvil's dev accounts).
pub const DEPLOYER: usize = 0;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The pinned anvil; a missing binary is a broken setup, never a reason to skip.
pub fn anvil_path() -> PathBuf {
    let path = repo_root().join("node_modules/.bin/anvil");
    assert!(
        path.is_file(),
        "{} not found: run ./scripts/setup.sh to install the pinned Foundry toolchain",
        path.display()
    );
    path
}

/// An account that signs its own transactions.
#[derive(Debug, Clone)]
pub struct Actor {
    pub address: Address,
    pub signer: PrivateKeySigner,
    pub provider: DynProvider,
}

/// A fresh anvil with the protocol deployed on it.
pub struct Chain {
    /// Kept alive for the chain's lifetime (dropping it kills anvil).
    pub anvil: AnvilInstance,
    pub deployment: Deployment,
    pub params: DeployParams,
    pub deployer: Actor,
    /// The protocol's contracts, as the deployer.
    pub agora: Agora,
}

impl Chain {
    /// Starts anvil and deploys the protocol with [`DeployParams::local`].
    pub async fn start() -> Result<Self> {
        Self::start_with(DeployParams::local()).await
    }

    /// Starts anvil and deploys the protocol with `params`.
    pub async fn start_with(params: DeployParams) -> Result<Self> {
        Self::start_on(Anvil::at(anvil_path()), params).await
    }

    /// Starts `anvil` (configured by the caller, e.g. with a testnet's chain id) and deploys the
    /// protocol with `params`.
    pub async fn start_on(anvil: Anvil, params: DeployParams) -> Result<Self> {
        let anvil = anvil.try_spawn().wrap_err("spawning anvil")?;
        let deployer = actor_of(&anvil, DEPLOYER)?;
        let deployment = deploy_protocol(&deployer.provider, deployer.address, &params).await?;
        let agora = Agora::new(deployment.clone(), deployer.provider.clone());
        Ok(Self { anvil, deployment, params, deployer, agora })
    }

    /// The anvil dev account `index` (0 is the deployer; 1..=9 are free for scenarios).
    pub fn actor(&self, index: usize) -> Result<Actor> {
        actor_of(&self.anvil, index)
    }

    /// The protocol's contracts as `actor`.
    pub fn agora_as(&self, actor: &Actor) -> Agora {
        self.agora.with_provider(actor.provider.clone())
    }

    /// A provider for chain control and reads.
    pub fn provider(&self) -> &DynProvider {
        &self.deployer.provider
    }

    /// Mines `blocks` empty blocks.
    pub async fn mine(&self, blocks: u64) -> Result<()> {
        self.provider().anvil_mine(Some(blocks), None).await?;
        Ok(())
    }

    /// Moves the clock forward by `seconds` and mines a block at the new time.
    pub async fn advance_time(&self, seconds: u64) -> Result<()> {
        self.provider().anvil_increase_time(seconds).await?;
        self.mine(1).await
    }

    /// The timestamp of the latest block.
    pub async fn now(&self) -> Result<u64> {
        let block = self
            .provider()
            .get_block_by_number(Default::default())
            .await?
            .ok_or_else(|| eyre!("no latest block"))?;
        Ok(block.header.timestamp)
    }

    /// The timestamp of the block that included `receipt`.
    pub async fn timestamp_of(&self, receipt: &alloy::rpc::types::TransactionReceipt) -> Result<u64> {
        let number = receipt.block_number.ok_or_else(|| eyre!("receipt without a block"))?;
        let block = self
            .provider()
            .get_block_by_number(number.into())
            .await?
            .ok_or_else(|| eyre!("no block {number}"))?;
        Ok(block.header.timestamp)
    }

    /// The ETH balance of `who`.
    pub async fn balance(&self, who: Address) -> Result<U256> {
        Ok(self.provider().get_balance(who).await?)
    }

    /// Gives `voter` `amount` AGORA from the deployer and has it delegate to itself.
    pub async fn give_votes(&self, voter: &Actor, amount: U256) -> Result<()> {
        if voter.address != self.deployer.address {
            tx::send("transfer AGORA", self.agora.token.transfer(voter.address, amount)).await?;
        }
        tx::send("delegate", self.agora_as(voter).token.delegate(voter.address)).await?;
        Ok(())
    }

    /// Takes a DAO decision end to end: `proposer` proposes `calls` (target, value, calldata),
    /// every voter votes for, the vote ends, the proposal is queued on the timelock, the delay
    /// passes and it is executed. Voters must hold delegated votes already.
    pub async fn pass_proposal(
        &self,
        proposer: &Actor,
        voters: &[&Actor],
        calls: Vec<(Address, U256, Bytes)>,
        description: &str,
    ) -> Result<U256> {
        let targets: Vec<Address> = calls.iter().map(|c| c.0).collect();
        let values: Vec<U256> = calls.iter().map(|c| c.1).collect();
        let calldatas: Vec<Bytes> = calls.into_iter().map(|c| c.2).collect();
        let description_hash = keccak256(description.as_bytes());
        let governor = &self.agora_as(proposer).governor;

        let proposal_id = tx::call(
            "hashProposal",
            governor.hashProposal(targets.clone(), values.clone(), calldatas.clone(), description_hash),
        )
        .await?;
        tx::send(
            "propose",
            governor.propose(targets.clone(), values.clone(), calldatas.clone(), description.to_owned()),
        )
        .await?;
        self.advance_time(self.params.voting_delay + 1).await?;
        for voter in voters {
            // Support 1 = for (GovernorCountingSimple).
            tx::send("castVote", self.agora_as(voter).governor.castVote(proposal_id, 1)).await?;
        }
        // A quorum reached late keeps the vote open at least `vote_extension` longer.
        self.advance_time(u64::from(self.params.voting_period).max(self.params.vote_extension) + 1).await?;
        tx::send("queue", governor.queue_1(proposal_id)).await?;
        self.advance_time(self.params.timelock_min_delay + 1).await?;
        let total_value = values.iter().fold(U256::ZERO, |sum, v| sum + *v);
        tx::send("execute", governor.execute_1(proposal_id).value(total_value)).await?;
        // ProposalState.Executed = 7.
        let state = tx::call("state", governor.state(proposal_id)).await?;
        ensure!(state == 7, "proposal {proposal_id} ended in state {state}, not Executed");
        Ok(proposal_id)
    }
}

fn actor_of(anvil: &AnvilInstance, index: usize) -> Result<Actor> {
    let key = anvil.keys().get(index).ok_or_else(|| eyre!("anvil has no account {index}"))?;
    let signer = PrivateKeySigner::from(key.clone());
    let provider = signing_provider(anvil.endpoint_url(), signer.clone());
    Ok(Actor { address: signer.address(), signer, provider })
}

/// Asset kinds, as `IAssetRegistry.AssetKind` numbers them.
pub mod kind {
    pub const DATASET: u8 = 0;
    pub const MODEL: u8 = 1;
    pub const ALGORITHM: u8 = 2;
}

/// Publish parameters for an asset of `kind` sold at `price` of `currency` (address zero for
/// ETH), all revenue to `owner`, single-use access.
pub fn publish_params(
    owner: Address,
    kind: u8,
    currency: Address,
    price: u128,
) -> agora_contracts::asset_registry::IAssetRegistry::PublishParams {
    agora_contracts::asset_registry::IAssetRegistry::PublishParams {
        owner,
        kind,
        computeOnly: false,
        accessDuration: 0,
        contentDigest: keccak256(format!("content of {owner} {kind} {price}")),
        metadataCid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy".into(),
        currency,
        price: alloy::primitives::aliases::U80::from(price),
        freePerAddress: 0,
        splitRecipients: Vec::new(),
        splitBps: Vec::new(),
    }
}

/// The protocol fee on `amount` at `fee_bps`, rounded down as `SplitMath.fee` does.
pub fn fee_of(amount: U256, fee_bps: u16) -> U256 {
    amount * U256::from(fee_bps) / U256::from(10_000)
}
