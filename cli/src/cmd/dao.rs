//! `agora dao`: voting power, proposals of ready-made kinds or of raw calls, votes, the list of
//! every proposal, and a passed proposal's way through the timelock. A proposal is addressed by
//! its id alone: the governor keeps each proposal's calls (GovernorStorage), so queue and
//! execute take just the id; list and status read descriptions from `ProposalCreated` events.
//! Times are unix seconds (the governor's clock is the block timestamp), printed in UTC.
//!
//! `propose` ends every description with `#proposer=<your address>`, OpenZeppelin's guard
//! against front-running: nobody else can submit the same proposal first and take its id.

use std::path::PathBuf;

use agora_contracts::words::{proposal_state_name, support_name, unix_time};
use agora_contracts::{
    Agora,
    agora_governor::AgoraGovernor,
    agora_rewards::AgoraRewards,
    ballot::{self, RelayError, SignedMessage},
    compute_market::ComputeMarket,
    erc::IERC20,
    marketplace::Marketplace,
    tx,
};
use alloy::{
    primitives::{Address, Bytes, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::{SolCall, SolEvent},
};
use clap::{Args, Subcommand, ValueEnum};
use eyre::{Result, WrapErr, bail, eyre};
use serde::Serialize;
use serde_json::json;

use crate::{
    GlobalArgs, chain,
    currency::{Currency, Units},
    output, revert,
    wallet::SignerArgs,
};

/// DAO commands.
#[derive(Debug, Subcommand)]
pub enum DaoCommand {
    /// Delegate your AGORA votes (to yourself by default: votes count only once delegated).
    ///
    /// Example: agora dao delegate
    Delegate(DelegateArgs),
    /// Propose a decision of one of the ready-made kinds.
    ///
    /// Example: agora dao propose --description "Lower the fee to 1.5%" set-fee 150
    Propose(ProposeArgs),
    /// Vote on an active proposal; with --sign-only, sign the vote for someone else to relay
    /// (you pay no gas).
    ///
    /// Example: agora dao vote 4242… for --sign-only --output vote.json
    Vote(VoteArgs),
    /// Send a vote or delegation someone signed with --sign-only: the signer's vote counts, you
    /// pay the gas. Checked against this deployment's chain and contracts first.
    ///
    /// Example: agora dao relay vote.json
    Relay(RelayArgs),
    /// Queue a succeeded proposal on the timelock.
    ///
    /// Example: agora dao queue 4242…
    Queue(ProposalArgs),
    /// Execute a queued proposal once the timelock delay has passed.
    ///
    /// Example: agora dao execute 4242…
    Execute(ProposalArgs),
    /// A proposal's state, votes and calls.
    ///
    /// Example: agora dao status 4242… --json
    Status(StatusArgs),
    /// Every proposal with its state and tallies, oldest first.
    ///
    /// Example: agora dao list --json
    List,
    /// AGORA earned by use: compute an epoch's distribution, claim your share.
    ///
    /// Example: agora dao rewards compute --epoch 3
    #[command(subcommand)]
    Rewards(super::rewards::RewardsCommand),
    /// What the treasury (the timelock) holds and what fees have accrued for it, per currency
    /// (ETH, every currency ever allowed, and any --currency); --release pays the accrued fees
    /// in (anyone may).
    ///
    /// Example: agora dao treasury --release
    Treasury(TreasuryArgs),
}

/// Arguments of `dao treasury`.
#[derive(Debug, Args)]
pub struct TreasuryArgs {
    /// An ERC-20 to report besides ETH and the allow-listed currencies (repeat it).
    #[arg(long = "currency", value_name = "ADDRESS")]
    pub currencies: Vec<Address>,
    /// Release the accrued fees to the treasury: one transaction per source and currency that
    /// has any.
    #[arg(long)]
    pub release: bool,
    /// The signer (only with --release; it pays the gas, the fees go to the treasury).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Where a signature made with --sign-only goes.
#[derive(Debug, Args)]
pub struct SignOnlyArgs {
    /// Sign an EIP-712 message instead of sending a transaction: anyone can relay it with
    /// `agora dao relay` and pay its gas. It counts once, on this deployment's chain only.
    #[arg(long)]
    pub sign_only: bool,
    /// With --sign-only: write the signed message to this file [default: print it].
    #[arg(long, requires = "sign_only")]
    pub output: Option<PathBuf>,
}

/// Arguments of `dao relay`.
#[derive(Debug, Args)]
pub struct RelayArgs {
    /// The signed message (JSON, as `--sign-only` writes it).
    pub file: PathBuf,
    /// The signer (the relayer, who pays the gas).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Arguments of `dao delegate`.
#[derive(Debug, Args)]
pub struct DelegateArgs {
    /// Who receives your votes [default: you].
    pub to: Option<Address>,
    /// With --sign-only: seconds the signed delegation stays valid.
    #[arg(long, default_value_t = 7 * 24 * 60 * 60, requires = "sign_only")]
    pub valid_for: u64,
    /// Sign instead of sending.
    #[command(flatten)]
    pub sign: SignOnlyArgs,
    /// The signer (the AGORA holder).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Arguments of `dao propose`.
#[derive(Debug, Args)]
pub struct ProposeArgs {
    /// What the proposal says and why (part of its identity).
    #[arg(long)]
    pub description: String,
    /// The decision.
    #[command(subcommand)]
    pub kind: ProposalKind,
    /// The signer (the proposer).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// The ready-made decisions.
#[derive(Debug, Subcommand)]
pub enum ProposalKind {
    /// Set the marketplace's protocol fee (basis points).
    ///
    /// Example: agora dao propose --description "Fee to 1.5%" set-fee 150
    SetFee {
        /// The new fee in basis points.
        bps: u16,
    },
    /// Take an asset off the hub's listing.
    ///
    /// Example: agora dao propose --description "Delist 7: licence breach" delist 7 --reason-cid bafkrei…
    Delist {
        /// The asset.
        asset: U256,
        /// IPFS CID of the reason.
        #[arg(long)]
        reason_cid: String,
    },
    /// Put a delisted asset back.
    ///
    /// Example: agora dao propose --description "Relist 7" relist 7 --reason-cid bafkrei…
    Relist {
        /// The asset.
        asset: U256,
        /// IPFS CID of the reason.
        #[arg(long)]
        reason_cid: String,
    },
    /// Pay from the treasury (the timelock).
    ///
    /// Example: agora dao propose --description "Grant to the indexer team" treasury-transfer 0xB0b… 2.5
    TreasuryTransfer {
        /// The recipient.
        to: Address,
        /// The amount, in the currency's units.
        amount: String,
        /// `eth` or an ERC-20 address.
        #[arg(long, default_value = "eth")]
        currency: String,
    },
    /// Fund an ended rewards epoch from the reserve: its Merkle root and total, recomputed from
    /// the chain (`agora dao rewards compute`); the description records the budget and cap.
    ///
    /// Example: agora dao propose --description "Rewards for epoch 3" rewards-epoch --epoch 3
    RewardsEpoch(super::rewards::EpochArgs),
    /// Any calls, as raw calldata: one action per --target, with the --value and --calldata
    /// at the same position (both optional: none means 0 wei and empty calldata for all).
    ///
    /// Example: agora dao propose --description "Fee to 2%" raw --target 0x5FbD… --calldata 0x6f8c…
    Raw {
        /// The contract or account called (repeat for several actions).
        #[arg(long = "target", value_name = "ADDRESS", required = true)]
        targets: Vec<String>,
        /// Wei sent with the call, from the treasury (one per --target, or none).
        #[arg(long = "value", value_name = "WEI")]
        values: Vec<String>,
        /// The call's 0x-hex calldata: selector and ABI-encoded arguments (one per --target, or none).
        #[arg(long = "calldata", value_name = "HEX")]
        calldatas: Vec<String>,
    },
    /// Allow an ERC-20 as a currency for listings and compute prices.
    ///
    /// Example: agora dao propose --description "Allow USDC" allow-currency 0xA0b8…
    AllowCurrency {
        /// The ERC-20.
        currency: Address,
    },
    /// Take an ERC-20 off the allow-list (existing listings, jobs and balances are untouched).
    ///
    /// Example: agora dao propose --description "Stop new USDT listings" disallow-currency 0xdAC1…
    DisallowCurrency {
        /// The ERC-20.
        currency: Address,
    },
    /// Rule on a disputed compute job.
    ///
    /// Example: agora dao propose --description "Job 3: provider at fault" rule-dispute 3 --provider-at-fault
    RuleDispute {
        /// The job.
        job: U256,
        /// The provider was at fault (the consumer is refunded).
        #[arg(long)]
        provider_at_fault: bool,
        /// Stake to slash from the provider, in wei.
        #[arg(long, default_value_t = 0)]
        slash: u128,
    },
}

/// How a vote counts (GovernorCountingSimple's numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[repr(u8)]
pub enum Support {
    /// Against.
    Against = 0,
    /// For.
    For = 1,
    /// Abstain.
    Abstain = 2,
}

/// Arguments of `dao vote`.
#[derive(Debug, Args)]
pub struct VoteArgs {
    /// The proposal id.
    pub id: U256,
    /// Your vote.
    #[arg(value_enum)]
    pub support: Support,
    /// Sign instead of sending.
    #[command(flatten)]
    pub sign: SignOnlyArgs,
    /// The signer (the voter).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Arguments of `dao queue` and `dao execute`.
#[derive(Debug, Args)]
pub struct ProposalArgs {
    /// The proposal id.
    pub id: U256,
    /// The signer (anyone may send this).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Arguments of `dao status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The proposal id.
    pub id: U256,
}

/// A proposal's targets, description and vote start, as proposed.
struct Proposal {
    targets: Vec<Address>,
    description: String,
    vote_start: U256,
}

/// Runs a DAO command.
pub async fn run(global: &GlobalArgs, command: DaoCommand) -> Result<()> {
    let units = Units::eth();
    let explain = |err| revert::explain(err, &units);
    match command {
        DaoCommand::Treasury(args) => treasury(global, args).await,
        DaoCommand::Rewards(command) => super::rewards::run(global, command).await,
        DaoCommand::Delegate(args) if args.sign.sign_only => {
            let (agora, signer) = chain::writer(global, &args.signer).await?;
            let key = signing_key(&signer)?;
            let to = args.to.unwrap_or(signer.address);
            let now =
                agora.provider().get_block_by_number(Default::default()).await?.map(|b| b.header.timestamp);
            let expiry = U256::from(now.unwrap_or_default().saturating_add(args.valid_for));
            let message = ballot::sign_delegation(key, &agora, to, expiry).await.map_err(explain)?;
            signed(global, &args.sign, &message)
        }
        DaoCommand::Vote(args) if args.sign.sign_only => {
            let (agora, signer) = chain::writer(global, &args.signer).await?;
            let key = signing_key(&signer)?;
            let message =
                ballot::sign_vote(key, &agora, args.id, args.support as u8).await.map_err(explain)?;
            signed(global, &args.sign, &message)
        }
        DaoCommand::Relay(args) => {
            let text = std::fs::read_to_string(&args.file)
                .wrap_err_with(|| format!("cannot read {}", args.file.display()))?;
            let message: SignedMessage = serde_json::from_str(&text)
                .wrap_err_with(|| format!("{} is not a signed vote or delegation", args.file.display()))?;
            let (agora, signer) = chain::writer(global, &args.signer).await?;
            let receipt = match ballot::relay(&agora, &message).await {
                Ok(receipt) => receipt,
                Err(RelayError::Send(err)) => return Err(explain(*err)),
                Err(err) => bail!("{err}"),
            };
            let what = match &message {
                SignedMessage::Vote { proposal_id, support, .. } => {
                    format!("vote {} on proposal {proposal_id}", support_name(*support))
                }
                SignedMessage::Delegation { delegatee, .. } => format!("delegation to {delegatee}"),
            };
            if global.json {
                return output::json(&json!({
                    "signer": message.signer(),
                    "relayer": signer.address,
                    "txHash": receipt.transaction_hash,
                }));
            }
            println!("relayed {}'s {what}; {} paid the gas", message.signer(), signer.address);
            Ok(())
        }
        DaoCommand::Delegate(args) => {
            let (agora, signer) = chain::writer(global, &args.signer).await?;
            let to = args.to.unwrap_or(signer.address);
            tx::send("token.delegate", agora.token.delegate(to)).await.map_err(explain)?;
            let votes = tx::call("token.getVotes", agora.token.getVotes(to)).await?;
            if global.json {
                return output::json(&json!({ "delegate": to, "votes": votes.to_string() }));
            }
            println!("delegated to {to}, who now has {} votes", format_agora(votes));
            Ok(())
        }
        DaoCommand::Propose(args) => {
            // Raw actions are checked before anything touches the network.
            if let ProposalKind::Raw { targets, values, calldatas } = &args.kind {
                raw_actions(targets, values, calldatas)?;
            }
            let (agora, signer) = chain::writer(global, &args.signer).await?;
            let mut description = args.description;
            if let ProposalKind::RewardsEpoch(epoch) = &args.kind {
                let budget = epoch.budget.clone().unwrap_or_else(|| {
                    Units { symbol: String::new(), decimals: 18 }
                        .format(agora_contracts::rewards::default_budget(&agora.deployment))
                        .trim()
                        .to_owned()
                });
                description.push_str(&format!(
                    "\n\nRecompute with: agora dao rewards compute --epoch {} --budget {budget} --cap-bps {}",
                    epoch.epoch, epoch.cap_bps
                ));
            }
            let actions = calls_of(&agora, args.kind).await?;
            let (targets, (values, calldatas)): (Vec<_>, (Vec<_>, Vec<_>)) =
                actions.into_iter().map(|(target, value, calldata)| (target, (value, calldata))).unzip();
            let description = with_proposer_suffix(&description, signer.address);
            let call = agora.governor.propose(targets, values, calldatas, description);
            let receipt = tx::send("governor.propose", call).await.map_err(explain)?;
            let created = receipt
                .decoded_log::<AgoraGovernor::ProposalCreated>()
                .ok_or_else(|| eyre!("governor.propose: the receipt has no ProposalCreated event"))?
                .data;
            if global.json {
                return output::json(&json!({
                    "proposalId": created.proposalId.to_string(),
                    "voteStart": created.voteStart.to_string(),
                    "voteEnd": created.voteEnd.to_string(),
                }));
            }
            println!("proposal {}", created.proposalId);
            println!(
                "voting opens at {} and closes at {} (later if quorum is reached late)",
                unix_time(created.voteStart),
                unix_time(created.voteEnd)
            );
            Ok(())
        }
        DaoCommand::Vote(args) => {
            let (agora, _) = chain::writer(global, &args.signer).await?;
            let call = agora.governor.castVote(args.id, args.support as u8);
            tx::send("governor.castVote", call).await.map_err(explain)?;
            if global.json {
                return output::json(
                    &json!({ "proposalId": args.id.to_string(), "support": args.support as u8 }),
                );
            }
            println!("voted {:?} on proposal {}", args.support, args.id);
            Ok(())
        }
        DaoCommand::Queue(args) => {
            let (agora, _) = chain::writer(global, &args.signer).await?;
            tx::send("governor.queue", agora.governor.queue_1(args.id)).await.map_err(explain)?;
            let eta = tx::call("governor.proposalEta", agora.governor.proposalEta(args.id)).await?;
            if global.json {
                return output::json(&json!({ "proposalId": args.id.to_string(), "eta": eta.to_string() }));
            }
            println!("queued proposal {}; executable from {}", args.id, unix_time(eta));
            Ok(())
        }
        DaoCommand::Execute(args) => {
            let (agora, _) = chain::writer(global, &args.signer).await?;
            let details = tx::call("governor.proposalDetails", agora.governor.proposalDetails(args.id))
                .await
                .map_err(explain)?;
            let value = details.values.iter().fold(U256::ZERO, |sum, v| sum + *v);
            let call = agora.governor.execute_1(args.id).value(value);
            let receipt = tx::send("governor.execute", call).await.map_err(explain)?;
            if global.json {
                return output::json(
                    &json!({ "proposalId": args.id.to_string(), "txHash": receipt.transaction_hash }),
                );
            }
            println!("executed proposal {}", args.id);
            Ok(())
        }
        DaoCommand::List => {
            let agora = chain::reader(global).await?;
            let mut rows = Vec::new();
            for created in proposals(&agora).await? {
                let id = created.proposalId;
                let state = tx::call("governor.state", agora.governor.state(id)).await?;
                let votes = tx::call("governor.proposalVotes", agora.governor.proposalVotes(id)).await?;
                rows.push(ListedProposal {
                    proposal_id: id,
                    state: proposal_state_name(state),
                    proposer: created.proposer,
                    description: created.description,
                    vote_start: created.voteStart,
                    vote_end: created.voteEnd,
                    for_votes: votes.forVotes,
                    against: votes.againstVotes,
                    abstain: votes.abstainVotes,
                    actions: created.targets.len(),
                });
            }
            if global.json {
                return output::json(&rows);
            }
            if rows.is_empty() {
                println!("no proposals yet (make one with `agora dao propose`)");
            }
            for row in &rows {
                println!("{}", row.proposal_id);
                println!(
                    "  {:<9}  for {}  against {}  abstain {}  ({} action{})  {}",
                    row.state,
                    format_agora(row.for_votes),
                    format_agora(row.against),
                    format_agora(row.abstain),
                    row.actions,
                    if row.actions == 1 { "" } else { "s" },
                    first_line(&row.description)
                );
            }
            Ok(())
        }
        DaoCommand::Status(args) => {
            let agora = chain::reader(global).await?;
            let p = proposal(&agora, args.id).await?;
            let state = tx::call("governor.state", agora.governor.state(args.id)).await?;
            let votes = tx::call("governor.proposalVotes", agora.governor.proposalVotes(args.id)).await?;
            // The deadline a late quorum extended, not the one proposed.
            let deadline =
                tx::call("governor.proposalDeadline", agora.governor.proposalDeadline(args.id)).await?;
            let status = json!({
                "proposalId": args.id.to_string(),
                "state": proposal_state_name(state),
                "description": p.description,
                "voteStart": p.vote_start.to_string(),
                "voteEnd": deadline.to_string(),
                "for": votes.forVotes.to_string(),
                "against": votes.againstVotes.to_string(),
                "abstain": votes.abstainVotes.to_string(),
                "targets": p.targets,
            });
            if global.json {
                return output::json(&status);
            }
            output::table(&[
                ("proposal".into(), args.id.to_string()),
                ("state".into(), proposal_state_name(state).into()),
                ("description".into(), p.description),
                ("voting".into(), format!("{} to {}", unix_time(p.vote_start), unix_time(deadline))),
                ("for".into(), format_agora(votes.forVotes)),
                ("against".into(), format_agora(votes.againstVotes)),
                ("abstain".into(), format_agora(votes.abstainVotes)),
            ]);
            Ok(())
        }
    }
}

/// One proposal as `dao list` shows it; numbers in decimal, votes in AGORA base units.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ListedProposal {
    #[serde(serialize_with = "decimal")]
    proposal_id: U256,
    state: &'static str,
    proposer: Address,
    description: String,
    #[serde(serialize_with = "decimal")]
    vote_start: U256,
    #[serde(serialize_with = "decimal")]
    vote_end: U256,
    #[serde(rename = "for", serialize_with = "decimal")]
    for_votes: U256,
    #[serde(serialize_with = "decimal")]
    against: U256,
    #[serde(serialize_with = "decimal")]
    abstain: U256,
    actions: usize,
}

/// A number as a decimal string, as `dao status` prints them (serde's U256 is hex).
fn decimal<S: serde::Serializer>(value: &U256, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The actions of a raw proposal, each checked: a non-zero address, a value in wei, 0x-hex
/// calldata that is empty or starts with a 4-byte selector.
fn raw_actions(
    targets: &[String],
    values: &[String],
    calldatas: &[String],
) -> Result<Vec<(Address, U256, Bytes)>> {
    let count = targets.len();
    if count == 0 {
        bail!("a raw proposal needs at least one --target");
    }
    for (flag, given) in [("--value", values.len()), ("--calldata", calldatas.len())] {
        if given != 0 && given != count {
            bail!("{given} {flag} for {count} --target: give one per --target, in the same order, or none");
        }
    }
    let mut actions = Vec::with_capacity(count);
    for (index, target) in targets.iter().enumerate() {
        let address = parse_address(target)?;
        let value = match values.get(index) {
            None => U256::ZERO,
            Some(text) => parse_wei(text)?,
        };
        let calldata = match calldatas.get(index) {
            None => Bytes::new(),
            Some(text) => parse_calldata(text)?,
        };
        actions.push((address, value, calldata));
    }
    Ok(actions)
}

fn parse_wei(text: &str) -> Result<U256> {
    let digits = text.trim();
    // U256's own parser would also take 0x-hex; a value is written in decimal wei.
    let decimal = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    decimal
        .then(|| digits.parse::<U256>().ok())
        .flatten()
        .ok_or_else(|| eyre!("--value {text:?} is not an amount in wei (a whole number below 2^256)"))
}

fn parse_address(text: &str) -> Result<Address> {
    let trimmed = text.trim();
    let hex = trimmed.strip_prefix("0x").unwrap_or_default();
    if hex.len() != 40 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("--target {text:?} is not an address (0x and 40 hex digits)");
    }
    let address: Address = trimmed.parse().map_err(|_| eyre!("--target {text:?} is not an address"))?;
    if address.is_zero() {
        bail!("--target must not be the zero address");
    }
    Ok(address)
}

fn parse_calldata(text: &str) -> Result<Bytes> {
    let hex =
        text.trim().strip_prefix("0x").ok_or_else(|| eyre!("--calldata {text:?} must start with 0x"))?;
    let bytes = alloy::hex::decode(hex)
        .map_err(|_| eyre!("--calldata {text:?} is not hex (an even number of 0-9a-f digits after 0x)"))?;
    if !bytes.is_empty() && bytes.len() < 4 {
        bail!(
            "--calldata {text:?} is {} bytes: a call is empty or starts with a 4-byte selector",
            bytes.len()
        );
    }
    Ok(bytes.into())
}

/// The calls a proposal makes: (target, value, calldata) each; one for a ready-made kind.
async fn calls_of(agora: &Agora, kind: ProposalKind) -> Result<Vec<(Address, U256, Bytes)>> {
    let marketplace = *agora.marketplace.address();
    Ok(vec![match kind {
        ProposalKind::SetFee { bps } => {
            (marketplace, U256::ZERO, Marketplace::setProtocolFeeCall { feeBps: bps }.abi_encode().into())
        }
        ProposalKind::Delist { asset, reason_cid } => {
            let call = Marketplace::delistCall { assetId: asset, reasonCid: reason_cid };
            (marketplace, U256::ZERO, call.abi_encode().into())
        }
        ProposalKind::Relist { asset, reason_cid } => {
            let call = Marketplace::relistCall { assetId: asset, reasonCid: reason_cid };
            (marketplace, U256::ZERO, call.abi_encode().into())
        }
        ProposalKind::TreasuryTransfer { to, amount, currency } => {
            let currency = Currency::parse(&currency)?;
            let amount = currency.units(agora.provider()).await?.parse(&amount)?;
            match currency {
                Currency::Eth => (to, amount, Bytes::new()),
                Currency::Token(token) => {
                    (token, U256::ZERO, IERC20::transferCall { to, value: amount }.abi_encode().into())
                }
            }
        }
        ProposalKind::AllowCurrency { currency } => {
            (marketplace, U256::ZERO, Marketplace::allowCurrencyCall { currency }.abi_encode().into())
        }
        ProposalKind::DisallowCurrency { currency } => {
            (marketplace, U256::ZERO, Marketplace::disallowCurrencyCall { currency }.abi_encode().into())
        }
        ProposalKind::RuleDispute { job, provider_at_fault, slash } => {
            let call =
                ComputeMarket::ruleDisputeCall { jobId: job, providerAtFault: provider_at_fault, slash };
            (*agora.compute_market.address(), U256::ZERO, call.abi_encode().into())
        }
        ProposalKind::RewardsEpoch(epoch) => {
            let c = super::rewards::compute(agora, &epoch).await?;
            if c.distribution.amounts.is_empty() {
                bail!("nobody earned anything in rewards epoch {}: there is nothing to fund", epoch.epoch);
            }
            let call = AgoraRewards::fundEpochCall {
                epoch_: U256::from(epoch.epoch),
                root: c.distribution.root(),
                total: c.distribution.total(),
            };
            (*agora.rewards.address(), U256::ZERO, call.abi_encode().into())
        }
        ProposalKind::Raw { targets, values, calldatas } => {
            return raw_actions(&targets, &values, &calldatas);
        }
    }])
}

/// One currency's line of `dao treasury`, amounts in base units.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TreasuryLine {
    currency: Address,
    /// In the currency's units, e.g. `ETH` or `mUSD`.
    symbol: String,
    /// What the timelock holds.
    held: String,
    /// Protocol fees on sales, waiting in the revenue splitter.
    accrued_sales: String,
    /// Protocol fees on compute jobs, waiting in the compute market.
    accrued_compute: String,
    /// Released by this call (with --release).
    released: String,
}

/// `dao treasury`: per currency, what the treasury holds and what accrued for it; with
/// `release`, the accrued fees paid in first.
async fn treasury(global: &GlobalArgs, args: TreasuryArgs) -> Result<()> {
    let agora = match args.release {
        true => chain::writer(global, &args.signer).await?.0,
        false => chain::reader(global).await?,
    };
    let treasury = agora.deployment.contracts.timelock;
    let allowed = agora
        .marketplace
        .CurrencyAllowed_filter()
        .from_block(agora.deployment.deployment_block)
        .query()
        .await
        .map_err(|err| eyre!("reading the allow-listed currencies: {err}"))?;
    let mut currencies = vec![Address::ZERO];
    for currency in allowed.into_iter().map(|(event, _)| event.currency).chain(args.currencies) {
        if !currencies.contains(&currency) {
            currencies.push(currency);
        }
    }
    let mut lines = Vec::with_capacity(currencies.len());
    for address in currencies {
        let units = Currency::from_address(address).units(agora.provider()).await?;
        let explain = |err| revert::explain(err, &units);
        let mut released = U256::ZERO;
        if args.release {
            let sales = tx::call("splitter.accruedFees", agora.splitter.accruedFees(address)).await?;
            if !sales.is_zero() {
                tx::send("splitter.releaseFees", agora.splitter.releaseFees(address))
                    .await
                    .map_err(explain)?;
                released += sales;
            }
            let compute =
                tx::call("computeMarket.accruedFees", agora.compute_market.accruedFees(address)).await?;
            if !compute.is_zero() {
                let call = agora.compute_market.releaseFees(address);
                tx::send("computeMarket.releaseFees", call).await.map_err(explain)?;
                released += compute;
            }
        }
        let held = match address.is_zero() {
            true => agora.provider().get_balance(treasury).await?,
            false => {
                tx::call("balanceOf", IERC20::new(address, agora.provider().clone()).balanceOf(treasury))
                    .await?
            }
        };
        let sales = tx::call("splitter.accruedFees", agora.splitter.accruedFees(address)).await?;
        let compute =
            tx::call("computeMarket.accruedFees", agora.compute_market.accruedFees(address)).await?;
        lines.push((
            units.clone(),
            TreasuryLine {
                currency: address,
                symbol: units.symbol.clone(),
                held: held.to_string(),
                accrued_sales: sales.to_string(),
                accrued_compute: compute.to_string(),
                released: released.to_string(),
            },
            (held, sales, compute, released),
        ));
    }
    if global.json {
        return output::json(&lines.iter().map(|(_, line, _)| line).collect::<Vec<_>>());
    }
    println!("treasury (the timelock) {treasury}");
    let rows: Vec<(String, String)> = lines
        .iter()
        .map(|(units, line, (held, sales, compute, released))| {
            let released = match released.is_zero() {
                true => String::new(),
                false => format!("; released {} just now", units.format(*released)),
            };
            (
                line.symbol.clone(),
                format!(
                    "holds {}; accrued {} from sales and {} from compute{released}",
                    units.format(*held),
                    units.format(*sales),
                    units.format(*compute)
                ),
            )
        })
        .collect();
    output::table(&rows);
    if !args.release
        && lines.iter().any(|(_, _, (_, sales, compute, _))| !(sales.is_zero() && compute.is_zero()))
    {
        println!("accrued fees reach the treasury with `agora dao treasury --release`");
    }
    Ok(())
}

/// Every proposal as its `ProposalCreated` event recorded it, oldest first.
async fn proposals(agora: &Agora) -> Result<Vec<AgoraGovernor::ProposalCreated>> {
    let filter = Filter::new()
        .address(*agora.governor.address())
        .event_signature(AgoraGovernor::ProposalCreated::SIGNATURE_HASH)
        .from_block(agora.deployment.deployment_block);
    let logs = agora.provider().get_logs(&filter).await?;
    Ok(logs
        .iter()
        .filter_map(|log| log.log_decode::<AgoraGovernor::ProposalCreated>().ok())
        .map(|log| log.inner.data)
        .collect())
}

/// The proposal `id` as its `ProposalCreated` event recorded it.
async fn proposal(agora: &Agora, id: U256) -> Result<Proposal> {
    let created = proposals(agora)
        .await?
        .into_iter()
        .find(|event| event.proposalId == id)
        .ok_or_else(|| eyre!("unknown proposal {id}: the governor has no such proposal"))?;
    Ok(Proposal { targets: created.targets, description: created.description, vote_start: created.voteStart })
}

/// The local key a --sign-only signature needs.
fn signing_key(signer: &crate::wallet::Signer) -> Result<&alloy::signers::local::PrivateKeySigner> {
    signer
        .key
        .as_ref()
        .ok_or_else(|| eyre!("--sign-only signs with a keystore or a private key, not a hardware wallet"))
}

/// Prints or writes a signed message, with the command that relays it.
fn signed(global: &GlobalArgs, sign: &SignOnlyArgs, message: &SignedMessage) -> Result<()> {
    let json = serde_json::to_string_pretty(message)? + "\n";
    match &sign.output {
        Some(path) => {
            std::fs::write(path, &json).wrap_err_with(|| format!("cannot write {}", path.display()))?;
            if global.json {
                return output::json(&json!({ "signer": message.signer(), "file": path }));
            }
            println!(
                "signed by {}; anyone relays it with: agora dao relay {}",
                message.signer(),
                path.display()
            );
        }
        None => print!("{json}"),
    }
    Ok(())
}

/// `description` ending in `#proposer=<proposer>` (OpenZeppelin's front-running guard), unless
/// it already ends in a proposer suffix.
fn with_proposer_suffix(description: &str, proposer: Address) -> String {
    let tail = description.rsplit_once("#proposer=").map(|(_, tail)| tail);
    if tail.is_some_and(|tail| tail.len() == 42 && tail.starts_with("0x")) {
        return description.to_owned();
    }
    format!("{description}\n\n#proposer={proposer:#x}")
}

fn format_agora(votes: U256) -> String {
    Units::agora().format(votes)
}
