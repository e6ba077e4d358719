//! `agora asset publish`: a file, or a folder as a model (each file uploaded, then the manifest
//! of their CIDs and sha-256s as the asset's content), then the metadata JSON, then the asset
//! on chain.
//!
//! Priced and compute-only content is encrypted by default before anything reaches IPFS (a
//! free asset with `--private` too): one fresh content key per asset, wrapped for the owner's
//! own key and for the trusted providers ([`super::keys`]). A model folder's files are each
//! sealed under a nonce prefix of their own and listed with their headers in the manifest,
//! which is sealed as the content. The on-chain digest is always the plaintext's sha-256.
//! Priced content in the clear takes an explicit `--public`, with a warning.
//!
//! An algorithm (`--kind algorithm`) must be a WebAssembly module that `agora-sandbox` can
//! run: it is read and checked before anything is uploaded or sent to the chain, and the
//! bytes uploaded must be the ones checked.
//!
//! With `--from-job`, the content is a compute job's output, fetched from IPFS and checked
//! against the output hash posted on chain first ([`super::derived`]); the bytes uploaded must
//! be the ones checked, and the metadata records the lineage.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use agora_contracts::{asset_registry::IAssetRegistry::PublishParams, tx};
use agora_provider::{
    crypto::{ContentKey, Encryption},
    jobs::{MAX_DOCUMENT_BYTES, ModelFile, ModelManifest, is_plain_file_name},
    metadata::{self, AssetMetadata, ContentRef},
    storage::{Added, HashingReader, Progress, Storage},
};
use agora_sandbox::{Limits, ModuleInfo, SandboxError, validate_module};
use alloy::{
    hex,
    primitives::{Address, B256, U256, aliases::U80},
};
use clap::Args;
use eyre::{Result, WrapErr, bail, eyre};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use tokio::io::AsyncRead;

use super::{IPFS_TIMEOUT, IpfsArgs, Kind, derived, keys, kind_name, parse_splits};
use crate::{GlobalArgs, chain, currency::Currency, output, revert, wallet::SignerArgs};

/// Arguments of `asset publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The file to publish, or a model's folder (its regular files only: no subfolders or links).
    #[arg(value_name = "PATH", required_unless_present = "from_job", conflicts_with = "from_job")]
    pub file: Option<PathBuf>,
    /// Publish compute job JOB_ID's output instead of a PATH: it is fetched from IPFS and must
    /// hash to the output hash posted on chain before anything is sent; the metadata's
    /// `derivedFrom` records the job, its output, its input assets and the provider's receipt.
    /// A one-file output is published as a file; of a larger one, one file (--output-file) or
    /// all of them as a model (--kind model: a manifest of its files).
    #[arg(long, value_name = "JOB_ID")]
    pub from_job: Option<U256>,
    /// With --from-job: publish only this file of the job's output.
    #[arg(long, value_name = "NAME", requires = "from_job")]
    pub output_file: Option<String>,
    /// With --from-job: this part of every sale (e.g. 10%) goes to the job's input assets, in
    /// equal parts per input, each part over that input's split recipients by their shares; your
    /// --split shares (or you) get the rest. The inputs' splits are copied as they are now: the
    /// splitter keeps no per-asset payee, so a later change of an input's split is not followed.
    #[arg(long, value_name = "PCT", requires = "from_job")]
    pub upstream_share: Option<String>,
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
    /// The asset's card: a Markdown file (what it is, how it was made, how to use it), shown on
    /// the hub; at most 64 KiB.
    #[arg(long, value_name = "FILE")]
    pub card: Option<PathBuf>,
    /// A tag for the catalogue's filters (repeat for several): lowercase letters, digits, '-'.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// A public sample of the data (CSV, or JSON Lines named .jsonl): its first rows go into the
    /// metadata as a preview anyone can see. It must not be the content itself.
    #[arg(long, value_name = "FILE")]
    pub sample: Option<PathBuf>,
    /// Encrypt the content even though it is free (priced and compute-only content is
    /// encrypted anyway).
    #[arg(long, conflicts_with = "public")]
    pub private: bool,
    /// Publish priced content in the clear: anyone can then read it from IPFS without buying.
    #[arg(long)]
    pub public: bool,
    /// A provider trusted with the content key, by URL (repeat it for several) [default: every
    /// active provider registered on the ComputeMarket].
    #[arg(long = "provider", value_name = "URL", conflicts_with = "public")]
    pub providers: Vec<String>,
    /// Let only providers hold the content key when the signer cannot decrypt (a hardware
    /// wallet); you then cannot share or rekey it yourself.
    #[arg(long, conflicts_with = "public")]
    pub provider_custody: bool,
    /// The Kubo node.
    #[command(flatten)]
    pub ipfs: IpfsArgs,
    /// The signer (the asset's owner).
    #[command(flatten)]
    pub signer: SignerArgs,
}

pub(super) async fn publish(global: &GlobalArgs, args: PublishArgs) -> Result<()> {
    // clap skips `requires` when PATH, which conflicts with --from-job, is given.
    if args.from_job.is_none() {
        for (given, flag) in [
            (args.output_file.is_some(), "--output-file"),
            (args.upstream_share.is_some(), "--upstream-share"),
        ] {
            if given {
                bail!("{flag} is about a compute job's output: it needs --from-job JOB_ID (and no PATH)");
            }
        }
    }
    if args.public && args.compute_only {
        bail!(
            "--public cannot be compute-only: content in the clear on IPFS can be read by anyone, not only computed on"
        );
    }
    let currency = Currency::parse(&args.currency)?;
    let own_split = parse_splits(&args.splits)?;
    let upstream_share = args.upstream_share.as_deref().map(derived::parse_share).transpose()?;
    let storage = Storage::new(&args.ipfs.api, IPFS_TIMEOUT)?;
    let derivation = match args.from_job {
        Some(job) => {
            let output_file = args.output_file.as_deref();
            Some(derived::fetch(global, &storage, job, output_file, args.kind, upstream_share).await?)
        }
        None => None,
    };
    let path = match (&derivation, &args.file) {
        (Some(derivation), _) => derivation.path.clone(),
        (None, Some(file)) => file.clone(),
        (None, None) => bail!("give the PATH to publish, or --from-job JOB_ID"),
    };
    let module = match args.kind {
        Kind::Algorithm => Some(check_algorithm(&path).await?),
        _ => None,
    };
    let card_text = args.card.as_deref().map(super::card::read_card).transpose()?;
    let tags = super::card::check_tags(&args.tags)?;
    let sample = args.sample.as_deref().map(super::card::read_sample).transpose()?;
    if let Some(sample_path) = &args.sample
        && super::card::same_bytes(sample_path, &path)
    {
        bail!(
            "the sample {} is the content itself: its preview would be readable by anyone; give a few rows of it instead",
            sample_path.display()
        );
    }
    let source = Source::read(&path)?;
    if matches!(source, Source::Folder { .. }) && args.kind != Kind::Model {
        bail!(
            "{} is a folder: a folder is published as a model (a manifest of its files), so use --kind model",
            path.display()
        );
    }
    let (agora, signer) = chain::writer(global, &args.signer).await?;
    let split = match &derivation {
        Some(derivation) => derivation.split(own_split, signer.address)?,
        None => own_split,
    };
    let (recipients, bps): (Vec<_>, Vec<_>) = split.iter().copied().unzip();
    if let Some(missing) = derivation.as_ref().and_then(|d| d.receipt_missing.as_ref()) {
        eprintln!("warning: the provider's receipt is not included in the metadata: {missing}");
    }
    let units = currency.units(agora.provider()).await?;
    let price = units.parse(&args.price)?;
    let price = u128::try_from(price)
        .ok()
        .and_then(|price| U80::try_from(price).ok())
        .ok_or_else(|| eyre!("price {} is above the largest the registry stores", args.price))?;
    let encrypt = !args.public && (!price.is_zero() || args.compute_only || args.private);
    if !encrypt && !args.providers.is_empty() {
        bail!(
            "--provider names who holds the content key, but a free asset is published in the clear: add --private to encrypt it"
        );
    }
    if args.public && !price.is_zero() {
        eprintln!(
            "warning: --public: this priced asset's content goes to IPFS in the clear, so anyone can read it for free without buying an access token"
        );
    }
    // The key holders are settled before anything is uploaded, so a provider that is down or
    // on another chain costs nothing.
    let sealing = match encrypt {
        true => Some(keys::Sealing::new(
            keys::new_holders(&agora, &signer, &args.providers, args.provider_custody).await?,
        )?),
        false => None,
    };
    storage.version().await?;

    let bar = ProgressBar::new(source.size()).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let uploaded = match &source {
        Source::File { name, size } => {
            bar.set_message(format!("uploading {name}"));
            let progress = bar.clone();
            let progress: Progress = Arc::new(move |done| progress.set_position(done));
            let file = tokio::fs::File::open(&path)
                .await
                .wrap_err_with(|| format!("cannot read {}", path.display()))?;
            let added = match &sealing {
                None => storage.add_reader(file, Some(progress)).await.map(|a| (a, None)).map_err(Into::into),
                Some(sealing) => {
                    sealing.add(&storage, file, sealing.content_header(*size)?, Some(progress)).await
                }
            };
            added.and_then(|(added, encryption)| {
                check_size(&path, added.size, *size)?;
                let file = ModelFile {
                    name: name.clone(),
                    cid: added.cid.clone(),
                    sha256: added.sha256,
                    encryption: None,
                };
                Ok((added, encryption, vec![(file, *size)]))
            })
        }
        Source::Folder { files, .. } => add_folder(&storage, files, sealing.as_ref(), &bar).await,
    };
    bar.finish_and_clear();
    let (added, encryption, listed) = uploaded?;
    if let Some(module) = &module
        && hex::encode(added.sha256) != module.digest
    {
        bail!("{} changed while it was uploaded: it is not the module that was checked", path.display());
    }
    if let Some(derivation) = &derivation {
        derivation.check_uploaded(&listed)?;
    }
    let key_holders = encryption.as_ref().map(Encryption::holders).unwrap_or_default();
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
                (metadata::CARD, card_text.map(|card| json!(card))),
                (metadata::TAGS, (!tags.is_empty()).then(|| json!(tags))),
                (metadata::SAMPLE, sample.map(|sample| json!(sample))),
                ("computeOnly", Some(json!(args.compute_only))),
                ("files", Some(json!(files))),
                ("derivedFrom", derivation.as_ref().map(|d| json!(d.derived_from))),
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
    let mut report = json!({
        "assetId": published.asset_id.to_string(),
        "accessToken": published.access_token,
        "did": did,
        "contentCid": added.cid,
        "contentDigest": added.sha256,
        "size": added.size,
        "metadataCid": metadata_cid,
        "encrypted": encrypt,
        "keyHolders": key_holders,
        "files": files,
        "txHash": published.tx_hash,
    });
    if let Some(module) = &module {
        report["module"] = json!({
            "digest": module.digest,
            "size": module.size,
            "wasiImports": module.wasi_imports,
            "initialMemoryBytes": module.initial_memory_bytes,
        });
    }
    if let Some(derivation) = &derivation {
        report["derivedFrom"] = json!(derivation.derived_from);
        report["split"] =
            split.iter().map(|(recipient, bps)| json!({ "recipient": recipient, "bps": bps })).collect();
    }
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
    if let Some(module) = &module {
        rows.push((
            "module".into(),
            format!(
                "WASI preview 1, sha-256 {} (a job names it by this), {} WASI imports",
                module.digest,
                module.wasi_imports.len()
            ),
        ));
    }
    if let Some(derivation) = &derivation {
        rows.extend(derivation_rows(derivation, &split));
    }
    rows.extend([("metadata".into(), metadata_cid), ("price".into(), units.format(U256::from(price)))]);
    output::table(&rows);
    match encrypt {
        true => {
            println!(
                "encrypted: IPFS holds ciphertext only; the key is wrapped for {}",
                holders_text(&key_holders, signer.address)
            );
            if key_holders == [signer.address] {
                println!(
                    "no provider holds the key yet (none is active on the ComputeMarket): give one the key with `agora asset share {} --provider <url>`",
                    published.asset_id
                );
            }
        }
        false => println!("public: the content is readable by anyone from IPFS"),
    }
    Ok(())
}

/// Reads the module at `path` and checks that the sandbox can run it, before anything is
/// uploaded or sent to the chain; compiling it can take seconds, so off the async threads.
async fn check_algorithm(path: &Path) -> Result<ModuleInfo> {
    let refuse = |reason: &dyn std::fmt::Display| {
        eyre!("{} is not an algorithm the sandbox can run: {reason}", path.display())
    };
    let meta = std::fs::metadata(path).map_err(|err| eyre!("cannot read {}: {err}", path.display()))?;
    if meta.is_dir() {
        return Err(refuse(
            &"it is a folder, and an algorithm is one WebAssembly module file (WASI preview 1; \
              `agora algorithm new` starts one)",
        ));
    }
    if !meta.is_file() {
        return Err(refuse(&"it is not a regular file"));
    }
    let (size, limit) = (meta.len(), Limits::default().max_module_bytes);
    if size > limit {
        return Err(refuse(&SandboxError::ModuleTooLarge { size, limit }));
    }
    let bytes = tokio::fs::read(path).await.wrap_err_with(|| format!("cannot read {}", path.display()))?;
    tokio::task::spawn_blocking(move || validate_module(&bytes))
        .await
        .wrap_err("checking the module failed")?
        .map_err(|err| refuse(&err))
}

/// What `derivedFrom` records, for the table: the job, its output, its inputs, the receipt
/// and, with an upstream share, the split.
fn derivation_rows(derivation: &derived::Derivation, split: &[(Address, u16)]) -> Vec<(String, String)> {
    let from = &derivation.derived_from;
    let output = match &from.output_file {
        Some(file) => format!("{file} of {}", from.output_cid),
        None => from.output_cid.clone(),
    };
    let mut rows = vec![(
        "derived from".to_owned(),
        format!(
            "job {}: output {output} (output hash {} checked against the chain)",
            from.job_id, from.output_hash
        ),
    )];
    rows.extend(
        from.inputs.iter().map(|input| ("  input".to_owned(), format!("{} {}", input.role, input.asset_id))),
    );
    let receipt = match &from.receipt {
        Some(receipt) => {
            format!("the provider's, checked and recorded (runtime {})", receipt.receipt.runtimeVersion)
        }
        None => "not recorded (see the warning)".to_owned(),
    };
    rows.push(("  receipt".to_owned(), receipt));
    if let Some(share) = from.upstream_share_bps {
        rows.push((
            "upstream share".to_owned(),
            format!("{}.{:02}% of every sale to the inputs' contributors", share / 100, share % 100),
        ));
        rows.extend(split.iter().map(|(recipient, bps)| {
            ("  split".to_owned(), format!("{recipient} {}.{:02}%", bps / 100, bps % 100))
        }));
    }
    rows
}

/// The key holders in words, the owner's copy named as such.
pub(super) fn holders_text(holders: &[Address], owner: Address) -> String {
    holders
        .iter()
        .map(|holder| match *holder == owner {
            true => format!("{holder} (you)"),
            false => holder.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses content that changed size while it was read.
fn check_size(path: &Path, read: u64, expected: u64) -> Result<()> {
    if read != expected {
        bail!("{} changed while it was uploaded ({read} bytes, was {expected})", path.display());
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
pub(super) const MANIFEST_FILE_NAME: &str = "manifest.json";

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
                // A sealed file's header: the bound holds for private models too.
                encryption: Some(Encryption::new(u64::MAX)),
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
/// manifest's CID, size and sha-256 (the asset's content) with its header when it is sealed,
/// and each file as listed with its size. With `sealing`, each file is sealed under a header of
/// its own, listed in the manifest, and the manifest is sealed as the content.
async fn add_folder(
    storage: &Storage,
    files: &[FolderFile],
    sealing: Option<&keys::Sealing>,
    bar: &ProgressBar,
) -> Result<(Added, Option<Encryption>, Vec<(ModelFile, u64)>)> {
    let mut listed = Vec::with_capacity(files.len());
    let mut done = 0;
    for (index, file) in files.iter().enumerate() {
        bar.set_message(format!("uploading {} ({}/{})", file.name, index + 1, files.len()));
        let progress = bar.clone();
        let offset = done;
        let progress: Progress = Arc::new(move |bytes| progress.set_position(offset + bytes));
        let reader = tokio::fs::File::open(&file.path)
            .await
            .wrap_err_with(|| format!("cannot read {}", file.path.display()))?;
        let (added, encryption) = match sealing {
            None => (storage.add_reader(reader, Some(progress)).await?, None),
            Some(sealing) => sealing.add(storage, reader, Encryption::new(file.size), Some(progress)).await?,
        };
        check_size(&file.path, added.size, file.size)?;
        done += added.size;
        listed.push((
            ModelFile { name: file.name.clone(), cid: added.cid, sha256: added.sha256, encryption },
            added.size,
        ));
    }
    bar.set_message("uploading the manifest");
    let manifest = ModelManifest { files: listed.iter().map(|(file, _)| file.clone()).collect() };
    let manifest = serde_json::to_vec_pretty(&manifest)?;
    let (added, encryption) = match sealing {
        None => (storage.add_bytes(manifest).await?, None),
        Some(sealing) => {
            let header = sealing.content_header(manifest.len() as u64)?;
            sealing.add(storage, std::io::Cursor::new(manifest), header, None).await?
        }
    };
    Ok((added, encryption, listed))
}

/// Encrypts what `plaintext` yields under `header` with `key` while adding it to IPFS: what
/// IPFS stores is the ciphertext; the size and sha-256 returned are the plaintext's (the
/// on-chain digest is the plaintext's).
pub(super) async fn add_sealed<R>(
    storage: &Storage,
    plaintext: R,
    key: &ContentKey,
    header: &Encryption,
    progress: Option<Progress>,
) -> Result<Added>
where
    R: AsyncRead + Send + Sync + Unpin + 'static,
{
    let plaintext = HashingReader::new(plaintext, progress);
    let digest = plaintext.digest_handle();
    let ciphertext = header.encrypting_reader(key, plaintext)?;
    let stored = storage.add_reader(ciphertext, None).await?;
    let (sha256, size) = digest.finish();
    Ok(Added { cid: stored.cid, size, sha256 })
}

#[cfg(test)]
mod tests {
    use super::*;

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
