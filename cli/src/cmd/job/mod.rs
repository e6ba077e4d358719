//! `agora job`: compute jobs on the ComputeMarket — submit one (the spec to IPFS, the payment
//! into escrow, the signed request to the provider), follow it, fetch and check its result,
//! re-execute it locally and dispute a result that does not reproduce, or take the payment back
//! when nothing was posted by the deadline.

pub(crate) use agora_contracts::words::job_status_name as status_name;
use std::{path::PathBuf, time::Duration};

use agora_contracts::{
    Agora,
    compute_market::{ComputeMarket, IComputeMarket},
    erc::IERC20,
    marketplace::IMarketplace,
    tx,
};
use agora_provider::{
    chain::ChainReader,
    jobs::{JobRequest, SignedJobRequest, SignedReceipt, SpecDocument},
    storage::Storage,
    verify::{self, Verdict},
};
use agora_runtime::{JobSpec, Limits};
use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
};
use clap::{Args, Subcommand};
use eyre::{Result, WrapErr, bail, eyre};
use serde::Serialize;
use serde_json::{Value, json};
use url::Url;

mod service;

pub(crate) use self::service::{Service, fetch_output, output_files};
use crate::{
    GlobalArgs, chain,
    cmd::asset::{IpfsArgs, Kind, kind_name},
    currency::{Currency, Units},
    output, revert,
    wallet::SignerArgs,
};

/// How long one request to Kubo may take.
const IPFS_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an asset read from the chain stays cached while a job is re-executed.
const ASSET_TTL: Duration = Duration::from_secs(30);
/// How long a signed job request stays valid.
const REQUEST_LIFETIME_SECS: u64 = 600;

/// `IComputeMarket.JobStatus.ResultPosted`.
const RESULT_POSTED: u8 = 2;

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
    /// The registered provider that runs it.
    #[arg(long)]
    pub provider: Address,
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
            let job = job(&agora, args.id).await?;
            let reason = json!({ "jobId": args.id.to_string(), "reason": args.reason });
            let (bond, tx_hash) = dispute(&agora, &storage, args.id, &job, &reason).await?;
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
    let registered = provider_record(&agora, args.provider).await?;
    let currency = Currency::from_address(registered.currency);
    let units = currency.units(agora.provider()).await?;
    let max_payment = match &args.max_price {
        Some(text) => units.parse(text)?,
        None => U256::from(registered.price),
    };
    // The provider must hold the key of every private input, and its service be up and be
    // this provider, before any money moves.
    storage.version().await?;
    // An algorithm job runs an algorithm asset's module; a provider would refuse anything else,
    // after the access tokens were spent.
    if matches!(spec.job, JobSpec::Algorithm(_)) {
        let asset = tx::call("registry.getAsset", agora.registry.getAsset(args.model)).await?;
        if asset.kind != Kind::Algorithm as u8 {
            bail!(
                "asset {} is a {}, not an algorithm: a {{\"kind\":\"algorithm\"}} job runs an algorithm asset's WebAssembly module",
                args.model,
                kind_name(asset.kind)
            );
        }
    }
    let inputs = std::iter::once(args.dataset).chain(spec.needs_model().then_some(args.model));
    for asset_id in inputs {
        check_key_held(&agora, &storage, asset_id, args.provider).await?;
    }
    let service = Service::new(args.service.url.as_ref(), &registered.endpoint)?;
    let info = service.check_identity(args.provider, agora.deployment.chain_id).await?;
    // The spec within what this provider takes (its limits, else the runtime's defaults): a job
    // it would refuse must not cost anything.
    let limits: Limits = serde_json::from_value(info["jobLimits"].clone()).unwrap_or_default();
    spec.job
        .check(&limits)
        .map_err(|err| eyre!("provider {} would refuse this --spec: {err}", args.provider))?;
    // What the job costs, shown before anything is signed: a token of each priced input the
    // consumer does not hold yet (bought in the same transaction) and the provider's price.
    let costs = input_costs(&agora, signer.address, args.dataset, args.model).await?;
    let fee_bps = tx::call("computeMarket.params", agora.compute_market.params()).await?.feeBps;
    let total = print_costs(&agora, global.json, &costs, &registered, &units, fee_bps).await?;
    if let Some(text) = &args.max_total {
        check_max_total(&total, currency, &units, units.parse(text)?)?;
    }
    let spec_cid = storage.add_bytes(serde_json::to_vec_pretty(&spec)?).await?.cid;

    let deadline = chain_time(&agora).await? + args.deadline_secs;
    let params = IComputeMarket::OpenJobParams {
        datasetId: args.dataset,
        algorithmId: args.model,
        provider: args.provider,
        specCid: spec_cid.clone(),
        currency: currency.address(),
        maxPayment: max_payment,
        deadline,
    };
    let price = U256::from(registered.price);
    let receipt = open_job(&agora, signer.address, &costs, params, currency, price).await?;
    let opened = receipt
        .decoded_log::<ComputeMarket::JobOpened>()
        .ok_or_else(|| eyre!("computeMarket.openJob: the receipt has no JobOpened event"))?
        .data;
    let job_id = opened.jobId;

    let nonce = U256::from_be_bytes(rand::random::<[u8; 32]>());
    let message = JobRequest { jobId: job_id, nonce, expiry: unix_now() + REQUEST_LIFETIME_SECS };
    let domain = agora_provider::access::domain(agora.deployment.chain_id, args.provider);
    let request = SignedJobRequest::sign(&message, &domain, &key).wrap_err("signing the job request")?;
    let accepted = service.post("/v1/jobs", &request).await.map_err(|err| {
        eyre!(
            "job {job_id} is open and paid on chain, but {err}; its payment comes back with `agora job refund {job_id}` after the deadline"
        )
    })?;
    let inputs: Vec<Value> = costs
        .iter()
        .map(|cost| {
            json!({
                "assetId": cost.asset_id.to_string(),
                "role": cost.role,
                "spendsToken": cost.spends_token,
                "bought": cost.buy.is_some(),
                "currency": cost.currency.address(),
                "paid": cost.buy.unwrap_or_default().to_string(),
            })
        })
        .collect();
    let report = json!({
        "jobId": job_id.to_string(),
        "inputs": inputs,
        "algorithmOrderId": opened.algorithmOrderId.to_string(),
        "provider": args.provider,
        "specCid": spec_cid,
        "currency": registered.currency,
        "payment": opened.payment.to_string(),
        "deadline": deadline,
        "status": accepted["status"],
        "txHash": receipt.transaction_hash,
    });
    if global.json {
        return output::json(&report);
    }
    println!("submitted job {job_id} to {}", service.base);
    output::table(&[
        ("job id".into(), job_id.to_string()),
        ("provider".into(), args.provider.to_string()),
        ("payment (escrowed)".into(), units.format(opened.payment)),
        ("deadline".into(), format!("{deadline} (unix time)")),
        ("spec".into(), spec_cid),
        ("status".into(), accepted["status"].as_str().unwrap_or("queued").to_owned()),
    ]);
    Ok(())
}

/// One input of a job and what it costs the consumer to use it.
struct InputCost {
    /// `dataset` or `algorithm/model`.
    role: &'static str,
    asset_id: U256,
    /// The listing's currency.
    currency: Currency,
    /// The listing's price of one access token.
    list_price: U256,
    /// Whether the job spends a token of it: always for the dataset, for the algorithm or model
    /// when it is priced (as the ComputeMarket decides).
    spends_token: bool,
    /// What buying one costs now (after any free tier), when the consumer holds none.
    buy: Option<U256>,
}

/// The job's inputs as the ComputeMarket will charge them to `consumer`.
async fn input_costs(agora: &Agora, consumer: Address, dataset: U256, model: U256) -> Result<Vec<InputCost>> {
    let mut costs = Vec::new();
    for (role, asset_id) in [("dataset", dataset), ("algorithm/model", model)] {
        let listing = tx::call("marketplace.getListing", agora.marketplace.getListing(asset_id)).await?;
        let list_price = U256::from(listing.price);
        let spends_token = role == "dataset" || !list_price.is_zero();
        let mut buy = None;
        if spends_token {
            let token = tx::call("registry.accessTokenOf", agora.registry.accessTokenOf(asset_id)).await?;
            let token = IERC20::new(token, agora.provider().clone());
            if tx::call("accessToken.balanceOf", token.balanceOf(consumer)).await?.is_zero() {
                let quote = agora.marketplace.quote(asset_id, consumer, U256::from(1));
                buy = Some(tx::call("marketplace.quote", quote).await?.cost);
            }
        }
        costs.push(InputCost {
            role,
            asset_id,
            currency: Currency::from_address(listing.currency),
            list_price,
            spends_token,
            buy,
        });
    }
    Ok(costs)
}

/// Prints what the job costs (unless `quiet`: `--json` reports it with the result) and returns
/// the total per currency.
async fn print_costs(
    agora: &Agora,
    quiet: bool,
    costs: &[InputCost],
    provider: &IComputeMarket::Provider,
    provider_units: &Units,
    fee_bps: u16,
) -> Result<Vec<(Currency, U256)>> {
    let mut total: Vec<(Currency, U256)> = Vec::new();
    let mut add = |currency: Currency, amount: U256| match total.iter_mut().find(|(c, _)| *c == currency) {
        Some((_, sum)) => *sum += amount,
        None => total.push((currency, amount)),
    };
    let mut rows = Vec::new();
    for cost in costs {
        let units = cost.currency.units(agora.provider()).await?;
        let text = match (cost.spends_token, cost.buy) {
            (false, _) => "free: no access token needed".to_owned(),
            (true, None) => "spends one of your access tokens".to_owned(),
            (true, Some(paid)) => {
                add(cost.currency, paid);
                format!("{} (buys one access token with the job)", units.format(paid))
            }
        };
        rows.push((format!("{} {}", cost.role, cost.asset_id), text));
    }
    let price = U256::from(provider.price);
    let currency = Currency::from_address(provider.currency);
    add(currency, price);
    rows.push((
        "provider".into(),
        format!(
            "{} (escrowed until the result is final; the DAO's fee is {}.{:02}% of it)",
            provider_units.format(price),
            fee_bps / 100,
            fee_bps % 100
        ),
    ));
    let mut parts = Vec::new();
    for (currency, amount) in &total {
        let units = currency.units(agora.provider()).await?;
        parts.push(units.format(*amount));
    }
    rows.push(("total".into(), parts.join(" + ")));
    if !quiet {
        output::table(&rows);
    }
    Ok(total)
}

/// Refuses a job whose total is above `max_total` (in the provider's `currency`).
fn check_max_total(
    total: &[(Currency, U256)],
    currency: Currency,
    units: &Units,
    max_total: U256,
) -> Result<()> {
    if total.iter().any(|(c, _)| *c != currency) {
        bail!(
            "--max-total is in the provider's currency ({}), but this job is also paid in another; use --max-price and check the prices above",
            units.symbol
        );
    }
    let sum = total.iter().map(|(_, amount)| *amount).sum::<U256>();
    if sum > max_total {
        bail!(
            "the job costs {} in all, more than --max-total {}",
            units.format(sum),
            units.format(max_total)
        );
    }
    Ok(())
}

/// Opens the job: with `openJob` when the consumer holds every token it spends, else with the
/// marketplace's `buyAndOpenJob`, which buys the missing ones first in the same transaction.
/// ERC-20 amounts are approved to the contract that pulls them (the marketplace for purchases,
/// the ComputeMarket for the provider's price).
async fn open_job(
    agora: &Agora,
    consumer: Address,
    costs: &[InputCost],
    params: IComputeMarket::OpenJobParams,
    currency: Currency,
    price: U256,
) -> Result<alloy::rpc::types::TransactionReceipt> {
    let units = currency.units(agora.provider()).await?;
    let explain = |e| revert::explain(e, &units);
    let purchases: Vec<_> = costs.iter().filter_map(|cost| cost.buy.map(|paid| (cost, paid))).collect();
    let mut value = U256::ZERO;
    let mut approvals: Vec<(Address, Address, U256)> = Vec::new();
    let mut approve = |token: Address, spender: Address, amount: U256| match approvals
        .iter_mut()
        .find(|(t, s, _)| *t == token && *s == spender)
    {
        Some((_, _, sum)) => *sum += amount,
        None => approvals.push((token, spender, amount)),
    };
    for (cost, paid) in &purchases {
        match cost.currency {
            Currency::Eth => value += *paid,
            Currency::Token(token) => approve(token, *agora.marketplace.address(), *paid),
        }
    }
    match currency {
        Currency::Eth => value += price,
        Currency::Token(token) => approve(token, *agora.compute_market.address(), price),
    }
    for (token, spender, amount) in approvals {
        let erc20 = IERC20::new(token, agora.provider().clone());
        let allowance = tx::call("allowance", erc20.allowance(consumer, spender)).await?;
        if allowance < amount {
            tx::send("approve", erc20.approve(spender, amount)).await.map_err(explain)?;
        }
    }
    if purchases.is_empty() {
        let call = agora.compute_market.openJob(params).value(value);
        return tx::send("computeMarket.openJob", call).await.map_err(explain);
    }
    let purchases = purchases
        .iter()
        .map(|(cost, _)| IMarketplace::Purchase {
            assetId: cost.asset_id,
            currency: cost.currency.address(),
            maxPrice: cost.list_price,
        })
        .collect();
    let call = agora.marketplace.buyAndOpenJob(purchases, params.into()).value(value);
    tx::send("marketplace.buyAndOpenJob", call).await.map_err(explain)
}

async fn status(global: &GlobalArgs, args: StatusArgs) -> Result<()> {
    let agora = chain::reader(global).await?;
    let job = job(&agora, args.id).await?;
    let units = Currency::from_address(job.currency).units(agora.provider()).await?;
    let endpoint = provider_record(&agora, job.provider).await.map(|p| p.endpoint).unwrap_or_default();
    // The chain is the authority; the provider's view is added when it answers.
    let service = match Service::new(args.service.url.as_ref(), &endpoint) {
        Ok(service) => service.get(&format!("/v1/jobs/{}", args.id)).await,
        Err(err) => Err(err),
    };
    let view = JobView::new(args.id, &job, &units);
    if global.json {
        let mut value = serde_json::to_value(&view)?;
        value["service"] = match &service {
            Ok(body) => body.clone(),
            Err(err) => json!({ "error": format!("{err:#}") }),
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
        Err(err) => rows.push(("at the provider".into(), format!("{err:#}"))),
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
    let job = job(&agora, args.id).await?;
    let registered = provider_record(&agora, job.provider).await?;
    let service = Service::new(args.service.url.as_ref(), &registered.endpoint)?;
    service.check_identity(job.provider, agora.deployment.chain_id).await?;
    let waited = std::time::Instant::now();
    loop {
        let state = service.get(&format!("/v1/jobs/{}", args.id)).await?;
        let running = matches!(state["status"].as_str(), Some("queued" | "running"));
        if !running || waited.elapsed() >= Duration::from_secs(args.wait) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let body = service.get(&format!("/v1/jobs/{}/result", args.id)).await?;
    let receipt: SignedReceipt = serde_json::from_value(body["receipt"].clone())
        .map_err(|err| eyre!("the provider's receipt for job {} is malformed: {err}", args.id))?;
    // The receipt must be the provider's signature over what the chain records.
    let job = self::job(&agora, args.id).await?;
    let domain = agora_provider::access::domain(agora.deployment.chain_id, job.provider);
    match receipt.signer(&domain) {
        Some(signer) if signer == job.provider => {}
        Some(signer) => {
            bail!(
                "the receipt of job {} is signed by {signer}, not by the job's provider {}",
                args.id,
                job.provider
            )
        }
        None => bail!("the receipt of job {} has an invalid signature or input list", args.id),
    }
    if receipt.receipt.jobId != args.id {
        bail!("the provider answered with the receipt of job {}, not {}", receipt.receipt.jobId, args.id);
    }
    if receipt.receipt.outputHash != job.outputHash {
        bail!(
            "the receipt's output hash {} is not the one posted on chain ({})",
            receipt.receipt.outputHash,
            job.outputHash
        );
    }
    let mut files = Vec::new();
    if let Some(dir) = &args.output {
        let (storage, cid) = (Storage::new(&args.ipfs.api, IPFS_TIMEOUT)?, &receipt.receipt.outputCid);
        files = output_files(&storage, cid).await?;
        fetch_output(&storage, cid, &files, dir).await?;
        let hash = verify::output_hash(dir)?;
        if hash != receipt.receipt.outputHash {
            bail!(
                "the output fetched from IPFS hashes to {hash}, the receipt and the chain say {}",
                receipt.receipt.outputHash
            );
        }
    }
    let r = &receipt.receipt;
    if global.json {
        return output::json(&json!({
            "jobId": args.id.to_string(),
            "provider": job.provider,
            "resultCid": r.outputCid,
            "outputHash": r.outputHash,
            "receiptSigner": job.provider,
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
        ("receipt".into(), format!("signed by the provider {}", job.provider)),
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
    let job = job(&agora, args.id).await?;
    let endpoint = provider_record(&agora, job.provider).await?.endpoint;
    let service = Service::new(args.service.url.as_ref(), &endpoint)?;
    let response = service.get_response(&format!("/v1/jobs/{}/log", args.id)).await?;
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
    let job = job(&agora, args.id).await?;
    if job.outputHash.is_zero() {
        bail!("job {} has no posted result to verify: it is {}", args.id, status_name(job.status));
    }
    // A signer is resolved up front so a dispute does not fail after a long re-execution.
    let writer = if args.dispute { Some(chain::writer(global, &args.signer).await?.0) } else { None };
    // The receipt is checked when the provider serves it; the posted hash is what is compared.
    let endpoint = provider_record(&agora, job.provider).await.map(|p| p.endpoint).unwrap_or_default();
    let receipt = match Service::new(args.service.url.as_ref(), &endpoint) {
        Ok(service) => service
            .get(&format!("/v1/jobs/{}/result", args.id))
            .await
            .and_then(|body| Ok(serde_json::from_value::<SignedReceipt>(body["receipt"].clone())?)),
        Err(err) => Err(err),
    };
    if args.service.url.is_some()
        && let Err(err) = &receipt
    {
        bail!("{err:#}");
    }
    let chain_reader = ChainReader::with_provider(agora.provider().clone(), &agora.deployment, ASSET_TTL);
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
    let verdict = verify::verify(
        &chain_reader,
        &storage,
        agora.deployment.chain_id,
        args.id,
        receipt.as_ref().ok(),
        args.dataset.as_deref(),
        verifier.as_ref(),
        &work_dir,
    )
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
        disputed = Some(dispute(writer, &storage, args.id, &job, &reason).await?);
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

/// Publishes `reason` to IPFS and disputes the job with the DAO's bond; returns the bond and
/// the transaction hash.
async fn dispute(
    agora: &Agora,
    storage: &Storage,
    id: U256,
    job: &IComputeMarket::Job,
    reason: &Value,
) -> Result<(U256, B256)> {
    if job.status != RESULT_POSTED {
        bail!("job {id} is {}: only a posted result can be disputed", status_name(job.status));
    }
    let bond = U256::from(tx::call("computeMarket.params", agora.compute_market.params()).await?.disputeBond);
    let reason_cid = storage.add_bytes(serde_json::to_vec_pretty(reason)?).await?.cid;
    let call = agora.compute_market.dispute(id, reason_cid).value(bond);
    let receipt =
        tx::send("computeMarket.dispute", call).await.map_err(|e| revert::explain(e, &Units::eth()))?;
    Ok((bond, receipt.transaction_hash))
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

/// The spec document for `text`: inline JSON or a file, either a whole document
/// (`{"version":1,"job":…}`) or just its `job`.
/// Refuses a job whose private input `asset_id` the provider holds no key for: it would be
/// refused after the payment is escrowed.
async fn check_key_held(agora: &Agora, storage: &Storage, asset_id: U256, provider: Address) -> Result<()> {
    let stored = crate::cmd::asset::asset(agora, asset_id).await?;
    let metadata = crate::cmd::asset::metadata(storage, &stored.metadataCid).await?;
    let Some(encryption) = &metadata.content.encryption else { return Ok(()) };
    if encryption.is_held_by(provider) {
        return Ok(());
    }
    let owner = tx::call("registry.ownerOf", agora.registry.ownerOf(asset_id)).await?;
    let providers: Vec<String> =
        encryption.holders().iter().filter(|holder| **holder != owner).map(ToString::to_string).collect();
    let choice = match providers.is_empty() {
        true => "no provider holds it yet".to_owned(),
        false => format!("providers that hold it: {}", providers.join(", ")),
    };
    bail!(
        "asset {asset_id} is encrypted and provider {provider} holds no key for it ({choice}); \
         choose one of those, or ask the owner {owner} to run `agora asset share {asset_id} --provider {provider}`"
    )
}

fn parse_spec(text: &str) -> Result<SpecDocument> {
    let path = std::path::Path::new(text);
    let bytes = if path.is_file() {
        std::fs::read(path).wrap_err_with(|| format!("reading the spec {}", path.display()))?
    } else {
        text.as_bytes().to_vec()
    };
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|err| eyre!("--spec is neither a file nor JSON: {err}"))?;
    let document = if value.get("version").is_some() {
        value
    } else {
        json!({ "version": agora_provider::jobs::SPEC_VERSION, "job": value })
    };
    SpecDocument::parse(&serde_json::to_vec(&document)?).map_err(|err| eyre!("invalid --spec: {err}"))
}

/// The job as the market records it; an id it never opened is an error.
pub(crate) async fn job(agora: &Agora, id: U256) -> Result<IComputeMarket::Job> {
    let job = tx::call(format!("computeMarket.getJob({id})"), agora.compute_market.getJob(id)).await?;
    if job.status == 0 {
        bail!("unknown job {id}: the ComputeMarket never opened it");
    }
    Ok(job)
}

/// The provider's registration; an address that is not registered is an error.
pub(crate) async fn provider_record(agora: &Agora, address: Address) -> Result<IComputeMarket::Provider> {
    let record = tx::call("computeMarket.getProvider", agora.compute_market.getProvider(address)).await?;
    if !record.registered {
        bail!("{address} is not a registered provider on the ComputeMarket");
    }
    Ok(record)
}

async fn chain_time(agora: &Agora) -> Result<u64> {
    let block = agora.provider().get_block_by_number(Default::default()).await?;
    Ok(block.ok_or_else(|| eyre!("the chain has no latest block"))?.header.timestamp)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
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
    fn specs_are_bare_jobs_or_whole_documents_and_checked() {
        let bare = parse_spec(r#"{"kind":"embed","batch_size":2}"#).unwrap();
        let whole = parse_spec(r#"{"version":1,"job":{"kind":"embed","batch_size":2}}"#).unwrap();
        assert_eq!(bare, whole);
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
        assert_eq!(status_name(RESULT_POSTED), "result posted");
    }
}
