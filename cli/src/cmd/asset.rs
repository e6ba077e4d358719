//! `agora asset`: publish a file (content and metadata to IPFS, the asset on chain), read
//! assets, buy and grant access tokens, and publish new metadata versions.

use std::{path::PathBuf, sync::Arc, time::Duration};

use agora_contracts::{
    Agora, asset_registry::IAssetRegistry::PublishParams, marketplace::Marketplace, permit::sign_permit, tx,
};
use agora_provider::{
    metadata::{AssetMetadata, ContentRef},
    storage::Storage,
};
use alloy::{
    primitives::{Address, B256, U256, aliases::U80},
    providers::Provider,
};
use clap::{Args, Subcommand, ValueEnum};
use eyre::{Result, bail, eyre};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::json;

use crate::{
    GlobalArgs, chain,
    currency::{Currency, Units},
    output, revert,
    wallet::SignerArgs,
};

/// How long one request to Kubo may take (an upload streams for as long as it needs).
const IPFS_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a permit signed for a purchase stays valid.
const PERMIT_LIFETIME_SECS: u64 = 3600;

/// Asset commands.
#[derive(Debug, Subcommand)]
pub enum AssetCommand {
    /// Publish a file: upload it to IPFS with its sha-256, write the metadata JSON, mint the asset.
    ///
    /// Example: agora asset publish ./finches.csv --kind dataset --price 0.01 --split 0xA11c…:7000 --split 0xB0b…:3000
    Publish(PublishArgs),
    /// Show one asset as the chain records it: owner, listing, split, versions.
    ///
    /// Example: agora asset show 1 --json
    Show(ShowArgs),
    /// List every published asset.
    ///
    /// Example: agora asset list
    List,
    /// Buy access tokens, in ETH or with an ERC-20 (approved by a permit in the same transaction).
    ///
    /// Example: agora asset buy 1 --amount 2 --max-price 0.01
    Buy(BuyArgs),
    /// Give access tokens away (only the asset's owner).
    ///
    /// Example: agora asset grant 1 0xB0b… 5
    Grant(GrantArgs),
    /// Publish a new metadata version (only the asset's owner).
    ///
    /// Example: agora asset update 1 --metadata-cid bafkrei…
    Update(UpdateArgs),
}

/// What an asset is; the discriminants are `IAssetRegistry.AssetKind`'s numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[repr(u8)]
pub enum Kind {
    /// Data to train or evaluate on.
    Dataset = 0,
    /// Trained weights.
    Model = 1,
    /// Code that runs on data.
    Algorithm = 2,
    /// An application.
    App = 3,
    /// A notebook.
    Notebook = 4,
}

fn kind_name(code: u8) -> &'static str {
    match code {
        0 => "dataset",
        1 => "model",
        2 => "algorithm",
        3 => "app",
        4 => "notebook",
        _ => "unknown",
    }
}

/// The Kubo node content goes to.
#[derive(Debug, Clone, Args)]
pub struct IpfsArgs {
    /// Kubo RPC API URL.
    #[arg(long = "ipfs-api", env = "AGORA_IPFS_API", default_value = "http://127.0.0.1:5001")]
    pub api: String,
}

/// Arguments of `asset publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The file to publish.
    pub file: PathBuf,
    /// What the asset is.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// Price of one access token in the currency's units (e.g. 0.01 for 0.01 ETH).
    #[arg(long)]
    pub price: String,
    /// Sale currency: `eth` or an ERC-20's address.
    #[arg(long, default_value = "eth")]
    pub currency: String,
    /// A revenue share as `address:bps` (repeat it; shares sum to 10000). Default: all to you.
    #[arg(long = "split", value_name = "ADDRESS:BPS")]
    pub splits: Vec<String>,
    /// The content never leaves a compute provider: it can only be computed on.
    #[arg(long)]
    pub compute_only: bool,
    /// Access tokens each address may take for free before paying.
    #[arg(long, default_value_t = 0)]
    pub free: u8,
    /// Seconds an access order stays valid (0: single use).
    #[arg(long, default_value_t = 0)]
    pub access_duration: u32,
    /// Name in the metadata [default: the file's name].
    #[arg(long)]
    pub name: Option<String>,
    /// Description in the metadata.
    #[arg(long, default_value = "")]
    pub description: String,
    /// License in the metadata (an SPDX id such as CC-BY-4.0).
    #[arg(long)]
    pub license: Option<String>,
    /// The Kubo node.
    #[command(flatten)]
    pub ipfs: IpfsArgs,
    /// The signer (the asset's owner).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Arguments of `asset show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The asset's id.
    pub id: U256,
}

/// Arguments of `asset buy`.
#[derive(Debug, Args)]
pub struct BuyArgs {
    /// The asset's id.
    pub id: U256,
    /// Access tokens to buy.
    #[arg(long, default_value_t = 1)]
    pub amount: u64,
    /// The most you pay per token, in the currency's units [default: the current price].
    #[arg(long)]
    pub max_price: Option<String>,
    /// The currency you mean to pay with (`eth` or an ERC-20 address) [default: the listing's].
    #[arg(long)]
    pub currency: Option<String>,
    /// The signer (the buyer).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Arguments of `asset grant`.
#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The asset's id.
    pub id: U256,
    /// Who receives the tokens.
    pub to: Address,
    /// How many.
    pub amount: u64,
    /// The signer (the asset's owner).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Arguments of `asset update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The asset's id.
    pub id: U256,
    /// IPFS CID of the new metadata JSON.
    #[arg(long)]
    pub metadata_cid: String,
    /// sha-256 of the new content (hex) [default: unchanged].
    #[arg(long)]
    pub content_digest: Option<B256>,
    /// The signer (the asset's owner).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Runs an asset command.
pub async fn run(global: &GlobalArgs, command: AssetCommand) -> Result<()> {
    match command {
        AssetCommand::Publish(args) => publish(global, args).await,
        AssetCommand::Show(args) => {
            let agora = chain::reader(global).await?;
            let view = load(&agora, args.id).await?;
            if global.json {
                return output::json(&view);
            }
            output::table(&view.rows());
            Ok(())
        }
        AssetCommand::List => {
            let agora = chain::reader(global).await?;
            let total = tx::call("registry.totalAssets()", agora.registry.totalAssets()).await?;
            let mut views = Vec::new();
            let mut id = U256::from(1);
            while id <= total {
                views.push(load(&agora, id).await?);
                id += U256::from(1);
            }
            if global.json {
                return output::json(&views);
            }
            if views.is_empty() {
                println!("no assets published yet (publish one with `agora asset publish`)");
            }
            let rows: Vec<(String, String)> = views
                .iter()
                .map(|v| {
                    let status = if v.delisted { "  (delisted)" } else { "" };
                    (
                        format!("#{}", v.id),
                        format!("{:<9}  {:<14}  {}{status}", v.kind, v.price, v.metadata_cid),
                    )
                })
                .collect();
            output::table(&rows);
            Ok(())
        }
        AssetCommand::Buy(args) => buy(global, args).await,
        AssetCommand::Grant(args) => {
            if args.amount == 0 {
                bail!("the amount must be at least 1");
            }
            let (agora, _) = chain::writer(global, &args.signer).await?;
            let token = agora.access_token(args.id).await.map_err(|e| revert::explain(e, &Units::eth()))?;
            let receipt = tx::send("grant", token.grant(args.to, U256::from(args.amount)))
                .await
                .map_err(|e| revert::explain(e, &Units::eth()))?;
            let report = json!({
                "assetId": args.id.to_string(),
                "to": args.to,
                "amount": args.amount,
                "txHash": receipt.transaction_hash,
            });
            if global.json {
                return output::json(&report);
            }
            println!("granted {} access token(s) of asset {} to {}", args.amount, args.id, args.to);
            Ok(())
        }
        AssetCommand::Update(args) => {
            let (agora, _) = chain::writer(global, &args.signer).await?;
            let digest = match args.content_digest {
                Some(digest) => digest,
                None => asset(&agora, args.id).await?.contentDigest,
            };
            let call = agora.registry.updateMetadata(args.id, args.metadata_cid.clone(), digest);
            tx::send("registry.updateMetadata", call).await.map_err(|e| revert::explain(e, &Units::eth()))?;
            let version = asset(&agora, args.id).await?.version;
            if global.json {
                return output::json(&json!({
                    "assetId": args.id.to_string(),
                    "version": version,
                    "metadataCid": args.metadata_cid,
                    "contentDigest": digest,
                }));
            }
            println!("asset {} is at metadata version {version}: {}", args.id, args.metadata_cid);
            Ok(())
        }
    }
}

/// The asset as the registry stores it, an unknown id as a sentence.
pub(crate) async fn asset(
    agora: &Agora,
    id: U256,
) -> Result<agora_contracts::asset_registry::IAssetRegistry::Asset> {
    tx::call(format!("registry.getAsset({id})"), agora.registry.getAsset(id))
        .await
        .map_err(|e| revert::explain(e, &Units::eth()))
}

async fn publish(global: &GlobalArgs, args: PublishArgs) -> Result<()> {
    let size = match std::fs::metadata(&args.file) {
        Ok(meta) if meta.is_file() => meta.len(),
        Ok(_) => bail!("{} is not a file", args.file.display()),
        Err(err) => bail!("cannot read {}: {err}", args.file.display()),
    };
    let file_name = args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let currency = Currency::parse(&args.currency)?;
    let (recipients, bps) = parse_splits(&args.splits)?.into_iter().unzip();
    let storage = Storage::new(&args.ipfs.api, IPFS_TIMEOUT)?;
    let (agora, signer) = chain::writer(global, &args.signer).await?;
    let units = currency.units(agora.provider()).await?;
    let price = units.parse(&args.price)?;
    let price = u128::try_from(price)
        .ok()
        .and_then(|price| U80::try_from(price).ok())
        .ok_or_else(|| eyre!("price {} is above the largest the registry stores", args.price))?;
    storage.version().await?;

    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!("uploading {file_name}"));
    let progress = bar.clone();
    let added = storage.add_file(&args.file, Some(Arc::new(move |done| progress.set_position(done)))).await;
    bar.finish_and_clear();
    let added = added?;

    let kind = args.kind as u8;
    let metadata = AssetMetadata {
        name: args.name.unwrap_or_else(|| file_name.clone()),
        description: args.description,
        content: ContentRef {
            cid: added.cid.clone(),
            size: added.size,
            file_name: Some(file_name.clone()),
            encryption: None,
        },
        extra: serde_json::Map::from_iter(
            [
                ("kind", Some(json!(kind_name(kind)))),
                ("license", args.license.map(|license| json!(license))),
                ("computeOnly", Some(json!(args.compute_only))),
                (
                    "files",
                    Some(json!([{
                        "name": file_name, "cid": added.cid, "size": added.size, "sha256": added.sha256,
                    }])),
                ),
            ]
            .into_iter()
            .filter_map(|(key, value)| Some((key.to_owned(), value?))),
        ),
    };
    let metadata_cid = storage.add_bytes(serde_json::to_vec_pretty(&metadata)?).await?.cid;

    let published = agora
        .publish(PublishParams {
            owner: signer.address,
            kind,
            computeOnly: args.compute_only,
            accessDuration: args.access_duration,
            contentDigest: added.sha256,
            metadataCid: metadata_cid.clone(),
            currency: currency.address(),
            price,
            freePerAddress: args.free,
            splitRecipients: recipients,
            splitBps: bps,
        })
        .await
        .map_err(|e| revert::explain(e, &units))?;
    let did = tx::call("registry.did", agora.registry.did(published.asset_id)).await?;
    let report = json!({
        "assetId": published.asset_id.to_string(),
        "accessToken": published.access_token,
        "did": did,
        "contentCid": added.cid,
        "contentDigest": added.sha256,
        "size": added.size,
        "metadataCid": metadata_cid,
        "txHash": published.tx_hash,
    });
    if global.json {
        return output::json(&report);
    }
    println!("published asset {}", published.asset_id);
    output::table(&[
        ("asset id".into(), published.asset_id.to_string()),
        ("access token".into(), published.access_token.to_string()),
        ("DID".into(), did),
        ("content".into(), format!("{} ({} bytes, sha-256 {})", added.cid, added.size, added.sha256)),
        ("metadata".into(), metadata_cid),
        ("price".into(), units.format(U256::from(price))),
    ]);
    Ok(())
}

/// `address:bps` shares, sorted by address as the splitter requires; they must sum to 10000.
pub fn parse_splits(specs: &[String]) -> Result<Vec<(Address, u16)>> {
    let mut shares = Vec::with_capacity(specs.len());
    for spec in specs {
        let malformed = || eyre!("malformed --split {spec:?}: expected ADDRESS:BPS, e.g. 0xA11c…:7000");
        let (address, bps) = spec.split_once(':').ok_or_else(malformed)?;
        let address: Address = address.trim().parse().map_err(|_| malformed())?;
        let bps: u16 = bps.trim().parse().map_err(|_| malformed())?;
        if bps == 0 || address.is_zero() {
            bail!("--split {spec:?}: the address must not be zero and the share at least 1 bps");
        }
        shares.push((address, bps));
    }
    shares.sort();
    if let Some(pair) = shares.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        bail!("--split names {} twice", pair[0].0);
    }
    let sum: u32 = shares.iter().map(|(_, bps)| u32::from(*bps)).sum();
    if !shares.is_empty() && sum != 10_000 {
        bail!("--split shares sum to {sum} bps; they must sum to 10000");
    }
    Ok(shares)
}

async fn buy(global: &GlobalArgs, args: BuyArgs) -> Result<()> {
    if args.amount == 0 {
        bail!("the amount must be at least 1");
    }
    let (agora, signer) = chain::writer(global, &args.signer).await?;
    let listing = tx::call("marketplace.getListing", agora.marketplace.getListing(args.id)).await?;
    let currency = match &args.currency {
        Some(text) => Currency::parse(text)?,
        None => Currency::from_address(listing.currency),
    };
    let units = currency.units(agora.provider()).await?;
    let explain = |e| revert::explain(e, &units);
    let max_price = match &args.max_price {
        Some(text) => units.parse(text)?,
        None => U256::from(listing.price),
    };
    let amount = U256::from(args.amount);
    let quote =
        tx::call("marketplace.quote", agora.marketplace.quote(args.id, signer.address, amount)).await?;
    let cost = quote.cost;

    let receipt = match currency {
        Currency::Eth => {
            let balance = agora.provider().get_balance(signer.address).await?;
            if balance < cost {
                bail!(
                    "insufficient funds: {} has {}, buying {} access token(s) costs {}",
                    signer.address,
                    units.format(balance),
                    args.amount,
                    units.format(cost)
                );
            }
            let call = agora.marketplace.buy(args.id, amount, currency.address(), max_price).value(cost);
            tx::send("marketplace.buy", call).await.map_err(explain)?
        }
        Currency::Token(token) => {
            let marketplace = *agora.marketplace.address();
            match &signer.key {
                Some(key) => {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or_default();
                    let deadline = U256::from(now + PERMIT_LIFETIME_SECS);
                    let permit =
                        sign_permit(key, agora.provider(), token, marketplace, cost, deadline).await?;
                    let call = agora.marketplace.buyWithPermit(args.id, amount, token, max_price, permit);
                    tx::send("marketplace.buyWithPermit", call).await.map_err(explain)?
                }
                // A hardware wallet approves in its own transaction instead of signing a permit.
                None => {
                    let erc20 = agora_contracts::erc::IERC20::new(token, agora.provider().clone());
                    tx::send("approve", erc20.approve(marketplace, cost)).await.map_err(explain)?;
                    let call = agora.marketplace.buy(args.id, amount, token, max_price);
                    tx::send("marketplace.buy", call).await.map_err(explain)?
                }
            }
        }
    };
    let purchase = receipt
        .decoded_log::<Marketplace::Purchased>()
        .ok_or_else(|| eyre!("marketplace.buy: the receipt has no Purchased event"))?
        .data;
    let report = Purchase {
        asset_id: args.id.to_string(),
        buyer: signer.address,
        currency: currency.address(),
        amount: purchase.amount.to_string(),
        free_amount: purchase.freeAmount.to_string(),
        paid: purchase.paid.to_string(),
        fee: purchase.fee.to_string(),
        tx_hash: receipt.transaction_hash,
    };
    if global.json {
        return output::json(&report);
    }
    println!(
        "bought {} access token(s) of asset {} for {} ({} free, fee {})",
        purchase.amount,
        args.id,
        units.format(purchase.paid),
        purchase.freeAmount,
        units.format(purchase.fee)
    );
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Purchase {
    asset_id: String,
    buyer: Address,
    currency: Address,
    amount: String,
    free_amount: String,
    paid: String,
    fee: String,
    tx_hash: B256,
}

/// One asset as `show` and `list` print it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AssetView {
    id: String,
    did: String,
    kind: &'static str,
    owner: Address,
    access_token: Address,
    compute_only: bool,
    access_duration: u32,
    version: u32,
    content_digest: B256,
    metadata_cid: String,
    currency: Address,
    /// Base units.
    price_base_units: String,
    /// In the currency's units, e.g. `0.01 ETH`.
    price: String,
    free_per_address: u8,
    delisted: bool,
    split: Vec<Share>,
}

#[derive(Debug, Serialize)]
struct Share {
    recipient: Address,
    bps: u16,
}

impl AssetView {
    fn rows(&self) -> Vec<(String, String)> {
        let mut rows = vec![
            ("asset".into(), self.id.clone()),
            ("DID".into(), self.did.clone()),
            ("kind".into(), self.kind.into()),
            ("owner".into(), self.owner.to_string()),
            ("access token".into(), self.access_token.to_string()),
            ("price".into(), self.price.clone()),
            ("free per address".into(), self.free_per_address.to_string()),
            (
                "access".into(),
                match self.access_duration {
                    0 => "single use".into(),
                    secs => format!("{secs} s per order"),
                },
            ),
            ("compute only".into(), self.compute_only.to_string()),
            ("listed".into(), (!self.delisted).to_string()),
            ("metadata".into(), format!("{} (version {})", self.metadata_cid, self.version)),
            ("content sha-256".into(), self.content_digest.to_string()),
        ];
        for share in &self.split {
            rows.push(("split".into(), format!("{} {:.2}%", share.recipient, f64::from(share.bps) / 100.0)));
        }
        rows
    }
}

async fn load(agora: &Agora, id: U256) -> Result<AssetView> {
    let stored = asset(agora, id).await?;
    let owner = tx::call("registry.ownerOf", agora.registry.ownerOf(id)).await?;
    let did = tx::call("registry.did", agora.registry.did(id)).await?;
    let listing = tx::call("marketplace.getListing", agora.marketplace.getListing(id)).await?;
    let split = tx::call("splitter.getSplit", agora.splitter.getSplit(id)).await?;
    let token = agora.access_token_at(stored.accessToken);
    let access_duration = tx::call("accessToken.accessDuration", token.accessDuration()).await?;
    let units = Currency::from_address(listing.currency).units(agora.provider()).await?;
    let price = U256::from(listing.price);
    Ok(AssetView {
        id: id.to_string(),
        did,
        kind: kind_name(stored.kind),
        owner,
        access_token: stored.accessToken,
        compute_only: stored.computeOnly,
        access_duration,
        version: stored.version,
        content_digest: stored.contentDigest,
        metadata_cid: stored.metadataCid,
        currency: listing.currency,
        price_base_units: price.to_string(),
        price: units.format(price),
        free_per_address: listing.freePerAddress,
        delisted: listing.delisted,
        split: split.into_iter().map(|s| Share { recipient: s.recipient, bps: s.bps }).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_are_sorted_checked_and_refused_when_malformed() {
        let a = "0x00000000000000000000000000000000000000aa";
        let b = "0x00000000000000000000000000000000000000bb";
        let shares = parse_splits(&[format!("{b}:3000"), format!("{a}:7000")]).unwrap();
        assert_eq!(shares, [(a.parse().unwrap(), 7000), (b.parse().unwrap(), 3000)]);
        assert!(parse_splits(&[]).unwrap().is_empty());
        for bad in [format!("{a}=7000"), "nobody:10000".into(), format!("{a}:lots")] {
            assert!(parse_splits(&[bad]).unwrap_err().to_string().starts_with("malformed --split"));
        }
        let err = parse_splits(&[format!("{a}:7000"), format!("{b}:2000")]).unwrap_err();
        assert!(err.to_string().contains("sum to 9000 bps"));
        assert!(parse_splits(&[format!("{a}:5000"), format!("{a}:5000")]).is_err());
    }
}
