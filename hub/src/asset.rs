//! The asset page (`/assets/{id}`): its card, what is verified and how, its files, every
//! metadata version with what changed, its usage and sales, and its lineage.

use agora_api::{AssetDetail, AssetKind, AssetVersion, LineageLink};
use axum::extract::{Path, State};
use maud::{Markup, PreEscaped, html};

use crate::{
    Hub,
    catalogue::{capitalized, price},
    format::{self, address, hash},
    layout::{Head, PageError, page},
    markdown,
    meta::{Meta, changed_fields},
};

/// `GET /assets/{id}`.
pub(crate) async fn asset(State(hub): State<Hub>, Path(id): Path<String>) -> Result<Markup, PageError> {
    let (detail, status, governance) =
        tokio::try_join!(hub.api().asset(&id), hub.api().status(), hub.api().governance())?;
    let did = status.did(&detail.asset.asset_id);
    let asset = &detail.asset;
    let meta = Meta::of(asset);
    let name = meta.name();
    let kind = capitalized(asset.kind.as_str());
    let summary = meta.summary(200);
    let description = if summary.is_empty() { format!("{kind} on Agora, {}", price(asset)) } else { summary };
    let body = html! {
        @if asset.delisted {
            p.banner.delisted role="status" { "This asset is delisted: the DAO removed it from the catalogue. It can no longer be bought; tokens already held still grant access." }
        }
        header.asset-head {
            p.kind { (kind) " · asset " (asset.asset_id) " · version " (asset.version) }
            h1 { (name) }
            p.badges {
                @if asset.encrypted == Some(true) { span.badge.locked { "encrypted" } }
                @if asset.compute_only { span.badge { "compute-only" } }
                @if let Some(license) = meta.license() {
                    a.badge.license href=(format!("/assets?license={}", urlencode(license))) { (license) }
                }
                @for tag in meta.tags() { span.badge.tag { (tag) } }
            }
            dl.facts {
                dt { "Price" } dd.price { (price(asset)) }
                dt { "Owner" } dd { (address(&asset.owner)) }
                @if let Some(did) = &did { dt { "DID" } dd { (hash("DID", did)) } }
                dt { "Access" } dd { (access_terms(&detail)) }
            }
        }
        div.asset-body {
            article #card.card-text aria-label="Card" {
                @match meta.card() {
                    Some(card) => (PreEscaped(markdown::render(card))),
                    None => p.empty { @if asset.metadata.is_none() { (metadata_state(&detail)) } @else { "The publisher wrote no card." } },
                }
            }
            aside.side {
                (get_access(&detail, &meta, governance.protocol_fee_bps))
                (usage(&detail))
                (verification(&detail, &meta))
            }
        }
        (revenue_split(&detail))
        (edit_metadata(&detail, &meta))
        (preview(&meta))
        (files(&meta))
        (versions(&detail.history, detail.history_count))
        (sales(&detail))
        (lineage("Computed from", "upstream", &detail.upstream, detail.upstream_count, &meta))
        (lineage("Used to compute", "downstream", &detail.downstream, detail.downstream_count, &meta))
    };
    let head = Head { scripts: &[crate::assets::WALLET_JS_PATH], ..Head::new(name, description) };
    Ok(page(head, None, body))
}

/// The owner's "Edit metadata": a new version of the document (name, description, license, tags,
/// card; the content stays), shown by the wallet script to the connected owner only.
fn edit_metadata(detail: &AssetDetail, meta: &Meta<'_>) -> Markup {
    let asset = &detail.asset;
    html! {
        @if asset.metadata.is_some() {
            section #edit-metadata data-asset=(asset.asset_id) data-owner=(asset.owner) aria-labelledby="edit-h" hidden {
                h2 #edit-h { "Edit metadata" }
                p.note { "You own this asset: a new version of its metadata document goes to IPFS and the registry points to it (version " (asset.version + 1) "). The content and its digest stay as they are." }
                form.panel {
                    label for="edit-name" { "Name" }
                    input #edit-name name="name" value=(meta.text("name").unwrap_or_default()) required maxlength="200";
                    label for="edit-description" { "Description" }
                    textarea #edit-description name="description" rows="2" { (meta.description().unwrap_or_default()) }
                    label for="edit-license" { "License (SPDX id)" }
                    input #edit-license name="license" value=(meta.license().unwrap_or_default()) maxlength="64";
                    label for="edit-tags" { "Tags (comma-separated)" }
                    input #edit-tags name="tags" value=(meta.tags().join(", "));
                    div.card-editor {
                        div {
                            label for="edit-card" { "Card (Markdown)" }
                            textarea #edit-card name="card" rows="10" { (meta.text("card").unwrap_or_default()) }
                        }
                        div {
                            p.label { "Preview" }
                            div #edit-preview.card.preview aria-live="polite" {}
                        }
                    }
                    div.actions { button type="submit" { "Publish version " (asset.version + 1) } }
                    p #edit-state.state role="status" {}
                }
            }
        }
    }
}

fn urlencode(value: &str) -> String {
    serde_urlencoded::to_string([("", value)]).map(|s| s[1..].to_owned()).unwrap_or_default()
}

fn access_terms(detail: &AssetDetail) -> Markup {
    let asset = &detail.asset;
    let duration = asset.access_duration;
    html! {
        "One access token = one download or one compute job"
        @if duration > 0 { ", valid " (duration / 3600) " h after it is spent" }
        @if let Some(free) = asset.free_per_address.filter(|f| *f > 0) { "; the first " (free) " per account free" }
        "."
    }
}

/// Buying and downloading: the quote (price, the protocol's fee) and the forms the wallet script
/// drives; without a wallet or JavaScript they say how to do the same with the CLI.
fn get_access(detail: &AssetDetail, meta: &Meta<'_>, fee_bps: Option<u32>) -> Markup {
    let asset = &detail.asset;
    let id = &asset.asset_id;
    let file_name = meta.file_name().map_or_else(|| format!("asset-{id}"), str::to_owned);
    html! {
        section #access aria-labelledby="access-h"
            data-asset=(id) data-access-token=(asset.access_token) data-digest=(asset.content_digest)
            data-currency=[asset.currency.as_deref()] data-price=[asset.price.as_deref()]
            data-compute-only=(asset.compute_only) data-encrypted=(asset.encrypted == Some(true))
            data-file-name=(file_name) data-size=[meta.content_size()]
        {
            h2 #access-h { "Get access" }
            @if asset.delisted {
                p { "Delisted: no new access tokens can be bought." }
            } @else if asset.price.is_some() {
                dl.quote {
                    dt { "Price" } dd #quote-price {
                        @if asset.price.as_deref() == Some("0") { "Free" } @else { (price(asset)) " per access token" }
                    }
                    @if let Some(bps) = fee_bps.filter(|_| asset.price.as_deref() != Some("0")) {
                        dt { "Protocol fee" }
                        dd #quote-fee data-bps=(bps) { (format::percent(u64::from(bps))) " of it goes to the DAO treasury, the rest to the revenue split" }
                    }
                }
                form #buy-form.action {
                    label for="buy-amount" { "Access tokens" }
                    input #buy-amount type="number" name="amount" min="1" max="1000" step="1" value="1" required;
                    @if !asset.compute_only {
                        label.check {
                            input #buy-download type="checkbox" name="download";
                            " Buy one and download now (one transaction)"
                        }
                    }
                    button type="submit" disabled { "Buy" }
                }
            } @else {
                p { "Not listed for sale." }
            }
            form #transfer-form.action hidden {
                label for="transfer-to" { "Give tokens to" }
                input #transfer-to type="text" name="to" placeholder="0x…" spellcheck="false" autocomplete="off";
                label for="transfer-amount" { "Tokens" }
                input #transfer-amount type="number" name="amount" min="1" step="1" value="1";
                button type="submit" { "Transfer" }
            }
            @if !asset.compute_only {
                div #download-box {
                    button #download-button type="button" disabled { "Download and verify" }
                    progress #download-progress hidden max="100" value="0" {}
                    p #download-meter.meter hidden {}
                }
            }
            @if matches!(asset.kind, AssetKind::Dataset | AssetKind::Model | AssetKind::Algorithm) {
                @let (param, label) = match asset.kind {
                    AssetKind::Dataset => ("dataset", "Run a compute job on this dataset"),
                    _ => ("model", "Run a compute job with it"),
                };
                p { a #run-job.button href=(format!("/jobs/new?{param}={id}")) { (label) } }
            }
            p #access-hint.note {
                "Buying and downloading here need a browser wallet and JavaScript. The CLI does the same: "
                code { "agora asset buy " (id) } @if !asset.compute_only { ", " code { "agora asset download " (id) } } "."
            }
            p #access-state.state role="status" {}
        }
    }
}

fn metadata_state(detail: &AssetDetail) -> Markup {
    let asset = &detail.asset;
    html! {
        @match asset.metadata_status {
            agora_api::MetadataStatus::Pending => "The indexer has not fetched this asset's metadata yet.",
            agora_api::MetadataStatus::Failed => {
                "The metadata could not be read"
                @if let Some(error) = &asset.metadata_error { ": " (error) }
                "."
            }
            agora_api::MetadataStatus::Fetched => "No metadata.",
        }
    }
}

fn usage(detail: &AssetDetail) -> Markup {
    html! {
        section #usage aria-labelledby="usage-h" {
            h2 #usage-h { "Usage" }
            dl.counts {
                dt { "Sales" } dd data-count="sales" { (detail.sales_count) }
                dt { "Buyers" } dd data-count="buyers" { (detail.buyers_count) }
                dt { "Holders" } dd data-count="holders" { (detail.holders_count) }
                dt { "Tokens spent" } dd data-count="orders" { (detail.orders_count) }
                dt { "Compute jobs" } dd data-count="jobs" { (detail.jobs_count) }
            }
            p.revenue { "Revenue to date: "
                @if detail.revenue.is_empty() { "none yet" }
                @for (i, revenue) in detail.revenue.iter().enumerate() {
                    @if i > 0 { ", " }
                    span data-revenue=(revenue.currency) { (format::amount(&revenue.amount, Some(&revenue.currency))) }
                }
            }
        }
    }
}

fn verification(detail: &AssetDetail, meta: &Meta<'_>) -> Markup {
    let asset = &detail.asset;
    html! {
        section #verification aria-labelledby="verify-h" {
            h2 #verify-h { "What is verified" }
            dl.hashes {
                dt { "Content digest (sha-256, on chain)" } dd { (hash("content digest", &asset.content_digest)) }
                @if let Some(cid) = meta.content_cid() { dt { "Content CID" } dd { (hash("content CID", cid)) } }
                dt { "Metadata CID (on chain)" } dd { (hash("metadata CID", &asset.metadata_cid)) }
                dt { "Access token (ERC-20)" } dd { (hash("access token address", &asset.access_token)) }
            }
            p.explain {
                "The registry records the sha-256 of the "
                @if asset.encrypted == Some(true) { "plaintext" } @else { "content" }
                " and the CID of this metadata. A download through a provider is kept only if its sha-256 equals the digest above"
                @if asset.encrypted == Some(true) { "; the bytes on IPFS are ciphertext, readable only with a key its holders wrap for a buyer's provider" }
                "."
            }
            @if let Some(size) = meta.content_size() {
                p { "Size: " (format::bytes(size)) @if let Some(file) = meta.file_name() { " · " code { (file) } } }
            }
        }
    }
}

/// Who is paid from each sale, and how much of it.
fn revenue_split(detail: &AssetDetail) -> Markup {
    html! {
        @if !detail.split.is_empty() {
            section #split aria-labelledby="split-h" {
                h2 #split-h { "Revenue split" }
                p.note { "Each sale, after the protocol fee, is shared on chain by the revenue splitter:" }
                div.scroll { table {
                    thead { tr { th scope="col" { "Recipient" } th scope="col" { "Share" } } }
                    tbody { @for share in &detail.split {
                        tr data-recipient=(share.recipient) { td { (address(&share.recipient)) } td { (format::percent(u64::from(share.bps))) } }
                    } }
                } }
                // The wallet script shows what waits for the connected account, with a button to release it.
                div #release-box data-asset=(detail.asset.asset_id) hidden {}
            }
        }
    }
}

/// The publisher's public sample, as a table; never the content itself.
fn preview(meta: &Meta<'_>) -> Markup {
    html! {
        @if let Some(sample) = meta.sample() {
            section #preview aria-labelledby="preview-h" {
                h2 #preview-h { "Preview" }
                p.note { "The first rows of " code { (sample.file_name) } ", a public sample the publisher chose; the content itself is not shown." }
                div.scroll { table {
                    thead { tr { @for column in &sample.columns { th scope="col" { (column) } } } }
                    tbody { @for row in &sample.rows { tr { @for cell in row { td { (cell) } } } } }
                } }
            }
        }
    }
}

fn files(meta: &Meta<'_>) -> Markup {
    let files = meta.files();
    html! {
        @if !files.is_empty() {
            section #files aria-labelledby="files-h" {
                h2 #files-h { "Files" }
                div.scroll { table {
                    thead { tr { th scope="col" { "File" } th scope="col" { "Size" } th scope="col" { "sha-256" } } }
                    tbody {
                        @for (name, size, sha) in &files {
                            tr { td { code { (name) } } td { (size.map(format::bytes).unwrap_or_default()) } td { code.wrap { (sha.unwrap_or("")) } } }
                        }
                    }
                } }
            }
        }
    }
}

fn versions(history: &[AssetVersion], count: i64) -> Markup {
    html! {
        section #versions aria-labelledby="versions-h" {
            h2 #versions-h { "Versions (" (count) ")" }
            div.scroll { table {
                thead { tr { th scope="col" { "Version" } th scope="col" { "When" } th scope="col" { "Changed" } th scope="col" { "Metadata" } th scope="col" { "Transaction" } } }
                tbody {
                    @for (i, version) in history.iter().enumerate() {
                        @let older = history.get(i + 1);
                        tr data-version=(version.version) {
                            td { (version.version) }
                            td { @match version.timestamp { Some(t) => (format::time(t)), None => { "block " (version.block_number) } } }
                            td {
                                @if let Some(older) = older {
                                    @let changed = changed_fields(older.metadata.as_ref(), version.metadata.as_ref());
                                    @if changed.is_empty() { @if older.content_digest != version.content_digest { "content" } @else { "—" } }
                                    @else { (changed.join(", ")) }
                                } @else if version.version == 1 { "published" } @else { "…" }
                            }
                            td { code title=(version.metadata_cid) { (format::short_hash(&version.metadata_cid)) } }
                            td { code title=(version.tx_hash) { (format::short_hash(&version.tx_hash)) } }
                        }
                    }
                }
            } }
        }
    }
}

fn sales(detail: &AssetDetail) -> Markup {
    html! {
        section #sales aria-labelledby="sales-h" {
            h2 #sales-h { "Sales (" (detail.sales_count) ")" }
            @if detail.sales.is_empty() { p.empty { "No sales yet." } }
            @else {
                div.scroll { table {
                    thead { tr { th scope="col" { "Buyer" } th scope="col" { "Tokens" } th scope="col" { "Paid" } th scope="col" { "Block" } } }
                    tbody {
                        @for sale in &detail.sales {
                            tr { td { (address(&sale.buyer)) } td { (sale.amount) } td { (format::amount(&sale.paid, Some(&sale.currency))) } td { (sale.block_number) } }
                        }
                    }
                } }
            }
        }
    }
}

fn lineage(title: &str, id: &str, links: &[LineageLink], count: i64, meta: &Meta<'_>) -> Markup {
    html! {
        @if count > 0 {
            section id=(id) aria-labelledby=(format!("{id}-h")) {
                h2 id=(format!("{id}-h")) { (title) " (" (count) ")" }
                @if id == "upstream" { @if let Some(job) = meta.derived_job() { p { "The output of " a href=(format!("/jobs/{job}")) { "job " (job) } "." } } }
                ul.links {
                    @for link in links {
                        li {
                            a href=(format!("/assets/{}", link.asset_id)) { "Asset " (link.asset_id) }
                            @if let Some(role) = &link.role { " as " (role) }
                            @if let Some(job) = &link.job_id { " in " a href=(format!("/jobs/{job}")) { "job " (job) } }
                            @if link.matches_job { span.ok title="the indexed job used this input and posted the recorded output hash" { " ✓ matches the job" } }
                            @else { span.warn title="no indexed job bears this link out" { " ✗ not borne out by the job" } }
                        }
                    }
                }
            }
        }
    }
}
