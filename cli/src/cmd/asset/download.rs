//! `agora asset download`: spend an access token for a provider (or reuse a remembered order),
//! sign the EIP-712 request, stream to a `.part` file that a rerun resumes with a `Range`, and
//! keep the file only when its sha-256 is the one recorded on chain (the flow itself is
//! [`agora_client`]'s, shared with the Python package; this adds the remembered order and the
//! progress bar).

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

use super::asset;
use crate::{GlobalArgs, chain, output, wallet::SignerArgs};

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
    // Reach the provider before spending a token on it.
    let http = provider::http_client();
    let chain_id = agora.deployment.chain_id;
    let info = provider::info(&http, &args.provider, chain_id).await?;

    let remembered = read_pending(&pending_path)
        .filter(|pending| pending.asset_id == args.id && pending.provider == info.address)
        .map(|pending| pending.order_id);
    let order_id = match args.order.or(remembered) {
        Some(order) => order,
        None => market::consume(&agora, args.id, stored.accessToken, signer.address, info.address).await?,
    };
    let pending = PendingOrder { asset_id: args.id, order_id, provider: info.address };
    std::fs::write(&pending_path, serde_json::to_vec(&pending)?)
        .wrap_err_with(|| format!("cannot write {}", pending_path.display()))?;

    let target = Download {
        http: &http,
        url: &args.provider,
        domain: info.domain(chain_id),
        key: &key,
        asset_id: args.id,
        order_id,
    };
    let remembered = (args.order.is_none() && remembered.is_some()).then_some(pending_path.as_path());
    let resumed_from = fetch(&target, &part, remembered).await?;

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

/// Streams the content into `part` with a progress bar; a refusal of a remembered order says
/// how to drop it, and a break-off that the `.part` file is kept for a rerun.
async fn fetch(target: &Download<'_>, part: &Path, remembered: Option<&Path>) -> Result<u64> {
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
    match result {
        Ok(resumed) => Ok(resumed),
        Err(agora_client::Error::Refused { status, message, .. }) => {
            let hint = match remembered {
                Some(path) if matches!(status, 403 | 404 | 410) => format!(
                    " (order {} was remembered in {}: delete it to spend a new access token)",
                    target.order_id,
                    path.display()
                ),
                _ => String::new(),
            };
            bail!("provider refused the download ({status}): {message}{hint}")
        }
        Err(err @ agora_client::Error::BrokenOff { .. }) => {
            bail!("{err}; {} is kept: rerun the same command to resume", part.display())
        }
        Err(err) => Err(err.into()),
    }
}
