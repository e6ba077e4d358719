//! `agora asset`: publish a file (content and metadata to IPFS, the asset on chain; a private
//! one encrypted first, its key wrapped for each trusted provider) or a model folder (each file
//! to IPFS, then the manifest of their CIDs and sha-256s as the content), read assets, buy and grant
//! access tokens, publish new metadata versions, and download through a provider: spend an
//! access token, sign the EIP-712 request, stream to a `.part` file that a rerun resumes with
//! a `Range`, and keep the file only when its sha-256 is the one recorded on chain.

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use agora_contracts::{
    AccessToken, Agora, asset_registry::IAssetRegistry::PublishParams, marketplace::Marketplace,
    permit::sign_permit, tx,
};
use agora_provider::{
    access::{self, DownloadRequest, SignedRequest},
    crypto::{ContentKey, Encryption, SCHEME},
    jobs::{MAX_DOCUMENT_BYTES, ModelFile, ModelManifest, is_plain_file_name},
    metadata::{AssetMetadata, ContentRef},
    storage::{Added, HashingReader, Progress, Storage},
};
use alloy::{
    primitives::{Address, B256, U256, aliases::U80},
    providers::Provider,
    transports::http::reqwest,
};
use clap::{Args, Subcommand, ValueEnum};
use eyre::{Result, WrapErr, bail, eyre};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

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

/// How long a signed download request stays valid (the provider allows up to a day).
const REQUEST_LIFETIME_SECS: u64 = 600;

/// How long to wait to connect to a provider, and for each read of a download.
const PROVIDER_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const PROVIDER_READ_TIMEOUT: Duration = Duration::from_secs(120);

/// A resumed single-use download may find its previous connection still open on the provider
/// (409, in progress) until the provider notices it closed: retry this often, this far apart.
const IN_PROGRESS_RETRIES: u32 = 60;
const IN_PROGRESS_WAIT: Duration = Duration::from_millis(500);

/// Asset commands.
#[derive(Debug, Subcommand)]
pub enum AssetCommand {
    /// Publish a file: upload it to IPFS with its sha-256, write the metadata JSON, mint the asset.
    /// A folder is published as a model: each of its files is uploaded, and the manifest that
    /// lists their CIDs and sha-256s is the asset's content (what compute providers fetch).
    ///
    /// Example: agora asset publish ./finches.csv --kind dataset --price 0.01 --split 0xA11c…:7000 --split 0xB0b…:3000
    ///
    /// Example: agora asset publish ./all-MiniLM-L6-v2 --kind model --price 0.05 --license Apache-2.0
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
    /// Download an asset through a provider: spends one access token (or reuses --order),
    /// resumes an interrupted download, and keeps the file only if its sha-256 matches the chain.
    ///
    /// Example: agora asset download 1 --provider http://127.0.0.1:8090 -o finches.csv
    Download(DownloadArgs),
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
    /// The file to publish, or a model's folder (its regular files only: no subfolders or links).
    #[arg(value_name = "PATH")]
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
    /// Name in the metadata [default: the file's or folder's name].
    #[arg(long)]
    pub name: Option<String>,
    /// Description in the metadata.
    #[arg(long, default_value = "")]
    pub description: String,
    /// License in the metadata (an SPDX id such as CC-BY-4.0).
    #[arg(long)]
    pub license: Option<String>,
    /// Encrypt the content before it reaches IPFS; only the --provider(s) can decrypt and serve it.
    #[arg(long, requires = "providers")]
    pub private: bool,
    /// URL of a provider trusted with a private asset's key (repeat it for several).
    #[arg(long = "provider", value_name = "URL", requires = "private")]
    pub providers: Vec<String>,
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

/// Arguments of `asset download`.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The asset's id.
    pub id: U256,
    /// The provider's URL.
    #[arg(long, value_name = "URL", env = "AGORA_PROVIDER_URL")]
    pub provider: String,
    /// Where to write the content [default: asset-<id> in the current folder].
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Use this access order (already consumed for the provider) instead of spending a token.
    #[arg(long, value_name = "ORDER_ID")]
    pub order: Option<U256>,
    /// The signer (the consumer; it signs the download request).
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
        AssetCommand::Download(args) => download(global, args).await,
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
    let source = Source::read(&args.file)?;
    if let Source::Folder { .. } = &source {
        if args.kind != Kind::Model {
            bail!(
                "{} is a folder: a folder is published as a model (a manifest of its files), so use --kind model",
                args.file.display()
            );
        }
        // The provider refuses encrypted models: a private folder could never be computed on.
        if args.private {
            bail!("a model folder cannot be --private: providers only run public models");
        }
    }
    if args.private && args.compute_only {
        bail!("a private asset cannot be compute-only: compute jobs take public inputs only");
    }
    let currency = Currency::parse(&args.currency)?;
    let (recipients, bps) = parse_splits(&args.splits)?.into_iter().unzip();
    let storage = Storage::new(&args.ipfs.api, IPFS_TIMEOUT)?;
    let (agora, signer) = chain::writer(global, &args.signer).await?;
    // The key is wrapped for every trusted provider before anything is uploaded, so that a
    // provider that is down or on another chain costs nothing.
    let sealing = if args.private {
        Some(seal_for(&args.providers, agora.deployment.chain_id, source.size()).await?)
    } else {
        None
    };
    let units = currency.units(agora.provider()).await?;
    let price = units.parse(&args.price)?;
    let price = u128::try_from(price)
        .ok()
        .and_then(|price| U80::try_from(price).ok())
        .ok_or_else(|| eyre!("price {} is above the largest the registry stores", args.price))?;
    storage.version().await?;

    let bar = ProgressBar::new(source.size()).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let uploaded = match &source {
        Source::File { name, .. } => {
            bar.set_message(format!("uploading {name}"));
            let progress = bar.clone();
            let progress: Progress = Arc::new(move |done| progress.set_position(done));
            let added = match &sealing {
                None => storage.add_file(&args.file, Some(progress)).await.map_err(Into::into),
                Some((key, encryption)) => {
                    add_encrypted(&storage, &args.file, key, encryption, progress).await
                }
            };
            added.map(|added| {
                let file = ModelFile { name: name.clone(), cid: added.cid.clone(), sha256: added.sha256 };
                let size = added.size;
                (added, vec![(file, size)])
            })
        }
        Source::Folder { files, .. } => add_folder(&storage, files, &bar).await,
    };
    bar.finish_and_clear();
    let (added, listed) = uploaded?;
    let encryption = sealing.map(|(_, encryption)| encryption);
    let key_holders: Vec<Address> =
        encryption.iter().flat_map(|e| e.wrapped_keys.iter().map(|w| w.provider)).collect();
    let files: Vec<Value> = listed
        .iter()
        .map(
            |(file, size)| json!({ "name": file.name, "cid": file.cid, "size": size, "sha256": file.sha256 }),
        )
        .collect();

    let kind = args.kind as u8;
    let metadata = AssetMetadata {
        name: args.name.unwrap_or_else(|| source.name().to_owned()),
        description: args.description,
        content: ContentRef {
            cid: added.cid.clone(),
            size: added.size,
            file_name: Some(source.content_file_name().to_owned()),
            encryption,
        },
        extra: serde_json::Map::from_iter(
            [
                ("kind", Some(json!(kind_name(kind)))),
                ("license", args.license.map(|license| json!(license))),
                ("computeOnly", Some(json!(args.compute_only))),
                ("files", Some(json!(files))),
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
        "private": args.private,
        "keyHolders": key_holders,
        "files": files,
        "txHash": published.tx_hash,
    });
    if global.json {
        return output::json(&report);
    }
    println!("published asset {}", published.asset_id);
    let content = match &source {
        Source::File { .. } => format!("{} ({} bytes, sha-256 {})", added.cid, added.size, added.sha256),
        Source::Folder { files, .. } => format!(
            "{} (manifest of {} files, {} bytes in all; its sha-256 {})",
            added.cid,
            files.len(),
            source.size(),
            added.sha256
        ),
    };
    let mut rows = vec![
        ("asset id".into(), published.asset_id.to_string()),
        ("access token".into(), published.access_token.to_string()),
        ("DID".into(), did),
        ("content".into(), content),
    ];
    if let Source::Folder { .. } = &source {
        rows.extend(listed.iter().map(|(file, size)| {
            ("  file".into(), format!("{} {} ({size} bytes, sha-256 {})", file.name, file.cid, file.sha256))
        }));
    }
    rows.extend([("metadata".into(), metadata_cid), ("price".into(), units.format(U256::from(price)))]);
    output::table(&rows);
    for holder in key_holders {
        println!("encrypted; the key is wrapped for provider {holder}");
    }
    Ok(())
}

/// What `asset publish` uploads: one file as it is, or a model folder whose files are listed,
/// each with its CID and sha-256, in a [`ModelManifest`] that becomes the asset's content.
#[derive(Debug)]
enum Source {
    /// A single file.
    File {
        /// Its file name.
        name: String,
        /// Its length.
        size: u64,
    },
    /// A folder's regular files, sorted by name.
    Folder {
        /// The folder's name.
        name: String,
        /// Its files.
        files: Vec<FolderFile>,
    },
}

/// One regular file of a model folder.
#[derive(Debug, PartialEq, Eq)]
struct FolderFile {
    /// Its plain file name, as the manifest lists it.
    name: String,
    path: PathBuf,
    size: u64,
}

/// The file name a folder's manifest is downloaded as.
const MANIFEST_FILE_NAME: &str = "manifest.json";

/// An upper bound on the length of the CIDs Kubo returns (CIDv1, base32, sha-256: 59 characters).
const CID_LENGTH_BOUND: usize = 64;

impl Source {
    /// Reads what is at `path`; a folder must hold only regular files with plain names, which
    /// is what a flat manifest can describe and what a provider will fetch into a model folder.
    fn read(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|err| eyre!("cannot read {}: {err}", path.display()))?;
        // `.` and `..` have no file name of their own: take the folder's.
        let name = path
            .file_name()
            .map(ToOwned::to_owned)
            .or_else(|| std::fs::canonicalize(path).ok()?.file_name().map(ToOwned::to_owned))
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        if meta.is_file() {
            return Ok(Self::File { name, size: meta.len() });
        }
        if !meta.is_dir() {
            bail!("{} is neither a file nor a folder", path.display());
        }
        Ok(Self::Folder { name, files: model_folder(path)? })
    }

    /// Bytes uploaded (a folder's: its files', without the manifest).
    fn size(&self) -> u64 {
        match self {
            Self::File { size, .. } => *size,
            Self::Folder { files, .. } => files.iter().map(|f| f.size).sum(),
        }
    }

    /// The default asset name.
    fn name(&self) -> &str {
        match self {
            Self::File { name, .. } | Self::Folder { name, .. } => name,
        }
    }

    /// The content's file name in the metadata.
    fn content_file_name(&self) -> &str {
        match self {
            Self::File { name, .. } => name,
            Self::Folder { .. } => MANIFEST_FILE_NAME,
        }
    }
}

/// The regular files of `dir`, sorted by name. Refuses, naming the entry, what a flat
/// [`ModelManifest`] cannot hold: subfolders, symbolic links, special files and names that
/// [`is_plain_file_name`] rejects (hidden files included); and an empty folder, or one with
/// more files than a provider's manifest limit takes.
fn model_folder(dir: &Path) -> Result<Vec<FolderFile>> {
    let unreadable = |err: std::io::Error| eyre!("cannot read {}: {err}", dir.display());
    let mut entries =
        std::fs::read_dir(dir).map_err(unreadable)?.collect::<Result<Vec<_>, _>>().map_err(unreadable)?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    let mut files = Vec::with_capacity(entries.len());
    for entry in entries {
        let path = entry.path();
        // `file_type` does not follow symbolic links.
        let file_type = entry.file_type().map_err(|err| eyre!("cannot read {}: {err}", path.display()))?;
        if file_type.is_symlink() {
            bail!(
                "{} is a symbolic link: a model folder is published with regular files only (copy the file in instead)",
                path.display()
            );
        }
        if file_type.is_dir() {
            bail!(
                "{} is a subfolder: a model manifest lists the files of one folder, without subfolders (move or remove it)",
                path.display()
            );
        }
        if !file_type.is_file() {
            bail!("{} is not a regular file", path.display());
        }
        let Some(name) =
            entry.file_name().to_str().filter(|name| is_plain_file_name(name)).map(str::to_owned)
        else {
            bail!(
                "{} is not a plain file name (ASCII letters, digits, '.', '_' and '-', no leading dot): rename or remove it",
                path.display()
            );
        };
        let size = entry.metadata().map_err(|err| eyre!("cannot read {}: {err}", path.display()))?.len();
        files.push(FolderFile { name, path, size });
    }
    if files.is_empty() {
        bail!("{} is empty: a model folder needs at least one file", dir.display());
    }
    let bound = ModelManifest {
        files: files
            .iter()
            .map(|f| ModelFile {
                name: f.name.clone(),
                cid: "b".repeat(CID_LENGTH_BOUND),
                sha256: B256::ZERO,
            })
            .collect(),
    };
    if serde_json::to_vec_pretty(&bound)?.len() > MAX_DOCUMENT_BYTES {
        bail!(
            "{} holds {} files: their manifest would exceed the {MAX_DOCUMENT_BYTES} bytes a provider reads",
            dir.display(),
            files.len()
        );
    }
    Ok(files)
}

/// Adds each file to IPFS (one progress bar over them all), then their [`ModelManifest`]: the
/// manifest's CID, size and sha-256 (the asset's content), and each file as listed with its size.
async fn add_folder(
    storage: &Storage,
    files: &[FolderFile],
    bar: &ProgressBar,
) -> Result<(Added, Vec<(ModelFile, u64)>)> {
    let mut listed = Vec::with_capacity(files.len());
    let mut done = 0;
    for (index, file) in files.iter().enumerate() {
        bar.set_message(format!("uploading {} ({}/{})", file.name, index + 1, files.len()));
        let progress = bar.clone();
        let offset = done;
        let progress: Progress = Arc::new(move |bytes| progress.set_position(offset + bytes));
        let added = storage.add_file(&file.path, Some(progress)).await?;
        done += added.size;
        listed
            .push((ModelFile { name: file.name.clone(), cid: added.cid, sha256: added.sha256 }, added.size));
    }
    bar.set_message("uploading the manifest");
    let manifest = ModelManifest { files: listed.iter().map(|(file, _)| file.clone()).collect() };
    let manifest = storage.add_bytes(serde_json::to_vec_pretty(&manifest)?).await?;
    Ok((manifest, listed))
}

/// A fresh content key and the encryption header that carries it wrapped for each provider at
/// `urls` (their public keys from `GET /v1/info`). The key itself is never written anywhere.
async fn seal_for(urls: &[String], chain_id: u64, size: u64) -> Result<(ContentKey, Encryption)> {
    let http = provider_client()?;
    let key = ContentKey::generate();
    let mut encryption = Encryption::new(size);
    for url in urls {
        let info = provider_info(&http, url, chain_id).await?;
        if info.scheme != SCHEME {
            bail!("provider {url} decrypts {:?}, not {SCHEME:?}", info.scheme);
        }
        if encryption.wrapped_keys.iter().any(|wrapped| wrapped.provider == info.address) {
            continue;
        }
        let wrapped = key
            .wrap_for(info.address, &info.public_key)
            .map_err(|err| eyre!("provider {url}: cannot wrap the content key to its public key: {err}"))?;
        encryption.wrapped_keys.push(wrapped);
    }
    Ok((key, encryption))
}

/// Encrypts the file at `path` while adding it to IPFS: what IPFS stores is the ciphertext; the
/// size and sha-256 returned are the plaintext's (the on-chain digest is the plaintext's).
async fn add_encrypted(
    storage: &Storage,
    path: &Path,
    key: &ContentKey,
    encryption: &Encryption,
    progress: Progress,
) -> Result<Added> {
    let file =
        tokio::fs::File::open(path).await.wrap_err_with(|| format!("cannot read {}", path.display()))?;
    let plaintext = HashingReader::new(file, Some(progress));
    let digest = plaintext.digest_handle();
    let ciphertext = encryption.encrypting_reader(key, plaintext)?;
    let stored = storage.add_reader(ciphertext, None).await?;
    let (sha256, size) = digest.finish();
    if size != encryption.plaintext_size {
        bail!(
            "{} changed while it was encrypted ({size} bytes, was {})",
            path.display(),
            encryption.plaintext_size
        );
    }
    Ok(Added { cid: stored.cid, size, sha256 })
}

/// What a provider says about itself (`GET /v1/info`).
struct ProviderInfo {
    /// Its address: orders are bound to it, requests signed for its EIP-712 domain.
    address: Address,
    /// The uncompressed secp256k1 public key content keys are wrapped to.
    public_key: Vec<u8>,
    /// The encryption scheme it decrypts.
    scheme: String,
}

fn provider_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(PROVIDER_CONNECT_TIMEOUT)
        .read_timeout(PROVIDER_READ_TIMEOUT)
        .build()
        .wrap_err("building the HTTP client")
}

/// `url` without a trailing slash, so paths can be appended.
fn base_url(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// Reads the provider's `/v1/info` and checks it serves `chain_id`.
async fn provider_info(http: &reqwest::Client, url: &str, chain_id: u64) -> Result<ProviderInfo> {
    let response = http
        .get(format!("{}/v1/info", base_url(url)))
        .send()
        .await
        .map_err(|err| eyre!("provider {url} is unreachable: {}", cause(&err)))?;
    if !response.status().is_success() {
        bail!("provider {url} answered /v1/info with {}", response.status());
    }
    let text = response.text().await.map_err(|err| eyre!("provider {url}: {}", cause(&err)))?;
    let info: Value = serde_json::from_str(&text)
        .map_err(|_| eyre!("provider {url}: /v1/info is not JSON: is it an Agora provider?"))?;
    let malformed = |what: &str| eyre!("provider {url}: /v1/info has no valid {what}");
    let address: Address =
        info["provider"].as_str().and_then(|text| text.parse().ok()).ok_or_else(|| malformed("provider"))?;
    let served = info["chainId"].as_u64().ok_or_else(|| malformed("chainId"))?;
    if served != chain_id {
        bail!("provider {url} serves chain {served}, not chain {chain_id}");
    }
    let public_key = info["encryption"]["publicKey"]
        .as_str()
        .and_then(|text| alloy::hex::decode(text).ok())
        .ok_or_else(|| malformed("encryption.publicKey"))?;
    let scheme =
        info["encryption"]["scheme"].as_str().ok_or_else(|| malformed("encryption.scheme"))?.to_owned();
    Ok(ProviderInfo { address, public_key, scheme })
}

/// An order spent for a download that has not finished yet, remembered next to its `.part`
/// file so that a rerun resumes with it instead of spending another access token.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PendingOrder {
    asset_id: U256,
    order_id: U256,
    provider: Address,
}

async fn download(global: &GlobalArgs, args: DownloadArgs) -> Result<()> {
    let output = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("asset-{}", args.id)));
    if output.exists() {
        bail!("{} already exists: choose another --output or remove it", output.display());
    }
    let part = with_suffix(&output, ".part");
    let pending_path = with_suffix(&output, ".part.order");
    let (agora, signer) = chain::writer(global, &args.signer).await?;
    let key = signer.key.clone().ok_or_else(|| {
        eyre!("download requests are signed with a local key (--keystore or AGORA_PRIVATE_KEY), not a hardware wallet")
    })?;
    let stored = asset(&agora, args.id).await?;
    if stored.computeOnly {
        bail!("asset {} is compute-only: its content never leaves a provider", args.id);
    }
    // Reach the provider before spending a token on it.
    let http = provider_client()?;
    let chain_id = agora.deployment.chain_id;
    let info = provider_info(&http, &args.provider, chain_id).await?;

    let remembered = read_pending(&pending_path)
        .filter(|pending| pending.asset_id == args.id && pending.provider == info.address)
        .map(|pending| pending.order_id);
    let order_id = match args.order.or(remembered) {
        Some(order) => order,
        None => consume(&agora, stored.accessToken, signer.address, info.address, args.id).await?,
    };
    let pending = PendingOrder { asset_id: args.id, order_id, provider: info.address };
    std::fs::write(&pending_path, serde_json::to_vec(&pending)?)
        .wrap_err_with(|| format!("cannot write {}", pending_path.display()))?;

    let target = Target {
        http: &http,
        url: &args.provider,
        domain: access::domain(chain_id, info.address),
        key: &key,
        asset_id: args.id,
        order_id,
        remembered: (args.order.is_none() && remembered.is_some()).then_some(pending_path.as_path()),
    };
    let resumed_from = fetch(&target, &part).await?;

    let (digest, size) = sha256_file(&part)?;
    if digest != stored.contentDigest {
        // The bytes are wrong whichever attempt brought them: nothing to resume from.
        let _ = std::fs::remove_file(&part);
        let _ = std::fs::remove_file(&pending_path);
        bail!(
            "sha-256 mismatch: the downloaded content has {digest}, asset {} records {} on chain; deleted {}",
            args.id,
            stored.contentDigest,
            part.display()
        );
    }
    std::fs::rename(&part, &output)
        .wrap_err_with(|| format!("cannot rename {} to {}", part.display(), output.display()))?;
    let _ = std::fs::remove_file(&pending_path);
    if global.json {
        return output::json(&json!({
            "assetId": args.id.to_string(),
            "orderId": order_id.to_string(),
            "provider": info.address,
            "path": output,
            "size": size,
            "sha256": digest,
            "resumedFrom": resumed_from,
        }));
    }
    let resumed = if resumed_from > 0 { format!(", resumed at byte {resumed_from}") } else { String::new() };
    println!(
        "downloaded asset {} to {} ({size} bytes, sha-256 {digest} as on chain{resumed})",
        args.id,
        output.display()
    );
    Ok(())
}

/// `path` with `suffix` appended to its file name (`x.csv` → `x.csv.part`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn read_pending(path: &Path) -> Option<PendingOrder> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Spends one of `consumer`'s access tokens for `provider`; the new order's id.
async fn consume(
    agora: &Agora,
    token: Address,
    consumer: Address,
    provider: Address,
    id: U256,
) -> Result<U256> {
    let token = agora.access_token_at(token);
    let balance = tx::call("accessToken.balanceOf", token.balanceOf(consumer)).await?;
    if balance.is_zero() {
        bail!(
            "no access token: {consumer} holds no access token of asset {id} (buy one with `agora asset buy {id}`)"
        );
    }
    let receipt = tx::send("accessToken.consume", token.consume(provider))
        .await
        .map_err(|e| revert::explain(e, &Units::eth()))?;
    let consumed = receipt
        .decoded_log::<AccessToken::AccessConsumed>()
        .ok_or_else(|| eyre!("accessToken.consume: the receipt has no AccessConsumed event"))?;
    Ok(consumed.data.orderId)
}

/// One download: where, as whom, with which order.
struct Target<'a> {
    http: &'a reqwest::Client,
    url: &'a str,
    domain: alloy::sol_types::Eip712Domain,
    key: &'a alloy::signers::local::PrivateKeySigner,
    asset_id: U256,
    order_id: U256,
    /// The file the order was remembered in, when it was (a refusal then says how to drop it).
    remembered: Option<&'a Path>,
}

impl Target<'_> {
    /// A freshly signed request (a new nonce every time: the provider takes each once).
    fn request(&self) -> Result<SignedRequest> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let message = DownloadRequest {
            assetId: self.asset_id,
            orderId: self.order_id,
            nonce: U256::from_be_bytes(rand::random::<[u8; 32]>()),
            expiry: now + REQUEST_LIFETIME_SECS,
        };
        SignedRequest::sign(&message, &self.domain, self.key).wrap_err("signing the download request")
    }
}

/// Streams the content into `part`, from its current length on (a `Range` request) when it
/// already holds some. Returns the offset the download resumed at.
async fn fetch(target: &Target<'_>, part: &Path) -> Result<u64> {
    let url = target.url;
    let mut waits = 0;
    loop {
        let offset = std::fs::metadata(part).map(|meta| meta.len()).unwrap_or(0);
        let body = serde_json::to_vec(&target.request()?)?;
        let mut request = target
            .http
            .post(format!("{}/v1/download", base_url(url)))
            .header("content-type", "application/json")
            .body(body);
        if offset > 0 {
            request = request.header("range", format!("bytes={offset}-"));
        }
        let mut response =
            request.send().await.map_err(|err| eyre!("provider {url} is unreachable: {}", cause(&err)))?;
        let status = response.status().as_u16();
        match status {
            200 | 206 => {}
            416 if offset > 0 => {
                // A `.part` that already holds the whole content has nothing left to fetch.
                let total = response
                    .headers()
                    .get("content-range")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.strip_prefix("bytes */"))
                    .and_then(|size| size.parse::<u64>().ok());
                if total == Some(offset) {
                    return Ok(offset);
                }
                bail!(
                    "{} holds {offset} bytes, more than the content has: delete it and rerun",
                    part.display()
                );
            }
            _ => {
                let message = refusal_message(response).await;
                if status == 409 && message.contains("in progress") && waits < IN_PROGRESS_RETRIES {
                    // Our own interrupted attempt, not yet noticed by the provider.
                    waits += 1;
                    tokio::time::sleep(IN_PROGRESS_WAIT).await;
                    continue;
                }
                let hint = match target.remembered {
                    Some(path) if matches!(status, 403 | 404 | 410) => format!(
                        " (order {} was remembered in {}: delete it to spend a new access token)",
                        target.order_id,
                        path.display()
                    ),
                    _ => String::new(),
                };
                bail!("provider refused the download ({status}): {message}{hint}");
            }
        }
        let resumed = if status == 206 { offset } else { 0 };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(part)
            .wrap_err_with(|| format!("cannot write {}", part.display()))?;
        if resumed == 0 {
            file.set_len(0).wrap_err_with(|| format!("cannot truncate {}", part.display()))?;
        }
        let expected = resumed + response.content_length().unwrap_or(0);
        let bar = ProgressBar::new(expected).with_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(format!("downloading asset {}", target.asset_id));
        bar.set_position(resumed);
        let mut written = resumed;
        let broke_off = loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    file.write_all(&chunk).wrap_err_with(|| format!("cannot write {}", part.display()))?;
                    written += chunk.len() as u64;
                    bar.set_position(written);
                }
                Ok(None) => break None,
                Err(err) => break Some(cause(&err)),
            }
        };
        bar.finish_and_clear();
        file.flush().wrap_err_with(|| format!("cannot write {}", part.display()))?;
        let reason = match broke_off {
            Some(reason) => reason,
            None if written < expected => format!("{} bytes missing", expected - written),
            None => return Ok(resumed),
        };
        bail!(
            "the download broke off after {written} bytes ({reason}); {} is kept: rerun the same command to resume",
            part.display()
        );
    }
}

/// The provider's `{"error": …}` message, or the status text.
async fn refusal_message(response: reqwest::Response) -> String {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|body| body["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("no reason given").to_owned())
}

/// sha-256 and length of the file at `path`.
fn sha256_file(path: &Path) -> Result<(B256, u64)> {
    let mut file = std::fs::File::open(path).wrap_err_with(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buf).wrap_err_with(|| format!("cannot read {}", path.display()))?;
        if read == 0 {
            break;
        }
        hasher.update(&buf[..read]);
        size += read as u64;
    }
    Ok((B256::from_slice(&hasher.finalize()), size))
}

/// An HTTP error and its causes on one line ("error sending request: … connection refused").
fn cause(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text = format!("{text}: {inner_text}");
        }
        source = inner.source();
    }
    text
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

    #[test]
    fn a_model_folder_lists_its_plain_files_by_name_and_refuses_what_a_manifest_cannot_hold() {
        let dir = tempfile::tempdir().unwrap();
        let refusal = |dir: &Path| model_folder(dir).unwrap_err().to_string();
        assert!(refusal(dir.path()).ends_with("is empty: a model folder needs at least one file"));
        std::fs::write(dir.path().join("tokenizer.json"), b"{}").unwrap();
        std::fs::write(dir.path().join("config.json"), b"{\"a\":1}").unwrap();
        let files = model_folder(dir.path()).unwrap();
        let names: Vec<_> = files.iter().map(|f| (f.name.as_str(), f.size)).collect();
        assert_eq!(names, [("config.json", 7), ("tokenizer.json", 2)]);

        std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
        assert!(refusal(dir.path()).contains("1_Pooling is a subfolder"));
        std::fs::remove_dir(dir.path().join("1_Pooling")).unwrap();
        std::os::unix::fs::symlink("config.json", dir.path().join("link.json")).unwrap();
        assert!(refusal(dir.path()).contains("link.json is a symbolic link"));
        std::fs::remove_file(dir.path().join("link.json")).unwrap();
        for bad in [".source", "weights (1).bin"] {
            std::fs::write(dir.path().join(bad), b"x").unwrap();
            assert!(refusal(dir.path()).contains("is not a plain file name"), "{bad}");
            std::fs::remove_file(dir.path().join(bad)).unwrap();
        }
        for i in 0..400 {
            std::fs::write(dir.path().join(format!("shard-{i:04}.bin")), b"x").unwrap();
        }
        assert!(refusal(dir.path()).contains("holds 402 files: their manifest would exceed"));
    }
}
