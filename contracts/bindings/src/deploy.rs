//! Deploys the whole protocol in its fixed order, at deterministic CREATE2 addresses, and wires
//! it so that the DAO's timelock owns everything and the deployer keeps no role.

use alloy::{
    contract::{CallBuilder, CallDecoder, RawCallBuilder},
    primitives::{Address, B256, Bytes, U256, address, aliases::U48, b256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionReceipt,
    sol_types::SolConstructor,
};
use serde::{Deserialize, Serialize};

use crate::{
    AccessToken, AgoraGovernor, AgoraRewards, AgoraTimelock, AgoraToken, AgoraVestingWallet, AssetRegistry,
    ComputeMarket, Marketplace,
    agora_token::AgoraToken::InitialBalance,
    manifest::{ContractAddresses, Deployment, DeploymentTransaction, GovernanceSettings, VestingWallet},
    tx::{self, Error},
};

/// One AGORA (18 decimals) or one ether, in base units.
const UNIT: u128 = 1_000_000_000_000_000_000;

/// How the AGORA supply is handed out at deployment: the supply is the sum of these lines, and
/// the deployer receives nothing it does not grant itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Allocation {
    /// The treasury's share, held by the timelock (spent only by DAO decision).
    pub treasury: U256,
    /// The rewards reserve, held by `AgoraRewards` and paid out by epoch for use.
    pub rewards_reserve: U256,
    /// Team and early contributors, each through its own `AgoraVestingWallet`.
    #[serde(default)]
    pub vesting: Vec<Vesting>,
    /// Direct grants.
    #[serde(default)]
    pub grants: Vec<Grant>,
}

/// One vesting wallet of the allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Vesting {
    /// Who the wallet releases to (its owner).
    pub beneficiary: Address,
    /// AGORA it holds, in base units.
    pub amount: U256,
    /// Unix time the vesting starts.
    pub start: u64,
    /// Seconds from `start` until everything is vested.
    pub duration: u64,
    /// Seconds from `start` before anything is vested.
    pub cliff: u64,
}

/// One direct grant of the allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Grant {
    /// Who receives it.
    pub holder: Address,
    /// AGORA, in base units.
    pub amount: U256,
}

impl Allocation {
    /// The AGORA supply: the sum of every line.
    pub fn supply(&self) -> U256 {
        self.treasury
            + self.rewards_reserve
            + self.vesting.iter().map(|v| v.amount).sum::<U256>()
            + self.grants.iter().map(|g| g.amount).sum::<U256>()
    }

    /// What is wrong with the allocation, if anything: nothing to mint, a line of zero, a
    /// vesting whose cliff is longer than its duration, or a sum that overflows.
    pub fn check(&self) -> Result<(), String> {
        let lines = self.vesting.iter().map(|v| v.amount).chain(self.grants.iter().map(|g| g.amount));
        let mut sum = self.treasury.checked_add(self.rewards_reserve);
        for amount in lines.clone() {
            sum = sum.and_then(|s| s.checked_add(amount));
        }
        match sum {
            None => return Err("the allocation's sum overflows uint256".into()),
            Some(s) if s.is_zero() => return Err("the allocation mints no AGORA".into()),
            Some(_) => {}
        }
        if lines.clone().any(|a| a.is_zero()) {
            return Err("every vesting and grant line needs a non-zero amount".into());
        }
        if let Some(v) = self.vesting.iter().find(|v| v.cliff > v.duration) {
            return Err(format!(
                "the vesting of {} has a cliff ({} s) longer than its duration ({} s)",
                v.beneficiary, v.cliff, v.duration
            ));
        }
        if let Some(g) = self.grants.iter().find(|g| g.holder.is_zero()) {
            return Err(format!("a grant of {} names the zero address", g.amount));
        }
        if let Some(v) = self.vesting.iter().find(|v| v.beneficiary.is_zero()) {
            return Err(format!("a vesting of {} names the zero address", v.amount));
        }
        Ok(())
    }
}

/// The protocol's settings at deployment; afterwards only the DAO changes them. Every duration is
/// in seconds: the token and the governor count time by block timestamp (ERC-6372
/// `mode=timestamp`), so a setting means the same on every chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployParams {
    /// Who receives the AGORA supply.
    pub allocation: Allocation,
    /// Seconds between queueing and executing a DAO decision.
    pub timelock_min_delay: u64,
    /// Seconds between a proposal and the start of its vote.
    pub voting_delay: u64,
    /// Seconds a vote lasts.
    pub voting_period: u32,
    /// Seconds a vote stays open at least after it reaches quorum (a late quorum extends it).
    pub vote_extension: u64,
    /// Votes needed to make a proposal, in AGORA base units.
    pub proposal_threshold: U256,
    /// Quorum, in percent of the AGORA supply.
    pub quorum_percent: u64,
    /// May cancel any proposal at any stage; `None`: the timelock itself (that is, the DAO). The
    /// DAO can name another (`setProposalGuardian`).
    pub guardian: Option<Address>,
    /// When rewards epoch 0 starts (unix seconds). A constant, not the deployment's time, so the
    /// CREATE2 address of `AgoraRewards` does not depend on when a deployment is planned.
    pub rewards_epoch_start: u64,
    /// Seconds per rewards epoch.
    pub rewards_epoch_length: u64,
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
    /// Seconds after a disputed result's challenge window the DAO has to rule; afterwards anyone
    /// settles the dispute by default (`ComputeMarket.expireDispute`).
    pub ruling_window: u64,
    /// ERC-20s allowed as listing and provider currencies from the start (ETH always is), e.g. the
    /// chain's stablecoin; they must already hold code. Later the DAO allows more
    /// (`Marketplace.allowCurrency`); on anvil, tests use [`crate::anvil::allow_currency`].
    pub allowed_currencies: Vec<Address>,
    /// CREATE2 salt; another salt deploys an independent copy of the protocol.
    pub salt: B256,
}

/// Whole AGORA, in base units.
fn agora(whole: u128) -> U256 {
    U256::from(whole) * U256::from(UNIT)
}

/// The rewards epoch start of the presets: 2026-01-01T00:00:00Z.
pub const PRESET_REWARDS_EPOCH_START: u64 = 1_767_225_600;

impl Default for DeployParams {
    /// Settings for a public network: a day's voting delay, five days of voting, a day's
    /// extension after a late quorum, a two-day timelock; 100 M AGORA, 60 % treasury and 40 %
    /// rewards reserve, nothing to the deployer. A network's `networks.toml` entry overrides any.
    fn default() -> Self {
        const DAY: u64 = 24 * 60 * 60;
        Self {
            allocation: Allocation {
                treasury: agora(60_000_000),
                rewards_reserve: agora(40_000_000),
                vesting: Vec::new(),
                grants: Vec::new(),
            },
            timelock_min_delay: 2 * DAY,
            voting_delay: DAY,
            voting_period: 5 * DAY as u32,
            vote_extension: DAY,
            proposal_threshold: U256::ZERO,
            quorum_percent: 4,
            guardian: None,
            rewards_epoch_start: PRESET_REWARDS_EPOCH_START,
            rewards_epoch_length: 7 * DAY,
            marketplace_fee_bps: 250,
            compute_fee_bps: 250,
            min_stake: U256::from(UNIT),
            challenge_window: DAY,
            exit_cooldown: 7 * DAY,
            dispute_bond: U256::from(UNIT / 10),
            ruling_window: 14 * DAY,
            allowed_currencies: Vec::new(),
            salt: DEFAULT_SALT,
        }
    }
}

/// The first accounts of anvil's default mnemonic (`test test … junk`), which `agora dev` and
/// the tests use: the local preset grants each of them AGORA so that every dev account can
/// delegate, propose and vote.
pub const DEV_ACCOUNTS: [Address; 5] = [
    address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
    address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
    address!("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
    address!("0x90F79bf6EB2c4f870365E785982E1f101E93b906"),
    address!("0x15d34AAf54267DB7D7c367839AAf1A00af2557A6"),
];

impl DeployParams {
    /// The governance settings these parameters deploy, for the manifest (`timelock`: the
    /// deployment's, the default guardian).
    pub fn governance(&self, timelock: Address) -> GovernanceSettings {
        GovernanceSettings {
            voting_delay: self.voting_delay,
            voting_period: self.voting_period.into(),
            vote_extension: self.vote_extension,
            timelock_delay: self.timelock_min_delay,
            proposal_threshold: self.proposal_threshold,
            quorum_percent: self.quorum_percent,
            guardian: self.guardian.unwrap_or(timelock),
            rewards_epoch_start: self.rewards_epoch_start,
            rewards_epoch_length: self.rewards_epoch_length,
        }
    }

    /// Settings for a local chain: a one-second timelock delay and voting delay, five minutes of
    /// voting (tests move anvil's clock instead of waiting), a minute's extension; the same
    /// 100 M AGORA with 30 M of the treasury's share granted instead to the dev accounts
    /// ([`DEV_ACCOUNTS`]: 10 M to the first, which deploys, 5 M to each other), a one-hour
    /// rewards epoch.
    pub fn local() -> Self {
        let mut grants = vec![Grant { holder: DEV_ACCOUNTS[0], amount: agora(10_000_000) }];
        grants.extend(DEV_ACCOUNTS[1..].iter().map(|&holder| Grant { holder, amount: agora(5_000_000) }));
        Self {
            allocation: Allocation {
                treasury: agora(30_000_000),
                rewards_reserve: agora(40_000_000),
                vesting: Vec::new(),
                grants,
            },
            timelock_min_delay: 1,
            voting_delay: 1,
            voting_period: 300,
            vote_extension: 60,
            rewards_epoch_length: 60 * 60,
            ..Self::default()
        }
    }
}

/// Arachnid's deterministic-deployment proxy, the standard CREATE2 factory: anvil and every
/// public testnet carry it at this address. Calldata is `salt ‖ initcode`; it returns the address.
pub const CREATE2_FACTORY: Address = address!("0x4e59b44847b379578588920ca78fbf26c0b4956c");

/// The salt every deployment uses unless told otherwise: addresses then depend only on the
/// contracts' code, the deployer and the parameters, so the same inputs give the same addresses
/// on every chain.
pub const DEFAULT_SALT: B256 = b256!("0x61676f72612f7631000000000000000000000000000000000000000000000000"); // "agora/v1"

/// One contract of the protocol as it will be created: name, CREATE2 address and initcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedContract {
    /// The contract's name, e.g. `AgoraToken`; a vesting wallet's names its beneficiary
    /// (`AgoraVestingWallet:0x…`), so every name of a deployment is unique.
    pub name: String,
    /// Where CREATE2 through [`CREATE2_FACTORY`] puts it.
    pub address: Address,
    /// Its ABI-encoded constructor arguments.
    pub constructor_args: Bytes,
    /// Creation bytecode followed by the constructor arguments.
    pub initcode: Bytes,
}

/// Every address of a deployment, computed before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The contracts in the order they are created.
    pub contracts: Vec<PlannedContract>,
    /// All the protocol's addresses (the splitter is created by the marketplace's constructor).
    pub addresses: ContractAddresses,
    /// The allocation's vesting wallets, in its order.
    pub vesting_wallets: Vec<VestingWallet>,
}

/// Computes where each contract of a deployment by `deployer` with `params` will live. Pure: the
/// addresses follow from CREATE2's rule, so a re-run finds what an earlier run created.
///
/// The token mints the allocation in its constructor, so every holder's address must be known
/// before it: the timelock and the vesting wallets come first. The rewards reserve is minted to
/// the deployer and handed to `AgoraRewards` once that exists (its constructor takes the token).
pub fn plan(deployer: Address, params: &DeployParams) -> Plan {
    let mut contracts = Vec::with_capacity(9 + params.allocation.vesting.len());
    let mut add = |name: String, bytecode: &Bytes, args: Vec<u8>| {
        let initcode: Bytes = [bytecode.as_ref(), args.as_slice()].concat().into();
        let address = CREATE2_FACTORY.create2_from_code(params.salt, &initcode);
        contracts.push(PlannedContract { name, address, constructor_args: args.into(), initcode });
        address
    };
    let timelock = add(
        "AgoraTimelock".into(),
        &AgoraTimelock::BYTECODE,
        AgoraTimelock::constructorCall {
            minDelay: U256::from(params.timelock_min_delay),
            proposers: Vec::new(),
            executors: vec![Address::ZERO],
            admin: deployer,
        }
        .abi_encode(),
    );
    let allocation = &params.allocation;
    let mut balances = Vec::new();
    if !allocation.treasury.is_zero() {
        balances.push(InitialBalance { holder: timelock, amount: allocation.treasury });
    }
    let mut vesting_wallets = Vec::with_capacity(allocation.vesting.len());
    for v in &allocation.vesting {
        let wallet = add(
            format!("AgoraVestingWallet:{}", v.beneficiary),
            &AgoraVestingWallet::BYTECODE,
            AgoraVestingWallet::constructorCall {
                beneficiary: v.beneficiary,
                start: v.start,
                duration: v.duration,
                cliff: v.cliff,
            }
            .abi_encode(),
        );
        balances.push(InitialBalance { holder: wallet, amount: v.amount });
        vesting_wallets.push(VestingWallet { beneficiary: v.beneficiary, wallet });
    }
    if !allocation.rewards_reserve.is_zero() {
        balances.push(InitialBalance { holder: deployer, amount: allocation.rewards_reserve });
    }
    balances.extend(allocation.grants.iter().map(|g| InitialBalance { holder: g.holder, amount: g.amount }));
    let token = add(
        "AgoraToken".into(),
        &AgoraToken::BYTECODE,
        AgoraToken::constructorCall { allocation: balances }.abi_encode(),
    );
    let governor = add(
        "AgoraGovernor".into(),
        &AgoraGovernor::BYTECODE,
        AgoraGovernor::constructorCall {
            token,
            timelock,
            votingDelay_: U48::saturating_from(params.voting_delay),
            votingPeriod_: params.voting_period,
            proposalThreshold_: params.proposal_threshold,
            quorumNumerator: U256::from(params.quorum_percent),
            voteExtension: U48::saturating_from(params.vote_extension),
            guardian: params.guardian.unwrap_or(timelock),
        }
        .abi_encode(),
    );
    let rewards = add(
        "AgoraRewards".into(),
        &AgoraRewards::BYTECODE,
        AgoraRewards::constructorCall {
            token_: token,
            owner_: timelock,
            firstEpochStart_: params.rewards_epoch_start,
            epochLength_: params.rewards_epoch_length,
        }
        .abi_encode(),
    );
    let registry = add(
        "AssetRegistry".into(),
        &AssetRegistry::BYTECODE,
        AssetRegistry::constructorCall { initializer: deployer }.abi_encode(),
    );
    let marketplace = add(
        "Marketplace".into(),
        &Marketplace::BYTECODE,
        Marketplace::constructorCall {
            registry_: registry,
            owner: timelock,
            feeRecipient_: timelock,
            feeBps: params.marketplace_fee_bps,
            allowedCurrencies: params.allowed_currencies.clone(),
        }
        .abi_encode(),
    );
    let compute_market = add(
        "ComputeMarket".into(),
        &ComputeMarket::BYTECODE,
        ComputeMarket::constructorCall {
            registry,
            owner: timelock,
            feeRecipient_: timelock,
            feeBps: params.compute_fee_bps,
            minStake: params.min_stake,
            challengeWindow: params.challenge_window,
            exitCooldown: params.exit_cooldown,
            disputeBond: params.dispute_bond,
            rulingWindow: params.ruling_window,
        }
        .abi_encode(),
    );
    let access_token_implementation = add(
        "AccessToken".into(),
        &AccessToken::BYTECODE,
        AccessToken::constructorCall { registry, marketplace, computeMarket: compute_market }.abi_encode(),
    );
    // A contract's nonce starts at 1 (EIP-161): the marketplace's constructor creates the splitter with it.
    let revenue_splitter = marketplace.create(1);
    Plan {
        contracts,
        addresses: ContractAddresses {
            agora_token: token,
            timelock,
            governor,
            asset_registry: registry,
            access_token_implementation,
            marketplace,
            revenue_splitter,
            compute_market,
            rewards,
        },
        vesting_wallets,
    }
}

/// Deploys and wires the protocol from `deployer`, the account `provider` signs with, through
/// the standard CREATE2 factory, so addresses are deterministic ([`plan`]).
///
/// Idempotent: a contract whose address already holds code is skipped (a CREATE2 address commits
/// to the exact initcode, so code there is this contract with these arguments), and each wiring
/// step is sent only if the chain does not show it done yet. Order: AgoraTimelock, one
/// AgoraVestingWallet per vesting line, AgoraToken (minting the allocation), AgoraGovernor,
/// AgoraRewards, AssetRegistry, Marketplace (which creates the RevenueSplitter), ComputeMarket,
/// the AccessToken implementation; then the governor becomes the timelock's proposer and
/// canceller, `registry.initialize`, the rewards reserve moves from the deployer to AgoraRewards,
/// and last the deployer renounces the timelock's admin role. The timelock owns the marketplace,
/// the compute market and the rewards reserve and receives the fees.
///
/// When every step was already done, the deployment block is found on chain (the first block
/// where the timelock has code), which needs a node that serves historical state for that range.
pub async fn deploy_protocol(
    provider: &DynProvider,
    deployer: Address,
    params: &DeployParams,
) -> Result<Deployment, Error> {
    params.allocation.check().map_err(Error::InvalidAllocation)?;
    let chain_id = provider.get_chain_id().await.map_err(|source| Error::rpc("read the chain id", source))?;
    let factory_code = provider
        .get_code_at(CREATE2_FACTORY)
        .await
        .map_err(|source| Error::rpc("read the CREATE2 factory's code", source))?;
    if factory_code.is_empty() {
        return Err(Error::NoCreate2Factory { chain_id, factory: CREATE2_FACTORY });
    }

    let plan = plan(deployer, params);
    let mut run = Run::default();
    for contract in &plan.contracts {
        run.create2(provider, deployer, params.salt, contract).await?;
    }
    let c = plan.addresses;
    let p = provider.clone();

    let timelock = AgoraTimelock::new(c.timelock, p.clone());
    let proposer_role = tx::call("read PROPOSER_ROLE", timelock.PROPOSER_ROLE()).await?;
    let canceller_role = tx::call("read CANCELLER_ROLE", timelock.CANCELLER_ROLE()).await?;
    let admin_role = tx::call("read DEFAULT_ADMIN_ROLE", timelock.DEFAULT_ADMIN_ROLE()).await?;
    for (role, step) in [
        (proposer_role, "timelock.grantRole(PROPOSER_ROLE, governor)"),
        (canceller_role, "timelock.grantRole(CANCELLER_ROLE, governor)"),
    ] {
        if !tx::call("read timelock.hasRole", timelock.hasRole(role, c.governor)).await? {
            run.send(step, timelock.grantRole(role, c.governor).from(deployer)).await?;
        }
    }

    let registry = AssetRegistry::new(c.asset_registry, p.clone());
    if tx::call("read registry.marketplace()", registry.marketplace()).await?.is_zero() {
        run.send(
            "registry.initialize(marketplace, computeMarket, accessTokenImplementation)",
            registry
                .initialize(c.marketplace, c.compute_market, c.access_token_implementation)
                .from(deployer),
        )
        .await?;
    }

    // The reserve was minted to the deployer, since the rewards contract's address depends on the
    // token's; nothing else ever moves AGORA into it before this step.
    let reserve = params.allocation.rewards_reserve;
    let token = AgoraToken::new(c.agora_token, p.clone());
    if !reserve.is_zero()
        && tx::call("read token.balanceOf(rewards)", token.balanceOf(c.rewards)).await?.is_zero()
    {
        run.send(
            "token.transfer(rewards, rewardsReserve)",
            token.transfer(c.rewards, reserve).from(deployer),
        )
        .await?;
    }

    if tx::call("read timelock.hasRole", timelock.hasRole(admin_role, deployer)).await? {
        run.send(
            "timelock.renounceRole(DEFAULT_ADMIN_ROLE, deployer)",
            timelock.renounceRole(admin_role, deployer).from(deployer),
        )
        .await?;
    }

    let deployment_block = match run.transactions.first() {
        Some(first) => first.block_number,
        None => first_block_with_code(provider, c.timelock).await?,
    };
    Ok(Deployment {
        chain_id,
        deployment_block,
        deployer,
        contracts: c,
        constructor_args: plan
            .contracts
            .iter()
            .map(|contract| (contract.name.clone(), contract.constructor_args.clone()))
            .collect(),
        transactions: run.transactions,
        allocation: Some(params.allocation.clone()),
        vesting_wallets: plan.vesting_wallets,
        governance: Some(params.governance(c.timelock)),
        git_revision: None,
    })
}

/// The first block at whose end `address` has code (binary search over historical state).
async fn first_block_with_code(provider: &DynProvider, address: Address) -> Result<u64, Error> {
    let has_code = |block: u64| async move {
        provider
            .get_code_at(address)
            .block_id(block.into())
            .await
            .map(|code| !code.is_empty())
            .map_err(|source| Error::rpc(format!("read the code of {address} at block {block}"), source))
    };
    let (mut low, mut high) = (
        0,
        provider.get_block_number().await.map_err(|source| Error::rpc("read the block number", source))?,
    );
    while low < high {
        let mid = low + (high - low) / 2;
        if has_code(mid).await? { high = mid } else { low = mid + 1 }
    }
    Ok(low)
}

/// The transactions of one deployment so far.
#[derive(Default)]
struct Run {
    transactions: Vec<DeploymentTransaction>,
}

impl Run {
    /// Creates `contract` through the factory unless its address already holds code.
    async fn create2(
        &mut self,
        provider: &DynProvider,
        deployer: Address,
        salt: B256,
        contract: &PlannedContract,
    ) -> Result<(), Error> {
        let step = format!("deploy {}", contract.name);
        let existing = provider
            .get_code_at(contract.address)
            .await
            .map_err(|source| Error::rpc(format!("{step}: read the code at {}", contract.address), source))?;
        if !existing.is_empty() {
            return Ok(());
        }
        let input: Bytes = [salt.as_slice(), contract.initcode.as_ref()].concat().into();
        let call = RawCallBuilder::new_raw(provider.clone(), input).to(CREATE2_FACTORY).from(deployer);
        let receipt = tx::send(&step, call).await?;
        let code = provider
            .get_code_at(contract.address)
            .await
            .map_err(|source| Error::rpc(format!("{step}: read the code at {}", contract.address), source))?;
        if code.is_empty() {
            return Err(Error::NoContractCreated { action: step, tx_hash: receipt.transaction_hash });
        }
        self.record(step, &receipt);
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_is_deterministic_and_depends_on_deployer_params_and_salt() {
        let deployer = address!("0x00000000000000000000000000000000000000d1");
        let params = DeployParams::default();
        let first = plan(deployer, &params);
        assert_eq!(first, plan(deployer, &params));
        assert_eq!(first.contracts.len(), 8);
        let mut addresses: Vec<Address> = first.contracts.iter().map(|c| c.address).collect();
        addresses.push(first.addresses.revenue_splitter);
        addresses.sort();
        addresses.dedup();
        assert_eq!(addresses.len(), 9, "every contract has its own address");

        let other_deployer = plan(address!("0x00000000000000000000000000000000000000d2"), &params);
        assert_ne!(other_deployer.addresses.agora_token, first.addresses.agora_token);
        let other_fee = plan(deployer, &DeployParams { marketplace_fee_bps: 100, ..params.clone() });
        assert_eq!(other_fee.addresses.agora_token, first.addresses.agora_token);
        assert_ne!(other_fee.addresses.marketplace, first.addresses.marketplace);
        let other_currencies = plan(
            deployer,
            &DeployParams { allowed_currencies: vec![Address::repeat_byte(0x55)], ..params.clone() },
        );
        assert_ne!(other_currencies.addresses.marketplace, first.addresses.marketplace);
        let other_salt = plan(deployer, &DeployParams { salt: B256::repeat_byte(7), ..params.clone() });
        assert_ne!(other_salt.addresses.agora_token, first.addresses.agora_token);
    }

    #[test]
    fn vesting_wallets_are_planned_before_the_token_that_funds_them() {
        let deployer = address!("0x00000000000000000000000000000000000000d1");
        let mut params = DeployParams::default();
        for beneficiary in [Address::repeat_byte(0xb1), Address::repeat_byte(0xb2)] {
            params.allocation.vesting.push(Vesting {
                beneficiary,
                amount: U256::from(UNIT),
                start: PRESET_REWARDS_EPOCH_START,
                duration: 365 * 24 * 60 * 60,
                cliff: 90 * 24 * 60 * 60,
            });
        }
        let planned = plan(deployer, &params);
        let names: Vec<&str> = planned.contracts.iter().map(|c| c.name.as_str()).collect();
        let position = |name: &str| names.iter().position(|n| n.starts_with(name)).unwrap();
        assert!(position("AgoraTimelock") < position("AgoraVestingWallet"));
        assert!(position("AgoraVestingWallet") < position("AgoraToken"));
        assert!(position("AgoraToken") < position("AgoraRewards"));
        assert_eq!(planned.vesting_wallets.len(), 2);
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "names key the manifest's constructor arguments: {names:?}");
        // The token's constructor arguments name each wallet as a holder.
        let token = planned.contracts.iter().find(|c| c.name == "AgoraToken").unwrap();
        for wallet in &planned.vesting_wallets {
            let encoded = token.constructor_args.as_ref();
            assert!(encoded.windows(20).any(|w| w == wallet.wallet.as_slice()), "{wallet:?}");
        }
    }

    #[test]
    fn an_allocation_is_checked_before_anything_is_sent() {
        let mut allocation = DeployParams::default().allocation;
        assert_eq!(allocation.check(), Ok(()));
        assert_eq!(allocation.supply(), agora(100_000_000));
        allocation.grants.push(Grant { holder: Address::repeat_byte(1), amount: U256::ZERO });
        assert!(allocation.check().unwrap_err().contains("non-zero"));
        allocation.grants[0].amount = U256::MAX;
        assert!(allocation.check().unwrap_err().contains("overflows"));
        allocation.grants.clear();
        allocation.vesting.push(Vesting {
            beneficiary: Address::repeat_byte(2),
            amount: U256::from(1),
            start: 0,
            duration: 10,
            cliff: 11,
        });
        assert!(allocation.check().unwrap_err().contains("cliff"));
        let empty =
            Allocation { treasury: U256::ZERO, rewards_reserve: U256::ZERO, vesting: vec![], grants: vec![] };
        assert!(empty.check().unwrap_err().contains("no AGORA"));
    }
}
