//! Compute pages: `/providers`, `/providers/{address}` (with the provider's live health),
//! `/jobs` and `/jobs/{id}` (the job's timeline, its result, and the provider's signed receipt,
//! checked in the page), and `/jobs/{id}/events`, the server-sent events a live job page follows.

use std::{convert::Infallible, time::Duration};

use agora_api::{Asset, AssetQuery, ComputeProvider, Job, JobStatus, ListQuery};
use axum::{
    extract::{Path, Query, State},
    response::sse::{Event, KeepAlive, Sse},
};
use futures::Stream;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    Hub,
    format::{self, address, hash},
    layout::{Head, PageError, page},
    meta::Meta,
};

/// How long the hub waits for a provider's `/health` or receipt.
const PROVIDER_TIMEOUT: Duration = Duration::from_millis(1500);
/// How often a live job page's stream asks the indexer for the job.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// A job status in words.
fn status_label(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Open => "Open: waiting for the provider's result",
        JobStatus::ResultPosted => "Result posted: open to challenge",
        JobStatus::Disputed => "Disputed: waiting for the DAO's ruling",
        JobStatus::Finalized => "Finalized: the provider was paid",
        JobStatus::Refunded => "Refunded to the consumer",
        JobStatus::RuledAgainstProvider => "Ruled against the provider: the consumer was refunded",
        JobStatus::DisputeRejected => "Dispute rejected: the provider was paid",
        JobStatus::DisputeExpired => "Dispute expired",
        JobStatus::Declined => "Declined by the provider: the consumer was refunded",
    }
}

/// Whether a job in `status` can still change.
fn is_live(status: JobStatus) -> bool {
    matches!(status, JobStatus::Open | JobStatus::ResultPosted | JobStatus::Disputed)
}

#[derive(Debug, Deserialize)]
pub(crate) struct CursorQuery {
    cursor: Option<String>,
    status: Option<String>,
}

/// `GET /providers`.
pub(crate) async fn providers(
    State(hub): State<Hub>,
    Query(query): Query<CursorQuery>,
) -> Result<Markup, PageError> {
    let list = hub.api().providers(&ListQuery::page(query.cursor, 100)).await?;
    let body = html! {
        h1 { "Compute providers" }
        p.lead { "Providers stake to run jobs over data that never leaves them. A job's payment waits in escrow until its result is posted and the challenge window closes." }
        p { a.button href="/jobs/new" { "Run a compute job" } }
        @if list.items.is_empty() { p.empty { "No provider is registered." } }
        @else {
            div.scroll { table #providers {
                thead { tr { th scope="col" { "Provider" } th scope="col" { "Endpoint" } th scope="col" { "Price per job" } th scope="col" { "Stake" } th scope="col" { "Jobs" } th scope="col" { "State" } } }
                tbody { @for p in &list.items {
                    tr data-provider=(p.provider) {
                        td { a href=(format!("/providers/{}", p.provider)) { code { (format::short(&p.provider)) } } }
                        td { code.wrap { (p.endpoint) } }
                        td { (format::amount(&p.price, Some(&p.currency))) }
                        td { (format::amount(&p.stake, None)) }
                        td { (p.jobs_count) }
                        td { (if p.active { "active" } else { "exiting" }) }
                    }
                } }
            } }
        }
        @if let Some(cursor) = &list.next_cursor {
            nav.pager aria-label="Pages" { a rel="next" href=(format!("/providers?cursor={cursor}")) { "More providers →" } }
        }
    };
    Ok(page(
        Head::new("Compute providers", "The compute providers registered on Agora: price, stake, state."),
        None,
        body,
    ))
}

/// The registered provider `who`; `None` when it never registered.
async fn find_provider(hub: &Hub, who: &str) -> Result<Option<ComputeProvider>, PageError> {
    match hub.api().provider(who).await {
        Ok(provider) => Ok(Some(provider)),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// `GET /providers/{address}`: the registration and the provider's own `/health`, asked now.
pub(crate) async fn provider(State(hub): State<Hub>, Path(who): Path<String>) -> Result<Markup, PageError> {
    let provider =
        find_provider(&hub, &who).await?.ok_or_else(|| PageError::NotFound(format!("provider {who}")))?;
    let health = provider_get(&hub, &provider.endpoint, "/health").await;
    let (state, detail) = match &health {
        Ok(_) => ("up", "answered its health check just now".to_owned()),
        Err(reason) => ("unknown", format!("did not answer its health check: {reason}")),
    };
    let body = html! {
        h1 { "Provider " code { (format::short(&provider.provider)) } }
        p { (address(&provider.provider)) }
        p.health data-health=(state) { span class=(format!("badge {state}")) { (state) } " " (detail) }
        dl.facts {
            dt { "Endpoint" } dd { code.wrap { (provider.endpoint) } }
            dt { "Price per job" } dd { (format::amount(&provider.price, Some(&provider.currency))) }
            dt { "Stake" } dd { (format::amount(&provider.stake, None)) }
            dt { "Jobs" } dd data-jobs=(provider.jobs_count) { (provider.jobs_count) " in all: " (provider.finalized_count) " paid, "
                (provider.disputed_count) " disputed, " (provider.ruled_against_count) " ruled against it (slashed)" }
            dt { "State" } dd { (if provider.active { "active" } else { "exiting" })
                @if let Some(at) = provider.exit_available_at { ", stake withdrawable from " (format::time(at)) } }
        }
    };
    Ok(page(
        Head::new(format!("Provider {}", format::short(&provider.provider)), "A compute provider on Agora."),
        None,
        body,
    ))
}

/// The inputs a job page offers at most, per kind.
const MAX_CHOICES: u32 = 100;

/// The job kinds a provider runs, with the options each starts from in the form.
const JOB_KINDS: [(&str, &str, &str); 4] = [
    (
        "embed",
        "Embed the text of each row (sentence embeddings)",
        r#"{"text_field": "text", "batch_size": 32}"#,
    ),
    ("train", "Train a classifier on a labelled table", r#"{"label_column": "label", "epochs": 5}"#),
    ("predict", "Predict with a trained classifier", "{}"),
    ("algorithm", "Run an algorithm asset (WebAssembly)", r#"{"args": []}"#),
];

#[derive(Debug, Deserialize)]
pub(crate) struct NewJobQuery {
    dataset: Option<String>,
    model: Option<String>,
    provider: Option<String>,
}

/// `GET /jobs/new`: the form that runs a compute job from the page. The page script checks the
/// spec with the chosen provider (which puts it on IPFS), shows each input's cost, the
/// provider's price and the DAO's fee before the wallet opens, opens the job (buying the tokens
/// it spends in the same transaction) and sends the signed request to the provider.
pub(crate) async fn new_job(
    State(hub): State<Hub>,
    Query(query): Query<NewJobQuery>,
) -> Result<Markup, PageError> {
    let api = hub.api();
    let of_kind = |kind: &str| AssetQuery {
        kind: Some(kind.to_owned()),
        limit: Some(MAX_CHOICES.to_string()),
        ..AssetQuery::default()
    };
    let (datasets, models, algorithms) = (of_kind("dataset"), of_kind("model"), of_kind("algorithm"));
    let all_providers = ListQuery::page(None, MAX_CHOICES);
    let (datasets, models, algorithms, providers) = tokio::try_join!(
        api.assets(&datasets),
        api.assets(&models),
        api.assets(&algorithms),
        api.providers(&all_providers),
    )?;
    let providers: Vec<&ComputeProvider> = providers.items.iter().filter(|p| p.active).collect();
    let chosen =
        |wanted: &Option<String>, id: &str| wanted.as_deref().is_some_and(|w| w.eq_ignore_ascii_case(id));
    let option = |asset: &Asset, wanted: &Option<String>| {
        let meta = Meta::of(asset);
        let price = asset.price.as_deref().map_or("not for sale".to_owned(), |p| match p {
            "0" => "free".to_owned(),
            p => format::amount(p, asset.currency.as_deref()),
        });
        html! {
            option value=(asset.asset_id) selected[chosen(wanted, &asset.asset_id)]
                data-kind=(asset.kind.as_str()) data-key-holders=[meta.key_holders().map(|h| h.join(","))] {
                "#" (asset.asset_id) " " (meta.name()) " (" (price) ")"
            }
        }
    };
    let body = html! {
        h1 { "Run a compute job" }
        p.lead { "A provider runs the job next to the data, which never leaves it. Its price waits in escrow until the result is posted and the challenge window closes; an access token of each priced input is spent (bought with the job when you hold none)." }
        @if datasets.items.is_empty() || providers.is_empty() {
            p.empty { "Running a job needs a dataset and an active provider; this deployment has "
                (datasets.items.len()) " datasets and " (providers.len()) " active providers." }
        } @else {
            form #job-form.panel data-kinds=(serde_json::to_string(&JOB_KINDS.iter().map(|(k, _, o)| (k, o)).collect::<Vec<_>>()).unwrap_or_default()) {
                label for="job-dataset" { "Dataset" }
                select #job-dataset name="dataset" required { @for asset in &datasets.items { (option(asset, &query.dataset)) } }
                label for="job-model" { "Model or algorithm" }
                select #job-model name="model" required {
                    @for asset in models.items.iter().chain(&algorithms.items) { (option(asset, &query.model)) }
                }
                label for="job-provider" { "Provider" }
                select #job-provider name="provider" required {
                    @for p in &providers {
                        option value=(p.provider.to_ascii_lowercase()) selected[chosen(&query.provider, &p.provider)] data-endpoint=(p.endpoint) {
                            (format::short(&p.provider)) " — " (format::amount(&p.price, Some(&p.currency))) " a job, stake " (format::amount(&p.stake, None))
                        }
                    }
                }
                label for="job-kind" { "Job" }
                select #job-kind name="kind" { @for (kind, label, _) in JOB_KINDS { option value=(kind) { (label) } } }
                label for="job-options" { "Options (JSON: the job's settings)" }
                textarea #job-options name="options" rows="4" spellcheck="false" { (JOB_KINDS[0].2) }
                label for="job-deadline" { "Hours the provider has to post a result" }
                input #job-deadline name="deadline" type="number" min="1" max="720" value="1" required;
                div.actions {
                    button #job-review type="submit" disabled { "Review the cost" }
                    button #job-run type="button" hidden { "Pay and run" }
                }
                table #job-costs hidden { caption { "What the job costs you" } tbody {} }
                p #job-state.state role="status" {}
                noscript { p.warn { "Running a job from the page needs JavaScript and a browser wallet. With the CLI: "
                    code { "agora job submit --dataset ID --model ID --provider ADDRESS --spec '{\"kind\":\"embed\"}'" } } }
            }
        }
    };
    let head = Head {
        scripts: &[crate::assets::WALLET_JS_PATH],
        ..Head::new(
            "Run a compute job",
            "Run a compute job over a dataset on Agora: pick the inputs and a provider.",
        )
    };
    Ok(page(head, None, body))
}

/// GETs `path` of a provider's `endpoint` as JSON within [`PROVIDER_TIMEOUT`]; the error says why not.
async fn provider_get(hub: &Hub, endpoint: &str, path: &str) -> Result<Value, String> {
    let url = url::Url::parse(endpoint)
        .and_then(|base| base.join(path))
        .map_err(|err| format!("endpoint {endpoint:?}: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("endpoint {endpoint:?} is not http(s)"));
    }
    let response =
        hub.http().get(url).timeout(PROVIDER_TIMEOUT).send().await.map_err(|err| {
            if err.is_timeout() { "timed out".to_owned() } else { "unreachable".to_owned() }
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("answered {status}"));
    }
    response.json().await.map_err(|_| "answered something that is not JSON".to_owned())
}

/// `GET /jobs`.
pub(crate) async fn jobs(
    State(hub): State<Hub>,
    Query(query): Query<CursorQuery>,
) -> Result<Markup, PageError> {
    let list =
        hub.api().jobs(&ListQuery { status: query.status, ..ListQuery::page(query.cursor, 50) }).await?;
    let body = html! {
        h1 { "Compute jobs" }
        p { a.button href="/jobs/new" { "Run a compute job" } }
        @if list.items.is_empty() { p.empty { "No job yet." } }
        @else {
            div.scroll { table #jobs {
                thead { tr { th scope="col" { "Job" } th scope="col" { "Dataset" } th scope="col" { "Algorithm or model" } th scope="col" { "Status" } th scope="col" { "Payment" } } }
                tbody { @for job in &list.items {
                    tr data-job-id=(job.job_id) {
                        td { a href=(format!("/jobs/{}", job.job_id)) { "Job " (job.job_id) } }
                        td { a href=(format!("/assets/{}", job.dataset_id)) { "Asset " (job.dataset_id) } }
                        td { a href=(format!("/assets/{}", job.algorithm_id)) { "Asset " (job.algorithm_id) } }
                        td { (status_label(job.status)) }
                        td { (format::amount(&job.payment, Some(&job.currency))) }
                    }
                } }
            } }
        }
        @if let Some(cursor) = &list.next_cursor {
            nav.pager aria-label="Pages" { a rel="next" href=(format!("/jobs?cursor={cursor}")) { "More jobs →" } }
        }
    };
    Ok(page(Head::new("Compute jobs", "Compute jobs run on Agora's providers."), None, body))
}

/// `GET /jobs/{id}`.
pub(crate) async fn job(State(hub): State<Hub>, Path(id): Path<String>) -> Result<Markup, PageError> {
    let api = hub.api();
    let (job, status) = tokio::try_join!(api.job(&id), api.status())?;
    let receipt = match &job.result_cid {
        Some(_) => Some(receipt(&hub, &job).await),
        None => None,
    };
    let live = is_live(job.status).then_some(job.job_id.as_str());
    // Until its result is final, the page follows the job at its provider (its progress) too.
    let endpoint = match job.status {
        JobStatus::Open | JobStatus::ResultPosted => {
            find_provider(&hub, &job.provider).await.ok().flatten().map(|p| p.endpoint)
        }
        _ => None,
    };
    let challengeable = job.status == JobStatus::ResultPosted;
    let body = html! {
        p.kind { "Compute job" }
        h1 { "Job " (job.job_id) }
        p { "Status: " strong #job-status { (status_label(job.status)) } }
        dl.facts {
            dt { "Inputs" } dd { ul.inputs { @for input in &job.inputs {
                li { a href=(format!("/assets/{}", input.asset_id)) { "Asset " (input.asset_id) } " as " (input.role)
                    @match &input.order_id { Some(order) => { " (access order " (order) ")" }, None => " (free)" } }
            } } }
            dt { "Consumer" } dd { (address(&job.consumer)) }
            dt { "Provider" } dd { a href=(format!("/providers/{}", job.provider)) { code { (format::short(&job.provider)) } } }
            dt { "Payment in escrow" } dd { (format::amount(&job.payment, Some(&job.currency))) }
            dt { "Deadline" } dd { (format::time(job.deadline)) }
            dt { "Spec" } dd { (hash("spec CID", &job.spec_cid)) }
            dt { "Result CID" } dd #job-result-cid { (job.result_cid.as_deref().unwrap_or("not posted yet")) }
            dt { "Output hash (on chain)" } dd #job-output-hash { (job.output_hash.as_deref().unwrap_or("not posted yet")) }
            @if let Some(end) = job.challenge_end { dt { "Challenge window ends" } dd { (format::time(end)) } }
            @if let Some(payout) = &job.provider_payout { dt { "Paid to the provider" } dd { (format::amount(payout, Some(&job.currency))) } }
            @if let Some(refund) = &job.refunded { dt { "Refunded" } dd { (format::amount(refund, Some(&job.currency))) } }
        }
        section #timeline aria-labelledby="timeline-h" {
            h2 #timeline-h { "Timeline" }
            ol.timeline {
                li { "Opened at block " (job.opened_block) @if let Some(t) = job.opened_at { " (" (format::time(t)) ")" } }
                @if job.result_cid.is_some() { li { "Result posted" } }
                @if let Some(challenger) = &job.challenger { li { "Challenged by " (address(challenger)) } }
                @if !is_live(job.status) { li { (status_label(job.status)) " (block " (job.updated_block) @if let Some(t) = job.updated_at { ", " (format::time(t)) } ")" } }
            }
        }
        @if let Some(endpoint) = &endpoint {
            section #job-progress data-endpoint=(endpoint.trim_end_matches('/')) data-job-id=(job.job_id) hidden aria-labelledby="job-progress-h" {
                h2 #job-progress-h { "At the provider" }
                p #job-progress-text aria-live="polite" {}
                progress #job-progress-bar max="1" value="0" {}
            }
        }
        @if let Some(receipt) = receipt { (receipt_section(&job, status.chain_id, receipt)) }
        @if challengeable {
            section #dispute data-job-id=(job.job_id) data-challenge-end=[job.challenge_end] hidden aria-labelledby="dispute-h" {
                h2 #dispute-h { "Challenge the result" }
                p { "If the output is wrong (re-execute it with " code { "agora job verify " (job.job_id) } "), challenge it before the window closes. You bond the DAO's dispute bond; the DAO rules, and a result ruled wrong refunds the consumer and returns your bond." }
                label for="dispute-reason" { "Why the result is wrong" }
                textarea #dispute-reason rows="3" maxlength="2000" {}
                button #dispute-submit type="button" { "Challenge" }
                p #dispute-state.state role="status" {}
            }
        }
    };
    let scripts: &'static [&'static str] = match challengeable {
        true => &[crate::assets::RECEIPT_JS_PATH, crate::assets::WALLET_JS_PATH],
        false => &[crate::assets::RECEIPT_JS_PATH],
    };
    let head = Head {
        scripts,
        ..Head::new(
            format!("Job {}", job.job_id),
            format!("Compute job {} on Agora: {}", job.job_id, status_label(job.status)),
        )
    };
    Ok(page(head, live, body))
}

/// The provider's signed receipt for `job`, or why it could not be fetched.
async fn receipt(hub: &Hub, job: &Job) -> Result<Value, String> {
    let endpoint = match find_provider(hub, &job.provider).await {
        Ok(Some(provider)) => provider.endpoint,
        _ => hub.provider().map(str::to_owned).ok_or("the job's provider is not registered")?,
    };
    let result = provider_get(hub, &endpoint, &format!("/v1/jobs/{}/result", job.job_id)).await?;
    result.get("receipt").cloned().ok_or_else(|| "its answer holds no receipt".to_owned())
}

fn receipt_section(job: &Job, chain_id: u64, receipt: Result<Value, String>) -> Markup {
    html! {
        section #receipt aria-labelledby="receipt-h" data-chain-id=(chain_id) data-provider=(job.provider.to_ascii_lowercase())
            data-job-id=(job.job_id) data-output-hash=(job.output_hash.as_deref().unwrap_or("")) {
            h2 #receipt-h { "Provider's receipt" }
            @match receipt {
                Ok(receipt) => {
                    p { "The provider signed what it ran (its inputs, the runtime, the output). The check below runs in your browser: it recovers the signer and compares it and the output hash with the chain." }
                    // `<` escaped so the JSON cannot close the script element.
                    script #receipt-json type="application/json" { (PreEscaped(serde_json::to_string(&receipt).unwrap_or_default().replace('<', "\\u003c"))) }
                    details { summary { "The receipt" } pre.wrap { code { (serde_json::to_string_pretty(&receipt).unwrap_or_default()) } } }
                    button #verify-receipt type="button" { "Verify receipt" }
                    " " output #receipt-check aria-live="polite" for="verify-receipt" { "Checking needs JavaScript." }
                }
                Err(reason) => p.warn { "The receipt could not be fetched from the provider: " (reason) "." }
            }
        }
    }
}

/// `GET /jobs/{id}/events`: the job as the indexer has it, sent when it changes (`job`
/// events), then `done` once it can change no more. The stream asks the indexer every
/// [`FOLLOW_EVERY`]; the browser reconnects by itself after 2 s if the stream drops.
pub(crate) async fn job_events(
    State(hub): State<Hub>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, PageError> {
    let first = hub.api().job(&id).await?;
    let start =
        Follow { hub, id: first.job_id.clone(), next: Some(first), last: None, stage: Stage::Following };
    let stream = futures::stream::unfold(start, |mut follow| async move {
        let event = follow.next_event().await?;
        Some((Ok(event), follow))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Where a job's event stream is.
enum Stage {
    /// Sending the job whenever it changes.
    Following,
    /// The job is final: send `done`.
    Finished,
    /// `done` sent: end the stream.
    Ended,
}

/// The state of one job's event stream.
struct Follow {
    hub: Hub,
    id: String,
    /// A job read but not sent yet.
    next: Option<Job>,
    /// The status and block of the last job sent.
    last: Option<(JobStatus, i64)>,
    stage: Stage,
}

impl Follow {
    async fn next_event(&mut self) -> Option<Event> {
        match self.stage {
            Stage::Ended => return None,
            Stage::Finished => {
                self.stage = Stage::Ended;
                return Some(Event::default().event("done").data("{}"));
            }
            Stage::Following => {}
        }
        loop {
            let job = match self.next.take() {
                Some(job) => job,
                None => {
                    tokio::time::sleep(FOLLOW_EVERY).await;
                    // An indexer that does not answer is asked again next time.
                    let Ok(job) = self.hub.api().job(&self.id).await else { continue };
                    job
                }
            };
            let key = (job.status, job.updated_block);
            if self.last.as_ref() == Some(&key) {
                continue;
            }
            if !is_live(job.status) {
                self.stage = Stage::Finished;
            }
            self.last = Some(key);
            let data = json!({
                "status": job.status,
                "statusLabel": status_label(job.status),
                "resultCid": job.result_cid,
                "outputHash": job.output_hash,
                "updatedBlock": job.updated_block,
            });
            return Some(Event::default().event("job").retry(FOLLOW_EVERY).data(data.to_string()));
        }
    }
}
