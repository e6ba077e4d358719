//! Deploys the whole protocol in its fixed order, at deterministic CREATE2 addresses, and wires
//! it so that the DAO's timelock owns everything and the deployer keeps no role.

use alloy::{
    contract::{CallBuilder, CallDecoder, RawCallBuilder},
    primitives::{Address, B256, Bytes, U256, address, aliases::U48, b256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionReceipt,
    sol_types::SolConstructor,
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
            ruling_window: 14 * 24 * 60 * 60,
            allowed_currencies: Vec::new(),
            salt: DEFAULT_SALT,
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
    /// The contract's name, e.g. `AgoraToken`.
    pub name: &'static str,
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
}

/// Computes where each contract of a deployment by `deployer` with `params` will live. Pure: the
/// addresses follow from CREATE2's rule, so a re-run finds what an earlier run created.
pub fn plan(deployer: Address, params: &DeployParams) -> Plan {
    let mut contracts = Vec::with_capacity(6);
    let mut add = |name: &'static str, bytecode: &Bytes, args: Vec<u8>| {
        let initcode: Bytes = [bytecode.as_ref(), args.as_slice()].concat().into();
        let address = CREATE2_FACTORY.create2_from_code(params.salt, &initcode);
        contracts.push(PlannedContract { name, address, constructor_args: args.into(), initcode });
        address
    };
    let token = add(
        "AgoraToken",
        &AgoraToken::BYTECODE,
        AgoraToken::constructorCall { initialHolder: deployer, initialSupply: params.initial_supply }
            .abi_encode(),
    );
    let timelock = add(
        "AgoraTimelock",
        &AgoraTimelock::BYTECODE,
        AgoraTimelock::constructorCall {
            minDelay: U256::from(params.timelock_min_delay),
            proposers: Vec::new(),
            executors: vec![Address::ZERO],
            admin: deployer,
        }
        .abi_encode(),
    );
    let governor = add(
        "AgoraGovernor",
        &AgoraGovernor::BYTECODE,
        AgoraGovernor::constructorCall {
            token,
            timelock,
            votingDelay_: U48::from(params.voting_delay),
            votingPeriod_: params.voting_period,
            proposalThreshold_: params.proposal_threshold,
            quorumNumerator: U256::from(params.quorum_percent),
        }
        .abi_encode(),
    );
    let registry = add(
        "AssetRegistry",
        &AssetRegistry::BYTECODE,
        AssetRegistry::constructorCall { initializer: deployer }.abi_encode(),
    );
    let marketplace = add(
        "Marketplace",
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
        "ComputeMarket",
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
        "AccessToken",
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
        },
    }
}

/// Deploys and wires the protocol from `deployer`, the account `provider` signs with, through
/// the standard CREATE2 factory, so addresses are deterministic ([`plan`]).
///
/// Idempotent: a contract whose address already holds code is skipped (a CREATE2 address commits
/// to the exact initcode, so code there is this contract with these arguments), and each wiring
/// step is sent only if the chain does not show it done yet. Order: AgoraToken, AgoraTimelock,
/// AgoraGovernor, AssetRegistry, Marketplace (which creates the RevenueSplitter), ComputeMarket,
/// the AccessToken implementation; then the governor becomes the timelock's proposer and
/// canceller, `registry.initialize`, and last the deployer renounces the timelock's admin role.
/// The timelock owns the marketplace and the compute market and receives their fees.
///
/// When every step was already done, the deployment block is found on chain (the first block
/// where the token has code), which needs a node that serves historical state for that range.
pub async fn deploy_protocol(
    provider: &DynProvider,
    deployer: Address,
    params: &DeployParams,
) -> Result<Deployment, Error> {
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

    if tx::call("read timelock.hasRole", timelock.hasRole(admin_role, deployer)).await? {
        run.send(
            "timelock.renounceRole(DEFAULT_ADMIN_ROLE, deployer)",
            timelock.renounceRole(admin_role, deployer).from(deployer),
        )
        .await?;
    }

    let deployment_block = match run.transactions.first() {
        Some(first) => first.block_number,
        None => first_block_with_code(provider, c.agora_token).await?,
    };
    Ok(Deployment {
        chain_id,
        deployment_block,
        deployer,
        contracts: c,
        constructor_args: plan
            .contracts
            .iter()
            .map(|contract| (contract.name.to_owned(), contract.constructor_args.clone()))
            .collect(),
        transactions: run.transactions,
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
        assert_eq!(first.contracts.len(), 7);
        let mut addresses: Vec<Address> = first.contracts.iter().map(|c| c.address).collect();
        addresses.push(first.addresses.revenue_splitter);
        addresses.sort();
        addresses.dedup();
        assert_eq!(addresses.len(), 8, "every contract has its own address");

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
        let other_salt = plan(deployer, &DeployParams { salt: B256::repeat_byte(7), ..params });
        assert_ne!(other_salt.addresses.agora_token, first.addresses.agora_token);
    }
}
