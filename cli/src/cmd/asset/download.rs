//! `agora asset download`: spend an access token for a provider (or reuse a remembered order),
//! sign the EIP-712 request, stream to a `.part` file that a rerun resumes with a `Range`, and
//! keep the file only when its sha-256 is the one recorded on chain (the flow itself is
//! [`agora_client`]'s, shared with the Python package; this adds the remembered order and the
//! progress bar).
//!
//! Without `--provider`, the providers that can serve the asset are tried best first, by
//! [`agora_client::provider::candidates`]' rule (active, holding the key, healthy, largest
//! stake); one that does not answer, answers 5xx or breaks off is left for the next. An order is
//! bound to the provider it was spent for, so moving on spends another access token, and the
//! next provider resumes the `.part` file with a `Range` (the digest is still checked over the
//! whole file).

use std::path::{Path, PathBuf};

use agora_client::{
    market,
    provider::{self, Download, Progress},
};
use alloy::primitives::{Address, U256};
use clap::Args;
use eyre::{Result, WrapErr, bail, eyre};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{IpfsArgs, METADATA_TIMEOUT, asset};
use crate::{GlobalArgs, chain, output, wallet::SignerArgs};
use agora_provider::storage::Storage;

/// Arguments of `asset download`.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The asset's id.
    pub id: U256,
    /// The provider's URL [default: the best active provider holding the asset's key, falling
    /// over to the next when one fails].
    #[arg(long, value_name = "URL", env = "AGORA_PROVIDER_URL")]
    pub provider: Option<String>,
    /// Where to write the content [default: asset-<id> in the current folder].
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Use this access order (already consumed for the provider) instead of spending a token.
    #[arg(long, value_name = "ORDER_ID", requires = "provider")]
    pub order: Option<U256>,
    /// The Kubo node the asset's metadata (who holds its key) is read from when no --provider
    /// is named.
    #[command(flatten)]
    pub ipfs: IpfsArgs,
    /// The signer (the consumer; it signs the download request).
    #[command(flatten)]
    pub signer: SignerArgs,
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

pub(super) async fn download(global: &GlobalArgs, args: DownloadArgs) -> Result<()> {
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
    let http = provider::http_client();
    let chain_id = agora.deployment.chain_id;
    let mut pending = read_pending(&pending_path).filter(|pending| pending.asset_id == args.id);
    let urls = match &args.provider {
        Some(url) => vec![url.clone()],
        None => ranked_providers(&agora, &args, &stored.metadataCid, pending.as_ref()).await?,
    };
    let fall_over = args.provider.is_none();
    let mut failures = Vec::new();
    let mut served = None;
    for url in &urls {
        // Reach the provider before spending a token on it.
        let info = match provider::info(&http, url, chain_id).await {
            Ok(info) => info,
            Err(err) if fall_over => {
                failures.push(err.to_string());
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        let remembered = pending.as_ref().filter(|p| p.provider == info.address).map(|p| p.order_id);
        if let Some(bound) = pending.as_ref().filter(|p| fall_over && p.provider != info.address) {
            eprintln!(
                "order {} is bound to provider {}, which could not serve it: spending another access token on provider {}",
                bound.order_id, bound.provider, info.address
            );
        }
        let order_id = match args.order.or(remembered) {
            Some(order) => order,
            None => {
                market::consume(&agora, args.id, stored.accessToken, signer.address, info.address).await?
            }
        };
        let spent = PendingOrder { asset_id: args.id, order_id, provider: info.address };
        std::fs::write(&pending_path, serde_json::to_vec(&spent)?)
            .wrap_err_with(|| format!("cannot write {}", pending_path.display()))?;
        pending = Some(spent);
        let target = Download {
            http: &http,
            url,
            domain: info.domain(chain_id),
            key: &key,
            asset_id: args.id,
            order_id,
        };
        let remembered = (args.order.is_none() && remembered.is_some()).then_some(pending_path.as_path());
        match fetch(&target, &part).await {
            Ok(resumed_from) => {
                served = Some((order_id, info.address, resumed_from));
                break;
            }
            Err(err) if fall_over && can_fall_over(&err) => failures.push(format!("provider {url}: {err}")),
            Err(err) => return Err(explain(err, &target, &part, remembered)),
        }
    }
    let Some((order_id, served_by, resumed_from)) = served else {
        let bound = match &pending {
            Some(p) => format!(
                "; order {} is bound to provider {}: rerun this command to resume there (or with another \
                 provider, for another access token), {} is kept",
                p.order_id,
                p.provider,
                part.display()
            ),
            None => String::new(),
        };
        bail!("no provider could serve asset {}: {}{bound}", args.id, failures.join("; "));
    };

    let size = match provider::verify(&part, args.id, stored.contentDigest) {
        Ok(size) => size,
        Err(err) => {
            // `verify` deleted the bytes; the order has nothing left to resume.
            let _ = std::fs::remove_file(&pending_path);
            bail!("{err}; deleted {}", part.display());
        }
    };
    let digest = stored.contentDigest;
    std::fs::rename(&part, &output)
        .wrap_err_with(|| format!("cannot rename {} to {}", part.display(), output.display()))?;
    let _ = std::fs::remove_file(&pending_path);
    if global.json {
        return output::json(&json!({
            "assetId": args.id.to_string(),
            "orderId": order_id.to_string(),
            "provider": served_by,
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

/// Streams the content into `part` with a progress bar; the bytes it resumed from.
async fn fetch(target: &Download<'_>, part: &Path) -> Result<u64, agora_client::Error> {
    // Its length comes with the provider's first answer.
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!("downloading asset {}", target.asset_id));
    let result = target
        .fetch(part, &mut |Progress { done, total }| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await;
    bar.finish_and_clear();
    result
}

/// Whether another provider may succeed where this one failed: it did not answer, answered
/// 5xx, or broke off.
fn can_fall_over(err: &agora_client::Error) -> bool {
    use agora_client::Error;
    match err {
        Error::Unreachable { .. } | Error::BrokenOff { .. } | Error::NotAProvider { .. } => true,
        Error::Refused { status, .. } => *status >= 500,
        _ => false,
    }
}

/// A failed download in words: a refusal of a remembered order says how to drop it, and a
/// break-off that the `.part` file is kept for a rerun.
fn explain(
    err: agora_client::Error,
    target: &Download<'_>,
    part: &Path,
    remembered: Option<&Path>,
) -> eyre::Report {
    match err {
        agora_client::Error::Refused { status, message, .. } => {
            let hint = match remembered {
                Some(path) if matches!(status, 403 | 404 | 410) => format!(
                    " (order {} was remembered in {}: delete it to spend a new access token)",
                    target.order_id,
                    path.display()
                ),
                _ => String::new(),
            };
            eyre!("provider refused the download ({status}): {message}{hint}")
        }
        err @ agora_client::Error::BrokenOff { .. } => {
            eyre!("{err}; {} is kept: rerun the same command to resume", part.display())
        }
        err => err.into(),
    }
}

/// The registered providers that can serve the asset whose metadata is `metadata_cid`, best
/// first; the one a remembered order is bound to goes first (it costs nothing more).
async fn ranked_providers(
    agora: &agora_contracts::Agora,
    args: &DownloadArgs,
    metadata_cid: &str,
    pending: Option<&PendingOrder>,
) -> Result<Vec<String>> {
    let storage = Storage::new(&args.ipfs.api, METADATA_TIMEOUT)?;
    let metadata = agora_client::metadata(&storage, metadata_cid)
        .await
        .wrap_err("reading who holds the asset's key (name a provider with --provider to skip this)")?;
    let holders = metadata.content.encryption.as_ref().map(|e| e.holders());
    let mut ranked = provider::candidates(agora, holders.as_deref()).await?;
    ranked.sort_by_key(|candidate| pending.is_none_or(|p| p.provider != candidate.address));
    if ranked.is_empty() {
        let held = match &holders {
            Some(holders) => format!(
                "its key is held by {}, none of them an active provider: ask its owner to share it with one \
                 (`agora asset share`)",
                holders.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ),
            None => "no provider is registered on the ComputeMarket".into(),
        };
        bail!("no provider can serve asset {}: {held}", args.id);
    }
    Ok(ranked.into_iter().map(|candidate| candidate.endpoint).collect())
}
