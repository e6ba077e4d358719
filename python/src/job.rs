//! Compute jobs from Python: the flow every surface shares ([`agora_client::job`]), each step
//! reported as a JSON document that `agora.job` turns into its classes.

use std::path::{Path, PathBuf};

use agora_client::{job, provider};
use agora_contracts::words;
use alloy::primitives::U256;
use serde_json::{Value, json};
use url::Url;

use crate::{Client, Failure, Outcome, checked, uint};

/// `url` parsed, as a configuration error when it is not one.
fn parse_url(url: &str) -> Outcome<Url> {
    Url::parse(url).map_err(|_| Failure::new("ConfigurationError", format!("provider {url:?} is not a URL")))
}

/// An optional provider URL: the job provider's registered endpoint when None.
async fn service(client: &Client, id: U256, url: Option<&str>) -> Outcome<(job::Service, Value)> {
    let url = url.map(parse_url).transpose()?;
    let chain_job = checked(job::job(&client.agora, id).await)?;
    let service = checked(job::service_of(&client.agora, chain_job.provider, url.as_ref()).await)?;
    let chain = json!({
        "jobId": id.to_string(),
        "status": words::job_status_name(chain_job.status),
        "consumer": chain_job.consumer,
        "provider": chain_job.provider,
        "datasetId": chain_job.datasetId.to_string(),
        "algorithmId": chain_job.algorithmId.to_string(),
        "payment": chain_job.payment.to_string(),
        "deadline": chain_job.deadline,
        "challengeEnd": chain_job.challengeEnd,
        "outputHash": (!chain_job.outputHash.is_zero()).then_some(chain_job.outputHash),
    });
    Ok((service, chain))
}

/// What [`submit`] is asked for.
pub(crate) struct Submission<'a> {
    pub(crate) dataset: &'a str,
    pub(crate) model: &'a str,
    /// `None`: the best provider that takes the job, by the rule every surface follows.
    pub(crate) provider_url: Option<&'a str>,
    pub(crate) spec: &'a str,
    pub(crate) deadline_secs: u64,
    pub(crate) max_price: Option<&'a str>,
    pub(crate) max_total: Option<&'a str>,
}

/// Prices and checks the job, refuses it when it costs more than `max_total`, then opens it
/// (buying the access tokens it spends in the same transaction) and sends it to the provider.
pub(crate) async fn submit(client: &Client, submission: Submission<'_>) -> Outcome<Value> {
    let dataset = uint(submission.dataset, "dataset")?;
    let model = uint(submission.model, "model")?;
    let key = client.key()?;
    let storage = client.storage()?;
    let spec: Value = serde_json::from_str(submission.spec)
        .map_err(|err| Failure::new("ConfigurationError", format!("the job spec is not JSON: {err}")))?;
    let spec = job::spec_document(spec)
        .map_err(|err| Failure::new("ConfigurationError", format!("invalid job spec: {err:#}")))?;
    let plan = match submission.provider_url {
        Some(url) => {
            let url = parse_url(url)?;
            let chain_id = client.agora.deployment.chain_id;
            let address = provider::info(&client.http, url.as_str(), chain_id).await?.address;
            let request = job::Request { dataset, model, provider: address, spec, url: Some(&url) };
            checked(job::plan(&client.agora, storage, key.address(), request).await)?
        }
        None => {
            let best = job::plan_on_best(&client.agora, storage, key.address(), dataset, model, spec);
            checked(best.await)?.0
        }
    };
    let units = &plan.units;
    let amount = |text: &str, what: &str| {
        units.parse(text).map_err(|err| Failure::new("ConfigurationError", format!("{what} {text:?}: {err}")))
    };
    let max_payment = submission.max_price.map(|text| amount(text, "max_price")).transpose()?;
    if let Some(text) = submission.max_total {
        let max_total = amount(text, "max_total")?;
        let Some(total) = plan.total_in_provider_currency() else {
            return Err(Failure::new(
                "ConfigurationError",
                format!(
                    "max_total is in the provider's currency ({}), but this job is also paid in another: use max_price",
                    units.symbol
                ),
            ));
        };
        if total > max_total {
            let message = format!(
                "the job costs {} in all, more than max_total {}",
                units.format(total),
                units.format(max_total)
            );
            return Err(Failure::new("PriceChanged", message));
        }
    }
    let submitted =
        checked(plan.submit(&client.agora, key, storage, submission.deadline_secs, max_payment).await)?;
    let mut inputs = Vec::new();
    for cost in &plan.costs {
        let paid = cost.buy.unwrap_or_default();
        inputs.push(json!({
            "assetId": cost.asset_id.to_string(),
            "role": cost.role,
            "spendsToken": cost.spends_token,
            "bought": cost.buy.is_some(),
            "paid": client.units(cost.currency).await?.format(paid),
        }));
    }
    Ok(json!({
        "jobId": submitted.job_id.to_string(),
        "provider": plan.provider,
        "providerUrl": plan.service.base,
        "inputs": inputs,
        "payment": units.format(submitted.payment),
        "specCid": submitted.spec_cid,
        "deadline": submitted.deadline,
        "status": submitted.status,
        "txHash": submitted.tx_hash,
    }))
}

/// The job on chain and, under `service`, at its provider (or the provider's error).
pub(crate) async fn state(client: &Client, job_id: &str, url: Option<&str>) -> Outcome<Value> {
    let id = uint(job_id, "job id")?;
    let (service, mut report) = service(client, id, url).await?;
    report["service"] = match job::state(&service, id).await {
        Ok(state) => json!({
            "status": state.status,
            "reason": state.reason,
            "progress": state.progress,
        }),
        Err(err) => json!({ "error": format!("{err:#}") }),
    };
    Ok(report)
}

/// The job's receipt, checked against the chain; with `output`, its files fetched from IPFS into
/// that folder and their hash checked.
pub(crate) async fn result(
    client: &Client,
    job_id: &str,
    url: Option<&str>,
    output: Option<PathBuf>,
) -> Outcome<Value> {
    let id = uint(job_id, "job id")?;
    let (service, _) = service(client, id, url).await?;
    let (chain_job, receipt) = checked(job::receipt(&client.agora, &service, id).await)?;
    let files = match &output {
        Some(dir) => checked(job::fetch_checked_output(client.storage()?, &receipt, dir).await)?,
        None => Vec::new(),
    };
    let r = &receipt.receipt;
    Ok(json!({
        "jobId": id.to_string(),
        "provider": chain_job.provider,
        "outputCid": r.outputCid,
        "outputHash": r.outputHash,
        "inputCids": receipt.input_cids,
        "runtimeVersion": r.runtimeVersion,
        "device": r.device,
        "cpuFeatures": receipt.cpu_features,
        "output": output,
        "files": files,
    }))
}

/// Re-executes the job in `work_dir` (a temporary folder when None) and compares with the
/// posted output hash; the dataset's plaintext comes from `dataset` when given.
pub(crate) async fn verify(
    client: &Client,
    job_id: &str,
    url: Option<&str>,
    dataset: Option<&Path>,
    work_dir: Option<PathBuf>,
) -> Outcome<Value> {
    let id = uint(job_id, "job id")?;
    let storage = client.storage()?;
    let (service, chain) = service(client, id, url).await?;
    if chain["outputHash"].is_null() {
        let status = chain["status"].as_str().unwrap_or_default();
        return Err(Failure::new(
            "AgoraError",
            format!("job {id} has no posted result to verify: it is {status}"),
        ));
    }
    let receipt = job::receipt(&client.agora, &service, id).await.map(|(_, receipt)| receipt);
    let temp;
    let work_dir = match work_dir {
        Some(dir) => dir,
        None => {
            let io = |err: std::io::Error| Failure::new("AgoraError", format!("a temporary folder: {err}"));
            temp = tempfile::Builder::new().prefix("agora-verify-").tempdir().map_err(io)?;
            temp.path().to_path_buf()
        }
    };
    let verifier = client.key.as_ref();
    let verdict = checked(
        job::verify(&client.agora, storage, id, receipt.as_ref().ok(), dataset, verifier, &work_dir).await,
    )?;
    Ok(json!({
        "jobId": id.to_string(),
        "matches": verdict.matches(),
        "posted": verdict.claimed,
        "recomputed": verdict.recomputed,
        "runtimeVersion": verdict.runtime_version,
        "cpuFeatures": verdict.cpu_features,
        "receipt": match &receipt {
            Ok(_) => "checked: signed by the provider over the job's inputs and posted hash".to_owned(),
            Err(err) => format!("not checked ({err:#})"),
        },
    }))
}
