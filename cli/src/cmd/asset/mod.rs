//! `agora asset`: publish a file or a model folder (content and metadata to IPFS, the asset on
//! chain), read assets, buy and grant access tokens, publish new metadata versions, manage who
//! holds an encrypted asset's key, and download through a provider.
//!
//! - [`publish`]: priced and compute-only content is encrypted before anything is uploaded,
//!   with its key wrapped for the owner and the providers trusted with it; a folder becomes a
//!   model whose manifest of files (each sealed on its own) is the asset's content.
//! - [`derived`]: `publish --from-job`, a compute job's output checked against the chain and
//!   published with its lineage (`derivedFrom`), optionally sharing sales with its inputs.
//! - [`keys`]: who holds a content key — chosen at publish, extended by `share`, replaced by
//!   `rekey`.
//! - [`download`]: spend an access token, sign the EIP-712 request, stream to a `.part` file
//!   that a rerun resumes with a `Range`, and keep the file only when its sha-256 is the one
//!   recorded on chain.

mod derived;
mod download;
mod keys;
mod policy;
mod publish;

use std::time::Duration;

use agora_client::market::{self, Purchased};
pub(crate) use agora_client::metadata;
use agora_contracts::{Agora, tx};
use agora_provider::{metadata::AssetMetadata, storage::Storage};
use alloy::primitives::{Address, B256, U256};
use clap::{Args, Subcommand, ValueEnum};
use eyre::{Result, bail, eyre};
use serde::Serialize;
use serde_json::json;

pub use self::{
    download::DownloadArgs,
    keys::{RekeyArgs, ShareArgs},
    policy::AlgorithmsArgs,
    publish::PublishArgs,
};
use crate::{
    GlobalArgs, chain,
    currency::{Currency, Units},
    output, revert,
    wallet::SignerArgs,
};

/// How long one request to Kubo may take (an upload streams for as long as it needs).
const IPFS_TIMEOUT: Duration = Duration::from_secs(60);

/// How long reading one metadata document for `list` and `show` may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Asset commands.
#[derive(Debug, Subcommand)]
pub enum AssetCommand {
    /// Publish a file: upload it to IPFS with its sha-256, write the metadata JSON, mint the asset.
    /// A folder is published as a model: each of its files is uploaded, and the manifest that
    /// lists their CIDs and sha-256s is the asset's content (what compute providers fetch).
    /// An algorithm is a WASI preview 1 module, checked to run in the sandbox before anything
    /// is sent.
    ///
    /// Example: agora asset publish ./finches.csv --kind dataset --price 0.01 --split 0xA11c…:7000 --split 0xB0b…:3000
    ///
    /// Example: agora asset publish ./all-MiniLM-L6-v2 --kind model --price 0.05 --license Apache-2.0
    ///
    /// Example: agora asset publish ./wordcount.wasm --kind algorithm --price 0.01
    ///
    /// A compute job's output is published with --from-job: checked against the output hash the
    /// job posted on chain before anything is sent, its lineage recorded in the metadata.
    ///
    /// Example: agora asset publish --from-job 3 --output-file embeddings.safetensors --kind dataset --price 0.02 --upstream-share 10%
    Publish(Box<PublishArgs>),
    /// Show one asset as the chain records it: owner, listing, split, versions; and, for an
    /// asset published from a compute job, the job and the input assets it derives from.
    ///
    /// Example: agora asset show 1 --json
    Show(ShowArgs),
    /// List every published asset: name, kind, price, whether it is encrypted, owner.
    ///
    /// Example: agora asset list
    List(ListArgs),
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
    /// Download an asset through a provider: spends one access token (or reuses --order),
    /// resumes an interrupted download, and keeps the file only if its sha-256 matches the chain.
    ///
    /// Example: agora asset download 1 --provider http://127.0.0.1:8090 -o finches.csv
    Download(DownloadArgs),
    /// Give one more provider the key of an encrypted asset you own: your copy of the key is
    /// wrapped for it and a new metadata version is published (no content is re-uploaded).
    ///
    /// Example: agora asset share 1 --provider https://provider.example
    Share(ShareArgs),
    /// Re-encrypt an asset you own under a fresh key, held by you and the providers that keep
    /// it, and publish the new ciphertext as a new metadata version. A dropped provider keeps
    /// whatever it already decrypted, and the old ciphertext still opens with the old key.
    ///
    /// Example: agora asset rekey 1 --drop-provider 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    Rekey(RekeyArgs),
    /// Show or set which algorithms and models may run on a dataset you own: any (the default)
    /// or, with --restrict, only those you --allow. Providers refuse a job outside the policy.
    ///
    /// Example: agora asset algorithms 1 --restrict --allow 3 --allow 4
    Algorithms(AlgorithmsArgs),
    /// Show which known nodes keep the asset: for its metadata and its content, whether your
    /// Kubo and each active provider registered on the ComputeMarket pin it, and where the
    /// network's pinning services (its [pinning] table) stand. Providers pin what they serve,
    /// so an asset stays available when the node it was published from is gone.
    ///
    /// Example: agora asset pins 1 --json
    Pins(ShowArgs),
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

pub(crate) use agora_contracts::words::asset_kind_name as kind_name;

/// The Kubo node content goes to.
#[derive(Debug, Clone, Args)]
pub struct IpfsArgs {
    /// Kubo RPC API URL.
    #[arg(long = "ipfs-api", env = "AGORA_IPFS_API", default_value = "http://127.0.0.1:5001")]
    pub api: String,
}

/// Arguments of `asset list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The Kubo node the names come from (each asset's metadata document).
    #[command(flatten)]
    pub ipfs: IpfsArgs,
}

/// Arguments of `asset show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The asset's id.
    pub id: U256,
    /// The Kubo node its metadata document comes from.
    #[command(flatten)]
    pub ipfs: IpfsArgs,
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
    /// Publish the version even if its metadata does not resolve on IPFS or is not an asset
    /// metadata document (indexers and providers will then show the asset without metadata).
    #[arg(long)]
    pub force: bool,
    /// The Kubo node the new metadata is checked on.
    #[command(flatten)]
    pub ipfs: IpfsArgs,
    /// The signer (the asset's owner).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Before asset `id`'s new metadata version goes on chain: the network's pinning services (its
/// `[pinning]` table) keep the document and its content, as publishing has them keep the first.
pub(super) async fn keep_version(
    global: &GlobalArgs,
    storage: &Storage,
    id: U256,
    metadata_cid: &str,
    content_cid: Option<&str>,
) -> Result<()> {
    let Some(replication) = global.replication()? else { return Ok(()) };
    let label = |what: &str| format!("asset {id} ({what})");
    let mut cids = vec![(metadata_cid.to_owned(), label("metadata"))];
    cids.extend(content_cid.map(|cid| (cid.to_owned(), label("content"))));
    agora_client::pins::replicate(storage, &replication, &cids, &|_| {})
        .await
        .map_err(|err| eyre!("{err}; asset {id} was not updated (its version on chain is unchanged)"))?;
    Ok(())
}

/// One line per known node, one column per CID, and how many nodes pin each.
fn print_placement(placement: &agora_client::pins::Placement) {
    use agora_client::pins::Held;
    for (index, (what, cid)) in ["metadata", "content"].iter().zip(&placement.cids).enumerate() {
        println!(
            "{what:<8}  {cid}  pinned by {} of {} nodes",
            placement.replicas(index),
            placement.nodes.len()
        );
    }
    let rows: Vec<(String, String)> = placement
        .nodes
        .iter()
        .map(|node| {
            let name = match (node.address, &node.service) {
                (Some(address), _) => format!("provider {}", short(address)),
                (None, Some(service)) => format!("service {service}"),
                (None, None) => "your Kubo".to_owned(),
            };
            let held: Vec<String> = node
                .held
                .iter()
                .map(|held| match held {
                    Held::Pinned => "pinned".to_owned(),
                    Held::NotPinned => "not pinned".to_owned(),
                    Held::Pending(status) => status.clone(),
                    Held::Failed => "failed".to_owned(),
                    Held::Unreachable(why) => format!("unreachable ({why})"),
                })
                .collect();
            (name, format!("{}  {}", node.url, held.join(", ")))
        })
        .collect();
    output::table(&rows);
}

/// Runs an asset command.
pub async fn run(global: &GlobalArgs, command: AssetCommand) -> Result<()> {
    match command {
        AssetCommand::Show(args) => {
            let agora = chain::reader(global).await?;
            let storage = Storage::new(&args.ipfs.api, METADATA_TIMEOUT)?;
            let view = load(&agora, &storage, args.id).await?;
            if global.json {
                return output::json(&view);
            }
            output::table(&view.rows());
            Ok(())
        }
        AssetCommand::List(args) => {
            let agora = chain::reader(global).await?;
            let storage = Storage::new(&args.ipfs.api, METADATA_TIMEOUT)?;
            let total = tx::call("registry.totalAssets()", agora.registry.totalAssets()).await?;
            let mut views = Vec::new();
            let mut id = U256::from(1);
            while id <= total {
                views.push(load(&agora, &storage, id).await?);
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
                    let sealed = match v.encrypted {
                        Some(true) => "encrypted",
                        Some(false) => "public",
                        None => "?",
                    };
                    let name = v.name.as_deref().unwrap_or("(metadata unavailable)");
                    (
                        format!("#{}", v.id),
                        format!(
                            "{:<9}  {:<14}  {sealed:<9}  owner {}  {name}{status}",
                            v.kind,
                            v.price,
                            short(v.owner)
                        ),
                    )
                })
                .collect();
            output::table(&rows);
            Ok(())
        }
        AssetCommand::Pins(args) => {
            let agora = chain::reader(global).await?;
            let storage = Storage::new(&args.ipfs.api, METADATA_TIMEOUT)?;
            let (network, _) = global.network()?;
            // The services are asked through your Kubo by name; their keys are not needed.
            let services: Vec<String> = network
                .pinning
                .map(|pinning| pinning.services.into_iter().map(|service| service.name).collect())
                .unwrap_or_default();
            let placement = agora_client::pins::locate(&agora, &storage, args.id, &services).await?;
            if global.json {
                return output::json(&placement);
            }
            print_placement(&placement);
            Ok(())
        }
        AssetCommand::Buy(args) => buy(global, args).await,
        AssetCommand::Download(args) => download::download(global, args).await,
        AssetCommand::Share(args) => keys::share(global, args).await,
        AssetCommand::Rekey(args) => keys::rekey(global, args).await,
        AssetCommand::Algorithms(args) => policy::algorithms(global, args).await,
        AssetCommand::Publish(args) => publish::publish(global, *args).await,
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
            let storage = Storage::new(&args.ipfs.api, METADATA_TIMEOUT)?;
            let document = match args.force {
                true => metadata(&storage, &args.metadata_cid).await.ok(),
                false => Some(metadata(&storage, &args.metadata_cid).await.map_err(|err| {
                    eyre!("{err:#}; nothing was sent (pass --force to publish this version anyway)")
                })?),
            };
            let content = document.as_ref().map(|document| document.content.cid.as_str());
            keep_version(global, &storage, args.id, &args.metadata_cid, content).await?;
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
    let max_price = match &args.max_price {
        Some(text) => units.parse(text)?,
        None => U256::from(listing.price),
    };
    let amount = U256::from(args.amount);
    let purchase = market::Purchase {
        asset: args.id,
        amount,
        currency: currency.address(),
        max_price,
        buyer: signer.address,
        key: signer.key.as_ref(),
    };
    let Purchased { event: purchase, tx_hash } = market::buy(&agora, &purchase, &units).await?;
    let report = Purchase {
        asset_id: args.id.to_string(),
        buyer: signer.address,
        currency: currency.address(),
        amount: purchase.amount.to_string(),
        free_amount: purchase.freeAmount.to_string(),
        paid: purchase.paid.to_string(),
        fee: purchase.fee.to_string(),
        tx_hash,
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
    /// From the metadata document (`None` when it could not be read).
    name: Option<String>,
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
    /// Whether the content on IPFS is ciphertext (`None` when the metadata could not be read).
    encrypted: Option<bool>,
    /// Who holds the content key of an encrypted asset.
    key_holders: Vec<Address>,
    /// Why the metadata document could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata_error: Option<String>,
    /// The input assets of the job this asset was published from (its metadata's
    /// `derivedFrom`; empty for an asset that is not derived from a job).
    upstream: Vec<Upstream>,
    /// The chain of that job, when it is not this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_chain_id: Option<u64>,
    /// The part of every sale, in bps, its publisher gave the inputs' contributors.
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_share_bps: Option<u16>,
    /// Why the metadata's `derivedFrom` could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    derived_from_error: Option<String>,
}

/// One input asset of the job an asset was published from.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Upstream {
    asset_id: String,
    /// `dataset` or `algorithm`.
    role: String,
    job_id: String,
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
            ("name".into(), self.name.clone().unwrap_or_else(|| "(metadata unavailable)".into())),
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
        rows.push((
            "content".into(),
            match (self.encrypted, &self.metadata_error) {
                (Some(true), _) => "encrypted: IPFS holds ciphertext only".into(),
                (Some(false), _) => "public: anyone can read it from IPFS".into(),
                (None, Some(err)) => format!("unknown ({err})"),
                (None, None) => "unknown".into(),
            },
        ));
        for holder in &self.key_holders {
            rows.push(("key holder".into(), holder.to_string()));
        }
        for share in &self.split {
            rows.push(("split".into(), format!("{} {:.2}%", share.recipient, f64::from(share.bps) / 100.0)));
        }
        let chain = self.upstream_chain_id.map(|id| format!(" on chain {id}")).unwrap_or_default();
        for input in &self.upstream {
            rows.push((
                "upstream".into(),
                format!("asset {} ({} of job {}{chain})", input.asset_id, input.role, input.job_id),
            ));
        }
        if let Some(bps) = self.upstream_share_bps {
            rows.push((
                "upstream share".into(),
                format!(
                    "{:.2}% of every sale, split as the inputs' splits were at publish",
                    f64::from(bps) / 100.0
                ),
            ));
        }
        if let Some(err) = &self.derived_from_error {
            rows.push((
                "upstream".into(),
                format!("unknown: the metadata's derivedFrom is unreadable ({err})"),
            ));
        }
        rows
    }
}

/// The first and last hex digits of an address, for tables.
fn short(address: Address) -> String {
    let text = address.to_string();
    format!("{}…{}", &text[..6], &text[text.len() - 4..])
}

async fn load(agora: &Agora, storage: &Storage, id: U256) -> Result<AssetView> {
    let stored = asset(agora, id).await?;
    let owner = tx::call("registry.ownerOf", agora.registry.ownerOf(id)).await?;
    let did = tx::call("registry.did", agora.registry.did(id)).await?;
    let listing = tx::call("marketplace.getListing", agora.marketplace.getListing(id)).await?;
    let split = tx::call("splitter.getSplit", agora.splitter.getSplit(id)).await?;
    let token = agora.access_token_at(stored.accessToken);
    let access_duration = tx::call("accessToken.accessDuration", token.accessDuration()).await?;
    let units = Currency::from_address(listing.currency).units(agora.provider()).await?;
    let price = U256::from(listing.price);
    let described = metadata(storage, &stored.metadataCid).await.map_err(|err| format!("{err:#}"));
    let encryption = described.as_ref().ok().and_then(|m| m.content.encryption.as_ref());
    let lineage = described.as_ref().ok().and_then(AssetMetadata::derived_from);
    let derived_from = lineage.as_ref().and_then(|l| l.as_ref().ok());
    let upstream = derived_from
        .map(|from| {
            from.inputs
                .iter()
                .map(|input| Upstream {
                    asset_id: input.asset_id.clone(),
                    role: input.role.clone(),
                    job_id: from.job_id.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(AssetView {
        upstream,
        upstream_chain_id: derived_from.map(|f| f.chain_id).filter(|id| *id != agora.deployment.chain_id),
        upstream_share_bps: derived_from.and_then(|f| f.upstream_share_bps),
        derived_from_error: lineage.and_then(|l| l.err()).map(|err| err.to_string()),
        id: id.to_string(),
        did,
        name: described.as_ref().ok().map(|m| m.name.clone()),
        encrypted: described.as_ref().ok().map(|m| m.content.encryption.is_some()),
        key_holders: encryption.map(|e| e.holders()).unwrap_or_default(),
        metadata_error: described.as_ref().err().cloned(),
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
