//! `agora dao`: voting power, proposals of ready-made kinds, votes, and a passed proposal's
//! way through the timelock. A proposal is addressed by its id alone: queue and execute read its
//! calls back from the governor's `ProposalCreated` event.

use agora_contracts::{
    Agora, agora_governor::AgoraGovernor, compute_market::ComputeMarket, erc::IERC20,
    marketplace::Marketplace, tx,
};
use alloy::{
    primitives::{Address, Bytes, U256, keccak256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::{SolCall, SolEvent},
};
use clap::{Args, Subcommand, ValueEnum};
use eyre::{Result, eyre};
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
    /// Vote on an active proposal.
    ///
    /// Example: agora dao vote 4242… for
    Vote(VoteArgs),
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
}

/// Arguments of `dao delegate`.
#[derive(Debug, Args)]
pub struct DelegateArgs {
    /// Who receives your votes [default: you].
    pub to: Option<Address>,
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
    SetFee {
        /// The new fee in basis points.
        bps: u16,
    },
    /// Take an asset off the hub's listing.
    Delist {
        /// The asset.
        asset: U256,
        /// IPFS CID of the reason.
        #[arg(long)]
        reason_cid: String,
    },
    /// Put a delisted asset back.
    Relist {
        /// The asset.
        asset: U256,
        /// IPFS CID of the reason.
        #[arg(long)]
        reason_cid: String,
    },
    /// Pay from the treasury (the timelock).
    TreasuryTransfer {
        /// The recipient.
        to: Address,
        /// The amount, in the currency's units.
        amount: String,
        /// `eth` or an ERC-20 address.
        #[arg(long, default_value = "eth")]
        currency: String,
    },
    /// Rule on a disputed compute job.
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

/// A proposal's calls and description, as proposed.
struct Proposal {
    targets: Vec<Address>,
    values: Vec<U256>,
    calldatas: Vec<Bytes>,
    description: String,
    vote_start: U256,
    vote_end: U256,
}

/// Runs a DAO command.
pub async fn run(global: &GlobalArgs, command: DaoCommand) -> Result<()> {
    let units = Units::eth();
    let explain = |err| revert::explain(err, &units);
    match command {
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
            let (agora, _) = chain::writer(global, &args.signer).await?;
            let (target, value, calldata) = call_of(&agora, args.kind).await?;
            let call = agora.governor.propose(vec![target], vec![value], vec![calldata], args.description);
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
                "voting opens after block {} and closes at block {}",
                created.voteStart, created.voteEnd
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
            let p = proposal(&agora, args.id).await?;
            let hash = keccak256(p.description.as_bytes());
            let call = agora.governor.queue(p.targets, p.values, p.calldatas, hash);
            tx::send("governor.queue", call).await.map_err(explain)?;
            let eta = tx::call("governor.proposalEta", agora.governor.proposalEta(args.id)).await?;
            if global.json {
                return output::json(&json!({ "proposalId": args.id.to_string(), "eta": eta.to_string() }));
            }
            println!("queued proposal {}; executable from unix time {eta}", args.id);
            Ok(())
        }
        DaoCommand::Execute(args) => {
            let (agora, _) = chain::writer(global, &args.signer).await?;
            let p = proposal(&agora, args.id).await?;
            let hash = keccak256(p.description.as_bytes());
            let value = p.values.iter().fold(U256::ZERO, |sum, v| sum + *v);
            let call = agora.governor.execute(p.targets, p.values, p.calldatas, hash).value(value);
            let receipt = tx::send("governor.execute", call).await.map_err(explain)?;
            if global.json {
                return output::json(
                    &json!({ "proposalId": args.id.to_string(), "txHash": receipt.transaction_hash }),
                );
            }
            println!("executed proposal {}", args.id);
            Ok(())
        }
        DaoCommand::Status(args) => {
            let agora = chain::reader(global).await?;
            let p = proposal(&agora, args.id).await?;
            let state = tx::call("governor.state", agora.governor.state(args.id)).await?;
            let votes = tx::call("governor.proposalVotes", agora.governor.proposalVotes(args.id)).await?;
            let status = json!({
                "proposalId": args.id.to_string(),
                "state": state_name(state),
                "description": p.description,
                "voteStart": p.vote_start.to_string(),
                "voteEnd": p.vote_end.to_string(),
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
                ("state".into(), state_name(state).into()),
                ("description".into(), p.description),
                ("voting".into(), format!("blocks {} to {}", p.vote_start, p.vote_end)),
                ("for".into(), format_agora(votes.forVotes)),
                ("against".into(), format_agora(votes.againstVotes)),
                ("abstain".into(), format_agora(votes.abstainVotes)),
            ]);
            Ok(())
        }
    }
}

/// The one call a ready-made proposal makes: (target, value, calldata).
async fn call_of(agora: &Agora, kind: ProposalKind) -> Result<(Address, U256, Bytes)> {
    let marketplace = *agora.marketplace.address();
    Ok(match kind {
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
        ProposalKind::RuleDispute { job, provider_at_fault, slash } => {
            let call =
                ComputeMarket::ruleDisputeCall { jobId: job, providerAtFault: provider_at_fault, slash };
            (*agora.compute_market.address(), U256::ZERO, call.abi_encode().into())
        }
    })
}

/// The proposal `id` as its `ProposalCreated` event recorded it.
async fn proposal(agora: &Agora, id: U256) -> Result<Proposal> {
    let filter = Filter::new()
        .address(*agora.governor.address())
        .event_signature(AgoraGovernor::ProposalCreated::SIGNATURE_HASH)
        .from_block(agora.deployment.deployment_block);
    let logs = agora.provider().get_logs(&filter).await?;
    let created = logs
        .iter()
        .filter_map(|log| log.log_decode::<AgoraGovernor::ProposalCreated>().ok())
        .map(|log| log.inner.data)
        .find(|event| event.proposalId == id)
        .ok_or_else(|| eyre!("unknown proposal {id}: the governor has no such proposal"))?;
    Ok(Proposal {
        targets: created.targets,
        values: created.values,
        calldatas: created.calldatas,
        description: created.description,
        vote_start: created.voteStart,
        vote_end: created.voteEnd,
    })
}

/// OpenZeppelin's `IGovernor.ProposalState`, by number.
pub fn state_name(state: u8) -> &'static str {
    match state {
        0 => "pending",
        1 => "active",
        2 => "canceled",
        3 => "defeated",
        4 => "succeeded",
        5 => "queued",
        6 => "expired",
        7 => "executed",
        _ => "unknown",
    }
}

fn format_agora(votes: U256) -> String {
    Units { symbol: "AGORA".into(), decimals: 18 }.format(votes)
}
