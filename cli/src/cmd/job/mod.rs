//! `agora job`: compute jobs on the ComputeMarket — submit one (the spec to IPFS, the payment
//! into escrow, the signed request to the provider), follow it, fetch and check its result,
//! re-execute it locally and dispute a result that does not reproduce, or take the payment back
//! when nothing was posted by the deadline.

pub(crate) use agora_client::job::{Service, fetch_output, job, output_files, provider_record};
pub(crate) use agora_contracts::words::job_status_name as status_name;
use std::{path::PathBuf, time::Duration};

use agora_client::job;
use agora_contracts::{
    Agora,
    compute_market::{ComputeMarket, IComputeMarket},
    tx,
};
use agora_provider::{jobs::SpecDocument, storage::Storage, verify::Verdict};
use alloy::primitives::{Address, B256, U256};
use clap::{Args, Subcommand};
use eyre::{Result, WrapErr, bail, eyre};
use serde::Serialize;
use serde_json::{Value, json};
use url::Url;

use crate::{
    GlobalArgs, chain,
    cmd::asset::IpfsArgs,
    currency::{Currency, Units},
    output, revert,
    wallet::SignerArgs,
};

/// How long one request to Kubo may take.
const IPFS_TIMEOUT: Duration = Duration::from_secs(60);

/// Job commands.
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Open a job on the ComputeMarket (escrowing the provider's price) and send it to the provider.
    ///
    /// Example: agora job submit --dataset 1 --model 2 --provider 0x70997970… --spec '{"kind":"embed"}'
    Submit(SubmitArgs),
    /// A job's state on chain and, when its provider answers, at the provider.
    ///
    /// Example: agora job status 3
    Status(StatusArgs),
    /// Fetch a job's result and signed receipt; check the receipt and, with --output, the output files.
    ///
    /// Example: agora job result 3 --wait 120 --output ./embeddings
    Result(ResultArgs),
    /// Re-execute a job locally from its inputs on IPFS and compare with the posted output hash.
    ///
    /// Example: agora job verify 3 --dispute
    Verify(VerifyArgs),
    /// Print an algorithm job's log (its stdout and stderr, as the provider's sandbox kept them).
    /// A job over a compute-only dataset has one only when the dataset's owner allows it.
    ///
    /// Example: agora job log 3
    Log(StatusArgs),
    /// Dispute a posted result within its challenge window, bonding the DAO's dispute bond.
    ///
    /// Example: agora job dispute 3 --reason "the output does not reproduce"
    Dispute(DisputeArgs),
    /// Take back the payment of a job whose provider posted nothing by the deadline.
    ///
    /// Example: agora job refund 3
    Refund(RefundArgs),
    /// Settle a dispute the DAO did not rule on by its ruling deadline: the result stands (the
    /// provider is credited its payout), the challenger's bond is credited back. Anyone may.
    ///
    /// Example: agora job expire-dispute 3
    ExpireDispute(ExpireDisputeArgs),
}

/// Where the provider's service is.
#[derive(Debug, Clone, Args)]
pub struct ServiceArgs {
    /// The provider's HTTP URL [default: the endpoint it registered on chain].
    #[arg(long = "provider-url")]
    pub url: Option<Url>,
}

/// Arguments of `job submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The dataset asset (one of your access tokens for it is spent; bought with the job when you
    /// hold none).
    #[arg(long)]
    pub dataset: U256,
    /// The algorithm or model asset (when it is priced, one of your access tokens for it is spent;
    /// bought with the job when you hold none).
    #[arg(long, visible_alias = "algorithm")]
    pub model: U256,
    /// The registered provider that runs it [default: the best one that takes it: active, holding
    /// the key of every encrypted input, answering /health, largest stake first; one that cannot
    /// be reached or refuses the spec is passed over].
    #[arg(long)]
    pub provider: Option<Address>,
    /// What to run: a runtime job spec as JSON, or a file holding one, e.g. '{"kind":"embed"}'.
    #[arg(long)]
    pub spec: String,
    /// Seconds (by the chain's clock) the provider has to post a result.
    #[arg(long, default_value_t = 3600)]
    pub deadline_secs: u64,
    /// The most you pay the provider, in its currency's units [default: its current price].
    #[arg(long)]
    pub max_price: Option<String>,
    /// The most the whole job may cost you (access tokens bought for it plus the provider's
    /// price), in the provider's currency's units; refused before signing when it is more.
    #[arg(long)]
    pub max_total: Option<String>,
    /// The provider's service.
    #[command(flatten)]
    pub service: ServiceArgs,
    /// The Kubo node the spec goes to.
    #[command(flatten)]
    pub ipfs: IpfsArgs,
    /// The signer (the consumer).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Arguments of `job status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The job's id.
    pub id: U256,
    /// The provider's service.
    #[command(flatten)]
    pub service: ServiceArgs,
}

/// Arguments of `job result`.
#[derive(Debug, Args)]
pub struct ResultArgs {
    /// The job's id.
    pub id: U256,
    /// Wait up to this many seconds for a queued or running job to end.
    #[arg(long, default_value_t = 0)]
    pub wait: u64,
    /// Fetch the output files from IPFS into this folder and check their hash.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// The provider's service.
    #[command(flatten)]
    pub service: ServiceArgs,
    /// The Kubo node the output comes from.
    #[command(flatten)]
    pub ipfs: IpfsArgs,
}

/// Arguments of `job verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The job's id.
    pub id: U256,
    /// Dispute the result on chain when it does not reproduce.
    #[arg(long)]
    pub dispute: bool,
    /// Re-execute in this folder (kept) [default: a temporary folder].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// The dataset's plaintext, e.g. saved by `agora asset download`; checked against the
    /// on-chain digest. A private dataset needs it unless the signer holds its key (its owner).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// The provider's service (its receipt is checked when it answers).
    #[command(flatten)]
    pub service: ServiceArgs,
    /// The Kubo node the inputs come from.
    #[command(flatten)]
    pub ipfs: IpfsArgs,
    /// The signer of the dispute (with --dispute); given without it, its key decrypts the
    /// private inputs it holds a key copy of (an owner re-executing a job over its own assets).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Arguments of `job dispute`.
#[derive(Debug, Args)]
pub struct DisputeArgs {
    /// The job's id.
    pub id: U256,
    /// Why the result is wrong (published on IPFS with the dispute).
    #[arg(long)]
    pub reason: String,
    /// The Kubo node the reason goes to.
    #[command(flatten)]
    pub ipfs: IpfsArgs,
    /// The signer (the challenger, who bonds ETH).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Arguments of `job refund`.
#[derive(Debug, Args)]
pub struct RefundArgs {
    /// The job's id.
    pub id: U256,
    /// The signer (pays the gas; the refund goes to the job's consumer).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Arguments of `job expire-dispute`.
#[derive(Debug, Args)]
pub struct ExpireDisputeArgs {
    /// The job's id.
    pub id: U256,
    /// The signer (pays the gas; the payout and the bond are credited to the provider and the
    /// challenger).
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Runs a job command.
pub async fn run(global: &GlobalArgs, command: JobCommand) -> Result<()> {
    match command {
        JobCommand::Submit(args) => submit(global, args).await,
        JobCommand::Status(args) => status(global, args).await,
        JobCommand::Result(args) => result(global, args).await,
        JobCommand::Verify(args) => verify_job(global, args).await,
        JobCommand::Log(args) => log(global, args).await,
        JobCommand::Dispute(args) => {
            let storage = Storage::new(&args.ipfs.api, IPFS_TIMEOUT)?;
            let (agora, _) = chain::writer(global, &args.signer).await?;
            let reason = json!({ "jobId": args.id.to_string(), "reason": args.reason });
            let (bond, tx_hash) = job::dispute(&agora, &storage, args.id, &reason).await?;
            report_dispute(global, args.id, bond, tx_hash)
        }
        JobCommand::Refund(args) => {
            let (agora, _) = chain::writer(global, &args.signer).await?;
            let job = job(&agora, args.id).await?;
            let units = Currency::from_address(job.currency).units(agora.provider()).await?;
            let receipt = tx::send("computeMarket.refund", agora.compute_market.refund(args.id))
                .await
                .map_err(|e| revert::explain(e, &units))?;
            let refunded = receipt
                .decoded_log::<ComputeMarket::JobRefunded>()
                .ok_or_else(|| eyre!("computeMarket.refund: the receipt has no JobRefunded event"))?
                .data;
            if global.json {
                return output::json(&json!({
                    "jobId": args.id.to_string(),
                    "consumer": job.consumer,
                    "amount": refunded.amount.to_string(),
                    "txHash": receipt.transaction_hash,
                }));
            }
            println!("refunded {} to {} for job {}", units.format(refunded.amount), job.consumer, args.id);
            Ok(())
        }
        JobCommand::ExpireDispute(args) => {
            let (agora, _) = chain::writer(global, &args.signer).await?;
            let job = job(&agora, args.id).await?;
            let units = Currency::from_address(job.currency).units(agora.provider()).await?;
            let receipt =
                tx::send("computeMarket.expireDispute", agora.compute_market.expireDispute(args.id))
                    .await
                    .map_err(|e| revert::explain(e, &units))?;
            let expired = receipt
                .decoded_log::<ComputeMarket::DisputeExpired>()
                .ok_or_else(|| eyre!("computeMarket.expireDispute: the receipt has no DisputeExpired event"))?
                .data;
            if global.json {
                return output::json(&json!({
                    "jobId": args.id.to_string(),
                    "provider": job.provider,
                    "challenger": expired.challenger,
                    "bond": expired.bond.to_string(),
                    "rulingDeadline": expired.rulingDeadline.to_string(),
                    "txHash": receipt.transaction_hash,
                }));
            }
            println!(
                "job {}'s dispute passed its ruling deadline unruled: the result stands, provider {} is credited its payout and {} gets its bond back (claim with `agora provider withdraw`)",
                args.id, job.provider, expired.challenger
            );
            Ok(())
        }
    }
}

async fn submit(global: &GlobalArgs, args: SubmitArgs) -> Result<()> {
    let spec = parse_spec(&args.spec)?;
    let storage = Storage::new(&args.ipfs.api, IPFS_TIMEOUT)?;
    let (agora, signer) = chain::writer(global, &args.signer).await?;
    let key = signer.key.clone().ok_or_else(|| {
        eyre!("job requests are signed with a local key: use --keystore or AGORA_PRIVATE_KEY, not a hardware wallet")
    })?;
    let plan = match args.provider {
        Some(provider) => {
            let url = args.service.url.as_ref();
            let request = job::Request { dataset: args.dataset, model: args.model, provider, spec, url };
            job::plan(&agora, &storage, signer.address, request).await?
        }
        None => {
            if args.service.url.is_some() {
                bail!("--provider-url needs --provider: the URL is that provider's");
            }
            let (plan, passed) =
                job::plan_on_best(&agora, &storage, signer.address, args.dataset, args.model, spec).await?;
            for passed in passed {
                eprintln!("passed over provider {}: {}", passed.address, passed.reason);
            }
            plan
        }
    };
    let units = &plan.units;
    let max_payment = args.max_price.as_deref().map(|text| units.parse(text)).transpose()?;
    // What the job costs, shown before anything is signed.
    if !global.json {
        print_costs(&agora, &plan).await?;
    }
    if let Some(text) = &args.max_total {
        let max_total = units.parse(text)?;
        let Some(total) = plan.total_in_provider_currency() else {
            bail!(
                "--max-total is in the provider's currency ({}), but this job is also paid in another; use --max-price and check the prices above",
                units.symbol
            );
        };
        if total > max_total {
            bail!(
                "the job costs {} in all, more than --max-total {}",
                units.format(total),
                units.format(max_total)
            );
        }
    }
    let submitted = plan.submit(&agora, &key, &storage, args.deadline_secs, max_payment).await?;
    let job_id = submitted.job_id;
    if global.json {
        let inputs: Vec<Value> = plan
            .costs
            .iter()
            .map(|cost| {
                json!({
                    "assetId": cost.asset_id.to_string(),
                    "role": cost.role,
                    "spendsToken": cost.spends_token,
                    "bought": cost.buy.is_some(),
                    "currency": cost.currency,
                    "paid": cost.buy.unwrap_or_default().to_string(),
                })
            })
            .collect();
        return output::json(&json!({
            "jobId": job_id.to_string(),
            "inputs": inputs,
            "algorithmOrderId": submitted.algorithm_order_id.to_string(),
            "provider": plan.provider,
            "specCid": submitted.spec_cid,
            "currency": plan.registered.currency,
            "payment": submitted.payment.to_string(),
            "deadline": submitted.deadline,
            "status": submitted.status,
            "txHash": submitted.tx_hash,
        }));
    }
    println!("submitted job {job_id} to {}", plan.service.base);
    output::table(&[
        ("job id".into(), job_id.to_string()),
        ("provider".into(), plan.provider.to_string()),
        ("payment (escrowed)".into(), units.format(submitted.payment)),
        ("deadline".into(), format!("{} (unix time)", submitted.deadline)),
        ("spec".into(), submitted.spec_cid),
        ("status".into(), submitted.status),
    ]);
    Ok(())
}

/// Prints what the job costs: a token of each priced input the consumer does not hold yet
/// (bought in the same transaction), the provider's price, and the total per currency.
async fn print_costs(agora: &Agora, plan: &job::Plan) -> Result<()> {
    let units_of = |currency: Address| Currency::from_address(currency).units(agora.provider());
    let mut rows = Vec::new();
    for cost in &plan.costs {
        let text = match (cost.spends_token, cost.buy) {
            (false, _) => "free: no access token needed".to_owned(),
            (true, None) => "spends one of your access tokens".to_owned(),
            (true, Some(paid)) => {
                format!(
                    "{} (buys one access token with the job)",
                    units_of(cost.currency).await?.format(paid)
                )
            }
        };
        rows.push((format!("{} {}", cost.role, cost.asset_id), text));
    }
    let fee_bps = plan.fee_bps;
    rows.push((
        "provider".into(),
        format!(
            "{} (escrowed until the result is final; the DAO's fee is {}.{:02}% of it)",
            plan.units.format(U256::from(plan.registered.price)),
            fee_bps / 100,
            fee_bps % 100
        ),
    ));
    let mut parts = Vec::new();
    for (currency, amount) in plan.totals() {
        parts.push(units_of(currency).await?.format(amount));
    }
    rows.push(("total".into(), parts.join(" + ")));
    output::table(&rows);
    Ok(())
}

async fn status(global: &GlobalArgs, args: StatusArgs) -> Result<()> {
    let agora = chain::reader(global).await?;
    let job = job(&agora, args.id).await?;
    let units = Currency::from_address(job.currency).units(agora.provider()).await?;
    // The chain is the authority; the provider's view is added when it answers.
    let service = match job::service_of(&agora, job.provider, args.service.url.as_ref()).await {
        Ok(service) => {
            service.get(&format!("/v1/jobs/{}", args.id), "status request").await.map_err(Into::into)
        }
        Err(err) => Err(err),
    };
    let view = JobView::new(args.id, &job, &units);
    // An open job whose provider does not answer stays bound to it on chain: say what can be done.
    let advice = (service.is_err() && job.status == agora_provider::chain::job_status::OPEN).then(|| {
        format!(
            "the job stays with provider {}: it runs when the provider is back (its queue survives a restart), \
             or `agora job refund {}` takes the payment back after the deadline {} (unix time)",
            job.provider, args.id, job.deadline
        )
    });
    if global.json {
        let mut value = serde_json::to_value(&view)?;
        value["service"] = match &service {
            Ok(body) => body.clone(),
            Err(err) => json!({ "error": format!("{err:#}"), "advice": advice }),
        };
        return output::json(&value);
    }
    let mut rows = view.rows();
    match service {
        Ok(body) => {
            let mut text = body["status"].as_str().unwrap_or("unknown").to_owned();
            if let Some(reason) = body["reason"].as_str() {
                text.push_str(&format!(": {reason}"));
            }
            if let Some(progress) = body["progress"].as_object() {
                let phase = progress.get("phase").and_then(Value::as_str).unwrap_or("");
                let done = progress.get("done").cloned().unwrap_or_default();
                let total = progress.get("total").cloned().unwrap_or_default();
                text.push_str(&format!(" ({phase} {done}/{total})"));
            }
            rows.push(("at the provider".into(), text));
        }
        Err(err) => {
            rows.push(("at the provider".into(), format!("{err:#}")));
            rows.extend(advice.map(|advice| ("what you can do".into(), advice)));
        }
    }
    output::table(&rows);
    Ok(())
}

async fn result(global: &GlobalArgs, args: ResultArgs) -> Result<()> {
    // The output hash covers every file in the folder: a stale one would spoil the check.
    if let Some(dir) = &args.output
        && std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
    {
        bail!("--output {} is not empty", dir.display());
    }
    let agora = chain::reader(global).await?;
    let chain_job = job::job(&agora, args.id).await?;
    let service = job::service_of(&agora, chain_job.provider, args.service.url.as_ref()).await?;
    service.check_identity(chain_job.provider, agora.deployment.chain_id).await?;
    job::wait(&service, args.id, Duration::from_secs(args.wait), &mut |_| {}).await?;
    let (chain_job, receipt) = job::receipt(&agora, &service, args.id).await?;
    let mut files = Vec::new();
    if let Some(dir) = &args.output {
        let storage = Storage::new(&args.ipfs.api, IPFS_TIMEOUT)?;
        files = job::fetch_checked_output(&storage, &receipt, dir).await?;
    }
    let r = &receipt.receipt;
    if global.json {
        return output::json(&json!({
            "jobId": args.id.to_string(),
            "provider": chain_job.provider,
            "resultCid": r.outputCid,
            "outputHash": r.outputHash,
            "receiptSigner": chain_job.provider,
            "inputCids": receipt.input_cids,
            "modelCid": r.modelCid,
            "runtimeVersion": r.runtimeVersion,
            "device": r.device,
            "cpuFeatures": receipt.cpu_features,
            "output": args.output,
            "files": files,
            "receipt": receipt,
        }));
    }
    let mut rows = vec![
        ("job id".into(), args.id.to_string()),
        ("result".into(), r.outputCid.clone()),
        ("output hash".into(), format!("{} (matches the chain)", r.outputHash)),
        ("receipt".into(), format!("signed by the provider {}", chain_job.provider)),
        ("inputs".into(), receipt.input_cids.join(", ")),
        ("runtime".into(), format!("{} on {} ({})", r.runtimeVersion, r.device, receipt.cpu_features)),
    ];
    if let Some(dir) = &args.output {
        rows.push(("output".into(), format!("{} ({} files, hash checked)", dir.display(), files.len())));
    }
    output::table(&rows);
    Ok(())
}

async fn log(global: &GlobalArgs, args: StatusArgs) -> Result<()> {
    let agora = chain::reader(global).await?;
    let chain_job = job::job(&agora, args.id).await?;
    let service = job::service_of(&agora, chain_job.provider, args.service.url.as_ref()).await?;
    let response = service.get_response(&format!("/v1/jobs/{}/log", args.id), "log request").await?;
    let truncated = response.headers().get("x-agora-log-truncated").is_some_and(|v| v == "true");
    let log = response.bytes().await.map_err(|err| eyre!("reading the log from {}: {err}", service.base))?;
    if global.json {
        return output::json(&json!({
            "jobId": args.id.to_string(),
            "log": String::from_utf8_lossy(&log),
            "truncated": truncated,
        }));
    }
    use std::io::Write as _;
    std::io::stdout().write_all(&log)?;
    if truncated {
        eprintln!("(the log was cut at the provider's size limit)");
    }
    Ok(())
}

async fn verify_job(global: &GlobalArgs, args: VerifyArgs) -> Result<()> {
    let storage = Storage::new(&args.ipfs.api, IPFS_TIMEOUT)?;
    let agora = chain::reader(global).await?;
    let chain_job = job::job(&agora, args.id).await?;
    if chain_job.outputHash.is_zero() {
        bail!("job {} has no posted result to verify: it is {}", args.id, status_name(chain_job.status));
    }
    // A signer is resolved up front so a dispute does not fail after a long re-execution.
    let writer = if args.dispute { Some(chain::writer(global, &args.signer).await?.0) } else { None };
    // The receipt is checked when the provider serves it; the posted hash is what is compared.
    let receipt = match job::service_of(&agora, chain_job.provider, args.service.url.as_ref()).await {
        Ok(service) => job::receipt(&agora, &service, args.id).await.map(|(_, receipt)| receipt),
        Err(err) => Err(err),
    };
    if args.service.url.is_some()
        && let Err(err) = &receipt
    {
        bail!("{err:#}");
    }
    let temp;
    let work_dir = match &args.work_dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::Builder::new().prefix("agora-verify-").tempdir()?;
            temp.path().to_path_buf()
        }
    };
    // A private input's owner re-executes with the key copy wrapped for it.
    let verifier = args.signer.local_key_if_given().await?;
    let dataset = args.dataset.as_deref();
    let verdict =
        job::verify(&agora, &storage, args.id, receipt.as_ref().ok(), dataset, verifier.as_ref(), &work_dir)
            .await?;
    let mut disputed = None;
    if !verdict.matches()
        && let Some(writer) = &writer
    {
        let reason = json!({
            "jobId": args.id.to_string(),
            "reason": "re-execution does not reproduce the posted output hash",
            "postedOutputHash": verdict.claimed,
            "recomputedOutputHash": verdict.recomputed,
            "runtimeVersion": verdict.runtime_version,
            "cpuFeatures": verdict.cpu_features,
        });
        disputed = Some(job::dispute(writer, &storage, args.id, &reason).await?);
    }
    let receipt_note = match &receipt {
        Ok(_) => "checked: signed by the provider over the job's inputs and posted hash".to_owned(),
        Err(err) => format!("not checked ({err:#})"),
    };
    print_verdict(global, &verdict, &receipt_note, disputed)?;
    if !verdict.matches() && disputed.is_none() {
        bail!(
            "mismatch: job {} posted {}, the re-execution gives {} (dispute it with --dispute)",
            args.id,
            verdict.claimed,
            verdict.recomputed
        );
    }
    Ok(())
}

fn print_verdict(
    global: &GlobalArgs,
    verdict: &Verdict,
    receipt_note: &str,
    disputed: Option<(U256, B256)>,
) -> Result<()> {
    if global.json {
        return output::json(&json!({
            "jobId": verdict.job_id.to_string(),
            "provider": verdict.provider,
            "match": verdict.matches(),
            "postedOutputHash": verdict.claimed,
            "recomputedOutputHash": verdict.recomputed,
            "runtimeVersion": verdict.runtime_version,
            "cpuFeatures": verdict.cpu_features,
            "receipt": receipt_note,
            "disputed": disputed.is_some(),
            "disputeTxHash": disputed.map(|(_, hash)| hash),
        }));
    }
    let word = if verdict.matches() { "match" } else { "MISMATCH" };
    println!("{word}: job {} re-executed locally", verdict.job_id);
    let mut rows = vec![
        ("posted output hash".into(), verdict.claimed.to_string()),
        ("recomputed".into(), verdict.recomputed.to_string()),
        ("receipt".into(), receipt_note.to_owned()),
        ("runtime".into(), format!("{} ({})", verdict.runtime_version, verdict.cpu_features)),
    ];
    if let Some((bond, hash)) = disputed {
        rows.push(("disputed".into(), format!("bond {} in {hash}", output::ether(bond))));
    }
    output::table(&rows);
    Ok(())
}

fn report_dispute(global: &GlobalArgs, id: U256, bond: U256, tx_hash: B256) -> Result<()> {
    if global.json {
        return output::json(
            &json!({ "jobId": id.to_string(), "bond": bond.to_string(), "txHash": tx_hash }),
        );
    }
    println!("disputed job {id} with a bond of {}; the DAO rules on it", output::ether(bond));
    Ok(())
}

/// The spec document for `--spec`: inline JSON or a file, either a whole document
/// (`{"version":1,"job":…}`) or just its `job`.
fn parse_spec(text: &str) -> Result<SpecDocument> {
    let path = std::path::Path::new(text);
    let bytes = if path.is_file() {
        std::fs::read(path).wrap_err_with(|| format!("reading the spec {}", path.display()))?
    } else {
        text.as_bytes().to_vec()
    };
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|err| eyre!("--spec is neither a file nor JSON: {err}"))?;
    job::spec_document(value).map_err(|err| eyre!("invalid --spec: {err}"))
}

/// One job as `job status` prints it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobView {
    job_id: String,
    status: &'static str,
    consumer: Address,
    provider: Address,
    dataset_id: String,
    algorithm_id: String,
    currency: Address,
    /// Base units.
    payment: String,
    deadline: u64,
    challenge_end: u64,
    output_hash: Option<B256>,
    #[serde(skip)]
    payment_display: String,
}

impl JobView {
    fn new(id: U256, job: &IComputeMarket::Job, units: &Units) -> Self {
        let payment = U256::from(job.payment);
        Self {
            job_id: id.to_string(),
            status: status_name(job.status),
            consumer: job.consumer,
            provider: job.provider,
            dataset_id: job.datasetId.to_string(),
            algorithm_id: job.algorithmId.to_string(),
            currency: job.currency,
            payment: payment.to_string(),
            deadline: job.deadline,
            challenge_end: job.challengeEnd,
            output_hash: (!job.outputHash.is_zero()).then_some(job.outputHash),
            payment_display: units.format(payment),
        }
    }

    fn rows(&self) -> Vec<(String, String)> {
        let mut rows = vec![
            ("job".into(), self.job_id.clone()),
            ("on chain".into(), self.status.into()),
            ("consumer".into(), self.consumer.to_string()),
            ("provider".into(), self.provider.to_string()),
            ("dataset".into(), self.dataset_id.clone()),
            ("algorithm/model".into(), self.algorithm_id.clone()),
            ("payment".into(), self.payment_display.clone()),
            ("deadline".into(), format!("{} (unix time)", self.deadline)),
        ];
        if let Some(hash) = self.output_hash {
            rows.push(("output hash".into(), hash.to_string()));
            rows.push(("challenge window ends".into(), format!("{} (unix time)", self.challenge_end)));
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_inline_or_files_and_checked() {
        assert!(parse_spec(r#"{"kind":"embed","batch_size":2}"#).is_ok());
        assert!(parse_spec("not json").unwrap_err().to_string().contains("neither a file nor JSON"));
        assert!(parse_spec(r#"{"kind":"dance"}"#).unwrap_err().to_string().starts_with("invalid --spec"));
    }

    #[test]
    fn market_reverts_read_as_sentences() {
        use alloy::sol_types::SolError;
        let data = ComputeMarket::ComputeMarket__DeadlineNotReached {
            jobId: U256::from(3),
            deadline: U256::from(99),
        }
        .abi_encode();
        let err = agora_contracts::Error::Contract {
            action: "computeMarket.refund".into(),
            source: alloy::contract::Error::ContractNotDeployed,
            revert: agora_contracts::Revert::decode(&data),
        };
        assert_eq!(
            revert::explain(err, &Units::eth()).to_string(),
            "job 3's deadline 99 (unix time) has not passed: it can be refunded only after it"
        );
    }
}
