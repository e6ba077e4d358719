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

use std::{path::PathBuf, sync::Arc};

use agora_client::{
    card,
    keys::{Owner, Sealing, new_holders},
    pins::Replica,
    publish::{self, Listing, Source, UploadProgress},
};
use agora_contracts::tx;
use agora_provider::{crypto::Encryption, metadata, storage::Storage};
use alloy::{
    hex,
    primitives::{Address, U256},
};
use clap::Args;
use eyre::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::{IPFS_TIMEOUT, IpfsArgs, Kind, derived};
use crate::{GlobalArgs, chain, currency::Currency, output, wallet::SignerArgs};

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
    /// A public sample of the data (CSV, JSON Lines named .jsonl, or Parquet named .parquet): its
    /// first rows go into the metadata as a preview anyone can see. It must not be the content itself.
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
    let own_split = publish::parse_splits(&args.splits)?;
    let upstream_share = args.upstream_share.as_deref().map(derived::parse_share).transpose()?;
    let storage = Storage::new(&args.ipfs.api, IPFS_TIMEOUT)?;
    let replication = global.replication()?;
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
        Kind::Algorithm => Some(publish::check_algorithm(&path).await?),
        _ => None,
    };
    let card_text = args.card.as_deref().map(card::read_card).transpose()?;
    let tags = card::check_tags(&args.tags)?;
    let sample = args.sample.as_deref().map(card::read_sample).transpose()?;
    if let Some(sample_path) = &args.sample
        && card::same_bytes(sample_path, &path)
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
    if let Some(missing) = derivation.as_ref().and_then(|d| d.receipt_missing.as_ref()) {
        eprintln!("warning: the provider's receipt is not included in the metadata: {missing}");
    }
    let units = currency.units(agora.provider()).await?;
    let price = units.parse(&args.price)?;
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
    let owner = Owner { address: signer.address, key: signer.key.as_ref() };
    let sealing = match encrypt {
        true => {
            Some(Sealing::new(new_holders(&agora, owner, &args.providers, args.provider_custody).await?)?)
        }
        false => None,
    };
    storage.version().await?;

    let bar = ProgressBar::new(source.size()).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let (step, position) = (bar.clone(), bar.clone());
    let progress = UploadProgress {
        step: Box::new(move |message| step.set_message(message)),
        bytes: Arc::new(move |done| position.set_position(done)),
    };
    let uploaded = publish::upload(&storage, &path, &source, sealing.as_ref(), &progress).await;
    bar.finish_and_clear();
    let uploaded = uploaded?;
    let added = &uploaded.added;
    if let Some(module) = &module
        && hex::encode(added.sha256) != module.digest
    {
        bail!("{} changed while it was uploaded: it is not the module that was checked", path.display());
    }
    if let Some(derivation) = &derivation {
        derivation.check_uploaded(&uploaded.listed)?;
    }
    let key_holders = uploaded.encryption.as_ref().map(Encryption::holders).unwrap_or_default();
    let files = uploaded.files();

    let kind = args.kind as u8;
    let extra = [
        ("license", args.license.map(|license| json!(license))),
        (metadata::CARD, card_text.map(|card| json!(card))),
        (metadata::TAGS, (!tags.is_empty()).then(|| json!(tags))),
        (metadata::SAMPLE, sample.map(|sample| json!(sample))),
        ("derivedFrom", derivation.as_ref().map(|d| json!(d.derived_from))),
    ];
    let listing = Listing {
        owner: signer.address,
        kind,
        compute_only: args.compute_only,
        access_duration: args.access_duration,
        currency: currency.address(),
        price,
        free_per_address: args.free,
        split: split.clone(),
        name: args.name.unwrap_or_else(|| source.name().to_owned()),
        description: args.description,
        extra: extra.into_iter().filter_map(|(key, value)| Some((key, value?))).collect(),
    };
    let spinner = ProgressBar::new_spinner();
    let report_replicas = |replicas: &[Replica]| {
        let answers: Vec<String> = replicas
            .iter()
            .map(|replica| format!("{} {}", replica.service, replica.statuses.join("/")))
            .collect();
        spinner.set_message(format!("pinning services (metadata/content): {}", answers.join(", ")));
        spinner.tick();
    };
    let replicate = replication.as_ref().map(|replication| (replication, &report_replicas as _));
    let published = publish::register(&agora, &storage, &source, &uploaded, listing, &units, replicate).await;
    spinner.finish_and_clear();
    let published = published?;
    let metadata_cid = published.metadata_cid.clone();
    let listed = &uploaded.listed;
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
        "replicas": published.replicas,
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
    rows.extend([("metadata".into(), metadata_cid), ("price".into(), units.format(price))]);
    rows.extend(published.replicas.iter().map(|replica| {
        (
            "pinned by".into(),
            format!(
                "{} (metadata {}, content {})",
                replica.service, replica.statuses[0], replica.statuses[1]
            ),
        )
    }));
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
