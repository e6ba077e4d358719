//! Compute jobs as a consumer runs them: what one costs, worked out and checked before
//! anything is signed ([`plan`]); opening it on the ComputeMarket, buying the access tokens it
//! spends in the same transaction, and sending the signed request to its provider
//! ([`Plan::submit`]); following it at the provider ([`wait`]); its receipt and output checked
//! against the chain ([`receipt`], [`fetch_checked_output`]); and a local re-execution that
//! confirms the posted output hash or disputes it ([`verify`], [`dispute`]).

mod service;

use std::{path::Path, time::Duration};

use agora_contracts::{
    Agora,
    compute_market::{ComputeMarket, IComputeMarket},
    erc::IERC20,
    marketplace::IMarketplace,
    tx,
    words::{self, Units},
};
use agora_provider::{
    chain::{ChainReader, job_status::RESULT_POSTED},
    crypto::Encryption,
    jobs::{JobRequest, SignedJobRequest, SignedReceipt, SpecDocument},
    storage::Storage,
    verify::{self, Verdict},
};
use agora_runtime::{JobSpec, Limits, Progress};
use alloy::{
    primitives::{Address, B256, TxHash, U256},
    providers::Provider,
    rpc::types::TransactionReceipt,
    signers::local::PrivateKeySigner,
};
use eyre::{Result, WrapErr, bail, eyre};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

pub use self::service::{Service, fetch_output, output_files};
use crate::{Error, market::unix_now};

/// How long a signed job request stays valid.
const REQUEST_LIFETIME_SECS: u64 = 600;
/// How long an asset read from the chain stays cached while a job is re-executed.
const ASSET_TTL: Duration = Duration::from_secs(30);
/// How often [`wait`] asks the provider.
const POLL: Duration = Duration::from_millis(500);

/// The spec document for `value`: a whole document (`{"version":1,"job":…}`) or just its job
/// (`{"kind":"embed"}`), checked.
pub fn spec_document(value: Value) -> Result<SpecDocument> {
    let document = if value.get("version").is_some() {
        value
    } else {
        json!({ "version": agora_provider::jobs::SPEC_VERSION, "job": value })
    };
    Ok(SpecDocument::parse(&serde_json::to_vec(&document)?)?)
}

/// The job as the market records it; an id it never opened is an error.
pub async fn job(agora: &Agora, id: U256) -> Result<IComputeMarket::Job> {
    let job = tx::call(format!("computeMarket.getJob({id})"), agora.compute_market.getJob(id))
        .await
        .map_err(|err| Error::contract(err, &Units::eth()))?;
    if job.status == 0 {
        bail!("unknown job {id}: the ComputeMarket never opened it");
    }
    Ok(job)
}

/// The provider's registration; an address that is not registered is an error.
pub async fn provider_record(agora: &Agora, address: Address) -> Result<IComputeMarket::Provider> {
    let record = tx::call("computeMarket.getProvider", agora.compute_market.getProvider(address))
        .await
        .map_err(|err| Error::contract(err, &Units::eth()))?;
    if !record.registered {
        bail!("{address} is not a registered provider on the ComputeMarket");
    }
    Ok(record)
}

/// The service of the job's provider: at `url` when given, else at its registered endpoint.
pub async fn service_of(agora: &Agora, provider: Address, url: Option<&Url>) -> Result<Service> {
    let endpoint = match url {
        Some(_) => String::new(),
        None => provider_record(agora, provider).await?.endpoint,
    };
    Service::new(url, &endpoint)
}

/// What a job asks for.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The dataset asset.
    pub dataset: U256,
    /// The algorithm or model asset.
    pub model: U256,
    /// The registered provider that runs it.
    pub provider: Address,
    /// What to run.
    pub spec: SpecDocument,
    /// The provider's URL, when not the endpoint it registered.
    pub url: Option<&'a Url>,
}

/// One input of a job and what it costs the consumer to use it.
#[derive(Debug, Clone)]
pub struct InputCost {
    /// `dataset` or `algorithm/model`.
    pub role: &'static str,
    /// The asset.
    pub asset_id: U256,
    /// The listing's currency (address(0) for ETH).
    pub currency: Address,
    /// The listing's price of one access token.
    pub list_price: U256,
    /// Whether the job spends a token of it: always for the dataset, for the algorithm or model
    /// when it is priced (as the ComputeMarket decides).
    pub spends_token: bool,
    /// What buying one costs now (after any free tier), when the consumer holds none.
    pub buy: Option<U256>,
}

/// A job checked and priced, not yet signed: what the consumer is shown before it pays.
pub struct Plan {
    /// Who pays.
    pub consumer: Address,
    /// What it asks for.
    pub dataset: U256,
    /// The algorithm or model.
    pub model: U256,
    /// The provider.
    pub provider: Address,
    /// What runs.
    pub spec: SpecDocument,
    /// The provider's registration (its price and currency).
    pub registered: IComputeMarket::Provider,
    /// The units of the provider's currency.
    pub units: Units,
    /// Each input's cost.
    pub costs: Vec<InputCost>,
    /// The DAO's fee on the provider's price, in basis points.
    pub fee_bps: u16,
    /// The provider's service, identity checked.
    pub service: Service,
}

/// Checks a job before any money moves and prices it: Kubo is up, an algorithm job names an
/// algorithm, the provider holds the key of every private input, its service is up and is that
/// provider on this chain, the spec is within its limits; then what each input costs
/// `consumer` (a token of each priced input it holds none of is bought with the job).
pub async fn plan(agora: &Agora, storage: &Storage, consumer: Address, request: Request<'_>) -> Result<Plan> {
    let Request { dataset, model, provider, spec, url } = request;
    let registered = provider_record(agora, provider).await?;
    let units = crate::market::units(agora.provider(), registered.currency).await?;
    storage.version().await?;
    // A provider would refuse anything but an algorithm asset's module, after the tokens were spent.
    if matches!(spec.job, JobSpec::Algorithm(_)) {
        let asset = tx::call("registry.getAsset", agora.registry.getAsset(model))
            .await
            .map_err(|err| Error::contract(err, &Units::eth()))?;
        if asset.kind != agora_provider::chain::ALGORITHM_KIND {
            bail!(
                "asset {model} is a {}, not an algorithm: an algorithm job runs an algorithm asset's WebAssembly module",
                words::asset_kind_name(asset.kind)
            );
        }
    }
    for asset_id in std::iter::once(dataset).chain(spec.needs_model().then_some(model)) {
        check_key_held(agora, storage, asset_id, provider).await?;
    }
    let service = Service::new(url, &registered.endpoint)?;
    let info = service.check_identity(provider, agora.deployment.chain_id).await?;
    // Within what this provider takes (its limits, else the runtime's defaults): a job it would
    // refuse must not cost anything.
    let limits: Limits = serde_json::from_value(info["jobLimits"].clone()).unwrap_or_default();
    spec.job.check(&limits).map_err(|err| eyre!("provider {provider} would refuse this spec: {err}"))?;
    let costs = input_costs(agora, consumer, dataset, model).await?;
    let fee_bps = tx::call("computeMarket.params", agora.compute_market.params())
        .await
        .map_err(|err| Error::contract(err, &Units::eth()))?
        .feeBps;
    Ok(Plan { consumer, dataset, model, provider, spec, registered, units, costs, fee_bps, service })
}

/// A provider [`plan_on_best`] passed over, and why.
#[derive(Debug, Clone)]
pub struct PassedOver {
    /// Its address.
    pub address: Address,
    /// Why it could not take the job (unreachable, its limits, ...).
    pub reason: String,
}

/// Plans the job on the best provider that takes it, for a consumer who names none: the
/// providers [`crate::provider::candidates`] ranks (active, holding the key of every encrypted
/// input the job reads, answering `/health` first, largest stake first), tried in that order
/// until one's [`plan`] succeeds. Returns the plan and the providers passed over on the way.
pub async fn plan_on_best(
    agora: &Agora,
    storage: &Storage,
    consumer: Address,
    dataset: U256,
    model: U256,
    spec: SpecDocument,
) -> Result<(Plan, Vec<PassedOver>)> {
    let mut holders: Option<Vec<Address>> = None;
    for asset_id in std::iter::once(dataset).chain(spec.needs_model().then_some(model)) {
        if let Some(encryption) = encryption_of(agora, storage, asset_id).await? {
            let held = encryption.holders();
            holders = Some(match holders {
                None => held,
                Some(before) => before.into_iter().filter(|address| held.contains(address)).collect(),
            });
        }
    }
    let ranked = crate::provider::candidates(agora, holders.as_deref()).await?;
    if ranked.is_empty() {
        bail!(
            "no active provider can run this job{}: name one with --provider after the owner shares the key with it (`agora asset share`)",
            match holders {
                Some(_) => " (none holds the key of every encrypted input)",
                None => " (none is registered on the ComputeMarket)",
            }
        );
    }
    let mut passed = Vec::new();
    for candidate in ranked {
        let request = Request { dataset, model, provider: candidate.address, spec: spec.clone(), url: None };
        match plan(agora, storage, consumer, request).await {
            Ok(plan) => return Ok((plan, passed)),
            Err(err) => passed.push(PassedOver { address: candidate.address, reason: format!("{err:#}") }),
        }
    }
    let reasons: Vec<String> = passed.iter().map(|p| format!("{}: {}", p.address, p.reason)).collect();
    bail!("no provider took the job ({})", reasons.join("; "))
}

/// The job's inputs as the ComputeMarket will charge them to `consumer`.
async fn input_costs(agora: &Agora, consumer: Address, dataset: U256, model: U256) -> Result<Vec<InputCost>> {
    let explain = |err| Error::contract(err, &Units::eth());
    let mut costs = Vec::new();
    for (role, asset_id) in [("dataset", dataset), ("algorithm/model", model)] {
        let listing = tx::call("marketplace.getListing", agora.marketplace.getListing(asset_id))
            .await
            .map_err(explain)?;
        let list_price = U256::from(listing.price);
        let spends_token = role == "dataset" || !list_price.is_zero();
        let mut buy = None;
        if spends_token {
            let token = tx::call("registry.accessTokenOf", agora.registry.accessTokenOf(asset_id))
                .await
                .map_err(explain)?;
            let token = IERC20::new(token, agora.provider().clone());
            if tx::call("accessToken.balanceOf", token.balanceOf(consumer)).await?.is_zero() {
                let quote = agora.marketplace.quote(asset_id, consumer, U256::from(1));
                buy = Some(tx::call("marketplace.quote", quote).await.map_err(explain)?.cost);
            }
        }
        costs.push(InputCost { role, asset_id, currency: listing.currency, list_price, spends_token, buy });
    }
    Ok(costs)
}

/// The encryption header of asset `asset_id`'s current metadata; `None` for content in the clear.
async fn encryption_of(agora: &Agora, storage: &Storage, asset_id: U256) -> Result<Option<Encryption>> {
    let stored = tx::call(format!("registry.getAsset({asset_id})"), agora.registry.getAsset(asset_id))
        .await
        .map_err(|err| Error::contract(err, &Units::eth()))?;
    Ok(crate::metadata(storage, &stored.metadataCid).await?.content.encryption)
}

/// Refuses a job whose private input `asset_id` the provider holds no key for: it would be
/// refused after the payment is escrowed.
async fn check_key_held(agora: &Agora, storage: &Storage, asset_id: U256, provider: Address) -> Result<()> {
    let Some(encryption) = encryption_of(agora, storage, asset_id).await? else { return Ok(()) };
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

/// A job opened on chain and accepted by its provider.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// Its id.
    pub job_id: U256,
    /// The access order the algorithm or model's token was spent into (0 when free).
    pub algorithm_order_id: U256,
    /// The provider's price, escrowed.
    pub payment: U256,
    /// The spec document on IPFS.
    pub spec_cid: String,
    /// The chain time by which a result must be posted.
    pub deadline: u64,
    /// The provider's status for it (`queued`).
    pub status: String,
    /// The transaction that opened it.
    pub tx_hash: TxHash,
}

impl Plan {
    /// What the job costs in all, per currency: the tokens bought with it and the provider's price.
    pub fn totals(&self) -> Vec<(Address, U256)> {
        let mut total: Vec<(Address, U256)> = Vec::new();
        let paid = self.costs.iter().filter_map(|cost| cost.buy.map(|paid| (cost.currency, paid)));
        for (currency, amount) in paid.chain([(self.registered.currency, U256::from(self.registered.price))])
        {
            match total.iter_mut().find(|(c, _)| *c == currency) {
                Some((_, sum)) => *sum += amount,
                None => total.push((currency, amount)),
            }
        }
        total
    }

    /// The whole cost in the provider's currency, or None when part is paid in another.
    pub fn total_in_provider_currency(&self) -> Option<U256> {
        let totals = self.totals();
        match totals.as_slice() {
            [(currency, amount)] if *currency == self.registered.currency => Some(*amount),
            _ => None,
        }
    }

    /// Puts the spec on IPFS, opens the job (escrowing at most `max_payment`, the provider's
    /// price by default) with a deadline `deadline_secs` from the chain's now, and sends the
    /// request, signed by `key`, to the provider.
    pub async fn submit(
        &self,
        agora: &Agora,
        key: &PrivateKeySigner,
        storage: &Storage,
        deadline_secs: u64,
        max_payment: Option<U256>,
    ) -> Result<Submitted> {
        let spec_cid = storage.add_bytes(serde_json::to_vec_pretty(&self.spec)?).await?.cid;
        let deadline = chain_time(agora).await? + deadline_secs;
        let params = IComputeMarket::OpenJobParams {
            datasetId: self.dataset,
            algorithmId: self.model,
            provider: self.provider,
            specCid: spec_cid.clone(),
            currency: self.registered.currency,
            maxPayment: max_payment.unwrap_or(U256::from(self.registered.price)),
            deadline,
        };
        let receipt = self.open_job(agora, params).await?;
        let opened = receipt
            .decoded_log::<ComputeMarket::JobOpened>()
            .ok_or_else(|| eyre!("computeMarket.openJob: the receipt has no JobOpened event"))?
            .data;
        let job_id = opened.jobId;
        let nonce = U256::from_be_bytes(rand::random::<[u8; 32]>());
        let message = JobRequest { jobId: job_id, nonce, expiry: unix_now() + REQUEST_LIFETIME_SECS };
        let domain = agora_provider::access::domain(agora.deployment.chain_id, self.provider);
        let request = SignedJobRequest::sign(&message, &domain, key).wrap_err("signing the job request")?;
        let accepted = self.service.post("/v1/jobs", &request, "job request").await.map_err(|err| {
            eyre!(
                "job {job_id} is open and paid on chain, but {err}; its payment comes back with `agora job refund {job_id}` after the deadline"
            )
        })?;
        Ok(Submitted {
            job_id,
            algorithm_order_id: opened.algorithmOrderId,
            payment: opened.payment,
            spec_cid,
            deadline,
            status: accepted["status"].as_str().unwrap_or("queued").to_owned(),
            tx_hash: receipt.transaction_hash,
        })
    }

    /// Opens the job: with `openJob` when the consumer holds every token it spends, else with
    /// the marketplace's `buyAndOpenJob`, which buys the missing ones first in the same
    /// transaction. ERC-20 amounts are approved to the contract that pulls them (the
    /// marketplace for purchases, the ComputeMarket for the provider's price).
    async fn open_job(
        &self,
        agora: &Agora,
        params: IComputeMarket::OpenJobParams,
    ) -> Result<TransactionReceipt> {
        let explain = |err| Error::contract(err, &self.units);
        let purchases: Vec<_> =
            self.costs.iter().filter_map(|cost| cost.buy.map(|paid| (cost, paid))).collect();
        let mut value = U256::ZERO;
        let mut approvals: Vec<(Address, Address, U256)> = Vec::new();
        let mut pay = |currency: Address, spender: Address, amount: U256| {
            if currency.is_zero() {
                value += amount;
                return;
            }
            match approvals.iter_mut().find(|(t, s, _)| *t == currency && *s == spender) {
                Some((_, _, sum)) => *sum += amount,
                None => approvals.push((currency, spender, amount)),
            }
        };
        for (cost, paid) in &purchases {
            pay(cost.currency, *agora.marketplace.address(), *paid);
        }
        pay(self.registered.currency, *agora.compute_market.address(), U256::from(self.registered.price));
        for (token, spender, amount) in approvals {
            let erc20 = IERC20::new(token, agora.provider().clone());
            let allowance = tx::call("allowance", erc20.allowance(self.consumer, spender)).await?;
            if allowance < amount {
                tx::send("approve", erc20.approve(spender, amount)).await.map_err(explain)?;
            }
        }
        if purchases.is_empty() {
            let call = agora.compute_market.openJob(params).value(value);
            return Ok(tx::send("computeMarket.openJob", call).await.map_err(explain)?);
        }
        let purchases = purchases
            .iter()
            .map(|(cost, _)| IMarketplace::Purchase {
                assetId: cost.asset_id,
                currency: cost.currency,
                maxPrice: cost.list_price,
            })
            .collect();
        let call = agora.marketplace.buyAndOpenJob(purchases, params.into()).value(value);
        Ok(tx::send("marketplace.buyAndOpenJob", call).await.map_err(explain)?)
    }
}

/// The chain's latest block time.
pub async fn chain_time(agora: &Agora) -> Result<u64> {
    let block = agora.provider().get_block_by_number(Default::default()).await?;
    Ok(block.ok_or_else(|| eyre!("the chain has no latest block"))?.header.timestamp)
}

/// A job as its provider reports it (`GET /v1/jobs/{id}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// Why it failed.
    pub reason: Option<String>,
    /// How far a running job has come.
    pub progress: Option<Progress>,
}

impl State {
    /// Whether it has yet to end.
    pub fn is_running(&self) -> bool {
        matches!(self.status.as_str(), "queued" | "running")
    }
}

/// Job `id`'s state at `service`.
pub async fn state(service: &Service, id: U256) -> Result<State> {
    let body = service.get(&format!("/v1/jobs/{id}"), "status request").await?;
    serde_json::from_value(body).map_err(|err| eyre!("the provider's status of job {id} is malformed: {err}"))
}

/// Asks `service` for job `id`'s state until it ends or `timeout` passes, telling `seen` each
/// answer; the last state.
pub async fn wait(
    service: &Service,
    id: U256,
    timeout: Duration,
    seen: &mut (dyn FnMut(&State) + Send),
) -> Result<State> {
    let started = std::time::Instant::now();
    loop {
        let state = state(service, id).await?;
        seen(&state);
        if !state.is_running() || started.elapsed() >= timeout {
            return Ok(state);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Job `id`'s signed receipt from `service`, checked: the job's provider signed it, over this
/// job and the output hash posted on chain. The job as the chain records it comes with it.
pub async fn receipt(
    agora: &Agora,
    service: &Service,
    id: U256,
) -> Result<(IComputeMarket::Job, SignedReceipt)> {
    let body = service.get(&format!("/v1/jobs/{id}/result"), "result request").await?;
    let receipt: SignedReceipt = serde_json::from_value(body["receipt"].clone())
        .map_err(|err| eyre!("the provider's receipt for job {id} is malformed: {err}"))?;
    let job = job(agora, id).await?;
    let domain = agora_provider::access::domain(agora.deployment.chain_id, job.provider);
    match receipt.signer(&domain) {
        Some(signer) if signer == job.provider => {}
        Some(signer) => {
            bail!("the receipt of job {id} is signed by {signer}, not by the job's provider {}", job.provider)
        }
        None => bail!("the receipt of job {id} has an invalid signature or input list"),
    }
    if receipt.receipt.jobId != id {
        bail!("the provider answered with the receipt of job {}, not {id}", receipt.receipt.jobId);
    }
    if receipt.receipt.outputHash != job.outputHash {
        bail!(
            "the receipt's output hash {} is not the one posted on chain ({})",
            receipt.receipt.outputHash,
            job.outputHash
        );
    }
    Ok((job, receipt))
}

/// Fetches the receipt's output folder from IPFS into `dir` (which must be empty: the hash
/// covers every file in it) and checks its hash; the file names.
pub async fn fetch_checked_output(
    storage: &Storage,
    receipt: &SignedReceipt,
    dir: &Path,
) -> Result<Vec<String>> {
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        bail!("{} is not empty: the output hash covers every file in the folder", dir.display());
    }
    let (cid, expected) = (&receipt.receipt.outputCid, receipt.receipt.outputHash);
    let files = output_files(storage, cid).await?;
    fetch_output(storage, cid, &files, dir).await?;
    let hash = verify::output_hash(dir)?;
    if hash != expected {
        bail!("the output fetched from IPFS hashes to {hash}, the receipt and the chain say {expected}");
    }
    Ok(files)
}

/// Re-executes job `id` in `work_dir` from its inputs (the dataset's plaintext from `dataset`
/// when given, checked against the chain; a private input decrypted with `verifier`'s key copy)
/// and compares with the posted output hash. `receipt`, when the provider served one, is
/// checked too.
pub async fn verify(
    agora: &Agora,
    storage: &Storage,
    id: U256,
    receipt: Option<&SignedReceipt>,
    dataset: Option<&Path>,
    verifier: Option<&PrivateKeySigner>,
    work_dir: &Path,
) -> Result<Verdict> {
    let chain = ChainReader::with_provider(agora.provider().clone(), &agora.deployment, ASSET_TTL);
    let chain_id = agora.deployment.chain_id;
    Ok(verify::verify(&chain, storage, chain_id, id, receipt, dataset, verifier, work_dir).await?)
}

/// Publishes `reason` to IPFS and disputes job `id` with the DAO's bond; the bond and the
/// transaction hash.
pub async fn dispute(agora: &Agora, storage: &Storage, id: U256, reason: &Value) -> Result<(U256, B256)> {
    let job = job(agora, id).await?;
    if job.status != RESULT_POSTED {
        bail!("job {id} is {}: only a posted result can be disputed", words::job_status_name(job.status));
    }
    let explain = |err| Error::contract(err, &Units::eth());
    let params = tx::call("computeMarket.params", agora.compute_market.params()).await.map_err(explain)?;
    let bond = U256::from(params.disputeBond);
    let reason_cid = storage.add_bytes(serde_json::to_vec_pretty(reason)?).await?.cid;
    let call = agora.compute_market.dispute(id, reason_cid).value(bond);
    let receipt = tx::send("computeMarket.dispute", call).await.map_err(explain)?;
    Ok((bond, receipt.transaction_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_bare_jobs_or_whole_documents_and_checked() {
        let bare = spec_document(json!({"kind": "embed", "batch_size": 2})).unwrap();
        let whole = spec_document(json!({"version": 1, "job": {"kind": "embed", "batch_size": 2}})).unwrap();
        assert_eq!(bare, whole);
        assert!(spec_document(json!({"kind": "dance"})).is_err());
        assert_eq!(words::job_status_name(RESULT_POSTED), "result posted");
    }
}
