//! `agora asset publish --from-job`: a compute job's output published as a new asset.
//!
//! Before anything is uploaded or sent, the job must have a posted result (posted or
//! finalized), its output folder (the CID of its `ResultPosted` event) is fetched from IPFS and
//! hashed as the runtime hashes it, and that hash must be the one posted on chain. The metadata
//! then records the lineage ([`DerivedFrom`]): the job, its output, its input assets (rebuilt
//! from the chain and the job's spec, as a verifier does) and the provider's signed receipt
//! when its service serves one that checks out.
//!
//! With `--upstream-share`, the new asset's revenue split gives that part of every sale to the
//! inputs' split recipients ([`upstream_split`]). The splitter holds one split per asset and no
//! per-asset payee, so the inputs' splits are copied as they are at publish time: a later
//! change of an input's split is not followed.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use agora_contracts::{
    Agora,
    compute_market::{ComputeMarket, IComputeMarket},
    tx,
};
use agora_provider::{
    chain::{
        ChainReader,
        job_status::{DISPUTED, FINALIZED, RESULT_POSTED},
    },
    jobs::{ModelFile, Plan, SignedReceipt},
    metadata::{DerivedFrom, DerivedInput},
    storage::Storage,
    verify,
};
use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use eyre::{Result, WrapErr, bail, eyre};

use super::Kind;
use crate::{
    GlobalArgs, chain,
    cmd::job::{Service, fetch_output, job, output_files, provider_record, status_name},
};

/// How long an input asset read from the chain stays cached while the job's plan is rebuilt.
const ASSET_TTL: Duration = Duration::from_secs(30);

/// The splitter's limit on the recipients of one split (`RevenueSplitter.MAX_RECIPIENTS`).
const MAX_RECIPIENTS: usize = 64;

/// All of a sale, in basis points.
const FULL_BPS: u64 = 10_000;

/// A job's output, fetched and checked against the chain, ready to publish.
#[derive(Debug)]
pub(super) struct Derivation {
    /// Holds the fetched files until the publish ends.
    _dir: tempfile::TempDir,
    /// What is published: one output file, or the whole output folder.
    pub(super) path: PathBuf,
    /// The published files and the sha-256 each hashed to; the upload must give the same.
    pub(super) files: Vec<(String, B256)>,
    /// The metadata's `derivedFrom`.
    pub(super) derived_from: DerivedFrom,
    /// Each input's split as it is now (with `--upstream-share`), in input order.
    upstream_splits: Vec<Vec<(Address, u16)>>,
    /// Why the provider's receipt is not included, when it is not.
    pub(super) receipt_missing: Option<String>,
}

impl Derivation {
    /// The split the asset is published with: `own` (the `--split` shares, or all to `owner`)
    /// with the upstream share taken out of it when one is asked for; `own` as given otherwise.
    pub(super) fn split(&self, own: Vec<(Address, u16)>, owner: Address) -> Result<Vec<(Address, u16)>> {
        let Some(share) = self.derived_from.upstream_share_bps else { return Ok(own) };
        let own = if own.is_empty() { vec![(owner, 10_000)] } else { own };
        let split = upstream_split(&own, &self.upstream_splits, share);
        if split.len() > MAX_RECIPIENTS {
            bail!(
                "with --upstream-share the split would have {} recipients, more than the {MAX_RECIPIENTS} the splitter takes",
                split.len()
            );
        }
        Ok(split)
    }

    /// Fails unless the files uploaded are the ones that were hashed against the chain.
    pub(super) fn check_uploaded(&self, listed: &[(ModelFile, u64)]) -> Result<()> {
        let uploaded: Vec<(&str, B256)> = listed.iter().map(|(f, _)| (f.name.as_str(), f.sha256)).collect();
        let hashed: Vec<(&str, B256)> = self.files.iter().map(|(name, sha)| (name.as_str(), *sha)).collect();
        if uploaded != hashed {
            bail!(
                "job {}'s output changed in {} while it was uploaded: it is not what was checked against the chain",
                self.derived_from.job_id,
                self.path.display()
            );
        }
        Ok(())
    }
}

/// Fetches job `id`'s output from IPFS and checks it against the output hash posted on chain,
/// then gathers its lineage: the inputs, the provider's receipt (when served and valid) and,
/// with `upstream_share` (bps), the inputs' current splits. Nothing is uploaded or sent.
pub(super) async fn fetch(
    global: &GlobalArgs,
    storage: &Storage,
    id: U256,
    output_file: Option<&str>,
    kind: Kind,
    upstream_share: Option<u16>,
) -> Result<Derivation> {
    let agora = chain::reader(global).await?;
    let job = job(&agora, id).await?;
    match job.status {
        RESULT_POSTED | FINALIZED => {}
        DISPUTED => {
            bail!("job {id}'s result is disputed: it can be published once the DAO rules for the provider")
        }
        status => bail!(
            "job {id} is {}: only a job with a posted result (result posted or finalized) can be published",
            status_name(status)
        ),
    }
    let output_cid = posted_output(&agora, id).await?;

    // The output folder, as the runtime hashes it: the files directly in it.
    let names = output_files(storage, &output_cid).await.wrap_err_with(|| format!("job {id}'s output"))?;
    match output_file {
        Some(name) if !names.iter().any(|n| n == name) => {
            bail!("job {id}'s output has no file {name:?}; its files: {}", names.join(", "))
        }
        None if names.len() > 1 && kind != Kind::Model => bail!(
            "job {id}'s output holds {} files ({}): publish one of them with --output-file NAME, or all of them as a model (--kind model: a manifest of its files)",
            names.len(),
            names.join(", ")
        ),
        _ => {}
    }
    let dir = tempfile::Builder::new().prefix("agora-publish-").tempdir()?;
    let folder = dir.path().join(format!("job-{id}-output"));
    std::fs::create_dir(&folder).wrap_err_with(|| format!("creating {}", folder.display()))?;
    fetch_output(storage, &output_cid, &names, &folder).await?;
    let (hashed, hash) =
        agora_runtime::hash_dir(&folder).map_err(|err| eyre!("hashing job {id}'s output: {err}"))?;
    let hash: B256 =
        format!("0x{hash}").parse().map_err(|_| eyre!("the output hash {hash:?} is not 32 bytes"))?;
    if hash != job.outputHash {
        bail!(
            "job {id}'s output {output_cid} on IPFS hashes to {hash}, but the output hash posted on chain is {}: refusing to publish it (nothing was uploaded or sent)",
            job.outputHash
        );
    }
    let mut files = Vec::with_capacity(hashed.len());
    for file in hashed {
        let sha256: B256 =
            format!("0x{}", file.sha256).parse().map_err(|_| eyre!("bad sha-256 of {}", file.name))?;
        files.push((file.name, sha256));
    }
    let single = output_file.map(str::to_owned).or_else(|| (files.len() == 1).then(|| files[0].0.clone()));
    let path = match &single {
        Some(name) => {
            files.retain(|(n, _)| n == name);
            folder.join(name)
        }
        None => folder,
    };

    // The inputs as the job's plan has them: the dataset, and the algorithm or model when the
    // job's spec reads one (a `train` job does not).
    let chain_reader = ChainReader::with_provider(agora.provider().clone(), &agora.deployment, ASSET_TTL);
    let (_, stored) = verify::plan(&chain_reader, storage, id)
        .await
        .map_err(|err| eyre!("cannot rebuild job {id}'s inputs from the chain and IPFS: {err}"))?;
    let mut inputs = vec![(job.datasetId, "dataset")];
    if stored.plan.model.is_some() {
        inputs.push((job.algorithmId, "algorithm"));
    }
    let (receipt, receipt_missing) = match receipt(&agora, id, &job, &stored.plan, &output_cid).await {
        Ok(receipt) => (Some(receipt), None),
        Err(err) => (None, Some(format!("{err:#}"))),
    };
    let mut upstream_splits = Vec::new();
    if upstream_share.is_some() {
        for (asset_id, _) in &inputs {
            upstream_splits.push(current_split(&agora, *asset_id).await?);
        }
    }
    Ok(Derivation {
        _dir: dir,
        path,
        files,
        derived_from: DerivedFrom {
            job_id: id.to_string(),
            chain_id: agora.deployment.chain_id,
            output_cid,
            output_hash: job.outputHash,
            output_file: single,
            inputs: inputs
                .iter()
                .map(|(asset_id, role)| DerivedInput {
                    asset_id: asset_id.to_string(),
                    role: (*role).to_owned(),
                })
                .collect(),
            upstream_share_bps: upstream_share,
            receipt,
        },
        upstream_splits,
        receipt_missing,
    })
}

/// The output CID job `id`'s `ResultPosted` event names (the chain keeps only its hash).
async fn posted_output(agora: &Agora, id: U256) -> Result<String> {
    let filter = Filter::new()
        .address(*agora.compute_market.address())
        .event_signature(ComputeMarket::ResultPosted::SIGNATURE_HASH)
        .topic1(B256::from(id))
        .from_block(agora.deployment.deployment_block);
    let logs =
        agora.provider().get_logs(&filter).await.wrap_err_with(|| format!("reading job {id}'s result"))?;
    logs.iter()
        .filter(|log| !log.removed)
        .find_map(|log| log.log_decode::<ComputeMarket::ResultPosted>().ok())
        .map(|log| log.inner.data.resultCid)
        .ok_or_else(|| eyre!("job {id} has a posted output hash but no ResultPosted event was found"))
}

/// The provider's signed receipt for job `id`, from its registered endpoint, when it checks
/// out: signed by the job's provider over the job's inputs, with the posted output.
async fn receipt(
    agora: &Agora,
    id: U256,
    job: &IComputeMarket::Job,
    plan: &Plan,
    output_cid: &str,
) -> Result<SignedReceipt> {
    let registered = provider_record(agora, job.provider).await?;
    let service = Service::new(None, &registered.endpoint)?;
    let body = service.get(&format!("/v1/jobs/{id}/result"), "result request").await?;
    let receipt: SignedReceipt = serde_json::from_value(body["receipt"].clone())
        .map_err(|err| eyre!("the provider's receipt is malformed: {err}"))?;
    let domain = agora_provider::access::domain(agora.deployment.chain_id, job.provider);
    verify::check_receipt(&receipt, id, job, plan, &domain)?;
    if receipt.receipt.outputCid != output_cid {
        bail!("the receipt names the output {}, the chain {output_cid}", receipt.receipt.outputCid);
    }
    Ok(receipt)
}

/// Asset `id`'s split as the splitter has it now (all to its owner if it has none).
async fn current_split(agora: &Agora, id: U256) -> Result<Vec<(Address, u16)>> {
    let split = tx::call(format!("splitter.getSplit({id})"), agora.splitter.getSplit(id)).await?;
    if split.is_empty() {
        let owner = tx::call("registry.ownerOf", agora.registry.ownerOf(id)).await?;
        return Ok(vec![(owner, 10_000)]);
    }
    Ok(split.into_iter().map(|share| (share.recipient, share.bps)).collect())
}

/// `--upstream-share` as basis points: a percentage above 0 and below 100 with at most two
/// decimals, with or without `%` (`10%`, `10`, `2.5%`).
pub(super) fn parse_share(text: &str) -> Result<u16> {
    let bad = || {
        eyre!(
            "--upstream-share {text:?}: expected a percentage above 0 and below 100 with at most two decimals, e.g. 10% or 2.5%"
        )
    };
    let number = text.trim().strip_suffix('%').unwrap_or(text.trim()).trim();
    let (whole, fraction) = match number.split_once('.') {
        Some((_, "")) => return Err(bad()),
        Some(parts) => parts,
        None => (number, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 2 || fraction.len() > 2 || !digits(whole) || !digits(fraction) {
        return Err(bad());
    }
    let whole: u16 = whole.parse().map_err(|_| bad())?;
    let fraction: u16 = format!("{fraction:0<2}").parse().map_err(|_| bad())?;
    match whole * 100 + fraction {
        0 => Err(bad()),
        bps => Ok(bps),
    }
}

/// The split of an asset that gives `share` bps of every sale to its inputs: evenly per input,
/// each input's part over its recipients by their bps; `own` shares the rest by theirs. Parts
/// are rounded down, and what rounding leaves goes to the largest of `own` (the first by address
/// on a tie), so the shares sum to exactly 10000. One entry per address, sorted by address, no
/// zero share.
pub(super) fn upstream_split(
    own: &[(Address, u16)],
    inputs: &[Vec<(Address, u16)>],
    share: u16,
) -> Vec<(Address, u16)> {
    let mut merged: BTreeMap<Address, u64> = BTreeMap::new();
    let parts = inputs.len() as u64;
    let mut upstream = 0;
    for split in inputs {
        let total: u64 = split.iter().map(|(_, bps)| u64::from(*bps)).sum();
        if total == 0 {
            continue;
        }
        for (recipient, bps) in split {
            let amount = u64::from(share) * u64::from(*bps) / (parts * total);
            *merged.entry(*recipient).or_default() += amount;
            upstream += amount;
        }
    }
    let rest = FULL_BPS - upstream;
    let own_total: u64 = own.iter().map(|(_, bps)| u64::from(*bps)).sum::<u64>().max(1);
    let mut given = 0;
    for (recipient, bps) in own {
        let amount = rest * u64::from(*bps) / own_total;
        *merged.entry(*recipient).or_default() += amount;
        given += amount;
    }
    // `max_by_key` keeps the last maximum: reversed, that is the first by address.
    if let Some((largest, _)) = own.iter().rev().max_by_key(|(_, bps)| *bps) {
        *merged.entry(*largest).or_default() += rest - given;
    }
    merged
        .into_iter()
        .filter(|(_, bps)| *bps > 0)
        .map(|(recipient, bps)| (recipient, u16::try_from(bps).unwrap_or(u16::MAX)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_shares_are_percentages_strictly_between_0_and_100() {
        assert_eq!(parse_share("10%").unwrap(), 1_000);
        assert_eq!(parse_share("10").unwrap(), 1_000);
        assert_eq!(parse_share(" 2.5 % ").unwrap(), 250);
        assert_eq!(parse_share("0.01%").unwrap(), 1);
        assert_eq!(parse_share("99.99").unwrap(), 9_999);
        for bad in ["0", "0%", "0.00", "100", "100%", "-5%", "1e1", "10.001", "", "%", "ten", ".5", "5."] {
            let err =
                parse_share(bad).map(|bps| format!("accepted as {bps}")).unwrap_or_else(|e| e.to_string());
            assert!(err.starts_with("--upstream-share"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_upstream_share_is_spread_over_the_inputs_splits_and_the_rest_is_the_publishers() {
        let (a, b, c, me) = (
            Address::repeat_byte(0xa),
            Address::repeat_byte(0xb),
            Address::repeat_byte(0xc),
            Address::repeat_byte(1),
        );
        // 10%: 5% per input; the dataset's 70/30 split gives 3.5% and 1.5%; the model's owner 5%.
        let split =
            upstream_split(&[(me, 10_000)], &[vec![(a, 7_000), (b, 3_000)], vec![(c, 10_000)]], 1_000);
        assert_eq!(split, [(me, 9_000), (a, 350), (b, 150), (c, 500)]);
        // The publisher is also an input's recipient: merged into one entry.
        let split = upstream_split(&[(me, 10_000)], &[vec![(me, 5_000), (a, 5_000)]], 2_000);
        assert_eq!(split, [(me, 9_000), (a, 1_000)]);
        // Rounding: 1 bps over three inputs of three recipients each rounds every part to 0,
        // all of it stays with the publisher's largest share; sums stay 10000.
        let thirds = vec![(a, 3_334), (b, 3_333), (c, 3_333)];
        let split = upstream_split(&[(me, 6_000), (b, 4_000)], &[thirds.clone(), thirds.clone(), thirds], 1);
        assert_eq!(split, [(me, 6_000), (b, 4_000)]);
        let sevenths: Vec<(Address, u16)> =
            (1..=7u8).map(|i| (Address::repeat_byte(0x10 + i), 1_428)).collect();
        let split =
            upstream_split(&[(a, 3_333), (b, 3_333), (c, 3_334)], &[sevenths.clone(), sevenths], 1_234);
        assert_eq!(split.iter().map(|(_, bps)| u32::from(*bps)).sum::<u32>(), 10_000);
        assert!(split.windows(2).all(|pair| pair[0].0 < pair[1].0), "sorted by address");
        assert!(split.iter().all(|(_, bps)| *bps > 0));
        // The remainder went to the largest own share.
        let own_c = split.iter().find(|(r, _)| *r == c).map(|(_, bps)| *bps).unwrap();
        let own_a = split.iter().find(|(r, _)| *r == a).map(|(_, bps)| *bps).unwrap();
        assert!(own_c > own_a, "{split:?}");
    }
}
