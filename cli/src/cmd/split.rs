//! `agora split`: an asset's revenue split, what each recipient is owed, and paying it out.

use agora_contracts::{Agora, revenue_splitter::RevenueSplitter, tx};
use alloy::primitives::{Address, B256, U256};
use clap::{Args, Subcommand};
use eyre::{Result, bail, eyre};
use serde::Serialize;

use crate::{
    GlobalArgs, chain,
    cmd::asset::asset,
    currency::{Currency, Units},
    output, revert,
    wallet::SignerArgs,
};

/// Split commands.
#[derive(Debug, Subcommand)]
pub enum SplitCommand {
    /// Show an asset's recipients, their shares and what each can release, per currency.
    ///
    /// Example: agora split show 1
    Show(ShowArgs),
    /// Pay recipients what they are owed (anyone may send this; the money goes to the recipients).
    ///
    /// Example: agora split release 1 --currency eth --recipient 0xA11c…
    Release(ReleaseArgs),
}

/// Arguments of `split show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The asset's id.
    pub id: U256,
}

/// Arguments of `split release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The asset's id.
    pub id: U256,
    /// Only this currency (`eth` or an ERC-20 address) [default: every currency it earned in].
    #[arg(long)]
    pub currency: Option<String>,
    /// Only this recipient [default: every recipient of the split].
    #[arg(long)]
    pub recipient: Option<Address>,
    /// The signer (pays the gas).
    #[command(flatten)]
    pub signer: SignerArgs,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entitlement {
    recipient: Address,
    bps: u16,
    currency: Address,
    /// Base units.
    releasable: String,
    #[serde(skip)]
    display: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Release {
    recipient: Address,
    currency: Address,
    /// Base units.
    amount: String,
    tx_hash: B256,
}

/// Runs a split command.
pub async fn run(global: &GlobalArgs, command: SplitCommand) -> Result<()> {
    match command {
        SplitCommand::Show(args) => {
            let agora = chain::reader(global).await?;
            let entitlements = entitlements(&agora, args.id, None, None).await?;
            if global.json {
                return output::json(&entitlements);
            }
            let rows: Vec<(String, String)> = entitlements
                .iter()
                .map(|e| {
                    let share = format!("{:.2}%", f64::from(e.bps) / 100.0);
                    (e.recipient.to_string(), format!("{share:>7}  releasable {}", e.display))
                })
                .collect();
            output::table(&rows);
            Ok(())
        }
        SplitCommand::Release(args) => {
            let currency = args.currency.as_deref().map(Currency::parse).transpose()?;
            let (agora, _) = chain::writer(global, &args.signer).await?;
            let owed = entitlements(&agora, args.id, currency, args.recipient).await?;
            if let Some(recipient) = args.recipient
                && !owed.iter().any(|e| e.recipient == recipient)
            {
                bail!("{recipient} is not a recipient of asset {}'s split", args.id);
            }
            let mut releases = Vec::new();
            let mut printed = Vec::new();
            for e in owed.iter().filter(|e| e.releasable != "0") {
                let units = Currency::from_address(e.currency).units(agora.provider()).await?;
                let call = agora.splitter.release(args.id, e.currency, e.recipient);
                let receipt =
                    tx::send("splitter.release", call).await.map_err(|err| revert::explain(err, &units))?;
                let released = receipt
                    .decoded_log::<RevenueSplitter::Released>()
                    .ok_or_else(|| eyre!("splitter.release: the receipt has no Released event"))?
                    .data;
                printed.push((e.recipient.to_string(), units.format(released.amount)));
                releases.push(Release {
                    recipient: e.recipient,
                    currency: e.currency,
                    amount: released.amount.to_string(),
                    tx_hash: receipt.transaction_hash,
                });
            }
            if releases.is_empty() {
                bail!("nothing to release: asset {}'s recipients are owed nothing yet", args.id);
            }
            if global.json {
                return output::json(&releases);
            }
            println!("released asset {}'s revenue:", args.id);
            output::table(&printed);
            Ok(())
        }
    }
}

/// Each (recipient, currency) of asset `id`'s split with what it can release now, narrowed to
/// `currency` and `recipient` when given.
async fn entitlements(
    agora: &Agora,
    id: U256,
    currency: Option<Currency>,
    recipient: Option<Address>,
) -> Result<Vec<Entitlement>> {
    asset(agora, id).await?;
    let split = tx::call("splitter.getSplit", agora.splitter.getSplit(id)).await?;
    let currencies = match currency {
        Some(currency) => vec![currency.address()],
        None => {
            let earned = tx::call("splitter.currenciesOf", agora.splitter.currenciesOf(id)).await?;
            if earned.is_empty() { vec![Address::ZERO] } else { earned }
        }
    };
    let mut out = Vec::new();
    for currency in currencies {
        let units: Units = Currency::from_address(currency).units(agora.provider()).await?;
        for share in split.iter().filter(|s| recipient.is_none_or(|r| r == s.recipient)) {
            let amount =
                tx::call("splitter.releasable", agora.splitter.releasable(id, currency, share.recipient))
                    .await?;
            out.push(Entitlement {
                recipient: share.recipient,
                bps: share.bps,
                currency,
                releasable: amount.to_string(),
                display: units.format(amount),
            });
        }
    }
    Ok(out)
}
